"""Hand-made backprop workbooks, in the styles students build them, with or without a known mistake.

The formulas here are written out by hand, independently of sheetgen.columns, the way a
course sheet spells them; each layout differs from `sheetgen build`'s in column order, label
spellings, where the inputs and η live, and which program wrote the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import openpyxl
import xlsxwriter
from openpyxl.utils import get_column_letter

EVA8 = dict(
    i1=0.05, i2=0.1, t1=0.01, t2=0.99, w1=0.15, w2=0.2, w3=0.25, w4=0.3, w5=0.4, w6=0.45, w7=0.5, w8=0.55
)
ERA = dict(EVA8, t1=0.5, t2=0.5)
WEIGHTS = [f"w{k}" for k in range(1, 9)]
GRADS = [f"dE_dw{k}" for k in range(1, 9)]
CLASSIC_ORDER = [
    "iteration",
    "t1",
    "t2",
    "i1",
    "i2",
    "w1",
    "w2",
    "w3",
    "w4",
    "h1",
    "a_h1",
    "h2",
    "a_h2",
    "w5",
    "w6",
    "w7",
    "w8",
    "o1",
    "a_o1",
    "o2",
    "a_o2",
    "E1",
    "E2",
    "E_total",
    *GRADS,
]


@dataclass
class Layout:
    name: str
    labels: dict  # key -> header text
    order: list  # column keys; "" is an empty column, "?" a column of notes the verifier must ignore
    inputs_as_cells: bool = False  # i1, i2, t1, t2 as labelled cells above the table
    eta_label: str | None = "η"  # None: no label at all (η must be inferred)
    eta_value_below: bool = False
    eta_in_label: bool = False  # "η = 0.5" in one cell
    eta_literal: bool = False  # formulas hold the number, not a reference
    header_row: int = 5  # 1-based
    first_col: int = 1
    writer: str = "xlsxwriter"
    extra: dict = field(default_factory=dict)


def _classic_labels():
    labels = {k: k for k in CLASSIC_ORDER}
    labels.update(
        iteration="Iter", a_h1="out_h1", a_h2="out_h2", a_o1="out_o1", a_o2="out_o2", E_total="E_tot"
    )
    labels.update({f"dE_dw{k}": f"∂E_total/∂w{k}" for k in range(1, 9)})
    return labels


def _reordered_labels():
    labels = {k: k for k in CLASSIC_ORDER}
    labels.update(
        h1="net_h1",
        h2="net_h2",
        o1="net o1",
        o2="net o2",
        a_h1="a_h1",
        a_o1="a(o1)",
        a_o2="a(o2)",
        E_total="E_Total",
        E1="E_1",
        E2="E_2",
    )
    labels.update({f"dE_dw{k}": f"dE/dw{k}" for k in range(1, 9)})
    return labels


def _course_labels():
    """A course sheet's headers: notes and equations in them, 'E_t', '∂E_t/∂w'."""
    labels = _classic_labels()
    arrows = ["i1→h1", "i2→h1", "i1→h2", "i2→h2", "a_h1→o1", "a_h2→o1", "a_h1→o2", "a_h2→o2"]
    labels.update({f"w{k}": f"w{k} ({arrow})" for k, arrow in enumerate(arrows, start=1)})
    labels.update(h1="h1 = w1*i1 + w2*i2", a_h1="a_h1 = σ(h1)", E_total="E_t")
    labels.update({f"dE_dw{k}": f"∂E_t/∂w{k}" for k in range(1, 9)})
    return labels


def _course_preamble():
    """Text above the table, as course sheets have: a title, the equations, a diagram's labels."""
    cells = {
        (1, 1): "Backpropagation, by hand",
        (2, 1): "h1 = w1*i1 + w2*i2",
        (3, 1): "h2 = w3*i1 + w4*i2",
        (4, 1): "a_h1 = σ(h1) = 1/(1 + exp(-h1))",
        (5, 1): "E_total = E1 + E2",
        (6, 1): "∂E_total/∂w5 = (a_o1 - t1) * a_o1 * (1 - a_o1) * a_h1",
        (7, 1): "w_new = w - η * ∂E_total/∂w",
        (9, 6): "i1",
        (9, 7): 0.05,
        (10, 6): "i2",
        (10, 7): 0.1,
        (9, 12): "h1",
        (10, 12): "h2",
    }
    return cells


