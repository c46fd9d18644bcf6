"""Edit an .xlsx in place of its zip: fill cells, add cell comments and a first sheet, keep the rest.

Re-saving a workbook through a library rewrites every part and keeps only what the library
understands (openpyxl 3.1 drops sparklines and rewrites the charts; a LibreOffice round trip drops
frozen panes and rewrites every part: benchmarks/annotate_methods.py measures it). This module
instead copies every part it does not need to change unaltered, and changes the few it must
(styles.xml, the marked sheets, their relationships, workbook.xml, the content types) by inserting
text at the right places, never by re-serialising a parsed tree: a parse and re-write would rename
namespace prefixes, which Excel's mc:Ignorable attributes depend on.

Cells and rows are found by scanning the tags of <sheetData>: cell content cannot hold a raw '<'
(formulas and text are escaped), so a tag scanner is exact there. Every part written is parsed
once more before the copy is renamed into place, so a file this module cannot edit correctly is
refused rather than produced broken.

The file is a student's, so nothing here may cost more than linear time or bounded memory:
a part is checked to be well-formed XML (a streaming parse) before any pattern runs over it, every
tag pattern reads `[^<>]*` (a '<' cannot occur inside a well-formed tag, and the pattern then stops
at the next one whatever the input), each part edited is read only up to a size limit (the
reader's for worksheets, PART_LIMIT for the rest), edited parts wait in spooled temporary files,
and every part left alone is streamed from the original zip into the copy, never held whole.
A zip with two parts of one name (which would Excel read?) is refused.
"""

from __future__ import annotations

import io
import posixpath
import re
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET
from xml.parsers import expat
from xml.sax.saxutils import escape

from sheetgen.core.errors import atomic_output
from sheetgen.core.xlsx import MAX_ENTRY_BYTES, address, column_letters, column_number, open_checked

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
STRICT_REL_NS = "http://purl.oclc.org/ooxml/officeDocument/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CT_COMMENTS = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
CT_VML = "application/vnd.openxmlformats-officedocument.vmlDrawing"
CT_STYLES = "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"
AUTHOR = "sheetgen verify"

# Elements that follow <legacyDrawing> in a worksheet (ECMA-376 CT_Worksheet order).
_AFTER_LEGACY_DRAWING = (
    "legacyDrawingHF",
    "drawingHF",
    "picture",
    "oleObjects",
    "controls",
    "webPublishItems",
    "tableParts",
    "extLst",
)
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


PART_LIMIT = 16 << 20  # a part edited other than a worksheet: styles, comments, relationships (KiBs)
SHEET_LIMIT = MAX_ENTRY_BYTES  # a worksheet edited: the reader's own limit
HEAD_LIMIT = 4 << 20  # a sheet only deselected: its start tags before <sheetData> are read, no further
CHUNK = 1 << 20
MAX_CELL_FORMATS = 64_000  # Excel's limit of cell formats in a workbook
SPOOL_BYTES = 4 << 20  # an edited part larger than this waits on disk, not in memory


class EditError(Exception):
    """The workbook's XML is not what this module can edit safely."""


def _check_well_formed(chunks, name: str) -> None:
    """Parse the bytes as XML without building anything (constant memory); EditError if malformed."""
    parser = expat.ParserCreate()
    try:
        for chunk in chunks:
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except expat.ExpatError as error:
        raise EditError(f"{name} is not well-formed XML ({expat.ErrorString(error.code)})") from None


def text(value: object) -> str:
    """XML text content: escaped, with characters XML 1.0 forbids removed."""
    return escape(_XML_ILLEGAL.sub("", str(value)))


def attr(value: object) -> str:
    return escape(_XML_ILLEGAL.sub("", str(value)), {'"': "&quot;", "\n": "&#10;"})


@dataclass
class CellMark:
    """One cell to fill (`fill` is an ARGB colour) and, optionally, to comment on."""

    sheet: str
    row: int
    col: int
    fill: str
    comment: str | None = None


@dataclass
class NewSheet:
    """A worksheet to add as the first sheet: rows of values (str, float, None) and hyperlinks."""

    name: str
    rows: list[list[object]]
    widths: list[float] = field(default_factory=list)
    bold_rows: set[int] = field(default_factory=set)  # 1-based
    wrap_columns: set[int] = field(default_factory=set)  # 1-based
    links: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, col) -> "'Sheet'!A1"


