"""Recalculate workbooks in headless LibreOffice, a whole batch in one soffice process.

LibreOffice 7.4 has traps, each handled here:
  * it does not recalculate an .xlsx on load (it trusts the cached values) unless the profile
    sets OOXMLRecalcMode = 0 ("always recalculate");
  * its threaded formula-group calculation returns wrong results for SUM over 100+ rows, so
    the profile turns UseThreadedCalculationForFormulaGroups off and the environment sets
    SC_NO_THREADED_CALCULATION=1;
  * a user profile in use (or half-written by a crashed run) changes its behaviour, so every
    call gets a fresh throw-away profile in a temporary folder;
  * `soffice --convert-to` exits 0 even when a conversion failed, so each output is checked.
  * documents may carry macros: the profile disables macro execution outright, so a submitted
    .xlsm or .xls is read, never run;
  * it writes numbers in the machine's locale (0,5 and WAHR under LANG=de_DE), so the profile fixes
    the locale to en-US: every machine recalculates, and writes its CSV, alike.
Starting soffice costs a few seconds, so many files go through one process, in order; a class's
batch may be split over several processes (ParallelBatch), each with its own profile.
LibreOffice also converts what it can open (.ods, legacy .xls) to .xlsx in the same run.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
import zipfile
from pathlib import Path

from sheetgen.core.errors import UserError, remove_scratch, scratch_folder, signals_held

INSTALL_HINT = (
    "install LibreOffice (Debian/Ubuntu: apt-get install -y --no-install-recommends "
    "libreoffice-calc-nogui; macOS: brew install --cask libreoffice), or use --engine cached"
)
START_SECONDS = 90  # profile creation and start-up, generous for a loaded 2-core machine
SECONDS_PER_FILE = 20  # a 6 x 100 workbook takes about 1 s; a 10,000-row sheet about 15 s
SECONDS_PER_MIB = 10  # per MiB of compressed input, for the rare very large book

# LibreOffice's CSV export of every sheet (token 12: -1), one file per sheet named BOOK-SHEET.csv:
# UTF-8 (76), comma-separated, text cells quoted (token 7), values not as shown (token 9), no
# formulas. Writing it costs next to nothing, where writing an .xlsx is about a third of
# LibreOffice's time on a built book; numbers keep 15 significant digits. office/csv_values.py reads it.
VALUES_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,true,true,false,false,false,-1"

# Recalculation modes: 0 always recalculate on load, 1 never (keep the values as saved).
_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse">\
<value>{mode}</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse">\
<value>{mode}</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="DisableMacrosExecution" \
oor:op="fuse"><value>true</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Security/Scripting"><prop oor:name="MacroSecurityLevel" \
oor:op="fuse"><value>3</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Calculation">\
<prop oor:name="UseThreadedCalculationForFormulaGroups" oor:op="fuse"><value>false</value></prop></item>
<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="FirstRun" oor:op="fuse">\
<value>false</value></prop></item>
<item oor:path="/org.openoffice.Setup/L10N"><prop oor:name="ooSetupSystemLocale" oor:op="fuse">\
<value>en-US</value></prop></item>
</oor:items>
"""

_CANDIDATES = (
    "/usr/bin/soffice",
    "/usr/lib/libreoffice/program/soffice",
    "/opt/libreoffice/program/soffice",
    "/Applications/LibreOffice.app/Contents/MacOS/soffice",
)


def find_soffice() -> str | None:
    """The soffice executable, or None when LibreOffice is not installed."""
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found:
        return found
    return next((c for c in _CANDIDATES if os.access(c, os.X_OK)), None)


def require_soffice() -> str:
    soffice = find_soffice()
    if soffice is None:
        raise UserError(f"LibreOffice (soffice) was not found: {INSTALL_HINT}")
    return soffice


def make_profile(folder: Path, *, recalculate: bool = True) -> str:
    """Write a throw-away LibreOffice profile into `folder`; return its -env:UserInstallation URL.

    recalculate=False keeps the values as saved (a plain format conversion).
    """
    user = folder / "user"
    user.mkdir(parents=True, exist_ok=True)
    profile = _PROFILE.replace("{mode}", "0" if recalculate else "1")
    (user / "registrymodifications.xcu").write_text(profile, encoding="utf-8")
    return folder.resolve().as_uri()


def soffice_env() -> dict[str, str]:
    env = dict(os.environ)
    env["SC_NO_THREADED_CALCULATION"] = "1"
    env.setdefault("SAL_USE_VCLPLUGIN", "svp")  # headless drawing, no display needed
    return env


