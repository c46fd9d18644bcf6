"""What verifying a whole class adds to each book's verdict: the annotated copies, the HTML report,
the census, and a progress bar.

verify_books calls read() when a book's cells are in memory and done() when its verdict is in,
so copies are written while LibreOffice is still recalculating the books after it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sheetgen.core.errors import UserError, atomic_output, check_output_path
from sheetgen.verify import annotate, census, html_report, workbook_edit
from sheetgen.verify.intake import Submission


def prepare_outdir(name: str) -> Path:
    """The --annotate folder, created if missing; refused (one line) if it cannot be written."""
    folder = Path(name)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"--annotate '{folder}' is a file: give a folder for the annotated copies")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"--annotate '{folder}': cannot create it ({error.strerror})") from None
    if not os.access(folder, os.W_OK):
        raise UserError(f"--annotate '{folder}' is not writable: choose another folder")
    return folder


def check_html_path(name: str) -> Path:
    path = Path(name)
    if path.suffix.lower() not in (".html", ".htm"):
        raise UserError(
            f"--html '{path}' must end in .html: choose a name like {path.with_suffix('.html').name}"
        )
    return check_output_path(path)


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
        self.taken: set[str] = set()  # copy names used so far, so two books never share one

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
        inside = submission.inside
        n = 2
        while str(annotate.copy_name(inside)).lower() in self.taken:  # same name from two folders
            inside = submission.inside.with_name(f"{submission.inside.stem}-{n}{submission.inside.suffix}")
            n += 1
        self.taken.add(str(annotate.copy_name(inside)).lower())
        try:
            return annotate.write_copy(result, source, self.annotate_dir, inside, submission.path)
        except (workbook_edit.EditError, UserError, OSError) as error:
            reason = str(error).removeprefix(f"{source}: ")
            if result.verdict != "unreadable":  # an unreadable file failing again is no news
                self.echo(
                    f"sheetgen verify: warning: {submission.name}: no annotated copy ({reason})", err=True
                )
            return "unreadable: no copy" if result.verdict == "unreadable" else f"no copy: {reason}"

    def echo(self, line: str, err: bool = False) -> None:
        """Print a line without tearing the progress bar."""
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
        with atomic_output(self.html) as tmp:
            tmp.write_text(page, encoding="utf-8")


def progress_bar(total: int):
    """A tqdm bar on stderr when stderr is a terminal; None (quiet) otherwise or for a single book."""
    if total < 2 or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: a class is split over forked worker processes
    return tqdm(total=total, file=sys.stderr, unit="book", desc="verify", leave=False, dynamic_ncols=True)
