"""Right course sheets of the 2-2-2 sigmoid net, varied the way real students vary them (issue 21 red team).

A variant is a dict of choices (see DEFAULT); `write(path, variant)` writes the book with xlsxwriter,
every formula typed out here as a student would and saved with the value this module's own network
arithmetic gives (plain Python floats, nothing from sheetgen), so `--engine cached` reads what a
spreadsheet shows and LibreOffice recomputes the same. Dimensions (each varied alone in VARIANTS,
then combined):
  labels      header spellings: course keys, Mazur's (net_h1, out_h1, Etotal, dEtotal/dw1), σ(h1),
              upper or lower case, "∂E/∂w5 (chain rule)", German or unknown labels ("Fehler", "grad1")
  order       forward pass first, gradients first, or the weights grouped at the end
  deltas      intermediate columns the gradients read: δ_o1/δ_o2, ∂E/∂a_h1, a(1−a)
  origin      where the header row is (row, column), a title row, blank rows before the data
  eta         a labelled cell left of / above the table, in the header row, "η = 0.5", or a column
  inputs      columns read from the row above, typed on every row, or labelled cells
  refs        absolute ($B$2) or relative references to fixed cells
  sigmoid     1/(1+EXP(-x)), EXP(x)/(1+EXP(x)), 0.5*(1+TANH(x/2)), POWER(..,-1), 1/(1+EXP(-1*x)),
              1/(1+1/EXP(x)), (1+EXP(-x))^-1
  error       0.5*(t-a)^2, 0.5*(a-t)^2, POWER(t-a,2)*0.5, (t-a)^2/2, SQRT((t-a)^2)^2/2, PRODUCT, (a-t)*(a-t)/2
  total       E1+E2, SUM(E1:E2), SUM(E1,E2)
  grad        written out, with PRODUCT(...), or with −(t−a) as Mazur's post writes ∂E/∂out
  net         h1 = w1*i1+w2*i2, or SUMPRODUCT(w1:w2, i1:i2)
  iteration   typed numbers, or =A5+1 down the column
  update      w-η*g, w+η*(-g), w-g*η, updated-weight columns read by the next row, or Δw = η*g
              columns the next row subtracts
  first       the first row's iteration number (0 or 1; None: no iteration column)
  bias        None, "fixed" or "trained" (Mazur's b1, b2, one bias per layer)
  tables      one table, two side by side (another η), or one per sheet
"""

from __future__ import annotations

import math

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

ERA = dict(
    i1=0.05, i2=0.1, t1=0.01, t2=0.99, w1=0.15, w2=0.2, w3=0.25, w4=0.3, w5=0.4, w6=0.45, w7=0.5, w8=0.55,
    b1=0.35, b2=0.6,
)  # fmt: skip
WEIGHTS = tuple(f"w{k}" for k in range(1, 9))
GRADS = tuple(f"g{k}" for k in range(1, 9))
INPUTS = ("i1", "i2", "t1", "t2")

DEFAULT = dict(
    labels="course",
    case="as is",
    order="forward",
    deltas=(),
    origin=(1, 0),  # 0-based (row, col) of the header row's first cell
    title=False,
    blank_rows=0,
    eta="left",
    eta_value=0.5,
    inputs="columns",
    refs="absolute",
    sigmoid="recip",
    error="half_sq",
    total="plus",
    grad="inline",
    net="plus",
    iteration="typed",
    update="minus",
    first=0,
    bias=None,
    tables="one",
    rows=5,
    params={},  # inputs or initial weights other than ERA's (t1 = t2 hides a t1-for-t2 mistake)
    mistake=None,  # a key of MISTAKES: one planted mistake (the saved values are then the right ones:
    # judge such a book with LibreOffice, which recalculates it)
)

# --- header spellings -------------------------------------------------------------------------


