"""Hand-made probe workbooks for `sheetgen verify`'s formula proof (issue 12).

Every formula here is typed out by hand, the way a student writes it in a course sheet, and
shares nothing with sheetgen: no sheetgen module is imported. Each book also carries the values
a spreadsheet would save: they are computed here by tests/formula_eval.py (a tiny independent
evaluator) from the book's own formulas, so `--engine cached` judges exactly what LibreOffice
recomputes, and a wrong formula's saved value is as wrong as the formula.

Most mistakes here are masked at the sheet's own numbers (t1 = t2 = 0.5 in the ERA-V1 inputs,
η typed in as the η cell's value, pasted values): only a proof of the formulas tells them apart.

A probe is (builder, expectation); PROBES lists them all, by file name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import openpyxl
import xlsxwriter
from formula_eval import evaluate
from handmade_books import CLASSIC_ORDER, ERA, EVA8, GRADS, WEIGHTS
from openpyxl.utils import get_column_letter
from openpyxl.workbook.defined_name import DefinedName

SHEET = "Sheet1"
OPENPYXL_SHEET = "Backprop"
ETA = 0.5
ROWS = 6
WEIGHTS, GRADS = tuple(WEIGHTS), tuple(GRADS)
ORDER = tuple(CLASSIC_ORDER)
MAZUR_BIASES = dict(b1=0.35, b2=0.6)
HEADERS = {k: k for k in ORDER} | {"iteration": "Iteration"} | {g: f"∂E/∂w{g[-1]}" for g in GRADS}
# Gradient header spellings found in public course sheets (U+1D74F is the mathematical bold partial).
GRADIENT_SPELLINGS = {
    "E-partial": "E∂w{k}",
    "E-bold-partial": "E\U0001d74fw{k}",
    "Edw": "Edw{k}",
    "dw": "dw{k}",
}
NONSENSE_HEADER = "col 27"


@dataclass
class Expect:
    """What `sheetgen verify --json` must say about a probe.

    column/data_row: where the first wrong cell is (a key of the book's columns, 0-based data row);
    words: groups of alternatives, each group must occur (case-insensitive) in the diagnosis when a
    cell is wrong, else anywhere in the workbook's JSON (its messages).
    """

    verdict: str
    column: str | None = None
    data_row: int = 0
    words: tuple[tuple[str, ...], ...] = ()
    also_verified: bool = False  # a biased sheet: VERIFIED once biases are supported
    range_rows: tuple[int, int] | None = None  # a range over these 0-based data rows must be named
    range_column: str | None = None  # ... starting in this key's column (None: any column)
    wrong_columns: int = 1  # how many columns hold a wrong cell (one mistake, one column)
    unproven_kind: str | None = None  # RIGHT ONLY: "values" (no formula) or "constant" (typed in)


@dataclass
class Where:
    """Where a builder put things: each key's column letter and the sheet row of data row 0."""

    letters: dict = field(default_factory=dict)
    first_row: int = 0

    def cell(self, key: str, data_row: int) -> str:
        return f"{self.letters[key]}{self.first_row + data_row}"


# ---------------------------------------------------------------------------------------------
# Writing: cells (1-based (row, col) -> number, text or "=formula"), values saved with formulas


def save(
    path,
    cells: dict,
    values_only: bool = False,
    writer: str = "xlsxwriter",
    names: dict | None = None,
    other_sheets: dict | None = None,
) -> None:
    """Write the cells with xlsxwriter, each formula with the value formula_eval computes for it.

    writer="openpyxl" saves the formulas without values, as openpyxl does (LibreOffice must
    recalculate), so such a book may use what formula_eval does not know: other functions,
    defined names (`names`: name -> target) and other sheets (`other_sheets`: name -> cells).
    """
    if writer == "openpyxl":
        book = openpyxl.Workbook()
        book.active.title = OPENPYXL_SHEET
        for name, sheet_cells in {OPENPYXL_SHEET: cells, **(other_sheets or {})}.items():
            sheet = book[name] if name in book.sheetnames else book.create_sheet(name)
            for (row, col), content in sheet_cells.items():
                if content is not None:
                    sheet.cell(row=row, column=col, value=content)
        for name, target in (names or {}).items():
            book.defined_names[name] = DefinedName(name, attr_text=target)
        book.save(path)
        return
    assert not names and not other_sheets, "formula_eval reads neither defined names nor other sheets"
    cache: dict[tuple[int, int], float] = {}

    def value_of(sheet, row, col):
        if (row, col) in cache:
            return cache[(row, col)]
        content = cells.get((row, col))
        if isinstance(content, str) and content.startswith("="):
            value = evaluate(content, sheet, value_of)
        elif isinstance(content, (int, float)):
            value = float(content)
        elif content in (None, ""):
            value = 0.0  # an empty cell reads as 0, as in every spreadsheet
        else:
            raise ValueError(f"formula reads text cell {get_column_letter(col)}{row}: {content!r}")
        cache[(row, col)] = value
        return value

    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet(SHEET)
    for (row, col), content in sorted(cells.items()):
        if isinstance(content, str) and content.startswith("="):
            value = value_of(SHEET, row, col)
            if values_only:
                sheet.write_number(row - 1, col - 1, value)
            else:
                sheet.write_formula(row - 1, col - 1, content, None, value)
        elif isinstance(content, str):
            sheet.write_string(row - 1, col - 1, content)
        elif content is not None:
            sheet.write_number(row - 1, col - 1, content)
    book.close()


def write_table(
    path,
    order: tuple,
    headers: dict,
    first_values: dict,
    formulas: Callable,
    *,
    givens: tuple,
    labelled: dict | None = None,
    rows: int = ROWS,
    values_only: bool = False,
    formula_rows: int | None = None,
    writer: str = "xlsxwriter",
    eta_above: bool = True,
    first_col: int = 1,
    header_row: int | None = None,
    refs: dict | None = None,
    names: dict | None = None,
    other_sheets: dict | None = None,
    edit: Callable | None = None,
) -> Where:
    """One iteration table: header row, then `rows` data rows.

    formulas(R, r) -> {key: formula without '='} for data row r; R(key, dr=0) is the address of
    `key` in row r + dr (or its labelled cell). Row 0 holds first_values for the keys it has;
    later rows read each key in `givens` from the row above. `labelled` maps a key to its
    (label text, value) cell pair above the table (η is always one). `formula_rows` writes
    formulas in that many rows only (the rest of the table stays empty). `refs` changes how
    formulas read a key (a defined name, another sheet's cell); with eta_above=False η has no
    cell above the table (refs must say where it is). edit(cells, where) may change the cells
    (1-based (row, col) -> content) before they are saved.
    """
    labelled = ({"eta": ("η", ETA)} if eta_above else {}) | (labelled or {})
    cells: dict = {}
    fixed = {}
    for n, (key, (text, value)) in enumerate(labelled.items()):
        cells[(1 + n, 1)] = text
        cells[(1 + n, 2)] = value
        fixed[key] = f"$B${1 + n}"
    fixed.update(refs or {})
    header_row = header_row or max(4, len(labelled) + 2)  # a blank row between labels and table
    assert header_row > len(labelled) + 1, "the labelled cells must fit above the header row"
    column = {key: first_col + n for n, key in enumerate(order)}
    where = Where({key: get_column_letter(col) for key, col in column.items()}, header_row + 1)
    for key in order:
        cells[(header_row, column[key])] = headers.get(key, key)
    for r in range(rows):
        row = header_row + 1 + r

        def R(key, dr=0, row=row):
            return fixed[key] if key in fixed else f"{where.letters[key]}{row + dr}"

        row_formulas = formulas(R, r) if formula_rows is None or r < formula_rows else {}
        for key in order:
            if key == "iteration":
                content = r
            elif r == 0 and key in first_values:
                content = first_values[key]
            elif r > 0 and key in givens:
                content = "=" + R(key, -1)
            elif key in row_formulas:
                content = "=" + row_formulas[key]
            else:
                content = None
            cells[(row, column[key])] = content
    if edit is not None:
        edit(cells, where)
    save(path, cells, values_only=values_only, writer=writer, names=names, other_sheets=other_sheets)
    return where


# ---------------------------------------------------------------------------------------------
# The 2-2-2 net, as a course sheet writes it


def delta_o1(R):
    return f"({R('a_o1')}-{R('t1')})*{R('a_o1')}*(1-{R('a_o1')})"


def delta_o2(R):
    return f"({R('a_o2')}-{R('t2')})*{R('a_o2')}*(1-{R('a_o2')})"


def right_formulas(R, r: int) -> dict:
    d1, d2 = delta_o1(R), delta_o2(R)
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
        "dE_dw1": f"({d1}*{R('w5')}+{d2}*{R('w7')})*{R('a_h1')}*(1-{R('a_h1')})*{R('i1')}",
        "dE_dw2": f"({d1}*{R('w5')}+{d2}*{R('w7')})*{R('a_h1')}*(1-{R('a_h1')})*{R('i2')}",
        "dE_dw3": f"({d1}*{R('w6')}+{d2}*{R('w8')})*{R('a_h2')}*(1-{R('a_h2')})*{R('i1')}",
        "dE_dw4": f"({d1}*{R('w6')}+{d2}*{R('w8')})*{R('a_h2')}*(1-{R('a_h2')})*{R('i2')}",
        "dE_dw5": f"{d1}*{R('a_h1')}",
        "dE_dw6": f"{d1}*{R('a_h2')}",
        "dE_dw7": f"{d2}*{R('a_h1')}",
        "dE_dw8": f"{d2}*{R('a_h2')}",
    }
    if r > 0:
        f.update({w: f"{R(w, -1)}-{R('eta')}*{R(g, -1)}" for w, g in zip(WEIGHTS, GRADS, strict=True)})
    return f


