"""A second engine: built books recalculated by Gnumeric (and, after an edit, by LibreOffice too)
equal the oracle, for the course's network and for Mazur's with fixed and trained biases.

Gnumeric shares no code with LibreOffice: "opens right" is shown by two independent engines.
The recalculated files are read with openpyxl (data_only), which computes nothing itself.
"""

from __future__ import annotations

import warnings

import numpy as np
import openpyxl
import pytest

from sheetgen.build.params import read_template
from sheetgen.build.writer import write_workbook
from sheetgen.core import oracle
from sheetgen.core.columns import columns_for
from sheetgen.core.layout import SUMMARY_SHEET, lr_sheet_name
from sheetgen.core.tolerance import close
from sheetgen.office import gnumeric
from sheetgen.office.recalc import recalculate as libreoffice_recalculate

TOL = 1e-12  # Gnumeric 1.12.55 measured within 2e-15 of the oracle; the floor covers cancelled sums
ITERATIONS = 12
BOOKS = {  # name -> (template, bias mode, learning rates)
    "default": ("era-v1", "none", [0.1, 0.5, 2.0]),
    "mazur": ("mazur", "fixed", [0.5, 1.0]),
    "mazur-trained": ("mazur", "trained", [0.5]),
}


def _load(path) -> openpyxl.Workbook:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Workbook contains no default style": Gnumeric's styles, harmless
        return openpyxl.load_workbook(path, data_only=True)


def _header_row(sheet) -> int:
    return next(row for row in sheet.iter_rows(max_col=1) if row[0].value == "Iteration")[0].row


def _table(sheet, biases: str) -> dict[str, np.ndarray]:
    """The LR sheet's table as arrays keyed like the oracle, found by its header labels."""
    by_label = {c.label: c.key for c in columns_for(biases)}
    header = _header_row(sheet)
    columns = {by_label[cell.value]: cell.column for cell in sheet[header] if cell.value in by_label}
    assert set(columns) == set(by_label.values()), "the header lacks some of the variant's columns"
    values = {key: [] for key in columns}
    for row in sheet.iter_rows(min_row=header + 1):
        if row[0].value is None:
            break
        for key, col in columns.items():
            values[key].append(row[col - 1].value)
    return {key: np.array(v, dtype=np.float64) for key, v in values.items()}


def _assert_book_equals_oracle(path, params: dict, biases: str, lrs: list[float]) -> float:
    """Every cell of every LR table and of the Summary equals the oracle; returns the worst relative error."""
    book = _load(path)
    worst = 0.0
    for index, eta in enumerate(lrs, start=1):
        expected = oracle.train(params, eta, ITERATIONS, biases)
        found = _table(book[lr_sheet_name(eta)], biases)
        for key, column in found.items():
            assert len(column) == ITERATIONS + 1
            assert close(column, expected[key], TOL).all(), (eta, key, column, expected[key])
            worst = max(
                worst, float(np.max(np.abs(column - expected[key]) / np.maximum(np.abs(expected[key]), 1e-3)))
            )
        summary = [
            row[index].value for row in book[SUMMARY_SHEET].iter_rows(min_row=6, max_row=6 + ITERATIONS)
        ]
        assert close(np.array(summary, dtype=np.float64), expected["E_total"], TOL).all()
    return worst


def _build(path, name: str) -> tuple[dict, str, list[float]]:
    template, biases, lrs = BOOKS[name]
    params = read_template(template).params
    write_workbook(path, params, lrs, ITERATIONS, template_name=template, biases=biases)
    return params, biases, lrs


@pytest.mark.parametrize("name", list(BOOKS))
def test_gnumeric_recalculates_the_built_book_to_the_oracle(ssconvert, tmp_path, name):
    params, biases, lrs = _build(tmp_path / "built.xlsx", name)
    recalculated = gnumeric.recalculate(tmp_path / "built.xlsx", tmp_path / "gnumeric.xlsx")
    assert _assert_book_equals_oracle(recalculated, params, biases, lrs) < TOL


def _edit_inputs(source, target, edits: dict) -> None:
    """Type new values into the Inputs sheet (the cell right of each label), as a student would."""
    book = openpyxl.load_workbook(source)
    inputs = book["Inputs"]
    labels = {cell.value: cell for row in inputs.iter_rows(max_col=1) for cell in row if cell.value}
    for key, value in edits.items():
        inputs.cell(labels[key].row, labels[key].column + 1).value = value
    book.save(target)  # openpyxl keeps the formulas and drops every cached value: nothing stale survives


