"""No false alarms on right course sheets, however a student lays them out (issue 21, red team).

tests/course_variants.py writes right 2-2-2 sheets (and Mazur's biased variant) varied one dimension
at a time, then several at once: header spellings and languages, case, column orders, δ and a(1−a)
columns, where the table and η are, η typed on every row, the forms of σ, E and the update, Δw
columns, SUMPRODUCT, TANH, two tables side by side or one per sheet. Their saved values come from
that module's own float arithmetic, so `--engine cached` judges what a spreadsheet shows; a sample
is recalculated by LibreOffice too. Every one must be VERIFIED. Each class that verify once
misjudged also gets one planted mistake, which must stay WRONG at the right first column.
"""

from __future__ import annotations

import random

import course_variants as cv
import pytest

from sheetgen.core import formula, xlsx
from sheetgen.office.recalc import recalculate
from sheetgen.verify import command as verify
from sheetgen.verify.read import tables
from sheetgen.verify.report import verdicts as report

# Each dimension's values besides the default (course_variants.DEFAULT).
DIMENSIONS = {
    "labels": ["mazur", "sigma", "chain", "german", "unknown", "dw"],
    "case": ["upper", "lower"],
    "order": ["grads_first", "weights_last", "interleaved"],
    "deltas": [("delta_o",), ("dA_h",), ("slope",), ("delta_o", "dA_h", "slope")],
    "origin": [(0, 0), (5, 3)],
    "title": [True],
    "blank_rows": [1, 2],
    "eta": ["above", "header", "inline", "column"],
    "inputs": ["typed", "cells"],
    "refs": ["relative"],
    "sigmoid": ["exp_ratio", "tanh", "power", "times_minus_one", "inverse_exp", "caret"],
    "error": ["half_a_minus_t", "power", "over_two", "sqrt_sq", "product", "times_itself"],
    "total": ["sum_range", "sum_args"],
    "grad": ["product", "mazur"],
    "net": ["sumproduct"],
    "update": ["plus_neg", "grad_eta", "columns", "steps"],
    "iteration": ["formula"],
    "first": [1, None],
    "bias": ["fixed", "trained"],
    "tables": ["side_by_side", "per_sheet"],
}
SINGLE = [{}] + [{dim: value} for dim, values in DIMENSIONS.items() for value in values]