_DRAWING_REL = re.compile(rb"<Relationship\b[^>]*/relationships/drawing\"[^>]*/>")
_DRAWING_ELEMENT = re.compile(rb"<(?:[\w.-]+:)?drawing\b[^>]*/>")
# Only for a values copy: comments and their VML widen the area LibreOffice exports as CSV.
_NOTES_REL = re.compile(rb"<Relationship\b[^>]*/relationships/(?:comments|vmlDrawing)\"[^>]*/>")
_NOTES_ELEMENT = re.compile(rb"<(?:[\w.-]+:)?legacyDrawing(?:HF)?\b[^>]*/>")
_XF_FORMAT = re.compile(rb"(<(?:[\w.-]+:)?xf\b[^>]*?\bnumFmtId=\")\d+(\")")
_ROUNDED_AS_SHOWN = re.compile(rb"\bfullPrecision=\"(?:0|false)\"")


def cells_only_copy(path: Path, target: Path, *, values: bool = False) -> bool:
    """Copy an .xlsx/.xlsm without its charts and drawings, for LibreOffice to recalculate; False if not.

    Charts and drawn shapes do not change a single cell's value, yet importing and exporting them
    is about a third of LibreOffice's time on a built book (benchmarks/sheet_verify.py). Cell
    comments and form controls (VML) stay. Books with chart sheets are copied whole (False).
    values=True, for a copy exported as CSV (VALUES_FILTER): comments go too, and every cell's
    number format becomes General, so the CSV holds plain numbers, never "25%" or a date; a book
    whose workbook rounds values to their format (Excel's "precision as displayed") is refused.
    """
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        return False
    try:
        with zipfile.ZipFile(path) as source:
            names = source.namelist()
            if len(set(names)) != len(names):  # two parts of one name: copied whole, never rewritten
                return False
            if any(n.startswith("xl/chartsheets/") for n in names):
                return False
            with zipfile.ZipFile(
                target, "w", zipfile.ZIP_STORED
            ) as copy:  # stored: LibreOffice reads it at once
                for info in source.infolist():
                    name = info.filename
                    lower = name.lower()
                    if name.startswith("xl/charts/") or (
                        name.startswith("xl/drawings/") and not lower.endswith(".vml")
                    ):
                        continue
                    if values and (
                        lower.endswith(".vml") or lower.startswith(("xl/comments", "xl/threadedcomments/"))
                    ):
                        continue
                    data = source.read(info)
                    if name.startswith("xl/worksheets/_rels/"):
                        data = _DRAWING_REL.sub(b"", data)
                        if values:
                            data = _NOTES_REL.sub(b"", data)
                    elif name.startswith("xl/worksheets/") and name.endswith(".xml"):
                        data = _DRAWING_ELEMENT.sub(b"", data)
                        if values:
                            data = _NOTES_ELEMENT.sub(b"", data)
                    elif values and name == "xl/styles.xml":
                        data = _XF_FORMAT.sub(rb"\g<1>0\2", data)
                    elif values and name == "xl/workbook.xml" and _ROUNDED_AS_SHOWN.search(data):
                        raise ValueError("values rounded as shown: their formats matter")
                    copy.writestr(info.filename, data)
        return True
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        target.unlink(missing_ok=True)
        return False


