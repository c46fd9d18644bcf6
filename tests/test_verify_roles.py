"""A cell is what it computes before what its label or value says (issue 21): no false alarms on course books.

Each book (tests/role_books.py, tests/mazur_layout.py) is one class of real course workbook that
verify misjudged: the updated weight labelled with the weight's own name, η labelled with a
look-alike glyph (or not at all) where i2 has its value, inputs repeated on every row as constant
formulas, a Google Sheets export padded with empty rows, the t2 column headed "i2", a formula
missing its closing parenthesis. Each right book must be VERIFIED with a note saying how it was
read, each deliberately wrong variant still WRONG or RIGHT ONLY AT ITS NUMBERS where a careful
teacher would say so: reading by role must never hide a mistake.
"""

from __future__ import annotations

import mazur_layout
import openpyxl
import pytest
import role_books
from backprop_reference import matrix_train
from probe_books import (
    ERA,
    EVA8,
    GRADS,
    HEADERS,
    ORDER,
    WEIGHTS,
    _e2_reads_t1,
    _mistaken,
    write_222,
    write_table,
)

from sheetgen.core import xlsx
from sheetgen.office.recalc import recalculate
from sheetgen.verify import command as verify
from sheetgen.verify.report import verdicts as report


def _judge(path):
    book = xlsx.read_book(path)
    return verify.judge(path, book, book, "cached", 1e-9)


def _notes(result) -> str:
    return "\n".join(note for check in result.tables for note in check.notes)


# --- 1. Mazur's one-iteration-per-sheet layout, the updated weight labelled "w1" again --------------


@pytest.mark.parametrize(("label", "said"), [("{w}", "is labelled w1 but"), ("", "has no label but")])
def test_an_updated_weight_labelled_with_the_weights_own_name_is_the_updated_weight(tmp_path, label, said):
    path = tmp_path / "mazur-same-label.xlsx"
    where = mazur_layout.write(path, sheets=3, updated_label=label)
    result = _judge(path)
    assert result.verdict == report.VERIFIED, report.details(result)
    (check,) = result.tables
    assert check.rows == 3 and check.eta == 0.5
    sheet, cell = where[(0, "new_w1")]
    assert f"'{sheet}'!{cell} {said} computes w1 − η·∂E/∂w1" in _notes(result)


@pytest.mark.parametrize("retype", ["typed", "constant"])
def test_a_walkthrough_giving_each_sheet_its_inputs_again_is_verified(tmp_path, retype):
    """Each sheet types its inputs again, or writes them as =0.05: inputs, named by their own sheets."""
    path = tmp_path / "mazur-retyped.xlsx"
    where = mazur_layout.write(path, sheets=3, retype=retype)
    result = _judge(path)
    assert result.verdict == report.VERIFIED, report.details(result)
    first, last = (f"'{where[(n, 'i1')][0]}'!{where[(n, 'i1')][1]}" for n in (1, 2))
    if retype == "typed":
        assert f"i1 typed on every row, {first} … {last}" in _notes(result)
    else:
        assert f"i1 as =0.05 in {first} … {last}" in _notes(result)


def test_a_wrong_update_labelled_with_the_weights_own_name_is_still_wrong(soffice, tmp_path):
    path = tmp_path / "mazur-same-label-sign.xlsx"
    where = mazur_layout.write(path, sheets=2, updated_label="{w}")
    sheet, cell = where[(0, "new_w1")]
    book = openpyxl.load_workbook(path)
    book[sheet][cell] = book[sheet][cell].value.replace("-", "+", 1)  # w1 + η·∂E/∂w1
    book.save(path)
    (recalculated,) = recalculate([path], tmp_path / "out")
    result = verify.judge(path, xlsx.read_book(path), xlsx.read_book(recalculated), "libreoffice", 1e-9)
    assert result.verdict == report.WRONG, report.details(result)
    first = result.first_wrong
    assert (first.sheet, first.address) == (sheet, cell)
    assert "sign" in first.diagnosis
    assert first.expected == pytest.approx(0.149780716, abs=1e-9)  # Mazur's post: w1⁺ = 0.149780716