def _combined(count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    return [
        {dim: rng.choice(DIMENSIONS[dim]) for dim in rng.sample(sorted(DIMENSIONS), rng.randint(2, 6))}
        for _ in range(count)
    ]


# The classes verify once called RIGHT ONLY AT ITS NUMBERS or WRONG though right (found by this generator).
FIXED = {
    "η typed on every row, in a column headed η": {"eta": "column"},
    "η column after a title and a blank row": {"eta": "column", "title": True, "blank_rows": 1},
    "σ as 0.5*(1+TANH(x/2))": {"sigmoid": "tanh"},
    "h1 as SUMPRODUCT(w1:w2, i1:i2)": {"net": "sumproduct"},
    "Δw = η·∂E/∂w columns the next row subtracts": {"update": "steps"},
    "δ and a(1−a) columns, weights at the end": {
        "order": "weights_last",
        "deltas": ("delta_o", "dA_h", "slope"),
    },
    "unknown labels, η unlabelled, two tables side by side": {"labels": "german", "tables": "side_by_side"},
    "η in the header row beyond Δw1 columns, two tables side by side": {
        "update": "steps",
        "eta": "header",
        "tables": "side_by_side",
    },
    "grad1 and Δw1 columns, two tables side by side": {
        "labels": "unknown",
        "tables": "side_by_side",
        "update": "steps",
    },
}


def _judge(path):
    book = xlsx.read_book(path)
    return verify.judge(path, book, book, "cached", 1e-9)


def _name(variant: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in variant.items()) or "default"


@pytest.mark.parametrize("variant", SINGLE, ids=_name)
def test_a_right_sheet_varied_in_one_dimension_is_verified(tmp_path, variant):
    path = tmp_path / "variant.xlsx"
    cv.write(path, variant)
    result = _judge(path)
    assert result.verdict == report.VERIFIED, report.details(result)


@pytest.mark.parametrize("variant", _combined(40, seed=21), ids=_name)
def test_a_right_sheet_varied_in_several_dimensions_is_verified(tmp_path, variant):
    path = tmp_path / "variant.xlsx"
    cv.write(path, variant)
    result = _judge(path)
    assert result.verdict == report.VERIFIED, report.details(result)


def test_no_note_claims_a_column_of_the_table_beside(tmp_path):
    """Two tables side by side whose columns verify identifies by formula: each identifies its own."""
    path = tmp_path / "side.xlsx"
    cv.write(path, {"labels": "german", "tables": "side_by_side"})
    result = _judge(path)
    assert result.verdict == report.VERIFIED, report.details(result)
    for check in result.tables:
        assert not [n for n in check.notes if "computes no quantity" in n], check.notes
        assert {quantity for _, _, quantity in check.identified} >= {
            "a_h1",
            "a_h2",
            "a_o1",
            "a_o2",
            "E_total",
        }


def test_a_step_column_is_read_through_its_formula(tmp_path):
    """w1 = w1 − Δw1 of the row above, Δw1 = η·∂E/∂w1: the updates are proven through the Δw columns,
    and each table takes the η labelled right of its own header (beyond its Δw columns)."""
    path = tmp_path / "steps.xlsx"
    cv.write(path, {"update": "steps", "eta": "header", "tables": "side_by_side"})
    result = _judge(path)
    assert result.verdict == report.VERIFIED, report.details(result)
    assert [check.eta for check in result.tables] == [0.5, 0.25]
    notes = "\n".join(n for check in result.tables for n in check.notes)
    assert "('Δw1') computes no quantity of the network, read as its formula where others read it" in notes


def test_eta_typed_on_every_row_is_eta(tmp_path):
    path = tmp_path / "eta-column.xlsx"
    cv.write(path, {"eta": "column", "inputs": "typed"})
    result = _judge(path)
    assert result.verdict == report.VERIFIED, report.details(result)
    assert result.tables[0].eta == 0.5


def test_a_step_column_is_not_the_gradient():
    assert tables.lookup("Δw1") is None and tables.lookup("Δ w_3") is None
    assert tables.lookup("dw1") == "dE_dw1" and tables.lookup("δw1") == "dE_dw1"  # a derivative, as before
    assert tables.eta_label("Lernrate") and tables.eta_label("taux d'apprentissage")


def test_sumproduct_and_tanh_compute_what_a_spreadsheet_does():
    tree = formula.parse("=SUMPRODUCT(A1:B1,$C$1:$D$1)")
    assert formula.to_text(tree) == "A1*$C$1+B1*$D$1"
    env = {(None, 1, c): v for c, v in zip((1, 2, 3, 4), (0.15, 0.2, 0.05, 0.1), strict=True)}
    assert formula.compile_tree(tree)(env) == pytest.approx(0.15 * 0.05 + 0.2 * 0.1, rel=1e-15)
    sigma = formula.compile_tree(formula.parse("=0.5*(1+TANH(A1/2))"))({(None, 1, 1): 0.3775})
    assert sigma == pytest.approx(1 / (1 + 2.718281828459045**-0.3775), rel=1e-12)
    assert isinstance(formula.parse("=SUMPRODUCT(A1:B1,C1)"), formula.Call)  # not a pair of ranges: unread
    assert isinstance(formula.parse("=SUMPRODUCT(A1:B1,C1:C2)"), formula.Call)  # #VALUE! in a spreadsheet


def test_libreoffice_verifies_the_fixed_classes_and_a_sample(soffice, tmp_path):
    variants = list(FIXED.values()) + _combined(8, seed=7)
    paths = []
    for n, variant in enumerate(variants):
        paths.append(tmp_path / f"v{n:02d}.xlsx")
        cv.write(paths[-1], variant)
    for path, variant, recalculated in zip(
        paths, variants, recalculate(paths, tmp_path / "out"), strict=True
    ):
        result = verify.judge(path, xlsx.read_book(path), xlsx.read_book(recalculated), "libreoffice", 1e-9)
        assert result.verdict == report.VERIFIED, (variant, report.details(result))


# A planted mistake's key in verify's terms (course_variants names gradients g1..g8).
_KEY = {"g5": "dE_dw5"}


def test_one_planted_mistake_in_each_fixed_class_stays_wrong(soffice, tmp_path):
    cases = []
    for name, variant in FIXED.items():
        for mistake, (key, data_row) in cv.MISTAKES.items():
            if "unreadable" in mistake:
                continue  # LibreOffice's perturbed recalculation: its own test below
            unnamed = {"german": ("a_h2",), "unknown": ("g5",)}.get(variant.get("labels"), ())
            if key in unnamed:
                # Its header is no label verify knows and its wrong formula computes another quantity
                # (a_h1, ∂E/∂w6): the first column that reads it is named instead (o1, w5).
                continue
            path = tmp_path / f"wrong{len(cases):02d}.xlsx"
            where = cv.write(path, variant | {"mistake": mistake})
            cases.append((name, mistake, path, _KEY.get(key, key), where[key][0] + data_row))
    paths = [case[2] for case in cases]
    for (name, mistake, path, key, row), recalculated in zip(
        cases, recalculate(paths, tmp_path / "out"), strict=True
    ):
        result = verify.judge(path, xlsx.read_book(path), xlsx.read_book(recalculated), "libreoffice", 1e-9)
        assert result.verdict == report.WRONG, (name, mistake, report.details(result))
        first = result.first_wrong
        assert first.key == key, (name, mistake, report.details(result))
        assert int("".join(ch for ch in first.address if ch.isdigit())) == row + 1, (name, mistake)


def test_a_mistake_only_libreoffice_finds_names_where_its_values_come_from(soffice, tmp_path):
    """E2 reads t1 where t1 = t2, in a form the proof cannot read (ISBLANK): LibreOffice with other
    inputs finds it, and the diagnosis says the values shown are those, not the sheet's own."""
    path = tmp_path / "masked.xlsx"
    where = cv.write(path, {"params": {"t1": 0.5, "t2": 0.5}, "mistake": "E2 reads t1, unreadable"})
    (recalculated,) = recalculate([path], tmp_path / "out")
    result = verify.judge(path, xlsx.read_book(path), xlsx.read_book(recalculated), "libreoffice", 1e-9)
    assert result.verdict == report.WRONG, report.details(result)
    first = result.first_wrong
    assert first.key == "E2" and first.address.endswith(str(where["E2"][0] + 1))
    assert "uses t1 in place of t2" in first.diagnosis
    assert "right at the sheet's own numbers, wrong with the inputs changed to" in first.diagnosis
