"""A small, bounded, streaming reader of .xlsx files: formulas and values in one pass.

openpyxl needs two full loads to give both a cell's formula and its cached value, which
is too slow for checking a class's worth of workbooks. This reader walks each sheet's XML
once with ElementTree.iterparse and keeps, for every cell, its value (number, text, bool
or spreadsheet error) and its formula text; shared formulas are expanded on demand.

Workbooks come from students, so nothing is trusted: the file must be a zip (an OLE2
file is an encrypted/password-protected xlsx or an old .xls and is named as such), the
zip's declared sizes, compression ratios and entry count are bounded before anything is
decompressed (zipfile never inflates past a declared size), and a sheet may hold at most
MAX_CELLS cells. Every refusal is a one-line UserError.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from sheetgen.core.errors import UserError

MAX_ENTRIES = 5_000  # a real workbook has tens of parts
MAX_ENTRY_BYTES = 256 << 20  # uncompressed size of one part (a 10,000-row sheet is ~60 MiB)
MAX_TOTAL_BYTES = 768 << 20  # uncompressed size of all parts together
MAX_RATIO = 200  # spreadsheet XML deflates 5-30x; zip bombs reach 1000x and more
RATIO_FLOOR_BYTES = 1 << 20  # tiny parts may compress arbitrarily well
MAX_CELLS = 1_000_000  # per workbook (~30,000 table rows); each cell read costs ~0.3 KB of memory

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
_REL_NS = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)  # transitional, strict


class ErrorValue(str):
    """A spreadsheet error shown in a cell, such as #DIV/0! or #VALUE!."""


@dataclass
class Sheet:
    name: str
    values: dict[tuple[int, int], object] = field(default_factory=dict)  # (row, col), 1-based
    formulas: dict[tuple[int, int], object] = field(default_factory=dict)  # text, or ("shared", si)
    shared: dict[str, tuple[str, tuple[int, int]]] = field(default_factory=dict)  # si -> (text, origin)
    charts: int = 0

    def formula(self, row: int, col: int) -> str | None:
        """The cell's formula text without '=' (shared formulas translated to this cell), or None."""
        found = self.formulas.get((row, col))
        if not isinstance(found, tuple):
            return found
        text, origin = self.shared.get(found[1], (None, None))
        if text is None:
            return None
        if origin == (row, col):
            return text
        from openpyxl.formula.translate import Translator  # only needed for shared formulas

        translated = Translator("=" + text, address(*origin)).translate_formula(address(row, col))
        return translated[1:]


@dataclass
class Book:
    path: Path
    sheets: list[Sheet]
    properties: dict[str, str]  # custom document properties (docProps/custom.xml)

    def sheet(self, name: str) -> Sheet | None:
        return next((s for s in self.sheets if s.name == name), None)