def _labels(family: str) -> dict:
    base = {k: k for k in (*INPUTS, *WEIGHTS, "b1", "b2", "h1", "h2", "o1", "o2", "E1", "E2")}
    base |= {"a_h1": "a_h1", "a_h2": "a_h2", "a_o1": "a_o1", "a_o2": "a_o2", "E_total": "E_total"}
    base |= {f"g{k}": f"∂E/∂w{k}" for k in range(1, 9)} | {"gb1": "∂E/∂b1", "gb2": "∂E/∂b2"}
    base |= {"iteration": "Iteration", "eta": "η"}
    base |= {f"new_w{k}": f"w{k} new" for k in range(1, 9)} | {"new_b1": "b1 new", "new_b2": "b2 new"}
    base |= {"d_o1": "δ_o1", "d_o2": "δ_o2", "dA_h1": "∂E/∂a_h1", "dA_h2": "∂E/∂a_h2"}
    base |= {"s_h1": "a(1-a) h1", "s_h2": "a(1-a) h2"} | {f"step{k}": f"Δw{k}" for k in range(1, 9)}
    if family == "mazur":
        base |= {f"h{n}": f"net_h{n}" for n in (1, 2)} | {f"a_h{n}": f"out_h{n}" for n in (1, 2)}
        base |= {f"o{n}": f"net_o{n}" for n in (1, 2)} | {f"a_o{n}": f"out_o{n}" for n in (1, 2)}
        base |= {f"E{n}": f"E_o{n}" for n in (1, 2)} | {"E_total": "Etotal"}
        base |= {f"g{k}": f"dEtotal/dw{k}" for k in range(1, 9)} | {
            "gb1": "dEtotal/db1",
            "gb2": "dEtotal/db2",
        }
    elif family == "sigma":
        base |= {f"h{n}": f"net(h{n})" for n in (1, 2)} | {f"a_h{n}": f"σ(h{n})" for n in (1, 2)}
        base |= {f"o{n}": f"net(o{n})" for n in (1, 2)} | {f"a_o{n}": f"σ(o{n})" for n in (1, 2)}
        base |= {f"E{n}": f"E(o{n})" for n in (1, 2)} | {"E_total": "E_tot"}
        base |= {f"g{k}": f"dE/dw{k}" for k in range(1, 9)}
    elif family == "chain":
        base |= {f"g{k}": f"∂E/∂w{k} (chain rule)" for k in range(1, 9)} | {"E_total": "Loss"}
        base |= {f"a_h{n}": f"out h{n}" for n in (1, 2)} | {f"a_o{n}": f"out o{n}" for n in (1, 2)}
    elif family == "german":
        base |= {"E_total": "Fehler", "E1": "Fehler o1", "E2": "Fehler o2", "iteration": "Schritt"}
        base |= {f"a_h{n}": f"Ausgabe h{n}" for n in (1, 2)} | {f"a_o{n}": f"Ausgabe o{n}" for n in (1, 2)}
        base |= {"eta": "Lernrate"}
    elif family == "unknown":
        base |= {f"g{k}": f"grad{k}" for k in range(1, 9)} | {"E_total": "total"}
    elif family == "dw":
        base |= {f"g{k}": f"dw{k}" for k in range(1, 9)} | {"E_total": "Etotal"}
    return base


def _cased(text: str, case: str) -> str:
    if case == "lower":  # Δ stays a capital: δw1 would read as the gradient dw1
        return "".join(c.lower() if c.isascii() else c for c in text)
    return text.upper() if case == "upper" else text


