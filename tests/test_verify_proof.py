"""`sheetgen verify` proves formulas, not numbers at one point (issue 12), on hand-made probe books.

The probes (tests/probe_books.py) are written by hand, independently of sheetgen; many of their
mistakes are invisible at the sheet's own numbers (t1 = t2 = 0.5, η typed in as the η cell's
value, pasted values), so only a proof of the formulas can tell them from a right sheet. Each is
judged through the command line, as a user runs it: the verdict, the first wrong cell and the key
words of the diagnosis or message, never the exact wording.

All probes go through ONE `sheetgen verify DIR --json` per engine: cached (the values the probe
saved, computed by tests/formula_eval.py) and libreoffice (a real recalculation).
"""

from __future__ import annotations

import csv
import functools
import json
import re
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from backprop_reference import matrix_train
from openpyxl.utils import column_index_from_string
from probe_books import (
    DIFFERENT,
    ERA,
    ETA,
    EVA8,
    INCOMPLETE,
    LIBREOFFICE_ONLY,
    NONSENSE_HEADER,
    PROBES,
    RIGHT_ONLY,
    ROWS,
    VERIFIED,
    WRONG,
    write_all,
)

NOT_GRADIENT_DESCENT = "not_gradient_descent"
EXIT_STATUS = {VERIFIED: 0, WRONG: 1, RIGHT_ONLY: 3, DIFFERENT: 4, INCOMPLETE: 5, NOT_GRADIENT_DESCENT: 6}
SHOUTED = {
    NOT_GRADIENT_DESCENT: "NOT GRADIENT DESCENT",
    VERIFIED: "VERIFIED",
    WRONG: "WRONG",
    RIGHT_ONLY: "RIGHT ONLY AT ITS NUMBERS",
    DIFFERENT: "DIFFERENT NETWORK",
    INCOMPLETE: "INCOMPLETE",
}
RANGE = re.compile(r"\$?([A-Z]{1,3})\$?(\d+):\$?([A-Z]{1,3})\$?(\d+)")
# Probes whose saved values equal those of a right sheet: wrong or unproven, yet right at their numbers.
MASKED = {
    "era-E2-reads-t1": "era-right",
    "era-w7-reads-t1": "era-right",
    "era-w1-second-term-reads-t1": "era-right",
    "era-eta-typed-in": "era-right",
    "era-h1-inputs-typed-in": "era-right",
    "era-pasted-values": "era-right",
    "era-w1-gradient-i1-typed-in": "era-right",
    "header-nonsense-E2-reads-t1": "era-right",
    "era-shifted-w1-second-term-reads-t1": "era-shifted-right",
    "era-deltas-delta_o2-reads-t1": "era-deltas-right",
}


def run_verify(*args) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "sheetgen", "verify", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="session")
def probes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("probes")
    return folder, write_all(folder)


@functools.cache
def verify_probes(folder: Path, engine: str):
    """engine, the batch's exit status, and probe name -> its workbook entry of the JSON.

    The cached engine gets the probes with saved values; LibreOffice recalculates the whole folder.
    """
    if engine == "cached":
        done = run_verify(
            *(folder / f"{name}.xlsx" for name in PROBES if name not in LIBREOFFICE_ONLY),
            "--json",
            "--engine",
            engine,
        )
    else:
        done = run_verify(folder, "--json", "--engine", engine)
    assert done.stdout.strip(), done.stderr
    books = json.loads(done.stdout)["workbooks"]
    return engine, done.returncode, {Path(book["file"]).stem: book for book in books}


@pytest.fixture(scope="session", params=["cached", "libreoffice"])
def verdicts(request, probes):
    if request.param == "libreoffice":
        request.getfixturevalue("soffice")  # skips without LibreOffice (fails under CI)
    return verify_probes(probes[0], request.param)


@pytest.fixture(scope="session")
def recalculated(probes, soffice):
    return verify_probes(probes[0], "libreoffice")