class _Package:
    """The zip's parts by name (case-insensitive lookup, as OPC part names are), read on demand.

    read() gives a part to edit, size-limited and checked to be well-formed; write() keeps an
    edited part in a spooled temporary file; heads holds the sheets whose start alone is edited
    (see _deselect) as they are streamed into the copy; every other part is streamed unread.
    """

    def __init__(self, archive: zipfile.ZipFile):
        self.archive = archive
        self.infos = archive.infolist()
        self._info: dict[str, zipfile.ZipInfo] = {}
        self._lower: dict[str, str] = {}
        for info in self.infos:
            if info.filename.lower() in self._lower:
                raise EditError(
                    f"the zip holds two parts named '{info.filename}' (which one counts is anybody's guess): "
                    "save the workbook again"
                )
            self._lower[info.filename.lower()] = info.filename
            self._info[info.filename] = info
        self.edited: dict[str, tempfile.SpooledTemporaryFile] = {}
        self.changed: set[str] = set()
        self.heads: dict[str, object] = {}  # part -> edit(head text) -> text, applied while streaming

    def name(self, part: str) -> str | None:
        return self._lower.get(part.lstrip("/").lower())

    def names(self) -> list[str]:
        return list(self._lower.values())

    def read_bytes(self, part: str, check: bool = True) -> bytes | bytearray:
        """The part's bytes (edited or original), at most its limit; EditError past it or malformed."""
        name = self.name(part)
        if name is None:
            raise KeyError(part)
        if name in self.edited:
            spool = self.edited[name]
            spool.seek(0)
            return spool.read()
        limit = SHEET_LIMIT if name.lower().startswith("xl/worksheets/") else PART_LIMIT
        info = self._info[name]
        if info.file_size > limit:
            raise EditError(f"part {name} inflates to {info.file_size >> 20} MiB, more than annotate edits")
        data = bytearray()
        parser = expat.ParserCreate() if check else None
        try:
            with self.archive.open(info) as handle:
                while chunk := handle.read(CHUNK):  # in chunks: one buffer, checked as it comes
                    data += chunk
                    if len(data) > limit:
                        raise EditError(
                            f"part {name} inflates past {limit >> 20} MiB, more than annotate edits"
                        )
                    if parser is not None:
                        parser.Parse(chunk, False)
            if parser is not None:
                parser.Parse(b"", True)
        except expat.ExpatError as error:
            raise EditError(f"{name} is not well-formed XML ({expat.ErrorString(error.code)})") from None
        return data

    def read(self, part: str) -> str:
        name = self.name(part) or part
        return self.read_bytes(part, check=not name.lower().endswith(".vml")).decode("utf-8")

    def write(self, part: str, content) -> None:
        """Keep the part's new content: a str, or an iterable of str pieces (never joined in memory)."""
        existing = self.name(part)
        name = existing or part.lstrip("/")
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed in close())
        for piece in [content] if isinstance(content, str) else content:
            for at in range(0, len(piece), CHUNK):  # encoded a chunk at a time
                spool.write(piece[at : at + CHUNK].encode("utf-8"))
        if name in self.edited:
            self.edited[name].close()
        self.edited[name] = spool
        self._lower[name.lower()] = name
        self.changed.add(name)

    def free_name(self, pattern: str) -> str:
        """pattern with {} replaced by the smallest number >= 1 giving a part that does not exist."""
        n = 1
        while self.name(pattern.format(n)):
            n += 1
        return pattern.format(n)

    def stream(self, name: str):
        """A readable binary stream of the part as it goes into the copy."""
        if name in self.edited:
            spool = self.edited[name]
            spool.seek(0)
            return _Unclosed(spool)
        return self.archive.open(self._info[name])

    def close(self) -> None:
        for spool in self.edited.values():
            spool.close()


class _Unclosed:
    """A spool handed out by stream(): closing the with-block must not discard it."""

    def __init__(self, handle):
        self.handle = handle

    def read(self, size: int = -1) -> bytes:
        return self.handle.read(size)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _rels_part(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def _children_attributes(data: bytes) -> list[dict[str, str]]:
    """The attributes of each child of the root element, parsed without keeping the tree."""
    found, depth = [], 0
    for event, element in ET.iterparse(io.BytesIO(data), events=("start", "end")):
        if event == "start":
            depth += 1
            continue
        depth -= 1
        if depth == 1:
            found.append(dict(element.attrib))
            element.clear()
    return found


def _relationships(package: _Package, part: str) -> list[dict[str, str]]:
    rels = _rels_part(part)
    if not package.name(rels):
        return []
    return _children_attributes(package.read_bytes(rels))


def _resolve(part: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(part), target))


def _relative(source_part: str, target_part: str) -> str:
    return posixpath.relpath(target_part, posixpath.dirname(source_part) or ".")


def _add_relationship(package: _Package, part: str, kind: str, target_part: str, rel_ns: str) -> str:
    """Add a relationship from `part` to `target_part`; return its new Id."""
    rels = _rels_part(part)
    existing = _relationships(package, part)
    ids = {r.get("Id") for r in existing}
    n = len(ids) + 1
    while f"rId{n}" in ids:
        n += 1
    rid = f"rId{n}"
    element = (
        f'<Relationship Id="{rid}" Type="{rel_ns}/{kind}" Target="{attr(_relative(part, target_part))}"/>'
    )
    if package.name(rels):
        content = package.read(rels)
        end = content.rfind("</Relationships>")
        if end < 0:  # <Relationships/> with nothing in it
            content = re.sub(
                r"<Relationships([^<>]*)/>", r"<Relationships\1>" + element + "</Relationships>", content
            )
        else:
            content = content[:end] + element + content[end:]
    else:
        content = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="{PKG_REL_NS}">{element}</Relationships>'
        )
    package.write(rels, content)
    return rid


def _add_content_type(package: _Package, part: str | None, content_type: str, extension: str | None = None):
    types = package.read("[Content_Types].xml")
    if extension is not None:
        if re.search(rf'<(?:\w+:)?Default\b[^<>]*Extension="{extension}"', types, re.IGNORECASE):
            return
        element = f'<Default Extension="{extension}" ContentType="{content_type}"/>'
    else:
        named = rf"""<(?:\w+:)?Override\b[^<>]*PartName=["']/?{re.escape(attr(part))}["']"""
        if re.search(named, types, re.IGNORECASE):  # declared already (a part referenced but missing)
            return
        element = f'<Override PartName="/{attr(part)}" ContentType="{content_type}"/>'
    end = types.rfind("</")
    package.write("[Content_Types].xml", types[:end] + element + types[end:])


def _prefix(content: str, local: str) -> str:
    """The namespace prefix ('' or 'x:') the document uses for element `local`."""
    match = re.search(rf"<([\w.-]+:)?{local}\b", content)
    if match is None:
        raise EditError(f"no <{local}> element")
    return match.group(1) or ""


# --------------------------------------------------------------------------------------------- styles


