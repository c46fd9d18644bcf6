"""sheetgen verify without LibreOffice (--engine cached): table finding, verdicts, batch output, bad input.

The books here hold typed values (a sheet pasted as values), computed by the oracle and then
spoiled on purpose, so these tests need no spreadsheet engine. Right values with no formula are
RIGHT ONLY AT ITS NUMBERS (exit status 3): nothing in them can be proven for other inputs.
"""

from __future__ import annotations

import csv
import json
import zipfile

import pytest
import xlsxwriter

from sheetgen import cli
from sheetgen.core import oracle, xlsx
from sheetgen.core.columns import COLUMNS
from sheetgen.office import recalc

PARAMS = dict(
    i1=0.05, i2=0.1, t1=0.01, t2=0.99, w1=0.15, w2=0.2, w3=0.25, w4=0.3, w5=0.4, w6=0.45, w7=0.5, w8=0.55
)
KEYS = [c.key for c in COLUMNS]


def write_values(path, tables, *, spoil=None, drop=(), extra_text=None):
    """tables: [(header_row, first_col, eta, eta_label)] (0-based). spoil: (table, row, key, value)."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Class")
    for n, (top, left, eta, eta_label) in enumerate(tables):
        if eta_label:
            sheet.write_string(top - 2, left, eta_label)
            sheet.write_number(top - 2, left + 1, eta)
        truth = oracle.train(PARAMS, eta, 8)
        keys = [k for k in KEYS if k not in drop]
        for c, key in enumerate(keys):
            sheet.write_string(top, left + c, next(col.label for col in COLUMNS if col.key == key))
            for r in range(9):
                value = float(truth[key][r])
                if spoil and spoil[:3] == (n, r, key):
                    value = spoil[3]
                if isinstance(value, str):
                    sheet.write_string(top + 1 + r, left + c, value)
                else:
                    sheet.write_number(top + 1 + r, left + c, value)
    if extra_text:
        sheet.write_string(0, 0, extra_text)
    book.close()
    return path


def run_cli(capsys, *args):
    status = cli.main(["verify", *map(str, args)])
    out, err = capsys.readouterr()
    return status, out, err


def test_right_values_are_right_only_at_their_numbers(tmp_path, capsys):
    path = write_values(tmp_path / "ok.xlsx", [(3, 0, 0.5, "η")])
    status, out, err = run_cli(capsys, path, "--engine", "cached")
    assert status == 3, out + err
    assert out.splitlines()[0].startswith(
        "ok.xlsx: RIGHT ONLY AT ITS NUMBERS: typed values where formulas belong"  # named as in its folder
    )
    assert "'Class'!F5:AF13" in out  # the first row's inputs and weights are inputs, typed by right
    assert "η = 0.5 from cell B2" in out


def test_spoiled_value_is_found_with_its_diagnosis(tmp_path, capsys):
    truth = oracle.train(PARAMS, 0.5, 8)
    path = write_values(
        tmp_path / "bad.xlsx", [(3, 0, 0.5, "eta")], spoil=(0, 4, "a_h2", float(truth["h2"][4]))
    )
    status, out, _ = run_cli(capsys, path, "--engine", "cached")
    assert status == 1
    col = KEYS.index("a_h2") + 1
    assert f"first wrong cell 'Class'!{xlsx.address(4 + 5, col)} (a_h2)" in out
    assert f"expected {truth['a_h2'][4]:.12g}" in out
    assert "typed value (no formula)" in out
    assert "diagnosis: holds h2's value: overwritten by another quantity" in out
    assert "columns with wrong cells: a_h2" in out


def test_text_in_a_number_cell(tmp_path, capsys):
    path = write_values(tmp_path / "text.xlsx", [(3, 0, 0.5, "lr")], spoil=(0, 2, "E2", "n/a"))
    status, out, _ = run_cli(capsys, path, "--engine", "cached", "--json")
    assert status == 1
    finding = json.loads(out)["workbooks"][0]["first_wrong"]
    assert finding["column"] == "E2" and finding["found"] == "n/a"
    assert finding["diagnosis"] == "the cell shows n/a instead of a number"


def test_two_tables_on_one_sheet_each_with_the_nearest_eta(tmp_path, capsys):
    path = write_values(
        tmp_path / "two.xlsx", [(3, 0, 0.5, "η"), (20, 0, 2.0, "learning rate")], spoil=(1, 3, "w5", 0.4)
    )
    status, out, _ = run_cli(capsys, path, "--engine", "cached", "--json")
    assert status == 1
    tables = json.loads(out)["workbooks"][0]["tables"]
    assert [t["eta"] for t in tables] == [0.5, 2.0]
    assert [bool(t["wrong_columns"]) for t in tables] == [False, True]
    assert tables[1]["wrong_columns"][0] == "w5"  # typed values downstream were computed from the right w5


def test_missing_intermediate_columns_are_reported_not_guessed(tmp_path, capsys):
    path = write_values(tmp_path / "lean.xlsx", [(3, 0, 0.5, "η")], drop=("h1", "h2", "o1", "o2"))
    status, out, _ = run_cli(capsys, path, "--engine", "cached")
    assert status == 3
    assert "no column for (computed from the oracle, not checked): h1, h2, o1, o2" in out


def test_missing_weights_cannot_be_verified(tmp_path, capsys):
    path = write_values(tmp_path / "noweight.xlsx", [(3, 0, 0.5, "η")], drop=("w7", "w8"))
    status, out, err = run_cli(capsys, path, "--engine", "cached")
    assert status == 2 and out == ""
    assert err.count("\n") == 1
    assert "has no column or labelled cell for w7, w8" in err


def test_batch_lines_summary_csv_and_exit_status(tmp_path, capsys):
    folder = tmp_path / "class"
    folder.mkdir()
    write_values(folder / "alice.xlsx", [(3, 0, 0.5, "η")])
    write_values(folder / "bob.xlsx", [(3, 0, 0.5, "η")], spoil=(0, 1, "w3", PARAMS["w3"]))
    (folder / "carol.xlsx").write_text("not a workbook")
    report_path = tmp_path / "report.csv"
    status, out, _ = run_cli(capsys, folder, "--engine", "cached", "--report", report_path)
    assert status == 1
    lines = out.splitlines()
    assert len(lines) == 4
    # each book named by its path in the folder given, never by an absolute path (issue 21)
    assert lines[0].startswith("alice.xlsx: RIGHT ONLY AT ITS NUMBERS")
    assert lines[1].startswith("bob.xlsx: WRONG: first wrong cell 'Class'!H6 (w3)")
    assert lines[2].startswith("carol.xlsx: UNREADABLE: not an .xlsx workbook")
    assert lines[3] == "3 workbook(s): 0 verified, 1 wrong, 1 unreadable, 1 right only at their numbers"
    with open(report_path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["verdict"] for r in rows] == ["right_only_at_its_numbers", "wrong", "unreadable"]
    assert rows[1]["cell"] == "H6" and rows[1]["column"] == "w3" and rows[1]["sheet"] == "Class"
    truth = oracle.train(PARAMS, 0.5, 8)
    assert float(rows[1]["expected"]) == pytest.approx(truth["w3"][1], rel=1e-15)
    assert rows[1]["diagnosis"] == "is not updated: it repeats the row above"
    assert rows[0]["rows"] == "9" and rows[2]["message"].startswith("not an .xlsx")


def test_all_unreadable_is_exit_2(tmp_path, capsys):
    (tmp_path / "a.xlsx").write_text("x")
    (tmp_path / "b.xlsx").write_bytes(b"PK\x03\x04 broken")
    status, out, _ = run_cli(capsys, tmp_path / "a.xlsx", tmp_path / "b.xlsx", "--engine", "cached")
    assert status == 2
    assert "2 workbook(s): 0 verified, 0 wrong, 2 unreadable" in out


def test_no_table_is_exit_2(tmp_path, capsys):
    book = xlsxwriter.Workbook(str(tmp_path / "essay.xlsx"))
    book.add_worksheet().write_string(0, 0, "Backpropagation is the chain rule, w1 w2 and E")
    book.close()
    status, out, err = run_cli(capsys, tmp_path / "essay.xlsx", "--engine", "cached")
    assert status == 2 and "no iteration table found" in err and out == ""


def _one_line_refusal(capsys, path, words):
    status, out, err = run_cli(capsys, path, "--engine", "cached")
    assert status == 2, err
    assert out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert words in err, err


def _billion_laughs(path):
    """Entities that expand exponentially: the XML parser must refuse, not inflate them."""
    entities = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    sheet = (
        f'<?xml version="1.0"?><!DOCTYPE s [<!ENTITY l0 "lol">{entities}]>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&l9;</t></is></c></row></sheetData></worksheet>'
    )
    main, rel = (
        "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
        "http://schemas.openxmlformats.org",
    )
    with zipfile.ZipFile(path, "w") as book:
        book.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{main}" xmlns:r="{rel}/officeDocument/2006/relationships">'
            '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        )
        book.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{rel}/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{rel}/officeDocument/2006/relationships/worksheet" '
            'Target="worksheets/sheet1.xml"/></Relationships>',
        )
        book.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


def test_untrusted_inputs_are_refused_in_one_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "text.xlsx").write_text("hello")
    _one_line_refusal(capsys, tmp_path / "text.xlsx", "not an .xlsx workbook (not a zip file)")

    good = write_values(tmp_path / "good.xlsx", [(3, 0, 0.5, "η")])
    (tmp_path / "cut.xlsx").write_bytes(good.read_bytes()[:1500])
    _one_line_refusal(capsys, tmp_path / "cut.xlsx", "corrupt .xlsx")

    (tmp_path / "locked.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000))
    _one_line_refusal(capsys, tmp_path / "locked.xlsx", "password-protected")

    with zipfile.ZipFile(tmp_path / "bomb.xlsx", "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("xl/workbook.xml", "<workbook/>")
        bomb.writestr("xl/worksheets/sheet1.xml", b"\0" * (40 << 20))  # 40 MiB of zeros, ~40 KiB packed
    _one_line_refusal(capsys, tmp_path / "bomb.xlsx", "zip bomb")

    with zipfile.ZipFile(tmp_path / "other.xlsx", "w") as other:
        other.writestr("word/document.xml", "<w/>")
    _one_line_refusal(capsys, tmp_path / "other.xlsx", "not an .xlsx workbook (no xl/workbook.xml)")

    _one_line_refusal(
        capsys, _billion_laughs(tmp_path / "laughs.xlsx"), "refused: xl/worksheets/sheet1.xml: a DTD"
    )

    monkeypatch.setattr(xlsx, "MAX_CELLS", 100)  # the real cap is 2.5 million; same mechanism
    _one_line_refusal(capsys, good, "more than 100 cells")


def test_without_libreoffice_default_falls_back_to_cached(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(recalc, "find_soffice", lambda: None)
    path = write_values(tmp_path / "ok.xlsx", [(3, 0, 0.5, "η")])
    status, out, err = run_cli(capsys, path)
    assert status == 3 and "cached engine" not in err and "RIGHT ONLY AT ITS NUMBERS" in out
    assert err.startswith("sheetgen verify: warning: LibreOffice not found") and err.count("\n") == 1
    status, out, err = run_cli(capsys, path, "--engine", "libreoffice")
    assert status == 2 and "libreoffice-calc-nogui" in err and err.count("\n") == 1


def test_bad_arguments(tmp_path, capsys):
    path = write_values(tmp_path / "ok.xlsx", [(3, 0, 0.5, "η")])
    status, _, err = run_cli(capsys, path, "--tol", "0")
    assert status == 2 and "--tol" in err
    status, _, err = run_cli(capsys, path, "--engine", "cached", "--report", tmp_path / "r.txt")
    assert status == 2 and ".csv" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    status, _, err = run_cli(capsys, empty)
    assert status == 2 and "holds no .xlsx files" in err


def test_repeated_labels_do_not_split_a_table(tmp_path, capsys):
    """A block of updated weights right of the gradients, and a second 'Error' column, belong to the table."""
    path = tmp_path / "updated.xlsx"
    truth = oracle.train(PARAMS, 0.5, 8)
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Sheet1")
    sheet.write_string(0, 0, "η")
    sheet.write_number(0, 1, 0.5)
    extra = [f"w{k}" for k in range(1, 9)] + ["Error"]
    for c, key in enumerate(KEYS + extra):
        sheet.write_string(
            2, c, next(col.label for col in COLUMNS if col.key == key) if c < len(KEYS) else key
        )
        for r in range(9):
            if c < len(KEYS):
                value = truth[key][r]
            elif key == "Error":
                value = truth["E_total"][r]
            else:  # the updated weight, shown in the same row as the gradient it comes from
                value = truth[key][r] - 0.5 * truth["dE_dw" + key[1:]][r]
            sheet.write_number(3 + r, c, float(value))
    book.close()
    status, out, _ = run_cli(capsys, path, "--engine", "cached", "--json")
    assert status == 3, out
    (table,) = json.loads(out)["workbooks"][0]["tables"]
    assert table["header"] == "A3" and table["rows"] == 9 and not table["wrong_columns"]


def test_formulas_without_saved_values_need_libreoffice(tmp_path, capsys):
    from handmade_books import EVA8, LAYOUTS, write_handmade

    path = tmp_path / "openpyxl.xlsx"
    write_handmade(path, LAYOUTS["reordered"], EVA8, 0.5, 5)  # openpyxl saves formulas without values
    status, out, err = run_cli(capsys, path, "--engine", "cached")
    assert status == 2 and out == ""
    assert "have no saved values" in err and "--engine libreoffice" in err


def test_the_checks_equations_are_the_oracles():
    """Each column's equation, fed the oracle's own upstream values, gives the oracle's value."""
    import numpy as np

    from sheetgen.verify.read.dataflow import EQUATIONS

    rng = np.random.default_rng(3)
    point = {k: rng.uniform(-2, 2, 50) for k in oracle.WEIGHTS} | {
        k: rng.uniform(0, 1, 50) for k in oracle.INPUTS
    }
    truth = oracle.evaluate(**point)
    # The network without biases: every computed quantity but the biases' (0 here) has its equation.
    assert set(EQUATIONS) == set(truth) - set(point) - set(oracle.BIASES) - set(oracle.BIAS_GRADIENTS)
    for key, equation in EQUATIONS.items():
        np.testing.assert_allclose(equation(truth), truth[key], rtol=1e-13, atol=1e-17, err_msg=key)