@pytest.mark.parametrize("name", ["default", "mazur"])
def test_both_engines_follow_an_edited_input(ssconvert, soffice, tmp_path, name):
    params, biases, lrs = _build(tmp_path / "built.xlsx", name)
    edits = {"w1": -0.35, "i2": 0.8, "t1": 0.05} | ({"b1": -0.2, "b2": 1.1} if biases != "none" else {})
    _edit_inputs(tmp_path / "built.xlsx", tmp_path / "edited.xlsx", edits)
    edited = params | edits
    by_gnumeric = gnumeric.recalculate(tmp_path / "edited.xlsx", tmp_path / "gnumeric.xlsx")
    (by_libreoffice,) = libreoffice_recalculate([tmp_path / "edited.xlsx"], tmp_path / "lo")
    first = oracle.train(edited, lrs[0], 1, biases)
    for recalculated in (by_gnumeric, by_libreoffice):
        assert _assert_book_equals_oracle(recalculated, edited, biases, lrs) < TOL
        # The worked first step on the Equations sheet (CHOOSE over the LR sheets) follows too.
        w5, eta, grad, w5_new = _worked_line(_load(recalculated)["Equations"], "w5⁺ = w5 − η · ∂E_total/∂w5")[
            ::2
        ]
        expected = (first["w5"][0], lrs[0], first["dE_dw5"][0], first["w5"][1])
        assert close(np.array([w5, eta, grad, w5_new]), np.array(expected), TOL).all()


def _worked_line(sheet, text: str) -> list:
    """The cells right of the Equations sheet's line `text` (the worked numbers)."""
    for row in sheet.iter_rows():
        if row[1].value == text:
            return [c.value for c in row[2:] if c.value is not None]
    raise AssertionError(f"no line {text!r} on the Equations sheet")


def test_the_worked_first_step_follows_the_chosen_sheet_and_the_inputs(ssconvert, tmp_path):
    """Mazur's walk-through, live: the numbers beside ∂E_total/∂w5 are his; choosing another LR sheet
    or editing an input moves them, in Gnumeric's own recalculation."""
    params, biases, lrs = _build(tmp_path / "built.xlsx", "mazur")
    chain = "∂E_total/∂w5 = ∂E_total/∂a_o1 · ∂a_o1/∂o1 · ∂o1/∂w5"
    update = "w5⁺ = w5 − η · ∂E_total/∂w5"
    as_built = _load(gnumeric.recalculate(tmp_path / "built.xlsx", tmp_path / "g0.xlsx"))["Equations"]
    factors = _worked_line(as_built, chain)
    # Mazur: 0.74136507 × 0.186815602 × 0.593269992 = 0.082167041
    assert [round(v, 9) for v in factors[::2]] == [0.74136507, 0.186815602, 0.593269992, 0.082167041]
    assert factors[1::2] == ["×", "×", "="]
    assert round(_worked_line(as_built, update)[-1], 8) == 0.35891648  # w5⁺, with η = 0.5

    # Choose the second LR sheet and edit b2 on the Inputs sheet, as a student would.
    book = openpyxl.load_workbook(tmp_path / "built.xlsx")
    selector = next(c for row in book["Equations"].iter_rows(max_row=3) for c in row if c.value == "LR 0.5")
    selector.value = lr_sheet_name(lrs[1])
    book.save(tmp_path / "chosen.xlsx")
    _edit_inputs(tmp_path / "chosen.xlsx", tmp_path / "edited.xlsx", {"b2": 0.9})
    edited = _load(gnumeric.recalculate(tmp_path / "edited.xlsx", tmp_path / "g1.xlsx"))["Equations"]
    truth = oracle.train(params | {"b2": 0.9}, lrs[1], 1, biases)
    w5, eta, grad, w5_new = _worked_line(edited, update)[::2]
    assert eta == lrs[1]
    assert close(
        np.array([w5, grad, w5_new]),
        np.array([truth[k][i] for k, i in (("w5", 0), ("dE_dw5", 0), ("w5", 1))]),
        TOL,
    ).all()
    a_o1_minus_t1 = _worked_line(edited, chain)[0]
    assert close(a_o1_minus_t1, truth["a_o1"][0] - truth["t1"][0], TOL)
