"""Step and sign units, read by what their cells compute: perceptrons are NOT GRADIENT DESCENT with
their rule checked, forward-only threshold nets are INCOMPLETE with their forward pass checked, and a
sum reading a unit's pre-activation is WRONG at that sum. The truth is independent of sheetgen: the
perceptron rule simulated here in plain Python against LibreOffice's recalculated cells, and
LibreOffice's value of the same cell in the right twin."""

from __future__ import annotations

import network_books as nb
import openpyxl
import pytest
import step_books as sb

from sheetgen.office import recalc
from sheetgen.verify import command as verify
from sheetgen.verify.report import verdicts as report

BOOKS = {
    "xor_ge": sb.xor_thresholds(),
    "xor_gt": sb.xor_thresholds(step="IF({s}>0,1,0)"),
    "xor_preact": sb.xor_thresholds(mistake="pre-activation"),
    "sigmoid_preact": sb.sigmoid_forward_misread(),
    "sigmoid_forward": nb.xor_forward(),
    "sign": sb.perceptron_sign(),
    "sign_wrong": sb.perceptron_sign(mistake="wrong input"),
    "on_mistakes": sb.perceptron_on_mistakes(),
    "from_zero": sb.perceptron_from_zero(),
    "step_net": sb.step_network_trained(),
}


@pytest.fixture(scope="module")
def checked(tmp_path_factory, soffice):
    folder = tmp_path_factory.mktemp("step-networks")
    paths = {name: nb.write(folder / f"{name}.xlsx", design) for name, design in BOOKS.items()}
    results = verify.verify_books(list(paths.values()), "libreoffice", 1e-9)
    truth_dir = folder / "truth"
    truth_dir.mkdir()
    recalculated = recalc.recalculate(list(paths.values()), truth_dir)
    truth = {
        name: openpyxl.load_workbook(path, data_only=True)["Training"]
        for name, path in zip(paths, recalculated, strict=True)
    }
    return dict(zip(paths, results, strict=True)), truth


def _rows(sheet):
    header = [c.value for c in sheet[1]]
    return [dict(zip(header, (c.value for c in row), strict=False)) for row in sheet.iter_rows(min_row=2)]


def _first_break(sheet, weights, inputs, target, output, size):
    """The first cell where a weight is not the previous row's plus size·(t − y)·x (None: none)."""
    rows = _rows(sheet)
    for n in range(1, len(rows)):
        before, now = rows[n - 1], rows[n]
        error = before[target] - before[output]
        for w, x in zip(weights, inputs, strict=True):
            step = size * error * (before[x] if x else 1.0)
            if now[w] != pytest.approx(before[w] + step, abs=1e-12):
                column = [c.value for c in sheet[1]].index(w) + 1
                return f"{openpyxl.utils.get_column_letter(column)}{n + 2}"
    return None


def test_the_books_are_what_they_claim(checked):
    _, truth = checked
    # Right perceptrons follow their rule in LibreOffice's numbers; the planted one breaks it.
    assert _first_break(truth["sign"], ["w1", "w2", "b"], ["x1", "x2", None], "t", "y", 0.2) is None
    assert _first_break(truth["on_mistakes"], ["w1", "w2", "b"], ["x1", "x2", None], "t", "y", 0.5) is None
    assert (
        _first_break(truth["from_zero"], ["w1", "w2", "w0"], ["x1", "x2", None], "desired", "y", 0.25) is None
    )
    assert _first_break(truth["sign_wrong"], ["w1", "w2", "b"], ["x1", "x2", None], "t", "y", 0.2)
    # The zero start lands exactly on the step's edge, where IF(v>0,1,0) gives 0.
    assert _rows(truth["from_zero"])[0]["v"] == 0 and _rows(truth["from_zero"])[0]["y"] == 0
    # The threshold net computes XOR.
    assert [r["XOR"] for r in _rows(truth["xor_ge"])][:4] == [0, 1, 1, 0]


def test_perceptrons_are_their_own_verdict_with_their_rule_checked(checked):
    results, truth = checked
    for name, said in (
        ("sign", "η = 0.2 from 'Training'!K1"),
        ("on_mistakes", "(η/2)·(t − y)·x; η = 1"),
        ("from_zero", "η = 0.25 from 'Training'!O1"),
    ):
        result = results[name]
        assert result.verdict == report.NOT_GRADIENT_DESCENT, (name, report.one_line(result))
        assert "follow that rule at every step" in result.learning_rule and said in result.learning_rule, (
            name,
            result.learning_rule,
        )
        assert result.network["output_activation"] in ("step", "sign")
    wrong = results["sign_wrong"]
    assert wrong.verdict == report.NOT_GRADIENT_DESCENT
    cell = _first_break(truth["sign_wrong"], ["w1", "w2", "b"], ["x1", "x2", None], "t", "y", 0.2)
    assert f"its update at 'Training'!{cell} differs from that rule" in wrong.learning_rule, (
        wrong.learning_rule
    )
    assert (
        results["sign"].network["text"].startswith("2-1 sign, a bias per unit (trained), 4 samples, online")
    )


def test_a_trained_network_of_step_units_is_not_gradient_descent(checked):
    results, _ = checked
    result = results["step_net"]
    assert result.verdict == report.NOT_GRADIENT_DESCENT, report.one_line(result)
    assert "network of step units" in result.learning_rule and "2-2-1 step" in result.learning_rule


def test_forward_only_threshold_nets_are_incomplete_and_checked(checked):
    results, _ = checked
    for name in ("xor_ge", "xor_gt"):
        result = results[name]
        assert result.verdict == report.INCOMPLETE, (name, report.one_line(result))
        assert result.tables[0].incomplete.startswith("a forward pass, and no weight update")
        assert result.tables[0].incomplete.endswith("all of it right")
        assert result.network["text"].startswith("2-2-1 step, a bias per unit (fixed), 4 samples")


def test_a_sum_reading_a_pre_activation_is_wrong_there(checked):
    results, truth = checked
    for name, twin in (("xor_preact", "xor_ge"), ("sigmoid_preact", "sigmoid_forward")):
        result = results[name]
        assert result.verdict == report.WRONG, (name, report.one_line(result))
        finding = result.first_wrong
        assert (finding.sheet, finding.address) == ("Training", "H2"), report.one_line(result)
        assert "the pre-activation where the activation belongs" in finding.diagnosis
        assert finding.expected == pytest.approx(truth[twin]["H2"].value, abs=1e-12)
        assert finding.found == pytest.approx(truth[name]["H2"].value, abs=1e-12)
