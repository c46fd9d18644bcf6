"""Hostile inputs through the command lines, run as a user runs them (a subprocess each).

Every input in a table must be refused with exit status 2, exactly one line on stderr, nothing on
stdout, no traceback, and no file created, changed or deleted anywhere in the workspace (which holds
a finished run whose files must stay as they are). run_cli() and snapshot() serve every product's
table: MNIST_CASES is the one for `python -m mnist_trainer`; another product adds its own table and
workspace fixture and reuses check_refused().
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_mnist_data import idx_bytes, write_mnist

REPO = Path(__file__).resolve().parent.parent


def run_cli(argv: list[str], cwd: Path) -> tuple[int, str, str]:
    """`python -m <argv>` in cwd, as a user would run it: (exit status, stdout, stderr)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [sys.executable, "-m", *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    return done.returncode, done.stdout, done.stderr


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def snapshot(folder: Path) -> dict[str, tuple[int, int, str]]:
    """Every file and folder under `folder`: relative path -> (size, mtime in ns, sha256 of the bytes)."""
    state = {}
    for path in sorted(folder.rglob("*")):
        stat = path.lstat()
        if path.is_file():
            state[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns, sha256(path.read_bytes()))
        else:
            state[str(path.relative_to(folder))] = (0, stat.st_mtime_ns, "folder")
    return state


def check_refused(argv: list[str], workspace: Path, expected: str) -> None:
    """Run argv in workspace; assert a clean refusal that names the problem and changes no file."""
    before = snapshot(workspace)
    try:
        status, out, err = run_cli(argv, workspace)
        lines = err.splitlines()
        assert status == 2, f"exit status {status}\nstdout: {out}\nstderr: {err}"
        assert len(lines) == 1, err
        assert "Traceback" not in err and out == ""
        assert expected in lines[0], lines[0]
        assert snapshot(workspace) == before, "files were created, changed or deleted"
    finally:  # a case that wrongly created files must not make the next cases fail too
        for created in sorted(set(snapshot(workspace)) - set(before), reverse=True):
            path = workspace / created
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()


# --- python -m mnist_trainer ----------------------------------------------------------------------

N_TRAIN, N_TEST = 64, 32


def _variant(workspace: Path, name: str, file: str, raw: bytes) -> None:
    """A copy of the good data folder with one file replaced by `raw` (uncompressed)."""
    shutil.copytree(workspace / "data", workspace / name)
    (workspace / name / f"{file}.gz").unlink()
    (workspace / name / file).write_bytes(raw)


@pytest.fixture(scope="module")
def mnist_workspace(tmp_path_factory) -> Path:
    """Good data, damaged copies of it, a finished run, a damaged run, and a plain file."""
    import torch

    from mnist_trainer import cli

    workspace = tmp_path_factory.mktemp("hostile-mnist")
    arrays = write_mnist(workspace / "data", n_train=N_TRAIN, n_test=N_TEST)
    labels = arrays["t10k-labels-idx1-ubyte"]
    images = arrays["train-images-idx3-ubyte"]
    _variant(workspace, "other-data", "t10k-labels-idx1-ubyte", idx_bytes((labels + 1) % 10))
    good_images = idx_bytes(images)
    _variant(workspace, "bad-magic", "train-images-idx3-ubyte", struct.pack(">I", 0x0801) + good_images[4:])
    _variant(workspace, "truncated", "train-images-idx3-ubyte", good_images[:-300])
    _variant(workspace, "too-long", "train-images-idx3-ubyte", good_images + b"\0" * 784)
    _variant(workspace, "32x32", "train-images-idx3-ubyte", idx_bytes(np.zeros((N_TRAIN, 32, 32))))
    _variant(workspace, "count-mismatch", "t10k-labels-idx1-ubyte", idx_bytes(labels[:-1]))
    _variant(workspace, "label-12", "t10k-labels-idx1-ubyte", idx_bytes(np.full(N_TEST, 12)))
    shutil.copytree(workspace / "data", workspace / "bad-gzip")
    gz = workspace / "bad-gzip" / "t10k-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:100])
    (workspace / "empty-data").mkdir()
    (workspace / "a-file").write_text("not a folder\n")

    argv = ["--data-dir", str(workspace / "data"), "--model", "tiny", "--epochs", "1", "--batch-size", "32"]
    assert cli.main(argv + ["--out", str(workspace / "run")]) == 0
    shutil.copytree(workspace / "run", workspace / "corrupt-run")
    (workspace / "corrupt-run" / "checkpoint.pt").write_bytes(b"garbage, not a checkpoint")
    shutil.copytree(workspace / "run", workspace / "truncated-run")
    checkpoint = workspace / "truncated-run" / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:5000])
    (workspace / "no-checkpoint-run").mkdir()
    shutil.copytree(workspace / "run", workspace / "wrong-types-run")
    checkpoint = workspace / "wrong-types-run" / "checkpoint.pt"
    state = torch.load(checkpoint, weights_only=True)
    torch.save({**state, "epoch": "1", "data": ["not", "a", "dict"]}, checkpoint)
    return workspace


