"""The formula proof's parts, without a spreadsheet engine: worlds, forms, identification, fixes.

Books come from tests/handmade_books.py (formulas typed out by hand, independent of sheetgen's
column table); only formulas are read here, so no saved values are needed.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import xlsxwriter
from handmade_books import ERA, EVA8, LAYOUTS, write_handmade

from sheetgen.core import formula, oracle, xlsx
from sheetgen.verify.prove import fixes, proof, worlds
from sheetgen.verify.prove.identify import identify_columns
from sheetgen.verify.read import labelled_network, tables

ROWS = 5


def _prove(path, eta=0.5):
    book = xlsx.read_book(path)
    (table,) = tables.find_all(book)
    table.rows = list(range(table.header_row + 1, table.header_row + 1 + ROWS))  # no saved values
    reader, prover, result = proof.start(book, table, tables.header_cells([table]), identify_columns)
    return proof.finish(reader, prover, result, eta), reader, prover


def _form(reader, text: str, names: dict):
    """A form typed as a formula over A1, B1, ... with each cell named as a quantity variable."""
    return formula.transform(
        formula.parse(text),
        lambda n: formula.Var(names[formula.to_text(n)]) if isinstance(n, formula.Ref) else None,
    )


def test_a_world_follows_training_from_row_to_row():
    """Row 0's weights are the row above's minus η times its gradients, as the oracle computes them."""
    world = worlds.world(False, absent=("b1", "b2"))
    values = world.values
    above = {n: values[f"{n}@-1"] for n in (*oracle.INPUTS, *oracle.WEIGHTS)}
    truth = oracle.evaluate(**above)
    for w in oracle.WEIGHTS:
        np.testing.assert_allclose(
            values[f"{w}@0"], above[w] - values["η"] * truth[f"dE_d{w}"], rtol=1e-15, err_msg=w
        )
    assert len({float(values[f"{k}@0"][0]) for k in oracle.INPUTS}) == 4  # every input its own value
    assert np.all(values["b1@0"] == 0)  # a network without biases holds them at 0


def test_a_right_book_is_proven_in_a_few_forms(tmp_path):
    write_handmade(tmp_path / "ok.xlsx", LAYOUTS["classic"], ERA, 0.5, ROWS)
    result, _, _ = _prove(tmp_path / "ok.xlsx")
    assert not result.failures and not result.unproven and not result.unmapped
    # 19 computed columns in every row, 8 updates and 4 inputs read from the row above after the first
    assert result.proven_cells == 19 * ROWS + 12 * (ROWS - 1)
    assert result.forms <= 2 * 31


def test_a_mistake_masked_by_t1_equal_t2_fails_the_proof(tmp_path):
    write_handmade(tmp_path / "bad.xlsx", LAYOUTS["classic"], ERA, 0.5, ROWS, "E2-from-a_o1")
    result, reader, prover = _prove(tmp_path / "bad.xlsx")
    (failure,) = result.failures
    assert failure.key == "E2" and failure.index == 0
    point = failure.outcome.point
    world = reader.world(True)
    j = failure.outcome.world_index
    a_o1, a_o2 = world.values["a_o1@0"][j], world.values["a_o2@0"][j]
    assert failure.outcome.computed == pytest.approx(0.5 * (point["t2"] - a_o1) ** 2, rel=1e-12)
    assert failure.outcome.expected == pytest.approx(0.5 * (point["t2"] - a_o2) ** 2, rel=1e-12)
    words = fixes.smallest_fix(prover, failure.form, "E2", True, reader.table)
    assert words == "uses out_o1 in place of out_o2"


def test_eta_typed_in_is_right_only_at_its_numbers(tmp_path):
    layout = dataclasses.replace(LAYOUTS["classic"], eta_literal=True)  # η cell present, formulas use 0.5
    write_handmade(tmp_path / "eta.xlsx", layout, ERA, 0.5, ROWS)
    result, _, _ = _prove(tmp_path / "eta.xlsx")
    assert not result.failures
    (typed,) = result.unproven
    assert typed.kind == "constant" and typed.quantity == "η" and typed.constant == 0.5
    assert typed.cells == f"F7:Q{6 + ROWS - 1}"  # w1..w8 of every row after the first
    assert "editing η changes nothing" in typed.message


def test_without_an_eta_cell_the_typed_eta_is_the_sheets_eta(tmp_path):
    write_handmade(tmp_path / "no-eta.xlsx", LAYOUTS["no-eta"], EVA8, 0.5, ROWS)
    result, _, _ = _prove(tmp_path / "no-eta.xlsx")
    assert not result.failures and not result.unproven


def test_an_unknown_header_is_identified_by_its_formula(tmp_path):
    labels = dict(LAYOUTS["classic"].labels, dE_dw3="col 27", E_total="total?")
    layout = dataclasses.replace(LAYOUTS["classic"], labels=labels)
    write_handmade(tmp_path / "unknown.xlsx", layout, EVA8, 0.5, ROWS)
    result, _, _ = _prove(tmp_path / "unknown.xlsx")
    assert ("col 27", "AA", "∂E/∂w3") in result.identified
    assert ("total?", "X", "E_total") in result.identified
    assert not result.failures and not result.unmapped


@pytest.mark.parametrize(
    ("text", "names", "key", "words"),
    [
        (
            "(A1-B1)*A1*(1-A1)*C1",
            {"A1": "a_o2@0", "B1": "t1@0", "C1": "a_h1@0"},
            "dE_dw7",
            "uses t1 in place of t2",
        ),
        ("(A1*B1)*A1*(1-A1)*C1", {"A1": "a_o1@0", "B1": "t1@0", "C1": "a_h1@0"}, "dE_dw5", "where"),
        (
            "A1*B1+C1*D1",
            {"A1": "w5@0", "B1": "a_h1@0", "C1": "w7@0", "D1": "a_h2@0"},
            "o1",
            "uses w7 in place of w6",
        ),
        ("A1+B1*C1", {"A1": "w1@-1", "B1": "η", "C1": "dE_dw1@-1"}, "w1", "wrong sign"),
        ("(A1-B1)*C1", {"A1": "a_o1@0", "B1": "t1@0", "C1": "a_h2@0"}, "dE_dw6", "missing the factor"),
        ("(A1-B1)^2", {"A1": "t1@0", "B1": "a_o1@0"}, "E1", "½"),
    ],
)
def test_the_smallest_fix_is_named(tmp_path, text, names, key, words):
    write_handmade(tmp_path / "ok.xlsx", LAYOUTS["classic"], EVA8, 0.5, ROWS)
    _, reader, prover = _prove(tmp_path / "ok.xlsx")
    first = not any(name.endswith("@-1") for name in names.values())
    tree = _form(reader, text, names)
    assert not prover.holds(tree, key, first)
    found = fixes.smallest_fix(prover, tree, key, first)
    assert found is not None and words in found, found


@pytest.mark.parametrize(
    ("labels", "words"),
    [
        (
            ["w1", "w2", "w9", "w12", "h1", "h3", "h4", "a_o1", "E_total", "t1"],
            ("4 hidden units", "12 weights"),
        ),
        (["i1", "i2", "t", "w1", "w2", "b", "z", "a", "E"], ("perceptron", "biases (b)")),
        (["i1", "t1", "t2", "w1", "w8", "b1", "b2", "h1", "h2", "o2"], ("biases (b1, b2)",)),
    ],
)
def test_another_network_is_named_by_its_labels(tmp_path, labels, words):
    path = tmp_path / "net.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    for c, text in enumerate(labels):
        sheet.write_string(0, c, text)
    book.close()
    said = labelled_network.difference(xlsx.read_book(path))
    assert said and all(w in said for w in words), said


def test_the_course_network_is_no_different(tmp_path):
    path = tmp_path / "ok.xlsx"
    write_handmade(path, LAYOUTS["classic"], EVA8, 0.5, ROWS)
    assert labelled_network.difference(xlsx.read_book(path)) is None


@pytest.mark.parametrize(
    ("text", "key"),
    [("E∂w1", "dE_dw1"), ("E\U0001d74fw3", "dE_dw3"), ("Edw8", "dE_dw8"), ("dw2", "dE_dw2"), ("dw9", None)],
)
def test_gradient_shorthands_in_course_sheets(text, key):
    assert tables.lookup(text) == key


def test_a_formula_the_proof_cannot_read_is_checked_by_libreoffice_at_other_inputs(tmp_path, soffice):
    """SUMXMY2 is unknown to the proof: LibreOffice recalculates a copy with other inputs instead."""
    from probe_books import write_222

    from sheetgen.verify import command
    from sheetgen.verify.report import verdicts as report

    def right(R, r, f):
        f["E2"] = f"SUMXMY2({R('t2')},{R('a_o2')})/2"

    def masked(R, r, f):  # t1 for t2: right at t1 = t2 = 0.5 only
        f["E2"] = f"SUMXMY2({R('t1')},{R('a_o2')})/2"

    books = [tmp_path / "right.xlsx", tmp_path / "masked.xlsx"]
    for path, mistake in zip(books, (right, masked), strict=True):
        write_222(path, ERA, mistake, writer="openpyxl")
    ok, bad = command.verify_books(books, "libreoffice", 1e-9)
    assert ok.verdict == report.VERIFIED, report.details(ok)
    assert "checked by LibreOffice with other inputs" in ok.tables[0].notes[0]
    assert bad.verdict == report.WRONG, report.details(bad)
    assert bad.first_wrong.key == "E2" and "t1 in place of t2" in bad.first_wrong.diagnosis


def test_shared_formulas_are_read_from_their_block(tmp_path):
    """Excel stores a filled column as one shared formula: its cells take the block's one form."""
    from sheetgen.core.cells import CellFormulas

    write_handmade(tmp_path / "bad.xlsx", LAYOUTS["classic"], ERA, 0.5, ROWS, "E2-from-a_o1")
    book = xlsx.read_book(tmp_path / "bad.xlsx")
    sheet = book.sheets[0]
    col = 23  # E2 (W)
    first = 6
    shared = CellFormulas()
    for (row, c), text in sheet.formulas.items():
        if c == col and row > first:
            shared.add(row, c, "0", shared=True)  # only the block's first cell carries the text
        else:
            shared.add(row, c, text)
    shared.finish()
    sheet.formulas, sheet.shared = shared, {"0": (sheet.formula(first, col), (first, col))}
    (table,) = tables.find_all(book)
    table.rows = list(range(first, first + ROWS))
    reader, prover, result = proof.start(book, table, tables.header_cells([table]), identify_columns)
    result = proof.finish(reader, prover, result, 0.5)
    (failure,) = result.failures
    assert failure.key == "E2" and failure.index == 0
    assert result.proven_cells == 19 * ROWS + 12 * (ROWS - 1) - ROWS  # every E2 cell fails
    assert reader.form(first + 3, col) is reader.form(first + 1, col)  # one form for the block


