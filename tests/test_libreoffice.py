"""The built workbook in a real LibreOffice: it verifies, it follows edited inputs, and the
triangle oracle = torch autograd = LibreOffice holds at random points.

One soffice run for the whole module (a single Batch of every book).
"""

from __future__ import annotations

import re
import zipfile

import numpy as np
import pytest
import xlsxwriter

from sheetgen.build.params import load_template
from sheetgen.build.writer import write_workbook
from sheetgen.core import oracle, xlsx
from sheetgen.core.columns import COLUMNS, render
from sheetgen.core.tolerance import FLOOR
from sheetgen.office.recalc import Batch
from sheetgen.verify import command as verify
from sheetgen.verify.report import verdicts as report

LRS, ITERATIONS = [0.1, 0.2, 0.5, 0.8, 1.0, 2.0], 100
EDITS = {"w1": -0.35, "w6": 1.25, "i2": 0.8, "t1": 0.05}  # a student's edits on the Inputs sheet
POINTS = 6


def _edit_inputs(source, target, edits: dict) -> None:
    """Change values on the Inputs sheet inside the xlsx, as typing them would, leaving all else as it was."""
    book = xlsx.read_book(source)
    inputs = book.sheet("Inputs")
    cells = {v: (r, c) for (r, c), v in inputs.values.items() if isinstance(v, str)}
    part = f"xl/worksheets/sheet{book.sheets.index(inputs) + 1}.xml"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == part:
                text = data.decode()
                for key, value in edits.items():
                    row, col = cells[key]
                    ref = xlsx.address(row, col + 1)
                    text, n = re.subn(rf'(<c r="{ref}"[^>]*><v>)[^<]*(</v>)', rf"\g<1>{value!r}\g<2>", text)
                    assert n == 1, key
                data = text.encode()
            zout.writestr(item, data)


