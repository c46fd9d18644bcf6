"""The live-formula workbook: Summary, Inputs, one `LR <eta>` sheet per learning rate, Equations.

Every computed cell is a formula rendered from sheetgen.columns.COLUMNS and carries the
oracle's value as its cached result, so the book is live in Excel and LibreOffice and
still shows the right numbers in viewers that never recalculate.

Sheet order: Summary first, and the book opens on it, because the loss-vs-learning-rate
chart is what the workbook is for; Inputs comes next because it is the one sheet a user
edits; then the LR sheets in the order given; Equations last, as the reference.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name, xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from sheetgen import __version__
from sheetgen.build.derivation import write_spec_equations
from sheetgen.build.equations import write_equations_sheet
from sheetgen.build.exercise import EXERCISE_SHEET, Blanks, write_exercise_sheet
from sheetgen.build.inputs import InputsLayout, write_inputs
from sheetgen.build.styles import Styles, print_setup
from sheetgen.build.worked import WorkedStep
from sheetgen.core import oracle
from sheetgen.core.columns import Column, render, spec_columns
from sheetgen.core.errors import UserError
from sheetgen.core.layout import EQUATIONS_SHEET, SUMMARY_SHEET, eta_label, lr_sheet_name
from sheetgen.core.spec import NetworkSpec

GENERATOR = f"sheetgen {__version__}"

# LR sheets: title in A1, the η label and value in A2:B2, the table's header on row 5.
ETA_ROW, ETA_COL = 1, 1
TABLE_HEADER_ROW = 4
# Summary: the same header row as the LR sheets, so row k of one is row k of the other.
SUMMARY_HEADER_ROW = 4

# Up to this many table rows a book is built in memory (~20 kB a row), above it streamed to disk.
IN_MEMORY_MAX_ROWS = 5_000

# Excel's EXP() fails (#NUM!) above this argument; numpy would quietly return inf.
_EXP_LIMIT = 709.0


def train_all(spec: NetworkSpec, params: dict, lrs: list[float], iterations: int) -> list[dict]:
    """The oracle's table for each learning rate; refuses a run a spreadsheet could not compute."""
    tables = []
    units = [(layer.activation, u) for layer in spec.layers for u in layer.units]
    for eta in lrs:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            table = oracle.train_spec(spec, params, eta, iterations)
        finite = all(np.isfinite(v).all() for v in table.values())
        # The largest argument each EXP() gets: −net for the sigmoid, +net for the softmax.
        exponents = [
            (-1 if kind == "sigmoid" else 1) * table[k]
            for kind, u in units
            if kind in ("sigmoid", "softmax")
            for k in table
            if k == u or k.startswith(u + "_s")
        ]
        if not finite or (exponents and np.concatenate(exponents).max() > _EXP_LIMIT):
            raise UserError(
                f"with η = {eta:g} the network's sums leave the range a spreadsheet can compute "
                f"(EXP() of more than {_EXP_LIMIT:g}, or the logarithm of 0): use smaller inputs, weights or "
                "learning rate"
            )
        tables.append(table)
    return tables


class _TableSheet(Worksheet):
    """A worksheet that scans the tables' formulas once per column instead of once per cell.

    xlsxwriter runs ~30 regular expressions on every formula to add `_xlfn.` prefixes to
    functions newer than Excel 2007, most of the build time. The table's formulas differ
    only in row numbers, so `trust(patterns)` runs the scan once per column pattern, checks
    it changes nothing, and then lets cells through unscanned. (Should a future xlsxwriter
    rename the hook, the override is simply never called and the build is only slower.)
    """

    _trusted = False

    def trust(self, patterns) -> None:
        for pattern in patterns:
            sample = pattern.format(r="2", p="1")
            if super()._prepare_formula(sample) != sample.removeprefix("="):
                raise AssertionError(f"formula pattern needs xlsxwriter's rewriting: {pattern}")
        self._trusted = True

    def _prepare_formula(self, formula, expand_future_functions=False):
        if self._trusted:
            return formula.removeprefix("=")
        return super()._prepare_formula(formula, expand_future_functions)