@pytest.mark.parametrize("masked", [False, True])
def test_a_delta_column_is_identified_and_proven(tmp_path, masked):
    """δ_o2 in a column of its own, read by the gradients: identified by use, proven, its mistake found."""
    from probe_books import HEADERS, ORDER, right_formulas, write_table

    from sheetgen.verify import command
    from sheetgen.verify.report import verdicts as report

    def formulas(R, r):
        f = right_formulas(R, r)
        t = "t1" if masked else "t2"  # t1 for t2: right at t1 = t2 only
        f["d_o2"] = f"({R('a_o2')}-{R(t)})*{R('a_o2')}*(1-{R('a_o2')})"
        f["dE_dw7"] = f"{R('d_o2')}*{R('a_h1')}"
        f["dE_dw8"] = f"{R('d_o2')}*{R('a_h2')}"
        return f

    path = tmp_path / "delta.xlsx"
    write_table(
        path, (*ORDER, "d_o2"), HEADERS | {"d_o2": "δo2"}, ERA, formulas, givens=("t1", "t2", "i1", "i2")
    )
    (result,) = command.verify_books([path], "cached", 1e-9)
    assert ("δo2", "AG", "δ_o2") in result.tables[0].identified
    if not masked:
        assert result.verdict == report.VERIFIED, report.details(result)
        return
    assert result.verdict == report.WRONG
    finding = result.first_wrong
    assert (finding.address, finding.label) == ("AG5", "δo2")
    assert "t1 in place of t2" in finding.diagnosis and "at the sheet's numbers both are" in finding.diagnosis
    d_o2 = lambda t, a: (a - t) * a * (1 - a)  # noqa: E731
    truth = oracle.train(ERA, 0.5, 0)
    assert finding.expected == pytest.approx(d_o2(ERA["t2"], truth["a_o2"][0]), rel=1e-12)