# --- the network, in plain floats ---------------------------------------------------------------


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def rows_of(v: dict) -> list[dict]:
    """Every quantity of every row, by this module's own arithmetic (the oracle of these books)."""
    p = ERA | v["params"]
    eta = v["eta_value"]
    bias = v["bias"]
    out = []
    w = {k: p[k] for k in WEIGHTS}
    b = {"b1": p["b1"], "b2": p["b2"]} if bias else {"b1": 0.0, "b2": 0.0}
    for r in range(v["rows"]):
        q = {k: p[k] for k in INPUTS} | w | (b if bias else {}) | {"eta": eta}
        q["iteration"] = r + (v["first"] or 0)
        q["h1"] = w["w1"] * p["i1"] + w["w2"] * p["i2"] + b["b1"]
        q["h2"] = w["w3"] * p["i1"] + w["w4"] * p["i2"] + b["b1"]
        q["a_h1"], q["a_h2"] = _sig(q["h1"]), _sig(q["h2"])
        q["o1"] = w["w5"] * q["a_h1"] + w["w6"] * q["a_h2"] + b["b2"]
        q["o2"] = w["w7"] * q["a_h1"] + w["w8"] * q["a_h2"] + b["b2"]
        q["a_o1"], q["a_o2"] = _sig(q["o1"]), _sig(q["o2"])
        q["E1"] = 0.5 * (p["t1"] - q["a_o1"]) ** 2
        q["E2"] = 0.5 * (p["t2"] - q["a_o2"]) ** 2
        q["E_total"] = q["E1"] + q["E2"]
        q["d_o1"] = (q["a_o1"] - p["t1"]) * q["a_o1"] * (1 - q["a_o1"])
        q["d_o2"] = (q["a_o2"] - p["t2"]) * q["a_o2"] * (1 - q["a_o2"])
        q["dA_h1"] = q["d_o1"] * w["w5"] + q["d_o2"] * w["w7"]
        q["dA_h2"] = q["d_o1"] * w["w6"] + q["d_o2"] * w["w8"]
        q["s_h1"], q["s_h2"] = q["a_h1"] * (1 - q["a_h1"]), q["a_h2"] * (1 - q["a_h2"])
        dh1, dh2 = q["dA_h1"] * q["s_h1"], q["dA_h2"] * q["s_h2"]
        q["g1"], q["g2"], q["g3"], q["g4"] = dh1 * p["i1"], dh1 * p["i2"], dh2 * p["i1"], dh2 * p["i2"]
        q["g5"], q["g6"] = q["d_o1"] * q["a_h1"], q["d_o1"] * q["a_h2"]
        q["g7"], q["g8"] = q["d_o2"] * q["a_h1"], q["d_o2"] * q["a_h2"]
        q["gb1"], q["gb2"] = dh1 + dh2, q["d_o1"] + q["d_o2"]
        for k in range(1, 9):
            q[f"new_w{k}"] = w[f"w{k}"] - eta * q[f"g{k}"]
            q[f"step{k}"] = eta * q[f"g{k}"]
        if bias == "trained":
            q["new_b1"], q["new_b2"] = b["b1"] - eta * q["gb1"], b["b2"] - eta * q["gb2"]
        out.append(q)
        w = {k: q["new_" + k] for k in WEIGHTS}
        if bias == "trained":
            b = {"b1": q["new_b1"], "b2": q["new_b2"]}
    return out


# --- columns ------------------------------------------------------------------------------------


def order_of(v: dict) -> list[str]:
    given = [k for k in INPUTS if v["inputs"] != "cells"]
    biases = ["b1", "b2"] if v["bias"] else []
    forward = ["h1", "a_h1", "h2", "a_h2", "o1", "a_o1", "o2", "a_o2", "E1", "E2", "E_total"]
    deltas = [k for k in ("d_o1", "d_o2", "dA_h1", "dA_h2", "s_h1", "s_h2") if _delta_on(v, k)]
    grads = list(GRADS) + (["gb1", "gb2"] if v["bias"] == "trained" else [])
    news = [f"new_w{k}" for k in range(1, 9)] if v["update"] == "columns" else []
    if v["update"] == "columns" and v["bias"] == "trained":
        news += ["new_b1", "new_b2"]
    if v["update"] == "steps":
        news = [f"step{k}" for k in range(1, 9)]
    eta = ["eta"] if v["eta"] == "column" else []
    head = (["iteration"] if v["first"] is not None else []) + given + eta
    if v["order"] == "forward":
        return head + list(WEIGHTS) + biases + forward + deltas + grads + news
    if v["order"] == "grads_first":
        return head + list(WEIGHTS) + biases + grads + deltas + forward + news
    if v["order"] == "weights_last":
        return head + forward + deltas + grads + news + list(WEIGHTS) + biases
    if v["order"] == "interleaved":  # w1..w4, hidden layer, w5..w8, output layer (CLASSIC)
        hidden = ["w1", "w2", "w3", "w4", *biases[:1], *forward[:4]]
        return head + hidden + ["w5", "w6", "w7", "w8", *biases[1:], *forward[4:]] + deltas + grads + news
    raise ValueError(v["order"])


