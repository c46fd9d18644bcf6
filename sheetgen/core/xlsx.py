"""A small, bounded, streaming reader of .xlsx files: formulas and values in one pass.

openpyxl needs two full loads to give both a cell's formula and its cached value, which
is too slow for checking a class's worth of workbooks. This reader streams every XML part
through expat once and keeps, for every cell, its value (number, text, bool or spreadsheet
error) and its formula text, in compact arrays (core.cells); shared formulas are expanded on
demand.

Workbooks come from students, so nothing is trusted and every size is bounded before it can
cost memory or time: the file must be a zip (an OLE2 file is an encrypted/password-protected
xlsx or an old .xls and is named as such); the zip's declared sizes, compression ratios and
entry count are checked before anything is decompressed (zipfile never inflates past a declared
size); no part may carry a DTD (so no entity expansion), an XML token over MAX_TOKEN_BYTES, a
text over MAX_TEXT_CHARS, or more elements than its budget; no element tree is ever built, so
unknown elements cost nothing but their count; the workbook holds at most MAX_CELLS cells,
MAX_STRINGS shared strings and MAX_TEXT_TOTAL characters of text. Every refusal is a one-line
UserError, and they all come before LibreOffice sees the file.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from xml.parsers import expat

from sheetgen.core.cells import EMPTY, FALSE, NUMBER, OBJECT, SHARED_STRING, TRUE, CellFormulas, CellValues
from sheetgen.core.errors import UserError

MAX_ENTRIES = 5_000  # a real workbook has tens of parts
MAX_ENTRY_BYTES = 256 << 20  # uncompressed size of one part (a 10,000-row sheet is ~60 MiB)
MAX_TOTAL_BYTES = 768 << 20  # uncompressed size of all parts together
MAX_RATIO = 200  # spreadsheet XML deflates 5-30x; zip bombs reach 1000x and more
RATIO_FLOOR_BYTES = 1 << 20  # tiny parts may compress arbitrarily well

# The one size limit of sheetgen, shared by build (which never writes more) and verify (which refuses
# more): cells per workbook. 6 learning rates x 10,000 iterations, biases included, is ~2.3 million.
# Read into core.cells' arrays a cell costs ~60 bytes with its formula, so the largest book verifies in
# a few hundred MB (docs/benchmarks.md).
MAX_CELLS = 2_500_000
# Build's share of it: table rows over all LR sheets. A row of the widest table (biases included) and its
# Summary cells stay under CELLS_PER_TABLE_ROW cells (tests/test_xlsx_limits.py counts them in built books).
CELLS_PER_TABLE_ROW = 40
MAX_TABLE_ROWS = MAX_CELLS // CELLS_PER_TABLE_ROW
MAX_ELEMENTS = 4 * MAX_CELLS + 2_000_000  # all sheets: <c>, <f>, <v> per cell, rows, the rest
MAX_OTHER_ELEMENTS = 1_000_000  # all sheets: elements that are not rows or cells (layout, junk)
MAX_CELL_ELEMENTS = 256  # inside one <c>: <f>, <v>, or <is> with its rich-text runs
MAX_ROWS = 1_048_576  # per sheet, as in Excel
MAX_DEFINED_NAMES = 10_000  # a real book has a handful
MAX_PART_ELEMENTS = 200_000  # workbook, relationships, properties: a real one has hundreds
MAX_STRINGS = 250_000  # shared strings; a backprop sheet has tens
MAX_TEXT_CHARS = 65_536  # one cell's text or formula (Excel's limits: 32,767 and 8,192)
MAX_TEXT_TOTAL = 32_000_000  # characters of text over the whole workbook (strings and text cells)
MAX_FORMULA_BYTES = 256_000_000  # formula text over the whole workbook (~100 bytes x MAX_CELLS)
MAX_SHARED_FORMULAS = 100_000  # shared-formula groups (Excel makes one per filled block)
MAX_TOKEN_BYTES = 4 << 20  # a start tag (attributes) or comment this long is never a spreadsheet's
_CHUNK = 1 << 20

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
_REL_NS = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)  # transitional, strict
_MAIN_NS = (
    "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "http://purl.oclc.org/ooxml/spreadsheetml/main",
)


class ErrorValue(str):
    """A spreadsheet error shown in a cell, such as #DIV/0! or #VALUE!."""


