"""Check backpropagation workbooks against the oracle: values cell by cell, formulas for any inputs.

    sheetgen verify BOOK.xlsx|DIR ... [--engine libreoffice|cached] [--tol REL] [--json] [--report CSV]
                    [--recursive] [--annotate OUTDIR] [--html REPORT.html] [--jobs N]

Tables are found by their header labels anywhere in any sheet (several per sheet are fine).
Accepted labels (case, spaces and underscores ignored; ∂ or δ may be written d; a trailing
':' or '=' ignored), besides the keys themselves:
{aliases}
η comes from the number right of (or below) a cell labelled η, eta, lr, alpha, α or learning rate
(Lernrate, taux d'apprentissage, ...; or one cell reading "η = 0.5"; or a column headed η), the one
nearest the table; without one it is inferred from two consecutive rows, and the report says so.
i1, i2, t1, t2 may be labelled cells instead of columns ("i1" with the number right of or below
it, or one cell "i1 = 0.05"). Columns of each row's updated weights (w1 new / new w1 / w1' /
w1(t+1) / updated w1, or w1 repeated right of ∂E/∂w1) are checked as w1 − η·∂E/∂w1 of their row;
other repeated labels are read from their first column, and columns with other labels (δ_o1,
a(1−a), Δw1, grad1) are identified by their formulas, or read as their formula where another
formula reads them. Headers may carry a note or their equation ("w1 (i1→h1)", "h1 = w1*i1 + w2*i2").

Engines: libreoffice (the default when installed) recalculates every book first, the batch split
over --jobs LibreOffice processes; cached reads the values as last saved (what the sheet's author
saw). Without LibreOffice the default falls back to cached, with a warning. .ods and .xls books are
converted by LibreOffice under either engine.

For a class: --annotate writes a marked-up copy of every book not verified (wrong cells red with a
comment, typed values amber, a first sheet "Feedback"), --html a self-contained report with the
class's mistakes counted by kind; a progress bar runs on stderr when it is a terminal.

Each formula is also proven: read as quantities (a_h1 of its row, w1 of the row above, η, i1) and
checked against the oracle at random inputs where every quantity has its own value, so a mistake
hidden by the sheet's own numbers (t1 for t2 when t1 = t2) is found. A column under a header not
listed above is identified by what its formula computes, and the report says what it was read as.

Verdicts (and the exit status of a single workbook):
  VERIFIED 0                   every computed cell a formula proven for any inputs, every value right
  WRONG 1                      the first wrong cell, its column, expected and found, formula, diagnosis
  UNREADABLE 2                 not a workbook, or no iteration table in it
  RIGHT ONLY AT ITS NUMBERS 3  values typed where formulas belong, or a number typed where a cell
                               should be read (η typed in as 0.5): right here, but proves nothing
  DIFFERENT NETWORK 4          a network no spec can express, saying what (a unit not fully
                               connected, one layer of mixed activations, a bias in some units only)
  INCOMPLETE 5                 nothing computed yet, a single row, or a forward pass (and error
                               terms) with no weight update: what is there and whether it is right
  NOT GRADIENT DESCENT 6       learning by another rule, such as the perceptron's step rule
A book of another network (other sizes, activations, biases, losses, samples) is read by what its
cells compute, its spec inferred and every cell checked against that spec; the report names it.
A batch exits 0 when every workbook is verified, 2 when every one is unreadable, else with the
status of the most severe verdict present: WRONG 1 > INCOMPLETE 5 > RIGHT ONLY AT ITS NUMBERS 3 >
NOT GRADIENT DESCENT 6 > DIFFERENT NETWORK 4 > some UNREADABLE among verified ones 1. Usage errors
exit 2.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from sheetgen.core import xlsx
from sheetgen.core.columns import ALL_COLUMNS
from sheetgen.core.errors import UserError, check_output_path, scratch, write_output
from sheetgen.core.printable import json_safe, shown
from sheetgen.core.tolerance import DEFAULT_TOL, FLOOR
from sheetgen.office import csv_values, recalc
from sheetgen.verify import workers
from sheetgen.verify.prove import built, built_spec, checks, graph_check, perturb
from sheetgen.verify.read import intake, labelled_network, tables, walkthrough
from sheetgen.verify.report import annotate, classroom
from sheetgen.verify.report import verdicts as report


def _spellings(column) -> list[str]:
    return list(dict.fromkeys([column.label, *column.aliases]))


def _family(column) -> tuple[str, tuple[str, ...]] | None:
    """(digit, spellings with the digit written N) for a numbered column such as t1 or ∂E/∂w5."""
    digit = column.key[-1]
    spellings = _spellings(column)
    if not digit.isdigit() or not all(digit in s and "N" not in s for s in spellings):
        return None
    return digit, tuple(s.replace(digit, "N") for s in spellings)


def _wrap(head: str, items: list[str], width: int) -> list[str]:
    """`head: a / b / c`, wrapped between items (never inside one), continuation lines indented."""
    lines, line = [], f"  {head}: "
    for i, item in enumerate(items):
        piece = item + (" / " if i < len(items) - 1 else "")
        if len(line) + len(piece.rstrip()) > width and line.strip():
            lines.append(line.rstrip())
            line = "      "
        line += piece
    lines.append(line.rstrip())
    return lines


def accepted_labels(width: int = 100) -> str:
    """The header spellings of every column, generated from the column table.

    Numbered columns whose spellings differ only in their number share one line, written with N
    (`∂E/∂wN (N = 1…8)`); columns with no spelling besides their key (the weights) are left out.
    """
    groups: dict[tuple[str, ...], list[str]] = {}
    lines: list[str | tuple[str, ...]] = []  # a text line, or a family's pattern
    for column in ALL_COLUMNS:  # every variant's: b1, b2 and ∂E/∂b1 are read too
        if not column.aliases:
            continue
        family = _family(column)
        if family is None:
            note = " (not checked)" if column.formula is None else ""
            lines += _wrap(column.label + note, _spellings(column)[1:], width)
            continue
        digit, pattern = family
        if pattern not in groups:
            groups[pattern] = []
            lines.append(pattern)  # placeholder, filled in below once every member is known
        groups[pattern].append(digit)
    text: list[str] = []
    for line in lines:
        if isinstance(line, tuple):
            digits = groups[line]
            consecutive = [int(d) for d in digits] == list(range(int(digits[0]), int(digits[-1]) + 1))
            numbers = f"{digits[0]}…{digits[-1]}" if len(digits) > 2 and consecutive else ", ".join(digits)
            text += _wrap(f"{line[0]} (N = {numbers})", list(line[1:]), width)
        else:
            text.append(line)
    return "\n".join(text)


# The --help text: this module's docstring with the label list filled in, so it cannot drift.
DESCRIPTION = __doc__.replace("{aliases}", accepted_labels())
ENGINES = ("libreoffice", "cached")
CSV_AREA_PER_CELL = 8
LOOKAHEAD_PER_JOB = 2  # how far past the next book in order verify may judge one already recalculated


def values_will_do(book: xlsx.Book) -> bool:
    """Whether LibreOffice's CSV of the book's values (office/csv_values.py) is the cheaper answer.

    A CSV holds every field from A1 to a sheet's last cell: a book whose rectangles hold more than
    CSV_AREA_PER_CELL fields per cell (a cell far out at XFD1048576), plus a million, is asked for
    as an .xlsx instead, and so is a book with a formula LibreOffice gives a date format (=TODAY()).
    """
    if csv_values.dated(book):  # its CSV would hold "2024-01-03": not to be trusted, so no use asking
        return False
    cells = sum(len(sheet.values) for sheet in book.sheets)
    return sum(csv_values.sheet_area(sheet) for sheet in book.sheets) <= CSV_AREA_PER_CELL * cells + (1 << 20)


def add_arguments(parser) -> None:
    parser.add_argument(
        "books",
        nargs="+",
        metavar="BOOK.xlsx|DIR",
        help="workbooks (.xlsx, .xlsm; .ods and .xls through LibreOffice), or folders of them; each of at "
        f"most {xlsx.MAX_CELLS:,} cells (sheetgen build never writes more)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help="libreoffice: recalculate first (default when installed); cached: values as saved",
    )
    parser.add_argument(
        "--tol",
        type=float,
        default=DEFAULT_TOL,
        metavar="REL",
        help=f"relative tolerance; values below {FLOOR:g} compare absolutely to REL*{FLOOR:g}",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of text")
    parser.add_argument("--report", metavar="CSV", help="also write one CSV row per workbook here")
    parser.add_argument(
        "--recursive",
        action="store_true",
        help="search the folders given in their subfolders too; books are named by their path in the folder",
    )
    parser.add_argument(
        "--annotate",
        metavar="OUTDIR",
        help="write a copy of each workbook that is not verified into OUTDIR (same name; .ods/.xls as "
        "NAME.ods.xlsx): wrong cells filled red with a comment (expected, found, diagnosis), values or "
        "constants typed where formulas belong filled amber, and a first sheet 'Feedback' listing them; "
        "charts, images and formatting kept, the original untouched",
    )
    parser.add_argument(
        "--html",
        metavar="REPORT.html",
        help="also write a self-contained class report: every workbook's verdict, first wrong cell, "
        "diagnosis and annotated copy; the class's mistakes counted by kind; identical books grouped",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        metavar="N",
        help="LibreOffice processes recalculating the batch at once, each with its own profile; a class of "
        "at least 2N books is also read and judged by N worker processes, one per LibreOffice "
        f"(default: the number of cores, {recalc.default_jobs()} here)",
    )


def collect(paths: list[str], recursive: bool = False) -> list[Path]:
    """The workbooks named: files as given, folders as the workbooks in them (see intake.collect)."""
    return [submission.path for submission in intake.collect(paths, recursive)]


def choose_engine(requested: str | None) -> str:
    if requested == "cached":
        return "cached"
    if recalc.find_soffice() is None:
        if requested == "libreoffice":
            raise UserError(
                f"--engine libreoffice: LibreOffice (soffice) was not found: {recalc.INSTALL_HINT}"
            )
        print(
            "sheetgen verify: warning: LibreOffice not found, checking the values as last saved "
            "(--engine cached); "
            f"to recalculate, {recalc.INSTALL_HINT.split(', or')[0]}",
            file=sys.stderr,
        )
        return "cached"
    return "libreoffice"


# Cells may hold inf or NaN (a diverged sheet, a typed 1E+309): every check compares them and says so in
# the verdict, so numpy's warnings about that arithmetic would only break the one-line promise.
@np.errstate(invalid="ignore", over="ignore", divide="ignore", under="ignore")
def judge(
    path: Path, original: xlsx.Book, values: xlsx.Book, engine: str, tol: float, *, by_formulas: bool = True
) -> report.BookResult:
    """Check every table of `values` (the recalculated book, or the original itself when cached).

    by_formulas: read another network by what its cells compute (not for a virtual book, whose formulas
    are rewritten for the course's quantities: the caller reads the book itself)."""
    result = report.BookResult(path, engine)
    original, values = annotate.without_feedback(original), annotate.without_feedback(values)
    unfilled = built.unfilled_exercise(original)
    if unfilled is not None:  # a student's copy from sheetgen build --exercise, not filled in yet
        sheet, header, cell = unfilled
        result.tables.append(
            checks.TableCheck(
                tables.Table(sheet, header, {"iteration": 1}, {"iteration": "Iteration"}),
                0,
                False,
                0.0,
                incomplete=f"an exercise not filled in yet: '{sheet}'!{cell} is empty "
                "(see the Exercise sheet)",
            )
        )
        return result
    if built_spec.judge(
        result, original, values, engine, tol
    ):  # a built book of another network, by its spec
        return result
    found = tables.find_all(values)
    walk = walkthrough.read(original, values) if not found else None
    if walk is not None:  # Mazur's layout: one iteration per sheet, as labelled cells
        # The virtual table's cells are not the file's, so no perturbed recalculation (engine "cached").
        result = judge(path, walk.original, walk.values, "cached", tol, by_formulas=False)
        if result.network_difference or not result.tables:
            # Labelled cells of another network (a transposed table, one step scattered over a sheet,
            # another network's sheet per iteration): the virtual table's formulas are rewritten for the
            # course's quantities, so read the book itself by what its cells compute.
            read = _by_formulas(path, original, values, engine, tol)
            if read is not None:
                return read
        result.engine = engine
        walkthrough.report_in_place(result, walk)
        return result
    if not found and by_formulas:
        read = _by_formulas(path, original, values, engine, tol)  # another network, read by what it computes
        if read is not None:
            return read
        result.network_difference = labelled_network.difference(values)
        result.error = (
            "no iteration table found: no row with labels like w1 … w8, a_o1, E_total, ∂E/∂w1 "
            "(see sheetgen verify --help for the accepted labels)"
        )
        return result
    if by_formulas and labelled_network.sizes_differ(values):  # another network's labels: its formulas first
        read = _by_formulas(path, original, values, engine, tol)
        if read is not None and not _course_sized(read):
            return read
    if engine == "cached" and _unsaved_share(values, found) > 0.5:
        result.error = (
            "its formulas have no saved values (the program that wrote it does not calculate): "
            "verify it with --engine libreoffice"
        )
        return result
    is_built = built.is_built(original)
    anchor = built.parameter_block(values) if is_built else {}
    known_etas = tuple(t.eta for t in found if t.eta is not None)
    headers = tables.header_cells(found)
    skipped: list[str] = []
    for table in found:
        sheet = values.sheet(table.sheet)
        source = original.sheet(table.sheet)

        def formula_of(row, col, source=source, sheet=sheet):
            return (source.formula(row, col) if source else None) or sheet.formula(row, col)

        try:
            result.tables.append(
                checks.check_table(
                    sheet,
                    table,
                    tol=tol,
                    anchor=anchor,
                    formula_of=formula_of,
                    known_etas=known_etas,
                    book=original,
                    header_cells=headers,
                )
            )
        except checks.Unverifiable as error:
            skipped.append(str(error))
    if not result.tables:  # nothing checkable at all: not a sheet we can judge
        read = _by_formulas(path, original, values, engine, tol) if by_formulas else None
        if read is not None:
            return read
        result.network_difference = labelled_network.difference(values)
        result.error = f"cannot be verified: {skipped[0]}"
        return result
    result.network_difference = labelled_network.explain(result.tables, values)
    if result.network_difference and by_formulas:  # labels of another network: read by what cells compute
        read = _by_formulas(path, original, values, engine, tol)
        if read is not None:
            return read
    if engine == "libreoffice":
        perturb.settle(result, path, tol)
    result.notes.extend(f"table skipped: {reason}" for reason in skipped)
    if is_built:
        result.problems = built.check_built(original, values if engine == "libreoffice" else None, found, tol)
        if not result.problems:
            saved = "saved values equal LibreOffice's, " if engine == "libreoffice" else ""
            result.notes.append(
                f"written by {original.properties['generator']}: every computed cell is a formula, {saved}"
                "every LR sheet and the Summary have their charts"
            )
        if engine == "cached":
            result.notes.append("cached engine: saved values not compared with a recalculation")
    return result


def _by_formulas(path: Path, original: xlsx.Book, values: xlsx.Book, engine: str, tol: float):
    """The verdict on the network the book's formulas compute (verify/prove/graph_check.py), or None when they
    compute no weighted sum feeding an activation."""
    result = report.BookResult(path, engine)
    try:
        return result if graph_check.judge(result, original, values, tol) else None
    except (ArithmeticError, LookupError, TypeError, ValueError, RecursionError):
        return None  # a sheet this reading cannot take apart: what the course path says stands


def _course_sized(result: report.BookResult) -> bool:
    """Whether the network read from the formulas has the course's 2-2-2 sizes with one sample: such a
    book is the course path's to judge, whatever its labels say."""
    network = result.network or {}
    return network.get("sizes") == [2, 2, 2] and network.get("samples", 1) <= 1


def _unsaved_share(book: xlsx.Book, found: list[tables.Table]) -> float:
    """The share of the tables' formula cells that carry no saved value."""
    formulas = unsaved = 0
    for table in found:
        sheet = book.sheet(table.sheet)
        for col in table.columns.values():
            for row in table.rows:
                if (row, col) in sheet.formulas:
                    formulas += 1
                    unsaved += sheet.values.get((row, col)) in (None, "")
    return unsaved / formulas if formulas else 0.0


def _unknown_function(original: xlsx.Book, values: xlsx.Book) -> str | None:
    """The first cell LibreOffice shows #NAME? in where the file saved a number, as 'Sheet'!A1."""
    for sheet in values.sheets:
        saved = original.sheet(sheet.name)
        for cell, value in sheet.values.text_items():
            if value == "#NAME?" and isinstance(value, xlsx.ErrorValue) and saved is not None:
                if isinstance(saved.values.get(cell), float):
                    return f"'{sheet.name}'!{xlsx.address(*cell)}"
    return None


def _named_as(original: xlsx.Book | None, recalculated: xlsx.Book) -> xlsx.Book:
    """LibreOffice's book with the original's sheet names.

    LibreOffice renames, on reading, a sheet whose name Excel would not allow ('a/b', 'x*y',
    '[q]'), and writes the recalculation under its new name ('Sheet1'). It keeps the sheets'
    order, so each takes back the name of the original's sheet in its place: the report then
    names the sheet the student has, and the annotated copy's marks land on it.
    """
    if original is None or len(original.sheets) != len(recalculated.sheets):
        return recalculated
    for ours, theirs in zip(original.sheets, recalculated.sheets, strict=True):
        theirs.name = ours.name
    return recalculated


def _unreadable(path: Path, engine: str, message: str) -> report.BookResult:
    return report.BookResult(path, engine, error=message)


class _Verification:
    """One `sheetgen verify` run over many books: results kept in input order, each shown when ready."""

    def __init__(
        self,
        paths: list[Path],
        engine: str,
        tol: float,
        on_result=None,
        *,
        jobs=1,
        on_read=None,
        on_done=None,
    ):
        self.paths, self.engine, self.tol, self.on_result = paths, engine, tol, on_result
        self.results: list[report.BookResult | None] = [None] * len(paths)
        self.jobs = jobs  # soffice processes sharing the batch
        self.on_read = on_read  # on_read(index, book, xlsx_path): the book's cells, as read
        self.on_done = on_done  # on_done(index, result): before on_result(result)
        # .ods/.xls: LibreOffice's .xlsx of them is the book (formulas and values), under either engine
        self.converted = {i for i, p in enumerate(paths) if p.suffix.lower() in intake.CONVERTED}
        self.next_shown = 0  # books before this one are shown (or wait for a retry of their own)
        self.retrying: set[int] = set()  # books LibreOffice crashed before reaching: run alone at the end

    def admit(self, index: int) -> str | None:
        """How LibreOffice gives book `index` back (see recalc.ParallelBatch), None if not at all.

        Each file is checked here, just before its LibreOffice process starts, so a file that cannot
        be a workbook (an XML bomb) is refused in one line and never reaches LibreOffice. An .xlsx
        comes back as its values (CSV), unless its last cell lies so far out that the CSV's empty
        fields would outweigh its cells; an .ods/.xls as a whole .xlsx, its formulas being the book.
        """
        path = self.paths[index]
        try:
            book = intake.check(path)
        except UserError as error:
            self.results[index] = self.unreadable(index, str(error))
            return None
        if index in self.converted:
            if self.engine != "libreoffice" and recalc.find_soffice() is None:
                self.results[index] = self.unreadable(
                    index, f"LibreOffice is needed to read it: {recalc.INSTALL_HINT}"
                )
                return None
            return "book"
        if self.engine != "libreoffice":
            return None  # the cached engine reads the file itself
        return "values" if values_will_do(book) else "book"

    def unreadable(self, index: int, message: str) -> report.BookResult:
        path = self.paths[index]
        return _unreadable(path, self.engine, message.removeprefix(f"{path}: "))

    def finish(self, index: int, result: report.BookResult) -> None:
        """Keep a book's verdict; show it (hooks, the report line) once every book before it is shown."""
        self.results[index] = result
        if index < self.next_shown:  # a book retried alone after the rest: shown as it comes
            self.show(index)
        self.show_ready()

    def show(self, index: int) -> None:
        result = self.results[index]
        if self.on_done:
            self.on_done(index, result)
        if self.on_result:
            self.on_result(result)

    def show_ready(self) -> None:
        """Show the finished books that follow the last one shown, in input order."""
        while self.next_shown < len(self.paths):
            index = self.next_shown
            if index not in self.retrying:
                if self.results[index] is None:
                    return
                self.show(index)
            self.next_shown += 1

    def next_to_judge(self, pending: list[int], batch) -> int:
        """The first of the next few books whose recalculation is done, else the first: while one
        LibreOffice process is still busy (starting, or on a large book), another's books go on."""
        for index in pending[: LOOKAHEAD_PER_JOB * self.jobs]:
            if batch is None or not batch.admitted(index) or batch.ready(index):
                return index
        return pending[0]

    def check(self, index: int, batch, position: int) -> bool:
        """Judge one book; False when LibreOffice crashed before reaching it (worth a retry alone)."""
        try:
            result = self.judge(index, batch, position)
            if result is None:
                return False
            self.finish(index, result)
        except UserError as error:
            self.finish(index, self.unreadable(index, str(error)))
        except (ValueError, TypeError, KeyError, IndexError, ArithmeticError, RecursionError) as error:
            # A workbook nobody foresaw must not stop the rest of a class's batch: name it and go on.
            message = f"could not be checked ({type(error).__name__}: {error}); please report this file"
            self.finish(index, self.unreadable(index, message))
        return True

    def judge(self, index: int, batch, position: int) -> report.BookResult | None:
        """The verdict on one book, from LibreOffice's recalculation when there is a batch
        (a recalc.Batch or ParallelBatch; `position` is the book's place in it)."""
        path = self.paths[index]
        converted = index in self.converted
        original = None if converted else xlsx.read_book(path)
        if batch is None:
            self.read(index, original, path)
            return judge(path, original, original, self.engine, self.tol)
        output = batch.output(position)
        if output is None:
            if batch.crashed(position):
                return None
            raise UserError(batch.failure(position))
        if batch.gives_values(position):
            recalculated = csv_values.read(output, original)
            if recalculated is None:  # a CSV that cannot be read back without guessing: ask for the .xlsx
                recalculated = _named_as(original, self.recalculate_alone(index))
        else:
            recalculated = _named_as(original, xlsx.read_book(output))
        recalculated.path = path
        if converted:  # LibreOffice's .xlsx of an .ods/.xls: its formulas and its values are the book
            self.read(index, recalculated, output)
            return judge(path, recalculated, recalculated, self.engine, self.tol)
        self.read(index, original, path)
        unknown = _unknown_function(original, recalculated)
        if unknown:  # e.g. Excel's LET: LibreOffice 7.4 cannot compute it, Excel could
            result = judge(path, original, original, "cached", self.tol)
            result.notes.append(
                f"LibreOffice does not know a function used (#NAME? at {unknown}): "
                "the values saved in the file were checked instead"
            )
            return result
        return judge(path, original, recalculated, self.engine, self.tol)

    def recalculate_alone(self, index: int) -> xlsx.Book:
        """Book `index` recalculated by a LibreOffice run of its own, read from the .xlsx it writes."""
        with recalc.Batch([self.paths[index]], self.work / f"whole{index}", cells_only=True) as alone:
            output = alone.output(0)
            if output is None:
                raise UserError(alone.failure(0))
            return xlsx.read_book(output)

    def read(self, index: int, book: xlsx.Book, source: Path) -> None:
        if self.on_read:
            self.on_read(index, book, source)

    def run(self, work: Path) -> list[report.BookResult]:
        self.work = work
        # Each LibreOffice process starts once its books are admitted (checked; see admit), so the
        # reading of the next process's books overlaps this one's recalculation.
        needed = self.engine == "libreoffice" or self.converted
        batch = (
            recalc.ParallelBatch(
                self.paths,
                work,
                jobs=self.jobs,
                admit=self.admit,
                recalculate=self.engine == "libreoffice",
                cells_only=True,
            )
            if needed
            else None
        )
        retry = []
        # Refused books have their verdicts already, and are shown in their place in the order.
        pending = [index for index in range(len(self.paths)) if self.results[index] is None]
        try:
            self.show_ready()
            while pending:
                index = self.next_to_judge(pending, batch)
                pending.remove(index)
                if not self.check(index, batch if batch and batch.admitted(index) else None, index):
                    retry.append(index)
                    self.retrying.add(index)
                    self.show_ready()
        finally:
            if batch is not None:
                batch.close()
        # LibreOffice crashed on one book and left the rest undone: each of those gets its own run,
        # so one pathological file cannot cost a class its verdicts.
        for index in retry:
            with recalc.Batch(
                [self.paths[index]],
                work / f"retry{index}",
                recalculate=self.engine == "libreoffice",
                cells_only=True,
            ) as alone:
                if not self.check(index, alone, 0):
                    self.finish(index, self.unreadable(index, "LibreOffice crashed on it"))
        return self.results


def verify_books(
    paths: list[Path], engine: str, tol: float, on_result=None, *, jobs: int = 1, on_read=None, on_done=None
) -> list[report.BookResult]:
    """Verify every workbook, LibreOffice recalculating them in `jobs` processes; results in input order.

    Each original is read while LibreOffice works on the batch, and each recalculated copy as soon as
    LibreOffice has moved on to the next file, so Python's work overlaps LibreOffice's. A class large
    enough is split over `jobs` worker processes, each with its own LibreOffice (verify/workers.py).
    """
    with scratch("verify") as work:
        verification = _Verification(
            paths, engine, tol, on_result, jobs=jobs, on_read=on_read, on_done=on_done
        )
        if not workers.worthwhile(len(paths), jobs):
            return verification.run(Path(work))

        def run_share(share: list[Path], share_read, share_done, share_work: Path):
            return _Verification(share, engine, tol, on_read=share_read, on_done=share_done).run(share_work)

        def arrived(index: int, result: report.BookResult, book, source) -> None:
            if book is not None:
                verification.read(index, book, source)
            verification.finish(index, result)

        def failed(index: int, why: str) -> None:
            message = f"could not be checked ({why}); please report this file"
            verification.finish(index, verification.unreadable(index, message))

        workers.verify_split(paths, jobs, run_share, arrived, failed, Path(work))
        for index, result in enumerate(verification.results):
            if result is None:  # never sent: its worker ended without a word about it
                failed(index, "its worker process sent no verdict")
        return verification.results


def exit_status(results: list[report.BookResult]) -> int:
    """0 all verified, 2 all unreadable, else the most severe verdict's status (see report.SEVERITY)."""
    verdicts = {r.verdict for r in results}
    if verdicts <= {report.UNREADABLE}:
        return 2
    if verdicts == {report.VERIFIED}:
        return 0
    for verdict in report.SEVERITY:
        if verdict in verdicts:
            return report.EXIT_STATUS[verdict]
    return 1  # verified books and unreadable ones


def _written_before_stop(copies: list, outdir: Path | None) -> str | None:
    """What a stopped run leaves: the annotated copies written so far (the report and the HTML come
    at the end, so never); None when nothing was written."""
    written = sum(isinstance(copy, Path) for copy in copies)
    if not written:
        return None
    return (
        f"{written} annotated cop{'y was' if written == 1 else 'ies were'} written to '{outdir}' "
        "before it stopped, nothing else"
    )


def run(args) -> int:
    if not (math.isfinite(args.tol) and 0 < args.tol < 1):
        raise UserError(f"--tol {args.tol}: give a relative tolerance between 0 and 1, e.g. 1e-9")
    if args.report:
        check_output_path(args.report, suffix=".csv", flag="--report")
    jobs = recalc.default_jobs() if args.jobs is None else args.jobs
    if not 1 <= jobs <= 64:
        raise UserError(f"--jobs {jobs}: give a number of LibreOffice processes from 1 to 64")
    html = classroom.check_html_path(args.html) if args.html else None
    submissions = intake.collect(args.books, args.recursive)
    paths = [s.path for s in submissions]
    # Before anything is written: no output may land on any workbook given (nor on another output).
    outputs = [("--report", Path(args.report))] if args.report else []
    outputs += [("--html", html)] if html else []
    if args.annotate:
        outputs += [("--annotate", p) for p in classroom.copy_paths(submissions, Path(args.annotate))]
    classroom.refuse_overwriting_inputs(submissions, outputs)
    engine = choose_engine(args.engine)
    single = len(paths) == 1
    outdir = classroom.prepare_outdir(args.annotate) if args.annotate else None
    bar = classroom.progress_bar(len(paths))
    klass = classroom.Classroom(submissions, annotate_dir=outdir, html=html, engine=engine, bar=bar)

    def show(result):
        if args.json:
            return
        if single and result.verdict == report.UNREADABLE:  # one line on stderr, as for any unusable input
            print(f"sheetgen verify: error: {shown(result.path)}: {shown(result.error)}", file=sys.stderr)
            return
        lines = report.details(result) if single else [report.one_line(result)]
        klass.echo(*lines)

    try:
        results = verify_books(
            paths, engine, args.tol, on_result=show, jobs=jobs, on_read=klass.read, on_done=klass.done
        )
    except KeyboardInterrupt as stop:  # Ctrl-C, SIGTERM, a hangup: say what was written before it
        stop.written = _written_before_stop(klass.copies, outdir)
        raise
    finally:
        if bar is not None:
            bar.close()
    klass.write_html(results)
    if args.json:
        print(json_safe(report.as_json(results)))
    elif not single:
        print(report.summary_line(results))
    if args.report:

        def write_csv(tmp: Path) -> None:
            with open(tmp, "w", newline="", encoding="utf-8") as handle:
                report.write_csv(results, handle)

        write_output(args.report, write_csv, flag="--report")
    return exit_status(results)
