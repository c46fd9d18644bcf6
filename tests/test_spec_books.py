"""Books of other networks, built by the command line, edited on the Inputs sheet as a student would,
recalculated by LibreOffice and by Gnumeric: every LR-sheet cell equals the oracle trained on the
edited values (and the spec recorded in the book is the one built)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import openpyxl
import pytest

from sheetgen.cli import main
from sheetgen.core import oracle
from sheetgen.core.columns import spec_columns
from sheetgen.core.layout import lr_sheet_name
from sheetgen.core.spec import NetworkSpec
from sheetgen.office import gnumeric
from sheetgen.office.recalc import recalculate as libreoffice_recalculate

ITERATIONS = 8
CSVS = {"one.csv": "i1,i2,t1,t2\n-0.328,0.639,0.47,0.82\n"}  # written to tmp_path for argv's {one.csv}
LRS = [0.5, 2.0]
BOOKS = {  # name -> (argv, the values to edit on the Inputs sheet)
    "xor": (["--template", "xor"], {"w1": -0.8, "b_o1": 0.3, ("sample", 2, "t1"): 0.9}),
    "online-tanh": (
        [
            "--samples",
            "xor",
            "--batch",
            "online",
            "--activation",
            "tanh",
            "--biases",
            "trained",
            "--bias-per",
            "unit",
        ],
        {"w6": 1.3, ("sample", 4, "i1"): 0.5},
    ),
    "softmax": (
        [
            "--network",
            "3-4-3",
            "--output-activation",
            "softmax",
            "--loss",
            "cross-entropy",
            "--init-seed",
            "4",
        ],
        {"w3": 0.9, "i2": -0.7, "t1": 0.2, "t2": 0.8},
    ),
    "neuron": (
        ["--network", "2-1", "--output-activation", "linear", "--loss", "squared", "--biases", "trained"],
        {"b1": 0.4, "i1": 1.5},
    ),
    # One sample from a CSV: its values are the samples table's first row (full batch once crashed the
    # build), and online it must not be INDEXed from a one-row table, which Gnumeric answers with #REF!.
    "one-sample-full": (["--samples", "{one.csv}", "--batch", "full"], {("sample", 1, "t2"): 0.3, "w2": 0.7}),
    "one-sample-online": (
        ["--samples", "{one.csv}", "--batch", "online", "--biases", "trained"],
        {("sample", 1, "i1"): 0.9, "b2": -0.2},
    ),
    "deep-relu": (
        ["--network", "2-3-3-2", "--activation", "relu", "--biases", "fixed", "--set", "w1=0.9"],
        {"w4": -0.6, "b2": 0.2},
    ),
}


def _load(path, data_only=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return openpyxl.load_workbook(path, data_only=data_only)


def _inputs(book) -> tuple[dict, list]:
    """The labelled values and the samples table of a book's Inputs sheet."""
    sheet = book["Inputs"]
    values, samples, header = {}, [], None
    for row in sheet.iter_rows():
        label = row[0].value
        if header is not None and isinstance(label, int | float):
            samples.append({h: row[c].value for c, h in enumerate(header) if c})
        elif label == "Sample":
            header = [c.value for c in row if c.value is not None]
        elif isinstance(label, str) and isinstance(row[1].value, int | float) and header is None:
            values[label] = float(row[1].value)
    return values, samples


def _edit(source, target, edits) -> None:
    book = _load(source, data_only=False)
    sheet = book["Inputs"]
    rows = list(sheet.iter_rows())
    for key, value in edits.items():
        if isinstance(key, tuple):
            _, number, name = key
            header = next(r for r in rows if r[0].value == "Sample")
            col = next(c.column for c in header if c.value == name)
            sheet.cell(header[0].row + number, col).value = value
        else:
            row = next(r for r in rows if r[0].value == key)
            sheet.cell(row[0].row, 2).value = value
    book.save(target)


def _spec_of(path) -> NetworkSpec:
    recorded = json.loads(_load(path, data_only=False).custom_doc_props["network"].value)
    return recorded


def _assert_equals_oracle(path, spec: NetworkSpec, params: dict) -> float:
    book = _load(path)
    columns = spec_columns(spec)
    worst = 0.0
    for eta in LRS:
        sheet = book[lr_sheet_name(eta)]
        header = next(r for r in sheet.iter_rows() if r[0].value == "Iteration")
        assert [c.value for c in header[: len(columns)]] == [c.label for c in columns]
        expected = oracle.train_spec(spec, params, eta, ITERATIONS)
        for col, column in enumerate(columns):
            found = np.array(
                [sheet.cell(header[0].row + 1 + n, col + 1).value for n in range(ITERATIONS + 1)],
                dtype=np.float64,
            )
            want = expected[column.key]
            error = np.abs(found - want) / np.maximum(np.abs(want), 1e-3)
            assert (error < 1e-11).all(), (column.key, found, want)
            worst = max(worst, float(error.max()))
    return worst


@pytest.mark.parametrize("name", list(BOOKS))
def test_both_engines_follow_an_edit_of_any_spec(ssconvert, soffice, tmp_path, name):
    argv, edits = BOOKS[name]
    for file, text in CSVS.items():
        (tmp_path / file).write_text(text)
    argv = [str(tmp_path / a[1:-1]) if a.startswith("{") else a for a in argv]
    built = tmp_path / "built.xlsx"
    lrs = ",".join(map(str, LRS))
    assert main(["build", *argv, "--iterations", str(ITERATIONS), "--lr-list", lrs, "-o", str(built)]) == 0
    _edit(built, tmp_path / "edited.xlsx", edits)
    values, samples = _inputs(_load(tmp_path / "edited.xlsx", data_only=False))
    recorded = _spec_of(built)
    spec = NetworkSpec(
        sizes=tuple(recorded["sizes"]),
        **{
            k: recorded[k] for k in ("activation", "output_activation", "loss", "biases", "bias_per", "batch")
        },
        samples=None
        if not samples
        else tuple(
            (
                tuple(s[f"i{k}"] for k in range(1, recorded["sizes"][0] + 1)),
                tuple(s[f"t{k}"] for k in range(1, recorded["sizes"][-1] + 1)),
            )
            for s in samples
        ),
    )
    assert spec.recorded() == _load(built, data_only=False).custom_doc_props["network"].value
    by_gnumeric = gnumeric.recalculate(tmp_path / "edited.xlsx", tmp_path / "gnumeric.xlsx")
    (by_libreoffice,) = libreoffice_recalculate([tmp_path / "edited.xlsx"], tmp_path / "lo")
    for recalculated in (by_gnumeric, by_libreoffice):
        assert _assert_equals_oracle(recalculated, spec, values) < 1e-11