@pytest.mark.parametrize("label", ["{w} new", "new {w}", "{w}'", "{w}(t+1)", "updated {w}", "{w}"])
def test_updated_weight_columns_are_checked(tmp_path, capsys, label):
    """Columns of each row's updated weights (w − η·∂E/∂w beside the gradient) are checked too."""
    truth = oracle.train(PARAMS, 0.5, 8)
    for spoil in (None, 3):
        path = tmp_path / f"updated-{spoil}.xlsx"
        book = xlsxwriter.Workbook(str(path))
        sheet = book.add_worksheet("Sheet1")
        sheet.write_string(0, 0, "η")
        sheet.write_number(0, 1, 0.5)
        for c, key in enumerate(KEYS + [f"w{k}" for k in range(1, 9)]):
            updated = c >= len(KEYS)
            sheet.write_string(2, c, label.format(w=key) if updated else key)
            for r in range(9):
                value = truth[key][r] - 0.5 * truth["dE_dw" + key[1:]][r] if updated else truth[key][r]
                if updated and key == "w2" and r == spoil:
                    value = truth[key][r] + 0.5 * truth["dE_dw2"][r]  # the update's sign flipped
                sheet.write_number(3 + r, c, float(value))
        book.close()
        status, out, _ = run_cli(capsys, path, "--engine", "cached", "--json")
        result = json.loads(out)["workbooks"][0]
        if spoil is None:
            assert status == 3 and not result["tables"][0]["wrong_columns"], out
        else:
            assert status == 1
            finding = result["first_wrong"]
            assert finding["column"] == label.format(w="w2")
            assert finding["cell"] == xlsx.address(4 + spoil, len(KEYS) + 2)
            assert "wrong sign" in finding["diagnosis"]


