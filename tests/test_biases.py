"""Biases (Mazur's network): the oracle against torch autograd, the column tables against the oracle,
and the figures printed in Mazur's "A Step by Step Backpropagation Example".

Tolerances follow each quantity's conditioning: a bias gradient is a sum of two error signals
(δ_h1 + δ_h2, δ_o1 + δ_o2) that may cancel, so it is compared on the scale of its terms; E_total
near convergence is ½(t − a)² of a cancelled difference, so the outputs a are compared instead.
"""

from __future__ import annotations

import numpy as np
import openpyxl
import pytest
from bias_reference import torch_train_with_biases, torch_with_biases

from sheetgen.build.params import PARAM_KEYS, load_template, read_template
from sheetgen.cli import main
from sheetgen.core import oracle
from sheetgen.core.columns import ALL_COLUMNS, COLUMNS, columns_for, compile_template

REL = 1e-12
RNG = np.random.default_rng(20261130)
WEIGHTS_AND_BIASES = oracle.WEIGHTS + oracle.BIASES


def _agree(found: float, expected: float, scale: float | None = None) -> bool:
    return abs(found - expected) <= REL * (abs(expected) if scale is None else scale)


def _random_points(n: int):
    """Inputs in [-2, 2], targets in [0, 1], weights and biases in [-3, 3]."""
    for _ in range(n):
        i1, i2 = RNG.uniform(-2, 2, 2)
        t1, t2 = RNG.uniform(0, 1, 2)
        free = dict(zip(WEIGHTS_AND_BIASES, RNG.uniform(-3, 3, 10), strict=True))
        yield {"i1": float(i1), "i2": float(i2), "t1": float(t1), "t2": float(t2)} | {
            k: float(v) for k, v in free.items()
        }


@pytest.mark.parametrize("point", list(_random_points(200)))
def test_weight_and_bias_gradients_equal_torch_autograd(point):
    row = oracle.evaluate(**point)
    weights = [point[w] for w in oracle.WEIGHTS]
    expected = torch_with_biases(
        point["i1"], point["i2"], point["t1"], point["t2"], weights, point["b1"], point["b2"]
    )
    assert _agree(row["E_total"], expected["E_total"])
    # Sums that may cancel (δ_o1·w5 + δ_o2·w7, δ_h1 + δ_h2, δ_o1 + δ_o2) are judged on their terms' size.
    for g in oracle.GRADIENTS + oracle.BIAS_GRADIENTS:
        assert _agree(row[g], expected[g], expected["scale"].get(g)), g


def test_a_bias_gradient_is_not_one_units_error_signal():
    """∂E/∂b1 sums both hidden units: a sheet that takes δ_h1 alone must disagree with torch."""
    _, params = load_template("mazur")
    row = oracle.evaluate(**params)
    expected = torch_with_biases(
        *(params[k] for k in oracle.INPUTS), [params[w] for w in oracle.WEIGHTS], 0.35, 0.6
    )
    delta_h1 = row["dE_dw1"] / params["i1"]
    assert abs(delta_h1 - expected["dE_db1"]) > 1e-6 * abs(expected["dE_db1"])
    assert _agree(row["dE_db1"], expected["dE_db1"], expected["scale"]["dE_db1"])


@pytest.mark.parametrize("biases", ["fixed", "trained"])
@pytest.mark.parametrize("eta", [0.5, 2.0])
def test_train_equals_torch_gradient_descent(biases, eta):
    _, params = load_template("mazur")
    iterations = 200
    table = oracle.train(params, eta, iterations, biases)
    for row in torch_train_with_biases(params, eta, iterations, trained=biases == "trained"):
        n = row["iteration"]
        for key in WEIGHTS_AND_BIASES:
            # w − η·∂E/∂w may near zero: judged on the size of the numbers it was computed from.
            assert _agree(table[key][n], row[key], abs(row[key]) + 1e-3), (n, key)
        for key in ("a_o1", "a_o2"):  # E_total = ½(t − a)² late in training: compare t − a, i.e. a
            assert _agree(table[key][n], row[key]), (n, key)
        for key in oracle.GRADIENTS + oracle.BIAS_GRADIENTS:
            assert _agree(table[key][n], row[key], row["scale"].get(key, abs(row[key]))), (n, key)
    if biases == "fixed":
        assert (table["b1"] == params["b1"]).all() and (table["b2"] == params["b2"]).all()
    else:
        assert table["b1"][-1] != params["b1"] and table["b2"][-1] != params["b2"]


def test_no_biases_is_the_course_network():
    """Mode "none" ignores b1, b2 in params and reproduces the network without biases exactly."""
    _, params = load_template("eva8")
    plain = oracle.train(params, 0.5, 50)
    ignored = oracle.train(params | {"b1": 0.35, "b2": 0.6}, 0.5, 50, "none")
    for key in ("E_total", *oracle.WEIGHTS):
        np.testing.assert_array_equal(plain[key], ignored[key])
    assert (ignored["b1"] == 0).all()