def texts(entry) -> list[str]:
    """Every string in a workbook's JSON entry but those that name η or the file (and so the probe)."""
    if isinstance(entry, dict):
        return [t for key, value in entry.items() if key not in ("file", "eta_note") for t in texts(value)]
    if isinstance(entry, list | tuple):
        return [t for value in entry for t in texts(value)]
    return [entry] if isinstance(entry, str) else []


def has_words(text: str, groups) -> bool:
    text = text.casefold()
    return all(any(word.casefold() in text for word in group) for group in groups)


# ---------------------------------------------------------------------------------------------
# The probes themselves: right where meant to be right, masked where meant to be masked


def saved_values(path: Path) -> dict:
    sheet = openpyxl.load_workbook(path, data_only=True).active
    return {
        (cell.row, cell.column): cell.value
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, int | float)
    }


@pytest.mark.parametrize(
    "name, params",
    [
        ("era-right", ERA),
        ("eva8-right", EVA8),
        ("diag-right", EVA8),
        ("header-nonsense-right", ERA),
        ("era-deltas-right", ERA),
        ("era-shifted-right", ERA),
    ],
)
def test_right_probes_hold_the_reference_backpropagation(probes, name, params):
    folder, where = probes
    values = saved_values(folder / f"{name}.xlsx")
    for r, expected in enumerate(matrix_train(params, ETA, ROWS - 1)):
        for key, letter in where[name].letters.items():
            if key not in expected:  # the iteration number; δ columns (the gradients that read them are)
                continue
            found = values[(where[name].first_row + r, column_index_from_string(letter))]
            assert found == pytest.approx(expected[key], rel=1e-12, abs=1e-16), (name, key, r)


@pytest.mark.parametrize("name", MASKED)
def test_masked_probes_are_right_at_their_numbers(probes, name):
    """The point of these probes: their numbers are the right sheet's, so only formulas can tell."""
    folder, _ = probes
    right = saved_values(folder / f"{MASKED[name]}.xlsx")
    masked = saved_values(folder / f"{name}.xlsx")
    assert masked.keys() == right.keys()
    for cell, value in right.items():
        assert masked[cell] == pytest.approx(value, rel=1e-14, abs=1e-17), (name, cell)


# ---------------------------------------------------------------------------------------------
# What verify says about each probe


@pytest.mark.parametrize("name", [name for name in PROBES if name not in LIBREOFFICE_ONLY])
def test_probe_verdict(verdicts, probes, name):
    check_probe(verdicts, probes, name)


@pytest.mark.parametrize("name", LIBREOFFICE_ONLY)
def test_unsaved_probe_verdict_after_recalculation(recalculated, probes, name):
    check_probe(recalculated, probes, name)


def check_probe(verdicts, probes, name):
    engine, _, books = verdicts
    _, expect = PROBES[name]
    where = probes[1][name]
    book = books[name]
    said = f"{engine}: {name}: {json.dumps(book, ensure_ascii=False)}"
    allowed = {expect.verdict} | ({VERIFIED} if expect.also_verified else set())
    assert book["verdict"] in allowed, said
    if book["verdict"] == VERIFIED:
        for table in book["tables"]:
            assert not table.get("wrong_columns"), said
            assert not table.get("missing_columns"), said  # every column read: gradients too
        if expect.verdict == VERIFIED and expect.words:
            assert has_words(" ".join(texts(book)), expect.words), said
        return
    if expect.verdict == WRONG:
        finding = book["first_wrong"]
        assert finding is not None, said
        assert finding["cell"] == where.cell(expect.column, expect.data_row), said
        assert finding["diagnosis"] and has_words(finding["diagnosis"], expect.words), said
        # Downstream cells are judged from the sheet's own values: the mistake shows where it is made.
        (table,) = book["tables"]
        assert len(table["wrong_columns"]) == expect.wrong_columns, said
        return
    assert book["first_wrong"] is None, said  # nothing wrong, only unproven or another net
    message = " ".join(texts(book))
    assert has_words(message, expect.words), said
    if expect.unproven_kind:  # TableCheck.unproven, as the verify result interface names it
        kinds = {item.get("kind") for table in book["tables"] for item in table.get("unproven") or []}
        assert expect.unproven_kind in kinds, said
    if expect.range_rows:
        first, last = (where.first_row + r for r in expect.range_rows)
        column = where.letters.get(expect.range_column)
        ranges = [(a, int(b), c, int(d)) for a, b, c, d in RANGE.findall(message)]
        assert any(
            start_row == first and end_row == last and column in (None, start)
            for start, start_row, _, end_row in ranges
        ), said