FAKE_SOFFICE = """#!{python}
# Stands in for LibreOffice: "recalculates" by copying (or, asked for CSV, writes each sheet's saved
# values as LibreOffice would: from A1, text quoted), and dies on a book that says crash-me (its
# content, not its name: LibreOffice gets copies under names of its own).
import csv, os, pathlib, shutil, sys, time, zipfile
import openpyxl
args = sys.argv[1:]
out = pathlib.Path(args[args.index("--outdir") + 1])
if out.name.startswith("job1"):  # a second process slow to start, when a test asks for one
    time.sleep(float(os.environ.get("FAKE_JOB1_DELAY", "0")))
as_csv = args[args.index("--convert-to") + 1].startswith("csv")
for name in args[args.index("--outdir") + 2:]:
    with zipfile.ZipFile(name) as book:
        if any(b"crash-me" in book.read(part) for part in book.namelist() if part.endswith(".xml")):
            sys.exit(139)
    if not as_csv:
        shutil.copyfile(name, out / pathlib.Path(name).name)
        continue
    for sheet in openpyxl.load_workbook(name, data_only=True).worksheets:
        with open(out / f"{{pathlib.Path(name).stem}}-{{sheet.title}}.csv", "w", newline="") as handle:
            writer = csv.writer(handle, quoting=csv.QUOTE_NONNUMERIC)
            writer.writerows(sheet.iter_rows(min_row=1, min_col=1, values_only=True))
"""


