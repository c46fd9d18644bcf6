"""Draw each sheet of a workbook, charts included, to a PNG as LibreOffice draws it.

    sheetgen render BOOK.xlsx -o DIR [--dpi 110]

LibreOffice recalculates the book (same throw-away profile as `verify`) and exports it to PDF
with one page per sheet (the SinglePageSheets option of its PDF filter); poppler's pdftoppm
turns each page into DIR/<sheet name>.png. Existing PNGs of the same names are replaced only
once every page has been drawn.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from sheetgen.core import xlsx
from sheetgen.core.errors import UserError, scratch
from sheetgen.core.printable import shown
from sheetgen.office import recalc

PDF_FILTER = 'pdf:calc_pdf_Export:{"SinglePageSheets":{"type":"boolean","value":"true"}}'
PDFTOPPM_HINT = (
    "install poppler (Debian/Ubuntu: apt-get install -y poppler-utils; macOS: brew install poppler)"
)


def add_arguments(parser) -> None:
    parser.add_argument("book", metavar="BOOK.xlsx", help="workbook to draw")
    parser.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        required=True,
        help="folder for the PNGs (created if missing), one per sheet, named after the sheet",
    )
    parser.add_argument("--dpi", type=int, default=110, help="resolution of the PNGs")


def png_name(sheet: str) -> str:
    """A file name for a sheet: 'LR 0.5' -> 'LR_0.5.png' (only letters, digits, . _ - kept)."""
    return (re.sub(r"[^A-Za-z0-9._-]+", "_", sheet).strip("_") or "sheet") + ".png"


def _check_output_dir(path: str | Path) -> Path:
    """Refuse an unusable -o before any work; the folder itself is made only once there is output."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UserError(f"-o {out}: exists and is not a folder: give a folder for the PNGs")
    folder = out if out.exists() else out.parent
    if not folder.is_dir():
        raise UserError(f"-o {out}: its parent folder {out.parent} does not exist: create it first")
    if not os.access(folder, os.W_OK):
        raise UserError(f"-o {out}: {folder} is not writable: choose another folder")
    return out


MAX_PIXELS = 60_000_000  # per PNG (~180 MB while drawn): a 10,000-row sheet on one page is huge
MAX_SIDE = 30_000  # pixels


def _page_sizes(pdf: Path, expected: int) -> list[tuple[float, float]]:
    """Each page's size in points, from poppler's pdfinfo (letter size assumed if it is missing)."""
    pdfinfo = shutil.which("pdfinfo")
    if pdfinfo is None:
        return [(612.0, 792.0)] * expected
    done = subprocess.run(
        [pdfinfo, "-f", "1", "-l", str(10**6), str(pdf)], capture_output=True, text=True, timeout=120
    )
    sizes = re.findall(r"^Page\s+\d+ size:\s+([\d.]+) x ([\d.]+) pts", done.stdout, flags=re.MULTILINE)
    return [(float(w), float(h)) for w, h in sizes] or [(612.0, 792.0)] * expected


def _bounded_dpi(dpi: float, width: float, height: float) -> float:
    """The requested dpi, lowered for a page so large that its PNG would exhaust memory."""
    by_side = MAX_SIDE * 72 / max(width, height, 1)
    by_area = (MAX_PIXELS / max(width * height, 1)) ** 0.5 * 72
    return max(min(dpi, by_side, by_area), 1)


def _draw_page(pdftoppm: str, pdf: Path, number: int, dpi: float, target: Path, book_path: Path) -> None:
    try:
        subprocess.run(
            [
                pdftoppm,
                "-png",
                "-r",
                f"{dpi:.2f}",
                "-f",
                str(number),
                "-l",
                str(number),
                "-singlefile",
                str(pdf),
                str(target),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=600,
        )
    except subprocess.CalledProcessError as error:
        reason = error.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        raise UserError(
            f"{book_path}: pdftoppm failed on page {number} ({reason[0]}): try a lower --dpi"
        ) from None
    except subprocess.TimeoutExpired:
        raise UserError(
            f"{book_path}: pdftoppm took over 10 minutes on page {number}: try a lower --dpi"
        ) from None


def render(book_path: str | Path, outdir: str | Path, dpi: int = 110) -> list[Path]:
    """Write one PNG per sheet of `book_path` into `outdir`; return their paths in sheet order."""
    book_path = Path(book_path)
    outdir = _check_output_dir(outdir)
    sheets = [s.name for s in xlsx.read_book(book_path).sheets]  # also refuses untrusted files
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        raise UserError(f"pdftoppm was not found: {PDFTOPPM_HINT}")
    with scratch("render") as work:
        with recalc.Batch([book_path], work, convert_to=PDF_FILTER, suffix=".pdf") as batch:
            pdf = batch.output(0)
            if pdf is None:
                raise UserError(f"{book_path}: {batch.failure(0)}")
        for number, (width, height) in enumerate(_page_sizes(pdf, len(sheets)), start=1):
            page_dpi = _bounded_dpi(dpi, width, height)
            if page_dpi < dpi:
                print(
                    f"sheetgen render: note: page {number} is {width / 72:.0f} x {height / 72:.0f} inches; "
                    f"drawn at {page_dpi:.0f} dpi to stay under {MAX_PIXELS // 10**6} million pixels",
                    file=sys.stderr,
                )
            _draw_page(pdftoppm, pdf, number, page_dpi, work / f"page-{number}", book_path)
        pages = sorted(work.glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        if len(pages) != len(sheets):
            raise UserError(
                f"{book_path}: LibreOffice drew {len(pages)} pages for {len(sheets)} sheets "
                "(a sheet with a print range or page breaks?)"
            )
        outdir.mkdir(exist_ok=True)
        written = []
        for sheet, page in zip(sheets, pages, strict=True):
            target = outdir / png_name(sheet)
            if target in written:  # two sheet names that differ only in punctuation
                target = target.with_name(f"{target.stem}_{len(written) + 1}.png")
            shutil.move(page, outdir / f".{target.name}.tmp")
            written.append(target)
        for target in written:
            os.replace(outdir / f".{target.name}.tmp", target)
    return written


def run(args) -> int:
    if not 20 <= args.dpi <= 600:
        raise UserError(f"--dpi {args.dpi}: choose between 20 and 600")
    for path in render(args.book, args.output, args.dpi):
        print(shown(path))  # a sheet's name, hence the file's, may hold control characters
    return 0