class _Styles:
    """Appends fills, fonts and cell formats to styles.xml, each new combination once."""

    def __init__(self, package: _Package, part: str):
        self.package, self.part = package, part
        self.content = package.read(part)
        self.p = _prefix(self.content, "styleSheet")
        self.xfs = self._entries("cellXfs", "xf")
        self._fills: dict[str, int] = {}
        self._derived: dict[tuple, int] = {}
        self._bold: int | None = None

    def _section(self, name: str) -> re.Match | None:
        p = re.escape(self.p)
        return re.search(rf"<{p}{name}\b[^<>]*?(?:/>|>.*?</{p}{name}>)", self.content, re.DOTALL)

    def _entries(self, section: str, tag: str) -> list[str]:
        found = self._section(section)
        if found is None:
            return []
        p = re.escape(self.p)
        return re.findall(rf"<{p}{tag}\b[^<>]*?(?:/>|>.*?</{p}{tag}>)", found.group(0), re.DOTALL)

    def _append(self, section: str, tag: str, element: str, before: tuple[str, ...]) -> int:
        """Append `element` to <section>, creating the section if needed; return its index."""
        p = self.p
        entries = self._entries(section, tag)
        found = self._section(section)
        if found is None:
            block = f'<{p}{section} count="1">{element}</{p}{section}>'
            at = self._insert_point(before)
            self.content = self.content[:at] + block + self.content[at:]
            return 0
        block = found.group(0)
        if block.endswith("/>"):
            opening = block[:-2].rstrip()
            block = f"{opening}>{element}</{p}{section}>"
        else:
            end = block.rfind("</")
            block = block[:end] + element + block[end:]
        block = re.sub(r'\scount="\d*"', "", block, count=1)
        block = block.replace(f"<{p}{section}", f'<{p}{section} count="{len(entries) + 1}"', 1)
        self.content = self.content[: found.start()] + block + self.content[found.end() :]
        return len(entries)

    def _insert_point(self, before: tuple[str, ...]) -> int:
        """Where a missing section goes: before the first of `before` present, else before the end."""
        for name in before:
            found = self._section(name)
            if found is not None:
                return found.start()
        return self.content.rfind("</")

    def fill(self, argb: str) -> int:
        if argb not in self._fills:
            p = self.p
            while len(self._entries("fills", "fill")) < 2:  # indices 0 and 1 are reserved by Excel
                pattern = "none" if not self._entries("fills", "fill") else "gray125"
                element = f'<{p}fill><{p}patternFill patternType="{pattern}"/></{p}fill>'
                self._append("fills", "fill", element, ("borders", "cellStyleXfs", "cellXfs"))
            element = (
                f'<{p}fill><{p}patternFill patternType="solid"><{p}fgColor rgb="{argb}"/>'
                f'<{p}bgColor indexed="64"/></{p}patternFill></{p}fill>'
            )
            self._fills[argb] = self._append("fills", "fill", element, ("borders", "cellStyleXfs", "cellXfs"))
        return self._fills[argb]

    def bold_font(self) -> int:
        if self._bold is None:
            p = self.p
            if not self._entries("fonts", "font"):  # font 0 is the default; keep it plain
                self._append("fonts", "font", f'<{p}font><{p}sz val="11"/></{p}font>', ("fills", "borders"))
            element = f'<{p}font><{p}b/><{p}sz val="11"/></{p}font>'
            self._bold = self._append("fonts", "font", element, ("fills", "borders", "cellStyleXfs"))
        return self._bold

    def _add_xf(self, element: str) -> int:
        if not self.xfs:  # cell format 0 is every unstyled cell's: keep it plain
            plain = f'<{self.p}xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
            self._append("cellXfs", "xf", plain, ("cellStyles", "dxfs", "tableStyles", "colors", "extLst"))
            self.xfs.append(plain)
        index = self._append(
            "cellXfs", "xf", element, ("cellStyles", "dxfs", "tableStyles", "colors", "extLst")
        )
        self.xfs.append(element)
        return index

    def filled(self, style: int, argb: str) -> int:
        """The cell format `style` with its fill replaced by a solid `argb` (format, font, borders kept)."""
        key = ("fill", style, argb)
        if key not in self._derived:
            fill = self.fill(argb)
            base = self.xfs[style] if 0 <= style < len(self.xfs) else f'<{self.p}xf numFmtId="0" fontId="0"/>'
            start = re.match(r"<[^<>]*?(?=/?>)", base).group(0)
            rest = base[len(start) :]
            start = re.sub(r'\s(?:fillId|applyFill)="[^"]*"', "", start)
            start += f' fillId="{fill}" applyFill="1"'
            if 'borderId="' not in start:
                start += ' borderId="0"'
            self._derived[key] = self._add_xf(start + rest)
        return self._derived[key]

    def plain(self, *, bold: bool = False, wrap: bool = False) -> int:
        key = ("plain", bold, wrap)
        if key not in self._derived:
            p = self.p
            font = self.bold_font() if bold else 0
            applied = ' applyFont="1"' if bold else ""
            if wrap:
                element = (
                    f'<{p}xf numFmtId="0" fontId="{font}" fillId="0" borderId="0"{applied} '
                    'applyAlignment="1">'
                    f'<{p}alignment vertical="top" wrapText="1"/></{p}xf>'
                )
            else:
                element = f'<{p}xf numFmtId="0" fontId="{font}" fillId="0" borderId="0"{applied}/>'
            self._derived[key] = self._add_xf(element)
        return self._derived[key]

    def save(self) -> None:
        self.package.write(self.part, self.content)


_MINIMAL_STYLES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<styleSheet xmlns="{MAIN_NS}"><fonts count="1"><font><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)


# ------------------------------------------------------------------------------------------ sheet data

