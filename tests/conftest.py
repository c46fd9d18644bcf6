"""Shared fixtures: LibreOffice and poppler, which some tests need.

Without LibreOffice those tests are skipped on a developer's machine, but when the CI
environment variable is set they FAIL: CI installs LibreOffice, so a missing one there means
the checks that matter most did not run.
"""

from __future__ import annotations

import os
import shutil

import pytest

from sheetgen.office import gnumeric, recalc


def _require(what: str, found: str | None, install: str) -> str:
    if found is None:
        message = f"{what} is not installed ({install})"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {message}")
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def soffice() -> str:
    """The soffice executable; skips (or fails under CI) when LibreOffice is missing."""
    return _require(
        "LibreOffice",
        recalc.find_soffice(),
        "apt-get install -y --no-install-recommends libreoffice-calc-nogui",
    )


@pytest.fixture(scope="session")
def pdftoppm(soffice) -> str:
    return _require("pdftoppm", shutil.which("pdftoppm"), "apt-get install -y poppler-utils")


@pytest.fixture(scope="session")
def ssconvert() -> str:
    """Gnumeric's ssconvert, the second recalculation engine; skips (or fails under CI) when missing."""
    return _require("Gnumeric", gnumeric.find_ssconvert(), gnumeric.INSTALL_HINT)