def test_fixed_biases_of_zero_equal_no_biases():
    _, params = load_template("eva8")
    plain = oracle.train(params, 0.5, 50, "none")
    zero = oracle.train(params | {"b1": 0.0, "b2": 0.0}, 0.5, 50, "fixed")
    np.testing.assert_array_equal(plain["E_total"], zero["E_total"])


def test_an_unknown_bias_mode_is_refused():
    _, params = load_template("mazur")
    with pytest.raises(ValueError, match="biases must be one of"):
        oracle.train(params, 0.5, 3, "learned")


# Mazur's post, to the digits it prints (the hidden step uses the old w5..w8).
MAZUR_BEFORE = {
    "E_total": "0.298371109",
    "a_h1": "0.593269992",
    "a_h2": "0.596884378",
    "a_o1": "0.75136507",
    "a_o2": "0.772928465",
    "dE_dw5": "0.082167041",
}
MAZUR_AFTER = {
    "w1": "0.149780716",
    "w2": "0.19956143",
    "w3": "0.24975114",
    "w4": "0.29950229",
    "w5": "0.35891648",
    "w6": "0.408666186",
    "w7": "0.511301270",
    "w8": "0.561370121",
}


def _to_printed_digits(value: float, printed: str) -> bool:
    """value rounds to `printed` (within half a unit of its last decimal, plus a hair for the rounding)."""
    decimals = len(printed.split(".")[1])
    return abs(value - float(printed)) <= 0.5 * 10.0**-decimals * (1 + 1e-6)


def test_mazur_first_iteration_as_the_post_prints_it():
    _, params = load_template("mazur")
    table = oracle.train(params, 0.5, 1, "fixed")
    for key, printed in MAZUR_BEFORE.items():
        assert _to_printed_digits(table[key][0], printed), (key, table[key][0], printed)
    for key, printed in MAZUR_AFTER.items():
        assert _to_printed_digits(table[key][1], printed), (key, table[key][1], printed)


def test_mazur_after_10000_updates_equals_an_independent_loop():
    """3.510187783e-05 by an independent float64 loop (issue 13); the post prints 0.0000351085."""
    _, params = load_template("mazur")
    table = oracle.train(params, 0.5, 10_000, "fixed")
    assert abs(table["E_total"][-1] - 3.510187783e-05) <= 1e-9 * 3.510187783e-05 + 5e-19


@pytest.mark.parametrize("biases", oracle.BIAS_MODES)
def test_every_template_of_each_variant_equals_the_oracle(biases):
    """Each variant's column templates, evaluated in Python row by row, equal oracle.train."""
    for point in _random_points(20):
        params = {k: v * 0.3 for k, v in point.items()}  # keep a few steps away from saturation
        eta = float(RNG.uniform(0.1, 2))
        expected = oracle.train(params, eta, 3, biases)
        cells: dict[str, float] = {"eta": eta} | {f"param:{k}": v for k, v in params.items()}
        for n in range(4):
            row: dict[str, float] = {}
            for column in columns_for(biases)[1:]:
                template = column.next_formula if n and column.next_formula else column.formula
                row[column.key] = cells[column.key] = float(compile_template(template)(cells))
                scale = 1.0 if column.key.startswith("dE_db") else abs(expected[column.key][n])
                assert abs(row[column.key] - expected[column.key][n]) <= 1e-12 * max(scale, 1e-3), (
                    biases,
                    n,
                    column.key,
                )
            cells |= {f"prev:{k}": v for k, v in row.items()}


def test_the_variants_columns():
    keys = {m: [c.key for c in columns_for(m)] for m in oracle.BIAS_MODES}
    assert keys["none"] == [c.key for c in COLUMNS]
    assert not {"b1", "b2", "dE_db1", "dE_db2"} & set(keys["none"])
    assert {"b1", "b2"} <= set(keys["fixed"]) and not {"dE_db1", "dE_db2"} & set(keys["fixed"])
    assert set(keys["trained"]) == set(keys["fixed"]) | {"dE_db1", "dE_db2"}
    assert [c.key for c in ALL_COLUMNS] == keys["trained"]
    # A bias's column comes before the sums it enters.
    for m in ("fixed", "trained"):
        assert keys[m].index("b1") < keys[m].index("h1") and keys[m].index("b2") < keys[m].index("o1")


# --- the built book -----------------------------------------------------------------------------


def _build_cli(tmp_path, *argv) -> tuple[int, openpyxl.Workbook | None, str]:
    out = tmp_path / "book.xlsx"
    try:
        status = main(["build", "--iterations", "3", "--lr-list", "0.5", "-o", str(out), *argv])
    except SystemExit as exit_:
        status = exit_.code
    book = openpyxl.load_workbook(out) if out.exists() else None
    return status, book, str(out)


