"""Hand-made workbooks of networks other than the course's, in the layouts teachers draw them.

Each book is a table written cell by cell from formula templates spelled out here by hand (not from
sheetgen's column table): {name} is that quantity's cell in the same row, {name^} the row above's,
{name!} the block's first row, {name:block} the block's range of rows, and {eta} (or any parameter)
an absolute cell beside the table. No cached values: LibreOffice recalculates them when verified.
A book is a dict of columns, so a planted mistake is one template changed.
"""

from __future__ import annotations

import re

import xlsxwriter
from openpyxl.utils import get_column_letter

_FIELD = re.compile(r"\{([A-Za-z_0-9]+)(\^block|\^|!|:block)?\}")


def write_table(path, columns, start, iterations, params=None, block=1, samples=None, sheet="Training"):
    """columns: [(name, header, forward template or None, update template or None)].

    start: the first row's value (a number, or a formula text) of each updated column; samples: per
    sample, {name: value} typed into each row of a block (sample s in row s of every block; with
    block 1 and several samples, row n holds sample n mod S: online). params: {name: (label, value)}
    written to the right of the table, referenced absolutely.
    """
    params = params or {}
    samples = samples or [{}]
    book = xlsxwriter.Workbook(str(path))
    ws = book.add_worksheet(sheet)
    col_of = {name: i + 1 for i, (name, *_rest) in enumerate(columns)}
    param_cell = {}
    pcol = len(columns) + 2
    for k, (name, (label, value)) in enumerate(params.items()):
        ws.write(k, pcol - 1, label)
        ws.write(k, pcol, value)
        param_cell[name] = f"${get_column_letter(pcol + 1)}${k + 1}"
    for i, (_, header, *_rest) in enumerate(columns):
        ws.write(0, i, header)
    rows = iterations * block if block > 1 else iterations
    for n in range(rows):
        row = n + 2  # 1-based sheet row
        first = row - (n % block)
        iteration = n // block

        def cell(match, row=row, first=first):
            name, mark = match.group(1), match.group(2)
            if name in param_cell:
                return param_cell[name]
            letter = get_column_letter(col_of[name])
            if mark == "^":
                return f"{letter}{row - 1}" if block == 1 else f"{letter}{first - block}"
            if mark == "!":
                return f"{letter}{first}"
            if mark == "^block":
                return f"{letter}{first - block}:{letter}{first - 1}"
            if mark == ":block":
                return f"{letter}{first}:{letter}{first + block - 1}"
            return f"{letter}{row}"

        sample = samples[n % block] if block > 1 else samples[n % len(samples)]
        for name, _header, forward, update in columns:
            c = col_of[name] - 1
            if name in sample:
                ws.write_number(row - 1, c, sample[name])
            elif update is not None:
                if block > 1 and n % block:
                    ws.write_formula(row - 1, c, "=" + _FIELD.sub(cell, f"{{{name}!}}"))
                elif iteration == 0:
                    value = start[name]
                    if isinstance(value, str):
                        ws.write_formula(row - 1, c, value)
                    else:
                        ws.write_number(row - 1, c, value)
                else:
                    ws.write_formula(row - 1, c, "=" + _FIELD.sub(cell, update))
            elif forward is not None:
                if forward.startswith("@last") and n % block != block - 1:
                    continue
                ws.write_formula(row - 1, c, "=" + _FIELD.sub(cell, forward.removeprefix("@last")))
    book.close()
    return path