_SHEET_TAG = re.compile(r"<(/?)((?:[\w.-]+:)?)(row|c|sheetData)\b([^<>]*?)(/?)>")
_R_ATTR = re.compile(r"""\sr=["']([^"']*)["']""")
_S_ATTR = re.compile(r"""\ss=["'](\d*)["']""")
_REF = re.compile(r"([A-Za-z]{1,3})(\d+)$")
_SPANS = re.compile(r"""\sspans=["'][^"']*["']""")


@dataclass
class _Cell:
    col: int
    start: int  # offset of its start tag
    end: int  # end of its start tag
    tag: str


@dataclass
class _Row:
    number: int
    start: int
    end: int  # end of the start tag
    closed: bool  # <row .../>
    close_at: int = -1  # offset of </row>
    cells: list[_Cell] = field(default_factory=list)


_ROW_TAG = re.compile(r"<(/?)(?:[\w.-]+:)?(row|sheetData)\b([^<>]*?)(/?)>")


def _scan_rows(content: str, p: str, keep: set[int] | None = None) -> tuple[list[_Row], int, int, bool]:
    """The rows of <sheetData>: (rows, start of sheetData's start tag, its end, whether self-closing).

    With `keep`, only the rows numbered in it are returned with their cells, and for each number of
    `keep` no row has, the first row numbered above it (where it goes): a 10,000-row sheet costs
    one pass over its row tags and the cells of the few rows marked, not an object per cell.
    """
    opening = re.search(rf"<{re.escape(p)}sheetData\b[^<>]*?(/?)>", content)
    if opening is None:
        raise EditError("a worksheet without <sheetData>")
    rows: list[_Row] = []
    if opening.group(1):
        return rows, opening.start(), opening.end(), True
    row_number = 0
    current: _Row | None = None
    pending = sorted(keep) if keep is not None else None
    for tag in _ROW_TAG.finditer(content, opening.end()):
        closing, name, attrs, empty = tag.groups()
        if name == "sheetData":
            return rows, opening.start(), tag.start(), False
        if closing:
            if current is not None:
                current.close_at = tag.start()
                _scan_cells(content, current, current.end, tag.start())
                current = None
            continue
        found = _R_ATTR.search(attrs)
        row_number = int(found.group(1)) if found and found.group(1).isdigit() else row_number + 1
        row = _Row(row_number, tag.start(), tag.end(), bool(empty))
        current = None
        if pending is None or row_number in keep:
            rows.append(row)
            current = None if empty else row
        else:
            while pending and pending[0] < row_number:  # the first row after a number kept
                pending.pop(0)
                rows.append(row)
    raise EditError("<sheetData> is not closed")


def _scan_cells(content: str, row: _Row, start: int, end: int) -> None:
    """The cells (start tags) of one row, between its start and end tags."""
    col_number = 0
    for tag in _SHEET_TAG.finditer(content, start, end):
        closing, _, name, attrs, _ = tag.groups()
        if name != "c" or closing:
            continue
        found = _R_ATTR.search(attrs)
        ref = _REF.match(found.group(1)) if found else None
        col_number = column_number(ref.group(1)) if ref else col_number + 1
        row.cells.append(_Cell(col_number, tag.start(), tag.end(), tag.group(0)))


def _restyle(tag: str, style: int) -> str:
    """A cell's start tag with its s attribute set to `style`."""
    tag = _S_ATTR.sub("", tag)
    match = re.match(r"<[\w.:-]+", tag)
    return f'{match.group(0)} s="{style}"{tag[match.end() :]}'


def _set_cells(content: str, p: str, styles: dict[tuple[int, int], object], derive=None) -> str:
    """Give each (row, col) in `styles` its cell format, adding cells (and rows) that do not exist.

    With `derive`, the format is derive(the cell's present format, styles[(row, col)]) instead.
    """
    return "".join(_pieces(content, _cell_edits(content, p, styles, derive)))


def _cell_edits(content: str, p: str, styles: dict[tuple[int, int], object], derive=None) -> list:
    """The (start, end, replacement) edits of _set_cells."""
    wanted: dict[int, dict[int, object]] = {}
    for (row, col), style in styles.items():
        wanted.setdefault(row, {})[col] = style
    rows, data_start, data_end, data_closed = _scan_rows(content, p, set(wanted))
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement)
    if derive is not None:
        for row in rows:
            for cell in row.cells:
                if isinstance(wanted.get(row.number, {}).get(cell.col), str):
                    found = _S_ATTR.search(cell.tag)
                    present = int(found.group(1)) if found and found.group(1) else 0
                    wanted[row.number][cell.col] = derive(present, wanted[row.number][cell.col])
        for cols in wanted.values():  # cells that do not exist have the default format 0
            for col, value in cols.items():
                if isinstance(value, str):
                    cols[col] = derive(0, value)

    def new_cells(row: int, cols: dict[int, int]) -> str:
        return "".join(f'<{p}c r="{address(row, c)}" s="{s}"/>' for c, s in sorted(cols.items()))

    by_number = {r.number: r for r in rows}
    for number, cols in wanted.items():
        row = by_number.get(number)
        if row is None:
            continue
        missing = dict(cols)
        for cell in row.cells:
            if cell.col in missing:
                edits.append((cell.start, cell.end, _restyle(cell.tag, missing.pop(cell.col))))
        if not missing:
            continue
        # A row's spans attribute (an optional hint of its first and last column) would be stale.
        opening = _SPANS.sub("", content[row.start : row.end])
        if row.closed:  # <row r="6"/> becomes <row r="6">cells</row>
            opening = opening[:-2].rstrip() + ">"
            edits.append((row.start, row.end, opening + new_cells(number, missing) + f"</{p}row>"))
            continue
        edits.append((row.start, row.end, opening))
        for col, style in sorted(missing.items()):
            after = next((c for c in row.cells if c.col > col), None)
            at = after.start if after else row.close_at
            edits.append((at, at, new_cells(number, {col: style})))
    absent = sorted(n for n in wanted if n not in by_number)
    if absent:
        if data_closed:
            block = "".join(f'<{p}row r="{n}">{new_cells(n, wanted[n])}</{p}row>' for n in absent)
            edits.append((data_start, data_end, f"<{p}sheetData>{block}</{p}sheetData>"))
        else:
            for n in absent:
                after = next((r for r in rows if r.number > n), None)
                at = after.start if after else data_end
                edits.append((at, at, f'<{p}row r="{n}">{new_cells(n, wanted[n])}</{p}row>'))
    return edits


