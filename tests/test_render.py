"""sheetgen render: one PNG per sheet, named after it, with the charts LibreOffice draws."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from sheetgen import cli
from sheetgen.build.params import load_template
from sheetgen.build.writer import write_workbook
from sheetgen.office import render

LRS = [0.5, 2.0]


def _colourful_pixels(path) -> int:
    """Pixels of strong colour: chart lines and legends; table text and header fills are grey or pale."""
    rgb = np.asarray(Image.open(path).convert("RGB")).astype(int)
    return int(((rgb.max(axis=2) - rgb.min(axis=2)) > 100).sum())


def test_every_sheet_becomes_a_png_with_its_chart(tmp_path, capsys, pdftoppm):
    _, params = load_template("era-v1")
    book = tmp_path / "BackProp.xlsx"
    write_workbook(book, params, LRS, 12, template_name="era-v1")
    status = cli.main(["render", str(book), "-o", str(tmp_path / "png")])
    out, err = capsys.readouterr()
    assert status == 0, err
    names = ["Summary.png", "Inputs.png", "LR_0.5.png", "LR_2.png", "Equations.png"]
    assert out.splitlines() == [str(tmp_path / "png" / n) for n in names]
    assert sorted(p.name for p in (tmp_path / "png").iterdir()) == sorted(names)  # no temporary files left
    for name in ("Summary.png", "LR_0.5.png", "LR_2.png"):
        width, height = Image.open(tmp_path / "png" / name).size
        assert width > 500 and height > 300
        assert _colourful_pixels(tmp_path / "png" / name) > 500, name  # the chart's series were drawn
    assert _colourful_pixels(tmp_path / "png" / "Inputs.png") < _colourful_pixels(
        tmp_path / "png" / "Summary.png"
    )


@pytest.mark.parametrize(
    "sheet, name", [("LR 0.5", "LR_0.5.png"), ("Summary", "Summary.png"), ("a/b:c", "a_b_c.png")]
)
def test_png_names(sheet, name):
    assert render.png_name(sheet) == name


def test_bad_input_is_one_line(tmp_path, capsys):
    (tmp_path / "notes.xlsx").write_text("not a workbook")
    status = cli.main(["render", str(tmp_path / "notes.xlsx"), "-o", str(tmp_path / "out")])
    _, err = capsys.readouterr()
    assert status == 2 and err.count("\n") == 1 and "not an .xlsx workbook" in err
    (tmp_path / "file").write_text("x")
    status = cli.main(["render", str(tmp_path / "notes.xlsx"), "-o", str(tmp_path / "file")])
    _, err = capsys.readouterr()
    assert status == 2 and "is not a folder" in err
