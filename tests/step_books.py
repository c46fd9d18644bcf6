"""Hand-made workbooks of step and sign units: perceptrons learning by their rule, and forward-only
step networks (the XOR net drawn with thresholds). Written cell by cell by tests/network_books.py's
table writer from formula templates spelled out here; LibreOffice computes their values."""

from __future__ import annotations

import network_books as nb

BIPOLAR_AND = [
    {"x1": -1.0, "x2": -1.0, "t": -1.0},
    {"x1": -1.0, "x2": 1.0, "t": -1.0},
    {"x1": 1.0, "x2": -1.0, "t": -1.0},
    {"x1": 1.0, "x2": 1.0, "t": 1.0},
]
OR = [
    {"x1": 0.0, "x2": 0.0, "t": 0.0},
    {"x1": 0.0, "x2": 1.0, "t": 1.0},
    {"x1": 1.0, "x2": 0.0, "t": 1.0},
    {"x1": 1.0, "x2": 1.0, "t": 1.0},
]


def xor_thresholds(step="IF({s}>=0,1,0)", mistake=None):
    """XOR from two threshold units (OR and AND) and an output unit, one row per sample, weights typed
    beside the table: a forward pass only."""
    out_source = "{net_h2}" if mistake == "pre-activation" else "{a_h2}"
    cols = [
        ("x1", "x1", None, None),
        ("x2", "x2", None, None),
        ("t", "t", None, None),
        ("net_h1", "net OR", "{w1}*{x1}+{w2}*{x2}+{b1}", None),
        ("a_h1", "OR", step.replace("{s}", "{net_h1}"), None),
        ("net_h2", "net AND", "{w3}*{x1}+{w4}*{x2}+{b2}", None),
        ("a_h2", "AND", step.replace("{s}", "{net_h2}"), None),
        ("net_o", "net out", "{w5}*{a_h1}+{w6}*" + out_source + "+{b3}", None),
        ("a_o", "XOR", step.replace("{s}", "{net_o}"), None),
    ]
    weights = dict(w1=1.0, w2=1.0, b1=-0.5, w3=1.0, w4=1.0, b2=-1.5, w5=1.0, w6=-2.0, b3=-0.5)
    return dict(
        columns=cols, start={}, params={n: (n, v) for n, v in weights.items()}, samples=nb.XOR, iterations=4
    )


def perceptron_sign(mistake=None):
    """Bipolar AND by a SIGN unit, w + η·(t − y)·x, one sample per row (online)."""
    w2 = "{w2^}+{eta}*({t^}-{y^})*{x1^}" if mistake == "wrong input" else "{w2^}+{eta}*({t^}-{y^})*{x2^}"
    cols = [
        ("x1", "x1", None, None),
        ("x2", "x2", None, None),
        ("t", "t", None, None),
        ("w1", "w1", None, "{w1^}+{eta}*({t^}-{y^})*{x1^}"),
        ("w2", "w2", None, w2),
        ("b", "b", None, "{b^}+{eta}*({t^}-{y^})"),
        ("s", "net", "{w1}*{x1}+{w2}*{x2}+{b}", None),
        ("y", "y", "SIGN({s})", None),
    ]
    return dict(
        columns=cols,
        start=dict(w1=0.2, w2=-0.1, b=-0.05),
        params={"eta": ("eta", 0.2)},
        samples=BIPOLAR_AND,
    )


def perceptron_on_mistakes():
    """Bipolar AND, the update written as IF(y = t, w, w + η·t·x): a step of (η/2)·(t − y)·x."""
    rule = "IF({y^}={t^},{%s^},{%s^}+{eta}*{t^}*{%s^})"
    cols = [
        ("x1", "x1", None, None),
        ("x2", "x2", None, None),
        ("t", "t", None, None),
        ("w1", "w1", None, rule % ("w1", "w1", "x1")),
        ("w2", "w2", None, rule % ("w2", "w2", "x2")),
        ("b", "b", None, "IF({y^}={t^},{b^},{b^}+{eta}*{t^})"),
        ("s", "net", "{w1}*{x1}+{w2}*{x2}+{b}", None),
        ("y", "y", "IF({s}>0,1,-1)", None),
    ]
    return dict(
        columns=cols,
        start=dict(w1=0.2, w2=-0.1, b=-0.05),
        params={"eta": ("eta", 1.0)},
        samples=BIPOLAR_AND,
    )


def perceptron_from_zero():
    """OR from zero weights, Δw columns (η·e·x) and y = IF(v > 0, 1, 0): the first sums are exactly 0,
    where the step's value at 0 decides the output."""
    cols = [
        ("x1", "x1", None, None),
        ("x2", "x2", None, None),
        ("t", "desired", None, None),
        ("w1", "w1", None, "{w1^}+{dw1^}"),
        ("w2", "w2", None, "{w2^}+{dw2^}"),
        ("b", "w0", None, "{b^}+{db^}"),
        ("s", "v", "{b}+{w1}*{x1}+{w2}*{x2}", None),
        ("y", "y", "IF({s}>0,1,0)", None),
        ("e", "e", "{t}-{y}", None),
        ("dw1", "dw1", "{eta}*{e}*{x1}", None),
        ("dw2", "dw2", "{eta}*{e}*{x2}", None),
        ("db", "dw0", "{eta}*{e}", None),
    ]
    return dict(
        columns=cols, start=dict(w1=0.0, w2=0.0, b=0.0), params={"eta": ("learning rate", 0.25)}, samples=OR
    )


def step_network_trained():
    """A 2-2-1 net of step units whose weights are updated (by a delta-like rule): no gradient exists."""
    cols = [("x1", "x1", None, None), ("x2", "x2", None, None), ("t", "t", None, None)]
    for w, d, x in (("w1", "e", "x1"), ("w2", "e", "x2"), ("w3", "e", "x1"), ("w4", "e", "x2")):
        cols.append((w, w, None, f"{{{w}^}}+{{eta}}*{{{d}^}}*{{{x}^}}"))
    cols += [
        ("w5", "w5", None, "{w5^}+{eta}*{e^}*{a_h1^}"),
        ("w6", "w6", None, "{w6^}+{eta}*{e^}*{a_h2^}"),
        ("net_h1", "n1", "{w1}*{x1}+{w2}*{x2}", None),
        ("a_h1", "h1", "IF({net_h1}>=0,1,0)", None),
        ("net_h2", "n2", "{w3}*{x1}+{w4}*{x2}", None),
        ("a_h2", "h2", "IF({net_h2}>=0,1,0)", None),
        ("net_o", "no", "{w5}*{a_h1}+{w6}*{a_h2}", None),
        ("a_o", "y", "IF({net_o}>=0,1,0)", None),
        ("e", "e", "{t}-{a_o}", None),
    ]
    start = dict(w1=0.3, w2=-0.2, w3=0.1, w4=0.4, w5=0.5, w6=-0.6)
    return dict(columns=cols, start=start, params={"eta": ("eta", 0.1)}, samples=nb.XOR)


def sigmoid_forward_misread():
    """The sigmoid XOR forward pass (network_books.xor_forward) whose output sum reads h2's pre-activation."""
    design = nb.xor_forward()
    design["columns"] = [
        (name, header, "{w5}*{a_h1}+{w6}*{net_h2}+{b3}" if name == "net_o" else forward, update)
        for name, header, forward, update in design["columns"]
    ]
    return design