def _pieces(content: str, edits: list[tuple[int, int, str]]):
    """content with each (start, end, replacement) applied, piece by piece, in one pass (edits do not
    overlap; inserts at one spot keep their order)."""
    at = 0
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1])) + [
        (len(content), len(content), "")
    ]:
        for piece in range(at, start, CHUNK):  # the text between edits in chunks: never a second copy
            yield content[piece : min(piece + CHUNK, start)]
        yield replacement
        at = max(at, end)


def _splice(content: str, edits: list[tuple[int, int, str]]) -> str:
    return "".join(_pieces(content, edits))


def _top_level_children(content: str, root_end: int) -> list[tuple[str, int]]:
    """(local name, offset) of each child element of the root, scanning from the end of its start tag."""
    children, depth = [], 0
    tags = r"<(/?)([\w.:-]+)[^<>]*?(/?)>|<!--.*?-->|<\?.*?\?>"  # linear: the part is well-formed
    for tag in re.finditer(tags, content[root_end:], re.DOTALL):
        if tag.group(2) is None:
            continue
        closing, name, empty = tag.groups()
        if closing:
            depth -= 1
            continue
        if depth == 0:
            children.append((name.split(":")[-1], root_end + tag.start()))
        if not empty:
            depth += 1
    return children


def _add_legacy_drawing(content: str, p: str, rid: str, rel_ns: str) -> tuple[int, str]:
    """Where the <legacyDrawing> element goes in the sheet, and the element (an edit for _pieces)."""
    root = re.search(rf"<{re.escape(p)}worksheet\b[^<>]*>", content)
    declared = re.search(rf'xmlns:([\w.-]+)="{re.escape(rel_ns)}"', root.group(0))
    if declared:
        element = f'<{p}legacyDrawing {declared.group(1)}:id="{rid}"/>'
    else:
        element = f'<{p}legacyDrawing xmlns:sgr="{rel_ns}" sgr:id="{rid}"/>'
    # Every element legacyDrawing must precede comes after <sheetData>: scan only what follows it.
    data_end = content.rfind(f"</{p}sheetData>")
    after = data_end + len(f"</{p}sheetData>") if data_end >= 0 else root.end()
    later = [at for name, at in _top_level_children(content, after) if name in _AFTER_LEGACY_DRAWING]
    at = later[0] if later else content.rfind("</")
    return at, element


# ---------------------------------------------------------------------------------------------- comments


def _comment_xml(ref: str, author: int, message: str, p: str = "") -> str:
    return (
        f'<{p}comment ref="{ref}" authorId="{author}"><{p}text><{p}r><{p}rPr><{p}sz val="9"/></{p}rPr>'
        f'<{p}t xml:space="preserve">{text(message)}</{p}t></{p}r></{p}text></{p}comment>'
    )


_SHAPETYPE = (
    '<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" path="m,l,21600r21600,l21600,xe">'
    '<v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>'
)


def _note_shape(shape_id: int, row: int, col: int) -> str:
    """The VML box that shows a comment (hidden until hovered, as Excel draws notes)."""
    r0, c0 = row - 1, col - 1
    anchor = f"{c0 + 1}, 15, {max(r0 - 1, 0)}, 10, {c0 + 4}, 15, {max(r0 - 1, 0) + 6}, 4"
    return (
        f'<v:shape id="_x0000_s{shape_id}" type="#_x0000_t202" style="position:absolute;margin-left:80pt;'
        'margin-top:2pt;width:220pt;height:110pt;z-index:1;visibility:hidden" fillcolor="#ffffe1" '
        'o:insetmode="auto"><v:fill color2="#ffffe1"/><v:shadow on="t" color="black" obscured="t"/>'
        '<v:path o:connecttype="none"/><v:textbox style="mso-direction-alt:auto">'
        '<div style="text-align:left"></div></v:textbox>'
        '<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/>'
        f"<x:Anchor>{anchor}</x:Anchor><x:AutoFill>False</x:AutoFill><x:Row>{r0}</x:Row>"
        f"<x:Column>{c0}</x:Column></x:ClientData></v:shape>"
    )


def _next_vml_block(package: _Package) -> int:
    """A shape-id block (o:idmap data) no VML part of the workbook uses yet."""
    used = [0]
    for name in package.names():
        if name.lower().endswith(".vml"):
            vml = package.read_bytes(name, check=False).decode("utf-8", "replace")
            for found in re.findall(r'<o:idmap\b[^<>]*data="([\d,\s]+)"', vml):
                used.extend(int(n) for n in re.findall(r"\d+", found))
    return max(used) + 1


def _append_inside(content: str, p: str, element: str, xml: str) -> str:
    """`xml` added as the last children of the part's one <element> (opened if it is self-closing)."""
    empty = re.search(rf"<{re.escape(p)}{element}\s*/>", content)
    if empty:
        return content[: empty.start()] + f"<{p}{element}>{xml}</{p}{element}>" + content[empty.end() :]
    end = content.rfind(f"</{p}{element}>")  # text is escaped, so the closing tag appears once
    if end < 0:
        raise EditError(f"a comments part without <{element}>")
    return content[:end] + xml + content[end:]