# Each mistake: (R, r, formulas) -> None, editing the right formulas of data row r in place.


def _e2_reads_t1(R, r, f):
    f["E2"] = f"0.5*({R('t1')}-{R('a_o2')})^2"


def _w7_reads_t1(R, r, f):
    f["dE_dw7"] = f"({R('a_o2')}-{R('t1')})*{R('a_o2')}*(1-{R('a_o2')})*{R('a_h1')}"


def _w1_second_term_reads_t1(R, r, f):
    d1 = delta_o1(R)
    d2_with_t1 = f"({R('a_o2')}-{R('t1')})*{R('a_o2')}*(1-{R('a_o2')})"
    f["dE_dw1"] = f"({d1}*{R('w5')}+{d2_with_t1}*{R('w7')})*{R('a_h1')}*(1-{R('a_h1')})*{R('i1')}"


def _eta_typed(R, r, f):
    if r > 0:
        for w, g in zip(WEIGHTS, GRADS, strict=True):
            f[w] = f"{R(w, -1)}-0.5*{R(g, -1)}"


def _inputs_typed_in_h1(R, r, f):
    f["h1"] = f"{R('w1')}*0.05+{R('w2')}*0.1"


def _i1_typed_in_w1_gradient(R, r, f):
    f["dE_dw1"] = f["dE_dw1"].removesuffix(f"*{R('i1')}") + "*0.05"