def _row_formats(
    columns: tuple[Column, ...], eta_ref: str, layout: InputsLayout
) -> tuple[list[str | None], list[str | None]]:
    """Each column's formula as a str.format pattern of {r} (this row) and {p} (the row above).

    Rendering the templates once per sheet, not once per cell, keeps large books fast.
    """
    letters = {c.key: xl_col_to_name(i) for i, c in enumerate(columns)}

    def resolve(kind, key):
        if key == "eta":
            return eta_ref
        if kind == "param":
            return layout.ref(key)
        if kind == "table":
            return layout.column_range(key)
        return f"{letters[key]}{{{'p' if kind == 'prev' else 'r'}}}"

    first = [None if c.formula is None else "=" + render(c.formula, resolve) for c in columns]
    later = [
        None if c.formula is None else "=" + render(c.next_formula or c.formula, resolve) for c in columns
    ]
    return first, later


def _write_lr_heading(
    sheet, styles, name: str, eta: float, eta_ref: str, chart_col: int, spec: NetworkSpec
) -> None:
    """Title, the η cell and a link to the chart; the title reads the η cell, so it follows an edit."""
    label = eta_label(eta)
    sheet.write_formula(
        0,
        0,
        f'="E_total against iteration, η = "&{eta_ref}',
        styles.title,
        f"E_total against iteration, η = {label}",
    )
    sheet.write_string(ETA_ROW, ETA_COL - 1, "η", styles.label)
    sheet.write_number(ETA_ROW, ETA_COL, eta, styles.eta)
    names = ", ".join(spec.bias_names)
    biases_note = {
        "fixed": f" The biases {names} stay as on the Inputs sheet.",
        "trained": f" The biases {names} are updated the same way: b − η · ∂E/∂b.",
    }.get(spec.biases, "")
    data = (
        ", ".join(spec.inputs + spec.targets)
        if spec.samples is None
        else "the samples ("
        + ("every one in each row" if spec.batch == "full" else "one per row, in turn")
        + ")"
    )
    sheet.write_string(
        ETA_ROW,
        ETA_COL + 1,
        f"Each row's weights = the row above's weights − η · its ∂E/∂w; "
        f"{data} and the first weights come from the Inputs sheet." + biases_note,
        styles.note,
    )
    sheet.write_url(
        2,
        0,
        f"internal:'{name}'!{xl_rowcol_to_cell(TABLE_HEADER_ROW, chart_col)}",
        styles.link,
        string=f"Chart of E_total against iteration: column {xl_col_to_name(chart_col)} →",
    )


def _write_lr_table(
    sheet, styles, columns, eta_ref: str, values, iterations: int, layout: InputsLayout, blank
) -> None:
    """The header and one row of formulas per iteration, each carrying the oracle's value."""
    for col, column in enumerate(columns):
        sheet.write_string(TABLE_HEADER_ROW, col, column.label, styles.header)
    first, later = _row_formats(columns, eta_ref, layout)
    formats = [styles.number_format(c.number_format) for c in columns]
    write_formula, write_number = sheet.write_formula, sheet.write_number
    computed = [col for col, column in enumerate(columns) if column.formula is not None]
    sheet.trust([pattern for pattern in first + later if pattern is not None])
    for n in range(iterations + 1):
        row = TABLE_HEADER_ROW + 1 + n
        write_number(row, 0, n, styles.iteration)  # the Iteration column comes first in every variant
        patterns = first if n == 0 else later
        r, p = str(row + 1), str(row)  # Excel row numbers of this row and the one above
        if blank:  # the student's copy: some columns left empty under their headers
            for col in computed:
                if blank.blank(columns[col].key, n == 0):
                    sheet.write_blank(row, col, None, formats[col])
                else:
                    write_formula(row, col, patterns[col].format(r=r, p=p), formats[col], values[col][n])
            continue
        for col in computed:
            write_formula(row, col, patterns[col].format(r=r, p=p), formats[col], values[col][n])


def _lr_chart(book, name: str, eta: float, losses: list[float], iterations: int, e_col: int):
    """E_total against iteration; the title reads the sheet's title cell, which follows η."""
    label = eta_label(eta)
    last_row = TABLE_HEADER_ROW + 1 + iterations
    chart = book.add_chart({"type": "scatter", "subtype": "straight"})
    # *_data: the charts' cached points (constant_memory mode cannot read them back from the sheet),
    # so that viewers which never recalculate still draw the curves.
    chart.add_series(
        {
            "name": f"η = {label}",
            "categories": [name, TABLE_HEADER_ROW + 1, 0, last_row, 0],
            "values": [name, TABLE_HEADER_ROW + 1, e_col, last_row, e_col],
            "categories_data": list(range(iterations + 1)),
            "values_data": losses,
            "line": {"width": 2, "color": "#1F4E79"},
            "marker": {"type": "none"},
        }
    )
    chart.set_title({"name": [name, 0, 0], "data": [f"E_total against iteration, η = {label}"]})
    chart.set_x_axis(
        {"name": "Iteration", "min": 0, "max": iterations, "major_gridlines": {"visible": False}}
    )
    chart.set_y_axis({"name": "E_total", "num_format": "0.0000", "major_gridlines": {"visible": True}})
    chart.set_legend({"none": True})
    chart.set_size({"width": 720, "height": 400})
    return chart