def _strip_formula(source, target, sheet_index: int, ref: str) -> None:
    """Replace one formula by its value, as pasting values over a cell does."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == f"xl/worksheets/sheet{sheet_index}.xml":
                data, n = re.subn(rf'(<c r="{ref}"[^>]*>)<f>[^<]*</f>'.encode(), rb"\g<1>", data)
                assert n == 1
            zout.writestr(item, data)


def _random_points(seed: int = 7) -> list[dict]:
    rng = np.random.default_rng(seed)
    points = []
    for _ in range(POINTS):
        point = {k: rng.uniform(-1, 1) for k in ("i1", "i2")} | {k: rng.uniform(0, 1) for k in ("t1", "t2")}
        points.append(point | {f"w{k}": rng.uniform(-2, 2) for k in range(1, 9)})
    return points


def _triangle_book(path, points) -> dict:
    """One row per random point: the inputs typed in, every quantity a formula from the column table."""
    col = {c.key: n for n, c in enumerate(c for c in COLUMNS if c.key != "iteration")}
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("T")
    for r, point in enumerate(points, start=1):
        for key, value in point.items():
            sheet.write_number(r, col[key], value)
        for column in COLUMNS:
            if column.key in point or column.key == "iteration":
                continue
            formula = render(column.formula, lambda kind, key, r=r: xlsx.address(r + 1, col[key] + 1))
            sheet.write_formula(r, col[column.key], "=" + formula, None, 0)
    book.close()
    return col


@pytest.fixture(scope="module")
def lo(tmp_path_factory, soffice):
    folder = tmp_path_factory.mktemp("lo")
    _, params = load_template("era-v1")
    built = folder / "BackProp.xlsx"
    write_workbook(built, params, LRS, ITERATIONS, template_name="era-v1")
    edited = folder / "edited.xlsx"
    _edit_inputs(built, edited, EDITS)
    pasted = folder / "pasted.xlsx"
    _strip_formula(built, pasted, 3, "K20")  # sheet 3 is 'LR 0.1'
    points = _random_points()
    triangle = folder / "triangle.xlsx"
    col = _triangle_book(triangle, points)
    books = [built, edited, pasted, triangle]
    with Batch(books, tmp_path_factory.mktemp("lo-out")) as batch:
        outputs = [batch.output(i) for i in range(len(books))]
    assert all(outputs), outputs
    judged = {}
    for name, path, output in zip(("built", "edited", "pasted"), books, outputs, strict=False):
        judged[name] = verify.judge(path, xlsx.read_book(path), xlsx.read_book(output), "libreoffice", 1e-9)
    return {
        "judged": judged,
        "params": params,
        "edited_output": outputs[1],
        "points": points,
        "col": col,
        "triangle": xlsx.read_book(outputs[3]).sheets[0],
    }


def test_built_workbook_verifies_after_recalculation(lo):
    result = lo["judged"]["built"]
    assert result.verdict == report.VERIFIED, report.details(result)
    assert [t.table.sheet for t in result.tables] == [f"LR {eta:g}" for eta in LRS]
    assert all(t.rows == ITERATIONS + 1 and t.max_rel_error < 1e-12 for t in result.tables)
    assert [t.eta for t in result.tables] == LRS
    assert result.problems == []
    assert any("every computed cell is a formula, saved values equal" in n for n in result.notes)


def test_edited_inputs_drive_every_lr_sheet(lo):
    """After editing the Inputs sheet, every LR sheet follows the oracle for the new parameters."""
    new = lo["params"] | EDITS
    result = lo["judged"]["edited"]
    assert all(t.verified for t in result.tables), report.details(result)
    recalculated = xlsx.read_book(lo["edited_output"])
    for check in result.tables:
        sheet, table = recalculated.sheet(check.table.sheet), check.table
        truth = oracle.train(new, check.eta, ITERATIONS)
        for key in ("w1", "w6", "i2", "a_o1", "E_total", "dE_dw3", "dE_dw8"):
            found = np.array([sheet.values[(row, table.columns[key])] for row in table.rows])
            scale = np.maximum(np.abs(truth[key]), FLOOR)
            assert np.max(np.abs(found - truth[key]) / scale) < 1e-11, (sheet.name, key)
    # The file's saved values are those of the old inputs: a built book must say so.
    assert any("saved value" in p for p in result.problems)


def test_a_pasted_value_in_a_built_book_is_reported(lo):
    result = lo["judged"]["pasted"]
    assert not any(t.wrong_columns for t in result.tables)  # the value is right ...
    assert result.verdict == report.WRONG  # ... but the cell is no longer live
    assert result.problems == ["'LR 0.1'!K20 (a_h1) holds a typed value, not a formula"]


def test_triangle_oracle_autograd_libreoffice(lo):
    torch = pytest.importorskip("torch")
    sheet, col = lo["triangle"], lo["col"]
    for r, point in enumerate(lo["points"], start=2):
        truth = oracle.evaluate(**point)
        for key, value in truth.items():
            if key not in col:  # the bias quantities: this network has none
                continue
            found = sheet.values[(r, col[key] + 1)]
            assert abs(found - value) <= 1e-12 * max(abs(value), FLOOR), (r, key, found, value)
        w = torch.tensor([point[f"w{k}"] for k in range(1, 9)], dtype=torch.float64, requires_grad=True)
        x = torch.tensor([point["i1"], point["i2"]], dtype=torch.float64)
        t = torch.tensor([point["t1"], point["t2"]], dtype=torch.float64)
        a_o = torch.sigmoid(w[4:].reshape(2, 2) @ torch.sigmoid(w[:4].reshape(2, 2) @ x))
        loss = 0.5 * ((t - a_o) ** 2).sum()
        loss.backward()
        assert truth["E_total"] == pytest.approx(loss.item(), rel=1e-13)
        for k in range(1, 9):
            assert truth[f"dE_dw{k}"] == pytest.approx(w.grad[k - 1].item(), rel=1e-12, abs=1e-15)
            assert sheet.values[(r, col[f"dE_dw{k}"] + 1)] == pytest.approx(
                w.grad[k - 1].item(), rel=1e-11, abs=1e-15
            )
