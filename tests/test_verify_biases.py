"""sheetgen verify on biased networks: built books of every variant, and hand-made tables with biases
as columns or as labelled cells, right and with the usual bias mistakes (issue 13)."""

from __future__ import annotations

import re

import pytest
import xlsxwriter
from xlsxwriter.utility import xl_col_to_name

from sheetgen.build.params import read_template
from sheetgen.build.writer import write_workbook
from sheetgen.core import oracle, xlsx
from sheetgen.core.columns import BY_KEY, columns_for, compile_template, render
from sheetgen.verify import command as verify
from sheetgen.verify.report import verdicts as report

ETA, ROWS = 0.5, 5
TYPED = set(oracle.INPUTS)  # typed in every row, as hand-made sheets do
_PLACE = re.compile(r"\{(\w+)\}")


def _judge(path):
    book = xlsx.read_book(path)
    return verify.judge(path, book, book, "cached", 1e-9)


@pytest.mark.parametrize("biases", oracle.BIAS_MODES)
def test_built_books_of_every_variant_are_verified(tmp_path, biases):
    path = tmp_path / "built.xlsx"
    write_workbook(path, read_template("mazur").params, [0.5, 2.0], 12, template_name="mazur", biases=biases)
    result = _judge(path)
    assert result.verdict == report.VERIFIED, report.details(result)
    assert [t.biases for t in result.tables] == [biases, biases]
    assert result.network_difference is None


def _handmade(path, biases: str, bias_cells: bool = False, mistake: dict | None = None) -> None:
    """Mazur's network as a hand-made table: η and (bias_cells) b1, b2 labelled above it, inputs typed
    in every row, the first weights typed, every other cell a formula carrying its value."""
    params = read_template("mazur").params
    mistake = mistake or {}
    columns = [
        c for c in columns_for(biases) if c.key != "iteration" and not (bias_cells and c.key in oracle.BIASES)
    ]
    letters = {c.key: xl_col_to_name(n) for n, c in enumerate(columns)}
    header = 4  # 0-based row of the header
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Mazur")
    sheet.write_string(0, 0, "η")
    sheet.write_number(0, 1, ETA)
    fixed_cells = {"eta": "$B$1"}
    if bias_cells:
        for n, b in enumerate(oracle.BIASES, start=1):
            sheet.write_string(n, 0, b)
            sheet.write_number(n, 1, params[b])
            fixed_cells[b] = f"$B${n + 1}"
    for n, c in enumerate(columns):
        sheet.write_string(header, n, c.label)
    previous: dict[str, float] = {}
    fixed_values = {"eta": ETA} | ({b: params[b] for b in oracle.BIASES} if bias_cells else {})
    for index in range(ROWS):
        row = header + 1 + index
        cells: dict[str, float] = dict(fixed_values) | {f"prev:{k}": v for k, v in previous.items()}
        for c in columns:
            typed = (
                c.key in TYPED
                or (index == 0 and c.next_formula)
                or (c.key in oracle.BIASES and not c.next_formula)
            )
            template = mistake.get(
                (c.key, index > 0), c.next_formula if index and c.next_formula else c.formula
            )
            if typed and (c.key, index > 0) not in mistake:
                value = float(params[c.key])
                sheet.write_number(row, columns.index(c), value)
            else:
                value = float(compile_template(template)(cells))

                def resolve(kind, key, row=row):
                    if key in fixed_cells:
                        return fixed_cells[key]
                    return f"{letters[key]}{row if kind == 'prev' else row + 1}"

                sheet.write_formula(row, columns.index(c), "=" + render(template, resolve), None, value)
            cells[c.key] = value
        previous = {k: v for k, v in cells.items() if ":" not in k and k != "eta"}
    book.close()


# Trained biases change every row, so they come as columns; fixed ones may be labelled cells.
@pytest.mark.parametrize(
    "biases, bias_cells",
    [("fixed", False), ("fixed", True), ("trained", False)],
    ids=["fixed columns", "fixed labelled cells", "trained columns"],
)
def test_a_right_handmade_biased_table_is_verified(tmp_path, biases, bias_cells):
    path = tmp_path / "mazur.xlsx"
    _handmade(path, biases, bias_cells)
    result = _judge(path)
    assert result.verdict == report.VERIFIED, report.details(result)
    assert result.tables[0].biases == biases


def _as_previous(template: str) -> str:
    return _PLACE.sub(lambda m: "{prev:" + m.group(1) + "}" if m.group(1) != "eta" else "{eta}", template)


MISTAKES = {
    "b1 where b2 belongs": (
        {("o1", False): "{w5}*{a_h1}+{w6}*{a_h2}+{b1}", ("o1", True): "{w5}*{a_h1}+{w6}*{a_h2}+{b1}"},
        "o1",
        "uses b1 in place of b2",
    ),
    "a bias left out": (
        {("h2", False): "{w3}*{i1}+{w4}*{i2}", ("h2", True): "{w3}*{i1}+{w4}*{i2}"},
        "h2",
        "leaves out the bias b1",
    ),
    "a fixed bias updated": (
        {("b2", True): "{prev:b2}-{eta}*(" + _as_previous(BY_KEY["dE_db2"].formula) + ")"},
        "b2",
        "although this sheet holds its biases fixed",
    ),
}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_a_bias_mistake_is_wrong_with_its_diagnosis(tmp_path, name):
    mistake, key, words = MISTAKES[name]
    path = tmp_path / "mistake.xlsx"
    _handmade(path, "fixed", mistake=mistake)
    result = _judge(path)
    assert result.verdict == report.WRONG, report.details(result)
    first = result.tables[0].first_wrong
    assert first.key == key, report.details(result)
    assert words in (first.diagnosis or ""), first.diagnosis
    assert result.network_difference is None  # a mistake in a biased sheet, not another network


def test_a_built_mazur_book_verifies_after_libreoffice_recalculates_it(soffice, tmp_path, capsys):
    """The saved values (the Equations sheet's CHOOSE cells included) equal LibreOffice's own."""
    from sheetgen.cli import main

    path = tmp_path / "mazur.xlsx"
    write_workbook(path, read_template("mazur").params, [0.5, 1.0], 10, template_name="mazur", biases="fixed")
    status = main(["verify", str(path), "--engine", "libreoffice"])
    out = capsys.readouterr().out
    assert status == 0 and "VERIFIED" in out and "libreoffice" in out, out
