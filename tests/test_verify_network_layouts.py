"""Networks other than the course's in the layouts beyond a row per iteration (tests/network_layouts.py).

Column blocks per sample (XOR's four side by side), Mazur's one iteration per sheet, a single step
scattered over a sheet, formulas written through INDEX/OFFSET, a transposed table, η and the starting
weights on another sheet (η as a defined name of a cell or of a number), and starting weights from
RAND(): each right book VERIFIED with its network named, each planted mistake WRONG at its first
wrong cell with a diagnosis. The truth a wrong cell is measured against is LibreOffice's value of the
same cell in the right twin, recalculated from the hand-written formulas. All books go through one
verify run (LibreOffice is slow).
"""

from __future__ import annotations

import json

import network_layouts as nl
import openpyxl
import pytest

from sheetgen.core import xlsx
from sheetgen.office import recalc
from sheetgen.verify import command as verify
from sheetgen.verify.read.cell_graph import CellGraph
from sheetgen.verify.report import verdicts as report

S221 = "2-2-1 sigmoid, a bias per unit (trained), 1 sample, loss Σ(t−a)² without ½"
T231 = "2-3-1 tanh hidden, linear output, a bias per unit (trained), 1 sample, loss ½Σ(t−a)²"
T231_3 = (
    "2-3-1 tanh hidden, linear output, a bias per unit (trained), 3 samples, full batch "
    "(mean of the per-sample gradients), loss ½Σ(t−a)²"
)
XOR = (
    "2-2-1 sigmoid, a bias per unit (trained), 4 samples, full batch (mean of the per-sample gradients), "
    "loss ½Σ(t−a)²"
)
N321 = "3-2-1 sigmoid, no biases, 1 sample, loss ½Σ(t−a)²"


def _n321():
    return nl.Network(3, 2, 1, biases=False, samples=[((0.2, -0.4, 0.9), (0.3,))], eta=0.8, seed=2)


X, T, S = nl.xor_221, nl.tanh_231, nl.sigmoid_221
T1 = lambda: nl.one_sample(nl.tanh_231())  # noqa: E731

# name -> (book, the network the report must name)
RIGHT = {
    "blocks_xor": (nl.table(X()), XOR),
    "blocks_t231": (nl.table(T()), T231_3),
    "blocks_xor_rand": (nl.table(X(), start="rand"), XOR),
    "sheets_s221": (nl.per_sheet(S()), S221),
    "sheets_t231": (nl.per_sheet(T1()), T231),
    "sheets_s221_rand": (nl.per_sheet(S(), start="rand"), S221),
    "step_s221": (nl.single_step(S()), S221),
    "step_t231": (nl.single_step(T1()), T231),
    "step_321": (nl.single_step(_n321()), N321),
    "step_rand": (nl.single_step(S(), start="rand"), S221),
    "index_s221": (nl.table(S(), refs="index"), S221),
    "offset_xor": (nl.table(X(), refs="offset"), XOR),
    "mixed_t231": (nl.table(T(), refs="mixed"), T231_3),
    "transposed_s221": (nl.table(S(), transposed=True), S221),
    "transposed_xor": (nl.table(X(), transposed=True), XOR),
    "params_s221": (nl.table(S(), params_sheet=True), S221),
    "lr_cell_t231": (nl.table(T(), params_sheet=True, eta_name="cell"), T231_3),
    "lr_number_xor": (nl.table(X(), eta_name="constant"), XOR),
    "lr_rand_321": (nl.table(_n321(), params_sheet=True, eta_name="cell", start="rand"), N321),
}