def _add_comments(package: _Package, sheet_part: str, notes: dict[tuple[int, int], str], rel_ns: str) -> None:
    """Add `notes` as comments of the sheet, into its comments part if it has one, else a new one."""
    rels = _relationships(package, sheet_part)
    comments_part = next(
        (_resolve(sheet_part, r["Target"]) for r in rels if r.get("Type", "").endswith("/comments")), None
    )
    vml_part = next(
        (_resolve(sheet_part, r["Target"]) for r in rels if r.get("Type", "").endswith("/vmlDrawing")), None
    )
    if comments_part and not package.name(comments_part):
        comments_part = None
    if vml_part and not package.name(vml_part):
        vml_part = None
    sheet = package.read(sheet_part)
    p = _prefix(sheet, "worksheet")

    merged = set()
    if comments_part:
        comments = package.read(comments_part)
        cp = _prefix(comments, "comments")
        # every author start tag, <author>…</author> or <author/>, is one author (one linear scan)
        author = len(re.findall(rf"<{re.escape(cp)}author\b[^<>]*>", comments))
        author_element = f"<{cp}author>{AUTHOR}</{cp}author>"
        comments = _append_inside(comments, cp, "authors", author_element)
        # where each cell's own comment ends its text: one scan, whatever the number of notes
        ends: dict[str, int] = {}
        closing = f"</{cp}text>"
        for tag in re.finditer(rf"<{re.escape(cp)}comment\b([^<>]*)>", comments):
            ref = re.search(r"""\sref=["']([^"']*)["']""", tag.group(1))
            end = comments.find(closing, tag.end())
            if ref and end >= 0 and ref.group(1) not in ends:
                phonetic = comments.find(f"<{cp}rPh", tag.end(), end)
                ends[ref.group(1)] = phonetic if phonetic >= 0 else end
        inserts: list[tuple[int, str]] = []
        added = ""
        for (row, col), message in sorted(notes.items()):
            ref = address(row, col)
            if ref in ends:  # one comment per cell: ours goes after the student's own text
                run = f'<{cp}r><{cp}t xml:space="preserve">\n\n{text(message)}</{cp}t></{cp}r>'
                inserts.append((ends[ref], run))
                merged.add((row, col))
            else:
                added += _comment_xml(ref, author, message, cp)
        comments = _splice(comments, [(at, at, run) for at, run in inserts])
        comments = _append_inside(comments, cp, "commentList", added)
        package.write(comments_part, comments)
    else:
        comments_part = package.free_name("xl/comments{}.xml")
        body = "".join(_comment_xml(address(r, c), 0, m) for (r, c), m in sorted(notes.items()))
        package.write(
            comments_part,
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<comments xmlns="{MAIN_NS}"><authors><author>{AUTHOR}</author></authors>'
            f"<commentList>{body}</commentList></comments>",
        )
        _add_content_type(package, comments_part, CT_COMMENTS)
        _add_relationship(package, sheet_part, "comments", comments_part, rel_ns)

    shapes_for = [(r, c) for (r, c) in sorted(notes) if (r, c) not in merged]
    if vml_part:
        vml = package.read(vml_part)
        ids = [int(n) for n in re.findall(r"_x0000_s(\d+)", vml)]
        first = max(ids, default=1024 * _next_vml_block(package)) + 1
        shapes = "".join(_note_shape(first + k, r, c) for k, (r, c) in enumerate(shapes_for))
        if "_x0000_t202" not in vml:
            shapes = _SHAPETYPE + shapes
        end = vml.rfind("</xml>")
        if end < 0:
            raise EditError("a VML drawing without </xml>")
        package.write(vml_part, vml[:end] + shapes + vml[end:])
    else:
        block = _next_vml_block(package)
        vml_part = package.free_name("xl/drawings/vmlDrawing{}.vml")
        shapes = "".join(_note_shape(1024 * block + 1 + k, r, c) for k, (r, c) in enumerate(shapes_for))
        package.write(
            vml_part,
            '<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
            'xmlns:x="urn:schemas-microsoft-com:office:excel">'
            f'<o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="{block}"/></o:shapelayout>'
            f"{_SHAPETYPE}{shapes}</xml>",
        )
        _add_content_type(package, None, CT_VML, extension="vml")
        rid = _add_relationship(package, sheet_part, "vmlDrawing", vml_part, rel_ns)
        at, element = _add_legacy_drawing(sheet, p, rid, rel_ns)
        package.write(sheet_part, _pieces(sheet, [(at, at, element)]))


# ------------------------------------------------------------------------------------------- new sheet


def _sheet_xml(new: NewSheet, styles: _Styles, main_ns: str, rel_ns: str) -> str:
    bold, wrap = styles.plain(bold=True), styles.plain(wrap=True)
    rows = []
    for r, values in enumerate(new.rows, start=1):
        cells = []
        for c, value in enumerate(values, start=1):
            if value is None or value == "":
                continue
            ref = address(r, c)
            style = bold if r in new.bold_rows else wrap if c in new.wrap_columns else 0
            s = f' s="{style}"' if style else ""
            if isinstance(value, float | int) and not isinstance(value, bool):
                if value != value or value in (float("inf"), float("-inf")):
                    value = str(value)
                else:
                    cells.append(f'<c r="{ref}"{s}><v>{value!r}</v></c>')
                    continue
            cells.append(
                f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{text(value)}</t></is></c>'
            )
        rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    cols = "".join(
        f'<col min="{c}" max="{c}" width="{w:g}" customWidth="1"/>' for c, w in enumerate(new.widths, start=1)
    )
    links = "".join(
        f'<hyperlink ref="{address(r, c)}" location="{attr(target)}"/>'
        for (r, c), target in sorted(new.links.items())
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{main_ns}" xmlns:r="{rel_ns}">'
        '<sheetViews><sheetView tabSelected="1" workbookViewId="0"/></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        + (f"<cols>{cols}</cols>" if cols else "")
        + f"<sheetData>{''.join(rows)}</sheetData>"
        + (f"<hyperlinks>{links}</hyperlinks>" if links else "")
        + '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
        "</worksheet>"
    )