@dataclass
class Sheet:
    name: str
    values: CellValues = field(default_factory=CellValues)  # (row, col), 1-based -> value
    formulas: CellFormulas = field(default_factory=CellFormulas)  # text, or ("shared", si)
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
    # A book made up from another (Mazur's layout read as one table): (sheet, row, col) of a made-up
    # cell -> where it came from, "'Iteration 1'!B5", so notes can name the cell a reader sees.
    origin: dict[tuple[str, int, int], str] = field(default_factory=dict)
    # Defined names (workbook.xml): (the sheet a local name belongs to, or None; the name in lower case)
    # -> what it refers to, a formula text without '=' ("Params!$B$1", "0.5").
    names: dict[tuple[str | None, str], str] = field(default_factory=dict)

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


def column_number(letters: str) -> int:
    """'A' -> 1, 'AB' -> 28 (either case); the inverse of column_letters."""
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
    return int(match.group(2)), column_number(match.group(1))


def _local(name: str) -> str:
    return name[name.rfind(" ") + 1 :]  # expat writes a namespaced name as "uri local"


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


class _Refused(Exception):
    """A part broke a size limit (raised inside expat's callbacks, turned into a UserError)."""


class _Handler:
    """Base of the per-part readers: counts elements, collects the text of one element at a time."""

    def __init__(self, max_elements: int):
        self.elements = 0
        self.max_elements = max_elements
        self.events = 0  # progress, for the giant-token check
        self._text: list[str] | None = None
        self._text_chars = 0

    def count(self) -> None:
        self.elements += 1
        if self.elements > self.max_elements:
            raise _Refused(f"more than {self.max_elements:,} XML elements")

    def collect(self) -> None:
        self._text, self._text_chars = [], 0

    def collected(self) -> str:
        text = "".join(self._text or ())
        self._text = None
        return text

    def text(self, data: str) -> None:
        self.events += 1
        if self._text is not None:
            self._text_chars += len(data)
            if self._text_chars > MAX_TEXT_CHARS:
                raise _Refused(f"a text of more than {MAX_TEXT_CHARS:,} characters")
            self._text.append(data)

    def start(self, name: str, attrs: dict) -> None:
        self.count()

    def end(self, name: str) -> None:
        self.events += 1


def _no_dtd(*_args) -> None:
    raise _Refused("a DTD (an .xlsx part never has one; entity expansion is how XML bombs work)")


def _stream(archive: zipfile.ZipFile, part: str, path: Path, handler: _Handler) -> None:
    """Feed one part through expat in 1 MiB chunks; every limit breaks off the read at once."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True
    parser.buffer_size = 1 << 16
    parser.StartElementHandler = handler.start
    parser.EndElementHandler = handler.end
    parser.CharacterDataHandler = handler.text
    parser.StartDoctypeDeclHandler = _no_dtd
    parser.EntityDeclHandler = _no_dtd
    try:
        with archive.open(part) as stream:
            silent = 0  # bytes fed since the parser last reported anything: expat is holding one token
            while chunk := stream.read(_CHUNK):
                before = handler.events + handler.elements
                parser.Parse(chunk, False)
                silent = 0 if handler.events + handler.elements != before else silent + len(chunk)
                if silent > MAX_TOKEN_BYTES:
                    raise _Refused(f"an XML tag or comment longer than {MAX_TOKEN_BYTES >> 20} MiB")
            parser.Parse(b"", True)
    except _Refused as refusal:
        raise UserError(f"{path}: refused: {part}: {refusal}: not a spreadsheet sheetgen can check") from None
    except UserError:
        raise
    except (
        expat.ExpatError,
        zipfile.BadZipFile,
        zlib.error,
        OSError,
        ValueError,
        EOFError,
        IndexError,
        OverflowError,
    ) as error:
        raise UserError(f"{path}: corrupt .xlsx (cannot read {part}: {error})") from None


class _Relationships(_Handler):
    def __init__(self, folder: str):
        super().__init__(MAX_PART_ELEMENTS)
        self.folder = folder
        self.found: dict[str, tuple[str, str]] = {}

    def start(self, name, attrs):
        self.count()
        if _local(name) != "Relationship" or attrs.get("TargetMode") == "External":
            return
        target = attrs.get("Target", "")
        absolute = (
            target.lstrip("/")
            if target.startswith("/")
            else posixpath.normpath(posixpath.join(self.folder, target))
        )
        self.found[attrs.get("Id")] = (attrs.get("Type", "").rsplit("/", 1)[-1], absolute)


def _rels(archive: zipfile.ZipFile, part: str, path: Path) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type suffix, absolute part name) for `part`."""
    folder, name = posixpath.split(part)
    rels_part = posixpath.join(folder, "_rels", name + ".rels")
    if rels_part not in archive.namelist():
        return {}
    handler = _Relationships(folder)
    _stream(archive, rels_part, path, handler)
    return handler.found


