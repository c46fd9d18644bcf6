"""What verifying a whole class adds to each book's verdict: the annotated copies, the HTML report,
the census, and a progress bar.

verify_books calls read() when a book's cells are in memory and done() when its verdict is in,
so copies are written while LibreOffice is still recalculating the books after it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sheetgen.core.errors import UserError, check_output_path, write_output
from sheetgen.core.printable import shown
from sheetgen.verify.read.intake import Submission
from sheetgen.verify.report import annotate, census, html_report, workbook_edit


def prepare_outdir(name: str) -> Path:
    """The --annotate folder, created if missing; refused (one line) if it cannot be written."""
    folder = Path(name)
    try:
        if folder.exists() and not folder.is_dir():
            raise UserError(f"--annotate '{folder}' is a file: give a folder for the annotated copies")
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a name too long, a parent that is a file, no permission
        raise UserError(
            f"--annotate '{folder}': cannot create it ({error.strerror or error}): choose another folder"
        ) from None
    if not os.access(folder, os.W_OK):
        raise UserError(f"--annotate '{folder}' is not writable: choose another folder")
    return folder


def check_html_path(name: str) -> Path:
    path = Path(name)
    if path.suffix.lower() not in (".html", ".htm"):
        raise UserError(
            f"--html '{path}' must end in .html: choose a name like {path.with_suffix('.html').name}"
        )
    return check_output_path(path, flag="--html")


def copy_paths(submissions: list[Submission], outdir: Path) -> list[Path]:
    """Where each book's annotated copy would go: OUTDIR/NAME (NAME.ods.xlsx for LibreOffice's
    formats). Names are unique (intake.names); two that differ only in case, which one folder on a
    case-insensitive disk cannot hold apart, get -2, -3 … in the order of the books."""
    taken: set[str] = set()
    paths = []
    for submission in submissions:
        relative = annotate.copy_name(submission.name)
        n = 2
        while str(relative).lower() in taken:
            stem = annotate.copy_name(submission.name)
            relative = stem.with_name(f"{stem.name.removesuffix(stem.suffix)}-{n}{stem.suffix}")
            n += 1
        taken.add(str(relative).lower())
        paths.append(outdir / relative)
    return paths


def _same_file(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): not the same file
        return False


def refuse_overwriting_inputs(submissions: list[Submission], outputs: list[tuple[str, Path]]) -> None:
    """Before anything is written: no output (flag, path) may be a workbook given, nor another output.

    Paths are compared resolved (through links and `..`) and as files (a hard link is the same
    file), against every input, not only the book an output belongs to.
    """
    inputs = {os.path.realpath(s.path): s for s in submissions}
    for flag, path in outputs:
        clash = inputs.get(os.path.realpath(path)) or next(
            (s for s in submissions if _same_file(path, s.path)), None
        )
        if clash is not None:
            what = "an annotated copy" if flag == "--annotate" else "the report"
            raise UserError(
                f"{flag}: {what} would be written over the workbook '{clash.path}' given to check: "
                f"choose a{' folder' if flag == '--annotate' else 'nother ' + flag + ' path'} "
                "that holds none of the workbooks"
            )
    for n, (flag, path) in enumerate(outputs):
        for other_flag, other in outputs[n + 1 :]:
            if flag != other_flag and _same_file(path, other):
                raise UserError(f"{flag} and {other_flag} name the same file '{path}': give each its own")


class Classroom:
    def __init__(
        self, submissions: list[Submission], *, annotate_dir: Path | None, html: Path | None, engine: str, bar
    ):
        self.submissions = submissions
        self.annotate_dir, self.html, self.engine = annotate_dir, html, engine
        self.sources: dict[int, Path] = {}  # the .xlsx each book was read from (a conversion for .ods/.xls)
        self.prints: dict[str, str] = {}
        self.copies: list[Path | str | None] = [None] * len(submissions)
        self.bar = bar
        # where each copy goes, fixed before any book is read (unique; checked against every input)
        self.copy_paths = copy_paths(submissions, annotate_dir) if annotate_dir is not None else []

    def read(self, index: int, book, source: Path) -> None:
        self.sources[index] = Path(source)
        if self.html is not None:
            self.prints[str(self.submissions[index].name)] = census.fingerprint(book)

    def done(self, index: int, result) -> None:
        """Name the result as the report shows it; write its annotated copy when it is not verified."""
        submission = self.submissions[index]
        result.path = submission.name
        if result.verdict == "verified":
            self.copies[index] = "verified: no copy"
        elif self.annotate_dir is not None:
            self.copies[index] = self._annotate(index, result)
        if self.bar is not None:
            self.bar.update(1)

    def _annotate(self, index: int, result) -> Path | str:
        submission = self.submissions[index]
        source = self.sources.get(index, submission.path)
        target = self.copy_paths[index]
        plain = self.annotate_dir / annotate.copy_name(submission.name) == target
        relative = submission.name if plain else target.relative_to(self.annotate_dir)
        try:
            return annotate.write_copy(result, source, self.annotate_dir, relative, submission.path)
        except (workbook_edit.EditError, UserError, OSError) as error:
            reason = str(error).removeprefix(f"{source}: ")
            if isinstance(error, OSError) and error.strerror:
                reason = error.strerror  # not the temporary's name, which the user never chose
            if result.verdict != "unreadable":  # an unreadable file failing again is no news
                self.echo(
                    f"sheetgen verify: warning: {submission.name}: no annotated copy ({reason})", err=True
                )
            return "unreadable: no copy" if result.verdict == "unreadable" else f"no copy: {reason}"

    def echo(self, *lines: str, err: bool = False) -> None:
        """Print lines without tearing the progress bar. Each is escaped (printable.shown): a name or a
        text from a file holding ESC or a newline can neither act on the terminal nor split a line."""
        line = "\n".join(shown(line) for line in lines)
        stream = sys.stderr if err else sys.stdout
        if self.bar is not None and not self.bar.disable:
            self.bar.write(line, file=stream)
        else:
            print(line, file=stream, flush=True)

    def write_html(self, results) -> None:
        if self.html is None:
            return
        names = [str(s.name) for s in self.submissions]
        page = html_report.render(
            results,
            names,
            self.copies,
            census.mistakes(results, names),
            census.identical_groups(self.prints),
            self.html,
            self.engine,
        )
        write_output(self.html, lambda tmp: tmp.write_text(page, encoding="utf-8"), flag="--html")


def progress_bar(total: int):
    """A tqdm bar on stderr when stderr is a terminal; None (quiet) otherwise or for a single book."""
    if total < 2 or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: a class is split over forked worker processes
    return tqdm(total=total, file=sys.stderr, unit="book", desc="verify", leave=False, dynamic_ncols=True)
