"""Hostile inputs through `sheetgen build` and `sheetgen verify`, run as a user runs them (a subprocess each).

Every input in the table must be refused with exit status 2, exactly one line on stderr, nothing on
stdout, no traceback, and no file created, changed or deleted in the workspace (issue 14).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from xlsx_bombs import write_bomb

REPO = Path(__file__).resolve().parent.parent


def run_cli(argv: list[str], cwd: Path, *python_options: str) -> tuple[int, str, str]:
    """`python -m sheetgen <argv>` in cwd: (exit status, stdout, stderr)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [sys.executable, *python_options, "-m", "sheetgen", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.returncode, done.stdout, done.stderr


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every entry under `folder`: relative path -> (kind, size, mode, mtime in ns, sha256 or link target)."""
    state = {}
    for path in sorted(folder.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            content = os.readlink(path)
        elif path.is_file():
            content = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            content = "folder"
        state[str(path.relative_to(folder))] = (info.st_mode, info.st_size, info.st_mtime_ns, content)
    return state


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    space = tmp_path_factory.mktemp("hostile-sheetgen")
    assert run_cli(["build", "--iterations", "5", "-o", "good.xlsx"], space)[0] == 0
    good = (space / "good.xlsx").read_bytes()
    (space / "readonly.xlsx").write_bytes(good)
    (space / "readonly.xlsx").chmod(0o444)
    (space / "readonly.csv").write_text("kept\n")
    (space / "readonly.csv").chmod(0o444)
    (space / "loop.xlsx").symlink_to(space / "loop.xlsx")
    (space / "dangling.xlsx").symlink_to(space / "no-such-folder" / "x.xlsx")
    (space / "a-folder.xlsx").mkdir()
    (space / "empty-folder").mkdir()
    (space / "text.xlsx").write_text("i1,i2\n0.05,0.1\n")
    (space / "empty.xlsx").write_bytes(b"")
    (space / "page.xlsx").write_text("<!DOCTYPE html><html><body>Download failed</body></html>\n")
    (space / "cut.xlsx").write_bytes(good[: len(good) // 2])
    (space / "locked.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000))
    with zipfile.ZipFile(space / "zeros.xlsx", "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("xl/workbook.xml", "<workbook/>")
        bomb.writestr("xl/worksheets/sheet1.xml", b"\0" * (40 << 20))  # 40 MiB of zeros, ~40 KiB packed
    with zipfile.ZipFile(space / "document.xlsx", "w") as other:
        other.writestr("word/document.xml", "<w/>")
    write_bomb(space / "strings-bomb.xlsx", "shared-strings", 8)
    with (
        zipfile.ZipFile(space / "good.xlsx") as source,
        zipfile.ZipFile(space / "laughs.xlsx", "w") as laughs,
    ):
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/workbook.xml":
                lol = '<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
                data = data.replace(b"?>", b"?>" + lol.encode(), 1)
            laughs.writestr(item, data)
    return space


BUILD = ["build", "--iterations", "5", "-o", "new.xlsx"]
VERIFY = ["verify", "--engine", "cached"]

CASES = [
    # learning rates
    (BUILD + ["--lr-list", ""], "--lr-list is empty"),
    (BUILD + ["--lr-list", "0.1,,0.2"], "has an empty entry"),
    (BUILD + ["--lr-list", "nan"], "learning rate 'nan' is not a finite number"),
    (BUILD + ["--lr-list", "0.1,inf"], "learning rate 'inf' is not a finite number"),
    (BUILD + ["--lr-list=-0.5"], "learning rate '-0.5' must be greater than 0"),
    (BUILD + ["--lr-list", "1e-320"], "learning rate '1e-320' is closer to 0 than 2.225e-308"),  # subnormal
    (BUILD + ["--lr-list", "1e-301"], "learning rate '1e-301' is below 1e-300"),
    (BUILD + ["--lr-list", "fast"], "learning rate 'fast' is not a number"),
    (BUILD + ["--lr-list", "0.5,0.50"], "learning rate '0.50' is given twice"),
    (BUILD + ["--lr-list", ",".join(str(k / 100) for k in range(1, 30))], "29 learning rates is too many"),
    # template, --set, iterations
    (BUILD + ["--template", "no-such-template"], "no-such-template"),
    (BUILD + ["--set", "w9=1"], "w9"),
    (BUILD + ["--set", "w1=abc"], "--set w1 'abc' is not a number"),
    (BUILD + ["--set", "w1=nan"], "--set w1 'nan' is not a finite number"),
    (BUILD + ["--set", "t1=-4e-310"], "--set t1 '-4e-310' is closer to 0 than"),
    (BUILD + ["--set", "w1"], "w1"),
    (BUILD + ["--iterations", "0"], "--iterations 0 must be at least 1"),
    (BUILD + ["--iterations", "62500"], "--iterations 62500 is above the ceiling of 62499"),
    (BUILD + ["--iterations", "20000"], "6 learning rates x 20001 rows is above the ceiling of 62500 rows"),
    # outputs
    (BUILD + ["-o", "readonly.xlsx"], "output 'readonly.xlsx' is read-only (mode 444)"),
    (BUILD + ["-o", "loop.xlsx"], "output 'loop.xlsx' is a symlink that loops"),
    (BUILD + ["-o", "dangling.xlsx"], "no-such-folder' does not exist"),
    (BUILD + ["-o", "missing/new.xlsx"], "output directory 'missing' does not exist"),
    (BUILD + ["-o", "a-folder.xlsx"], "output 'a-folder.xlsx' is a directory"),
    (BUILD + ["-o", "new.csv"], "output 'new.csv' must end in .xlsx"),
    (VERIFY + ["good.xlsx", "--report", "readonly.csv"], "output 'readonly.csv' is read-only"),
    # what verify is given
    (VERIFY + ["missing.xlsx"], "missing.xlsx"),
    (VERIFY + ["empty-folder"], "empty-folder"),
    (VERIFY + ["text.xlsx"], "not an .xlsx workbook (not a zip file)"),
    (VERIFY + ["empty.xlsx"], "empty.xlsx"),
    (VERIFY + ["page.xlsx"], "not an .xlsx workbook (not a zip file)"),
    (VERIFY + ["cut.xlsx"], "corrupt .xlsx"),
    (VERIFY + ["locked.xlsx"], "password-protected"),
    (VERIFY + ["zeros.xlsx"], "zip bomb"),
    (VERIFY + ["document.xlsx"], "no xl/workbook.xml"),
    (VERIFY + ["strings-bomb.xlsx"], "more than 250,000 shared strings"),
    (VERIFY + ["laughs.xlsx"], "xl/workbook.xml: a DTD"),
    (VERIFY + ["--tol", "nan", "good.xlsx"], "--tol nan"),
]


@pytest.mark.parametrize("argv,expected", CASES, ids=[" ".join(argv)[-70:] for argv, _ in CASES])
def test_sheetgen_refuses(workspace, argv, expected):
    before = snapshot(workspace)
    status, out, err = run_cli(argv, workspace)
    lines = err.splitlines()
    assert status == 2, f"exit status {status}\nstdout: {out}\nstderr: {err}"
    assert len(lines) == 1 and out == "", err
    assert "Traceback" not in err and "Warning" not in err
    assert expected in lines[0], lines[0]
    assert snapshot(workspace) == before, "files were created, changed or deleted"


def test_cached_infinities_give_a_verdict_without_warnings(tmp_path):
    """Issue 14 item 10: numpy's RuntimeWarnings on inf - inf broke the one-line promise."""
    assert run_cli(["build", "--iterations", "30", "--lr-list", "0.5", "-o", "b.xlsx"], tmp_path)[0] == 0
    with zipfile.ZipFile(tmp_path / "b.xlsx") as source, zipfile.ZipFile(tmp_path / "inf.xlsx", "w") as book:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.startswith("xl/worksheets/") and b"<f>" in data:
                # Rows 20-29 diverged: every saved value there is 1E+309, i.e. inf.
                data = re.sub(
                    rb'(<c r="[A-Z]+2\d"[^>]*>(?:<f>[^<]*</f>)?)<v>[^<]*</v>', rb"\1<v>1e999</v>", data
                )
            book.writestr(item, data)
    for options in ((), ("-W", "error::RuntimeWarning")):
        status, out, err = run_cli(["verify", "--engine", "cached", "inf.xlsx"], tmp_path, *options)
        assert status == 1 and "WRONG" in out, (status, out, err)
        assert err == "", err