class _SharedStrings(_Handler):
    """Plain text is one <t>; rich text is several <r><t> runs; phonetic hints (<rPh>) are not text."""

    def __init__(self):
        super().__init__(8 * MAX_STRINGS)
        self.strings: list[str] = []
        self.chars = 0
        self._runs: list[str] | None = None
        self._phonetic = 0

    def start(self, name, attrs):
        self.count()
        local = _local(name)
        if local == "si":
            self._runs, self._phonetic = [], 0
        elif local == "t" and self._runs is not None and not self._phonetic:
            self.collect()
        elif local == "rPh":
            self._phonetic += 1

    def end(self, name):
        self.events += 1
        local = _local(name)
        if local == "t" and self._text is not None:
            self._runs.append(self.collected())
        elif local == "rPh":
            self._phonetic -= 1
        elif local == "si" and self._runs is not None:
            text = "".join(self._runs)
            self._runs = None
            self.chars += len(text)
            if len(self.strings) >= MAX_STRINGS:
                raise _Refused(f"more than {MAX_STRINGS:,} shared strings")
            if self.chars > MAX_TEXT_TOTAL:
                raise _Refused(f"more than {MAX_TEXT_TOTAL:,} characters of shared strings")
            self.strings.append(text)


def _shared_strings(archive: zipfile.ZipFile, part: str | None, path: Path) -> _SharedStrings:
    handler = _SharedStrings()
    if part and part in archive.namelist():
        _stream(archive, part, path, handler)
    return handler


class _CustomProperties(_Handler):
    def __init__(self):
        super().__init__(MAX_PART_ELEMENTS)
        self.found: dict[str, str] = {}
        self._depth = 0
        self._name: str | None = None

    def start(self, name, attrs):
        self.count()
        self._depth += 1
        if self._depth == 2:
            self._name = attrs.get("name")
        elif self._depth == 3 and self._name and self._name not in self.found:
            self.collect()

    def end(self, name):
        self.events += 1
        if self._depth == 3 and self._text is not None:
            self.found[self._name] = self.collected()
        self._depth -= 1


def _custom_properties(archive: zipfile.ZipFile, path: Path) -> dict[str, str]:
    if "docProps/custom.xml" not in archive.namelist():
        return {}
    handler = _CustomProperties()
    _stream(archive, "docProps/custom.xml", path, handler)
    return handler.found


class _Workbook(_Handler):
    def __init__(self):
        super().__init__(MAX_PART_ELEMENTS)
        self.sheets: list[tuple[str, str | None]] = []  # (name, relationship id)
        self.names: list[tuple[str, str | None, str]] = []  # (name, localSheetId, refers to)
        self._name: tuple[str, str | None] | None = None

    def start(self, name, attrs):
        self.count()
        if _local(name) == "sheet":
            rid = next((attrs.get(f"{ns} id") for ns in _REL_NS if attrs.get(f"{ns} id")), None)
            self.sheets.append((attrs.get("name", ""), rid))
        elif _local(name) == "definedName" and len(self.names) < MAX_DEFINED_NAMES:
            self._name = (attrs.get("name", ""), attrs.get("localSheetId"))
            self.collect()

    def end(self, name):
        super().end(name)
        if self._name is not None and _local(name) == "definedName":
            self.names.append((*self._name, self.collected().strip()))
            self._name = None

    def defined_names(self) -> dict[tuple[str | None, str], str]:
        """The names a formula may use (not Excel's own, _xlnm.Print_Area and the like)."""
        found = {}
        for name, local, text in self.names:
            if not name or name.startswith("_xlnm.") or not text:
                continue
            sheet = None
            if local is not None:
                if not local.isdigit() or int(local) >= len(self.sheets):
                    continue
                sheet = self.sheets[int(local)][0]
            found[(sheet, name.lower())] = text.removeprefix("=")
        return found


def _count_charts(archive: zipfile.ZipFile, sheet_part: str, path: Path) -> int:
    charts = 0
    for kind, target in _rels(archive, sheet_part, path).values():
        if kind == "drawing" and target in archive.namelist():
            charts += sum(1 for k, _ in _rels(archive, target, path).values() if k == "chart")
    return charts


_ROW, _CELL, _VALUE, _FORMULA, _INLINE, _T, _PHONETIC = range(7)
_SHEET_TAGS = {
    f"{ns} {local}": kind
    for ns in _MAIN_NS
    for local, kind in (
        ("row", _ROW),
        ("c", _CELL),
        ("v", _VALUE),
        ("f", _FORMULA),
        ("is", _INLINE),
        ("t", _T),
        ("rPh", _PHONETIC),
    )
}