# --- 2. η labelled with a look-alike glyph, or not at all, where i2 has the same value ------------------


def test_eta_labelled_with_a_look_alike_glyph_is_eta(tmp_path):
    path = tmp_path / "eta-lookalike.xlsx"
    role_books.write_eta_labelled(path, "ɳ = ")  # U+0273 beside 0.1, and i2 = 0.1
    result = _judge(path)
    assert result.verdict == report.VERIFIED, report.details(result)
    assert result.tables[0].eta == 0.1 and "B1" in result.tables[0].eta_note


@pytest.mark.parametrize("label", ["step", "k ="])
def test_an_unlabelled_eta_sharing_i2s_value_is_read_by_its_role(tmp_path, label):
    path = tmp_path / "eta-unlabelled.xlsx"
    role_books.write_eta_labelled(path, label)
    result = _judge(path)
    assert result.verdict == report.VERIFIED, report.details(result)
    notes = _notes(result)
    assert "'Sheet1'!B1 holds 0.1, the value of both η and i2: read as η" in notes


def _h1_reads_the_eta_cell(R, r, f):
    f["h1"] = f"{R('w1')}*{R('i1')}+{R('w2')}*{R('eta')}"


@pytest.mark.parametrize(
    ("mistake", "column", "words"),
    [(_e2_reads_t1, "E2", ("t1", "t2")), (_h1_reads_the_eta_cell, "h1", ("i2",))],
)
def test_a_reading_by_role_never_hides_a_mistake(tmp_path, mistake, column, words):
    """η = i2 = 0.1 and B1 unlabelled: E2 reading t1 is still wrong, and so is h1 reading η's cell as i2."""
    path = tmp_path / "eta-unlabelled-wrong.xlsx"
    where = write_table(
        path,
        ORDER,
        HEADERS,
        EVA8,
        _mistaken(mistake),
        givens=role_books.INPUT_KEYS,
        labelled={"eta": ("step", 0.1)},
        eta_above=False,
    )
    result = _judge(path)
    assert result.verdict == report.WRONG, report.details(result)
    first = result.first_wrong
    assert first.address == where.cell(column, 0)
    assert all(word in first.diagnosis for word in words)
    truth = matrix_train(EVA8, 0.1, 1)
    assert first.expected == pytest.approx(float(truth[0][column]), rel=1e-12)


def _updates_reading(eta_ref: str):
    def formulas(R, r):
        f = _mistaken()(R, r)
        if r > 0:
            f.update(
                {
                    w: f"{R(w, -1)}-{eta_ref or R('t1')}*{R(g, -1)}"
                    for w, g in zip(WEIGHTS, GRADS, strict=True)
                }
            )
        return f

    return formulas


@pytest.mark.parametrize(("eta_ref", "verdict"), [("0.5", report.VERIFIED), ("", report.WRONG)])
def test_a_labelled_input_holding_etas_value_is_its_label_when_formulas_read_it_so(
    tmp_path, eta_ref, verdict
):
    """No η cell, t1 = η = 0.5 in a cell labelled t1: η typed into the updates is η (VERIFIED, no
    note on t1's cell); the updates reading t1's cell as η, which E1 reads as t1, are WRONG."""
    path = tmp_path / "t1-cell.xlsx"
    order = tuple(k for k in ORDER if k not in role_books.INPUT_KEYS)
    labelled = {k: (k, ERA[k]) for k in role_books.INPUT_KEYS}
    where = write_table(
        path,
        order,
        HEADERS,
        ERA,
        _updates_reading(eta_ref),
        givens=(),
        labelled=labelled,
        eta_above=False,
        refs={"eta": "0.5"},
    )
    result = _judge(path)
    assert result.verdict == verdict, report.details(result)
    if verdict == report.WRONG:
        first = result.first_wrong
        assert first.address == where.cell("w1", 1) and "η" in first.diagnosis
        assert "uses t1 ('Sheet1'!B3) in place of η" in first.diagnosis  # named by its label too
        truth = matrix_train(ERA, 0.5, 1)
        assert first.expected == pytest.approx(float(truth[1]["w1"]), rel=1e-12)
    else:
        assert "read as" not in _notes(result)


