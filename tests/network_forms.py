"""Right books of small networks, each cell written in one of the forms students write it.

A variant is a network (sizes, activations, loss, biases, samples) and a choice of form for every
kind of cell, spelled out here as formula templates by hand (not sheetgen's column table) and
written by tests/network_books.py's table writer:

- weighted sums: w1*x1+w2*x2+b, SUMPRODUCT($B2:$C2, D2:E2), or inline in the activation's formula;
- activations: 1/(1+EXP(-z)), EXP(z)/(1+EXP(z)), 0.5*(1+TANH(z/2)); TANH(z), its exp form,
  2/(1+EXP(-2z))-1; MAX(0,z), IF(z>0,z,0); softmax as EXP(z1)/(EXP(z1)+EXP(z2)), over cells of
  EXP(z), or with the largest z subtracted;
- derivatives: from the activation (a*(1-a), 1-a^2, IF(a>0,1,0)), from the sum (EXP(-z)/(1+EXP(-z))^2,
  1-TANH(z)^2, IF(z>0,1,0)), in a column of their own or inline;
- losses: 0.5*(t-a)^2, (t-a)^2/2, POWER(t-a,2)/2, SUMSQ, with or without ½; cross-entropy with LN,
  LOG(a,EXP(1)) or a minus outside; per output or summed, over a block of samples summed or averaged;
- error terms δ = ∂E/∂z with w − η·δ·x, or δ = −∂E/∂z with w + η·δ·x; gradients in cells or inline;
  η in a cell or typed into the updates.

`variant(seed)` draws one; `design(v)` is the book (a dict for network_books.write) and `plant(v, what)`
the same book with one planted mistake, returning the cell where it first shows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from openpyxl.utils import get_column_letter

SIGMOID = ("1/(1+EXP(-{z}))", "EXP({z})/(1+EXP({z}))", "0.5*(1+TANH({z}/2))", "1/(1+EXP(-1*{z}))")
TANH = ("TANH({z})", "(EXP({z})-EXP(-{z}))/(EXP({z})+EXP(-{z}))", "2/(1+EXP(-2*{z}))-1")
RELU = ("MAX(0,{z})", "IF({z}>0,{z},0)", "MAX({z},0)")
LINEAR = ("{z}",)
ACTIVATIONS = {"sigmoid": SIGMOID, "tanh": TANH, "relu": RELU, "linear": LINEAR}
# f'(z) written from the activation a or from the sum z.
FROM_A = {"sigmoid": ("{a}*(1-{a})", "({a}-{a}^2)"), "tanh": ("(1-{a}^2)", "(1-{a})*(1+{a})"),
          "relu": ("IF({a}>0,1,0)",), "linear": ("1",)}  # fmt: skip
FROM_Z = {"sigmoid": ("EXP(-{z})/(1+EXP(-{z}))^2",), "tanh": ("(1-TANH({z})^2)",),
          "relu": ("IF({z}>0,1,0)", "({z}>0)*1"), "linear": ("1",)}  # fmt: skip
LEAKY = "MAX(0.01*{z},{z})"


@dataclass
class Variant:
    seed: int
    inputs: int
    hidden: int  # 0: a single layer
    outputs: int
    activation: str
    output: str  # sigmoid, linear, softmax
    loss: str  # half-squared, squared, cross-entropy
    displayed: str  # the loss the E cells show: half-squared, squared, cross-entropy
    biases: bool
    batch: str  # one, online, full-mean, full-sum
    sum_form: str  # cell, sumproduct, inline
    act_form: int
    out_form: int
    softmax_form: str  # direct, ecells, max, maxcell
    derivative: str  # a, z, column
    deriv_form: int
    sign: str  # grad (w − η·δ·x) or neg (w + η·δ·x)
    gradients: str  # inline or column
    eta_typed: bool
    loss_form: int
    leaky: bool = False  # a hidden activation no spec has
    notes: list = field(default_factory=list)

    def name(self) -> str:
        return (
            f"v{self.seed}-{self.inputs}-{self.hidden}-{self.outputs}-{self.activation[:3]}-{self.output[:3]}"
            f"-{self.loss[:4]}-{self.batch}-{self.sum_form[:3]}"
        )


def variant(seed: int, **fixed) -> Variant:
    rng = random.Random(seed)
    output = rng.choice(["sigmoid", "sigmoid", "linear", "softmax"])
    hidden = rng.choice([0, 2, 2, 3]) if output != "softmax" else rng.choice([0, 2, 3])
    outputs = rng.choice([2, 3]) if output == "softmax" else rng.choice([1, 1, 2])
    if output == "softmax":
        loss = "cross-entropy"
    elif output == "sigmoid":
        loss = rng.choice(["half-squared", "squared", "cross-entropy"])
    else:
        loss = rng.choice(["half-squared", "squared"])
    displayed = loss if loss == "cross-entropy" else rng.choice(["half-squared", "squared", loss])
    v = Variant(
        seed=seed,
        inputs=rng.choice([1, 2, 2, 3]) if hidden else 2,
        hidden=hidden,
        outputs=outputs,
        activation=rng.choice(["sigmoid", "tanh", "relu"]),
        output=output,
        loss=loss,
        displayed=displayed,
        biases=rng.random() < 0.5,
        batch=rng.choice(["one", "one", "online", "full-mean", "full-sum"]),
        sum_form=rng.choice(["cell", "sumproduct", "inline"]),
        act_form=rng.randrange(3),
        out_form=rng.randrange(4),
        softmax_form=rng.choice(["direct", "ecells", "max", "maxcell"]),
        derivative=rng.choice(["a", "z", "column"]),
        deriv_form=rng.randrange(2),
        sign=rng.choice(["grad", "neg"]),
        gradients=rng.choice(["inline", "column"]),
        eta_typed=rng.random() < 0.25,
        loss_form=rng.randrange(4),
    )
    v = replace(v, **fixed)
    if v.batch.startswith("full"):
        v.gradients = "column"  # a block's gradient is the sum of its rows' gradient cells
    if v.inputs == 1 and v.sum_form == "sumproduct":
        v.sum_form = "cell"
    return v


# -- names ---------------------------------------------------------------------------------------


def _units(v: Variant):
    """[(layer prefix, unit names, source names, weight names per unit, bias names)]"""
    layers = []
    sources = [f"x{i}" for i in range(1, v.inputs + 1)]
    sizes = ([("h", v.hidden)] if v.hidden else []) + [("o", v.outputs)]
    for prefix, size in sizes:
        units = [f"{prefix}{u}" for u in range(1, size + 1)]
        weights = [[f"w{prefix}{u}_{s}" for s in range(1, len(sources) + 1)] for u in range(1, size + 1)]
        biases = [f"b{prefix}{u}" for u in range(1, size + 1)] if v.biases else [None] * size
        layers.append((prefix, units, sources, weights, biases))
        sources = [f"a_{u}" for u in units]
    return layers


def _act_template(v: Variant, kind: str, form: int) -> str:
    forms = ACTIVATIONS[kind]
    return forms[form % len(forms)]


def design(v: Variant) -> dict:
    """The right book of a variant: columns for network_books.write_table."""
    layers = _units(v)
    eta = "0.5" if v.eta_typed else "{eta}"
    samples = _samples(v)
    block = len(samples) if v.batch.startswith("full") else 1
    cols: list[tuple] = []
    start: dict = {}
    rng = random.Random(v.seed * 7 + 1)
    for i in range(1, v.inputs + 1):
        cols.append((f"x{i}", f"x{i}", None, None))
    for k in range(1, v.outputs + 1):
        cols.append((f"t{k}", f"t{k}", None, None))
    deltas: dict[str, str] = {}  # unit -> its δ column
    inline_sum: dict[str, str] = {}
    softmax = v.output == "softmax"
    # Forward: each layer's weights, biases, sums, activations.
    fprime: dict[str, str] = {}  # unit -> f'(z) text (a column name or an inline expression)
    for prefix, units, sources, weights, biases in layers:
        out_layer = prefix == "o"
        kind = v.output if out_layer else v.activation
        for ws in weights:
            for w in ws:
                cols.append((w, w, None, None))
                start[w] = round(rng.uniform(-0.8, 0.8), 3)
        for b in biases:
            if b:
                cols.append((b, b.replace("b", "b_", 1), None, None))
                start[b] = round(rng.uniform(-0.3, 0.3), 3)
        sums = {}
        for u, ws, b in zip(units, weights, biases, strict=True):
            if v.sum_form == "sumproduct":
                text = f"SUMPRODUCT({{{ws[0]}}}:{{{ws[-1]}}},{{{sources[0]}}}:{{{sources[-1]}}})"
            else:
                text = "+".join(f"{{{w}}}*{{{s}}}" for w, s in zip(ws, sources, strict=True))
            if b:
                text += f"+{{{b}}}"
            sums[u] = text
        inline = v.sum_form == "inline" and not softmax or (v.sum_form == "inline" and not out_layer)
        if kind == "linear" and inline:
            inline = False
        if not inline:
            for u in units:
                cols.append((f"z_{u}", f"net {u}", sums[u], None))
        z = {u: (f"({sums[u]})" if inline else f"{{z_{u}}}") for u in units}
        inline_sum.update({u: z[u] for u in units})
        if out_layer and softmax:
            _softmax_columns(v, units, z, cols)
        else:
            form = v.out_form if out_layer else v.act_form
            template = LEAKY if (v.leaky and not out_layer) else _act_template(v, kind, form)
            for u in units:
                cols.append((f"a_{u}", f"out {u}", template.replace("{z}", z[u]), None))
        for u in units:
            if out_layer and (softmax or v.loss == "cross-entropy"):
                continue
            use_z = v.derivative == "z" and not inline
            forms = (FROM_Z if use_z else FROM_A)[kind]
            text = forms[v.deriv_form % len(forms)].replace("{z}", z[u]).replace("{a}", f"{{a_{u}}}")
            if v.leaky and not out_layer:
                text = f"IF({{a_{u}}}>0,1,0.01)"
            if v.derivative == "column" and kind != "linear":
                cols.append((f"f_{u}", f"f'({u})", text, None))
                fprime[u] = f"{{f_{u}}}"
            else:
                fprime[u] = text if text == "1" else f"({text})" if "*" in text or "-" in text else text
    # Loss as displayed.
    _loss_columns(v, cols, block)
    # Backward: δ of the outputs, then of each hidden layer.
    out_units = layers[-1][1]
    neg = v.sign == "neg"
    for k, u in enumerate(out_units, start=1):
        a, t = f"{{a_{u}}}", f"{{t{k}}}"
        err = f"({t}-{a})" if neg else f"({a}-{t})"
        if v.loss == "cross-entropy":
            text = err
        else:
            two = "2*" if v.loss == "squared" else ""
            f = fprime[u]
            text = f"{two}{err}" if f == "1" else f"{two}{err}*{f}"
        cols.append((f"d_{u}", f"δ {u}", text, None))
        deltas[u] = f"{{d_{u}}}"
    if v.hidden:
        _, units, _, _, _ = layers[0]
        _, outs, _, out_weights, _ = layers[1]
        for j, u in enumerate(units):
            back = "+".join(f"{{d_{o}}}*{{{ws[j]}}}" for o, ws in zip(outs, out_weights, strict=True))
            back = f"({back})" if len(outs) > 1 else back
            f = fprime[u]
            cols.append((f"d_{u}", f"δ {u}", back if f == "1" else f"{back}*{f}", None))
            deltas[u] = f"{{d_{u}}}"
    # Gradients and updates.
    full = v.batch.startswith("full")
    scale = f"/{block}" if v.batch == "full-mean" else ""
    step_sign = "+" if neg else "-"
    updates = {}
    for _prefix, units, sources, weights, biases in layers:
        for u, ws, b in zip(units, weights, biases, strict=True):
            for w, s in [*zip(ws, sources, strict=True), *([(b, None)] if b else [])]:
                grad = f"{{d_{u}}}*{{{s}}}" if s else f"{{d_{u}}}"
                if v.gradients == "column":
                    cols.append((f"g_{w}", f"dE/d{w}", grad, None))
                    if full:
                        updates[w] = f"{{{w}^}}{step_sign}{eta}*SUM({{g_{w}^block}}){scale}"
                    else:
                        updates[w] = f"{{{w}^}}{step_sign}{eta}*{{g_{w}^}}"
                else:
                    updates[w] = f"{{{w}^}}{step_sign}{eta}*" + grad.replace("}", "^}")
    cols = [(n, h, f, updates.get(n, u)) for n, h, f, u in cols]
    params = {} if v.eta_typed else {"eta": ("η", 0.5)}
    return dict(columns=cols, start=start, params=params, samples=samples, block=block)


def _softmax_columns(v: Variant, units, z, cols) -> None:
    zs = [z[u] for u in units]
    first, last = f"{{z_{units[0]}}}", f"{{z_{units[-1]}}}"
    if v.softmax_form == "direct":
        total = "+".join(f"EXP({x})" for x in zs)
        for u in units:
            cols.append((f"a_{u}", f"out {u}", f"EXP({z[u]})/({total})", None))
        return
    shift = ""
    if v.softmax_form == "maxcell":
        cols.append(("m", "max z", f"MAX({first}:{last})", None))
        shift = "-{m}"
    elif v.softmax_form == "max":
        shift = f"-MAX({first}:{last})"
    for u in units:
        cols.append((f"e_{u}", f"exp {u}", f"EXP({z[u]}{shift})", None))
    for u in units:
        cols.append((f"a_{u}", f"out {u}", f"{{e_{u}}}/SUM({{e_{units[0]}}}:{{e_{units[-1]}}})", None))


def _loss_columns(v: Variant, cols, block: int) -> None:
    n = v.outputs
    outs = [f"o{k}" for k in range(1, n + 1)]
    per = []
    form = v.loss_form
    for k, u in zip(range(1, n + 1), outs, strict=True):
        a, t = f"{{a_{u}}}", f"{{t{k}}}"
        if v.displayed == "cross-entropy":
            ln = (f"LN({a})", f"LOG({a},EXP(1))", f"LN({a})", f"LN({a})")[form]
            if v.output == "softmax":
                text = (f"-{t}*{ln}", f"-({t}*{ln})", f"-1*{t}*{ln}", f"{t}*-{ln}")[form]
            else:
                ln1 = f"LN(1-{a})" if form != 1 else f"LOG(1-{a},EXP(1))"
                text = (
                    f"-({t}*{ln}+(1-{t})*{ln1})",
                    f"-({t}*{ln}+(1-{t})*{ln1})",
                    f"-{t}*{ln}-(1-{t})*{ln1}",
                    f"-1*({t}*{ln}+(1-{t})*{ln1})",
                )[form]
        else:
            half = v.displayed == "half-squared"
            text = (
                f"0.5*({t}-{a})^2" if half else f"({t}-{a})^2",
                f"({t}-{a})^2/2" if half else f"({a}-{t})^2",
                f"POWER({t}-{a},2)/2" if half else f"POWER({a}-{t},2)",
                f"SUMSQ({t}-{a})/2" if half else f"SUMSQ({t}-{a})",
            )[form]
        if n == 1:
            cols.append(("E", "E", text, None))
            per = ["E"]
        else:
            cols.append((f"E{k}", f"E{k}", text, None))
            per.append(f"E{k}")
    if n > 1:
        cols.append(("Es", "E sample", f"SUM({{{per[0]}}}:{{{per[-1]}}})", None))
        per = ["Es"]
    if block > 1:
        total = "SUM" if v.batch == "full-sum" else "AVERAGE"
        cols.append(("E_total", "E_total", f"@last{total}({{{per[0]}:block}})", None))


def _samples(v: Variant) -> list[dict]:
    rng = random.Random(v.seed * 13 + 5)
    count = 1 if v.batch == "one" else rng.choice([2, 3, 4])
    samples = []
    for _ in range(count):
        row = {f"x{i}": round(rng.uniform(-1, 1), 2) for i in range(1, v.inputs + 1)}
        if v.output == "softmax":
            hot = rng.randrange(v.outputs)
            row |= {f"t{k}": 1.0 if k - 1 == hot else 0.0 for k in range(1, v.outputs + 1)}
        elif v.output == "sigmoid":
            row |= {f"t{k}": round(rng.uniform(0.05, 0.95), 2) for k in range(1, v.outputs + 1)}
        else:
            row |= {f"t{k}": round(rng.uniform(-1, 1), 2) for k in range(1, v.outputs + 1)}
        samples.append(row)
    return samples


# -- planted mistakes ----------------------------------------------------------------------------


def mistakes(v: Variant) -> list[str]:
    """The mistakes `plant` can make in this variant."""
    found = ["update sign"]
    if v.hidden >= 2:
        found.append("hidden delta, another unit's derivative")
        found.append("hidden delta, wrong weight")
    if v.output == "softmax":
        found.append("output delta, sigmoid factor")
    elif v.loss == "cross-entropy":
        found.append("output delta, half a sigmoid factor")
    else:
        found.append("output delta, target for output")
    return found


def plant(v: Variant, book: dict, what: str) -> tuple[dict, str]:
    """(the book with the mistake, the cell where it first shows: column letter and row)."""
    cols = [list(c) for c in book["columns"]]
    index = {c[0]: i for i, c in enumerate(cols)}
    first_row = 2
    layers = _units(v)
    if what == "update sign":
        name = layers[0][3][0][0]
        c = cols[index[name]]
        c[3] = c[3].replace("}-", "}+", 1) if "}-" in c[3] else c[3].replace("}+", "}-", 1)
        cell = (name, first_row + book.get("block", 1))
    elif what == "hidden delta, another unit's derivative":
        c = cols[index["d_h1"]]
        c[2] = c[2].replace("_h1}", "_h2}").replace("{z_h2}", "{z_h2}")
        if c[2] == cols[index["d_h1"]][2] and "{" not in c[2].split("*")[-1]:
            raise ValueError("no derivative to swap")
        cell = ("d_h1", first_row)
    elif what == "hidden delta, wrong weight":
        c = cols[index["d_h1"]]
        w1, w2 = layers[1][3][0][0], layers[1][3][0][1]
        c[2] = c[2].replace(f"{{{w1}}}", f"{{{w2}}}", 1)
        cell = ("d_h1", first_row)
    elif what == "output delta, sigmoid factor":
        c = cols[index["d_o1"]]
        c[2] = f"{c[2]}*{{a_o1}}*(1-{{a_o1}})"
        cell = ("d_o1", first_row)
    elif what == "output delta, half a sigmoid factor":  # (a − t)·a: no loss's gradient
        c = cols[index["d_o1"]]
        c[2] = f"{c[2]}*{{a_o1}}"
        cell = ("d_o1", first_row)
    elif what == "output delta, target for output":
        c = cols[index["d_o1"]]
        c[2] = c[2].replace("{t1}", "{x1}", 1)
        cell = ("d_o1", first_row)
    else:
        raise ValueError(what)
    out = dict(book)
    out["columns"] = [tuple(c) for c in cols]
    letter = get_column_letter(index[cell[0]] + 1)
    return out, f"{letter}{cell[1]}"