def _unique_sheet_name(name: str, taken: list[str]) -> str:
    lower = {t.lower() for t in taken}
    candidate, n = name, 2
    while candidate.lower() in lower:
        candidate = f"{name} ({n})"
        n += 1
    return candidate


_TAB_SELECTED = re.compile(r"""(<(?:[\w.-]+:)?sheetView\b[^<>]*?)\stabSelected=["'](?:1|true)["']""")


def _without_selection(content: str) -> str:
    return _TAB_SELECTED.sub(r"\1", content)


def _deselect(package: _Package, sheet_part: str) -> None:
    """Clear a sheet's tabSelected, so that the new first sheet is the only one selected.

    A sheet already edited (marked) is changed in place; any other is changed as it is streamed
    into the copy, in its start alone (<sheetViews> comes before <sheetData>), never read whole.
    """
    if sheet_part in package.edited:
        content = package.read(sheet_part)
        changed = _without_selection(content)
        if changed != content:
            package.write(sheet_part, changed)
    else:
        package.heads[sheet_part] = _without_selection


def _copy_editing_head(source, destination, edit, marker: bytes = b"sheetData") -> None:
    """Copy a part, passing its start (up to `marker`, within HEAD_LIMIT bytes) through edit(text)."""
    head = bytearray()
    at = -1
    while len(head) < HEAD_LIMIT:
        chunk = source.read(CHUNK)
        if not chunk:
            break
        searched = max(0, len(head) - len(marker))
        head += chunk
        at = head.find(marker, searched)
        if at >= 0:
            break
    ended = at < 0 and len(head) < HEAD_LIMIT  # the whole part is in head
    cut = head.rfind(b"<", 0, at) if at >= 0 else (len(head) if ended else -1)
    if cut >= 0:  # a start that is whole tags; a head too long is left as it was
        destination.write(edit(bytes(head[:cut]).decode("utf-8")).encode("utf-8"))
        head = head[cut:]
    destination.write(head)
    shutil.copyfileobj(source, destination, CHUNK)


# ------------------------------------------------------------------------------------------------ main


@dataclass
class _Workbook:
    part: str
    sheets: dict[str, str]  # sheet name -> worksheet part
    rel_ns: str
    main_ns: str


def _workbook(package: _Package) -> _Workbook:
    root_rels = _children_attributes(package.read_bytes("_rels/.rels"))
    part = next(
        (r.get("Target", "").lstrip("/") for r in root_rels if r.get("Type", "").endswith("/officeDocument")),
        "xl/workbook.xml",
    )
    if not package.name(part):
        raise EditError("no workbook part")
    part = package.name(part)
    rels = {r["Id"]: r for r in _relationships(package, part)}
    content = package.read(part)
    rel_ns = STRICT_REL_NS if STRICT_REL_NS in content else REL_NS
    main_ns = (
        "http://purl.oclc.org/ooxml/spreadsheetml/main"
        if "purl.oclc.org/ooxml/spreadsheetml" in content
        else MAIN_NS
    )
    sheets = {}
    for _, element in ET.iterparse(io.BytesIO(content.encode("utf-8"))):
        if element.tag.rsplit("}", 1)[-1] == "sheet":
            rid = element.get(f"{{{rel_ns}}}id")
            rel = rels.get(rid)
            if rel and rel.get("Type", "").endswith("/worksheet"):
                target = _resolve(part, rel["Target"])
                if package.name(target):
                    sheets[element.get("name", "")] = package.name(target)
            else:
                sheets.setdefault(element.get("name", ""), "")
    return _Workbook(part, sheets, rel_ns, main_ns)


def _styles_part(package: _Package, book: _Workbook) -> str:
    """The workbook's styles part; a minimal one written where the workbook's relationship points when
    that part is missing (a second styles relationship would make the copy invalid), or added with
    its relationship when there is none."""
    missing = None
    for rel in _relationships(package, book.part):
        if rel.get("Type", "").endswith("/styles"):
            target = _resolve(book.part, rel.get("Target", ""))
            if package.name(target):
                return package.name(target)
            if missing is None and rel.get("TargetMode") != "External" and not target.startswith(".."):
                missing = target
    part = missing or package.free_name("xl/styles{}.xml")
    # The cells keep their style numbers: each must name a format, or no reader opens the copy.
    used = 0
    for sheet_part in filter(None, book.sheets.values()):
        data = package.read_bytes(sheet_part, check=False)
        used = max(
            [used, *(int(n) for n in re.findall(rb"<(?:[\w.-]+:)?c\b[^<>]*?\ss=[\"'](\d{1,9})", data))]
        )
        del data
    if used >= MAX_CELL_FORMATS:
        raise EditError(f"its cells name cell format {used}, beyond Excel's {MAX_CELL_FORMATS:,}")
    plain = '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    minimal = _MINIMAL_STYLES.replace(
        f'<cellXfs count="1">{plain}</cellXfs>', f'<cellXfs count="{used + 1}">{plain * (used + 1)}</cellXfs>'
    )
    package.write(part, minimal.replace(MAIN_NS, book.main_ns))
    _add_content_type(package, part, CT_STYLES)
    if missing is None:
        _add_relationship(package, book.part, "styles", part, book.rel_ns)
    return part