class _Budget:
    """What the whole workbook may still hold: cells, elements, characters of text and formulas."""

    def __init__(self, strings_chars: int):
        self.cells = MAX_CELLS
        self.elements = MAX_ELEMENTS
        self.text_chars = MAX_TEXT_TOTAL - strings_chars
        self.formula_bytes = MAX_FORMULA_BYTES
        self.other = MAX_OTHER_ELEMENTS


class _Worksheet(_Handler):
    """Each cell is stored when its </c> arrives; nothing else is kept."""

    def __init__(self, sheet: Sheet, strings: list[str], budget: _Budget):
        super().__init__(budget.elements)
        self.sheet, self.strings, self.budget = sheet, strings, budget
        self.row_number = self.col_number = 0
        self.cells = self.rows = self.cell_elements = 0
        self.in_cell = False
        self.row = self.col = 0
        self.kind = self.raw = self.formula = self.formula_attrs = self.inline = None
        self._inline_runs: list[str] | None = None
        self._phonetic = 0

    def start(self, name, attrs):
        self.elements += 1
        if self.elements > self.max_elements:
            raise _Refused(f"more than {MAX_ELEMENTS:,} XML elements in the sheets")
        tag = _SHEET_TAGS.get(name)
        if tag == _CELL:
            self.start_cell(attrs)
        elif tag == _ROW:
            self.start_row(attrs)
            return  # a row is no part of a cell: empty rows cost a row each, never a cell's elements
        elif tag is None or not self.in_cell:
            self.budget.other -= 1
            if self.budget.other < 0:
                raise _Refused(
                    f"more than {MAX_OTHER_ELEMENTS:,} XML elements that are neither rows nor cells"
                )
            return
        self.cell_elements += 1
        if self.cell_elements > MAX_CELL_ELEMENTS:
            raise _Refused(
                f"a cell ({address(self.row, self.col)}) of more than {MAX_CELL_ELEMENTS} XML elements"
            )
        if tag == _VALUE or tag == _FORMULA:
            self.collect()
            if tag == _FORMULA:
                self.formula_attrs = attrs
        elif tag == _INLINE:
            self._inline_runs, self._phonetic = [], 0
        elif tag == _T and self._inline_runs is not None and not self._phonetic:
            self.collect()
        elif tag == _PHONETIC:
            self._phonetic += 1

    def start_row(self, attrs):
        self.row_number = int(attrs.get("r") or self.row_number + 1)
        self.col_number = 0
        self.rows += 1
        if self.rows > MAX_ROWS or not 1 <= self.row_number <= MAX_ROWS:
            raise _Refused(f"more than {MAX_ROWS:,} rows, or row {self.row_number}")
        self.in_cell = False

    def start_cell(self, attrs):
        self.cells += 1  # counted as they stream by, so one enormous row cannot exhaust memory
        if self.cells > self.budget.cells:
            raise _Refused(f"more than {MAX_CELLS:,} cells (sheetgen's limit for a workbook)")
        ref = attrs.get("r")
        if ref:
            row, col = _split_ref(ref)
        else:  # positions may be implied by order
            row, col = self.row_number, self.col_number + 1
        self.col_number = col
        if row > 1_048_576 or col > 16_384 or row < 1 or col < 1:
            raise ValueError(f"cell {ref} outside any sheet")
        self.row, self.col, self.kind = row, col, attrs.get("t")
        self.raw = self.formula = self.formula_attrs = self.inline = None
        self._inline_runs = None
        self.in_cell = True
        self.cell_elements = 0

    def end(self, name):
        self.events += 1
        tag = _SHEET_TAGS.get(name)
        if tag is None or not self.in_cell:
            return
        if tag == _CELL:
            self.store()
            self.in_cell = False
        elif tag == _VALUE and self._text is not None:
            self.raw = self.collected() or None  # <v></v> is no value, as <v/> is
        elif tag == _FORMULA and self._text is not None:
            self.formula = self.collected()
        elif tag == _T and self._inline_runs is not None and self._text is not None:
            self._inline_runs.append(self.collected())
        elif tag == _PHONETIC:
            self._phonetic -= 1
        elif tag == _INLINE and self._inline_runs is not None:
            self.inline = "".join(self._inline_runs)
            self._inline_runs = None

    def store(self):
        row, col, sheet = self.row, self.col, self.sheet
        if self.formula is not None:
            text = self.formula
            self.budget.formula_bytes -= len(text)
            if self.budget.formula_bytes < 0:
                raise _Refused(f"more than {MAX_FORMULA_BYTES:,} characters of formulas")
            if self.formula_attrs.get("t") == "shared":
                si = self.formula_attrs.get("si") or ""
                if text:
                    if si not in sheet.shared and len(sheet.shared) >= MAX_SHARED_FORMULAS:
                        raise _Refused(f"more than {MAX_SHARED_FORMULAS:,} shared formulas")
                    sheet.shared[si] = (text, (row, col))
                sheet.formulas.add(row, col, si, shared=True)
            elif text:
                sheet.formulas.add(row, col, text)
        if self.raw is None and self.inline is None and self.formula is None:
            return  # styled empty cells cost nothing
        self.store_value(row, col)

    def store_value(self, row, col):
        kind, raw, values = self.kind, self.raw, self.sheet.values
        if kind == "inlineStr":
            self.add_text(row, col, self.inline)
        elif raw is None:
            values.add(row, col, EMPTY)
        elif kind is None or kind == "n":
            values.add(row, col, NUMBER, float(raw))
        elif kind == "s":
            index = int(raw)
            if not 0 <= index < len(self.strings):
                raise IndexError(
                    f"cell {address(row, col)} names shared string {index} of {len(self.strings)}"
                )
            values.add(row, col, SHARED_STRING, index)
        elif kind == "b":
            values.add(row, col, TRUE if raw.strip() in ("1", "true") else FALSE)
        elif kind == "e":
            values.add(row, col, OBJECT, obj=ErrorValue(raw))
        else:  # "str" (a formula's text result) and "d" (ISO date)
            self.add_text(row, col, raw)

    def add_text(self, row, col, text):
        if text is None:
            self.sheet.values.add(row, col, EMPTY)
            return
        self.budget.text_chars -= len(text)
        if self.budget.text_chars < 0:
            raise _Refused(f"more than {MAX_TEXT_TOTAL:,} characters of text")
        self.sheet.values.add(row, col, OBJECT, obj=text)