# --- 3. inputs repeated on every row, typed or as constant formulas ---------------------------------


@pytest.mark.parametrize("typed", [False, True])
def test_inputs_repeated_on_every_row_are_inputs(tmp_path, typed):
    path = tmp_path / "inputs.xlsx"
    role_books.write_inputs_on_every_row(path, typed=typed, constant_weights=not typed)
    result = _judge(path)
    assert result.verdict == report.VERIFIED, report.details(result)
    notes = _notes(result)
    if typed:
        assert "t1 typed on every row" in notes
    else:
        assert "t1 as =0.5 in 'Sheet1'!B5:B10" in notes and "w1 as =0.15 in 'Sheet1'!F5" in notes
    # The constant formulas are the inputs a perturbed recalculation changes.
    cells = result.tables[0].input_cells
    assert cells.get(("Sheet1", 7, 2)) == "t1"


def test_a_computed_cell_typed_as_a_number_is_right_only_at_its_numbers_whatever_the_inputs(tmp_path):
    """h1 of the first row typed as 0.0275, in a book whose inputs are constant formulas and which a
    Google Sheets export padded with empty rows: the typed h1 is named."""
    path = tmp_path / "h1-typed.xlsx"
    value = ERA["w1"] * ERA["i1"] + ERA["w2"] * ERA["i2"]

    def formulas(R, r):
        f = _mistaken()(R, r)
        f.update({k: repr(float(ERA[k])) for k in role_books.INPUT_KEYS})
        return f

    def edit(cells, where):
        cells[(where.first_row, role_books._column(where, "h1"))] = round(value, 12)

    where = write_table(path, ORDER, HEADERS, ERA, formulas, givens=(), edit=edit)
    role_books.pad_with_empty_rows(path, 400)
    result = _judge(path)
    assert result.verdict == report.RIGHT_ONLY, report.details(result)
    (unproven,) = result.tables[0].unproven
    assert unproven.kind == "values" and unproven.cells == where.cell("h1", 0)


def test_a_computed_cell_typed_as_a_number_is_named(tmp_path):
    path = tmp_path / "h1-typed.xlsx"
    where, value = role_books.write_h1_typed_in_first_row(path)
    assert value == pytest.approx(0.0275)
    result = _judge(path)
    assert result.verdict == report.RIGHT_ONLY, report.details(result)
    assert where.cell("h1", 0) in report.details(result)[0]


# --- 4. a Google Sheets export: empty rows after the last cell --------------------------------------


@pytest.mark.parametrize("count", [300, 5_000])
def test_empty_rows_after_the_last_cell_cost_a_row_each(tmp_path, count):
    path = tmp_path / "padded.xlsx"
    write_222(path, ERA)
    role_books.pad_with_empty_rows(path, count)
    result = _judge(path)
    assert result.verdict == report.VERIFIED, report.details(result)


# --- 5. a column under another input's label ------------------------------------------------------


@pytest.mark.parametrize("params", [EVA8, ERA], ids=["eva8", "era"])
def test_the_column_E2_reads_as_its_target_is_t2_whatever_its_header(tmp_path, params):
    path = tmp_path / "t2-headed-i2.xlsx"
    where = role_books.write_t2_headed_i2(path, params)
    result = _judge(path)
    assert result.verdict == report.VERIFIED, report.details(result)
    (check,) = result.tables
    letter = where.letters["t2"]
    assert check.table.columns["t2"] == role_books._column(where, "t2")
    assert check.table.columns["i2"] == role_books._column(where, "i2")
    note = f"column {letter} is headed 'i2', but the formulas reading it use it as t2: read as t2"
    assert note in _notes(result)