WRONG_WEIGHT = ("dh1", "({do1}*{w6})*{ah1}*(1-{ah1})")  # δ_h1 through h2's outgoing weight
OTHER_UNIT = ("dh1", "({do1}*{w5})*{ah2}*(1-{ah2})")  # δ_h1 with h2's derivative
PREACT = ("g_w5", "{do1}*{zh1}")  # ∂E/∂w5 from h1's sum instead of its activation
T_WRONG_WEIGHT = ("dh2", "({do1}*{w9})*(1-{ah2}^2)")
T_PREACT = ("g_w8", "{do1}*{zh2}")
PRE, UNIT, WEIGHT = "the pre-activation", "another unit's", "the wrong weight"  # words of the diagnoses
# name -> (book, its right twin (None: RAND, no twin), (quantity, iteration, sample), diagnosis words)
MISTAKES = {
    "blocks_xor_sample2": (
        nl.table(X(), mistake=("g_w2", "{dh1}*{x1}", 2)),
        "blocks_xor",
        ("g_w2", 0, 2),
        "the wrong input",
    ),
    "blocks_t231_sample2": (
        nl.table(T(), mistake=(*T_WRONG_WEIGHT, 2)),
        "blocks_t231",
        ("dh2", 0, 2),
        "the wrong weight",
    ),
    "blocks_xor_all": (nl.table(X(), mistake=PREACT), "blocks_xor", ("g_w5", 0, 1), "the pre-activation"),
    "sheets_s221": (nl.per_sheet(S(), mistake=OTHER_UNIT), "sheets_s221", ("dh1", 0, 1), UNIT),
    "sheets_t231": (nl.per_sheet(T1(), mistake=T_PREACT), "sheets_t231", ("g_w8", 0, 1), PRE),
    "step_s221": (nl.single_step(S(), mistake=WRONG_WEIGHT), "step_s221", ("dh1", 0, 1), WEIGHT),
    "step_rand": (nl.single_step(S(), start="rand", mistake=PREACT), None, ("g_w5", 0, 1), PRE),
    "index_s221": (nl.table(S(), refs="index", mistake=OTHER_UNIT), "index_s221", ("dh1", 0, 1), UNIT),
    "mixed_t231": (nl.table(T(), refs="mixed", mistake=T_PREACT), "mixed_t231", ("g_w8", 0, 1), PRE),
    "transposed_xor": (
        nl.table(X(), transposed=True, mistake=WRONG_WEIGHT),
        "transposed_xor",
        ("dh1", 0, 1),
        "the wrong weight",
    ),
    "lr_cell_t231": (
        nl.table(T(), params_sheet=True, eta_name="cell", mistake=T_WRONG_WEIGHT),
        "lr_cell_t231",
        ("dh2", 0, 1),
        "the wrong weight",
    ),
    "lr_number_xor": (
        nl.table(X(), eta_name="constant", mistake=PREACT),
        "lr_number_xor",
        ("g_w5", 0, 1),
        "the pre-activation",
    ),
}


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory, soffice):
    folder = tmp_path_factory.mktemp("network-layouts")
    paths = {}
    for name, (book, _) in RIGHT.items():
        paths[name] = nl.write(folder / f"{name}.xlsx", book)
    for name, (book, *_rest) in MISTAKES.items():
        paths[f"wrong-{name}"] = nl.write(folder / f"wrong-{name}.xlsx", book)
    names = list(paths)
    results = verify.verify_books([paths[n] for n in names], "libreoffice", 1e-9)
    twins = sorted({twin for _, twin, *_ in MISTAKES.values() if twin})
    truth_dir = folder / "truth"
    truth_dir.mkdir()
    recalculated = recalc.recalculate([paths[n] for n in twins], truth_dir)
    truth = {n: openpyxl.load_workbook(p, data_only=True) for n, p in zip(twins, recalculated, strict=True)}
    return dict(zip(names, results, strict=True)), truth


def _cell(where: str) -> tuple[str, str]:
    sheet, _, address = where.rpartition("!")
    return sheet.strip("'"), address


def test_right_books_verify_in_every_layout_with_the_network_named(verdicts):
    results, _ = verdicts
    for name, (_, network) in RIGHT.items():
        result = results[name]
        assert result.verdict == report.VERIFIED, (name, report.one_line(result))
        assert result.network["text"].startswith(network), (name, result.network["text"])
        assert result.network["read_from"] == "formulas"
        assert result.tables[0].proven_forms > 0, name