def column_letters(col: int) -> str:
    letters = ""
    while col:
        col, rest = divmod(col - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def address(row: int, col: int) -> str:
    return f"{column_letters(col)}{row}"


_COLUMN_CACHE: dict[str, int] = {}
_CELL_REF = re.compile(r"([A-Za-z]{1,3})(\d{1,7})$")


def _column_number(letters: str) -> int:
    col = _COLUMN_CACHE.get(letters)
    if col is None:
        col = 0
        for ch in letters.upper():
            col = col * 26 + ord(ch) - 64
        _COLUMN_CACHE[letters] = col
    return col


def _split_ref(ref: str) -> tuple[int, int]:
    match = _CELL_REF.match(ref)
    if match is None:
        raise ValueError(f"bad cell reference {ref[:20]!r}")
    return int(match.group(2)), _column_number(match.group(1))


def _local(tag: str) -> str:
    return tag[tag.rfind("}") + 1 :]


def open_checked(path: str | Path) -> zipfile.ZipFile:
    """Open `path` as an xlsx zip, refusing everything that is not one or is too big to inflate."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    with open(path, "rb") as handle:
        magic = handle.read(8)
    if magic.startswith(OLE2_MAGIC[:4]):
        raise UserError(
            f"{path}: an OLE2 file, i.e. a password-protected workbook or an old .xls: "
            "remove the password / save it as .xlsx and try again"
        )
    if not magic.startswith(ZIP_MAGIC):
        raise UserError(f"{path}: not an .xlsx workbook (not a zip file): save it as Excel 2007+ .xlsx")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UserError(f"{path}: corrupt .xlsx (broken zip: {error}): save the workbook again") from None
    entries = archive.infolist()
    total = 0
    problem = None
    if len(entries) > MAX_ENTRIES:
        problem = f"{len(entries)} zip entries (limit {MAX_ENTRIES})"
    for info in entries:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if problem:
            break
        if info.file_size > MAX_ENTRY_BYTES:
            problem = f"part {info.filename} would inflate to {info.file_size >> 20} MiB"
        elif info.file_size > RATIO_FLOOR_BYTES and ratio > MAX_RATIO:
            problem = f"part {info.filename} is compressed {ratio:.0f}:1 (a zip bomb?)"
        elif total > MAX_TOTAL_BYTES:
            problem = f"parts would inflate to more than {MAX_TOTAL_BYTES >> 20} MiB"
    names = set(archive.namelist())
    if not problem and "xl/workbook.xml" not in names:
        problem = "a zip file but not an .xlsx workbook (no xl/workbook.xml)"
    if problem:
        archive.close()
        raise UserError(f"{path}: refused: {problem}")
    return archive


def _parse(archive: zipfile.ZipFile, part: str, path: Path):
    try:
        with archive.open(part) as stream:
            return ET.parse(stream).getroot()
    except (ET.ParseError, zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise UserError(f"{path}: corrupt .xlsx (cannot read {part}: {error})") from None


def _rels(archive: zipfile.ZipFile, part: str, path: Path) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type suffix, absolute part name) for `part`."""
    folder, name = posixpath.split(part)
    rels_part = posixpath.join(folder, "_rels", name + ".rels")
    if rels_part not in archive.namelist():
        return {}
    found = {}
    for rel in _parse(archive, rels_part, path):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External":
            continue
        absolute = (
            target.lstrip("/")
            if target.startswith("/")
            else posixpath.normpath(posixpath.join(folder, target))
        )
        found[rel.get("Id")] = (rel.get("Type", "").rsplit("/", 1)[-1], absolute)
    return found


def _shared_strings(archive: zipfile.ZipFile, part: str | None, path: Path) -> list[str]:
    if not part or part not in archive.namelist():
        return []
    strings = []
    for item in _parse(archive, part, path):
        # Plain text is one <t>; rich text is several <r><t> runs; phonetic hints (<rPh>) are not text.
        runs = []
        for child in item:
            tag = _local(child.tag)
            if tag == "t":
                runs.append(child.text or "")
            elif tag == "r":
                runs.extend(t.text or "" for t in child if _local(t.tag) == "t")
        strings.append("".join(runs))
    return strings


def _custom_properties(archive: zipfile.ZipFile, path: Path) -> dict[str, str]:
    if "docProps/custom.xml" not in archive.namelist():
        return {}
    props = {}
    for prop in _parse(archive, "docProps/custom.xml", path):
        value = next(iter(prop), None)
        if prop.get("name") and value is not None:
            props[prop.get("name")] = value.text or ""
    return props


def _count_charts(archive: zipfile.ZipFile, sheet_part: str, path: Path) -> int:
    charts = 0
    for kind, target in _rels(archive, sheet_part, path).values():
        if kind == "drawing" and target in archive.namelist():
            charts += sum(1 for k, _ in _rels(archive, target, path).values() if k == "chart")
    return charts


_NAMESPACES = (
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",
)
_ROW = {f"{{{ns}}}row" for ns in _NAMESPACES}
_CELL = {f"{{{ns}}}c" for ns in _NAMESPACES}
_VALUE = {f"{{{ns}}}v" for ns in _NAMESPACES}
_FORMULA = {f"{{{ns}}}f" for ns in _NAMESPACES}
_INLINE = {f"{{{ns}}}is" for ns in _NAMESPACES}


def _read_cells(
    archive: zipfile.ZipFile, part: str, sheet: Sheet, strings: list[str], path: Path, budget: list[int]
) -> None:
    """Read a worksheet row by row: only "end" events, each row's cells handled once the row is complete."""
    row_number = 0
    cells = 0
    try:
        with archive.open(part) as stream:
            for _, elem in ET.iterparse(stream):
                tag = elem.tag
                if tag in _CELL:
                    cells += 1  # counted as they stream by, so one enormous row cannot exhaust memory
                    if cells > budget[0]:
                        raise UserError(
                            f"{path}: refused: more than {MAX_CELLS} cells; a backprop sheet "
                            "has far fewer (split the workbook)"
                        )
                elif tag in _ROW:
                    row_number = int(elem.get("r") or row_number + 1)
                    _read_row(elem, row_number, sheet, strings, path)
                    elem.clear()
    except UserError:
        raise
    except (ET.ParseError, zipfile.BadZipFile, OSError, ValueError, EOFError, IndexError) as error:
        raise UserError(f"{path}: corrupt .xlsx (cannot read {part}: {error})") from None
    budget[0] -= cells


def _read_row(row_elem, row_number: int, sheet: Sheet, strings: list[str], path: Path) -> None:
    values, formulas, shared = sheet.values, sheet.formulas, sheet.shared
    col_number = 0
    for elem in row_elem:
        if elem.tag not in _CELL:
            continue
        ref = elem.get("r")
        if ref:
            row, col = _split_ref(ref)
        else:  # positions may be implied by order
            row, col = row_number, col_number + 1
        col_number = col
        if row > 1_048_576 or col > 16_384 or row < 1 or col < 1:
            raise UserError(f"{path}: corrupt .xlsx (cell {ref} outside any sheet)")
        kind = elem.get("t")
        raw, formula, inline = None, None, None
        for child in elem:
            child_tag = child.tag
            if child_tag in _VALUE:
                raw = child.text
            elif child_tag in _FORMULA:
                formula = child
            elif child_tag in _INLINE:
                inline = "".join(t.text or "" for t in child.iter() if _local(t.tag) == "t")
        if formula is not None:
            text = formula.text
            if formula.get("t") == "shared":
                si = formula.get("si")
                if text:
                    shared[si] = (text, (row, col))
                formulas[(row, col)] = ("shared", si)
            elif text:
                formulas[(row, col)] = text
        if raw is not None or inline is not None or formula is not None:  # styled empty cells cost nothing
            values[(row, col)] = _value(kind, raw, inline, strings)


def _value(kind: str | None, raw: str | None, inline: str | None, strings: list[str]):
    if kind == "inlineStr":
        return inline
    if raw is None:
        return None
    if kind is None or kind == "n":
        return float(raw)
    if kind == "s":
        return strings[int(raw)]
    if kind == "b":
        return raw.strip() in ("1", "true")
    if kind == "e":
        return ErrorValue(raw)
    return raw  # "str" (a formula's text result) and "d" (ISO date)


def read_book(path: str | Path) -> Book:
    """Read every worksheet's cells (values and formulas), chart counts and custom properties."""
    path = Path(path)
    with open_checked(path) as archive:
        workbook = _parse(archive, "xl/workbook.xml", path)
        rels = _rels(archive, "xl/workbook.xml", path)
        strings_part = next(
            (target for kind, target in rels.values() if kind == "sharedStrings"), "xl/sharedStrings.xml"
        )
        strings = _shared_strings(archive, strings_part, path)
        budget = [MAX_CELLS]
        sheets = []
        for element in workbook.iter():
            if _local(element.tag) != "sheet":
                continue
            rid = next((element.get(f"{{{ns}}}id") for ns in _REL_NS if element.get(f"{{{ns}}}id")), None)
            kind, part = rels.get(rid, ("", ""))
            sheet = Sheet(element.get("name", ""))
            if part in archive.namelist():
                if kind == "worksheet":
                    _read_cells(archive, part, sheet, strings, path, budget)
                    sheet.charts = _count_charts(archive, part, path)
                elif kind == "chartsheet":
                    sheet.charts = max(_count_charts(archive, part, path), 1)
            sheets.append(sheet)
        if not sheets:
            raise UserError(f"{path}: corrupt .xlsx (the workbook lists no sheets)")
        return Book(path, sheets, _custom_properties(archive, path))
