"""The network flags of `sheetgen build`: what they build, and bad input refused in one line (exit 2,
nothing written)."""

from __future__ import annotations

import os

import openpyxl
import pytest

from sheetgen.cli import main
from sheetgen.core import spec as S


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


BAD = {
    "softmax with half-squared": ["--output-activation", "softmax"],
    "softmax with one output": [
        "--network",
        "2-1",
        "--output-activation",
        "softmax",
        "--loss",
        "cross-entropy",
    ],
    "cross-entropy with linear outputs": ["--output-activation", "linear", "--loss", "cross-entropy"],
    "units above the cap": ["--network", f"2-{S.MAX_UNITS + 1}-1"],
    "weights above the cap": ["--network", "8-8-8"],
    "three hidden layers": ["--network", "2-2-2-2-2"],
    "not sizes": ["--network", "2-x-1"],
    "unknown name": ["--set", "w99=0.1"],
    "bias of a unit of a network without biases": ["--network", "2-3-1", "--set", "b_h1=0.2"],
    "a per-layer bias name with per-unit biases": [
        "--biases",
        "trained",
        "--bias-per",
        "unit",
        "--set",
        "b1=0.2",
    ],
    "unknown setting value": ["--set", "activation=softplus"],
    "seed not a number": ["--init-seed", "abc"],
    "samples that do not fit an explicit network": ["--network", "3-2-1", "--samples", "xor"],
    "unknown sample set": ["--samples", "nand"],
    "unknown --blank column": ["--blank", "w42"],
    "too many cells": [
        "--network",
        "8-4-8",
        "--samples",
        "CSV_BIG",
        "--iterations",
        "20000",
        "--lr-list",
        "0.1,0.2,0.5",
    ],
}
CSVS = {
    "wrong columns": "i1,x2,t1\n0,1,1\n",
    "a target missing its number": "i1,i2,t\n0,1,1\n",
    "not a number": "i1,i2,t1\n0,one,1\n",
    "not finite": "i1,i2,t1\n0,inf,1\n",
    "a short row": "i1,i2,t1\n0,1\n",
    "no rows": "i1,i2,t1\n",
    "too many samples": "i1,t1\n" + "0,1\n" * (S.MAX_SAMPLES + 1),
}


