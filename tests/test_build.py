"""The built workbook, read back with openpyxl: layout, formulas, cached values, charts, print setup."""

from __future__ import annotations

import re
import zipfile

import openpyxl
import pytest
from backprop_reference import agree, matrix_train, torch_train, train_scales
from formula_eval import evaluate, references
from openpyxl.utils import get_column_letter

from sheetgen import __version__
from sheetgen.build.params import PARAM_KEYS, load_template
from sheetgen.build.writer import write_workbook
from sheetgen.core.columns import COLUMNS

LRS = [0.1, 0.2, 0.5, 0.8, 1.0, 2.0]
ITERATIONS = 100
SHEETS = ["Summary", "Inputs", "LR 0.1", "LR 0.2", "LR 0.5", "LR 0.8", "LR 1", "LR 2", "Equations"]
LABELS = [c.label for c in COLUMNS]


@pytest.fixture(scope="module")
def book_path(tmp_path_factory):
    _, params = load_template("era-v1")
    path = tmp_path_factory.mktemp("book") / "BackProp.xlsx"
    write_workbook(path, params, LRS, ITERATIONS, template_name="era-v1")
    return path


@pytest.fixture(scope="module")
def formulas(book_path):
    return openpyxl.load_workbook(book_path)


@pytest.fixture(scope="module")
def cached(book_path):
    return openpyxl.load_workbook(book_path, data_only=True)


def _header_row(sheet) -> int:
    """The row whose cells are exactly the column labels (found by content, as the verifier does)."""
    for row in sheet.iter_rows(max_row=20):
        if [c.value for c in row[: len(LABELS)]] == LABELS:
            return row[0].row
    raise AssertionError(f"no header row on {sheet.title}")


def _eta_cell(sheet):
    for row in sheet.iter_rows(max_row=10):
        for cell in row:
            if cell.value == "η":
                return sheet.cell(cell.row, cell.column + 1)
    raise AssertionError(f"no η label on {sheet.title}")


def _inputs(sheet) -> dict[str, tuple[float, str]]:
    """label -> (value, absolute reference) of the Inputs sheet's labelled block."""
    found = {}
    for row in sheet.iter_rows(max_col=2):
        if row[0].value in PARAM_KEYS:
            found[row[0].value] = (row[1].value, f"Inputs!${row[1].column_letter}${row[1].row}")
    return found


def test_sheet_names_order_and_the_book_opens_on_summary(formulas):
    assert formulas.sheetnames == SHEETS
    assert formulas.active.title == "Summary"


def test_workbook_properties_name_the_generator_template_and_rates(formulas):
    props = formulas.properties
    assert props.creator == "backprop-lab sheetgen"
    assert props.title and props.subject
    assert "era-v1" in props.description and "0.1, 0.2, 0.5, 0.8, 1, 2" in props.description
    custom = {p.name: p.value for p in formulas.custom_doc_props.props}
    assert custom["generator"] == f"sheetgen {__version__}"


def test_inputs_block_holds_the_template(formulas):
    _, params = load_template("era-v1")
    block = _inputs(formulas["Inputs"])
    assert {key: value for key, (value, _) in block.items()} == params


@pytest.mark.parametrize("eta", LRS)
def test_lr_sheet_layout(formulas, eta):
    sheet = formulas[f"LR {eta:g}"]
    assert _eta_cell(sheet).value == eta
    header = _header_row(sheet)
    assert sheet.max_row == header + ITERATIONS + 1
    assert [sheet.cell(header + 1 + n, 1).value for n in range(ITERATIONS + 1)] == list(range(ITERATIONS + 1))
    assert sheet.freeze_panes == f"B{header + 1}"
    assert sheet.page_setup.orientation == "landscape"
    assert sheet.print_title_rows == f"${header}:${header}"
    assert sheet.sheet_properties.pageSetUpPr.fitToPage and sheet.page_setup.fitToHeight == 0


@pytest.mark.parametrize("eta", LRS)
def test_every_computed_cell_is_a_formula_with_the_right_references(formulas, eta):
    sheet = formulas[f"LR {eta:g}"]
    name, header = sheet.title, _header_row(sheet)
    eta_ref = (name, _eta_cell(sheet).row, _eta_cell(sheet).column)
    inputs = {ref: key for key, (_, ref) in _inputs(formulas["Inputs"]).items()}
    col = {c.key: k + 1 for k, c in enumerate(COLUMNS)}
    for n in range(ITERATIONS + 1):
        r = header + 1 + n
        for column in COLUMNS[1:]:
            formula = sheet.cell(r, col[column.key]).value
            assert isinstance(formula, str) and formula.startswith("="), (r, column.label, formula)
            refs = references(formula, name)
            # References to this sheet stay in this row or (weights after the first row) the row above.
            for where, row, _ in refs:
                if where == name and (where, row, _) != eta_ref:
                    assert row in (r, r - 1), (r, column.label, formula)
            if column.key in ("t1", "t2", "i1", "i2"):
                assert inputs[formula[1:]] == column.key
    # Spot checks in the course's terms.
    w1, dw1 = get_column_letter(col["w1"]), get_column_letter(col["dE_dw1"])
    eta_abs = f"${get_column_letter(eta_ref[2])}${eta_ref[1]}"
    first = header + 1
    assert inputs[sheet.cell(first, col["w1"]).value[1:]] == "w1"
    assert inputs[sheet.cell(first, col["w8"]).value[1:]] == "w8"
    for k in (1, 57, ITERATIONS):
        above = first + k - 1
        assert sheet.cell(first + k, col["w1"]).value == f"={w1}{above}-{eta_abs}*{dw1}{above}"
    assert "EXP(" in sheet.cell(first + 3, col["a_h1"]).value