def test_iterations_are_read_in_each_layout(verdicts):
    results, _ = verdicts
    iterations = {"blocks_xor": 4, "transposed_xor": 4, "sheets_s221": 3, "step_s221": 1, "lr_number_xor": 4}
    for name, count in iterations.items():
        assert results[name].network["iterations"] == count, (name, results[name].network)


def test_random_starting_weights_are_said(verdicts):
    results, _ = verdicts
    for name in ("blocks_xor_rand", "sheets_s221_rand", "step_rand", "lr_rand_321"):
        result = results[name]
        notes = " ".join(result.tables[0].notes)
        assert "RAND()" in notes and "values they drew" in notes, (name, notes)
        assert result.network["random_start"] is True, name
    assert results["blocks_xor"].network["random_start"] is False


def test_eta_on_another_sheet_or_as_a_defined_name(verdicts):
    results, _ = verdicts
    assert results["params_s221"].tables[0].eta_note == "η = 0.5 from 'Params'!B1"
    assert results["lr_cell_t231"].tables[0].eta_note == "η = 0.2 from 'Params'!B1"
    assert results["lr_number_xor"].tables[0].eta_note == "η = 0.5 from the defined name lr"
    data = json.loads(report.as_json([results["lr_number_xor"]]))["workbooks"][0]["network"]
    assert data["eta"] == 0.5 and data["sizes"] == [2, 2, 1] and data["samples"] == 4


def test_each_planted_mistake_is_the_first_wrong_cell_with_its_diagnosis(verdicts):
    results, truth = verdicts
    for name, (book, twin, quantity, words) in MISTAKES.items():
        result = results[f"wrong-{name}"]
        assert result.verdict == report.WRONG, (name, report.one_line(result))
        finding = result.first_wrong
        sheet, address = _cell(book.where[quantity])
        assert (finding.sheet, finding.address) == (sheet, address), (name, report.one_line(result))
        assert words in (finding.diagnosis or ""), (name, finding.diagnosis)
        if twin is not None:  # what the cell should hold: LibreOffice's value in the right book
            right = truth[twin][sheet][address].value
            assert finding.expected == pytest.approx(right, rel=1e-9, abs=1e-12), name
            assert finding.found != pytest.approx(right, rel=1e-6), name


def test_defined_names_are_read_and_resolved(tmp_path):
    """A defined name of one cell is that cell; one of a number is a leaf holding it; a name of a range,
    or one local to a sheet, is read where it applies."""
    import xlsxwriter

    path = tmp_path / "names.xlsx"
    book = xlsxwriter.Workbook(str(path))
    data, other = book.add_worksheet("Data"), book.add_worksheet("Other")
    data.write_number("B1", 0.25)
    data.write_number("A3", 2.0)
    data.write_formula("B3", "=A3*lr")
    data.write_formula("C3", "=A3*rate")
    data.write_formula("D3", "=SUM(block)")
    other.write_formula("A1", "=2*lr")
    book.define_name("lr", "=Data!$B$1")
    book.define_name("rate", "=0.125")
    book.define_name("block", "=Data!$A$3:$B$3")
    book.define_name("Other!lr", "=-0.5")  # local to Other: there lr is -0.5
    book.close()
    read = xlsx.read_book(path)
    assert read.names[(None, "lr")] == "Data!$B$1" and read.names[(None, "rate")] == "0.125"
    assert read.names[("Other", "lr")] == "-0.5"
    graph = CellGraph(read, read)
    assert graph.direct(("Data", 3, 2)) == (("Data", 3, 1), ("Data", 1, 2))
    [number] = [k for k in graph.direct(("Data", 3, 3)) if k != ("Data", 3, 1)]
    assert graph.value(number) == 0.125 and not graph.is_computed(number)
    [local] = graph.direct(("Other", 1, 1))
    assert graph.value(local) == -0.5
    assert graph.direct(("Data", 3, 4)) == (("Data", 3, 1), ("Data", 3, 2))
    run, leaves = graph.evaluator(("Data", 3, 2), lambda k: False)
    assert run({k: graph.value(k) for k in leaves}) == pytest.approx(0.5)