def sigmoid_221(loss_half=False, mistake=None, biases=True):
    """2-2-1 sigmoid, a bias per unit (trained), error terms in cells, loss (t−o)² (or ½(t−o)²)."""
    k = "" if loss_half else "2*"
    d_h1 = "{d_o}*{w5}*{a_h1}*(1-{a_h1})"
    w5_update = "{w5^}-{eta}*{d_o^}*{a_h1^}"
    w1_update = "{w1^}-{eta}*{d_h1^}*{x1^}"
    if mistake == "another unit's derivative":
        d_h1 = "{d_o}*{w5}*{a_h2}*(1-{a_h2})"
    elif mistake == "wrong weight":
        d_h1 = "{d_o}*{w6}*{a_h1}*(1-{a_h1})"
    elif mistake == "pre-activation":
        w5_update = "{w5^}-{eta}*{d_o^}*{net_h1^}"
    elif mistake == "eta from the wrong cell":
        w1_update = "{w1^}-{other^}*{d_h1^}*{x1^}".replace("{other^}", "{other}")
    b = "+{b_h1}" if biases else ""
    cols = [
        ("x1", "x1", None, None),
        ("x2", "x2", None, None),
        ("t", "target", None, None),
        ("w1", "w1", None, w1_update),
        ("w2", "w2", None, "{w2^}-{eta}*{d_h1^}*{x2^}"),
        ("w3", "w3", None, "{w3^}-{eta}*{d_h2^}*{x1^}"),
        ("w4", "w4", None, "{w4^}-{eta}*{d_h2^}*{x2^}"),
        ("net_h1", "net h1", "{w1}*{x1}+{w2}*{x2}" + b, None),
        ("a_h1", "out h1", "1/(1+EXP(-{net_h1}))", None),
        ("net_h2", "net h2", "{w3}*{x1}+{w4}*{x2}" + b.replace("h1", "h2"), None),
        ("a_h2", "out h2", "1/(1+EXP(-{net_h2}))", None),
        ("w5", "w5", None, w5_update),
        ("w6", "w6", None, "{w6^}-{eta}*{d_o^}*{a_h2^}"),
        ("net_o", "net o", "{w5}*{a_h1}+{w6}*{a_h2}" + b.replace("h1", "o"), None),
        ("a_o", "out o", "1/(1+EXP(-{net_o}))", None),
        ("E", "Error", f"{'0.5*' if loss_half else ''}({{t}}-{{a_o}})^2", None),
        ("d_o", "delta o", f"-{k}({{t}}-{{a_o}})*{{a_o}}*(1-{{a_o}})", None),
        ("d_h1", "delta h1", d_h1, None),
        ("d_h2", "delta h2", "{d_o}*{w6}*{a_h2}*(1-{a_h2})", None),
    ]
    if biases:
        cols[7:7] = [
            ("b_h1", "b1", None, "{b_h1^}-{eta}*{d_h1^}"),
            ("b_h2", "b2", None, "{b_h2^}-{eta}*{d_h2^}"),
            ("b_o", "b3", None, "{b_o^}-{eta}*{d_o^}"),
        ]
    start = dict(w1=0.15, w2=-0.2, w3=0.25, w4=0.3, w5=-0.4, w6=0.45, b_h1=0.1, b_h2=-0.1, b_o=0.2)
    params = {"eta": ("η", 0.5), "other": ("momentum", 0.9)}
    return dict(columns=cols, start=start, params=params, samples=[{"x1": 0.35, "x2": 0.9, "t": 0.5}])


def chain_111_rand(mistake=None):
    """1-1-1 sigmoid chain, no biases, weights starting at RAND(), gradients inline in the updates."""
    w1 = "{w1^}-{eta}*({a_o^}-{t^})*{a_o^}*(1-{a_o^})*{w2^}*{a_h^}*(1-{a_h^})*{x^}"
    if mistake == "pre-activation":
        w1 = "{w1^}-{eta}*({a_o^}-{t^})*{a_o^}*(1-{a_o^})*{w2^}*{a_h^}*(1-{a_h^})*{net_h^}"
    cols = [
        ("x", "input", None, None),
        ("t", "target", None, None),
        ("w1", "weight 1", None, w1),
        ("w2", "weight 2", None, "{w2^}-{eta}*({a_o^}-{t^})*{a_o^}*(1-{a_o^})*{a_h^}"),
        ("net_h", "z1", "{w1}*{x}", None),
        ("a_h", "y1", "1/(1+EXP(-{net_h}))", None),
        ("net_o", "z2", "{a_h}*{w2}", None),
        ("a_o", "y2", "1/(1+EXP(-{net_o}))", None),
        ("E", "loss", "0.5*({t}-{a_o})^2", None),
    ]
    return dict(
        columns=cols,
        start=dict(w1="=RAND()", w2="=RAND()-0.5"),
        params={"eta": ("learning rate", 1.0)},
        samples=[{"x": 1.0, "t": 0.2}],
    )


def tanh_241_eta_typed(eta_cell=True):
    """2-4-1, tanh hidden (its exp form), linear output, no biases, η typed into the updates (½ loss)."""
    cols = [("x1", "x1", None, None), ("x2", "x2", None, None), ("t", "t", None, None)]
    for h in range(1, 5):
        for i in (1, 2):
            w = f"w{(h - 1) * 2 + i}"
            cols.append((w, w, None, f"{{{w}^}}-0.1*{{d_h{h}^}}*{{x{i}^}}"))
    for h in range(1, 5):
        w1, w2 = f"w{(h - 1) * 2 + 1}", f"w{(h - 1) * 2 + 2}"
        cols.append((f"z{h}", f"z{h}", f"{{{w1}}}*{{x1}}+{{{w2}}}*{{x2}}", None))
        cols.append(
            (f"a{h}", f"a{h}", f"(EXP({{z{h}}})-EXP(-{{z{h}}}))/(EXP({{z{h}}})+EXP(-{{z{h}}}))", None)
        )
    for h in range(1, 5):
        cols.append((f"v{h}", f"v{h}", None, f"{{v{h}^}}-0.1*{{d_o^}}*{{a{h}^}}"))
    cols.append(("y", "y", "{v1}*{a1}+{v2}*{a2}+{v3}*{a3}+{v4}*{a4}", None))
    cols.append(("d_o", "δ out", "{y}-{t}", None))
    for h in range(1, 5):
        cols.append((f"d_h{h}", f"δ{h}", f"{{d_o}}*{{v{h}}}*(1-{{a{h}}}^2)", None))
    start = {f"w{k}": round(0.1 * k - 0.45, 2) for k in range(1, 9)} | {
        f"v{h}": 0.3 - 0.15 * h for h in range(1, 5)
    }
    params = {"eta": ("η", 0.1)} if eta_cell else {}
    return dict(columns=cols, start=start, params=params, samples=[{"x1": 0.5, "x2": -0.3, "t": 0.7}])