def _w3_reads_a_h1_derivative(R, r, f):
    d1, d2 = delta_o1(R), delta_o2(R)
    f["dE_dw3"] = f"({d1}*{R('w6')}+{d2}*{R('w8')})*{R('a_h1')}*(1-{R('a_h1')})*{R('i1')}"


def _w2_reads_a_h2_derivative(R, r, f):
    d1, d2 = delta_o1(R), delta_o2(R)
    f["dE_dw2"] = f"({d1}*{R('w5')}+{d2}*{R('w7')})*{R('a_h2')}*(1-{R('a_h2')})*{R('i2')}"


def _w1_reads_w6_for_w7(R, r, f):
    d1, d2 = delta_o1(R), delta_o2(R)
    f["dE_dw1"] = f"({d1}*{R('w5')}+{d2}*{R('w6')})*{R('a_h1')}*(1-{R('a_h1')})*{R('i1')}"


def _w5_product_for_difference(R, r, f):
    f["dE_dw5"] = f"({R('a_o1')}*{R('t1')})*{R('a_o1')}*(1-{R('a_o1')})*{R('a_h1')}"


def _update_wrong_sign(R, r, f):
    if r > 0:
        for w, g in zip(WEIGHTS, GRADS, strict=True):
            f[w] = f"{R(w, -1)}+{R('eta')}*{R(g, -1)}"


def _w5_reads_row_above(R, r, f):
    if r > 0:
        f["dE_dw5"] = f"{delta_o1(R)}*{R('a_h1', -1)}"


