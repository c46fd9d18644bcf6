"""`sheetgen verify` knows the spec of a book sheetgen built: VERIFIED for every network it builds, and a
wrong formula in such a book is still found (by value, and by the proof at random inputs)."""

from __future__ import annotations

import shutil
import zipfile

import pytest

from sheetgen.cli import main

SPECS = {
    "xor": ["--template", "xor"],
    "and-online": ["--samples", "and", "--batch", "online", "--biases", "trained", "--bias-per", "unit"],
    "softmax": ["--network", "3-4-3", "--output-activation", "softmax", "--loss", "cross-entropy"],
    "neuron": [
        "--network",
        "2-1",
        "--output-activation",
        "linear",
        "--loss",
        "squared",
        "--biases",
        "trained",
    ],
    "deep-tanh": ["--network", "2-3-3-2", "--activation", "tanh", "--biases", "fixed"],
    "relu-bce": ["--network", "2-3-1", "--activation", "relu", "--loss", "cross-entropy", "--init-seed", "3"],
    "one-one": ["--network", "1-1-1", "--biases", "trained"],
    "or-online": ["--samples", "or", "--network", "2-1-1", "--batch", "online"],
    # One sample from a CSV: its values are read from the samples table's first row, full or online.
    "one-sample-full": ["--samples", "{one.csv}", "--network", "2-3-2", "--batch", "full"],
    "one-sample-online": ["--samples", "{one.csv}", "--batch", "online", "--biases", "trained"],
}
CSVS = {"one.csv": "i1,i2,t1,t2\n-0.328,0.639,0.47,0.82\n"}  # written to tmp_path for argv's {one.csv}


def _build(tmp_path, name, argv, iterations=6):
    for file, text in CSVS.items():
        (tmp_path / file).write_text(text)
    argv = [str(tmp_path / a[1:-1]) if a.startswith("{") else a for a in argv]
    path = tmp_path / f"{name}.xlsx"
    assert main(["build", *argv, "--iterations", str(iterations), "--lr-list", "0.5,3", "-o", str(path)]) == 0
    return path


@pytest.mark.parametrize("name", list(SPECS))
def test_every_built_spec_is_verified(tmp_path, capsys, name):
    path = _build(tmp_path, name, SPECS[name])
    capsys.readouterr()
    assert main(["verify", str(path), "--engine", "cached"]) == 0
    out = capsys.readouterr().out
    assert "VERIFIED" in out and "read from the spec the book records" in out


def _replace_formula(path, target, sheet_index: int, cell: str, new_formula: str) -> None:
    """Rewrite one cell's formula in the sheet XML (its cached value kept), as a hand edit would."""
    import re

    with zipfile.ZipFile(path) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == f"xl/worksheets/sheet{sheet_index}.xml":
                text = data.decode()
                pattern = re.compile(rf'(<c r="{cell}"[^>]*><f>)([^<]*)(</f>)')
                assert pattern.search(text), cell
                text = pattern.sub(lambda m: m.group(1) + new_formula + m.group(3), text, count=1)
                data = text.encode()
            out.writestr(item, data)


def test_a_wrong_formula_in_a_built_spec_book_is_found(tmp_path, capsys, soffice):
    path = _build(tmp_path, "xor", SPECS["xor"])
    capsys.readouterr()
    assert main(["verify", str(path)]) == 0  # LibreOffice recalculates it: saved values equal, VERIFIED
    assert "saved values equal LibreOffice's" in capsys.readouterr().out
    wrong = tmp_path / "wrong.xlsx"
    # Sheet 3 is 'LR 0.5'; its first row is row 6. Find ∂E/∂w5's column from the header.
    import openpyxl

    sheet = openpyxl.load_workbook(path)["LR 0.5"]
    col = next(c.column_letter for c in sheet[5] if c.value == "∂E/∂w5")
    formula = sheet[f"{col}6"].value.removeprefix("=")
    assert "a_h1" not in formula and "*" in formula
    # δ_o1 times a_h2 in place of a_h1 for sample 1: the classic slip.
    a_h1 = next(c.column_letter for c in sheet[5] if c.value == "a_h1_s1")
    a_h2 = next(c.column_letter for c in sheet[5] if c.value == "a_h2_s1")
    _replace_formula(path, wrong, 3, f"{col}6", formula.replace(f"{a_h1}6", f"{a_h2}6", 1))
    capsys.readouterr()
    assert main(["verify", str(wrong)]) == 1
    out = capsys.readouterr().out
    assert "WRONG" in out and f"{col}6" in out and "∂E/∂w5" in out


def test_a_formula_right_only_at_its_numbers_is_not_verified(tmp_path, capsys):
    """t1 of sample 1 is 0 in XOR: a gradient that drops it is right at the sheet's numbers only."""
    path = _build(tmp_path, "xor", SPECS["xor"])
    import openpyxl

    sheet = openpyxl.load_workbook(path)["LR 0.5"]
    col = next(c.column_letter for c in sheet[5] if c.value == "δ_o1_s1")
    formula = sheet[f"{col}6"].value.removeprefix("=")
    t1 = next(c.column_letter for c in sheet[5] if c.value == "t1_s1")
    changed = tmp_path / "changed.xlsx"
    _replace_formula(path, changed, 3, f"{col}6", formula.replace(f"-{t1}6", "", 1))
    capsys.readouterr()
    status = main(["verify", str(changed), "--engine", "cached"])
    out = capsys.readouterr().out
    assert status == 3 and "RIGHT ONLY AT ITS NUMBERS" in out and f"{col}6" in out, out
    shutil.rmtree(tmp_path, ignore_errors=True)
