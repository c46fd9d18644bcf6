"""Networks other than the course's, read by what their cells compute (read/computed_network.py).

Hand-made books (tests/network_books.py) of other networks in several layouts, each right and with
planted mistakes, and books `sheetgen build` wrote for other specs with their recorded spec removed
(so nothing but their formulas says what network they hold). All go through one LibreOffice run. The
truth a wrong cell is measured against is independent of sheetgen: LibreOffice's value of the same
cell in the right book, recalculated from the hand-written formulas.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import network_books as nb
import openpyxl
import pytest
from spec_sampler import strip_spec

from sheetgen.office import recalc
from sheetgen.verify import command as verify
from sheetgen.verify.report import verdicts as report

ROOT = Path(__file__).resolve().parents[1]
RIGHT = {
    "s221": nb.sigmoid_221(),
    "s221_half": nb.sigmoid_221(loss_half=True),
    "chain_rand": nb.chain_111_rand(),
    "tanh241": nb.tanh_241_eta_typed(eta_cell=False),
    "tanh241_eta_cell": nb.tanh_241_eta_typed(eta_cell=True),
    "adaline": nb.adaline(),
    "xor_mean": nb.xor_batch(),
    "xor_sum": nb.xor_batch(gradient="sum", displayed="mean"),
    "perceptron": nb.perceptron(),
    "xor_forward": nb.xor_forward(),
    "t321": nb.textbook_321(),
}
# (book, its right twin, the first wrong cell, words of the diagnosis)
MISTAKES = {
    "s221_other_unit": (nb.sigmoid_221(mistake="another unit's derivative"), "s221", "U2", "another unit's"),
    "s221_wrong_weight": (nb.sigmoid_221(mistake="wrong weight"), "s221", "U2", "the wrong weight"),
    "s221_preact": (nb.sigmoid_221(mistake="pre-activation"), "s221", "O3", "the pre-activation"),
    "s221_eta": (
        nb.sigmoid_221(mistake="eta from the wrong cell"),
        "s221",
        "D3",
        "η read from the wrong cell",
    ),
    "chain_preact": (nb.chain_111_rand(mistake="pre-activation"), None, "C3", "reads h1"),
    "adaline_wrong": (nb.adaline(mistake="wrong input"), "adaline", "E3", "the wrong input"),
    "xor_wrong": (nb.xor_batch(mistake="wrong weight"), "xor_mean", "V2", "the wrong weight"),
}
BUILT = {
    "tanh231": "--network 2-3-1 --activation tanh --output-activation linear --loss squared "
    "--biases trained --bias-per unit",
    "xor_full": "--network 2-2-1 --samples xor --batch full --biases trained --bias-per unit",
    "xor_online": "--network 2-2-1 --samples xor --batch online --biases fixed",
    "ce32": "--network 3-2 --loss cross-entropy",
    "relu231": "--network 2-3-1 --activation relu --output-activation sigmoid --biases fixed "
    "--bias-per layer",
}


def _plant(path: Path) -> str:
    """Turn one weight update of iteration 2 on the first LR sheet into w + η·∂E/∂w; returns its cell."""
    book = openpyxl.load_workbook(path)
    sheet = next(ws for ws in book.worksheets if ws.title.startswith("LR"))
    for row in sheet.iter_rows():
        for cell in row:
            text = cell.value
            if (
                isinstance(text, str)
                and re.fullmatch(r"=[A-Z]+\d+-\$?B\$?2\*[A-Z]+\d+", text)
                and cell.row > 7
            ):
                cell.value = text.replace("-", "+", 1)
                book.save(path)
                return f"{sheet.title}!{cell.coordinate}"
    raise AssertionError("no update formula of the expected form")


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory, soffice):
    folder = tmp_path_factory.mktemp("other-networks")
    paths = {}
    for name, design in RIGHT.items():
        paths[name] = nb.write(folder / f"{name}.xlsx", design)
    for name, (design, *_rest) in MISTAKES.items():
        paths[name] = nb.write(folder / f"{name}.xlsx", design)
    planted = {}
    for name, flags in BUILT.items():
        built = folder / f"built-{name}.xlsx"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "sheetgen",
                "build",
                *flags.split(),
                "--iterations",
                "6",
                "--lr-list",
                "0.5,1",
                "-o",
                str(built),
            ],
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
        paths[f"built-{name}"] = built
        paths[f"stripped-{name}"] = folder / f"stripped-{name}.xlsx"
        strip_spec(built, paths[f"stripped-{name}"])
        paths[f"planted-{name}"] = folder / f"planted-{name}.xlsx"
        strip_spec(built, paths[f"planted-{name}"])
        planted[name] = _plant(paths[f"planted-{name}"])
    names = list(paths)
    results = verify.verify_books([paths[n] for n in names], "libreoffice", 1e-9)
    truth_dir = folder / "truth"
    truth_dir.mkdir()
    recalculated = recalc.recalculate([paths[n] for n in RIGHT], truth_dir)
    truth = {n: openpyxl.load_workbook(p, data_only=True) for n, p in zip(RIGHT, recalculated, strict=True)}
    return dict(zip(names, results, strict=True)), truth, planted


def _network(result) -> str:
    return result.network["text"]


def test_right_networks_verify_and_are_named(verdicts):
    results, _, _ = verdicts
    expected = {
        "s221": "2-2-1 sigmoid, a bias per unit (trained), 1 sample, loss Σ(t−a)² without ½",
        "s221_half": "2-2-1 sigmoid, a bias per unit (trained), 1 sample, loss ½Σ(t−a)²",
        "chain_rand": "1-1-1 sigmoid, no biases, 1 sample, loss ½Σ(t−a)²",
        "tanh241": "2-4-1 tanh hidden, linear output, no biases, 1 sample, loss ½Σ(t−a)²",
        "adaline": "2-1 linear, a bias per unit (trained), 4 samples, online, loss ½Σ(t−a)²",
        "xor_mean": "2-2-1 sigmoid, a bias per unit (trained), 4 samples, full batch "
        "(mean of the per-sample gradients)",
        "xor_sum": "2-2-1 sigmoid, a bias per unit (trained), 4 samples, full batch "
        "(sum of the per-sample gradients)",
    }
    for name, words in expected.items():
        result = results[name]
        assert result.verdict == report.VERIFIED, (name, report.one_line(result))
        assert _network(result).startswith(words), (name, _network(result))
        assert result.tables[0].proven_forms > 0


def test_displayed_loss_and_update_each_by_their_own_definition(verdicts):
    results, _, _ = verdicts
    # xor_sum shows the mean loss while updating with the summed gradient: both right, each named.
    assert "displayed loss ½Σ(t−a)², averaged over the samples" in _network(results["xor_sum"])
    assert "displayed loss ½Σ(t−a)², summed over the samples" in _network(results["xor_mean"])
    assert "displayed loss Σ(t−a)² without ½" in _network(results["s221"])


def test_random_start_and_eta_conventions_are_said(verdicts):
    results, _, _ = verdicts
    notes = " ".join(results["chain_rand"].tables[0].notes)
    assert "RAND()" in notes and "values they drew" in notes
    assert results["tanh241"].tables[0].eta_note == "η = 0.1 written into the update formulas"
    typed = results["tanh241_eta_cell"]
    assert typed.verdict == report.RIGHT_ONLY
    assert "η = 0.1 typed into their formulas" in report.one_line(typed)


def test_each_planted_mistake_is_the_first_wrong_cell_with_its_diagnosis(verdicts):
    results, truth, _ = verdicts
    for name, (_, twin, cell, words) in MISTAKES.items():
        result = results[name]
        assert result.verdict == report.WRONG, (name, report.one_line(result))
        finding = result.first_wrong
        assert finding.address == cell, (name, report.one_line(result))
        assert words in (finding.diagnosis or ""), (name, finding.diagnosis)
        if twin is not None:  # what the cell should hold: LibreOffice's value in the right book
            right = truth[twin]["Training"][cell].value
            assert finding.expected == pytest.approx(right, rel=1e-9, abs=1e-12), name
            assert finding.found != pytest.approx(right, rel=1e-6) or name == "adaline_wrong"


def test_forward_passes_and_error_terms_without_an_update_are_incomplete(verdicts):
    results, _, _ = verdicts
    t321 = results["t321"]
    assert t321.verdict == report.INCOMPLETE
    reason = t321.tables[0].incomplete
    assert "error terms" in reason and "no weight update" in reason and reason.endswith("all of it right")
    assert _network(t321).startswith("3-2-1 sigmoid, a bias per unit (fixed)")
    forward = results["xor_forward"]
    assert forward.verdict == report.INCOMPLETE and "a forward pass" in forward.tables[0].incomplete
    assert _network(forward).startswith("2-2-1 sigmoid, a bias per unit (fixed), 4 samples")


def test_a_wrong_error_term_without_update_says_where(tmp_path, verdicts):
    results, _, _ = verdicts
    book = nb.write(tmp_path / "t321-wrong.xlsx", nb.textbook_321(mistake="wrong weight"))
    [result] = verify.verify_books([book], "libreoffice", 1e-9)
    reason = result.tables[0].incomplete
    assert result.verdict == report.INCOMPLETE
    assert "wrong from 'Training'!L2" in reason and "the wrong weight" in reason, reason


def test_the_perceptron_rule_is_its_own_verdict(verdicts):
    results, _, _ = verdicts
    result = results["perceptron"]
    assert result.verdict == report.NOT_GRADIENT_DESCENT
    assert "step rule" in result.learning_rule and "follow that rule" in result.learning_rule
    assert verify.exit_status([result]) == report.EXIT_STATUS[report.NOT_GRADIENT_DESCENT] == 6


def test_json_names_the_network(verdicts):
    results, _, _ = verdicts
    data = json.loads(report.as_json([results["xor_mean"]]))["workbooks"][0]["network"]
    assert data["sizes"] == [2, 2, 1] and data["samples"] == 4 and data["batch"] == "full"
    assert data["gradient"] == "mean" and data["loss"] == "half-squared" and data["biases"] == "trained"
    assert data["read_from"] == "formulas" and data["eta"] == 0.5


def test_built_books_read_from_their_formulas_alone(verdicts):
    results, _, planted = verdicts
    for name in BUILT:
        built, stripped = results[f"built-{name}"], results[f"stripped-{name}"]
        assert built.verdict == report.VERIFIED, report.one_line(built)
        assert stripped.verdict == report.VERIFIED, (name, report.one_line(stripped))
        flags = dict(zip(BUILT[name].split()[::2], BUILT[name].split()[1::2], strict=False))
        read = stripped.network
        assert read["sizes"] == [int(s) for s in flags["--network"].split("-")], name
        if "--activation" in flags:
            assert read["activation"] == flags["--activation"], name
        assert read["biases"] == flags.get("--biases", "none"), name
        if "--loss" in flags:
            assert read["loss"] == flags["--loss"], name
        wrong = results[f"planted-{name}"]
        assert wrong.verdict == report.WRONG, (name, report.one_line(wrong))
        sheet, cell = planted[name].split("!")
        assert (wrong.first_wrong.sheet, wrong.first_wrong.address) == (sheet, cell), (
            name,
            report.one_line(wrong),
        )
