"""`sheetgen verify` for a whole class: annotated copies, the HTML report, parallel LibreOffice, intake.

One class of books (built ones, one of them edited by a student; hand-made ones with known mistakes;
a copy of one; .ods, .xls and .xlsm submissions; a file in a subfolder; a hostile file name; a
file that is no workbook) goes through ONE command: --recursive --annotate --html --json --jobs 2.
The tests then read what it wrote: with openpyxl, with LibreOffice (recalculating the copies), and
with headless Chromium (the report's DOM and a screenshot). Expected values come from the matrix
form of backpropagation (tests/backprop_reference.py), not from sheetgen.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import termios
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote
from xml.etree import ElementTree

import openpyxl
import pytest
from backprop_reference import matrix_row
from conftest import _require
from handmade_books import EVA8, LAYOUTS, write_handmade
from openpyxl.comments import Comment
from openpyxl.utils import get_column_letter

from sheetgen.build.params import load_template
from sheetgen.build.writer import write_workbook
from sheetgen.core import xlsx
from sheetgen.office import recalc
from sheetgen.verify.report import workbook_edit
from sheetgen.verify.report.annotate import UNPROVEN_FILL, WRONG_FILL

HOSTILE = "<img src=x onerror=alert(1)>&'.xlsx"
W3_MISTAKE = "a_h1·(1−a_h1) in place of a_h2·(1−a_h2)"
STUDENT_NOTE = "I was not sure about this one"
VERIFIED = {"ada.xlsx", "gus.xlsx"}


def _tamper_built(source: Path, target: Path) -> str:
    """A student's edit of a built book: ∂E/∂w3 of one row with a_h1's derivative; returns that cell."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet3.xml":  # 'LR 0.5'
                text = data.decode()
                cell = re.search(r'<c r="AA8"[^>]*><f>[^<]*M8\*\(1-M8\)[^<]*</f>', text).group(0)
                data = text.replace(cell, cell.replace("M8*(1-M8)", "K8*(1-K8)")).encode()
            out.writestr(info, data)
    return "AA8"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def klass(tmp_path_factory, soffice):
    root = tmp_path_factory.mktemp("class")
    folder = root / "class"
    (folder / "late").mkdir(parents=True)
    _, params = load_template("era-v1")
    write_workbook(folder / "ada.xlsx", params, [0.5, 1.0], 8)
    built = root / "built.xlsx"
    write_workbook(built, params, [0.5, 1.0], 8)
    _tamper_built(built, folder / "zoe.xlsx")
    write_handmade(folder / "ben.xlsx", LAYOUTS["classic"], EVA8, 0.5, 8, "w3-uses-a_h1-derivative")
    write_handmade(folder / "cleo.xlsx", LAYOUTS["course"], EVA8, 0.5, 8, "w3-uses-a_h1-derivative")
    shutil.copyfile(folder / "cleo.xlsx", folder / "dan.xlsx")
    write_handmade(folder / "late" / "fay.xlsx", LAYOUTS["lr-equals"], EVA8, 0.5, 8, "E2-from-a_o1")
    write_handmade(folder / "gus.xlsx", LAYOUTS["classic"], EVA8, 0.5, 8, None)
    where = write_handmade(folder / "hal.xlsx", LAYOUTS["reordered"], EVA8, 0.5, 8, "E2-from-a_o1")
    hal_cell = f"{get_column_letter(where['col_of']['E2'])}{where['first_row']}"
    book = openpyxl.load_workbook(folder / "hal.xlsx")  # the student's own comments (and VML) on it
    book.active[hal_cell].comment = Comment(STUDENT_NOTE, "hal")
    book.active["A1"].comment = Comment("inputs above", "hal")
    book.save(folder / "hal.xlsx")
    write_handmade(folder / HOSTILE, LAYOUTS["classic"], EVA8, 0.5, 8, "update-wrong-sign")
    (folder / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    (folder / "notes.txt").write_text("not a workbook, not looked at")
    # Other formats, as LibreOffice writes them, of a book with the ∂E/∂w4 mistake
    source = root / "w4.xlsx"
    write_handmade(source, LAYOUTS["classic"], EVA8, 0.5, 8, "w4-uses-a_h1-derivative")
    for name, convert_to in (
        ("ivy.ods", "ods"),
        ("jon.xls", "xls"),
        ("kim.xlsm", "xlsm:Calc MS Excel 2007 VBA XML"),
    ):
        suffix = Path(name).suffix
        with recalc.Batch([source], root / name, convert_to=convert_to, suffix=suffix) as batch:
            shutil.copyfile(batch.output(0), folder / name)
    hashes = {p: _sha(p) for p in folder.rglob("*") if p.is_file()}
    out = root / "annotated"
    report = root / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "sheetgen", "verify", str(folder), "--recursive", "--annotate", str(out)]
        + ["--html", str(report), "--json", "--jobs", "2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    books = {b["file"]: b for b in json.loads(done.stdout)["workbooks"]}
    return dict(
        root=root,
        folder=folder,
        out=out,
        report=report,
        done=done,
        books=books,
        hashes=hashes,
        hal_cell=hal_cell,
        built=built,
    )


def test_the_class_run_reports_every_book_by_its_path_in_the_folder(klass):
    done, books = klass["done"], klass["books"]
    assert done.returncode == 1, done.stderr
    names = {"ada.xlsx", "zoe.xlsx", "ben.xlsx", "cleo.xlsx", "dan.xlsx", "late/fay.xlsx", "gus.xlsx"}
    names |= {"hal.xlsx", HOSTILE, "broken.xlsx", "ivy.ods", "jon.xls", "kim.xlsm"}
    assert set(books) == names
    assert {n for n, b in books.items() if b["verdict"] == "verified"} == VERIFIED
    assert books["broken.xlsx"]["verdict"] == "unreadable"
    # .ods, .xls and .xlsm are checked like .xlsx: the same mistake, in the same cell
    for name in ("ivy.ods", "jon.xls", "kim.xlsm"):
        first = books[name]["first_wrong"]
        assert books[name]["verdict"] == "wrong" and first["key"] == "dE_dw4", name
        assert W3_MISTAKE in first["diagnosis"]
    assert books["zoe.xlsx"]["first_wrong"]["cell"] == "AA8"
    assert books["zoe.xlsx"]["first_wrong"]["sheet"] == "LR 0.5"


def test_originals_are_never_changed(klass):
    assert {p: _sha(p) for p in klass["hashes"]} == klass["hashes"]


def test_a_copy_for_every_book_not_verified_and_none_for_the_others(klass):
    copies = {str(p.relative_to(klass["out"])) for p in klass["out"].rglob("*") if p.is_file()}
    expected = {n for n, b in klass["books"].items() if b["verdict"] not in ("verified", "unreadable")}
    expected = {n + ".xlsx" if n.endswith((".ods", ".xls")) else n for n in expected}
    assert copies == expected
    assert not any(p.name.startswith(".") for p in klass["out"].rglob("*"))  # no temp files left


def _comment_numbers(text: str) -> dict[str, float]:
    return {k: float(v) for k, v in re.findall(r"^(expected|found): (\S+)$", text, re.MULTILINE)}


def test_wrong_cells_are_filled_and_commented_and_listed_on_a_first_feedback_sheet(klass):
    out = klass["out"]
    for name, result in klass["books"].items():
        if result["verdict"] in ("verified", "unreadable"):
            continue
        copy = out / (name + ".xlsx" if name.endswith((".ods", ".xls")) else name)
        book = openpyxl.load_workbook(copy)
        assert book.sheetnames[0] == "Feedback", name
        first = result["first_wrong"]
        cell = book[first["sheet"]][first["cell"]]
        assert cell.fill.fgColor.rgb == WRONG_FILL, name
        comment = cell.comment.text
        assert first["diagnosis"] in comment, name
        numbers = _comment_numbers(comment)
        assert numbers["expected"] == pytest.approx(first["expected"], rel=1e-11)
        listed = [row for row in book["Feedback"].iter_rows(values_only=True) if row[0] == "wrong value"]
        assert (first["sheet"], first["cell"]) in {(r[1], r[2]) for r in listed}, name
        for table in result["tables"]:  # every wrong column has its first wrong cell listed
            assert len(listed) >= len(table["wrong_columns"])


def test_the_expected_value_in_the_comment_is_the_independent_one(klass):
    book = openpyxl.load_workbook(klass["out"] / "ben.xlsx")
    first = klass["books"]["ben.xlsx"]["first_wrong"]
    numbers = _comment_numbers(book[first["sheet"]][first["cell"]].comment.text)
    truth = matrix_row(**EVA8)["dE_dw3"]  # first data row: the template's weights
    assert numbers["expected"] == pytest.approx(truth, rel=1e-11)
    assert abs(numbers["found"] - truth) > 1e-9  # the student's value, not the right one


def test_every_wrong_column_of_a_book_gets_its_first_cell_marked(klass):
    """An update with the wrong sign makes all eight weight columns wrong: eight red cells."""
    result = klass["books"][HOSTILE]
    book = openpyxl.load_workbook(klass["out"] / HOSTILE)
    red = [
        c
        for row in book[result["first_wrong"]["sheet"]].iter_rows()
        for c in row
        if c.fill.fgColor.rgb == WRONG_FILL
    ]
    wrong_columns = [c for t in result["tables"] for c in t["wrong_columns"]]
    assert len(red) == len(wrong_columns) == 8
    assert all(c.comment is not None for c in red)


def test_a_students_own_comments_survive_beside_ours(klass):
    book = openpyxl.load_workbook(klass["out"] / "hal.xlsx")
    sheet = book[klass["books"]["hal.xlsx"]["first_wrong"]["sheet"]]
    text = sheet[klass["hal_cell"]].comment.text
    assert STUDENT_NOTE in text and "sheetgen verify" in text
    assert sheet["A1"].comment.text.startswith("inputs above")


def test_the_copy_of_a_built_book_keeps_charts_images_and_every_untouched_part(klass):
    original, copy = klass["folder"] / "zoe.xlsx", klass["out"] / "zoe.xlsx"
    before, after = xlsx.read_book(original), xlsx.read_book(copy)
    assert [s.name for s in after.sheets] == ["Feedback"] + [s.name for s in before.sheets]
    assert {s.name: s.charts for s in after.sheets if s.name != "Feedback"} == {
        s.name: s.charts for s in before.sheets
    }
    assert sum(s.charts for s in before.sheets) >= 3
    with zipfile.ZipFile(original) as a, zipfile.ZipFile(copy) as b:
        changed = {n for n in a.namelist() if a.read(n) != b.read(n)}
        added = set(b.namelist()) - set(a.namelist())
        media = [n for n in a.namelist() if n.startswith(("xl/media/", "xl/charts/", "xl/drawings/"))]
    assert media and not changed & set(media)  # charts, drawings, the diagram image: byte for byte
    allowed = {"[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml"}
    allowed |= {n for n in changed if n.startswith("xl/worksheets/")}  # the marked sheet, the deselected tab
    assert changed <= allowed
    assert len(added) == 3  # the Feedback sheet, a comments part, its VML drawing


def test_copies_open_in_libreoffice_recalculate_and_verify_the_same(klass, tmp_path):
    out, books = klass["out"], klass["books"]
    names = ["zoe.xlsx", "ben.xlsx", "hal.xlsx", "ivy.ods.xlsx"]
    recalculated = recalc.recalculate([out / n for n in names], tmp_path / "lo")
    for name, path in zip(names, recalculated, strict=True):
        book = xlsx.read_book(path)
        assert book.sheets[0].name == "Feedback", name
        first = books[name.removesuffix(".xlsx") if name.endswith(".ods.xlsx") else name]["first_wrong"]
        row, col = workbook_edit.cell_of(first["cell"])
        assert book.sheet(first["sheet"]).values[(row, col)] == pytest.approx(
            float(first["found"]), rel=1e-12
        )
        comments = openpyxl.load_workbook(path)[first["sheet"]][first["cell"]].comment
        assert comments is not None and "sheetgen verify" in comments.text, name
    zoe = xlsx.read_book(recalculated[0])
    assert sum(s.charts for s in zoe.sheets) == sum(s.charts for s in xlsx.read_book(klass["built"]).sheets)
    # The copy is the student's book plus marks: verified again, it gets the same verdict and cell.
    done = subprocess.run(
        [sys.executable, "-m", "sheetgen", "verify", *map(str, recalculated), "--engine", "cached", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    again = json.loads(done.stdout)["workbooks"]
    for name, result in zip(names, again, strict=True):
        original = books[name.removesuffix(".xlsx") if name.endswith(".ods.xlsx") else name]
        assert result["verdict"] == original["verdict"], name
        assert result["first_wrong"]["cell"] == original["first_wrong"]["cell"], name


class _Dom(HTMLParser):
    """Rows of the report's tables, attributes of every element, and all text, from Chromium's DOM."""

    def __init__(self):
        super().__init__()
        self.tags, self.rows, self.text = [], [], []
        self.sections: dict[str, str] = {}
        self._section, self._row = None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        if tag == "section":
            self._section = attrs.get("id")
        elif tag == "tr":
            self._row = {"section": self._section, "attrs": attrs, "cells": [], "links": []}
            self.rows.append(self._row)
        elif tag == "td" and self._row is not None:
            self._row["cells"].append("")
        elif tag == "a" and self._row is not None:
            self._row["links"].append(attrs.get("href"))

    def handle_data(self, data):
        self.text.append(data)
        if self._section:
            self.sections[self._section] = self.sections.get(self._section, "") + data
        if self._row is not None and self._row["cells"]:
            self._row["cells"][-1] += data


@pytest.fixture(scope="module")
def chromium():
    return _require(
        "Chromium",
        shutil.which("chromium") or shutil.which("chromium-browser"),
        "apt-get install -y chromium",
    )


def _browser(chromium: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_html_report_renders_in_chromium(klass, chromium, tmp_path):
    report, books = klass["report"], klass["books"]
    page = report.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing fetched
    assert "<script" not in page.lower()
    done = _browser(chromium, "--dump-dom", report.as_uri())
    dom = _Dom()
    dom.feed(done.stdout)
    rows = [r for r in dom.rows if r["section"] == "books" and r["cells"]]
    assert {r["cells"][0] for r in rows} == set(books)  # every book, named as in the JSON
    for row in rows:
        result = books[row["cells"][0]]
        assert row["attrs"]["data-verdict"] == result["verdict"]
        if result["first_wrong"]:
            assert result["first_wrong"]["cell"] in row["cells"][2]
            assert result["first_wrong"]["diagnosis"] in row["cells"][3]
        for href in row["links"]:  # links lead to the annotated copies
            assert (report.parent / unquote(href)).is_file(), href
        assert bool(row["links"]) == (result["verdict"] not in ("verified", "unreadable"))
    # the hostile file name is text, never markup
    assert not [t for t, _ in dom.tags if t == "img"]
    assert any(r["cells"][0] == HOSTILE for r in rows)
    # the census: books with a_h1's derivative for a_h2's in ∂E/∂w3 or, the same kind, ∂E/∂w4,
    # counted from the JSON
    keys = ("dE_dw3", "dE_dw4")
    w3_books = {n for n, b in books.items() if b["first_wrong"] and b["first_wrong"]["key"] in keys}
    census = {r["cells"][0]: r["cells"][1] for r in dom.rows if r["section"] == "mistakes" and r["cells"]}
    line = f"uses {W3_MISTAKE} in ∂E/∂w3; likewise in ∂E/∂w4"
    assert census[line] == f"{len(w3_books)} books" and len(w3_books) == 7
    # one mistake over all eight weights (the update's sign) is one kind, not eight
    which = [r["cells"][2] for r in dom.rows if r["section"] == "mistakes" and r["cells"]]
    assert sum(HOSTILE in w for w in which) == 1
    identical = "".join(dom.text)
    assert re.search(r"2 books: cleo\.xlsx, dan\.xlsx", identical)
    cards = re.sub(r"\s+", "", dom.sections["summary"])
    assert f"{len(books)}workbooks" in cards
    for verdict in ("verified", "wrong", "unreadable"):
        assert f"{sum(b['verdict'] == verdict for b in books.values())}{verdict}" in cards
    screenshot = tmp_path / "report.png"
    _browser(chromium, "--window-size=1280,900", f"--screenshot={screenshot}", report.as_uri())
    from PIL import Image

    image = Image.open(screenshot).convert("RGB")
    assert image.size == (1280, 900)
    assert len(image.getcolors(maxcolors=1 << 20)) > 20  # drawn, not a blank page


def test_parallel_batch_keeps_the_order_and_gives_each_process_its_own_profile(soffice, tmp_path):
    import xlsxwriter

    paths = []
    for k in range(5):  # each file's saved value is stale: only a recalculation gives 3k
        path = tmp_path / f"stale{k}.xlsx"
        book = xlsxwriter.Workbook(str(path))
        sheet = book.add_worksheet()
        sheet.write_number(0, 0, k)
        sheet.write_formula(0, 1, "=A1*3", None, 999)
        book.close()
        paths.append(path)
    with recalc.ParallelBatch(paths, tmp_path / "out", jobs=2) as batch:
        assert len(batch.batches) == 2
        assert len({b._work for b in batch.batches}) == 2  # two profiles
        outputs = batch.wait()
    assert [xlsx.read_book(o).sheets[0].values[(1, 2)] for o in outputs] == [3.0 * k for k in range(5)]


def test_bad_class_options_are_one_line_errors(tmp_path):
    book = tmp_path / "a.xlsx"
    write_handmade(book, LAYOUTS["classic"], EVA8, 0.5, 3, None)
    (tmp_path / "file").write_text("x")

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "sheetgen", "verify", str(book), "--engine", "cached", *args],
            capture_output=True,
            text=True,
            timeout=120,
        )

    for args, words in (
        (("--jobs", "0"), "--jobs 0"),
        (("--html", str(tmp_path / "r.txt")), ".html"),
        (("--annotate", str(tmp_path / "file")), "is a file"),
    ):
        done = cli(*args)
        assert done.returncode == 2 and words in done.stderr, args
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_a_folder_without_recursive_names_books_as_before_and_finds_no_subfolders(tmp_path):
    (tmp_path / "c" / "sub").mkdir(parents=True)
    write_handmade(tmp_path / "c" / "sub" / "x.xlsx", LAYOUTS["classic"], EVA8, 0.5, 3, None)
    done = subprocess.run(
        [sys.executable, "-m", "sheetgen", "verify", str(tmp_path / "c"), "--engine", "cached"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "--recursive" in done.stderr


def test_progress_bar_on_a_terminal_only(tmp_path):
    for name in ("a.xlsx", "b.xlsx"):
        write_handmade(tmp_path / name, LAYOUTS["classic"], EVA8, 0.5, 3, None)
    args = [sys.executable, "-m", "sheetgen", "verify", str(tmp_path), "--engine", "cached"]
    quiet = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert quiet.stderr == ""
    primary, secondary = os.openpty()  # stderr a terminal: the bar appears there
    # a terminal of 100 columns (a fresh pty has none, and tqdm draws nothing in zero columns)
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        done = subprocess.run(args, stdout=subprocess.PIPE, stderr=secondary, timeout=120)
        os.close(secondary)
        shown = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(primary)
    assert done.returncode in (0, 1)  # (no saved values to check here; the bar is what is tested)
    assert b"2/2" in shown and b"book" in shown


def test_cells_are_added_in_order_when_the_wrong_cell_is_empty():
    """A wrong cell with nothing in it (a row or a cell the sheet never wrote) gets a cell element."""
    sheet = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x14ac">'
        '<sheetData><row r="2"><c r="A2"><v>1</v></c><c r="D2" s="1"><v>2</v></c></row>'
        '<row r="5" spans="1:3"/></sheetData></worksheet>'
    )
    edited = workbook_edit._set_cells(sheet, "", {(2, 3): 7, (2, 4): 8, (4, 2): 9, (5, 1): 7, (9, 1): 7})
    assert edited.startswith(sheet[: sheet.index("<sheetData>")])  # the root and its prefixes untouched
    root = ElementTree.fromstring(edited)
    cells = [(c.get("r"), c.get("s")) for c in root.iter(f"{{{workbook_edit.MAIN_NS}}}c")]
    assert cells == [("A2", None), ("C2", "7"), ("D2", "8"), ("B4", "9"), ("A5", "7"), ("A9", "7")]
    rows = [r.get("r") for r in root.iter(f"{{{workbook_edit.MAIN_NS}}}row")]
    assert rows == ["2", "4", "5", "9"]
    assert "spans" not in edited  # row 5 gained a cell: its column-span hint went with it
    assert root.find(f".//{{{workbook_edit.MAIN_NS}}}c[@r='D2']/{{{workbook_edit.MAIN_NS}}}v").text == "2"


def test_unproven_ranges_are_marked_amber_and_wrong_wins(tmp_path):
    """Cells holding typed values where formulas belong (TableCheck.unproven) get the second colour."""
    from types import SimpleNamespace

    from sheetgen.verify.report import annotate

    path = tmp_path / "typed.xlsx"
    write_handmade(path, LAYOUTS["classic"], EVA8, 0.5, 3, None)
    finding = SimpleNamespace(
        sheet="Sheet1",
        address="G7",
        key="h1",
        label="h1",
        expected=0.5,
        found=0.25,
        formula=None,
        diagnosis=None,
    )
    typed = SimpleNamespace(
        sheet="Sheet1",
        cells="G6:H8",
        label="h1",
        kind="values",
        constant=None,
        quantity="h1",
        message="typed",
    )
    table = SimpleNamespace(
        first_wrong=finding, wrong_cells=[finding], unproven=[typed], eta_note="", missing=[], table=None
    )
    result = SimpleNamespace(
        verdict="wrong", tables=[table], problems=[], notes=[], error=None, network_difference=None, path=path
    )
    copy = annotate.write_copy(result, path, tmp_path / "out", Path("typed.xlsx"), path)
    sheet = openpyxl.load_workbook(copy)["Sheet1"]
    fills = {c: sheet[c].fill.fgColor.rgb for c in ("G6", "H6", "G7", "H7", "G8", "H8")}
    assert fills == {"G6": UNPROVEN_FILL, "H6": UNPROVEN_FILL, "G7": WRONG_FILL} | {
        c: UNPROVEN_FILL for c in ("H7", "G8", "H8")
    }
    assert "typed" in sheet["G6"].comment.text and "expected: 0.5" in sheet["G7"].comment.text
    feedback = list(openpyxl.load_workbook(copy)["Feedback"].iter_rows(values_only=True))
    assert any(row[0] == "values typed where formulas belong" and row[2] == "G6:H8" for row in feedback)


def test_libreoffice_gets_the_cells_without_charts_and_drawings(tmp_path):
    """What LibreOffice recalculates: no chart or drawing part, no reference to one; all else as it was."""
    _, params = load_template("era-v1")
    book = tmp_path / "built.xlsx"
    write_workbook(book, params, [0.5], 3)
    copy = tmp_path / "cells.xlsx"
    assert recalc.cells_only_copy(book, copy)
    with zipfile.ZipFile(book) as a, zipfile.ZipFile(copy) as b:
        dropped = set(a.namelist()) - set(b.namelist())
        assert dropped and all(n.startswith(("xl/charts/", "xl/drawings/")) for n in dropped)
        for name in b.namelist():
            text = b.read(name)
            if name.startswith("xl/worksheets/"):
                assert b"<drawing " not in text and b'/relationships/drawing"' not in text
                assert text == re.sub(
                    rb'<drawing r:id="[^"]*"/>|<Relationship [^>]*/relationships/drawing"[^>]*/>',
                    b"",
                    a.read(name),
                )
            else:
                assert text == a.read(name), name
    for ours, theirs in zip(xlsx.read_book(book).sheets, xlsx.read_book(copy).sheets, strict=True):
        assert dict(ours.values.items()) == dict(theirs.values.items())
        assert dict(ours.formulas.items()) == dict(theirs.formulas.items())
    assert not recalc.cells_only_copy(tmp_path / "missing.xlsx", tmp_path / "x.xlsx")


def test_an_annotate_folder_holding_the_originals_never_overwrites_them(soffice, tmp_path):
    book = tmp_path / "w3.xlsx"
    write_handmade(book, LAYOUTS["classic"], EVA8, 0.5, 3, "w3-uses-a_h1-derivative")
    before = _sha(book)
    done = subprocess.run(
        [sys.executable, "-m", "sheetgen", "verify", str(book), "--annotate", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    # refused before anything is read or written (issue 22): one line, exit status 2
    assert done.returncode == 2 and done.stdout == "", done.stdout
    assert done.stderr.count("\n") == 1 and "would be written over the workbook" in done.stderr
    assert _sha(book) == before and sorted(p.name for p in tmp_path.iterdir()) == ["w3.xlsx"]


def test_libreoffice_never_runs_a_submitted_books_macros(tmp_path):
    recalc.make_profile(tmp_path, recalculate=False)
    settings = (tmp_path / "user" / "registrymodifications.xcu").read_text()
    assert re.search(r'"DisableMacrosExecution" oor:op="fuse"><value>true<', settings)
    assert re.search(r'"MacroSecurityLevel" oor:op="fuse"><value>3<', settings)
    assert re.search(r'"OOXMLRecalcMode" oor:op="fuse"><value>1<', settings)  # a conversion keeps the values


def test_worker_processes_give_the_verdicts_one_process_gives(klass, monkeypatch, capsys):
    """The class fixture ran with --jobs 2, so over two worker processes (verify/workers.py): the same
    books verified in this one process must come out the same, in the same order."""
    from sheetgen import cli
    from sheetgen.verify import command

    monkeypatch.setattr(command.workers, "worthwhile", lambda books, jobs: False)
    cli.main(["verify", str(klass["folder"]), "--recursive", "--json", "--jobs", "2"])
    alone = json.loads(capsys.readouterr().out)["workbooks"]
    split = json.loads(klass["done"].stdout)["workbooks"]

    def essentials(book):
        wrong = book.get("first_wrong") or {}
        return (
            book["file"],
            book["verdict"],
            book["error"],
            [wrong.get(k) for k in ("sheet", "cell", "diagnosis")],
        )

    assert [essentials(b) for b in split] == [essentials(b) for b in alone]
    assert len({b["verdict"] for b in alone}) >= 3


# --- the class report reads well: names, the census, verdicts, sheets (issue 21) -----------------

SIGN_WORDS = "instead of subtracting it (update with the wrong sign)"


def _sheets_of(path: Path, books: list[tuple[str, Path, bool]]) -> None:
    """One book of several sheets: each (name, source book, as values) copies the source's first
    sheet, its formulas, or, as values, what LibreOffice computed for them (a pasted copy)."""
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, source, as_values in books:
        sheet = book.create_sheet(name)
        if as_values:
            with recalc.Batch([source], source.parent / f"{path.stem}-{name}-values") as batch:
                cells = openpyxl.load_workbook(batch.output(0), data_only=True).worksheets[0]
        else:
            cells = openpyxl.load_workbook(source).worksheets[0]
        for row in cells.iter_rows():
            for cell in row:
                if cell.value is not None:
                    sheet[cell.coordinate] = cell.value
    book.save(path)


@pytest.fixture(scope="module")
def report_class(tmp_path_factory, soffice):
    """Two folders, each with an x.xlsx; the same mistake on three sheets of one book and in two
    layouts; pasted-value sheets; another network; Mazur's layout. One run over both folders."""
    root = tmp_path_factory.mktemp("report-class")
    a, b, sources = root / "a", root / "b", root / "sources"
    for folder in (a / "late", b, sources):
        folder.mkdir(parents=True)

    def source(name, layout, mistake):
        path = sources / f"{name}.xlsx"
        write_handmade(path, LAYOUTS[layout], EVA8, 0.5, 4, mistake)
        return path

    sign = source("sign", "classic", "update-wrong-sign")
    w3 = source("w3", "classic", "w3-uses-a_h1-derivative")
    right = source("right", "classic", None)
    _sheets_of(a / "sign.xlsx", [(f"LR {k}", sign, False) for k in (1, 2, 3)])
    write_handmade(a / "late" / "sign-course.xlsx", LAYOUTS["course"], EVA8, 0.5, 4, "update-wrong-sign")
    _sheets_of(a / "pasted.xlsx", [("mine", w3, False), ("copied", w3, True), ("copied too", right, True)])
    _sheets_of(a / "pasted-only.xlsx", [("mine", right, False), ("copied", right, True)])
    write_handmade(a / "x.xlsx", LAYOUTS["classic"], EVA8, 0.5, 4, "E2-from-a_o1")
    write_handmade(b / "x.xlsx", LAYOUTS["reordered"], EVA8, 0.5, 4, "E2-from-a_o1")
    write_handmade(a / "late" / "x.xlsx", LAYOUTS["classic"], EVA8, 0.5, 4, None)
    from probe_books import write_241

    write_241(a / "net.xlsx", tanh_h4=True)  # a network no spec expresses: DIFFERENT NETWORK
    from mazur_layout import write as write_mazur

    write_mazur(a / "mazur.xlsx", sheets=3, mistake={"o1": "{w5}*{a_h1}+{w6}*{a_h2}+{b1}"})
    out, html, csv_path = root / "annotated", root / "report.html", root / "report.csv"
    done = subprocess.run(
        [sys.executable, "-m", "sheetgen", "verify", str(a), str(b), "--recursive", "--json"]
        + ["--annotate", str(out), "--html", str(html), "--report", str(csv_path), "--jobs", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    text = subprocess.run(
        [sys.executable, "-m", "sheetgen", "verify", str(a), str(b), "--recursive", "--jobs", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = json.loads(done.stdout)
    return dict(
        root=root, done=done, text=text, report=report, html=html, csv=csv_path, out=out,
        books={w["file"]: w for w in report["workbooks"]},
    )  # fmt: skip


NAMES = {
    "sign.xlsx", "late/sign-course.xlsx", "pasted.xlsx", "pasted-only.xlsx", "a/x.xlsx", "b/x.xlsx",
    "late/x.xlsx", "net.xlsx", "mazur.xlsx",
}  # fmt: skip


def test_books_are_named_by_their_path_in_the_folder_given_and_never_share_a_name(report_class):
    import csv as csv_module

    books, root = report_class["books"], report_class["root"]
    assert set(books) == NAMES, report_class["done"].stderr
    lines = report_class["text"].stdout.splitlines()[:-1]
    assert sorted(line.split(": ")[0] for line in lines) == sorted(NAMES)
    with open(report_class["csv"], newline="", encoding="utf-8") as handle:
        assert sorted(row["file"] for row in csv_module.DictReader(handle)) == sorted(NAMES)
    page = report_class["html"].read_text(encoding="utf-8")
    for output in (report_class["text"].stdout, page, report_class["csv"].read_text()):
        assert str(root) not in output  # no absolute path anywhere
    # a's x.xlsx and b's x.xlsx are different books: each its own verdict and its own copy
    assert books["a/x.xlsx"]["first_wrong"]["cell"] != books["b/x.xlsx"]["first_wrong"]["cell"]
    copies = {str(p.relative_to(report_class["out"])) for p in report_class["out"].rglob("*.xlsx")}
    assert {"a/x.xlsx", "b/x.xlsx"} <= copies and "late/x.xlsx" not in copies  # verified: no copy


def test_the_census_counts_books_once_per_kind_with_full_names(report_class):
    census = {m["mistake"]: set(m["books"]) for m in report_class["report"]["mistakes"]}
    books = report_class["books"]
    # The wrong sign on three sheets of one book, and in another layout's headers: one kind, two books
    sign = [text for text in census if SIGN_WORDS in text]
    assert len(sign) == 1 and census[sign[0]] == {"sign.xlsx", "late/sign-course.xlsx"}
    assert all(f"w{k}" in sign[0] for k in range(1, 9)) and "…" not in sign[0]
    assert "∂E_total" not in sign[0] and "∂E_t/" not in sign[0]  # the column table's label, ∂E/∂w1
    # Every book counted once per kind: no book twice in one row, none of a kind twice
    assert len(census) == len(report_class["report"]["mistakes"])
    # a_o1 for a_o2 in E2, whatever the header (out_o1 in one layout): both x.xlsx books, one kind
    e2 = [text for text in census if text.endswith(" in E2")]
    assert len(e2) == 1 and census[e2[0]] == {"a/x.xlsx", "b/x.xlsx"}
    # pasted sheets are no mistakes: the book with a real mistake is counted for that alone …
    w3 = [text for text in census if "a_h1·(1−a_h1) in place of a_h2·(1−a_h2)" in text]
    assert len(w3) == 1 and census[w3[0]] == {"pasted.xlsx"}
    assert [text for text, names in census.items() if "pasted.xlsx" in names] == w3
    # … and a book with nothing but pasted sheets besides right formulas is counted as such
    assert books["pasted-only.xlsx"]["verdict"] == "right_only_at_its_numbers"
    assert [text for text, names in census.items() if "pasted-only.xlsx" in names] == [
        "sheets of values only, no formulas (pasted or typed)"
    ]
    # no numbers of the random inputs a mistake was shown at, no name cut short
    for text in census:
        assert not re.search(r"\bw… =|; with |wN", text), text
    # every book that is neither verified nor unreadable is in the census
    counted = set().union(*census.values())
    assert counted == {n for n, b in books.items() if b["verdict"] not in ("verified", "unreadable")}


def test_every_row_says_what_its_verdict_says(report_class, chromium):
    import csv as csv_module

    books = report_class["books"]
    net = books["net.xlsx"]
    assert net["verdict"] == "different_network"
    done = _browser(chromium, "--dump-dom", report_class["html"].as_uri())
    dom = _Dom()
    dom.feed(done.stdout)
    rows = {r["cells"][0]: r for r in dom.rows if r["section"] == "books" and r["cells"]}
    assert set(rows) == NAMES
    assert rows["net.xlsx"]["cells"][3] == net["network_difference"]
    for name, row in rows.items():
        assert "no iteration table" not in row["cells"][3] or books[name]["verdict"] == "unreadable"
    with open(report_class["csv"], newline="", encoding="utf-8") as handle:
        csv_rows = {row["file"]: row for row in csv_module.DictReader(handle)}
    assert csv_rows["net.xlsx"]["message"] == net["network_difference"]
    line = next(x for x in report_class["text"].stdout.splitlines() if x.startswith("net.xlsx: "))
    assert line == f"net.xlsx: DIFFERENT NETWORK: {net['network_difference']}"


def test_a_mazur_layout_book_is_named_by_its_own_sheets(report_class, soffice):
    books = report_class["books"]
    mazur = books["mazur.xlsx"]
    assert mazur["first_wrong"]["sheet"] == "Iteration 1" and mazur["first_wrong"]["cell"] == "B21"
    table = mazur["tables"][0]
    assert table["place"] == "'Iteration 1' … 'Iteration 3' (one iteration per sheet)"
    book = report_class["root"] / "a" / "mazur.xlsx"
    done = subprocess.run(
        [sys.executable, "-m", "sheetgen", "verify", str(book)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1, done.stderr
    assert "Iterations" not in done.stdout  # the virtual table's name, a sheet the book lacks
    assert "'Iteration 1' … 'Iteration 3' (one iteration per sheet): NOT verified" in done.stdout
    assert "η = 0.5 from 'Iteration 1'!B1" in done.stdout  # mazur_layout writes η in B1 of each sheet
    page = report_class["html"].read_text(encoding="utf-8")
    assert "Iterations" not in page
    feedback = openpyxl.load_workbook(report_class["out"] / "mazur.xlsx")["Feedback"]
    texts = [str(c) for row in feedback.iter_rows(values_only=True) for c in row if c is not None]
    assert not [t for t in texts if "Iterations" in t]
    assert "'Iteration 1' … 'Iteration 3' (one iteration per sheet): η = 0.5 from 'Iteration 1'!B1" in texts


def test_the_class_report_renders_readably(report_class, chromium, tmp_path):
    """A screenshot at a laptop's width: the page is drawn, and the books table fits it."""
    shot = tmp_path / "report.png"
    _browser(chromium, "--window-size=1400,1000", f"--screenshot={shot}", report_class["html"].as_uri())
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 1000) and len(image.getcolors(maxcolors=1 << 20)) > 20
    page = report_class["html"].read_text(encoding="utf-8")
    assert "late/<wbr>sign-course.xlsx" in page  # a path breaks between folders, not inside a name


def test_a_sheet_libreoffice_renames_is_named_and_marked_as_the_book_has_it(soffice, tmp_path):
    """Issue 22, item 13: 'a/b' is no name Excel allows; LibreOffice reads it as 'Sheet1'."""
    source = tmp_path / "source.xlsx"
    write_handmade(source, LAYOUTS["classic"], EVA8, 0.5, 4, "w3-uses-a_h1-derivative")
    names = ("a/b", "x*y?", "[q]:")
    for n, name in enumerate(names):
        with zipfile.ZipFile(source) as src, zipfile.ZipFile(tmp_path / f"s{n}.xlsx", "w") as out:
            for info in src.infolist():
                data = src.read(info)
                if info.filename == "xl/workbook.xml":
                    data = data.replace(b'name="Sheet1"', f'name="{name}"'.encode())
                out.writestr(info, data)
    books = [str(tmp_path / f"s{n}.xlsx") for n in range(len(names))]
    done = subprocess.run(
        [sys.executable, "-m", "sheetgen", "verify", *books, "--json", "--annotate", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1 and done.stderr == "", done.stderr
    for n, (book, name) in enumerate(zip(json.loads(done.stdout)["workbooks"], names, strict=True)):
        assert book["verdict"] == "wrong" and "please report" not in json.dumps(book)
        assert (book["first_wrong"]["sheet"], book["first_wrong"]["cell"]) == (name, "AA6")
        assert W3_MISTAKE in book["first_wrong"]["diagnosis"]
        # the copy's mark lands on that sheet's AA6: a comment on it, in the part the sheet's name leads to
        with zipfile.ZipFile(tmp_path / "out" / f"s{n}.xlsx") as copy:
            workbook = copy.read("xl/workbook.xml").decode()
            rid = re.search(rf'name="{re.escape(name)}" sheetId="\d+" r:id="(rId\d+)"', workbook).group(1)
            rels = copy.read("xl/_rels/workbook.xml.rels").decode()
            part = re.search(rf'Id="{rid}"[^>]*Target="/?(?:xl/)?([^"]+)"', rels).group(1)
            sheet_rels = copy.read(f"xl/worksheets/_rels/{Path(part).name}.rels").decode()
            comments = re.search(r'Target="(?:\.\./)?([^"]*comments[^"]*)"', sheet_rels).group(1)
            assert 'ref="AA6"' in copy.read("xl/" + comments.removeprefix("/xl/")).decode()


def test_names_are_short_unique_and_the_same_every_run(tmp_path):
    from sheetgen.verify.read import intake

    for folder in ("c1/late", "c2", "x/class", "y/class", "z"):
        (tmp_path / folder).mkdir(parents=True)
    for book in ("c1/x.xlsx", "c1/late/x.xlsx", "c2/x.xlsx", "x/class/y.xlsx", "y/class/y.xlsx", "z/q.xlsx"):
        (tmp_path / book).write_bytes(b"")
    os.link(tmp_path / "z" / "q.xlsx", tmp_path / "z" / "hard.xlsx")
    given = [str(tmp_path / p) for p in ("c1", "c2", "x/class", "y/class")]
    given += [
        str(tmp_path / "z" / "q.xlsx"),
        str(tmp_path / "c1" / "x.xlsx"),
        str(tmp_path / "z" / "hard.xlsx"),
    ]
    found = intake.collect(given, recursive=True)
    assert [str(s.name) for s in found] == [
        "late/x.xlsx",  # its own path in c1: no other book has it
        "c1/x.xlsx",  # x.xlsx of c1 and of c2: each with its folder
        "c2/x.xlsx",
        "x/class/y.xlsx",  # two folders both named class: one more folder each
        "y/class/y.xlsx",
        "q.xlsx",  # a file given by itself: its name; given again (c1/x.xlsx, a hard link): one book
    ]
    assert [s.path for s in found] == [s.path for s in intake.collect(given, recursive=True)]
    assert all(not s.name.is_absolute() for s in found)


def test_lock_files_and_a_macs_shadow_files_are_no_submissions(tmp_path):
    """A class unzipped from a Mac carries __MACOSX/._x.xlsx (resource forks, not workbooks), and an
    open book leaves ~$x.xlsx or .~lock.x.xlsx#: none is a student's book, so none may be UNREADABLE."""
    from sheetgen.verify.read import intake

    for path in ("x.xlsx", "._x.xlsx", "~$x.xlsx", ".~lock.x.xlsx", "__MACOSX/._x.xlsx", "__MACOSX/y.xlsx"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"")
    assert [str(s.name) for s in intake.collect([str(tmp_path)], recursive=True)] == ["x.xlsx"]


def test_the_census_of_unexplained_and_typed_mistakes(tmp_path):
    """Census rules on results made by hand: 'other' once per book, the random point left out."""
    from types import SimpleNamespace

    from sheetgen.verify.report import census

    def finding(key, label, diagnosis, formula="A1"):
        return SimpleNamespace(
            sheet="S", address="A1", key=key, label=label, diagnosis=diagnosis, formula=formula
        )

    def table(findings, unproven=(), headers=None, forms=3):
        return SimpleNamespace(
            first_wrong=findings[0] if findings else None, wrong_cells=list(findings),
            unproven=list(unproven), table=SimpleNamespace(headers=headers or {}), proven_forms=forms,
            network_difference=None, incomplete=None,
        )  # fmt: skip

    def book(verdict, *tables):
        return SimpleNamespace(verdict=verdict, tables=list(tables), network_difference=None, problems=[])

    point = "; with i1 = 0.31, w1 = 0.176 it computes 0.2 where 0.3 is right"
    unexplained = [finding("h1", "net h1", "no one-edit change makes the formula right" + point)]
    books = [
        book("wrong", table(unexplained), table([finding("a_h1", "a_h1", None)])),  # two sheets, both other
        book(
            "wrong",
            table(
                [finding("dE_dw2", "grad2", "uses i1 in place of i2" + point)], headers={"dE_dw2": "grad2"}
            ),
        ),
        book("wrong", table([finding("dE_dw2", "∂E/∂w2", "uses i1 in place of i2")])),
        book(
            "right_only_at_its_numbers",
            table([], [SimpleNamespace(kind="constant", quantity="eta", label="w1", cells="B2")]),
        ),
    ]
    found = {m.text: m.books for m in census.mistakes(books, ["p", "q", "r", "s"])}
    assert found == {
        census.OTHER: ["p"],
        "uses i1 in place of i2 in ∂E/∂w2": ["q", "r"],
        "η typed into the formulas as a number where the sheet has a cell for it": ["s"],
    }


def _mend(copy: Path, target: Path, cell: str, wrong: str, right: str) -> None:
    """The student's fix made in the annotated copy itself: the wrong formula of `cell` put right."""
    pattern = re.compile(rf'<c [^>]*r="{cell}"[^>]*><f>[^<]*{re.escape(wrong)}[^<]*</f>')
    mended = 0
    with zipfile.ZipFile(copy) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("xl/worksheets/"):
                text, count = pattern.subn(lambda m: m.group(0).replace(wrong, right), data.decode())
                data, mended = text.encode(), mended + count
            out.writestr(info, data)
    assert mended == 1


def test_an_annotated_copy_handed_in_again_is_judged_on_the_students_own_sheets(klass, tmp_path):
    """The Feedback sheet (cell addresses like H7, quantities like h2) is sheetgen's, not the student's:
    the copy as annotated is still WRONG at the same cell, and once mended in place it is VERIFIED."""
    copy = klass["out"] / "zoe.xlsx"
    as_marked = subprocess.run(
        [sys.executable, "-m", "sheetgen", "verify", str(copy), "--engine", "cached", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    book = json.loads(as_marked.stdout)["workbooks"][0]
    assert book["verdict"] == "wrong", book
    assert book["first_wrong"]["cell"].endswith("AA8"), book["first_wrong"]
    mended = tmp_path / "zoe.xlsx"
    _mend(copy, mended, "AA8", "K8*(1-K8)", "M8*(1-M8)")
    done = subprocess.run(
        [sys.executable, "-m", "sheetgen", "verify", str(mended), "--engine", "cached"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0 and "VERIFIED" in done.stdout.splitlines()[0], done.stdout + done.stderr