# a new run on good data; each case below changes one thing (argparse: the last of a repeated flag wins)
NEW = ["mnist_trainer", "--data-dir", "data", "--model", "tiny", "--epochs", "1", "--out", "new-run"]
RESUME = ["mnist_trainer", "--resume", "run", "--data-dir", "data"]

MNIST_CASES = [
    # numbers, refused while parsing
    (NEW + ["--lr", "nan"], "argument --lr: expected a finite number > 0, got 'nan'"),
    (NEW + ["--lr", "inf"], "argument --lr: expected a finite number > 0, got 'inf'"),
    (NEW + ["--lr", "1e999"], "argument --lr: expected a finite number > 0"),
    (NEW + ["--lr=-0.1"], "argument --lr: expected a finite number > 0, got '-0.1'"),
    (NEW + ["--lr", "fast"], "argument --lr: expected a finite number > 0, got 'fast'"),
    (NEW + ["--weight-decay", "nan"], "argument --weight-decay: expected a finite number >= 0"),
    (NEW + ["--weight-decay=-1e-4"], "argument --weight-decay: expected a finite number >= 0"),
    (NEW + ["--epochs", "0"], "argument --epochs: expected a whole number from 1 to"),
    (NEW + ["--epochs=-3"], "argument --epochs: expected a whole number from 1 to"),
    (NEW + ["--epochs", "2.5"], "argument --epochs: expected a whole number from 1 to"),
    (NEW + ["--batch-size", "1e3"], "argument --batch-size: expected a whole number from 1 to"),
    (NEW + ["--batch-size", "9" * 30], "argument --batch-size: expected a whole number from 1 to 2147483647"),
    (NEW + ["--seed", "9" * 23], "argument --seed: expected a seed from 0 to 18446744073709551615"),
    (NEW + ["--seed=-1"], "argument --seed: expected a seed from 0 to 18446744073709551615"),
    (NEW + ["--seed", "9" * 5000], "argument --seed: expected a seed from 0 to"),  # beyond int()'s digits
    # other flags
    (NEW + ["--model", "huge"], "argument --model: invalid choice: 'huge'"),
    (NEW + ["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
    (NEW + ["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (NEW + ["--epochs"], "argument --epochs: expected one argument"),
    # data
    (NEW + ["--data-dir", "missing"], "no MNIST files in 'missing'"),
    (NEW + ["--data-dir", "empty-data"], "no MNIST files in 'empty-data'"),
    (NEW + ["--data-dir", "a-file"], "no MNIST files in 'a-file'"),
    (NEW + ["--data-dir", "new\nline"], "no MNIST files in 'new\\nline'"),  # a newline cannot split the line
    (NEW + ["--data-dir", "bad-magic"], "is not an IDX images file: magic number 0x00000801"),
    (NEW + ["--data-dir", "truncated"], "is truncated: its header announces 64 images"),
    (NEW + ["--data-dir", "too-long"], "is longer than its header says"),
    (NEW + ["--data-dir", "32x32"], "holds 32x32 images; MNIST images are 28x28"),
    (NEW + ["--data-dir", "count-mismatch"], "'t10k' files disagree: 32 images but 31 labels"),
    (NEW + ["--data-dir", "label-12"], "labels contain 12; MNIST labels are 0-9"),
    (NEW + ["--data-dir", "bad-gzip"], "(the file is corrupt or truncated; replace it, or use --download)"),
    # output folder
    (NEW + ["--out", "run"], "--out 'run' already holds a run; continue it with --resume run"),
    (NEW + ["--out", "a-file"], "--out 'a-file' exists and is not a directory"),
    (NEW + ["--out", "a-file/run"], "cannot create output directory 'a-file/run': "),
    (NEW + ["--out", ""], "--out is empty; give it a folder"),
    (NEW + ["--data-dir", " "], "--data-dir is empty; give it a folder"),
    # resume
    (["mnist_trainer", "--resume", "missing-run"], "cannot resume: 'missing-run' is not a directory"),
    (["mnist_trainer", "--resume", "no-checkpoint-run"], "'no-checkpoint-run' has no checkpoint.pt"),
    (RESUME[:2] + ["", "--data-dir", "data"], "--resume is empty; give it a folder"),  # not a new run
    (RESUME[:2] + ["wrong-types-run", "--data-dir", "data"], "is damaged (its fields have the wrong types)"),
    (RESUME[:2] + ["corrupt-run", "--data-dir", "data"], "is corrupt or not a checkpoint (truncated, or not"),
    (
        RESUME[:2] + ["truncated-run", "--data-dir", "data"],
        "is corrupt or not a checkpoint (truncated, or not",
    ),
    (RESUME[:3] + ["--data-dir", "other-data"], "holds other data than the run in 'run'"),
    (RESUME + ["--epochs", "5"], "cannot resume with --epochs 5: the run in 'run' uses 1"),
    (RESUME + ["--model", "base"], "cannot resume with --model base: the run in 'run' uses tiny"),
    (RESUME + ["--seed", "4"], "cannot resume with --seed 4: the run in 'run' uses 0"),
    (RESUME + ["--lr", "nan"], "argument --lr: expected a finite number > 0"),
]
if sys.platform != "darwin":  # Apple's MPS exists only on macOS
    MNIST_CASES.append((NEW + ["--device", "mps"], "--device mps: Apple MPS is not available here"))


@pytest.mark.parametrize(
    "argv,expected", MNIST_CASES, ids=[" ".join(argv[1:])[-60:] for argv, _ in MNIST_CASES]
)
def test_mnist_trainer_refuses(mnist_workspace, argv, expected):
    check_refused(argv, mnist_workspace, expected)


# --- python -m sheetgen ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sheetgen_workspace(tmp_path_factory) -> Path:
    """A good book, read-only files, symlinks that loop or dangle, and files that only pretend to be .xlsx."""
    import zipfile

    from xlsx_bombs import write_bomb

    space = tmp_path_factory.mktemp("hostile-sheetgen")
    assert run_cli(["sheetgen", "build", "--iterations", "5", "-o", "good.xlsx"], space)[0] == 0
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
    # a class whose subfolder holds another student's book of the same name (issue 22, item 1)
    (space / "class" / "sub").mkdir(parents=True)
    (space / "class" / "x.xlsx").write_bytes(good)
    (space / "class" / "sub" / "x.xlsx").write_bytes(good)
    (space / "report-link.csv").symlink_to(space / "good.xlsx")  # a report that is a workbook given
    (space / "copies").mkdir()
    (space / "copies" / "good.xlsx").symlink_to(space / "good.xlsx")  # a copy's place that is one
    return space


BUILD = ["sheetgen", "build", "--iterations", "5", "-o", "new.xlsx"]
VERIFY = ["sheetgen", "verify", "--engine", "cached"]

SHEETGEN_CASES = [
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
    # outputs of verify: never over a workbook given, and the message names the flag to change
    (VERIFY + ["class", "--recursive", "--annotate", "class/sub"], "over the workbook 'class/sub/x.xlsx'"),
    (VERIFY + ["good.xlsx", "--annotate", "."], "over the workbook 'good.xlsx' given to check"),
    (VERIFY + ["good.xlsx", "--annotate", "copies"], "over the workbook 'good.xlsx' given to check"),
    (VERIFY + ["good.xlsx", "--report", "report-link.csv"], "the report would be written over the workbook"),
    (VERIFY + ["good.xlsx", "--report", "good.xlsx/r.csv"], "not a directory: choose another --report path"),
    (VERIFY + ["good.xlsx", "--html", "good.xlsx/r.html"], "not a directory: choose another --html path"),
    (VERIFY + ["good.xlsx", "--report", "readonly.csv"], "or choose another --report path"),
    (VERIFY + ["good.xlsx", "--report", "a-folder.xlsx"], "is a directory: give a file name, e.g. --report"),
    (VERIFY + ["good.xlsx", "--report", "r" * 300 + ".csv"], "File name too long: choose another --report"),
    (VERIFY + ["good.xlsx", "--annotate", "r" * 300], "File name too long): choose another folder"),
]


@pytest.mark.parametrize(
    "argv,expected", SHEETGEN_CASES, ids=[" ".join(argv[1:])[-70:] for argv, _ in SHEETGEN_CASES]
)
def test_sheetgen_refuses(sheetgen_workspace, argv, expected):
    check_refused(argv, sheetgen_workspace, expected)


def test_sheetgen_verify_gives_cached_infinities_a_verdict_without_warnings(tmp_path):
    """Issue 14 item 10: numpy's RuntimeWarnings on inf - inf broke the one-line promise."""
    import re
    import zipfile

    build = ["sheetgen", "build", "--iterations", "30", "--lr-list", "0.5", "-o", "b.xlsx"]
    assert run_cli(build, tmp_path)[0] == 0
    with zipfile.ZipFile(tmp_path / "b.xlsx") as source, zipfile.ZipFile(tmp_path / "inf.xlsx", "w") as book:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.startswith("xl/worksheets/") and b"<f>" in data:
                # Rows 20-29 diverged: every saved value there is 1E+309, i.e. inf.
                data = re.sub(
                    rb'(<c r="[A-Z]+2\d"[^>]*>(?:<f>[^<]*</f>)?)<v>[^<]*</v>', rb"\1<v>1e999</v>", data
                )
            book.writestr(item, data)
    status, out, err = run_cli(["sheetgen", "verify", "--engine", "cached", "inf.xlsx"], tmp_path)
    assert status == 1 and "WRONG" in out, (status, out, err)
    assert err == "", err


# --- verify's outputs and names (issue 22) -----------------------------------------------------------


def _class_of_built_books(folder: Path, names: dict[str, bool]) -> None:
    """Built books (6 × 6) under `folder`: name -> wrong? A wrong one has one saved value changed
    (the cached engine then finds it), so no LibreOffice is needed."""
    import re
    import zipfile

    good = folder.parent / "good-source.xlsx"  # beside the class, not in it
    if not good.exists():
        assert run_cli(["sheetgen", "build", "--iterations", "5", "-o", good.name], folder.parent)[0] == 0
    for name, wrong in names.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not wrong:
            shutil.copyfile(good, target)
            continue
        with zipfile.ZipFile(good) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as book:
            for item in source.infolist():
                data = source.read(item)
                if item.filename == "xl/worksheets/sheet3.xml":
                    data = re.sub(rb'(<c r="H7"[^>]*><f>[^<]*</f>)<v>[^<]*</v>', rb"\1<v>0.125</v>", data)
                book.writestr(item, data)


def test_two_books_of_one_name_get_their_own_names_and_copies_and_no_input_is_written(tmp_path):
    """Issue 22, items 2 and 14: a/x.xlsx (wrong) and b/x.xlsx (right), copies into b."""
    _class_of_built_books(tmp_path / "w", {"a/x.xlsx": True, "b/x.xlsx": False})
    tmp_path = tmp_path / "w"
    before = snapshot(tmp_path)
    status, out, err = run_cli(VERIFY + ["a/x.xlsx", "b/x.xlsx", "--annotate", "b"], tmp_path)
    assert status == 1 and err == "", err
    assert out.splitlines()[0].startswith("a/x.xlsx: WRONG: first wrong cell 'LR 0.1'!H7")
    assert out.splitlines()[1].startswith("b/x.xlsx: VERIFIED")
    after = snapshot(tmp_path)
    files = {k: v for k, v in before.items() if v[2] != "folder"}
    assert {k: after[k] for k in files} == files  # no file given was written
    assert set(after) - set(before) == {"b/a", "b/a/x.xlsx"}  # the wrong book's copy, by its name
    # Two folders, --recursive: both books named apart, in the text, the CSV and the page
    status, out, err = run_cli(
        VERIFY + ["a", "b", "--recursive", "--report", "r.csv", "--html", "r.html"], tmp_path
    )
    names = [line.split(": ")[0] for line in out.splitlines()[:-1]]
    assert names == ["w/a/x.xlsx", "b/a/x.xlsx", "b/x.xlsx"], out  # a/x.xlsx twice: each with its folder
    rows = (tmp_path / "r.csv").read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == names
    page = (tmp_path / "r.html").read_text()
    assert all(f"<code>{name.replace('/', '/<wbr>')}</code>" in page for name in names)


def test_the_csv_report_never_makes_a_spreadsheet_evaluate_a_formula(tmp_path, soffice):
    """Issue 22, item 3: file names, formulas, texts that start like a formula are made inert."""
    import csv

    from sheetgen.verify.report import verdicts as report

    hostile = ["=1+2.xlsx", "@SUM(1,2).xlsx", "+3.xlsx", "-4+1.xlsx"]
    _class_of_built_books(tmp_path / "c", {name: True for name in hostile})
    status, out, _ = run_cli(VERIFY + ["c", "--report", "r.csv", "--json"], tmp_path)
    assert status == 1
    import json

    saved = {b["file"]: b for b in json.loads(out)["workbooks"]}
    with open(tmp_path / "r.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["file"] for row in rows) == sorted("'" + name for name in hostile)
    for row in rows:
        book = saved[row["file"][1:]]
        assert row["formula"] == "'=" + book["first_wrong"]["formula"]  # still readable as the formula
        assert float(row["expected"]) == book["first_wrong"]["expected"]  # numbers stay numbers
        for field in row.values():
            assert not field.lstrip(" ").startswith(("=", "+", "@", "\t", "\r")), field
            assert not field.startswith("-") or float(field) < 0, field
    # LibreOffice, told to evaluate formulas in the CSV, finds none in it; in the raw text it would.
    raw = tmp_path / "raw.csv"
    raw.write_text("file\n" + "\n".join(hostile) + "\n")
    assert report.inert("=1+2.xlsx") == "'=1+2.xlsx" and report.inert("-0.25") == "-0.25"
    from sheetgen.core import xlsx
    from sheetgen.office import recalc

    for name, formulas in (("r.csv", 0), ("raw.csv", 1)):
        done = subprocess.run(
            [soffice, "--headless", "--convert-to", "xlsx", "--outdir", str(tmp_path / "lo")]
            + ["--infilter=CSV:44,34,76,1,,0,false,true,false,false,false,-1,true", str(tmp_path / name)]
            + [f"-env:UserInstallation=file://{tmp_path / 'profile'}"],
            capture_output=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        sheet = xlsx.read_book(tmp_path / "lo" / Path(name).with_suffix(".xlsx")).sheets[0]
        assert (len(sheet.formulas) > 0) == bool(formulas), (name, dict(sheet.formulas.items()))
    del recalc


def test_control_characters_in_names_are_printed_escaped(tmp_path):
    """Issue 22, item 4: ESC, BEL, a newline in a file name never reach the terminal raw."""
    import json

    escape = "a\x1b[8mb\x07\nc.xlsx"
    _class_of_built_books(tmp_path / "c", {escape: True, "ok.xlsx": False})
    (tmp_path / "c" / "e\x1b]0;x\x07.xlsx").write_bytes(b"not a zip")
    raw = [chr(c) for c in range(32) if chr(c) != "\n"] + ["\x7f", "\x9b"]
    for argv in (
        VERIFY + ["c", "--annotate", "out"],
        VERIFY + ["c", "--json"],
        VERIFY + ["c/e\x1b]0;x\x07.xlsx"],
        VERIFY + ["c/missing\x1b[2J.xlsx"],
        VERIFY + ["c/" + escape],
    ):
        status, out, err = run_cli(argv, tmp_path)
        assert not [c for c in raw if c in out or c in err], (argv, out, err)
        if "--json" in argv:
            assert escape in {b["file"] for b in json.loads(out)["workbooks"]}
        elif len(argv) == len(VERIFY) + 3:  # the folder: one line per book and the count
            assert len(out.splitlines()) == 4 and "a\\x1b[8mb\\x07\\nc.xlsx: WRONG" in out, out
        else:  # one book: its lines, or one line on stderr
            assert status in (1, 2) and ("\\x1b" in out + err)
            assert status == 1 or len(err.splitlines()) == 1, err


# --- issue 22: full disks, huge numbers, interrupts, hangs, memory -------------------------------


def _fill_limit(limit: int):
    """A preexec_fn giving the child a file-size limit of `limit` bytes: a write past it fails with
    EFBIG, as one on a full disk fails with ENOSPC (the same OSError path; no root needed)."""
    import resource
    import signal

    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the error, not the signal that kills
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def run_limited(argv: list[str], cwd: Path, limit: int) -> tuple[int, str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [sys.executable, "-m", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_fill_limit(limit),
    )
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def full_disk(tmp_path):
    """A folder on a 64 KiB tmpfs when this runs as root (a real ENOSPC), else None (use run_limited)."""
    folder = tmp_path / "full"
    folder.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        yield None
        return
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        yield None
        return
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)


def _one_clean_line(status: int, out: str, err: str, expected: str) -> None:
    assert status == 2, (status, out, err)
    assert len(err.splitlines()) == 1 and "Traceback" not in err and "Exception ignored" not in err, err
    assert expected in err, err


class TestFullDisk:
    """Issue 22 item 10: a full disk is one line, exit 2, no traceback (not even an ignored one)."""

    def test_sheetgen_build_on_a_full_disk(self, tmp_path, full_disk):
        if full_disk is not None:
            status, out, err = run_cli(["sheetgen", "build", "-o", str(full_disk / "b.xlsx")], tmp_path)
            _one_clean_line(status, out, err, "No space left on device")
            assert list(full_disk.iterdir()) == []  # no temporary file left on the full disk
        status, out, err = run_limited(["sheetgen", "build", "-o", "b.xlsx"], tmp_path, 64 << 10)
        _one_clean_line(status, out, err, "cannot write 'b.xlsx': File too large")
        assert not any(tmp_path.glob("*b.xlsx*"))


class TestHugeTemplateNumbers:
    """Issue 22 item 11: an integer no float can hold is refused like an infinity."""

    @pytest.mark.parametrize(
        "digits,expected",
        [
            (309, "w1 = 999999999999999999999999999999… (309 characters) is not a finite number"),
            (400, "w1 = 999999999999999999999999999999… (400 characters) is not a finite number"),
            (5000, "holds a number no float can hold (Exceeds the limit (4300 digits)"),
        ],
    )
    def test_a_weight_of_hundreds_of_digits(self, tmp_path, digits, expected):
        lines = [f"{k} = 0.1" for k in ("i1", "i2", "t1", "t2", "w2", "w3", "w4", "w5", "w6", "w7", "w8")]
        (tmp_path / "huge.toml").write_text("\n".join(lines + ["w1 = " + "9" * digits]) + "\n")
        check_refused(["sheetgen", "build", "--template", "huge.toml", "-o", "new.xlsx"], tmp_path, expected)


def _gzip_bomb(path: Path, header: bytes, inflated: int) -> None:
    """A .gz file holding `header` and then `inflated` zero bytes, written in chunks (a few hundred KiB)."""
    import gzip

    chunk = bytes(1 << 20)
    with gzip.open(path, "wb", compresslevel=9) as handle:
        handle.write(header)
        for _ in range(inflated >> 20):
            handle.write(chunk)


class TestMnistIssue22:
    """Issue 22 items 8, 10, 17, 19, 20 and --resume without --data-dir."""

    @pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="peak memory read from /proc")
    def test_a_gzip_that_inflates_far_past_its_header_is_refused_without_inflating_it(self, tmp_path):
        write_mnist(tmp_path / "data", n_train=N_TRAIN, n_test=N_TEST)
        (tmp_path / "data" / "train-images-idx3-ubyte.gz").unlink()
        header = struct.pack(">IIII", 0x803, N_TRAIN, 28, 28)
        _gzip_bomb(tmp_path / "data" / "train-images-idx3-ubyte.gz", header, 600 << 20)
        probe = (
            "import sys\n"
            "from mnist_trainer.data import read_mnist\n"
            "from mnist_trainer.errors import UserError\n"
            "try:\n    read_mnist(sys.argv[1])\nexcept UserError as error:\n    print(error)\n"
            # VmHWM, not ru_maxrss: the latter keeps the high-water mark of the forked pytest before exec
            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))\n"
        )
        env = dict(os.environ, PYTHONPATH=str(REPO))
        done = subprocess.run(
            [sys.executable, "-c", probe, str(tmp_path / "data")], env=env, capture_output=True, text=True
        )
        message, peak_kib = done.stdout.splitlines()
        assert f"is longer than its header says: its header announces {N_TRAIN} images" in message
        assert int(peak_kib) < 200 << 10, f"peak RSS {int(peak_kib) >> 10} MiB for a 600 MiB inflation"

    def test_a_header_announcing_millions_of_images_is_refused_before_reading(self, tmp_path):
        write_mnist(tmp_path / "data", n_train=N_TRAIN, n_test=N_TEST)
        (tmp_path / "data" / "train-labels-idx1-ubyte.gz").unlink()
        (tmp_path / "data" / "train-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, 4_000_000_000))
        check_refused(
            ["mnist_trainer", "--data-dir", "data", "--out", "run"],
            tmp_path,
            "its header announces 4,000,000,000 labels, more than the 1,000,000 this reads",
        )

    def test_a_raw_pickle_checkpoint_is_one_line_without_torch_warnings(self, mnist_workspace, tmp_path):
        import pickle

        run = tmp_path / "pickled-run"
        run.mkdir()
        (run / "checkpoint.pt").write_bytes(pickle.dumps({"format": "x", "epoch": 1}))
        marker = tmp_path / "executed"
        # and a pickle that would run code: refused, never executed
        evil = f"cos\nsystem\n(S'touch {marker}'\ntR."
        (tmp_path / "evil-run").mkdir()
        (tmp_path / "evil-run" / "checkpoint.pt").write_bytes(evil.encode())
        for folder in (run, tmp_path / "evil-run"):
            argv = ["mnist_trainer", "--resume", str(folder), "--data-dir", str(mnist_workspace / "data")]
            status, out, err = run_cli(argv, tmp_path)
            assert status == 2 and len(err.splitlines()) == 1, err
            assert "Warning" not in err and "is corrupt or not a checkpoint" in err, err
        assert not marker.exists()

    def test_sigterm_while_loading_prints_one_line_and_exits_143(self, mnist_workspace, tmp_path):
        import signal
        import time

        env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
        argv = ["-m", "mnist_trainer", "--data-dir", str(mnist_workspace / "data"), "--model", "tiny"]
        process = subprocess.Popen(
            [sys.executable, *argv, "--out", str(tmp_path / "run")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)  # the data is read; torch is loading (seconds)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
        assert process.returncode == 143, (process.returncode, out, err)
        assert err.splitlines() == [
            "python -m mnist_trainer: terminated (SIGTERM); a run that finished an epoch can continue with "
            "--resume RUN_DIR"
        ]
        assert not (tmp_path / "run").exists()

    def test_the_batchnorm_line_names_the_images_really_used(self, mnist_workspace, tmp_path):
        argv = ["mnist_trainer", "--data-dir", str(mnist_workspace / "data"), "--model", "tiny"]
        status, out, err = run_cli(argv + ["--epochs", "1", "--out", str(tmp_path / "run")], tmp_path)
        assert status == 0, err
        assert f"BatchNorm statistics are recomputed on {N_TRAIN} clean training images" in out
        assert "10,000" not in out

    def test_a_full_disk_is_one_line_exit_2(self, mnist_workspace, tmp_path, full_disk):
        argv = [
            "mnist_trainer",
            "--data-dir",
            str(mnist_workspace / "data"),
            "--model",
            "tiny",
            "--epochs",
            "1",
        ]

        def check(status, err, expected):  # the notes and the progress bar come first, then one line
            assert status == 2 and "Traceback" not in err and "Exception ignored" not in err, err
            assert expected in err.splitlines()[-1], err

        if full_disk is not None:
            status, out, err = run_cli(argv + ["--out", str(full_disk / "run")], tmp_path)
            check(status, err, "No space left on device; free some space or choose another --out")
            assert not [p for p in (full_disk / "run").iterdir() if p.name.endswith(".tmp")]
        status, out, err = run_limited(argv + ["--out", "run"], tmp_path, 4 << 10)
        check(status, err, "File too large; free some space or choose another --out")
        assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]

    def test_resume_without_data_dir_uses_the_runs_own_data(self, tmp_path):
        import torch

        from mnist_trainer import cli

        write_mnist(tmp_path / "mydata", n_train=N_TRAIN, n_test=N_TEST)
        argv = ["--data-dir", str(tmp_path / "mydata"), "--model", "tiny", "--epochs", "1"]
        assert cli.main(argv + ["--out", str(tmp_path / "run")]) == 0
        state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
        assert state["data_dir"] == str((tmp_path / "mydata").resolve())
        elsewhere = tmp_path / "elsewhere"  # a working folder without data/
        elsewhere.mkdir()
        status, out, err = run_cli(["mnist_trainer", "--resume", str(tmp_path / "run")], elsewhere)
        assert status == 0 and "already finished all 1 epochs" in out, err
        # the same folder with other contents: refused, one line
        labels = tmp_path / "mydata" / "t10k-labels-idx1-ubyte.gz"
        labels.unlink()
        (tmp_path / "mydata" / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(N_TEST)))
        before = snapshot(tmp_path / "run")
        status, out, err = run_cli(["mnist_trainer", "--resume", str(tmp_path / "run")], elsewhere)
        assert status == 2 and len(err.splitlines()) == 1, err
        assert "holds other data than the run" in err and "t10k-labels-idx1-ubyte" in err
        assert snapshot(tmp_path / "run") == before


def _rewrite_zip(source: Path, target: Path, change) -> None:
    """Copy a zip, each part through change(name, data) -> data, or None to leave it out."""
    import zipfile

    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = change(info.filename, old.read(info))
            if data is not None:
                new.writestr(info.filename, data)


def _wrong_formulas(name: str, data: bytes) -> bytes:
    """h1 = w1·i1 + w2·i1 (i1 for i2) in every row: a WRONG book (its saved values left as they were)."""
    import re

    if name.startswith("xl/worksheets/sheet"):
        data = re.sub(rb"<f>F(\d+)\*D\1\+G\1\*E\1</f>", rb"<f>F\1*D\1+G\1*D\1</f>", data)
    return data


@pytest.fixture(scope="module")
def wrong_book(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("wrong-book")
    assert (
        run_cli(["sheetgen", "build", "--iterations", "5", "--lr-list", "0.5", "-o", "b.xlsx"], folder)[0]
        == 0
    )
    _rewrite_zip(folder / "b.xlsx", folder / "wrong.xlsx", _wrong_formulas)
    return folder / "wrong.xlsx"


def _annotate(book: Path, cwd: Path, out: str = "out") -> tuple[int, str, str]:
    return run_cli(["sheetgen", "verify", "--engine", "cached", "--annotate", out, str(book)], cwd)


class TestAnnotateHostileParts:
    """Issue 22 items 5, 7, 16, 21: the annotated copy of a hostile zip costs linear time and bounded
    memory, leaks no warnings, and is a valid workbook."""

    def test_an_unreadable_book_is_never_annotated(self, tmp_path, wrong_book):
        import time

        # 30,000 unclosed <sheetView: the reader refuses it; the old annotate spent minutes on its regex
        def broken(name, data):
            if name == "xl/worksheets/sheet1.xml":
                return data.replace(b"<sheetViews>", b"<sheetViews>" + b"<sheetView " * 30_000, 1)
            return data

        _rewrite_zip(wrong_book, tmp_path / "views.xlsx", broken)
        started = time.monotonic()
        status, out, err = _annotate(tmp_path / "views.xlsx", tmp_path)
        assert status == 2 and "corrupt .xlsx" in err and "Traceback" not in err, (out, err)
        assert time.monotonic() - started < 30
        assert not any((tmp_path / "out").iterdir())  # no copy of an unreadable book

    @pytest.mark.parametrize("part", ["xl/styles.xml", "xl/worksheets/sheet3.xml"])
    def test_malformed_xml_in_a_part_to_edit_is_refused_in_linear_time(self, tmp_path, wrong_book, part):
        """The reader may accept a book whose parts annotate edits differently (it does not parse every
        part); annotate itself checks each part's XML before any pattern runs over it."""
        import time

        from sheetgen.verify.report import workbook_edit
        from sheetgen.verify.report.workbook_edit import CellMark, EditError, NewSheet

        def broken(name, data):
            if name == part:  # unclosed start tags of the very elements annotate's patterns look for
                tail = b"<sheetView <fills <xf <row <c <sheetData <comment <author " * 6_000
                return data.replace(b"</", tail + b"</", 1)
            return data

        _rewrite_zip(wrong_book, tmp_path / "bad.xlsx", broken)
        started = time.monotonic()
        with pytest.raises(EditError, match="not well-formed XML"):
            workbook_edit.annotate(
                tmp_path / "bad.xlsx",
                tmp_path / "copy.xlsx",
                [CellMark("LR 0.5", 7, 10, "FFFF7C80", "wrong")],
                NewSheet("Feedback", [["x"]]),
            )
        assert time.monotonic() - started < 10
        assert not (tmp_path / "copy.xlsx").exists()

    def test_a_vml_drawing_of_unclosed_tags_costs_linear_time(self, tmp_path, wrong_book):
        """VML is not strict XML (Excel writes <br> unclosed), so it is not parsed: its patterns must be
        linear on their own."""
        import time
        import zipfile

        from sheetgen.verify.report import workbook_edit
        from sheetgen.verify.report.workbook_edit import CellMark, NewSheet

        with zipfile.ZipFile(wrong_book) as source, zipfile.ZipFile(tmp_path / "vml.xlsx", "w") as book:
            for info in source.infolist():
                book.writestr(info, source.read(info))
            book.writestr("xl/drawings/vmlDrawing9.vml", b"<xml>" + b'<o:idmap data="1' * 200_000)
        started = time.monotonic()
        workbook_edit.annotate(
            tmp_path / "vml.xlsx",
            tmp_path / "copy.xlsx",
            [CellMark("LR 0.5", 7, 10, "FFFF7C80", "wrong")],
            NewSheet("Feedback", [["x"]]),
        )
        assert time.monotonic() - started < 10
        with zipfile.ZipFile(tmp_path / "copy.xlsx") as copy:
            assert copy.read("xl/drawings/vmlDrawing9.vml").startswith(b"<xml>")  # kept as it was

    def test_a_part_inflating_past_the_limit_is_refused_in_bounded_memory(self, tmp_path, wrong_book):
        """_rels/.rels of 40 MiB (valid XML): refused, read no further than the limit, never parsed whole."""
        import zipfile

        rel = b'<Relationship Id="rIdX" Type="http://x/y" Target="docProps/app.xml"/>'
        with (
            zipfile.ZipFile(wrong_book) as source,
            zipfile.ZipFile(tmp_path / "rels.xlsx", "w", zipfile.ZIP_DEFLATED) as book,
        ):
            for info in source.infolist():
                data = source.read(info)
                if info.filename == "_rels/.rels":
                    # varied (random targets), so it compresses like real XML, not like a zip bomb
                    noise = np.random.default_rng(0).integers(0, 1 << 62, 40 * 1024 * 1024 // len(rel))
                    many = b"".join(rel.replace(b"rIdX", b"rId%x" % n) for n in noise)
                    data = data.replace(b"</Relationships>", many + b"</Relationships>")
                book.writestr(info.filename, data)
        probe = (
            "import sys\nfrom pathlib import Path\n"
            "from sheetgen.verify.report import workbook_edit as w\n"
            "try:\n"
            "    mark = w.CellMark('LR 0.5', 7, 10, 'FFFF7C80')\n"
            "    w.annotate(Path(sys.argv[1]), Path(sys.argv[2]), [mark], None)\n"
            "except w.EditError as error:\n    print(error)\n"
            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))\n"
        )
        env = dict(os.environ, PYTHONPATH=str(REPO))
        done = subprocess.run(
            [sys.executable, "-c", probe, str(tmp_path / "rels.xlsx"), str(tmp_path / "copy.xlsx")],
            env=env,
            capture_output=True,
            text=True,
        )
        message, peak_kib = done.stdout.splitlines() or (done.stderr, 0)
        assert "part _rels/.rels inflates to 48 MiB, more than annotate edits" in message, done.stderr
        assert int(peak_kib) < 120 << 10, f"peak {int(peak_kib) >> 10} MiB"
        assert not (tmp_path / "copy.xlsx").exists()

    def test_a_zip_with_two_parts_of_one_name_is_one_line_without_warnings(self, tmp_path, wrong_book):
        import warnings
        import zipfile

        with zipfile.ZipFile(wrong_book) as source, zipfile.ZipFile(tmp_path / "dup.xlsx", "w") as book:
            for info in source.infolist():
                book.writestr(info, source.read(info))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # zipfile's own "Duplicate name" warning, here in the test
                book.writestr("docProps/app.xml", source.read("docProps/app.xml"))
        status, out, err = _annotate(tmp_path / "dup.xlsx", tmp_path)
        assert "Warning" not in err and "Duplicate name" not in err and "Traceback" not in err, err
        assert err.splitlines() == [
            "sheetgen verify: warning: dup.xlsx: no annotated copy (the zip holds two parts "
            "named 'docProps/app.xml' (which one counts is anybody's guess): save the workbook again)"
        ]
        assert not any((tmp_path / "out").iterdir())

    def test_a_missing_styles_part_still_referenced_gets_one_valid_relationship(self, tmp_path, wrong_book):
        import re
        import zipfile

        import openpyxl

        from sheetgen.verify.report.annotate import WRONG_FILL

        _rewrite_zip(wrong_book, tmp_path / "nostyles.xlsx", lambda n, d: None if n == "xl/styles.xml" else d)
        status, out, err = _annotate(tmp_path / "nostyles.xlsx", tmp_path)
        assert status == 1 and "WRONG" in out and err == "", (out, err)
        copy = tmp_path / "out" / "nostyles.xlsx"
        with zipfile.ZipFile(copy) as book:
            rels = book.read("xl/_rels/workbook.xml.rels").decode()
            types = book.read("[Content_Types].xml").decode()
        assert len(re.findall(r'Type="[^"]*/styles"', rels)) == 1
        assert types.lower().count('partname="/xl/styles.xml"') == 1
        workbook = openpyxl.load_workbook(copy)
        assert workbook.sheetnames[0] == "Feedback"
        finding = re.search(r"'(LR 0\.5)'!([A-Z]+\d+)", out)
        assert workbook[finding.group(1)][finding.group(2)].fill.fgColor.rgb == WRONG_FILL