DELTAS = ("delta_o1", "delta_o2", "delta_h1", "delta_h2")
ORDER_WITH_DELTAS = (*ORDER[:24], *DELTAS, *GRADS)  # δ columns between E_total and the gradients
DELTA_HEADERS = {"delta_o1": "δ_o1", "delta_o2": "δ_o2", "delta_h1": "δ_h1", "delta_h2": "δ_h2"}


def _deltas(R, r, f):
    """Right, through δ columns: the gradients read δ_o1 … δ_h2 (ORDER_WITH_DELTAS)."""
    f["delta_o1"], f["delta_o2"] = delta_o1(R), delta_o2(R)
    for h, (wa, wb) in (("h1", ("w5", "w7")), ("h2", ("w6", "w8"))):
        f[f"delta_{h}"] = f"({R('delta_o1')}*{R(wa)}+{R('delta_o2')}*{R(wb)})*{R(f'a_{h}')}*(1-{R(f'a_{h}')})"
    for k, (delta, source) in enumerate(
        [("delta_h1", "i1"), ("delta_h1", "i2"), ("delta_h2", "i1"), ("delta_h2", "i2")]
        + [("delta_o1", "a_h1"), ("delta_o1", "a_h2"), ("delta_o2", "a_h1"), ("delta_o2", "a_h2")],
        start=1,
    ):
        f[f"dE_dw{k}"] = f"{R(delta)}*{R(source)}"


def _delta_o2_reads_t1(R, r, f):
    f["delta_o2"] = f"({R('a_o2')}-{R('t1')})*{R('a_o2')}*(1-{R('a_o2')})"


def _excel_functions(R, r, f):
    """Right, spelled another way: EXP(x)/(1+EXP(x)), POWER, SUM, a leading minus."""
    for a, z in (("a_h1", "h1"), ("a_h2", "h2"), ("a_o1", "o1"), ("a_o2", "o2")):
        f[a] = f"EXP({R(z)})/(1+EXP({R(z)}))"
    f["E1"] = f"POWER({R('t1')}-{R('a_o1')},2)/2"
    f["E2"] = f"POWER({R('a_o2')}-{R('t2')},2)/2"
    f["E_total"] = f"SUM({R('E1')}:{R('E2')})"
    f["dE_dw5"] = f"-({R('t1')}-{R('a_o1')})*{R('a_o1')}*(1-{R('a_o1')})*{R('a_h1')}"


def _a_h1_parenthesis_missing(R, r, f):
    f["a_h1"] = f"1/1+EXP(-{R('h1')})"


def _w8_extra_factor(R, r, f):
    f["dE_dw8"] = f"{delta_o2(R)}*{R('a_h2')}*{R('w8')}"


def _w5_a_h1_anchored(R, r, f):
    """a_h1 read with its row anchored ($), as if dragged down from the first row: row 0's a_h1."""
    first = R("a_h1", -r)
    letters = first.rstrip("0123456789")
    f["dE_dw5"] = f"{delta_o1(R)}*{letters}${first[len(letters) :]}"


def _loss_without_half(R, r, f):
    f["E1"] = f"({R('t1')}-{R('a_o1')})^2"
    f["E2"] = f"({R('t2')}-{R('a_o2')})^2"
    for g in GRADS:
        f[g] = f"2*{f[g]}"


def _mistaken(*mistakes) -> Callable:
    def formulas(R, r):
        f = right_formulas(R, r)
        for mistake in mistakes:
            mistake(R, r, f)
        return f

    return formulas


def write_222(
    path,
    params: dict,
    *mistakes,
    headers: dict | None = None,
    inputs_as_cells: bool = False,
    values_only: bool = False,
    formula_rows: int | None = None,
    rows: int = ROWS,
    writer: str = "xlsxwriter",
    **book: dict,
) -> Where:
    """A 2-2-2 sheet in the classic column order; inputs as columns or as labelled cells above.

    `book` may give another column order, and passes the rest (eta_above, first_col, header_row,
    refs, names, other_sheets) on to write_table.
    """
    order, labelled = book.pop("order", ORDER), {}
    if inputs_as_cells:
        order = tuple(k for k in order if k not in ("i1", "i2", "t1", "t2"))
        labelled = {k: (k, params[k]) for k in ("i1", "i2", "t1", "t2")}
    return write_table(
        path,
        order,
        HEADERS | (headers or {}),
        params,
        _mistaken(*mistakes),
        givens=("t1", "t2", "i1", "i2"),
        labelled=labelled,
        rows=rows,
        values_only=values_only,
        formula_rows=formula_rows,
        writer=writer,
        **book,
    )