def test_each_typed_literal_is_read_on_its_own(tmp_path):
    """½(0.5 − a_o1)² with t1 = 0.5: one 0.5 is the ½, the other t1 typed in."""
    from probe_books import write_222

    from sheetgen.verify import command
    from sheetgen.verify.report import verdicts as report

    def t1_typed(R, r, f):
        f["E1"] = f"0.5*(0.5-{R('a_o1')})^2"

    write_222(tmp_path / "t1.xlsx", ERA, t1_typed)
    (result,) = command.verify_books([tmp_path / "t1.xlsx"], "cached", 1e-9)
    assert result.verdict == report.RIGHT_ONLY, report.details(result)
    (typed,) = result.tables[0].unproven
    assert (typed.kind, typed.quantity, typed.constant) == ("constant", "t1", 0.5)
    assert typed.cells == "V5:V10"


def test_without_libreoffice_a_formula_the_proof_cannot_read_stays_not_proven(tmp_path):
    """An unknown function with the cached engine: the values are right, the formula is not proven."""
    from probe_books import write_222

    from sheetgen.verify import command
    from sheetgen.verify.report import verdicts as report

    path = tmp_path / "unknown.xlsx"
    write_222(path, ERA)  # right values saved; E_total's formula is then wrapped in an unknown function
    book = xlsx.read_book(path)
    (table,) = tables.find_all(book)
    sheet = book.sheet(table.sheet)
    col = table.columns["E_total"]
    for row in table.rows:  # the formula text as a book with an add-in function would hold it
        sheet.formulas.add(row, col, f"MYFUNC({sheet.formula(row, col)})")
    sheet.formulas.finish()
    result = command.judge(path, book, book, "cached", 1e-9)
    assert result.verdict == report.RIGHT_ONLY, report.details(result)
    (unproven,) = result.tables[0].unproven
    assert unproven.kind == "unproven" and "MYFUNC" in unproven.message