LAYOUTS = {
    "classic": Layout("classic", _classic_labels(), CLASSIC_ORDER),
    "reordered": Layout(
        "reordered",
        _reordered_labels(),
        [
            *WEIGHTS,
            "",
            "h1",
            "a_h1",
            "h2",
            "a_h2",
            "?",
            "o1",
            "a_o1",
            "o2",
            "a_o2",
            "E1",
            "E2",
            "E_total",
            *GRADS,
        ],
        inputs_as_cells=True,
        eta_label="learning rate",
        eta_value_below=True,
        header_row=9,
        first_col=3,
        writer="openpyxl",
    ),
    "lr-equals": Layout("lr-equals", _classic_labels(), CLASSIC_ORDER, eta_label="lr =", header_row=4),
    "eta-in-one-cell": Layout(
        "eta-in-one-cell",
        _reordered_labels(),
        CLASSIC_ORDER[1:],
        eta_in_label=True,
        eta_literal=True,
        writer="openpyxl",
    ),
    "no-eta": Layout("no-eta", _classic_labels(), CLASSIC_ORDER, eta_label=None, eta_literal=True),
    "course": Layout(
        "course", _course_labels(), CLASSIC_ORDER[1:], header_row=14, eta_label="η", extra=_course_preamble()
    ),
}


def _formulas(R, r: int, eta: str) -> dict:
    """Every computed cell of data row r; R(key, dr=0) is the address of `key` in row r + dr."""
    d_o1 = f"({R('a_o1')}-{R('t1')})*{R('a_o1')}*(1-{R('a_o1')})"
    d_o2 = f"({R('a_o2')}-{R('t2')})*{R('a_o2')}*(1-{R('a_o2')})"
    d_h1 = f"({d_o1}*{R('w5')}+{d_o2}*{R('w7')})*{R('a_h1')}*(1-{R('a_h1')})"
    d_h2 = f"({d_o1}*{R('w6')}+{d_o2}*{R('w8')})*{R('a_h2')}*(1-{R('a_h2')})"
    f = {
        "h1": f"{R('w1')}*{R('i1')}+{R('w2')}*{R('i2')}",
        "a_h1": f"1/(1+EXP(-{R('h1')}))",
        "h2": f"{R('w3')}*{R('i1')}+{R('w4')}*{R('i2')}",
        "a_h2": f"1/(1+EXP(-{R('h2')}))",
        "o1": f"{R('w5')}*{R('a_h1')}+{R('w6')}*{R('a_h2')}",
        "a_o1": f"1/(1+EXP(-{R('o1')}))",
        "o2": f"{R('w7')}*{R('a_h1')}+{R('w8')}*{R('a_h2')}",
        "a_o2": f"1/(1+EXP(-{R('o2')}))",
        "E1": f"0.5*({R('t1')}-{R('a_o1')})^2",
        "E2": f"0.5*({R('t2')}-{R('a_o2')})^2",
        "E_total": f"{R('E1')}+{R('E2')}",
        "dE_dw1": f"{d_h1}*{R('i1')}",
        "dE_dw2": f"{d_h1}*{R('i2')}",
        "dE_dw3": f"{d_h2}*{R('i1')}",
        "dE_dw4": f"{d_h2}*{R('i2')}",
        "dE_dw5": f"{d_o1}*{R('a_h1')}",
        "dE_dw6": f"{d_o1}*{R('a_h2')}",
        "dE_dw7": f"{d_o2}*{R('a_h1')}",
        "dE_dw8": f"{d_o2}*{R('a_h2')}",
    }
    if r > 0:
        f.update({w: f"{R(w, -1)}-{eta}*{R(g, -1)}" for w, g in zip(WEIGHTS, GRADS, strict=True)})
        f.update({k: R(k, -1) for k in ("i1", "i2", "t1", "t2")})
    return f


