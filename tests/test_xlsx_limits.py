"""The xlsx reader's bounds: XML bombs are refused in bounded memory, and the compact cell store
behaves as the dict it replaces (issue 14, items 1 and 7)."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from xlsx_bombs import MAIN, ROOT_RELS, WORKBOOK, WORKBOOK_RELS, write_bomb

from sheetgen.core import xlsx
from sheetgen.core.errors import UserError

REPO = Path(__file__).resolve().parent.parent
PEAK_LIMIT_MB = 512

# A wrapper whose only child is verify: RUSAGE_CHILDREN then measures verify alone, not pytest's
# other children (LibreOffice in other tests).
_MEASURE = (
    "import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
    "sys.stdout.write(p.stdout); sys.stderr.write(p.stderr); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, file=sys.stdout); "
    "sys.exit(p.returncode)"
)


def verify_measured(book: Path) -> tuple[int, str, str, int]:
    """(exit status, stdout, stderr, peak RSS in MB) of `sheetgen verify --engine cached book`."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "sheetgen", "verify", "--engine", "cached", str(book)]
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, env=env, timeout=300
    )
    *out, peak = done.stdout.splitlines()
    return done.returncode, "\n".join(out), done.stderr, int(peak)


# ~60 MB of XML each: the reader before issue 14 held all of it as a tree (1-1.5 GB); see
# benchmarks/verify_bombs.py and docs/benchmarks.md for the 260 MB figures.
@pytest.mark.parametrize(
    "kind,reason",
    [
        ("shared-strings", "more than 250,000 shared strings"),
        ("row-junk", "XML elements that are neither rows nor cells"),
        ("cell-junk", "XML elements that are neither rows nor cells"),
        ("long-tag", "an XML tag or comment longer than 4 MiB"),
    ],
)
def test_an_xml_bomb_is_refused_in_bounded_memory(tmp_path, kind, reason):
    book = tmp_path / f"{kind}.xlsx"
    write_bomb(book, kind, 60)
    status, out, err, peak = verify_measured(book)
    assert status == 2 and out == "", (status, out, err)
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert "refused" in err and reason in err, err
    assert peak <= PEAK_LIMIT_MB, f"verify peaked at {peak} MB"


def _book(tmp_path: Path, sheet_xml: str, extra: dict | None = None) -> Path:
    path = tmp_path / "book.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("_rels/.rels", ROOT_RELS)
        book.writestr("xl/workbook.xml", WORKBOOK)
        book.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        book.writestr("xl/sharedStrings.xml", f'<sst xmlns="{MAIN}"><si><t>E_total</t></si></sst>')
        book.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        for name, text in (extra or {}).items():
            book.writestr(name, text)
    return path


def _sheet(rows: str) -> str:
    return f'<worksheet xmlns="{MAIN}"><sheetData>{rows}</sheetData></worksheet>'


def test_cells_out_of_order_and_repeated_read_as_a_dict_would(tmp_path):
    rows = (
        '<row r="3"><c r="B3"><f>A3*2</f><v>4</v></c><c r="A3"><v>2</v></c></row>'
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="e"><v>#N/A</v></c></row>'
        '<row r="3"><c r="A3"><v>5</v></c></row>'
        '<row r="2"><c r="A2" t="str"><f>"#N/A"</f><v>#N/A</v></c><c r="B2" t="b"><v>0</v></c></row>'
    )
    sheet = xlsx.read_book(_book(tmp_path, _sheet(rows))).sheets[0]
    assert list(sheet.values.items()) == [
        ((1, 1), "E_total"),
        ((1, 2), "#N/A"),
        ((2, 1), "#N/A"),
        ((2, 2), False),
        ((3, 1), 5.0),  # the later of the two A3s, as in a dict
        ((3, 2), 4.0),
    ]
    assert isinstance(sheet.values[(1, 2)], xlsx.ErrorValue)
    assert not isinstance(sheet.values[(2, 1)], xlsx.ErrorValue)  # a text result, not an error
    assert dict(sheet.formulas.items()) == {(2, 1): '"#N/A"', (3, 2): "A3*2"}
    assert (3, 2) in sheet.formulas and (3, 1) not in sheet.formulas
    assert sheet.values.get((9, 9), "none") == "none" and sheet.values.get("A1") is None
    with pytest.raises(KeyError):
        sheet.values[(4, 1)]