@pytest.mark.parametrize("eta", LRS)
def test_cached_values_equal_independent_gradient_descent(cached, eta):
    _, params = load_template("era-v1")
    sheet = cached[f"LR {eta:g}"]
    header = _header_row(sheet)
    by_matrix = matrix_train(params, eta, ITERATIONS)
    by_torch = torch_train(params, eta, ITERATIONS)
    scales = train_scales(by_matrix, eta)
    for n in range(ITERATIONS + 1):
        values = {c.key: sheet.cell(header + 1 + n, k + 1).value for k, c in enumerate(COLUMNS)}
        for key, expected in by_matrix[n].items():
            assert agree(values[key], expected, scales[n][key]), (n, key, values[key], expected)
        for key, expected in by_torch[n].items():
            assert agree(values[key], expected, scales[n][key]), (n, key, values[key], expected)


@pytest.mark.parametrize("eta", [0.1, 2.0])
def test_each_formula_computes_its_cached_value(formulas, cached, eta):
    """Evaluate every formula from the cached values of the cells it reads: checks formulas, not cache."""
    name = f"LR {eta:g}"
    sheet, values = formulas[name], cached[name]
    header = _header_row(sheet)

    def value_of(where, row, column):
        return cached[where].cell(row, column).value

    # math.exp here, numpy's exp in the cache: they may differ in the last bit, which cancellation magnifies.
    scales = train_scales(matrix_train(load_template("era-v1")[1], eta, ITERATIONS), eta)
    for row in sheet.iter_rows(min_row=header + 1, min_col=2):
        for cell in row:
            own = values.cell(cell.row, cell.column).value
            scale = scales[cell.row - header - 1][COLUMNS[cell.column - 1].key]
            assert agree(evaluate(cell.value, name, value_of), own, scale), cell.coordinate


def test_editing_an_initial_weight_moves_every_sheet(formulas):
    """Recompute the whole book from its formulas after w1 changes, as a spreadsheet would, and check it."""
    _, params = load_template("era-v1")
    edited = {**params, "w1": -0.7}
    computed: dict[tuple[str, int, int], float] = {}
    for key, (_, ref) in _inputs(formulas["Inputs"]).items():
        sheet_name, cell = ref.split("!")
        c = formulas[sheet_name][cell.replace("$", "")]
        computed[(sheet_name, c.row, c.column)] = edited[key]

    def value_of(where, row, column):
        if (where, row, column) not in computed:
            computed[(where, row, column)] = formulas[where].cell(row, column).value  # η, a plain number
        return computed[(where, row, column)]

    for eta in LRS:
        name = f"LR {eta:g}"
        sheet = formulas[name]
        header = _header_row(sheet)
        for row in sheet.iter_rows(min_row=header + 1, min_col=2):  # row by row, left to right
            for cell in row:
                computed[(name, cell.row, cell.column)] = evaluate(cell.value, name, value_of)
        e_col = LABELS.index("E_total") + 1
        expected_rows = matrix_train(edited, eta, ITERATIONS)
        for n, (expected, scales) in enumerate(
            zip(expected_rows, train_scales(expected_rows, eta), strict=True)
        ):
            assert agree(computed[(name, header + 1 + n, e_col)], expected["E_total"], scales["E_total"])
            assert agree(computed[(name, header + 1 + n, 6)], expected["w1"], scales["w1"])


def test_summary_reads_every_lr_sheets_e_total(formulas, cached):
    summary, summary_values = formulas["Summary"], cached["Summary"]
    header = next(r[0].row for r in summary.iter_rows(max_row=20) if r[0].value == "Iteration")
    labels = [c.value for c in summary_values[header]][: len(LRS) + 1]
    assert labels == ["Iteration"] + [f"η = {eta:g}" for eta in LRS]
    # The labels (and so the chart legends) read each sheet's η cell, so they follow an edit of η.
    for k, eta in enumerate(LRS, start=2):
        eta_cell = _eta_cell(formulas[f"LR {eta:g}"])
        assert references(summary.cell(header, k).value, "Summary") == [
            (f"LR {eta:g}", eta_cell.row, eta_cell.column)
        ]
    assert summary.freeze_panes == f"B{header + 1}"
    e_col = LABELS.index("E_total") + 1
    for k, eta in enumerate(LRS, start=2):
        name = f"LR {eta:g}"
        lr_header = _header_row(formulas[name])
        for n in range(ITERATIONS + 1):
            formula = summary.cell(header + 1 + n, k).value
            assert references(formula, "Summary") == [(name, lr_header + 1 + n, e_col)]
            value = summary_values.cell(header + 1 + n, k).value
            assert value == cached[name].cell(lr_header + 1 + n, e_col).value