def _mistake(name: str, f: dict, R, r: int) -> None:
    """Replace the formulas of row r by the ones a student with mistake `name` writes."""
    d_o1 = f"({R('a_o1')}-{R('t1')})*{R('a_o1')}*(1-{R('a_o1')})"
    d_o2 = f"({R('a_o2')}-{R('t2')})*{R('a_o2')}*(1-{R('a_o2')})"
    if name == "w3-uses-a_h1-derivative":
        f["dE_dw3"] = f"({d_o1}*{R('w6')}+{d_o2}*{R('w8')})*{R('a_h1')}*(1-{R('a_h1')})*{R('i1')}"
    elif name == "w4-uses-a_h1-derivative":
        f["dE_dw4"] = f"({d_o1}*{R('w6')}+{d_o2}*{R('w8')})*{R('a_h1')}*(1-{R('a_h1')})*{R('i2')}"
    elif name == "w1-uses-w6-w8":
        f["dE_dw1"] = f"({d_o1}*{R('w6')}+{d_o2}*{R('w8')})*{R('a_h1')}*(1-{R('a_h1')})*{R('i1')}"
    elif name == "E2-from-a_o1":
        f["E2"] = f"0.5*({R('t2')}-{R('a_o1')})^2"
    elif name == "update-wrong-sign" and r > 0:
        for w in WEIGHTS:
            f[w] = f[w].replace("-", "+", 1)
    elif name == "update-wrong-eta" and r > 0:
        for w, g in zip(WEIGHTS, GRADS, strict=True):
            f[w] = f"{R(w, -1)}-0.1*{R(g, -1)}"
    elif name == "a_o2-overwritten":
        f["a_o2"] = R("a_o1")
    elif name == "w1-uses-updated-w5-w7":
        f["dE_dw1"] = f"({d_o1}*{R('w5', 1)}+{d_o2}*{R('w7', 1)})*{R('a_h1')}*(1-{R('a_h1')})*{R('i1')}"
    elif name == "w6-missing-sigmoid-derivative":
        f["dE_dw6"] = f"({R('a_o1')}-{R('t1')})*{R('a_h2')}"
    elif name == "w1-circular-update" and r > 0:
        f["w1"] = f["w1"].replace(R("dE_dw1", -1), R("dE_dw1"))  # the gradient of its own row
    elif name == "a_h2-sigmoid-sign":
        f["a_h2"] = f"1/(1+EXP({R('h2')}))"
    elif name == "w5-reads-row-above" and r > 0:
        f["dE_dw5"] = f"{d_o1}*{R('a_h1', -1)}"


# mistake -> (column key of the first wrong cell, its data row, words the diagnosis must contain)
MISTAKES = {
    "w3-uses-a_h1-derivative": ("dE_dw3", 0, "a_h1·(1−a_h1) in place of a_h2·(1−a_h2)"),
    "w4-uses-a_h1-derivative": ("dE_dw4", 0, "a_h1·(1−a_h1) in place of a_h2·(1−a_h2)"),
    "w1-uses-w6-w8": ("dE_dw1", 0, "wrong output weights: w6/w8 in place of w5/w7"),
    "E2-from-a_o1": ("E2", 0, "in place of"),  # the a_o1/a_o2 labels depend on the layout
    "update-wrong-sign": ("w1", 1, "wrong sign"),
    "update-wrong-eta": ("w1", 1, "η = 0.1"),
    "a_o2-overwritten": ("a_o2", 0, "overwritten by another quantity"),
    "w5-reads-row-above": ("dE_dw5", 1, "from the row above"),
    "w1-circular-update": ("w1", 1, "a circular reference"),
    "a_h2-sigmoid-sign": ("a_h2", 0, "the minus in EXP(−h2) missing"),
    "w1-uses-updated-w5-w7": ("dE_dw1", 0, "the updated weights"),
    "w6-missing-sigmoid-derivative": ("dE_dw6", 0, "missing the factor a_o1·(1−a_o1)"),
}