def _write_lr_sheet(
    book, styles, columns, eta: float, table: dict, iterations: int, layout: InputsLayout, blank
):
    name = lr_sheet_name(eta)
    sheet = book.add_worksheet(name, worksheet_class=_TableSheet)
    n_cols = len(columns)
    chart_col = n_cols + 1
    eta_ref = xl_rowcol_to_cell(ETA_ROW, ETA_COL, row_abs=True, col_abs=True)
    values = [table[c.key].tolist() for c in columns]
    e_col = _index(columns, "E_total")
    _write_lr_heading(sheet, styles, name, eta, eta_ref, chart_col, layout.spec)
    _write_lr_table(sheet, styles, columns, eta_ref, values, iterations, layout, blank)
    sheet.freeze_panes(TABLE_HEADER_ROW + 1, 1)
    sheet.set_column(0, 0, 9)
    sheet.set_column(1, n_cols - 1, 13)
    chart = _lr_chart(book, name, eta, values[e_col], iterations, e_col)
    sheet.insert_chart(xl_rowcol_to_cell(TABLE_HEADER_ROW, chart_col), chart)
    print_setup(sheet, TABLE_HEADER_ROW)
    # Print the table alone: with the chart beside it, fitting to one page wide would shrink it further.
    sheet.print_area(0, 0, TABLE_HEADER_ROW + 1 + iterations, n_cols - 1)


def _log_axis_range(tables) -> dict:
    """Whole decades around the E_total curves, for the log-scale chart.

    Set explicitly because a curve that reaches exactly 0 (large η, the targets hit to the
    last bit) leaves LibreOffice's automatic log axis empty. Below 1e-20 there is nothing
    left to see, so the axis stops there.
    """
    values = np.concatenate([table["E_total"] for table in tables])
    positive = values[values > 0]
    low = max(float(positive.min()), 1e-20) if positive.size else 1e-20
    high = max(float(values.max()), low * 10)
    return {"min": 10.0 ** math.floor(math.log10(low)), "max": 10.0 ** math.ceil(math.log10(high))}


def _index(columns: tuple[Column, ...], key: str) -> int:
    return next(i for i, c in enumerate(columns) if c.key == key)


def _write_summary_table(sheet, styles, lrs, losses, iterations, e_col: int) -> None:
    """One E_total column per learning rate, each cell a reference to its LR sheet's E_total."""
    e_letter = xl_col_to_name(e_col)
    # The LR sheets' tables start on the same row, so row k here reads row k there.
    patterns = [f"='{lr_sheet_name(eta)}'!{e_letter}{{r}}" for eta in lrs]
    sheet.trust(patterns)
    # Row by row: the book is written in constant-memory mode, which flushes each finished row.
    sheet.write_string(SUMMARY_HEADER_ROW, 0, "Iteration", styles.header)
    eta_cell = xl_rowcol_to_cell(ETA_ROW, ETA_COL, row_abs=True, col_abs=True)
    for col, eta in enumerate(lrs, start=1):
        sheet.write_formula(
            SUMMARY_HEADER_ROW,
            col,
            f"=\"η = \"&'{lr_sheet_name(eta)}'!{eta_cell}",
            styles.header,
            f"η = {eta_label(eta)}",
        )
    for n in range(iterations + 1):
        row = SUMMARY_HEADER_ROW + 1 + n
        sheet.write_number(row, 0, n, styles.iteration)
        r = str(row + 1)
        for col, (pattern, values) in enumerate(zip(patterns, losses, strict=True), start=1):
            sheet.write_formula(row, col, pattern.format(r=r), styles.number, values[n])