def test_nonsense_header_is_named_with_what_it_was_read_as(verdicts):
    """A header no label table knows, over a right ∂E/∂w3: the report says it read it as ∂E/∂w3."""
    engine, _, books = verdicts
    book = books["header-nonsense-right"]
    said = f"{engine}: {json.dumps(book, ensure_ascii=False)}"
    assert book["verdict"] == VERIFIED, said
    lines = [t for t in texts(book) if NONSENSE_HEADER in t]
    assert any("w3" in line for line in lines) or _identified_pairs(book), said


def _identified_pairs(book) -> bool:
    """(header, column, quantity) triples in the JSON, where 'col 27' is paired with a w3 gradient."""
    for table in book["tables"]:
        for item in table.get("identified") or []:
            values = list(item.values()) if isinstance(item, dict) else list(item)
            if NONSENSE_HEADER in values and any("w3" in str(v) for v in values):
                return True
    return False


def test_batch_exit_status_is_the_most_severe_verdict(verdicts):
    engine, status, books = verdicts
    assert any(book["verdict"] == WRONG for book in books.values()), engine
    assert status == EXIT_STATUS[WRONG], engine


# ---------------------------------------------------------------------------------------------
# One book per verdict: exit status, text and CSV report


@pytest.mark.parametrize(
    "name",
    ["era-right", "era-E2-reads-t1", "era-eta-typed-in", "net-perceptron", "era-template"],
)
def test_each_verdict_has_its_exit_status_text_and_csv(probes, tmp_path, name):
    folder, _ = probes
    verdict = PROBES[name][1].verdict
    report = tmp_path / "report.csv"
    done = run_verify(folder / f"{name}.xlsx", "--engine", "cached", "--report", report)
    assert done.returncode == EXIT_STATUS[verdict], (done.stdout, done.stderr)
    assert SHOUTED[verdict] in done.stdout, done.stdout
    with open(report, newline="", encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["verdict"] == verdict


@pytest.mark.parametrize(
    "names, status",
    [
        (("era-template", "era-eta-typed-in", "net-perceptron", "era-right"), EXIT_STATUS[INCOMPLETE]),
        (("era-eta-typed-in", "net-perceptron", "era-right"), EXIT_STATUS[RIGHT_ONLY]),
        (("net-perceptron", "era-right"), EXIT_STATUS[VERIFIED]),  # a single neuron, read from its formulas
    ],
)
def test_batch_exit_status_order(probes, names, status):
    """WRONG > INCOMPLETE > RIGHT ONLY > (NOT GRADIENT DESCENT > DIFFERENT NETWORK) > VERIFIED."""
    folder, _ = probes
    done = run_verify(*(folder / f"{name}.xlsx" for name in names), "--engine", "cached", "--json")
    verdicts = [book["verdict"] for book in json.loads(done.stdout)["workbooks"]]
    assert done.returncode == status, verdicts


@pytest.mark.parametrize("source", ["--help", "README.md"])
def test_every_verdict_and_its_exit_status_is_documented(source):
    if source == "--help":
        text = run_verify("--help").stdout
    else:
        text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    text = " ".join(text.split())  # a verdict and its status may sit on two wrapped lines
    for verdict, status in EXIT_STATUS.items():
        name = re.escape(SHOUTED[verdict])
        near = rf"{name}.{{0,80}}\b{status}\b|\b{status}\b.{{0,80}}{name}"
        assert re.search(near, text, re.IGNORECASE), (source, SHOUTED[verdict], status)