def write_biased(path, as_columns: bool) -> Where:
    """Mazur's sheet: h1 = w1·i1 + w2·i2 + b1, o1 = w5·a_h1 + w6·a_h2 + b2 (biases not trained)."""

    def formulas(R, r):
        f = right_formulas(R, r)
        for key, bias in (("h1", "b1"), ("h2", "b1"), ("o1", "b2"), ("o2", "b2")):
            f[key] += f"+{R(bias)}"
        return f

    params = EVA8 | MAZUR_BIASES
    if as_columns:
        order = (*ORDER[:9], "b1", *ORDER[9:17], "b2", *ORDER[17:])
        return write_table(
            path, order, HEADERS, params, formulas, givens=("t1", "t2", "i1", "i2", "b1", "b2")
        )
    labelled = {k: (k, v) for k, v in MAZUR_BIASES.items()}
    return write_table(
        path, ORDER, HEADERS, params, formulas, givens=("t1", "t2", "i1", "i2"), labelled=labelled
    )


def write_241(path, tanh_h4: bool = False) -> Where:
    """A 2-4-1 net: w1…w8 into h1…h4, w9…w12 into one output o1; E = ½(t1 − a_o1)².

    tanh_h4: h4 a tanh unit beside three sigmoids (its backward pass to match), a network no spec
    expresses (one activation per layer)."""
    hidden = range(1, 5)
    order = (
        "iteration",
        "i1",
        "i2",
        "t1",
        *(f"w{k}" for k in range(1, 9)),
        *(x for j in hidden for x in (f"h{j}", f"a_h{j}")),
        *(f"w{k}" for k in range(9, 13)),
        "o1",
        "a_o1",
        "E_total",
        *(f"dE_dw{k}" for k in range(1, 13)),
    )
    headers = {"iteration": "Iteration"} | {f"dE_dw{k}": f"∂E/∂w{k}" for k in range(1, 13)}
    first = dict(i1=0.05, i2=0.1, t1=0.5) | {f"w{k}": round(0.1 + 0.05 * k, 2) for k in range(1, 13)}

    def formulas(R, r):
        delta = f"({R('a_o1')}-{R('t1')})*{R('a_o1')}*(1-{R('a_o1')})"
        f = {"o1": "+".join(f"{R(f'w{8 + j}')}*{R(f'a_h{j}')}" for j in hidden)}
        f["a_o1"] = f"1/(1+EXP(-{R('o1')}))"
        f["E_total"] = f"0.5*({R('t1')}-{R('a_o1')})^2"
        for j in hidden:
            f[f"h{j}"] = f"{R(f'w{2 * j - 1}')}*{R('i1')}+{R(f'w{2 * j}')}*{R('i2')}"
            f[f"a_h{j}"] = f"1/(1+EXP(-{R(f'h{j}')}))"
            slope = f"{R(f'a_h{j}')}*(1-{R(f'a_h{j}')})"
            if tanh_h4 and j == 4:
                f[f"a_h{j}"] = f"TANH({R(f'h{j}')})"
                slope = f"(1-{R(f'a_h{j}')}^2)"
            f[f"dE_dw{8 + j}"] = f"{delta}*{R(f'a_h{j}')}"
            back = f"{delta}*{R(f'w{8 + j}')}*{slope}"
            f[f"dE_dw{2 * j - 1}"] = f"{back}*{R('i1')}"
            f[f"dE_dw{2 * j}"] = f"{back}*{R('i2')}"
        if r > 0:
            f.update({f"w{k}": f"{R(f'w{k}', -1)}-{R('eta')}*{R(f'dE_dw{k}', -1)}" for k in range(1, 13)})
        return f

    return write_table(path, order, headers, first, formulas, givens=("i1", "i2", "t1"))