def _insert_first_sheet(package: _Package, book: _Workbook, new: NewSheet, styles: _Styles) -> str:
    """Add `new` as the first, selected sheet; return the name it got."""
    name = _unique_sheet_name(new.name, list(book.sheets))
    part = package.free_name("xl/worksheets/sheet{}.xml")
    package.write(part, _sheet_xml(new, styles, book.main_ns, book.rel_ns))
    _add_content_type(package, part, CT_WORKSHEET)
    rid = _add_relationship(package, book.part, "worksheet", part, book.rel_ns)
    content = package.read(book.part)
    p = _prefix(content, "workbook")
    ids = [int(n) for n in re.findall(r"""<(?:[\w.-]+:)?sheet\b[^<>]*\ssheetId=["'](\d+)["']""", content)]
    root = re.search(rf"<{re.escape(p)}workbook\b[^<>]*>", content).group(0)
    declared = re.search(rf'xmlns:([\w.-]+)="{re.escape(book.rel_ns)}"', root)
    rid_attr = f'{declared.group(1)}:id="{rid}"' if declared else f'xmlns:sgr="{book.rel_ns}" sgr:id="{rid}"'
    element = f'<{p}sheet name="{attr(name)}" sheetId="{max(ids, default=0) + 1}" {rid_attr}/>'
    sheets = re.search(rf"<{re.escape(p)}sheets\b[^<>]*>", content)
    if sheets is None:
        raise EditError("workbook.xml without <sheets>")
    content = content[: sheets.end()] + element + content[sheets.end() :]
    # Sheet positions moved up by one: defined names scoped to a sheet, and the open tab.
    content = re.sub(r'localSheetId="(\d+)"', lambda m: f'localSheetId="{int(m.group(1)) + 1}"', content)
    content = re.sub(
        r"""(<(?:[\w.-]+:)?workbookView\b[^<>]*?)\s(?:activeTab|firstSheet)=["']\d+["']""", r"\1", content
    )
    content = re.sub(
        r"""(<(?:[\w.-]+:)?workbookView\b[^<>]*?)\s(?:activeTab|firstSheet)=["']\d+["']""", r"\1", content
    )
    package.write(book.part, content)
    for sheet_part in book.sheets.values():
        if sheet_part:
            _deselect(package, sheet_part)
    return name


def annotate(source: Path, target: Path, marks: list[CellMark], first_sheet: NewSheet | None) -> None:
    """Write a copy of `source` to `target` (atomically) with `marks` and `first_sheet` added."""
    with open_checked(source) as archive:
        package = _Package(archive)
        try:
            _edit(package, marks, first_sheet)
            with atomic_output(target) as tmp, zipfile.ZipFile(tmp, "w") as out:
                _write(package, out)
        finally:
            package.close()


def _edit(package: _Package, marks: list[CellMark], first_sheet: NewSheet | None) -> None:
    try:
        book = _workbook(package)
        styles = _Styles(package, _styles_part(package, book))
        by_sheet: dict[str, list[CellMark]] = {}
        for mark in marks:
            if book.sheets.get(mark.sheet):
                by_sheet.setdefault(mark.sheet, []).append(mark)
        for sheet_name, sheet_marks in by_sheet.items():
            part = book.sheets[sheet_name]
            content = package.read(part)
            p = _prefix(content, "worksheet")
            fills = {(m.row, m.col): m.fill for m in sheet_marks}
            package.write(part, _pieces(content, _cell_edits(content, p, fills, derive=styles.filled)))
            del content  # one sheet in memory at a time
            notes = {(m.row, m.col): m.comment for m in sheet_marks if m.comment}
            if notes:
                _add_comments(package, part, notes, book.rel_ns)
        if first_sheet is not None:
            _insert_first_sheet(package, book, first_sheet, styles)
        styles.save()
        for name in package.changed:  # every part written must still be well-formed XML
            if not name.lower().endswith(".vml"):
                with package.stream(name) as handle:
                    _check_well_formed(iter(lambda handle=handle: handle.read(CHUNK), b""), name)
    except (ET.ParseError, KeyError, AttributeError, IndexError, ValueError) as error:
        raise EditError(f"{type(error).__name__}: {error}") from None


def _write(package: _Package, out: zipfile.ZipFile) -> None:
    """Every part into the copy, in the original's order, then the new ones: each streamed."""
    originals = [info.filename for info in package.infos]
    added = sorted(package.changed - set(originals))
    for name in originals + added:
        info = package._info.get(name)
        copy = zipfile.ZipInfo(name, info.date_time if info else (1980, 1, 1, 0, 0, 0))
        copy.compress_type = zipfile.ZIP_DEFLATED
        if info is not None:
            copy.external_attr = info.external_attr
        with package.stream(name) as source, out.open(copy, "w") as destination:
            if name in package.heads and name not in package.edited:
                _copy_editing_head(source, destination, package.heads[name])
            else:
                shutil.copyfileobj(source, destination, CHUNK)


def cell_of(reference: str) -> tuple[int, int]:
    """'F6' (or '$F$6') -> (6, 6)."""
    match = _REF.match(reference.replace("$", ""))
    if match is None:
        raise ValueError(f"not a cell reference: {reference!r}")
    return int(match.group(2)), column_number(match.group(1))


def cells_of(ranges: str) -> list[tuple[int, int]]:
    """Every (row, col) of a range text such as 'F6:M105', 'F6', or several joined by ',' or ' '."""
    cells = []
    for part in re.split(r"[,\s;]+", ranges.strip()):
        if not part:
            continue
        part = part.split("!")[-1]
        first, _, last = part.partition(":")
        (r1, c1), (r2, c2) = cell_of(first), cell_of(last or first)
        for row in range(min(r1, r2), max(r1, r2) + 1):
            cells.extend((row, col) for col in range(min(c1, c2), max(c1, c2) + 1))
    return cells


__all__ = ["CellMark", "EditError", "NewSheet", "annotate", "cell_of", "cells_of", "column_letters"]
