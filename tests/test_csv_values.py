"""LibreOffice's CSV of a book's values (office/csv_values.py) against its .xlsx of the same book.

The .xlsx LibreOffice writes is the reference: the CSV must give every cell the same value and the
same type (text stays text even when it reads "0.5"; an error stays an error; a boolean a boolean),
or give up (None) so the caller asks for the .xlsx. Verdicts must not depend on which one verify
read, so a class of right and wrong hand-made books is judged both ways and compared.
"""

from __future__ import annotations

import datetime
import json
import math
import subprocess
import sys
from pathlib import Path

import openpyxl
import openpyxl.chart
import pytest
from handmade_books import EVA8, LAYOUTS, write_handmade

from sheetgen.core import xlsx
from sheetgen.core.cells import CellValues
from sheetgen.core.xlsx import ErrorValue
from sheetgen.office import csv_values, recalc
from sheetgen.verify import command

ODD_NAMES = ["LR 0.1", "Ünïcode η", "it's", "a.b", "x" * 31, "Empty", "Sheet-1", "E_total (%)"]


def _probe(path: Path) -> Path:
    """A book of every kind of cell a class sends: on a sheet whose data starts at C3."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Data"
    cells = {
        "C3": 0.1,
        "D3": "=C3*3",
        "E3": "0.5",  # text that looks like a number
        "F3": 'a,b "q"\nsecond line',
        "C4": "=1/0",
        "D4": "=NA()",
        "E4": True,
        "F4": "=1>0",
        "C5": 0.25,  # formatted as a percentage below
        "D5": "=C5*2",
        "C6": datetime.date(2024, 1, 2),
        "D6": "=C6+1",
        "C7": 1e-300,
        "D7": 1e300,
        "E7": -2.5e-20,
        "F7": '=""',
        "C8": "#NAME?",  # openpyxl stores it as an error constant
        "D8": "=FOO(1)",
        "E8": 123456789.123456789,
        "C9": "=1/3",
        "D9": "=-2^2",
        "E9": "=SQRT(2)*1E+200",
        "G10": "=SUM(C3:C9)",
        "H2": "=EXP(-C3)/(1+EXP(-C3))",
    }
    for ref, value in cells.items():
        sheet[ref] = value
    sheet["C5"].number_format = "0.00%"
    sheet["C9"].number_format = "0.00"
    sheet["E8"].number_format = "#,##0.00 €"
    sheet.row_dimensions[5].hidden = True
    sheet.column_dimensions["D"].hidden = True
    sheet["C3"].comment = openpyxl.comments.Comment("a note", "teacher")
    for name in ODD_NAMES:
        other = book.create_sheet(name)
        if name != "Empty":
            other["A1"] = name
            other["B2"] = "=Data!C3*2"
    book.create_sheet("Hidden").sheet_state = "hidden"
    book["Hidden"]["A1"] = "=Data!D3"
    book.save(path)
    return path


def _recalculated(path: Path, out: Path, **options):
    with recalc.Batch([path], out, **options) as batch:
        output = batch.output(0)
        assert output is not None, batch.failure(0)
        return output


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or math.isclose(a, b, rel_tol=5e-15)
    return (type(a), a) == (type(b), b)


def test_the_csv_gives_every_cell_the_value_and_type_of_libreoffices_xlsx(soffice, tmp_path):
    path = _probe(tmp_path / "probe.xlsx")
    original = xlsx.read_book(path)
    stem = _recalculated(path, tmp_path / "csv", values=True, cells_only=True)
    from_csv = csv_values.read(stem, original)
    assert from_csv is not None
    reference = xlsx.read_book(_recalculated(path, tmp_path / "xlsx", cells_only=True))
    assert [s.name for s in from_csv.sheets] == [s.name for s in reference.sheets]
    for ours, theirs in zip(from_csv.sheets, reference.sheets, strict=True):
        a, b = dict(ours.values.items()), dict(theirs.values.items())
        assert set(a) == set(b), ours.name
        different = {cell: (a[cell], b[cell]) for cell in a if not _same(a[cell], b[cell])}
        assert not different, (ours.name, different)
    data = from_csv.sheet("Data").values
    assert data[(3, 5)] == "0.5" and type(data[(3, 5)]) is str
    assert isinstance(data[(4, 3)], ErrorValue) and data[(4, 3)] == "#DIV/0!"
    assert data[(5, 3)] == 0.25 and data[(6, 3)] == 45293.0  # plain numbers: formats were made General
    assert data[(9, 4)] == 4.0 and data[(4, 5)] is True
    # the formulas are the original's, so every check reads the student's own text
    assert from_csv.sheet("Data").formula(3, 4) == "C3*3"


def test_libreoffice_writes_the_same_csv_under_any_locale(soffice, tmp_path, monkeypatch):
    """Under LANG=de_DE LibreOffice would write 0,1 and WAHR; the profile fixes its locale to en-US."""
    path = _probe(tmp_path / "probe.xlsx")
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    stem = _recalculated(path, tmp_path / "csv", values=True, cells_only=True)
    # The Data sheet alone: where de_DE is not installed, LibreOffice cannot write "Ünïcode η" as a
    # file name, and read() then returns None for the whole book, as it must when a sheet has no file.
    data_only = xlsx.Book(path, [xlsx.read_book(path).sheet("Data")], {})
    data = csv_values.read(stem, data_only).sheet("Data").values
    assert data[(3, 4)] == pytest.approx(0.3, rel=1e-15)
    assert data[(4, 6)] is True and data[(9, 3)] == 0.333333333333333 and data[(5, 3)] == 0.25


def _verdict(path: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "sheetgen", "verify", str(path), "--json"], capture_output=True, text=True
    )
    return json.loads(done.stdout)["workbooks"][0]


def test_a_book_with_a_dated_formula_is_asked_for_as_an_xlsx_at_once(soffice, tmp_path):
    """A formula returning a date comes back as "2024-01-03" even with General formats: not trusted."""
    path = tmp_path / "dated.xlsx"
    write_handmade(path, LAYOUTS["classic"], EVA8, 0.5, 3, None)
    book = openpyxl.load_workbook(path)
    book.worksheets[0]["AZ1"] = "=IF(1,today(),0)"
    book.save(path)
    stem = _recalculated(path, tmp_path / "csv", values=True, cells_only=True)
    assert csv_values.read(stem, xlsx.read_book(path)) is None  # what asking for the CSV would give
    assert not command.values_will_do(xlsx.read_book(path))  # so it is not asked for
    assert _verdict(path)["verdict"] == "verified"


def test_a_csv_found_untrustworthy_is_replaced_by_the_xlsx_of_the_book_alone(soffice, tmp_path):
    """A book with a chart sheet goes to LibreOffice whole, formats and all: its date cell comes back as
    a date, which the reader will not guess at; verify then recalculates that book alone as .xlsx."""
    path = tmp_path / "charted.xlsx"
    write_handmade(path, LAYOUTS["classic"], EVA8, 0.5, 3, None)
    book = openpyxl.load_workbook(path)
    book.worksheets[0]["AZ1"] = datetime.date(2024, 1, 2)
    chart = openpyxl.chart.LineChart()
    chart.add_data(openpyxl.chart.Reference(book.worksheets[0], min_col=6, min_row=5, max_row=8))
    book.create_chartsheet("Chart").add_chart(chart)
    book.save(path)
    assert not recalc.cells_only_copy(path, tmp_path / "copy.xlsx")
    stem = _recalculated(path, tmp_path / "csv", values=True)
    assert csv_values.read(stem, xlsx.read_book(path)) is None
    assert command.values_will_do(xlsx.read_book(path))  # no dated formula: the CSV is tried first
    assert _verdict(path)["verdict"] == "verified"


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text, encoding="utf-8")


def _book(*names: str, cells=None, typed=None) -> xlsx.Book:
    """A book as the reader gives it: `cells` formulas and `typed` values, by (sheet, row, col)."""
    sheets = [xlsx.Sheet(name) for name in names]
    for (sheet, row, col), text in (cells or {}).items():
        sheets[names.index(sheet)].formulas.add(row, col, text)
    for sheet in sheets:
        mine = {(r, c): v for (name, r, c), v in (typed or {}).items() if name == sheet.name}
        sheet.values = CellValues.of(mine)
        sheet.formulas.finish()
    return xlsx.Book(Path("x.xlsx"), sheets, {})


def test_the_reader_trusts_only_what_it_cannot_misread(tmp_path):
    stem = tmp_path / "book00000"
    _write(tmp_path, "book00000-S.csv", '1.5,"text",TRUE,12.5%,"#N/A","#N/A"\n,,,-2E-005,"",""\n')
    formulas = {("S", 1, 5): "NA()", ("S", 2, 6): '""'}
    typed = {("S", 1, 1): 1.5, ("S", 1, 2): "text", ("S", 1, 6): "#N/A", ("S", 2, 5): ""}
    book = csv_values.read(stem, _book("S", cells=formulas, typed=typed))
    values = dict(book.sheets[0].values.items())
    assert values == {
        (1, 1): 1.5,
        (1, 2): "text",
        (1, 3): True,
        (1, 4): 0.125,
        (1, 5): "#N/A",
        (1, 6): "#N/A",
        (2, 4): -2e-5,
        (2, 5): "",
        (2, 6): None,
    }
    assert isinstance(values[(1, 5)], ErrorValue)  # a formula's error
    assert not isinstance(values[(1, 6)], ErrorValue)  # typed text that reads like one
    for bad in ("01/03/2024\n", '"a"b\n', '1,2"x"\n', "1 234\n"):
        _write(tmp_path, "book00000-S.csv", bad)
        assert csv_values.read(stem, _book("S")) is None, bad
    # a number typed in that comes back as text was written in a way of its own (a locale's 0,5)
    _write(tmp_path, "book00000-S.csv", '"0,5"\n')
    assert csv_values.read(stem, _book("S", typed={("S", 1, 1): 0.5})) is None
    assert csv_values.read(stem, _book("S", typed={("S", 1, 1): "0,5"})) is not None
    # a sheet LibreOffice wrote no file for (it writes one for every sheet, even empty): not trusted
    _write(tmp_path, "book00000-S.csv", "1\n")
    assert csv_values.read(stem, _book("S")) is not None
    assert csv_values.read(stem, _book("S", "Empty")) is None


def test_a_book_whose_last_cell_is_far_out_is_asked_for_as_an_xlsx():
    near = _book("S", cells={("S", 1, 1): "1", ("S", 100, 30): "2"})
    far = _book("S", cells={("S", 1, 1): "1", ("S", 1_048_576, 16_384): "2"})
    assert csv_values.sheet_area(far.sheets[0]) == 1_048_576 * 16_384
    assert command.values_will_do(near)
    assert not command.values_will_do(far)


@pytest.fixture(scope="module")
def small_class(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("class")
    for layout in ("classic", "course"):
        write_handmade(folder / f"{layout}-right.xlsx", LAYOUTS[layout], EVA8, 0.5, 4, None)
        for mistake in ("w3-uses-a_h1-derivative", "E2-from-a_o1", "update-wrong-sign", "w1-circular-update"):
            write_handmade(folder / f"{layout}-{mistake}.xlsx", LAYOUTS[layout], EVA8, 0.5, 4, mistake)
    return folder


def _verdicts(folder: Path, monkeypatch, capsys, as_values: bool) -> list[dict]:
    from sheetgen import cli

    monkeypatch.setattr(command, "values_will_do", lambda book: as_values)
    cli.main(["verify", str(folder), "--json", "--jobs", "2"])
    books = json.loads(capsys.readouterr().out)["workbooks"]
    # what a teacher reads; "found" is left out: the CSV's 15 digits print a shade differently
    wrong = ("sheet", "cell", "column", "diagnosis")
    return [(b["file"], b["verdict"], {k: (b.get("first_wrong") or {}).get(k) for k in wrong}) for b in books]


def test_verdicts_are_the_same_read_from_the_csv_or_from_the_xlsx(soffice, small_class, monkeypatch, capsys):
    from_csv = _verdicts(small_class, monkeypatch, capsys, True)
    from_xlsx = _verdicts(small_class, monkeypatch, capsys, False)
    assert from_csv == from_xlsx
    assert {verdict for _, verdict, _ in from_csv} >= {"verified", "wrong"}


TRUNCATING_SOFFICE = """#!{python}
# Stands in for LibreOffice asked for CSV: writes each book's sheets as LibreOffice would, but on a
# book that says cut-me writes half of its first sheet's file and dies, as a crash mid-write would.
import csv, pathlib, sys, zipfile
import openpyxl
args = sys.argv[1:]
out = pathlib.Path(args[args.index("--outdir") + 1])
for name in args[args.index("--outdir") + 2:]:
    with zipfile.ZipFile(name) as book:
        cut = any(b"cut-me" in book.read(p) for p in book.namelist() if p.endswith(".xml"))
    for sheet in openpyxl.load_workbook(name, data_only=True).worksheets:
        target = out / f"{{pathlib.Path(name).stem}}-{{sheet.title}}.csv"
        with open(target, "w", newline="") as handle:
            rows = list(sheet.iter_rows(min_row=1, min_col=1, values_only=True))
            rows = rows[: len(rows) // 2] if cut else rows
            csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC).writerows(rows)
        if cut:
            sys.exit(139)