def write_perceptron(path) -> Where:
    """One sigmoid neuron: a = σ(w1·i1 + w2·i2 + b), E = ½(t − a)², w1, w2 and b trained."""
    order = ("iteration", "i1", "i2", "t", "w1", "w2", "b", "z", "a", "E", "dE_dw1", "dE_dw2", "dE_db")
    headers = {"iteration": "Iteration", "dE_dw1": "∂E/∂w1", "dE_dw2": "∂E/∂w2", "dE_db": "∂E/∂b"}
    first = dict(i1=0.05, i2=0.1, t=0.5, w1=0.15, w2=0.2, b=0.35)

    def formulas(R, r):
        delta = f"({R('a')}-{R('t')})*{R('a')}*(1-{R('a')})"
        f = {
            "z": f"{R('w1')}*{R('i1')}+{R('w2')}*{R('i2')}+{R('b')}",
            "a": f"1/(1+EXP(-{R('z')}))",
            "E": f"0.5*({R('t')}-{R('a')})^2",
            "dE_dw1": f"{delta}*{R('i1')}",
            "dE_dw2": f"{delta}*{R('i2')}",
            "dE_db": delta,
        }
        if r > 0:
            f.update({k: f"{R(k, -1)}-{R('eta')}*{R(f'dE_d{k}', -1)}" for k in ("w1", "w2", "b")})
        return f

    return write_table(path, order, headers, first, formulas, givens=("i1", "i2", "t"))


def write_template(path, params: dict) -> Where:
    """An empty template: the header, and the first row's inputs and initial weights, nothing computed."""
    return write_222(path, params, formula_rows=0, rows=1)


# ---------------------------------------------------------------------------------------------
# The probes: file name -> (builder(path) -> Where, expectation)

VERIFIED, WRONG = "verified", "wrong"
RIGHT_ONLY, DIFFERENT, INCOMPLETE = "right_only_at_its_numbers", "different_network", "incomplete"
T1_T2 = (("t1",), ("t2",))
BIAS_WORDS = (("bias", "b1", "b2"),)