def test_charts_one_per_lr_sheet_and_two_on_the_summary(book_path):
    with zipfile.ZipFile(book_path) as z:
        names = sorted(z.namelist(), key=lambda n: [int(d) for d in re.findall(r"\d+", n)])
        charts = [z.read(n).decode() for n in names if re.fullmatch(r"xl/charts/chart\d+\.xml", n)]
        media = [n for n in z.namelist() if n.startswith("xl/media/")]
    assert len(charts) == len(LRS) + 2
    log_charts = [c for c in charts if '<c:logBase val="10"/>' in c]
    assert len(log_charts) == 1
    assert log_charts[0].count("<c:ser>") == len(LRS)
    assert sum(c.count("<c:ser>") == len(LRS) for c in charts) == 2  # the linear and the log view
    for chart in charts:
        assert chart.count("<c:title>") >= 3, "chart title and both axis titles"
        assert "<c:scatterChart>" in chart
        # Cached points, for viewers that draw charts without recalculating: x and y of every series.
        assert chart.count(f'<c:ptCount val="{ITERATIONS + 1}"/>') == 2 * chart.count("<c:ser>")
    lr_charts = [c for c in charts if c.count("<c:ser>") == 1]
    assert [re.search(r"E_total against iteration, η = ([^<]+)<", c).group(1) for c in lr_charts] == [
        f"{eta:g}" for eta in LRS
    ]
    assert media == ["xl/media/image1.png"]  # the network diagram


def test_equations_sheet_derives_in_the_course_order(formulas):
    text = "\n".join(str(c.value) for row in formulas["Equations"].iter_rows() for c in row if c.value)
    order = [
        "Notation",
        "Forward pass",
        "∂E_total/∂w5 =",
        "∂E_total/∂w8 =",
        "∂E_total/∂a_h1 =",
        "∂E_total/∂a_h2 =",
        "∂E_total/∂w1 =",
        "∂E_total/∂w4 =",
        "Update rule",
        "w ← w − η · ∂E_total/∂w",
    ]
    positions = [text.find(marker) for marker in order]
    assert -1 not in positions and positions == sorted(positions), dict(zip(order, positions, strict=True))
    assert "∂E_total/∂w3 = ∂E_total/∂a_h2 · a_h2·(1 − a_h2) · i1" in text


def test_log_chart_has_whole_decades_even_when_a_curve_reaches_zero(tmp_path):
    """With η = 8 the era-v1 loss reaches exactly 0, where LibreOffice's automatic log axis draws nothing."""
    _, params = load_template("era-v1")
    path = tmp_path / "steep.xlsx"
    write_workbook(path, params, [0.5, 8.0], 200)
    with zipfile.ZipFile(path) as z:
        charts = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/charts/chart")]
    log_chart = next(c for c in charts if "<c:logBase" in c)
    scaling = re.search(r"<c:scaling><c:logBase.*?</c:scaling>", log_chart).group(0)
    low = float(re.search(r'<c:min val="([^"]+)"/>', scaling).group(1))
    high = float(re.search(r'<c:max val="([^"]+)"/>', scaling).group(1))
    assert low == 1e-20 and high == 0.1


@pytest.mark.parametrize("in_memory_max_rows", [0, 10**6], ids=["streamed", "in memory"])
def test_formula_scan_shortcut_writes_what_xlsxwriter_writes(tmp_path, monkeypatch, in_memory_max_rows):
    """Scanning formulas once per column must give the sheets xlsxwriter writes by itself, byte for byte."""
    from xlsxwriter.worksheet import Worksheet

    from sheetgen.build import writer

    _, params = load_template("eva8")
    monkeypatch.setattr(writer, "IN_MEMORY_MAX_ROWS", in_memory_max_rows)
    fast, plain = tmp_path / "fast.xlsx", tmp_path / "plain.xlsx"
    write_workbook(fast, params, [0.3, 3.0], 40)
    monkeypatch.setattr(writer._TableSheet, "_prepare_formula", Worksheet._prepare_formula)
    write_workbook(plain, params, [0.3, 3.0], 40)
    with zipfile.ZipFile(fast) as a, zipfile.ZipFile(plain) as b:
        sheets = [n for n in a.namelist() if n.startswith("xl/worksheets/sheet")]
        assert len(sheets) == 5
        for name in sheets:
            assert a.read(name) == b.read(name), name
