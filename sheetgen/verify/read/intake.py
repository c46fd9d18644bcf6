"""Submissions as they come: which files a folder holds, how the report names them, and which need
LibreOffice to turn them into .xlsx first.

.xlsx and .xlsm are read directly (an .xlsm's macros are never run: the reader reads XML, and
LibreOffice's profile disables macros); .ods and legacy .xls are converted by LibreOffice in the
same batch that recalculates, then checked like any .xlsx. Before LibreOffice sees a converted
format, its container is checked the way sheetgen.core.xlsx checks an .xlsx (bounded size, the
right magic), so a disguised or enormous file is refused in one line.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sheetgen.core import xlsx
from sheetgen.core.errors import UserError
from sheetgen.core.printable import shown

DIRECT = (".xlsx", ".xlsm")
CONVERTED = (".ods", ".xls")
SUFFIXES = DIRECT + CONVERTED
MAX_CONVERTED_BYTES = 64 << 20  # a class's .xls/.ods is well under a MiB; LibreOffice's time grows with size
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


@dataclass(frozen=True)
class Submission:
    path: Path  # where the file is
    name: Path  # how reports name it, and where its annotated copy goes: unique in the run (see names)

    @property
    def converted(self) -> bool:
        return self.path.suffix.lower() in CONVERTED


def _workbooks_in(folder: Path, recursive: bool) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    return sorted(
        p
        for p in folder.glob(pattern)
        if p.suffix.lower() in SUFFIXES
        and not p.name.startswith(("~$", ".~lock", "._"))  # lock files; macOS's AppleDouble shadows
        and "__MACOSX" not in p.relative_to(folder).parts  # where a zip made on a Mac keeps those
        and p.is_file()
    )


def _identity(path: Path) -> tuple:
    """What makes two names one file: its device and inode (a link, `./x`), else its absolute path."""
    try:
        info = path.stat()
    except OSError:
        return ("path", os.path.abspath(path))
    return ("inode", info.st_dev, info.st_ino)


def names(found: list[tuple[Path, Path]]) -> list[Path]:
    """A short name for each (folder given, path in it), unique in the run.

    Each book is named by its path in the folder it was found in (a file given by itself: by its
    name), so no absolute path fills a report. Books that would share a name (x.xlsx from two
    folders) are named with as many of their folders' own components as tell them apart
    (c1/x.xlsx, c2/x.xlsx); the rule depends only on the paths, so a run names them the same way
    every time.
    """
    depth = [0] * len(found)
    bases = [Path(os.path.abspath(base)).parts[1:] for base, _ in found]  # without the root

    def name(i: int) -> Path:
        base, inside = found[i]
        if depth[i] > len(bases[i]):  # every folder used and still not unique: the absolute path
            return Path(os.path.abspath(base / inside))
        return Path(*bases[i][len(bases[i]) - depth[i] :], inside)

    while True:
        groups: dict[str, list[int]] = {}
        for i in range(len(found)):
            groups.setdefault(str(name(i)), []).append(i)
        clashes = [i for group in groups.values() if len(group) > 1 for i in group]
        if not clashes or all(depth[i] > len(bases[i]) for i in clashes):  # (one file twice: no more to add)
            return [name(i) for i in range(len(found))]
        for i in clashes:
            depth[i] += 1


def collect(given: list[str], recursive: bool = False) -> list[Submission]:
    """The workbooks named: files as given; folders as the workbooks in them, sorted.

    With `recursive`, subfolders are searched too. A file named twice (also through a folder, or
    a link) is one book. See names() for how each is named.
    """
    found: list[tuple[Path, Path, Path]] = []  # (where it is, folder given, path in that folder)
    for entry in given:
        path = Path(entry)
        if path.is_dir():
            books = _workbooks_in(path, recursive)
            if not books:
                where = "or its subfolders " if recursive else ""
                hint = "" if recursive else "; add --recursive to search its subfolders"
                raise UserError(
                    f"folder '{shown(path)}' {where}holds no .xlsx files (nor .xlsm, .ods, .xls){hint}"
                )
            found.extend((book, path, book.relative_to(path)) for book in books)
        else:
            found.append((path, path.parent, Path(path.name)))
    seen, unique = set(), []
    for item in found:
        identity = _identity(item[0])
        if identity not in seen:
            seen.add(identity)
            unique.append(item)
    named = names([(base, inside) for _, base, inside in unique])
    return [Submission(path, name) for (path, _, _), name in zip(unique, named, strict=True)]


def check_converted(path: Path) -> None:
    """Refuse an .ods/.xls LibreOffice should not be given: missing, too big, or not what it claims."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    size = path.stat().st_size
    if size > MAX_CONVERTED_BYTES:
        raise UserError(f"{path}: refused: {size >> 20} MiB (limit {MAX_CONVERTED_BYTES >> 20} MiB)")
    with open(path, "rb") as handle:
        magic = handle.read(8)
    if path.suffix.lower() == ".xls":
        if not magic.startswith(xlsx.OLE2_MAGIC):
            raise UserError(f"{path}: not a legacy Excel .xls workbook (no OLE2 header): save it again")
        return
    if not magic.startswith(xlsx.ZIP_MAGIC):
        raise UserError(f"{path}: not an OpenDocument .ods spreadsheet (not a zip file): save it again")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            total = sum(info.file_size for info in entries)
            worst = max((info.file_size / max(info.compress_size, 1) for info in entries), default=0)
            mimetype = archive.read("mimetype").strip() if "mimetype" in archive.namelist() else b""
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UserError(f"{path}: corrupt .ods (broken zip: {error}): save it again") from None
    if len(entries) > xlsx.MAX_ENTRIES or total > xlsx.MAX_TOTAL_BYTES:
        raise UserError(f"{path}: refused: parts would inflate to more than {xlsx.MAX_TOTAL_BYTES >> 20} MiB")
    if total > xlsx.RATIO_FLOOR_BYTES and worst > xlsx.MAX_RATIO:
        raise UserError(f"{path}: refused: a part is compressed {worst:.0f}:1 (a zip bomb?)")
    if mimetype != ODS_MIMETYPE:
        raise UserError(f"{path}: a zip file but not an OpenDocument spreadsheet (.ods): save it again")


def check(path: Path) -> xlsx.Book | None:
    """Refuse, before LibreOffice sees it, a file that cannot be a workbook (one-line UserError).

    An .xlsx/.xlsm is read through (and kept for its read_book): the book is returned.
    """
    if path.suffix.lower() in CONVERTED:
        check_converted(path)
        return None
    # every XML part under the reader's limits, so LibreOffice is never given an XML bomb
    return xlsx.check_book(path)
