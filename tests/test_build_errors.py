"""`sheetgen build` on bad input: one line, exit status 2, no traceback, no file left behind."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import openpyxl
import pytest

from sheetgen.build import command as build
from sheetgen.build import params, writer
from sheetgen.cli import main

BAD_INPUTS = {
    "empty lr list": ["--lr-list", ""],
    "empty lr entry": ["--lr-list", "0.1,,0.2"],
    "non-numeric lr": ["--lr-list", "0.1,fast"],
    "zero lr": ["--lr-list", "0"],
    "negative lr": ["--lr-list", "0.5,-0.1"],
    "nan lr": ["--lr-list", "nan"],
    "infinite lr": ["--lr-list", "0.1,inf"],
    "duplicate lr": ["--lr-list", "0.1,0.5,0.10"],
    "lrs that print alike": ["--lr-list", "0.1,0.1000001"],
    "too many lrs": ["--lr-list", ",".join(str(k / 100) for k in range(1, params.MAX_LEARNING_RATES + 2))],
    "zero iterations": ["--iterations", "0"],
    "negative iterations": ["--iterations", "-3"],
    "non-integer iterations": ["--iterations", "ten"],
    "iterations above the ceiling": ["--iterations", str(params.MAX_ITERATIONS + 1)],
    "workbook above the row ceiling": ["--iterations", "50000", "--lr-list", "0.1,0.2,0.5,1,2"],
    "unknown template": ["--template", "era-v2"],
    "malformed --set": ["--set", "w1"],
    "--set without a value": ["--set", "w1="],
    "unknown --set key": ["--set", "w9=0.1"],
    "--set eta": ["--set", "eta=0.5"],
    "non-numeric --set": ["--set", "w1=abc"],
    "nan --set": ["--set", "t1=nan"],
    "sums beyond EXP()": ["--set", "i1=-5000"],
}


WEIGHTS_TOML = "".join(f"w{k} = 0.1\n" for k in range(1, 9))


def _run(argv, capsys):
    status = main(["build", *argv])
    err = capsys.readouterr().err
    return status, err


@pytest.mark.parametrize("argv", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_is_one_line_and_exit_2_and_writes_nothing(argv, tmp_path, capsys):
    out = tmp_path / "BackProp.xlsx"
    try:
        status = main(["build", *argv, "-o", str(out)])
    except SystemExit as exit_:  # argparse's own errors (e.g. --iterations ten) exit from parse_args
        status = exit_.code
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("sheetgen")
    assert os.listdir(tmp_path) == []


def test_unknown_template_lists_the_available_names(tmp_path, capsys):
    status, err = _run(["--template", "nope", "-o", str(tmp_path / "b.xlsx")], capsys)
    assert status == 2 and "era-v1" in err and "eva8" in err


@pytest.mark.parametrize(
    "content, problem",
    [
        ("i1 = 0.05\n", "lacks"),
        ("i1 = [\n", "not valid TOML"),
        ("i1 = 'x'\ni2 = 0.1\nt1 = 0.5\nt2 = 0.5\n" + WEIGHTS_TOML, "not a finite"),
        ("bias = 0.35\ni1 = 0.1\ni2 = 0.1\nt1 = 0.5\nt2 = 0.5\n" + WEIGHTS_TOML, "unknown keys"),
    ],
)
def test_broken_template_file(tmp_path, capsys, content, problem):
    template = tmp_path / "mine.toml"
    template.write_text(content)
    status, err = _run(["--template", str(template), "-o", str(tmp_path / "b.xlsx")], capsys)
    assert status == 2 and problem in err and len(err.strip().splitlines()) == 1
    assert sorted(os.listdir(tmp_path)) == ["mine.toml"]


def test_output_problems(tmp_path, capsys):
    cases = {
        "does not exist": str(tmp_path / "missing" / "b.xlsx"),
        "is a directory": str(tmp_path),
        "must end in .xlsx": str(tmp_path / "b.csv"),
    }
    for problem, path in cases.items():
        status, err = _run(["-o", path], capsys)
        assert status == 2 and problem in err and len(err.strip().splitlines()) == 1, err
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_directory(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    status, err = _run(["-o", str(locked / "b.xlsx")], capsys)
    assert status == 2 and "not writable" in err


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_a_directory_that_refuses_files_is_one_line(capsys):
    status, err = _run(["--iterations", "2", "-o", "/proc/BackProp.xlsx"], capsys)
    assert status == 2 and "cannot write" in err and len(err.strip().splitlines()) == 1, err


def test_default_output_creates_the_output_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["build", "--iterations", "3", "--lr-list", "0.5"]) == 0
    book = openpyxl.load_workbook(tmp_path / "output" / "BackProp.xlsx")
    assert book.sheetnames == ["Summary", "Inputs", "LR 0.5", "Equations"]
    assert "output/BackProp.xlsx" in capsys.readouterr().out


def test_set_overrides_one_input_and_template_by_path(tmp_path, capsys):
    out = tmp_path / "b.xlsx"
    template = params.available_templates()["eva8"]
    assert (
        main(
            [
                "build",
                "--template",
                str(template),
                "--set",
                "w1=-0.3",
                "--set",
                "t2 = 0.7",
                "--iterations",
                "2",
                "--lr-list",
                "1",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    inputs = openpyxl.load_workbook(out)["Inputs"]
    values = {
        row[0].value: row[1].value for row in inputs.iter_rows(max_col=2) if row[0].value in params.PARAM_KEYS
    }
    assert values["w1"] == -0.3 and values["t2"] == 0.7 and values["t1"] == 0.01 and values["w2"] == 0.2


def test_a_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    out = tmp_path / "BackProp.xlsx"
    out.write_bytes(b"the previous workbook")

    def fail(*_args, **_kwargs):
        raise RuntimeError("disk full, say")

    monkeypatch.setattr(writer, "write_equations_sheet", fail)  # fails after the LR sheets are written
    parser = argparse.ArgumentParser()
    build.add_arguments(parser)
    with pytest.raises(RuntimeError):
        build.run(parser.parse_args(["-o", str(out)]))
    assert out.read_bytes() == b"the previous workbook"
    assert os.listdir(tmp_path) == ["BackProp.xlsx"]


def test_the_command_line_end_to_end(tmp_path):
    """The real process: `python -m sheetgen build` succeeds, and a bad rate is one line, exit 2."""
    out = tmp_path / "b.xlsx"
    ok = subprocess.run(
        [sys.executable, "-m", "sheetgen", "build", "--iterations", "5", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert openpyxl.load_workbook(out).sheetnames[2] == "LR 0.1"
    bad = subprocess.run(
        [sys.executable, "-m", "sheetgen", "build", "--lr-list", "0.1,nan", "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr
