"""Hand-made sheets through a real LibreOffice recalculation: right ones verify, each mistake is named.

All books of this module go through ONE LibreOffice run (verify_books batches them), so the
module costs one soffice start however many mutants it holds.
"""

from __future__ import annotations

import pytest
from handmade_books import ERA, EVA8, LAYOUTS, MISTAKES, write_excel_only, write_handmade

from sheetgen.core import oracle
from sheetgen.verify import command as verify
from sheetgen.verify.read.tables import LABELS, normalize
from sheetgen.verify.report import verdicts as report

ETA, ROWS = 0.5, 12
# Each mistake goes into the layouts that differ most (writer, labels, inputs, η, text around the table).
MUTANT_LAYOUTS = ("classic", "reordered", "course")


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory, soffice):
    folder = tmp_path_factory.mktemp("handmade")
    books, expectations = [], []
    for name, layout in LAYOUTS.items():
        path = folder / f"ok-{name}.xlsx"
        write_handmade(path, layout, EVA8, ETA, ROWS)
        books.append(path)
        expectations.append(("ok", name, None, None))
    for mistake in MISTAKES:
        for name in MUTANT_LAYOUTS:
            path = folder / f"bad-{mistake}-{name}.xlsx"
            where = write_handmade(path, LAYOUTS[name], EVA8, ETA, ROWS, mistake)
            books.append(path)
            expectations.append((mistake, name, where, EVA8))
    # With t1 = t2 (the ERA V1 sheet), "E2 from a_o1" has the same value as "E2 holds E1": formula decides.
    path = folder / "bad-E2-from-a_o1-era.xlsx"
    where = write_handmade(path, LAYOUTS["classic"], ERA, ETA, ROWS, "E2-from-a_o1")
    books.append(path)
    expectations.append(("E2-from-a_o1", "classic", where, ERA))
    path = folder / "excel-only.xlsx"
    write_excel_only(path, EVA8, ETA, ROWS)
    books.append(path)
    expectations.append(("excel-only", "", None, EVA8))
    results = verify.verify_books(books, "libreoffice", 1e-9)
    return list(zip(expectations, results, strict=True))


def test_right_sheets_verify_in_every_layout(verdicts):
    right = [(exp, res) for exp, res in verdicts if exp[0] == "ok"]
    assert len(right) == len(LAYOUTS)
    for (_, name, _, _), result in right:
        assert result.verdict == report.VERIFIED, (name, report.details(result))
        (table,) = result.tables
        assert table.rows == ROWS
        assert table.max_rel_error < 1e-12
        assert table.eta == pytest.approx(ETA, rel=1e-12)


def test_eta_sources_are_reported(verdicts):
    notes = {exp[1]: res.tables[0].eta_note for exp, res in verdicts if exp[0] == "ok"}
    assert notes["classic"].startswith("η = 0.5 from cell E2")
    assert notes["reordered"].startswith("η = 0.5 from cell D7")  # the value below "learning rate"
    assert notes["lr-equals"].startswith("η = 0.5 from cell E1")
    assert notes["eta-in-one-cell"] == "η = 0.5 from cell D2 ('η = 0.5')"
    assert notes["no-eta"].startswith("η inferred from rows 6,7 as 0.5")


def test_inputs_found_as_labelled_cells(verdicts):
    result = next(res for exp, res in verdicts if exp[:2] == ("ok", "reordered"))
    table = result.tables[0].table
    assert table.params == {k: EVA8[k] for k in ("i1", "i2", "t1", "t2")}
    assert result.tables[0].missing == []


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_each_mistake_is_caught_with_column_and_diagnosis(verdicts, mistake):
    key, data_row, words = MISTAKES[mistake]
    cases = [(exp, res) for exp, res in verdicts if exp[0] == mistake]
    assert len(cases) >= len(MUTANT_LAYOUTS)
    for (_, name, where, params), result in cases:
        layout = LAYOUTS[name]
        assert result.verdict == report.WRONG, (mistake, name)
        finding = result.first_wrong
        assert finding.key == key, (mistake, name, finding)
        assert finding.label == layout.labels[key]
        col = where["col_of"][key]
        assert finding.row == where["first_row"] + data_row
        assert finding.address.startswith(_letters(col))
        assert words in finding.diagnosis, (mistake, name, finding.diagnosis)
        # One mistake, one column: downstream columns are judged from the sheet's own values
        # (an update mistake is made in all eight weight columns).
        wrong = [f"w{k}" for k in range(1, 9)] if mistake.startswith("update") else [key]
        assert result.tables[0].wrong_columns == [layout.labels[k] for k in wrong]
        _expected_is_the_oracle(finding, key, data_row, params)


def test_e2_from_a_o1_names_both_outputs(verdicts):
    for (mistake, name, _, params), result in verdicts:
        if mistake == "E2-from-a_o1":
            labels = LAYOUTS[name].labels
            assert result.first_wrong.diagnosis == f"uses {labels['a_o1']} in place of {labels['a_o2']}", (
                params
            )


def _letters(col: int) -> str:
    from sheetgen.core.xlsx import column_letters

    return column_letters(col)


def _expected_is_the_oracle(finding, key, data_row, params):
    """The reported expected value is the oracle's for that row of a right sheet."""
    table = oracle.train(params, ETA, data_row)
    assert finding.expected == pytest.approx(float(table[key][data_row]), rel=1e-12)


def test_every_alias_in_the_column_table_is_recognised():
    from sheetgen.core.columns import COLUMNS

    for column in COLUMNS:
        for spelling in (column.label, *column.aliases):
            assert LABELS[normalize(spelling)] == column.key, spelling
    assert LABELS[normalize("∂E_total/∂w3")] == "dE_dw3"
    assert LABELS[normalize("E_Total ")] == "E_total"
    assert LABELS[normalize("out_o1")] == "a_o1"


def test_a_function_libreoffice_lacks_falls_back_to_the_saved_values(verdicts):
    (result,) = [res for exp, res in verdicts if exp[0] == "excel-only"]
    # Its other cells are typed values: right at its numbers, nothing to prove (issue 12).
    assert result.verdict == report.RIGHT_ONLY and result.engine == "cached"
    assert not result.tables[0].wrong_columns
    assert result.notes == [
        "LibreOffice does not know a function used (#NAME? at 'Sheet1'!W4): "
        "the values saved in the file were checked instead"
    ]