def _delta_on(v, key):
    kinds = v["deltas"]
    return (
        (key.startswith("d_o") and "delta_o" in kinds)
        or (key.startswith("dA_h") and "dA_h" in kinds)
        or (key.startswith("s_h") and "slope" in kinds)
    )


# --- formulas -----------------------------------------------------------------------------------


def _sigmoid(v, x):
    form = v["sigmoid"]
    if form == "recip":
        return f"1/(1+EXP(-{x}))"
    if form == "exp_ratio":
        return f"EXP({x})/(1+EXP({x}))"
    if form == "tanh":
        return f"0.5*(1+TANH({x}/2))"
    if form == "power":
        return f"POWER(1+EXP(-{x}),-1)"
    if form == "times_minus_one":
        return f"1/(1+EXP(-1*{x}))"
    if form == "inverse_exp":
        return f"1/(1+1/EXP({x}))"
    if form == "caret":
        return f"(1+EXP(-{x}))^-1"
    raise ValueError(form)


def _error(v, t, a):
    form = v["error"]
    return {
        "half_sq": f"0.5*({t}-{a})^2",
        "half_a_minus_t": f"0.5*({a}-{t})^2",
        "power": f"POWER({t}-{a},2)*0.5",
        "over_two": f"({t}-{a})^2/2",
        "sqrt_sq": f"SQRT(({t}-{a})^2)^2/2",
        "product": f"PRODUCT({t}-{a},{t}-{a},0.5)",
        "times_itself": f"({a}-{t})*({a}-{t})/2",
    }[form]