def adaline(mistake=None):
    """ADALINE: one linear unit with a bias, ½(t−o)², online over four samples, w + η·(t−o)·x."""
    rule = "{%s^}+{eta}*{err^}*{%s^}"
    cols = [
        ("x1", "x1", None, None),
        ("x2", "x2", None, None),
        ("t", "d", None, None),
        ("w1", "w1", None, rule % ("w1", "x1")),
        ("w2", "w2", None, rule % ("w2", "x2") if mistake != "wrong input" else rule % ("w2", "x1")),
        ("b", "bias", None, "{b^}+{eta}*{err^}"),
        ("o", "output", "{w1}*{x1}+{w2}*{x2}+{b}", None),
        ("err", "error", "{t}-{o}", None),
        ("E", "E", "0.5*{err}^2", None),
    ]
    samples = [
        {"x1": -1.0, "x2": -1.0, "t": -1.0},
        {"x1": -1.0, "x2": 1.0, "t": -1.0},
        {"x1": 1.0, "x2": -1.0, "t": -1.0},
        {"x1": 1.0, "x2": 1.0, "t": 1.0},
    ]
    return dict(
        columns=cols, start=dict(w1=0.1, w2=-0.3, b=0.05), params={"eta": ("η", 0.1)}, samples=samples
    )


def perceptron():
    """Rosenblatt's perceptron: a step output, w + η·(t − y)·x: learning that is not gradient descent."""
    cols = [
        ("x1", "x1", None, None),
        ("x2", "x2", None, None),
        ("t", "t", None, None),
        ("w1", "w1", None, "{w1^}+{eta}*({t^}-{y^})*{x1^}"),
        ("w2", "w2", None, "{w2^}+{eta}*({t^}-{y^})*{x2^}"),
        ("b", "b", None, "{b^}+{eta}*({t^}-{y^})"),
        ("s", "sum", "{w1}*{x1}+{w2}*{x2}+{b}", None),
        ("y", "y", "IF({s}>=0,1,0)", None),
    ]
    samples = [
        {"x1": 0.0, "x2": 0.0, "t": 0.0},
        {"x1": 0.0, "x2": 1.0, "t": 0.0},
        {"x1": 1.0, "x2": 0.0, "t": 0.0},
        {"x1": 1.0, "x2": 1.0, "t": 1.0},
    ]
    return dict(
        columns=cols, start=dict(w1=0.2, w2=-0.1, b=-0.05), params={"eta": ("η", 0.2)}, samples=samples
    )


XOR = [
    {"x1": 0.0, "x2": 0.0, "t": 0.0},
    {"x1": 0.0, "x2": 1.0, "t": 1.0},
    {"x1": 1.0, "x2": 0.0, "t": 1.0},
    {"x1": 1.0, "x2": 1.0, "t": 0.0},
]