@pytest.mark.parametrize(
    "sheet_xml,reason",
    [
        (_sheet('<row r="1"><c r="A1"><v>' + "1" * 70_000 + "</v></c></row>"), "a text of more than 65,536"),
        (_sheet('<row r="1"><c r="A1">' + "<v>1</v>" * 257 + "</c></row>"), "of more than 256 XML elements"),
        (_sheet('<row r="1048577"><c><v>1</v></c></row>'), "row 1048577"),
        ('<!DOCTYPE x [<!ENTITY a "aaaa">]><worksheet/>', "a DTD"),
    ],
    ids=["long-text", "crowded-cell", "row-beyond-excel", "dtd"],
)
def test_each_limit_is_a_one_line_refusal(tmp_path, sheet_xml, reason):
    with pytest.raises(UserError, match="refused") as refused:
        xlsx.read_book(_book(tmp_path, sheet_xml))
    assert reason in str(refused.value) and "\n" not in str(refused.value)


def _cells_of_built_book(tmp_path: Path, iterations: int) -> tuple[int, int]:
    """(table rows, cells) of `sheetgen build --iterations N` with the default six learning rates."""
    path = tmp_path / f"built{iterations}.xlsx"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "sheetgen", "build", "--iterations", str(iterations), "-o", str(path)]
    subprocess.run(command, check=True, capture_output=True, env=env, timeout=300)
    book = xlsx.read_book(path)
    return 6 * (iterations + 1), sum(len(sheet.values) for sheet in book.sheets)


def test_the_largest_book_build_allows_is_within_what_verify_reads(tmp_path):
    """Issue 14 item 7: build allowed 200,000 rows while verify refused past 1,000,000 cells."""
    from sheetgen.build import params

    small_rows, small_cells = _cells_of_built_book(tmp_path, 20)
    rows, cells = _cells_of_built_book(tmp_path, 80)
    per_row = (cells - small_cells) / (rows - small_rows)
    assert per_row <= xlsx.CELLS_PER_TABLE_ROW
    largest = cells + per_row * (params.MAX_TOTAL_ROWS - rows)  # the same book grown to build's ceiling
    assert largest <= xlsx.MAX_CELLS
    assert 6 * (10_000 + 1) <= params.MAX_TOTAL_ROWS  # the issue's `--iterations 10000` with six rates


def test_libreoffice_is_never_given_a_book_the_reader_refuses(tmp_path, monkeypatch, capsys):
    from sheetgen import cli
    from sheetgen.office import recalc

    bomb, good = tmp_path / "bomb.xlsx", tmp_path / "good.xlsx"
    write_bomb(bomb, "row-junk", 8)  # over a million unknown elements
    subprocess.run(
        [sys.executable, "-m", "sheetgen", "build", "--iterations", "3", "-o", str(good)],
        check=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    given: list[list[Path]] = []

    class Refusing:
        def __init__(self, paths, *args, **kwargs):
            given.append(list(paths))
            raise RuntimeError("stop here: only what LibreOffice was given matters")

    # A Batch is one soffice process: what it is given is what LibreOffice would see.
    monkeypatch.setattr(recalc, "find_soffice", lambda: "/usr/bin/soffice")
    monkeypatch.setattr(recalc, "Batch", Refusing)
    for jobs in ("1", "2"):
        given.clear()
        with pytest.raises(RuntimeError, match="stop here"):
            cli.main(["verify", "--engine", "libreoffice", "--jobs", jobs, str(bomb), str(good)])
        assert given == [[good]], jobs