def formulas(v: dict, R, r: int) -> dict:
    bias = v["bias"]
    b1 = f"+{R('b1')}" if bias else ""
    b2 = f"+{R('b2')}" if bias else ""
    f = {
        "h1": f"{R('w1')}*{R('i1')}+{R('w2')}*{R('i2')}{b1}",
        "h2": f"{R('w3')}*{R('i1')}+{R('w4')}*{R('i2')}{b1}",
        "o1": f"{R('w5')}*{R('a_h1')}+{R('w6')}*{R('a_h2')}{b2}",
        "o2": f"{R('w7')}*{R('a_h1')}+{R('w8')}*{R('a_h2')}{b2}",
    }
    if v["grad"] == "product" and not bias:
        f["h1"] = f"SUM(PRODUCT({R('w1')},{R('i1')}),PRODUCT({R('w2')},{R('i2')}))"
    if v["net"] == "sumproduct" and v["inputs"] != "cells":  # w1:w2 and i1:i2 both rows of two cells
        inputs = f"{R('i1')}:{R('i2')}"
        f["h1"] = f"SUMPRODUCT({R('w1')}:{R('w2')},{inputs}){b1}"
        f["h2"] = f"SUMPRODUCT({R('w3')}:{R('w4')},{inputs}){b1}"
    for n in ("h1", "h2", "o1", "o2"):
        f["a_" + n] = _sigmoid(v, R(n))
    f["E1"] = _error(v, R("t1"), R("a_o1"))
    f["E2"] = _error(v, R("t2"), R("a_o2"))
    e1, e2 = R("E1"), R("E2")
    if v["total"] == "plus":
        f["E_total"] = f"{e1}+{e2}"
    elif v["total"] == "sum_args":
        f["E_total"] = f"SUM({e1},{e2})"
    else:  # SUM(E1:E2) needs the two adjacent, as the default order has them
        f["E_total"] = f"SUM({e1}:{e2})"

    def d_o(n):
        if _delta_on(v, "d_o1"):
            return R(f"d_o{n}")
        a, t = R(f"a_o{n}"), R(f"t{n}")
        if v["grad"] == "mazur":  # ∂E/∂out = −(target − out), as Mazur's post writes it
            return f"(-({t}-{a}))*{a}*(1-{a})"
        return f"({a}-{t})*{a}*(1-{a})"

    def slope(n):
        if _delta_on(v, "s_h1"):
            return R(f"s_h{n}")
        a = R(f"a_h{n}")
        return f"{a}*(1-{a})"

    def dA(n):
        if _delta_on(v, "dA_h1"):
            return R(f"dA_h{n}")
        w_a, w_b = ("w5", "w7") if n == 1 else ("w6", "w8")
        return f"({d_o(1)}*{R(w_a)}+{d_o(2)}*{R(w_b)})"

    if _delta_on(v, "d_o1"):
        for n in (1, 2):
            a, t = R(f"a_o{n}"), R(f"t{n}")
            f[f"d_o{n}"] = f"({a}-{t})*{a}*(1-{a})"
    if _delta_on(v, "dA_h1"):
        f["dA_h1"] = f"{d_o(1)}*{R('w5')}+{d_o(2)}*{R('w7')}"
        f["dA_h2"] = f"{d_o(1)}*{R('w6')}+{d_o(2)}*{R('w8')}"
    if _delta_on(v, "s_h1"):
        for n in (1, 2):
            a = R(f"a_h{n}")
            f[f"s_h{n}"] = f"{a}*(1-{a})"
    product = v["grad"] == "product"

    def times(*factors):
        return f"PRODUCT({','.join(factors)})" if product else "*".join(factors)

    for k, (h, i) in zip((1, 2, 3, 4), ((1, "i1"), (1, "i2"), (2, "i1"), (2, "i2")), strict=True):
        f[f"g{k}"] = times(dA(h), slope(h), R(i))
    for k, (o, h) in zip((5, 6, 7, 8), ((1, 1), (1, 2), (2, 1), (2, 2)), strict=True):
        f[f"g{k}"] = times(d_o(o), R(f"a_h{h}"))
    if bias == "trained":
        f["gb1"] = f"{times(dA(1), slope(1))}+{times(dA(2), slope(2))}"
        f["gb2"] = f"{d_o(1)}+{d_o(2)}"
    trained = [(w, f"g{w[1:]}") for w in WEIGHTS] + (
        [("b1", "gb1"), ("b2", "gb2")] if bias == "trained" else []
    )

    def update(w, g, dr):
        e, wv, gv = R("eta", dr), R(w, dr), R(g, dr)
        return {
            "minus": f"{wv}-{e}*{gv}",
            "columns": f"{wv}-{e}*{gv}",
            "plus_neg": f"{wv}+{e}*(-{gv})",
            "grad_eta": f"{wv}-{gv}*{e}",
        }[v["update"]]

    if v["update"] == "steps":  # Δw = η·∂E/∂w, subtracted by the next row (biases as "minus")
        for k in range(1, 9):
            f[f"step{k}"] = f"{R('eta')}*{R(f'g{k}')}"
        if r > 0:
            for w, g in trained:
                f[w] = (
                    f"{R(w, -1)}-{R('step' + w[1:], -1)}"
                    if w in WEIGHTS
                    else f"{R(w, -1)}-{R('eta', -1)}*{R(g, -1)}"
                )
    elif v["update"] == "columns":
        for w, g in trained:
            f["new_" + w] = update(w, g, 0)
        if r > 0:
            for w, _g in trained:
                f[w] = R("new_" + w, -1)
    elif r > 0:
        for w, g in trained:
            f[w] = update(w, g, -1)
    _plant(v, R, r, f)
    return f


# One mistake each, as students make them: (the first wrong column's key, its first wrong data row).
MISTAKES = {
    "E2 reads t1": ("E2", 0),
    "∂E/∂w5 reads a_h2": ("g5", 0),
    "a_h2 of h1": ("a_h2", 0),
    "update adds": ("w1", 1),
    # E2 reading t1 where t1 = t2, in a form the proof cannot read: LibreOffice with other inputs finds it
    "E2 reads t1, unreadable": ("E2", 0),
}


def _plant(v: dict, R, r: int, f: dict) -> None:
    mistake = v["mistake"]
    if mistake == "E2 reads t1":
        f["E2"] = _error(v, R("t1"), R("a_o2"))
    elif mistake == "E2 reads t1, unreadable":
        f["E2"] = _error(v, R("t1"), R("a_o2")) + f"+0*ISBLANK({R('E1')})"
    elif mistake == "∂E/∂w5 reads a_h2":
        f["g5"] = f["g6"]
    elif mistake == "a_h2 of h1":
        f["a_h2"] = _sigmoid(v, R("h1"))
    elif mistake == "update adds" and r > 0 and "w1" in f and v["update"] != "columns":
        f["w1"] = f"{R('w1', -1)}+{R('eta', -1)}*{R('g1', -1)}"
    elif mistake == "update adds" and "new_w1" in f:
        f["new_w1"] = f"{R('w1')}+{R('eta')}*{R('g1')}"