class Batch:
    """One soffice process converting `paths` (in order) into `outdir`, started at construction.

    Inputs are linked under unique names, so two books called the same in different folders
    cannot overwrite each other's output. Use `output(i)` to wait for the i-th result.
    cells_only: LibreOffice gets each .xlsx without its charts and drawings (cells_only_copy).
    values: each book's values only, as one CSV per sheet (VALUES_FILTER, read by office/csv_values.py);
    output(i) is then the files' common stem, OUTDIR/bookNNNNN, each sheet's file STEM-SHEET.csv.
    """

    def __init__(
        self,
        paths: list[Path],
        outdir: Path,
        *,
        convert_to: str = "xlsx",
        suffix: str = ".xlsx",
        timeout: float | None = None,
        recalculate: bool = True,
        cells_only: bool = False,
        values: bool = False,
    ):
        soffice = require_soffice()
        if values:
            convert_to, cells_only = VALUES_FILTER, True
        self.values = values
        self.paths = [Path(p) for p in paths]
        self.outdir = Path(outdir)
        self.outdir.mkdir(parents=True, exist_ok=True)
        self.process = None
        self._log = None
        # Removed by close(), also when this constructor is interrupted (Ctrl-C, SIGTERM while the
        # inputs are linked), or at exit, or by a later run if we are killed outright.
        self._work = scratch_folder("lo")
        try:
            self._start(soffice, convert_to, suffix, timeout, recalculate, cells_only, values)
        except BaseException:
            self.close()
            raise

    def _start(self, soffice, convert_to, suffix, timeout, recalculate, cells_only, values) -> None:
        inputs = self._work / "in"
        inputs.mkdir()
        self.inputs = []
        for index, path in enumerate(self.paths):
            link = inputs / f"book{index:05d}{path.suffix.lower() or '.xlsx'}"
            if not (cells_only and cells_only_copy(path, link, values=values)):
                try:
                    link.symlink_to(path.resolve())
                except OSError:
                    shutil.copyfile(path, link)
            self.inputs.append(link)
        self.outputs = [self.outdir / (link.stem + ("" if values else suffix)) for link in self.inputs]
        size_mib = sum(p.stat().st_size for p in self.paths) / (1 << 20)
        self.timeout = (
            timeout or START_SECONDS + SECONDS_PER_FILE * len(self.paths) + SECONDS_PER_MIB * size_mib
        )
        self.deadline = time.monotonic() + self.timeout
        command = [
            soffice,
            f"-env:UserInstallation={make_profile(self._work / 'profile', recalculate=recalculate)}",
            "--headless",
            "--norestore",
            "--nologo",
            "--nodefault",
            "--nolockcheck",
            "--convert-to",
            convert_to,
            "--outdir",
            str(self.outdir),
            *map(str, self.inputs),
        ]
        env = soffice_env()
        env["TMPDIR"] = str(self._work / "tmp")  # its own lu*.tmp files go where close() removes them
        (self._work / "tmp").mkdir()
        self._log = open(self._work / "soffice.log", "wb")  # noqa: SIM115 (closed in close())
        self.timed_out = False
        # An interrupt while soffice starts would lose its process id, and with it the process: the
        # stop signals wait until self.process is set (the child unblocks them before it runs soffice).
        with signals_held():
            self.process = subprocess.Popen(
                command,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
                preexec_fn=_unblock_signals,
            )

    def gives_values(self, index: int) -> bool:
        """Whether output `index` is values only (CSV files), not an .xlsx; the same for every book."""
        return self.values

    def ready(self, index: int) -> bool:
        """Whether output(index) would answer at once (the next book begun, or the process ended)."""
        return self.process.poll() is not None or self._written(index + 1)

    def _finished(self) -> bool:
        if self.process.poll() is not None:
            return True
        if time.monotonic() > self.deadline:
            self._kill()
            self.timed_out = True
            return True
        return False

    def _written(self, index: int) -> bool:
        """Whether LibreOffice has begun writing output `index` (for values: any sheet's CSV)."""
        if index >= len(self.outputs):
            return False
        output = self.outputs[index]
        if not self.values:
            return output.exists()
        prefix = output.name + "-"
        with os.scandir(self.outdir) as entries:
            return any(e.name.startswith(prefix) and e.name.endswith(".csv") for e in entries)

    def output(self, index: int) -> Path | None:
        """Wait until the index-th output is complete; None when LibreOffice did not produce it.

        soffice converts its arguments in order, so output i is complete once output i+1
        exists or the process has ended.
        """
        while not self._finished():
            if self._written(index + 1):
                break
            time.sleep(0.02)
        if not self._written(index) or self.timed_out_for(index):
            return None
        if not self._written(index + 1) and self.crashed():
            return None  # died while writing it: what is there may be cut short (crashed() says so)
        return self.outputs[index]

    def timed_out_for(self, index: int) -> bool:
        """True if the batch was stopped by its timeout before output `index` was finished."""
        return self.timed_out and not self._written(index + 1)

    def wait(self) -> list[Path | None]:
        return [self.output(i) for i in range(len(self.outputs))]

    def _kill(self):
        """Kill soffice's whole process group, and wait until none of it is left: a process of it
        still running could write into the scratch folder after close() removed it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.process.kill()
        self.process.wait()
        wait_for_group(self.process.pid)

    def crashed(self, index: int | None = None) -> bool:
        """soffice died (a signal or an error status) rather than finishing or being timed out.

        `index` is accepted (and ignored) so a Batch and a ParallelBatch answer the same call.
        """
        return not self.timed_out and self.process.poll() not in (None, 0)

    def failure(self, index: int) -> str:
        """Why output `index` is missing, in words for a one-line error."""
        if self.timed_out_for(index):
            return f"LibreOffice did not finish within {self.timeout:.0f} s"
        return "LibreOffice could not open or convert it (is it a valid workbook?)"

    def close(self):
        if self.process is not None:
            self._kill()  # also when soffice itself has ended: what it started may not have
        if self._log is not None:
            self._log.close()
        remove_scratch(self._work)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _unblock_signals() -> None:
    """In soffice's process before it runs: the signals Batch held while starting it are not its."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM])