def _header(sheet) -> list:
    row = next(r for r in sheet.iter_rows(max_col=1) if r[0].value == "Iteration")[0].row
    return [c.value for c in sheet[row] if c.value is not None]


def _inputs_block(book) -> dict:
    return {
        r[0].value: r[1].value
        for r in book["Inputs"].iter_rows(min_row=4, max_col=2)
        if r[0].value in PARAM_KEYS + oracle.BIASES
    }


@pytest.mark.parametrize(
    "argv, biases",
    [
        (["--template", "mazur"], "fixed"),
        (["--template", "mazur", "--biases", "trained"], "trained"),
        (["--template", "mazur", "--biases", "none"], "none"),
        (["--template", "eva8", "--biases", "fixed", "--set", "b1=0.35"], "fixed"),
        (["--template", "eva8"], "none"),
    ],
)
def test_the_book_has_the_variants_columns_inputs_and_property(tmp_path, argv, biases):
    status, book, _ = _build_cli(tmp_path, *argv)
    assert status == 0
    assert _header(book["LR 0.5"]) == [c.label for c in columns_for(biases)]
    block = _inputs_block(book)
    assert ("b1" in block and "b2" in block) == (biases != "none")
    custom = {p.name: p.value for p in book.custom_doc_props.props}
    assert custom["biases"] == biases
    equations = "\n".join(str(c.value) for row in book["Equations"].iter_rows() for c in row if c.value)
    assert ("∂E_total/∂b1" in equations) == (biases != "none")
    summary = {c.value: c for row in book["Summary"].iter_rows(max_row=4) for c in row if c.value is not None}
    assert ("b1 into h1, h2:" in summary) == (biases != "none")
    if biases != "none":  # the Summary reads the biases live from the Inputs sheet
        b1 = summary["b1 into h1, h2:"]
        assert book["Summary"].cell(b1.row, b1.column + 1).value == "=Inputs!$B$16"
    assert len(book["Equations"]._images) == 1


def test_a_bias_cell_reads_the_inputs_and_the_sums_add_it(tmp_path):
    _, book, _ = _build_cli(tmp_path, "--template", "mazur", "--biases", "trained")
    sheet = book["LR 0.5"]
    header = next(r for r in sheet.iter_rows(max_col=1) if r[0].value == "Iteration")[0].row
    col = {c.value: c.column_letter for c in sheet[header] if c.value}
    inputs = {r[0].value: f"Inputs!$B${r[0].row}" for r in book["Inputs"].iter_rows(min_row=4, max_col=1)}
    first, second = header + 1, header + 2
    assert sheet[f"{col['b1']}{first}"].value == f"={inputs['b1']}"
    assert sheet[f"{col['h1']}{first}"].value.endswith(f"+{col['b1']}{first}")
    assert sheet[f"{col['o2']}{first}"].value.endswith(f"+{col['b2']}{first}")
    assert sheet[f"{col['b2']}{second}"].value == f"={col['b2']}{first}-$B$2*{col['∂E/∂b2']}{first}"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--template", "eva8", "--set", "b1=0.3"], "--set b1 needs a network with biases"),
        (
            ["--template", "mazur", "--biases", "none", "--set", "b2=0.3"],
            "--set b2 needs a network with biases",
        ),
        (["--template", "mazur", "--biases", "learned"], "invalid choice"),
    ],
)
def test_a_bias_without_biases_is_one_line_and_exit_2(tmp_path, capsys, argv, message):
    status, book, _ = _build_cli(tmp_path, *argv)
    err = capsys.readouterr().err
    assert status == 2 and book is None
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "content, problem",
    [
        ('biases = "learned"\nb1 = 0.3\n', "biases = 'learned'"),
        ('biases = "none"\nb1 = 0.3\n', "sets b1 but biases = 'none'"),
        ('b2 = "x"\n', "b2 = 'x' is not a finite number"),
    ],
)
def test_a_template_with_bad_biases(tmp_path, capsys, content, problem):
    path = tmp_path / "t.toml"
    path.write_text(
        "i1 = 0.05\ni2 = 0.1\nt1 = 0.01\nt2 = 0.99\n"
        + "".join(f"w{k} = 0.1\n" for k in range(1, 9))
        + content
    )
    status, book, _ = _build_cli(tmp_path, "--template", str(path))
    err = capsys.readouterr().err
    assert status == 2 and book is None and problem in err


def test_a_template_that_sets_a_bias_has_fixed_biases_by_default(tmp_path):
    path = tmp_path / "t.toml"
    path.write_text(
        "i1 = 0.05\ni2 = 0.1\nt1 = 0.01\nt2 = 0.99\nb2 = 0.6\n"
        + "".join(f"w{k} = 0.1\n" for k in range(1, 9))
    )
    template = read_template(str(path))
    assert template.biases == "fixed" and template.params["b1"] == 0.0 and template.params["b2"] == 0.6
