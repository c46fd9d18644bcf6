"""Recalculate a workbook in Gnumeric (`ssconvert --recalc`): a second spreadsheet engine.

LibreOffice is the engine `sheetgen verify` uses; Gnumeric shares no code with it, so a book
whose numbers both engines reproduce "opens right" by two independent computations. ssconvert
starts in about a second and needs no profile; its exit status is checked, and so is the output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sheetgen.core.errors import UserError

INSTALL_HINT = "install Gnumeric (Debian/Ubuntu: apt-get install -y --no-install-recommends gnumeric)"
SECONDS_PER_MIB = 60  # ssconvert reads a 10,000-row sheet (about 2 MiB) in a few seconds
START_SECONDS = 60


def find_ssconvert() -> str | None:
    """The ssconvert executable, or None when Gnumeric is not installed."""
    return shutil.which("ssconvert")


def recalculate(source: str | Path, target: str | Path, timeout: float | None = None) -> Path:
    """Write `target` (.xlsx): `source` with every formula recalculated by Gnumeric."""
    ssconvert = find_ssconvert()
    if ssconvert is None:
        raise UserError(f"Gnumeric (ssconvert) was not found: {INSTALL_HINT}")
    source, target = Path(source), Path(target)
    if timeout is None:
        timeout = START_SECONDS + SECONDS_PER_MIB * source.stat().st_size / (1 << 20)
    target.unlink(missing_ok=True)
    try:
        done = subprocess.run(
            [ssconvert, "--recalc", "--export-type=Gnumeric_Excel:xlsx2", str(source), str(target)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(os.environ, NO_AT_BRIDGE="1"),
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise UserError(f"Gnumeric did not finish recalculating '{source}' within {timeout:.0f} s") from None
    if done.returncode != 0 or not target.is_file():
        reason = (done.stderr or done.stdout).strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise UserError(f"Gnumeric could not recalculate '{source}': {reason[0]}")
    return target