def xor_batch(gradient="mean", mistake=None, displayed="sum"):
    """2-2-1 sigmoid XOR, a bias per unit (trained), four samples: a block of four rows per iteration,
    per-sample gradients in cells, the update in each block's first row from the block above (full batch)."""
    scale = "/4" if gradient == "mean" else ""
    cols = [("x1", "x1", None, None), ("x2", "x2", None, None), ("t", "t", None, None)]
    weights = {
        "w1": ("d_h1", "x1"),
        "w2": ("d_h1", "x2"),
        "w3": ("d_h2", "x1"),
        "w4": ("d_h2", "x2"),
        "b1": ("d_h1", None),
        "b2": ("d_h2", None),
        "w5": ("d_o", "a_h1"),
        "w6": ("d_o", "a_h2"),
        "b3": ("d_o", None),
    }
    for w in weights:
        cols.append((w, w, None, f"{{{w}^}}-{{eta}}*SUM({{g_{w}^block}}){scale}"))
    cols += [
        ("net_h1", "h1", "{w1}*{x1}+{w2}*{x2}+{b1}", None),
        ("a_h1", "out h1", "1/(1+EXP(-{net_h1}))", None),
        ("net_h2", "h2", "{w3}*{x1}+{w4}*{x2}+{b2}", None),
        ("a_h2", "out h2", "1/(1+EXP(-{net_h2}))", None),
        ("net_o", "o", "{w5}*{a_h1}+{w6}*{a_h2}+{b3}", None),
        ("a_o", "out o", "1/(1+EXP(-{net_o}))", None),
        ("E", "E", "0.5*({t}-{a_o})^2", None),
        ("d_o", "delta o", "({a_o}-{t})*{a_o}*(1-{a_o})", None),
        ("d_h1", "delta h1", "{d_o}*{w5}*{a_h1}*(1-{a_h1})", None),
        (
            "d_h2",
            "delta h2",
            "{d_o}*{w6}*{a_h2}*(1-{a_h2})" if mistake != "wrong weight" else "{d_o}*{w5}*{a_h2}*(1-{a_h2})",
            None,
        ),
    ]
    for w, (d, x) in weights.items():
        cols.append((f"g_{w}", f"dE/d{w}", f"{{{d}}}*{{{x}}}" if x else f"{{{d}}}", None))
    total = "SUM({E:block})" if displayed == "sum" else "AVERAGE({E:block})"
    cols.append(("E_total", "total error", "@last" + total, None))
    start = dict(w1=0.5, w2=-0.4, w3=0.3, w4=0.6, b1=0.1, b2=-0.2, w5=0.7, w6=-0.5, b3=0.05)
    return dict(columns=cols, start=start, params={"eta": ("η", 0.5)}, samples=XOR, block=4)


def xor_forward():
    """A forward-only XOR sheet: one row per sample, weights in absolute cells beside the table."""
    cols = [
        ("x1", "x1", None, None),
        ("x2", "x2", None, None),
        ("t", "t", None, None),
        ("net_h1", "h1", "{w1}*{x1}+{w2}*{x2}+{b1}", None),
        ("a_h1", "a1", "1/(1+EXP(-{net_h1}))", None),
        ("net_h2", "h2", "{w3}*{x1}+{w4}*{x2}+{b2}", None),
        ("a_h2", "a2", "1/(1+EXP(-{net_h2}))", None),
        ("net_o", "o", "{w5}*{a_h1}+{w6}*{a_h2}+{b3}", None),
        ("a_o", "y", "1/(1+EXP(-{net_o}))", None),
        ("E", "E", "({t}-{a_o})^2", None),
    ]
    params = {
        n: (n, v)
        for n, v in dict(
            w1=20.0, w2=20.0, b1=-10.0, w3=-20.0, w4=-20.0, b2=30.0, w5=20.0, w6=20.0, b3=-30.0
        ).items()
    }
    return dict(columns=cols, start={}, params=params, samples=XOR, iterations=4)


def textbook_321(mistake=None):
    """A 3-2-1 sigmoid net with biases (fixed), one forward and backward pass: error terms, no update."""
    cols = [
        ("x1", "x1", None, None),
        ("x2", "x2", None, None),
        ("x3", "x3", None, None),
        ("t", "t", None, None),
        ("net4", "I4", "{w14}*{x1}+{w24}*{x2}+{w34}*{x3}+{th4}", None),
        ("o4", "O4", "1/(1+EXP(-{net4}))", None),
        ("net5", "I5", "{w15}*{x1}+{w25}*{x2}+{w35}*{x3}+{th5}", None),
        ("o5", "O5", "1/(1+EXP(-{net5}))", None),
        ("net6", "I6", "{w46}*{o4}+{w56}*{o5}+{th6}", None),
        ("o6", "O6", "1/(1+EXP(-{net6}))", None),
        ("err6", "Err6", "{o6}*(1-{o6})*({t}-{o6})", None),
        (
            "err5",
            "Err5",
            "{o5}*(1-{o5})*{err6}*{w56}" if mistake != "wrong weight" else "{o5}*(1-{o5})*{err6}*{w46}",
            None,
        ),
        ("err4", "Err4", "{o4}*(1-{o4})*{err6}*{w46}", None),
    ]
    params = {
        n: (n, v)
        for n, v in dict(
            w14=0.2,
            w15=-0.3,
            w24=0.4,
            w25=0.1,
            w34=-0.5,
            w35=0.2,
            w46=-0.3,
            w56=-0.2,
            th4=-0.4,
            th5=0.2,
            th6=0.1,
        ).items()
    }
    return dict(
        columns=cols,
        start={},
        params=params,
        samples=[{"x1": 1.0, "x2": 0.0, "x3": 1.0, "t": 1.0}],
        iterations=1,
    )


def write(path, design, iterations=6):
    design = dict(design)
    iterations = design.pop("iterations", iterations)
    return write_table(path, design.pop("columns"), design.pop("start"), iterations, **design)