"""


def test_a_csv_cut_short_by_a_crash_is_never_read(tmp_path, monkeypatch, capsys):
    from sheetgen import cli

    fake = tmp_path / "soffice"
    fake.write_text(TRUNCATING_SOFFICE.format(python=sys.executable))
    fake.chmod(0o755)
    monkeypatch.setattr(recalc, "find_soffice", lambda: str(fake))
    books = []
    for name in ("a", "b"):
        book = openpyxl.Workbook()
        sheet = book.active
        sheet["A1"], sheet["B1"], sheet["A2"], sheet["B2"] = "w1", "w2", 0.15, 0.2
        sheet["A3"] = "cut-me" if name == "b" else "keep"
        book.save(tmp_path / f"{name}.xlsx")
        books.append(str(tmp_path / f"{name}.xlsx"))
    cli.main(["verify", "--jobs", "1", "--json", *books])
    verdicts = {Path(b["file"]).stem: b for b in json.loads(capsys.readouterr().out)["workbooks"]}
    assert verdicts["b"]["verdict"] == "unreadable" and "crashed" in verdicts["b"]["error"]
    assert "crashed" not in (verdicts["a"]["error"] or "")


def test_sheet_names_libreoffice_writes_otherwise_are_never_mixed_up(soffice, tmp_path):
    """LibreOffice writes the sheet "a%20b" to the file of "a b": a book with both is read from its .xlsx."""
    path = tmp_path / "names.xlsx"
    book = openpyxl.Workbook()
    book.active.title = "a b"
    book.active["A1"] = 1.0
    book.create_sheet("a%20b")  # empty, so its CSV (written last) would stand for "a b"
    for name in ("50%", "x&y", "(p)", " lead", "中文"):  # names kept as they are: read from the CSV
        book.create_sheet(name)["A1"] = 2.0
    book.save(path)
    stem = _recalculated(path, tmp_path / "csv", values=True, cells_only=True)
    original = xlsx.read_book(path)
    assert csv_values.read(stem, original) is None
    kept = xlsx.Book(path, [s for s in original.sheets if s.name not in ("a b", "a%20b")], {})
    assert all(s.values[(1, 1)] == 2.0 for s in csv_values.read(stem, kept).sheets)