# --- writing ------------------------------------------------------------------------------------


def _write_table(sheet, v: dict, top: int, left: int) -> dict:
    """One table whose header row's first cell is (top, left); returns {key: (row, col)} of row 0."""
    labels = _labels(v["labels"])
    order = order_of(v)
    values = rows_of(v)
    absolute = v["refs"] == "absolute"
    fixed: dict = {}
    header = top
    if v["title"]:
        sheet.write_string(top, left, "Backpropagation - 2-2-2 network, one training example")
        header = top + 2
    # η and (maybe) the inputs as labelled cells
    cell_keys = (["eta"] if v["eta"] in ("left", "above", "inline") else []) + (
        list(INPUTS) if v["inputs"] == "cells" else []
    )
    if cell_keys:
        block_rows = 2 if v["eta"] == "above" and cell_keys == ["eta"] else len(cell_keys)
        base = header
        header = header + block_rows + 1
        for n, key in enumerate(cell_keys):
            value = v["eta_value"] if key == "eta" else (ERA | v["params"])[key]
            label = _cased(labels[key], v["case"])
            if key == "eta" and v["eta"] == "inline":
                sheet.write_string(base + n, left, f"{label} = {value}")
                fixed[key] = repr(value)  # no cell to read: the formulas hold the number
                continue
            if key == "eta" and v["eta"] == "above":  # beside the input cells' block, if any
                sheet.write_string(base, left + 3, label)
                sheet.write_number(base + 1, left + 3, value)
                fixed[key] = (base + 1, left + 3)
                continue
            sheet.write_string(base + n, left, label)
            sheet.write_number(base + n, left + 1, value)
            fixed[key] = (base + n, left + 1)
    if v["eta"] == "header":  # "η" and its value right of the table's header row
        col = left + len(order) + 1
        sheet.write_string(header, col, _cased(labels["eta"], v["case"]))
        sheet.write_number(header, col + 1, v["eta_value"])
        fixed["eta"] = (header, col + 1)
    column = {key: left + n for n, key in enumerate(order)}
    for key in order:
        sheet.write_string(header, column[key], _cased(labels[key], v["case"]))
    first = header + 1 + v["blank_rows"]

    def ref(key, row):
        where = fixed.get(key)
        if isinstance(where, str):
            return where
        if where is not None:
            return xl_rowcol_to_cell(*where, row_abs=absolute, col_abs=absolute)
        return xl_rowcol_to_cell(row, column[key])

    for r, q in enumerate(values):
        row = first + r

        def R(key, dr=0, row=row):
            return ref(key, row + dr)

        f = formulas(v, R, r)
        for key in order:
            value = q[key]
            if key == "iteration" and v["iteration"] == "formula" and r > 0:
                sheet.write_formula(row, column[key], "=" + R(key, -1) + "+1", None, value)
            elif key == "iteration":
                sheet.write_number(row, column[key], value)
            elif key in f:
                sheet.write_formula(row, column[key], "=" + f[key], None, value)
            elif r == 0 or v["inputs"] == "typed":
                sheet.write_number(row, column[key], value)
            else:  # a given (input, η, a fixed bias) read from the row above
                sheet.write_formula(row, column[key], "=" + R(key, -1), None, value)
    return {key: (first, col) for key, col in column.items()}


def write(path, v: dict) -> dict:
    v = DEFAULT | v
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Sheet1")
    top, left = v["origin"]
    where = _write_table(sheet, v, top, left)
    if v["tables"] == "side_by_side":
        _write_table(sheet, v | {"eta_value": 0.25}, top, left + len(order_of(v)) + 4)
    elif v["tables"] == "per_sheet":
        _write_table(book.add_worksheet("Sheet2"), v | {"eta_value": 1.0}, top, left)
    book.close()
    return where