@pytest.mark.parametrize(
    "headers",
    [{"t2": "i1"}, {"t2": "t1"}, {"i1": "t2"}, {"t2": "i2", "i2": "t2"}],
    ids=["t2-headed-i1", "t2-headed-t1", "i1-headed-t2", "i2-t2-swapped"],
)
def test_input_columns_are_what_the_formulas_read_them_as(tmp_path, headers):
    """Input columns headed with another input's label (shared, or swapped between two columns)."""
    path = tmp_path / "mislabelled.xlsx"
    where = write_222(path, EVA8, headers=headers)
    result = _judge(path)
    assert result.verdict == report.VERIFIED, report.details(result)
    columns = result.tables[0].table.columns
    assert all(columns[key] == role_books._column(where, key) for key in role_books.INPUT_KEYS)
    for key, header in headers.items():
        note = (
            f"column {where.letters[key]} is headed {header!r}, but the formulas reading it use it as {key}"
        )
        assert note in _notes(result)
    wrong = tmp_path / "mislabelled-wrong.xlsx"
    where = write_222(wrong, EVA8, _e2_reads_t1, headers=headers)
    result = _judge(wrong)
    assert result.verdict == report.WRONG and result.first_wrong.address == where.cell("E2", 0)
    assert "t1" in result.first_wrong.diagnosis and "t2" in result.first_wrong.diagnosis


def test_a_t2_column_headed_i2_beside_a_labelled_i2_cell_is_t2(tmp_path):
    """i1, i2 as labelled cells, t1 and t2 as columns, the t2 column headed "i2": t2 by its role."""
    path = tmp_path / "cells-t2-headed-i2.xlsx"
    order = tuple(k for k in ORDER if k not in ("i1", "i2"))
    labelled = {k: (k, EVA8[k]) for k in ("i1", "i2")}
    headers = HEADERS | {"t2": "i2"}
    where = write_table(path, order, headers, EVA8, _mistaken(), givens=("t1", "t2"), labelled=labelled)
    result = _judge(path)
    assert result.verdict == report.VERIFIED, report.details(result)
    assert result.tables[0].table.columns["t2"] == role_books._column(where, "t2")
    assert f"column {where.letters['t2']} is headed 'i2'" in _notes(result)
    wrong = tmp_path / "cells-t2-headed-i2-wrong.xlsx"
    where = write_table(
        wrong, order, headers, EVA8, _mistaken(_e2_reads_t1), givens=("t1", "t2"), labelled=labelled
    )
    result = _judge(wrong)
    assert result.verdict == report.WRONG and result.first_wrong.address == where.cell("E2", 0)


def test_a_mistake_in_a_book_with_the_t2_column_headed_i2_is_still_found(tmp_path):
    path = tmp_path / "t2-headed-i2-wrong.xlsx"
    where = write_222(path, EVA8, _e2_reads_t1, headers={"t2": "i2"})
    result = _judge(path)
    assert result.verdict == report.WRONG, report.details(result)
    assert result.first_wrong.address == where.cell("E2", 0)
    truth = matrix_train(EVA8, 0.5, 1)
    assert result.first_wrong.expected == pytest.approx(float(truth[0]["E2"]), rel=1e-12)


# --- issue 22: a formula missing its closing parenthesis -----------------------------------------


def test_a_formula_lacking_its_closing_parenthesis_is_read_closed_with_a_note(tmp_path):
    path = tmp_path / "unbalanced.xlsx"
    where = write_222(path, ERA)
    cell = where.cell("a_h1", 2)
    text = role_books.drop_closing_parenthesis(path, cell)
    result = _judge(path)
    assert result.verdict == report.VERIFIED, report.details(result)
    assert f"'Sheet1'!{cell}'s formula {text} lacks its closing parenthesis" in _notes(result)


def test_libreoffice_agrees_on_padded_and_unclosed_books(soffice, tmp_path):
    """The same books recalculated by LibreOffice: it reads the padded rows and closes the formula."""
    padded, unbalanced = tmp_path / "padded.xlsx", tmp_path / "unbalanced.xlsx"
    write_222(padded, ERA)
    role_books.pad_with_empty_rows(padded, 300)
    where = write_222(unbalanced, ERA)
    role_books.drop_closing_parenthesis(unbalanced, where.cell("a_h1", 2))
    books = (padded, unbalanced)
    for path, recalculated in zip(books, recalculate(list(books), tmp_path / "out"), strict=True):
        result = verify.judge(path, xlsx.read_book(path), xlsx.read_book(recalculated), "libreoffice", 1e-9)
        assert result.verdict == report.VERIFIED, report.details(result)