GROUP_WAIT_SECONDS = 10


def _group_alive(pgid: int) -> bool:
    """Whether a process of group `pgid` still runs (zombies, already dead, do not count)."""
    try:
        entries = os.listdir("/proc")
    except OSError:  # no /proc: ask the kernel (a zombie counts there, so this may wait the timeout)
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            return True
    return False


def wait_for_group(pgid: int, timeout: float = GROUP_WAIT_SECONDS) -> None:
    """Wait (briefly) until no process of group `pgid` runs, killing again any that does."""
    deadline = time.monotonic() + timeout
    while _group_alive(pgid) and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
        time.sleep(0.02)


def default_jobs() -> int:
    """The cores this process may use: the default number of soffice processes for a batch."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class ParallelBatch:
    """A batch split over `jobs` soffice processes, each with its own profile and output folder.

    Book i goes to process i mod jobs, so the outputs arrive roughly in input order and the
    caller can check book i while the processes work on the books after it. Same calls as Batch;
    crashed(i) and failure(i) speak of the process that held book i.

    admit(i), when given, is asked of each book just before its process starts and answers how
    LibreOffice should give it back: "values" (one CSV per sheet, Batch's values=True), "book" (a
    whole .xlsx, formulas too: an .ods or .xls to convert) or None (not at all: a refused file,
    never asked for). Process k starts as soon as its own books are admitted, so admitting the next
    process's books (reading each one through, as the caller does) overlaps this one's work.
    Without admit every book comes back as "book". A process holds one kind, so a class mixing the
    two may run two per job.
    """

    def __init__(self, paths: list[Path], outdir: Path, *, jobs: int = 1, admit=None, **options):
        self.paths = [Path(p) for p in paths]
        self.jobs = max(1, min(jobs, len(self.paths)))
        self.batches: list[Batch] = []
        self._place: dict[int, tuple[Batch, int]] = {}
        try:
            for job in range(self.jobs):
                shares: dict[str, list[int]] = {"values": [], "book": []}
                for index in range(job, len(self.paths), self.jobs):
                    kind = admit(index) if admit else "book"
                    if kind is not None:
                        shares[kind].append(index)
                for kind, indices in shares.items():
                    if not indices:
                        continue
                    batch = Batch(
                        [self.paths[i] for i in indices],
                        Path(outdir) / f"job{job}-{kind}",
                        values=kind == "values",
                        **options,
                    )
                    self.batches.append(batch)
                    self._place.update((index, (batch, n)) for n, index in enumerate(indices))
        except BaseException:
            self.close()
            raise

    def admitted(self, index: int) -> bool:
        return index in self._place

    def gives_values(self, index: int) -> bool:
        """Whether book `index` comes back as values only (CSV), not as an .xlsx."""
        return self._place[index][0].values

    def ready(self, index: int) -> bool:
        batch, position = self._place[index]
        return batch.ready(position)

    def output(self, index: int) -> Path | None:
        batch, position = self._place[index]
        return batch.output(position)

    def crashed(self, index: int | None = None) -> bool:
        if index is None:
            return any(b.crashed() for b in self.batches)
        return self._place[index][0].crashed()

    def failure(self, index: int) -> str:
        batch, position = self._place[index]
        return batch.failure(position)

    def timed_out_for(self, index: int) -> bool:
        batch, position = self._place[index]
        return batch.timed_out_for(position)

    def wait(self) -> list[Path | None]:
        return [self.output(i) if self.admitted(i) else None for i in range(len(self.paths))]

    def close(self):
        for batch in self.batches:
            batch.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def recalculate(paths: list[str | Path], outdir: str | Path, timeout: float | None = None) -> list[Path]:
    """Recalculate every workbook in one LibreOffice run; return the recalculated copies, in order.

    Raises a UserError naming the files LibreOffice failed on.
    """
    paths = [Path(p) for p in paths]
    with Batch(paths, Path(outdir), timeout=timeout) as batch:
        outputs = batch.wait()
        failed = [
            f"{p} ({batch.failure(i)})"
            for i, (p, out) in enumerate(zip(paths, outputs, strict=True))
            if out is None
        ]
    if failed:
        raise UserError("recalculation failed for " + ", ".join(failed))
    return outputs