def test_a_libreoffice_crash_costs_only_the_book_that_caused_it(tmp_path, capsys, monkeypatch):
    import sys

    fake = tmp_path / "soffice"
    fake.write_text(FAKE_SOFFICE.format(python=sys.executable))
    fake.chmod(0o755)
    monkeypatch.setattr(recalc, "find_soffice", lambda: str(fake))
    books = [
        write_values(tmp_path / f"{name}.xlsx", [(3, 0, 0.5, "η")], extra_text=f"{name}-me")
        for name in ("a", "crash", "c", "d")
    ]
    status, out, _ = run_cli(capsys, *books)
    lines = out.splitlines()
    assert status == 3
    verdicts = dict(line.split(": ", 1) for line in lines[:4])
    assert verdicts.pop(books[1].name) == "UNREADABLE: LibreOffice crashed on it"
    assert sorted(verdicts) == sorted(b.name for b in books if b != books[1])
    assert all(v.startswith("RIGHT ONLY AT ITS NUMBERS") for v in verdicts.values())
    assert lines[4] == "4 workbook(s): 0 verified, 0 wrong, 1 unreadable, 3 right only at their numbers"


def test_books_already_recalculated_are_judged_while_a_slow_process_starts_and_shown_in_order(
    tmp_path, monkeypatch
):
    """Process 2 (books 1, 3) is slow to start: books 0 and 2 are judged first; the report keeps the order."""
    import sys

    from sheetgen.verify import command

    fake = tmp_path / "soffice"
    fake.write_text(FAKE_SOFFICE.format(python=sys.executable))
    fake.chmod(0o755)
    monkeypatch.setattr(recalc, "find_soffice", lambda: str(fake))
    monkeypatch.setenv("FAKE_JOB1_DELAY", "3")
    monkeypatch.setattr(command.workers, "worthwhile", lambda books, jobs: False)  # one process, two soffice
    books = [write_values(tmp_path / f"{n}.xlsx", [(3, 0, 0.5, "η")]) for n in range(4)]
    judged, shown = [], []
    results = command.verify_books(
        books,
        "libreoffice",
        1e-9,
        on_result=lambda result: shown.append(books.index(result.path)),
        jobs=2,
        on_read=lambda index, book, source: judged.append(index),
    )
    assert judged[:2] == [0, 2] and sorted(judged) == [0, 1, 2, 3]
    assert shown == [0, 1, 2, 3]
    assert all(r.verdict == "right_only_at_its_numbers" for r in results), [r.verdict for r in results]
