"""LibreOffice recalculation: it really recalculates, avoids the threaded-SUM trap, names failures.

One soffice run for the whole module: every book goes through a single Batch.
"""

from __future__ import annotations

import math
import zipfile
from xml.etree import ElementTree as ET

import pytest
import xlsxwriter

from sheetgen.core import xlsx
from sheetgen.core.errors import UserError
from sheetgen.office import recalc

SUM_ROWS = 150


def _stale_book(path):
    """Formulas whose saved values are deliberately wrong: only a real recalculation fixes them."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("S")
    for r, x in enumerate((-2.0, -0.3, 0.0, 0.7, 3.5)):
        sheet.write_number(r, 0, x)
        sheet.write_formula(r, 1, f"=1/(1+EXP(-A{r + 1}))", None, 42.0)
        sheet.write_formula(r, 2, f"=0.5*(0.99-B{r + 1})^2", None, -1.0)
    book.close()


def _sum_book(path):
    """A SUM over a 150-row column of formulas: LibreOffice's threaded group calculation gets this wrong."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("S")
    for r in range(SUM_ROWS):
        sheet.write_number(r, 0, r + 1)
        sheet.write_formula(r, 1, f"=A{r + 1}*A{r + 1}/7", None, 0)
    sheet.write_formula(SUM_ROWS, 1, f"=SUM(B1:B{SUM_ROWS})", None, 0)
    book.close()


@pytest.fixture(scope="module")
def batch_outputs(tmp_path_factory, soffice):
    folder = tmp_path_factory.mktemp("recalc")
    (folder / "one").mkdir()
    (folder / "two").mkdir()
    stale, same_name, summed = folder / "one" / "book.xlsx", folder / "two" / "book.xlsx", folder / "sum.xlsx"
    _stale_book(stale)
    _sum_book(same_name)  # same file name as `stale`, other folder: outputs must not collide
    _sum_book(summed)
    broken = folder / "broken.xlsx"
    broken.write_bytes(stale.read_bytes()[:2000])  # a truncated zip: LibreOffice cannot open it
    out = tmp_path_factory.mktemp("recalc-out")
    with recalc.Batch([stale, broken, same_name, summed], out) as batch:
        outputs = [batch.output(i) for i in range(4)]
        failure = batch.failure(1)
        return {"outputs": outputs, "failure": failure}


def test_recalculation_replaces_stale_cached_values(batch_outputs):
    sheet = xlsx.read_book(batch_outputs["outputs"][0]).sheets[0]
    for r, x in enumerate((-2.0, -0.3, 0.0, 0.7, 3.5), start=1):
        a = 1 / (1 + math.exp(-x))
        assert sheet.values[(r, 2)] == pytest.approx(a, rel=1e-14)
        assert sheet.values[(r, 3)] == pytest.approx(0.5 * (0.99 - a) ** 2, rel=1e-12)
        assert sheet.formula(r, 2) == f"1/(1+EXP(-A{r}))"


def test_sum_over_150_rows_is_right(batch_outputs):
    expected = sum(r * r / 7 for r in range(1, SUM_ROWS + 1))
    for output in batch_outputs["outputs"][2:]:
        sheet = xlsx.read_book(output).sheets[0]
        assert sheet.values[(SUM_ROWS + 1, 2)] == pytest.approx(expected, rel=1e-13)


def test_failed_conversion_is_named_not_silent(batch_outputs):
    assert batch_outputs["outputs"][1] is None
    assert "could not open or convert" in batch_outputs["failure"]
    assert all(out is not None and out.exists() for i, out in enumerate(batch_outputs["outputs"]) if i != 1)


def test_profile_forces_recalculation_and_turns_threading_off(tmp_path):
    url = recalc.make_profile(tmp_path)
    assert url.startswith("file://")
    root = ET.parse(tmp_path / "user" / "registrymodifications.xcu").getroot()
    settings = {
        (
            item.get("{http://openoffice.org/2001/registry}path"),
            prop.get("{http://openoffice.org/2001/registry}name"),
        ): prop.findtext("value")
        for item in root
        for prop in item
    }
    assert settings[("/org.openoffice.Office.Calc/Formula/Load", "OOXMLRecalcMode")] == "0"
    key = ("/org.openoffice.Office.Calc/Formula/Calculation", "UseThreadedCalculationForFormulaGroups")
    assert settings[key] == "false"
    assert recalc.soffice_env()["SC_NO_THREADED_CALCULATION"] == "1"


def test_missing_libreoffice_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(recalc, "find_soffice", lambda: None)
    with pytest.raises(UserError) as error:
        recalc.recalculate([tmp_path / "x.xlsx"], tmp_path)
    message = str(error.value)
    assert "apt-get install -y --no-install-recommends libreoffice-calc-nogui" in message
    assert "\n" not in message


def test_recalculate_raises_naming_the_failed_file(tmp_path, soffice):
    # The cheap way to reach the failure path without a second soffice start: a timeout of zero.
    path = tmp_path / "a.xlsx"
    _stale_book(path)
    with pytest.raises(UserError, match=r"recalculation failed for .*a\.xlsx \(LibreOffice did not finish"):
        recalc.recalculate([path], tmp_path / "out", timeout=1e-9)
    assert zipfile.is_zipfile(path)  # the input is untouched