def _probes() -> dict:
    probes: dict[str, tuple[Callable, Expect]] = {}

    def add(name, build, expect):
        assert name not in probes, name
        probes[name] = (build, expect)

    # The ERA-V1 family (t1 = t2 = 0.5): masked mistakes, typed-in constants, values, templates.
    for prefix, params in (("era", ERA), ("eva8", EVA8)):
        add(f"{prefix}-right", lambda p, q=params: write_222(p, q), Expect(VERIFIED))
        add(
            f"{prefix}-E2-reads-t1",
            lambda p, q=params: write_222(p, q, _e2_reads_t1),
            Expect(WRONG, "E2", 0, T1_T2),
        )
        add(
            f"{prefix}-w7-reads-t1",
            lambda p, q=params: write_222(p, q, _w7_reads_t1),
            Expect(WRONG, "dE_dw7", 0, T1_T2),
        )
        add(
            f"{prefix}-w1-second-term-reads-t1",
            lambda p, q=params: write_222(p, q, _w1_second_term_reads_t1),
            Expect(WRONG, "dE_dw1", 0, T1_T2),
        )
    add(
        "era-eta-typed-in",
        lambda p: write_222(p, ERA, _eta_typed),
        Expect(
            RIGHT_ONLY, words=(("η", "eta"), ("0.5",)), range_rows=(1, ROWS - 1), unproven_kind="constant"
        ),
    )
    add(
        "era-h1-inputs-typed-in",
        lambda p: write_222(p, ERA, _inputs_typed_in_h1),
        Expect(
            RIGHT_ONLY,
            words=(("i1", "0.05"), ("i2", "0.1")),
            range_rows=(0, ROWS - 1),
            range_column="h1",
            unproven_kind="constant",
        ),
    )
    add(
        "era-pasted-values",
        lambda p: write_222(p, ERA, values_only=True),
        Expect(RIGHT_ONLY, words=(("value",),), unproven_kind="values"),
    )
    add(
        "era-w1-gradient-i1-typed-in",
        lambda p: write_222(p, ERA, _i1_typed_in_w1_gradient),
        Expect(
            RIGHT_ONLY,
            words=(("i1", "0.05"),),
            range_rows=(0, ROWS - 1),
            range_column="dE_dw1",
            unproven_kind="constant",
        ),
    )
    add(
        "era-cells-w7-reads-t1",
        lambda p: write_222(p, ERA, _w7_reads_t1, inputs_as_cells=True),
        Expect(WRONG, "dE_dw7", 0, T1_T2),
    )
    deltas = dict(order=ORDER_WITH_DELTAS, headers=DELTA_HEADERS)
    add("era-deltas-right", lambda p: write_222(p, ERA, _deltas, **deltas), Expect(VERIFIED))
    add(
        "era-deltas-delta_o2-reads-t1",
        lambda p: write_222(p, ERA, _deltas, _delta_o2_reads_t1, **deltas),
        Expect(WRONG, "delta_o2", 0, T1_T2),
    )
    shifted = dict(first_col=4, header_row=9)  # the table at D9, η still at A1:B1
    add("era-shifted-right", lambda p: write_222(p, ERA, **shifted), Expect(VERIFIED))
    add(
        "era-shifted-w1-second-term-reads-t1",
        lambda p: write_222(p, ERA, _w1_second_term_reads_t1, **shifted),
        Expect(WRONG, "dE_dw1", 0, T1_T2),
    )
    add("era-template", lambda p: write_template(p, ERA), Expect(INCOMPLETE))
    add("era-first-row-only", lambda p: write_222(p, ERA, rows=1), Expect(INCOMPLETE))

    # Written by openpyxl without saved values: judged only after LibreOffice recalculates them.
    add(
        "lo-era-right-excel-functions",
        lambda p: write_222(p, ERA, _excel_functions, writer="openpyxl"),
        Expect(VERIFIED),
    )
    add(
        "lo-era-w7-reads-t1",
        lambda p: write_222(p, ERA, _excel_functions, _w7_reads_t1, writer="openpyxl"),
        Expect(WRONG, "dE_dw7", 0, T1_T2),
    )
    add(
        "lo-era-eta-typed-in",
        lambda p: write_222(p, ERA, _eta_typed, writer="openpyxl"),
        Expect(
            RIGHT_ONLY, words=(("η", "eta"), ("0.5",)), range_rows=(1, ROWS - 1), unproven_kind="constant"
        ),
    )

    # Formulas that read η by a defined name or from another sheet, and t1/t2 by defined names.
    add(
        "lo-era-right-eta-by-name",
        lambda p: write_222(
            p, ERA, writer="openpyxl", refs={"eta": "lr"}, names={"lr": f"{OPENPYXL_SHEET}!$B$1"}
        ),
        Expect(VERIFIED),
    )
    add(
        "lo-era-right-eta-on-another-sheet",
        lambda p: write_222(
            p,
            ERA,
            writer="openpyxl",
            eta_above=False,
            refs={"eta": "Params!$B$1"},
            other_sheets={"Params": {(1, 1): "η", (1, 2): ETA}},
        ),
        Expect(VERIFIED),
    )
    targets = {"t1": "target_1", "t2": "target_2"}
    by_name = {"target_1": f"{OPENPYXL_SHEET}!$B$4", "target_2": f"{OPENPYXL_SHEET}!$B$5"}
    add(
        "lo-era-right-targets-by-name",
        lambda p: write_222(p, ERA, writer="openpyxl", inputs_as_cells=True, refs=targets, names=by_name),
        Expect(VERIFIED),
    )
    add(
        "lo-era-E2-reads-t1-by-name",
        lambda p: write_222(
            p, ERA, _e2_reads_t1, writer="openpyxl", inputs_as_cells=True, refs=targets, names=by_name
        ),
        Expect(WRONG, "E2", 0),
    )

    # Gradient headers as course sheets spell them; a w3 mistake must be found in ∂E/∂w3 itself.
    for name, spelling in GRADIENT_SPELLINGS.items():
        headers = {f"dE_dw{k}": spelling.format(k=k) for k in range(1, 9)}
        add(f"header-{name}-right", lambda p, h=headers: write_222(p, ERA, headers=h), Expect(VERIFIED))
        add(
            f"header-{name}-w3-mistake",
            lambda p, h=headers: write_222(p, ERA, _w3_reads_a_h1_derivative, headers=h),
            Expect(WRONG, "dE_dw3", 0, (("a_h1",), ("a_h2",))),
        )
    nonsense = {"dE_dw3": NONSENSE_HEADER}
    add(
        "header-nonsense-right",
        lambda p: write_222(p, ERA, headers=nonsense),
        Expect(VERIFIED, words=((NONSENSE_HEADER,),)),
    )
    several = {"a_h1": "col 11", "E_total": "col 24", "dE_dw3": NONSENSE_HEADER}
    add("header-nonsense-several-right", lambda p: write_222(p, ERA, headers=several), Expect(VERIFIED))
    add(
        "header-nonsense-E2-reads-t1",
        lambda p: write_222(p, ERA, _e2_reads_t1, headers={"E2": "col 23"}),
        Expect(WRONG, "E2", 0, T1_T2),
    )
    add(
        "header-nonsense-w3-mistake",
        lambda p: write_222(p, ERA, _w3_reads_a_h1_derivative, headers=nonsense),
        Expect(WRONG, "dE_dw3", 0, (("a_h1",), ("a_h2",))),
    )

    # Diagnoses derived from the formula; inputs as labelled cells ($B$2 …), t1 ≠ t2.
    def cells(*mistakes):
        return lambda p: write_222(p, EVA8, *mistakes, inputs_as_cells=True)

    add("diag-right", cells(), Expect(VERIFIED))
    add(
        "diag-w2-reads-a_h2",
        cells(_w2_reads_a_h2_derivative),
        Expect(WRONG, "dE_dw2", 0, (("a_h2",), ("a_h1",))),
    )
    add("diag-w1-reads-w6-for-w7", cells(_w1_reads_w6_for_w7), Expect(WRONG, "dE_dw1", 0, (("w6",), ("w7",))))
    add(
        "diag-w5-product-for-difference",
        cells(_w5_product_for_difference),
        Expect(WRONG, "dE_dw5", 0, (("a_o1",), ("t1",))),
    )
    add(
        "diag-w3-reads-a_h1-derivative",
        cells(_w3_reads_a_h1_derivative),
        Expect(WRONG, "dE_dw3", 0, (("a_h1",), ("a_h2",))),
    )
    add(
        "diag-a_h1-parenthesis-missing",
        cells(_a_h1_parenthesis_missing),
        Expect(WRONG, "a_h1", 0, (("parenthes", "bracket"),)),
    )
    add("diag-w8-extra-factor", cells(_w8_extra_factor), Expect(WRONG, "dE_dw8", 0, (("w8",),)))
    add("diag-w5-a_h1-anchored-row", cells(_w5_a_h1_anchored), Expect(WRONG, "dE_dw5", 1, (("row",),)))
    add(
        "diag-update-wrong-sign",
        cells(_update_wrong_sign),
        Expect(WRONG, "w1", 1, (("sign",),), wrong_columns=8),
    )
    add("diag-w5-reads-row-above", cells(_w5_reads_row_above), Expect(WRONG, "dE_dw5", 1, (("row",),)))

    # Other networks.
    add(
        "net-biases-as-cells",
        lambda p: write_biased(p, as_columns=False),
        Expect(DIFFERENT, words=BIAS_WORDS, also_verified=True),
    )
    add(
        "net-biases-as-columns",
        lambda p: write_biased(p, as_columns=True),
        Expect(DIFFERENT, words=BIAS_WORDS, also_verified=True),
    )
    # Other networks are read by what their cells compute (verify/read/computed_network.py) and
    # verified as such, the report naming the network it read.
    add("net-2-4-1", write_241, Expect(VERIFIED, words=(("2-4-1 sigmoid",), ("loss ½Σ(t−a)²",))))
    add(
        "net-perceptron",
        write_perceptron,
        Expect(VERIFIED, words=(("2-1 sigmoid, a bias per unit (trained)",),)),
    )
    add(
        "net-loss-without-half",
        lambda p: write_222(p, EVA8, _loss_without_half),
        Expect(VERIFIED, words=(("2-2-2 sigmoid, no biases",), ("loss Σ(t−a)² without ½",))),
    )
    return probes


PROBES = _probes()
LIBREOFFICE_ONLY = tuple(name for name in PROBES if name.startswith("lo-"))  # no saved values


def write_all(folder) -> dict:
    """Write every probe into `folder` as NAME.xlsx; return name -> Where."""
    return {name: build(folder / f"{name}.xlsx") for name, (build, _) in PROBES.items()}