def _summary_charts(book, lrs, losses, iterations, tables):
    """The loss curves of every learning rate, on a linear and on a log scale."""
    first_row, last_row = SUMMARY_HEADER_ROW + 1, SUMMARY_HEADER_ROW + 1 + iterations
    linear = book.add_chart({"type": "scatter", "subtype": "straight"})
    log = book.add_chart({"type": "scatter", "subtype": "straight"})
    for col, (eta, values) in enumerate(zip(lrs, losses, strict=True), start=1):
        series = {  # with the cached points, as on the LR sheets
            "name": [SUMMARY_SHEET, SUMMARY_HEADER_ROW, col],
            "categories": [SUMMARY_SHEET, first_row, 0, last_row, 0],
            "values": [SUMMARY_SHEET, first_row, col, last_row, col],
            "name_data": [f"η = {eta_label(eta)}"],
            "categories_data": list(range(iterations + 1)),
            "values_data": values,
            "line": {"width": 2},
            "marker": {"type": "none"},
        }
        linear.add_series(series)
        log.add_series(series)
    x_axis = {"name": "Iteration", "min": 0, "max": iterations, "major_gridlines": {"visible": False}}
    linear.set_title({"name": "Loss against iteration for each learning rate"})
    linear.set_x_axis(x_axis)
    linear.set_y_axis({"name": "E_total", "num_format": "0.000", "major_gridlines": {"visible": True}})
    log.set_title({"name": "The same, log scale"})
    log.set_x_axis(x_axis)
    log.set_y_axis(
        {
            "name": "E_total (log scale)",
            "log_base": 10,
            "num_format": "0.0E+0",
            "major_gridlines": {"visible": True},
            **_log_axis_range(tables),
        }
    )
    for chart in (linear, log):
        chart.set_legend({"position": "right"})
        chart.set_size({"width": 760, "height": 420})
    return linear, log


def _write_biases_line(sheet, styles, params: dict, layout: InputsLayout) -> None:
    """The network's biases, read live from the Inputs sheet (nothing when it has none).

    Numbers in cells of their own, not joined into a text: an engine prints a number in text its own way.
    """
    spec = layout.spec
    if spec.biases == "none":
        return
    how = "held fixed" if spec.biases == "fixed" else "initial values, trained on each LR sheet"
    sheet.write_string(2, 0, f"Biases ({how}), from the Inputs sheet:", styles.note)
    for col, key in enumerate(spec.bias_names):
        sheet.write_string(2, 3 + 2 * col, f"{key} into {', '.join(spec.bias_units(key))}:", styles.label)
        sheet.write_formula(2, 4 + 2 * col, f"={layout.ref(key)}", styles.number, params[key])


def _summary_widths(n_lrs: int, spec) -> dict[int, float]:
    """Column widths of the Summary: the η columns, widened where the biases line needs room for its
    labels and numbers (else a 1-LR book, or a bias per unit, shows ### and labels run over each other)."""
    widths = {col: 13.0 for col in range(1, n_lrs + 1)}
    if spec.biases != "none":
        for k, key in enumerate(spec.bias_names):
            label = f"{key} into {', '.join(spec.bias_units(key))}:"
            widths[3 + 2 * k] = max(widths.get(3 + 2 * k, 0.0), len(label) + 2.0)
            widths[4 + 2 * k] = max(widths.get(4 + 2 * k, 0.0), 13.0)
    return widths


def _write_summary(book, styles, lrs, tables, iterations, template_name, e_col: int, params, layout):
    sheet = book.add_worksheet(SUMMARY_SHEET, worksheet_class=_TableSheet)
    sheet.write_string(0, 0, "E_total against iteration for every learning rate", styles.title)
    sheet.write_string(
        1,
        0,
        f"Template {template_name}; each column reads the E_total column of its LR "
        "sheet. Edit the Inputs sheet and everything here follows.",
        styles.note,
    )
    _write_biases_line(sheet, styles, params, layout)
    losses = [table["E_total"].tolist() for table in tables]
    _write_summary_table(sheet, styles, lrs, losses, iterations, e_col)
    linear, log = _summary_charts(book, lrs, losses, iterations, tables)
    chart_col = len(lrs) + 2
    sheet.insert_chart(SUMMARY_HEADER_ROW, chart_col, linear)
    sheet.insert_chart(SUMMARY_HEADER_ROW + 22, chart_col, log)
    sheet.freeze_panes(SUMMARY_HEADER_ROW + 1, 1)
    sheet.set_column(0, 0, 9)
    for col, width in _summary_widths(len(lrs), layout.spec).items():
        sheet.set_column(col, col, width)
    print_setup(sheet, SUMMARY_HEADER_ROW)
    sheet.activate()