def _read_cells(archive, part: str, sheet: Sheet, strings: list[str], path: Path, budget: _Budget) -> None:
    handler = _Worksheet(sheet, strings, budget)
    _stream(archive, part, path, handler)
    sheet.values.finish()
    sheet.formulas.finish()
    budget.cells -= handler.cells
    budget.elements -= handler.elements


# Books read by check_book, waiting for their read_book: (resolved path, size, mtime) -> Book.
_CHECKED: dict[tuple[str, int, int], Book] = {}


def _identity(path: Path) -> tuple[str, int, int]:
    info = path.stat()
    return str(path.resolve()), info.st_size, info.st_mtime_ns


def check_book(path: str | Path) -> Book:
    """Read the whole book under every limit now, so that a file this reader refuses (an XML bomb) is
    refused before LibreOffice is given it. The book is kept for the next read_book of the same file
    (while the books kept hold fewer than MAX_CELLS cells), so checking costs no second read."""
    path = Path(path)
    book = _read(path)
    cells = sum(len(sheet.values) for sheet in book.sheets)
    if cells + sum(len(s.values) for kept in _CHECKED.values() for s in kept.sheets) <= MAX_CELLS:
        _CHECKED[_identity(path)] = book
    return book


def read_book(path: str | Path) -> Book:
    """Read every worksheet's cells (values and formulas), chart counts and custom properties."""
    path = Path(path)
    if _CHECKED:
        try:
            book = _CHECKED.pop(_identity(path), None)
        except OSError:
            book = None
        if book is not None:
            return book
    return _read(path)


def _read(path: Path) -> Book:
    with open_checked(path) as archive:
        workbook = _Workbook()
        _stream(archive, "xl/workbook.xml", path, workbook)
        rels = _rels(archive, "xl/workbook.xml", path)
        strings_part = next(
            (target for kind, target in rels.values() if kind == "sharedStrings"), "xl/sharedStrings.xml"
        )
        shared = _shared_strings(archive, strings_part, path)
        budget = _Budget(shared.chars)
        sheets = []
        names = set(archive.namelist())
        for name, rid in workbook.sheets:
            kind, part = rels.get(rid, ("", ""))
            sheet = Sheet(name, values=CellValues(shared.strings))
            if part in names:
                if kind == "worksheet":
                    _read_cells(archive, part, sheet, shared.strings, path, budget)
                    sheet.charts = _count_charts(archive, part, path)
                elif kind == "chartsheet":
                    sheet.charts = max(_count_charts(archive, part, path), 1)
            sheets.append(sheet)
        if not sheets:
            raise UserError(f"{path}: corrupt .xlsx (the workbook lists no sheets)")
        return Book(path, sheets, _custom_properties(archive, path), names=workbook.defined_names())