def write_handmade(
    path, layout: Layout, params: dict, eta: float, rows: int, mistake: str | None = None
) -> dict:
    """Write a hand-made sheet; return where things went (for the tests' expectations)."""
    cells: dict[tuple[int, int], object] = {}  # (row, col), 1-based -> number, text or "=formula"
    param_cell = {}
    if layout.inputs_as_cells:
        for n, key in enumerate(("i1", "i2", "t1", "t2")):
            cells[(1 + n, 1)] = key
            cells[(1 + n, 2)] = params[key]
            param_cell[key] = f"$B${1 + n}"
    eta_ref = repr(eta)
    if layout.eta_label is not None:
        label_row, label_col = layout.header_row - 3, 4
        if layout.eta_in_label:
            cells[(label_row, label_col)] = f"{layout.eta_label} = {eta:g}"
        else:
            cells[(label_row, label_col)] = layout.eta_label
            spot = (label_row + 1, label_col) if layout.eta_value_below else (label_row, label_col + 1)
            cells[spot] = eta
            if not layout.eta_literal:
                eta_ref = f"${get_column_letter(spot[1])}${spot[0]}"
    cells.update(layout.extra)
    col_of = {key: layout.first_col + n for n, key in enumerate(layout.order) if key not in ("", "?")}
    for key, col in col_of.items():
        cells[(layout.header_row, col)] = layout.labels[key]
    if "?" in layout.order:
        cells[(layout.header_row, layout.first_col + layout.order.index("?"))] = "notes"
    for r in range(rows):
        excel_row = layout.header_row + 1 + r

        def R(key, dr=0, excel_row=excel_row):
            if key in param_cell:
                return param_cell[key]
            return f"{get_column_letter(col_of[key])}{excel_row + dr}"

        formulas = _formulas(R, r, eta_ref)
        if mistake:
            _mistake(mistake, formulas, R, r)
        for key, col in col_of.items():
            if key == "iteration":
                cells[(excel_row, col)] = r
            elif r == 0 and key in params:
                cells[(excel_row, col)] = params[key]
            else:
                cells[(excel_row, col)] = "=" + formulas[key]
        if "?" in layout.order:
            cells[(excel_row, layout.first_col + layout.order.index("?"))] = "ok" if r % 2 else ""
    _save(path, layout.writer, cells)
    return {"col_of": col_of, "first_row": layout.header_row + 1}


def _save(path, writer: str, cells: dict) -> None:
    if writer == "openpyxl":
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = "Backprop"
        for (row, col), value in cells.items():
            if value != "":
                sheet.cell(row=row, column=col, value=value)
        book.save(path)
        return
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Sheet1")
    for (row, col), value in cells.items():
        if isinstance(value, str) and value.startswith("="):
            sheet.write_formula(row - 1, col - 1, value)
        elif isinstance(value, str):
            sheet.write_string(row - 1, col - 1, value)
        else:
            sheet.write_number(row - 1, col - 1, value)
    book.close()


def write_excel_only(path, params: dict, eta: float, rows: int) -> None:
    """Typed values, except E_total: Excel's LET (unknown to LibreOffice 7.4), with Excel's saved results."""
    from xlsxwriter.utility import xl_rowcol_to_cell

    from sheetgen.core import oracle

    truth = oracle.train(params, eta, rows - 1)
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Sheet1")
    sheet.write_string(0, 0, "η")
    sheet.write_number(0, 1, eta)
    for c, key in enumerate(CLASSIC_ORDER[1:]):
        sheet.write_string(2, c, key)
        for r in range(rows):
            if key == "E_total":
                e1, e2 = (xl_rowcol_to_cell(3 + r, CLASSIC_ORDER.index(k) - 1) for k in ("E1", "E2"))
                formula = f"=_xlfn.LET(_xlpm.a,{e1},_xlpm.b,{e2},_xlpm.a+_xlpm.b)"
                sheet.write_formula(3 + r, c, formula, None, float(truth[key][r]))
            else:
                sheet.write_number(3 + r, c, float(truth[key][r]))
    book.close()