def write_workbook(
    path: str | Path,
    params: dict,
    lrs: list[float],
    iterations: int,
    *,
    template_name: str = "custom",
    biases: str = "none",
    spec: NetworkSpec | None = None,
    drawn: str | None = None,
    blank: Blanks | None = None,
) -> None:
    """Write the workbook to `path` (directly: wrap in errors.atomic_output for a safe replace).

    spec: the network (default: the course's 2-2-2 network with `biases`, "none", "fixed" or
    "trained"); params: its initial values (spec.initial_values: i1.., t1.. without samples, the
    weights, and the biases, 0 if absent); lrs: learning rates, one sheet each, in this order;
    iterations: weight updates (rows 0..iterations); drawn: how the initial weights were drawn, noted
    on the Inputs sheet; blank: the columns the student's copy leaves empty (build.exercise). The
    writer trains the network itself (train_all), so the cached values are always the oracle's for
    exactly these inputs.
    """
    spec = spec or NetworkSpec(biases=biases)
    biases = spec.biases
    columns = spec_columns(spec)
    layout = InputsLayout(spec, drawn)
    params = {
        key: float(params.get(key, 0.0) if key in spec.bias_names else params[key])
        for key in spec.initial_values
    }
    tables = train_all(spec, params, lrs, iterations)
    # Small books are assembled in memory (no temporary files: fastest); big ones stream each
    # finished row to disk (constant_memory), so memory stays flat. Sheets are written row by
    # row, as constant_memory requires, in both cases.
    small = len(lrs) * (iterations + 1) <= IN_MEMORY_MAX_ROWS
    book = xlsxwriter.Workbook(
        str(path),
        {
            "in_memory": small,
            "constant_memory": not small,
            "strings_to_numbers": False,
            "strings_to_formulas": False,
            "strings_to_urls": False,
        },
    )
    styles = Styles(book)
    lr_text = ", ".join(eta_label(eta) for eta in lrs)
    network = "2-2-2 sigmoid network" if spec.is_course() else f"network {spec.describe()}"
    book.set_properties(
        {
            "title": "Backpropagation, step by step",
            "subject": f"{network} trained by gradient descent, {iterations} "
            f"iteration{'' if iterations == 1 else 's'}, learning rates {lr_text}",
            "author": "backprop-lab sheetgen",
            "comments": f"template: {template_name}; lr list: {lr_text}; iterations: {iterations}; "
            f"biases: {biases}",
            "keywords": "backpropagation, gradient descent, chain rule",
        }
    )
    book.set_custom_property("generator", GENERATOR)
    book.set_custom_property("biases", biases)  # the network variant, so a reader knows the column set
    book.set_custom_property("network", spec.recorded())  # the whole spec: verify reads the book by it
    # Sheets are created in display order; the Summary reads the LR sheets by name.
    exercise = book.add_worksheet(EXERCISE_SHEET) if blank else None
    if blank:
        book.set_custom_property("exercise", "columns left empty for the student: see the Exercise sheet")
    e_col = _index(columns, "E_total")
    _write_summary(book, styles, lrs, tables, iterations, template_name, e_col, params, layout)
    write_inputs(book, styles, layout, params, template_name, lrs, iterations)
    for eta, table in zip(lrs, tables, strict=True):
        _write_lr_sheet(book, styles, columns, eta, table, iterations, layout, blank)
    eta_cell = xl_rowcol_to_cell(ETA_ROW, ETA_COL, row_abs=True, col_abs=True)
    sheet = book.add_worksheet(EQUATIONS_SHEET)
    answers = not blank  # the columns' formulas would give the exercise away
    if spec.is_course():
        worked = WorkedStep(columns, lrs, tables, TABLE_HEADER_ROW + 1, eta_cell, biases)
        write_equations_sheet(book, sheet, styles, columns, worked, biases, answers=answers)
    else:
        write_spec_equations(
            book, sheet, styles, spec, columns, lrs, tables, TABLE_HEADER_ROW + 1, answers=answers
        )
    if exercise is not None:
        sheets = [lr_sheet_name(eta) for eta in lrs]
        write_exercise_sheet(exercise, styles, spec, columns, blank, sheets, TABLE_HEADER_ROW + 1)
    book.close()
