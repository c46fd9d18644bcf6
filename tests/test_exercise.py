"""`sheetgen build --exercise` / `--blank`: the student's copy, incomplete until filled in, VERIFIED once
it is.

The filled-in copy is made as a student's spreadsheet program would save it: each empty cell gets
the formula and the value of the same cell of the full book (built without --exercise), written into
the copy's XML; nothing else of the copy changes."""

from __future__ import annotations

import re
import zipfile

import openpyxl
import pytest

from sheetgen.cli import main

CELL = re.compile(r'<c r="([A-Z]+\d+)"([^>]*?)(?:/>|>(.*?)</c>)', re.S)


def _build(path, argv):
    assert main(["build", *argv, "--iterations", "6", "--lr-list", "0.5,2", "-o", str(path)]) == 0


def _fill_in(exercise, full, target) -> int:
    """Copy the full book's formula and value into every empty table cell of the exercise; returns "
    "how many."""
    with zipfile.ZipFile(full) as f:
        full_parts = {n: f.read(n).decode() for n in f.namelist() if n.startswith("xl/worksheets/sheet")}
    filled = 0
    with zipfile.ZipFile(exercise) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item.filename)
            match = re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", item.filename)
            if match and int(match.group(1)) > 1:  # the exercise's sheet N+1 is the full book's sheet N
                full_cells = {
                    m.group(1): m.group(3) or ""
                    for m in CELL.finditer(full_parts[f"xl/worksheets/sheet{int(match.group(1)) - 1}.xml"])
                }

                def fill(m, full_cells=full_cells):
                    nonlocal filled
                    if m.group(3) is None and "<f>" in full_cells.get(m.group(1), ""):
                        filled += 1
                        return f'<c r="{m.group(1)}"{m.group(2)}>{full_cells[m.group(1)]}</c>'
                    return m.group(0)

                data = CELL.sub(fill, data.decode()).encode()
            out.writestr(item, data)
    return filled


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--template", "mazur", "--biases", "trained"],
        ["--template", "xor"],
        ["--network", "2-3-2", "--activation", "tanh"],
    ],
    ids=["course", "mazur-trained", "xor", "2-3-2-tanh"],
)
def test_exercise_is_incomplete_then_verified_when_filled_in(tmp_path, capsys, soffice, argv):
    exercise, full, filled = tmp_path / "exercise.xlsx", tmp_path / "full.xlsx", tmp_path / "filled.xlsx"
    _build(exercise, [*argv, "--exercise"])
    _build(full, argv)
    book = openpyxl.load_workbook(exercise)
    assert book.sheetnames[0] == "Exercise" and "fill in" in book["Exercise"]["A1"].value
    sheet = book["LR 0.5"]
    header = [c.value for c in sheet[5]]
    grad = header.index("∂E/∂w1") + 1
    assert sheet.cell(6, grad).value is None and sheet.cell(5, grad).value == "∂E/∂w1"
    w1 = header.index("w1") + 1
    assert sheet.cell(6, w1).value.startswith("=Inputs!") and sheet.cell(7, w1).value is None
    capsys.readouterr()
    assert main(["verify", str(exercise), "--engine", "cached"]) == 5
    assert "INCOMPLETE" in capsys.readouterr().out
    assert _fill_in(exercise, full, filled) > 20
    status = main(["verify", str(filled)])
    out = capsys.readouterr().out
    assert status == 0 and "VERIFIED" in out, out


def test_blank_names_columns(tmp_path):
    path = tmp_path / "b.xlsx"
    _build(path, ["--blank", "a_h1,E_total,w5"])
    sheet = openpyxl.load_workbook(path)["LR 0.5"]
    header = [c.value for c in sheet[5]]
    for label in ("a_h1", "E_total"):
        assert sheet.cell(6, header.index(label) + 1).value is None
    assert (
        sheet.cell(6, header.index("w5") + 1).value is not None
        and sheet.cell(7, header.index("w5") + 1).value is None
    )
    assert sheet.cell(6, header.index("∂E/∂w1") + 1).value is not None  # not named: kept
    assert "column" in openpyxl.load_workbook(path)["Exercise"]["A5"].value


def test_a_full_batch_exercise_says_its_gradients_are_means(tmp_path):
    """With every sample in a row a gradient column is the mean over the samples' blocks; the
    instructions say so (δ times the source alone would not match the sheet), and only then."""

    def instructions(argv, name):
        path = tmp_path / name
        assert (
            main(["build", *argv, "--exercise", "--iterations", "1", "--lr-list", "1", "-o", str(path)]) == 0
        )
        sheet = openpyxl.load_workbook(path)["Exercise"]
        return " ".join(str(c.value) for row in sheet.iter_rows() for c in row if c.value)

    assert "mean over the samples of δ times the source" in instructions(["--template", "xor"], "full.xlsx")
    online = instructions(["--template", "xor", "--batch", "online"], "online.xlsx")
    assert "mean over the samples" not in online and "δ of the unit w feeds times w's source" in online


def test_a_filled_in_copy_saved_without_values_is_judged_by_its_recalculation(tmp_path, capsys, soffice):
    """A student's copy saved by a program that never calculates (openpyxl, a script) holds formulas
    with no saved values: that is no mistake, LibreOffice's recalculated values are what get judged."""
    exercise, full, filled = tmp_path / "exercise.xlsx", tmp_path / "full.xlsx", tmp_path / "filled.xlsx"
    _build(exercise, ["--exercise"])
    _build(full, [])
    assert _fill_in(exercise, full, filled) > 20
    unsaved = tmp_path / "unsaved.xlsx"
    stripped = 0
    with zipfile.ZipFile(filled) as source, zipfile.ZipFile(unsaved, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/sheet"):
                text, count = re.subn(r"(</f>)<v>[^<]*</v>", r"\1", data.decode())
                data, stripped = text.encode(), stripped + count
            out.writestr(item, data)
    assert stripped > 100
    capsys.readouterr()
    status = main(["verify", str(unsaved)])
    out = capsys.readouterr().out
    assert status == 0 and "VERIFIED" in out, out