def _run_bad(argv, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    try:
        status = main(["build", *argv, "-o", str(out / "b.xlsx")])
    except SystemExit as exit_:
        status = exit_.code
    err = capsys.readouterr().err
    assert status == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert os.listdir(out) == []
    return err


@pytest.mark.parametrize("argv", BAD.values(), ids=BAD.keys())
def test_bad_network_input_is_one_line_and_exit_2(argv, tmp_path, capsys):
    big = "".join(f"i{k}," for k in range(1, 9)) + ",".join(f"t{k}" for k in range(1, 9)) + "\n"
    big += ("0.5," * 15 + "0.5\n") * S.MAX_SAMPLES
    argv = [_write(tmp_path, "big.csv", big) if a == "CSV_BIG" else a for a in argv]
    _run_bad(argv, tmp_path, capsys)


@pytest.mark.parametrize("text", CSVS.values(), ids=CSVS.keys())
def test_bad_samples_csv(text, tmp_path, capsys):
    err = _run_bad(["--samples", _write(tmp_path, "s.csv", text)], tmp_path, capsys)
    assert "s.csv" in err


def test_a_csv_of_samples_in_any_column_order(tmp_path, capsys):
    csv = _write(tmp_path, "s.csv", "t1,i2,i1\n0.2,1,0\n0.9,0,1\n0.4,0.5,0.5\n")
    path = tmp_path / "b.xlsx"
    assert main(["build", "--samples", csv, "--network", "2-3-1", "--iterations", "3", "-o", str(path)]) == 0
    sheet = openpyxl.load_workbook(path)["Inputs"]
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    header = next(i for i, r in enumerate(rows) if r[0] == "Sample")
    assert rows[header][:4] == ["Sample", "i1", "i2", "t1"]
    assert [r[:4] for r in rows[header + 1 : header + 4]] == [
        [1, 0, 1, 0.2],
        [2, 1, 0, 0.9],
        [3, 0.5, 0.5, 0.4],
    ]


def _inputs(path) -> dict:
    sheet = openpyxl.load_workbook(path)["Inputs"]
    return {
        r[0].value: r[1].value
        for r in sheet.iter_rows()
        if isinstance(r[1].value, float | int) and r[0].value
    }


def test_init_seed_draws_reproducible_stated_weights(tmp_path):
    paths = [tmp_path / f"{n}.xlsx" for n in range(3)]
    for path, seed in zip(paths, ("7", "7", "8"), strict=True):
        assert (
            main(["build", "--network", "2-3-2", "--init-seed", seed, "--iterations", "2", "-o", str(path)])
            == 0
        )
    first, again, other = (_inputs(p) for p in paths)
    weights = [f"w{k}" for k in range(1, 13)]
    assert [first[w] for w in weights] == [again[w] for w in weights] != [other[w] for w in weights]
    assert all(abs(first[w]) <= 1 / 2**0.5 for w in weights[:6]) and all(
        abs(first[w]) <= 1 / 3**0.5 for w in weights[6:]
    )
    notes = [
        c.value
        for r in openpyxl.load_workbook(paths[0])["Inputs"].iter_rows()
        for c in r
        if isinstance(c.value, str)
    ]
    assert any("default_rng(7)" in n and "±1/√(fan-in)" in n for n in notes)


def test_set_reaches_any_name_and_setting(tmp_path):
    path = tmp_path / "b.xlsx"
    argv = ["--template", "xor", "--set", "b_h2=0.25", "--set", "w6=-1.5", "--set", "activation=tanh"]
    assert main(["build", *argv, "--iterations", "2", "-o", str(path)]) == 0
    values = _inputs(path)
    assert values["b_h2"] == 0.25 and values["w6"] == -1.5 and values["w1"] == 0.5  # the template's
    sheet = openpyxl.load_workbook(path)["LR 0.1"]
    header = [c.value for c in sheet[5]]
    assert sheet.cell(6, header.index("a_h1_s1") + 1).value.startswith("=TANH(")


def test_batch_without_samples_is_the_one_sample(tmp_path):
    one, online = tmp_path / "a.xlsx", tmp_path / "b.xlsx"
    assert main(["build", "--iterations", "2", "-o", str(one)]) == 0
    assert main(["build", "--batch", "online", "--iterations", "2", "-o", str(online)]) == 0
    a, b = openpyxl.load_workbook(one), openpyxl.load_workbook(online)
    assert [[c.value for c in r] for r in a["LR 0.5"].iter_rows()] == [
        [c.value for c in r] for r in b["LR 0.5"].iter_rows()
    ]


def test_help_states_the_caps(capsys):
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert f"at most {S.MAX_UNITS} units a layer and {S.MAX_WEIGHTS} weights" in out
    assert f"at most {S.MAX_SAMPLES}" in out


def _equations_text(path) -> list[str]:
    sheet = openpyxl.load_workbook(path)["Equations"]
    return [c.value for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]


def test_full_batch_gradients_are_written_as_the_mean_they_show(tmp_path):
    """The number beside ∂E_total/∂w1 is the mean over the samples, while the δ above it are sample 1's:
    the text says so, instead of claiming δ_h1 · i1 (which sample 1's numbers would contradict)."""
    path = tmp_path / "xor.xlsx"
    assert main(["build", "--template", "xor", "--iterations", "2", "--lr-list", "1", "-o", str(path)]) == 0
    lines = _equations_text(path)
    assert "∂E_total/∂w1 = mean over the 4 samples of (δ_h1 · i1)" in lines
    assert "∂E_total/∂b_o1 = mean over the 4 samples of (δ_o1)" in lines
    assert not any(line.startswith("∂E_total/∂w1 = δ_h1") for line in lines)
    single = tmp_path / "single.xlsx"
    argv = ["--network", "2-3-1", "--biases", "trained", "--iterations", "2", "--lr-list", "1"]
    assert main(["build", *argv, "-o", str(single)]) == 0
    assert "∂E_total/∂w1 = δ_h1 · i1" in _equations_text(single)


def test_softmax_delta_names_each_target_of_a_small_layer(tmp_path):
    path = tmp_path / "softmax.xlsx"
    argv = [
        "--output-activation",
        "softmax",
        "--loss",
        "cross-entropy",
        "--iterations",
        "1",
        "--lr-list",
        "2",
    ]
    assert main(["build", *argv, "-o", str(path)]) == 0
    text = "\n".join(_equations_text(path))
    assert "a_o1·(t1 + t2) − t1" in text and "…" not in text.split("δ_o1 = ")[1].split("\n")[0]


def test_summary_and_samples_columns_are_wide_enough_to_read(tmp_path):
    """A bias per unit on one LR: every bias label and number on the Summary gets a column wide enough
    (it showed ### and labels ran over each other); the samples table's columns come out even."""
    path = tmp_path / "xor.xlsx"
    argv = ["--template", "xor", "--network", "2-3-1", "--iterations", "1", "--lr-list", "1"]
    assert main(["build", *argv, "-o", str(path)]) == 0
    book = openpyxl.load_workbook(path)
    summary = book["Summary"]
    labels = [c for c in summary[3] if isinstance(c.value, str) and c.value.endswith(":") and c.column > 1]
    assert [c.value for c in labels] == [f"b_{u} into {u}:" for u in ("h1", "h2", "h3", "o1")]
    for label in labels:
        assert summary.column_dimensions[label.column_letter].width >= len(label.value)
        number = summary.cell(3, label.column + 1)
        assert number.value.startswith("=Inputs!")
        assert summary.column_dimensions[number.column_letter].width >= 12
    inputs = book["Inputs"]
    header = next(r for r in inputs.iter_rows() if r[0].value == "Sample")
    widths = {inputs.column_dimensions[c.column_letter].width for c in header[1:] if c.value}
    assert max(widths) <= 1.5 * min(widths), widths
