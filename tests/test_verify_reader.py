"""The streaming xlsx reader on XML as Excel writes it (shared strings, shared formulas, errors,
implied cell positions), compared with openpyxl's reading of the same file; and the label rules."""

from __future__ import annotations

import zipfile

import openpyxl
import pytest

from sheetgen.core import xlsx
from sheetgen.verify.read import tables

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"

SHEET = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="{_MAIN}"><sheetData>
<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c>
<c r="C1" t="inlineStr"><is><t>η =</t></is></c><c r="D1"><v>0.5</v></c></row>
<row r="2"><c r="A2"><v>1.5</v></c><c r="B2"><f t="shared" ref="B2:B4" si="0">A2*2+$A$2</f><v>4.5</v></c>
<c r="C2" t="b"><v>1</v></c><c r="D2" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>
<row r="3"><c><v>2.5</v></c><c><f t="shared" si="0"/><v>6.5</v></c>
<c t="str"><f>"a"&amp;"b"</f><v>ab</v></c></row>
<row r="4"><c r="A4"><v>-1e-3</v></c><c r="B4"><f t="shared" si="0"/><v>-0.002</v></c></row>
</sheetData></worksheet>"""

STRINGS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="{_MAIN}" count="2" uniqueCount="2"><si><t>E_Total</t></si>
<si><r><t>∂E</t></r><r><rPr><b/></rPr><t>_total/∂w1</t></r><rPh sb="0" eb="1"><t>x</t></rPh></si></sst>"""

WORKBOOK = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="{_MAIN}" xmlns:r="{_R}">
<sheets><sheet name="Data" sheetId="1" r:id="rId1"/></sheets></workbook>"""

WORKBOOK_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="{_PKG}">
<Relationship Id="rId1" Type="{_R}/worksheet" Target="/xl/worksheets/sheet1.xml"/>
<Relationship Id="rId2" Type="{_R}/sharedStrings" Target="sharedStrings.xml"/></Relationships>"""

_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
CONTENT_TYPES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>
<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}.sharedStrings+xml"/>
</Types>"""

ROOT_RELS = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="{_PKG}"><Relationship Id="rId1" Type="{_R}/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""


@pytest.fixture
def excel_style(tmp_path):
    path = tmp_path / "excel.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", CONTENT_TYPES)
        book.writestr("_rels/.rels", ROOT_RELS)
        book.writestr("xl/workbook.xml", WORKBOOK)
        book.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        book.writestr("xl/sharedStrings.xml", STRINGS)
        book.writestr("xl/worksheets/sheet1.xml", SHEET)
    return path


def test_reader_matches_openpyxl(excel_style):
    sheet = xlsx.read_book(excel_style).sheets[0]
    values = openpyxl.load_workbook(excel_style, data_only=True).active
    formulas = openpyxl.load_workbook(excel_style).active
    for (row, col), value in sheet.values.items():
        assert value == values.cell(row, col).value, (row, col)
        text = formulas.cell(row, col).value
        if isinstance(text, str) and text.startswith("=") and row < 3:  # openpyxl does not move shared ones
            assert sheet.formula(row, col) == text[1:], (row, col)
    assert sheet.values[(1, 2)] == "∂E_total/∂w1"  # rich text runs joined, phonetic hint left out
    assert sheet.formula(3, 2) == "A3*2+$A$2"  # shared formula moved to its own cell
    assert sheet.formula(4, 2) == "A4*2+$A$2"
    assert sheet.values[(2, 3)] is True and isinstance(sheet.values[(2, 4)], xlsx.ErrorValue)
    assert sheet.values[(3, 1)] == 2.5  # position implied by order when r is absent


def test_labels_fold_case_spaces_and_partial_signs():
    for text, key in [
        ("E_Total", "E_total"),
        ("E_tot", "E_total"),
        ("∂E_total/∂w1", "dE_dw1"),
        ("dE/dw7", "dE_dw7"),
        ("δE/δw2", "dE_dw2"),
        ("out_o1", "a_o1"),
        ("Out O2", "a_o2"),
        ("net_h1:", "h1"),
        ("W5", "w5"),
        ("a(h2)", "a_h2"),
        ("Total Error", "E_total"),
    ]:
        assert tables.LABELS[tables.normalize(text)] == key, text


@pytest.mark.parametrize(
    "label", ["η", "eta", "ETA:", "lr", "LR =", "learning rate", "Learning_Rate (η)", "α"]
)
def test_eta_label_spellings(label):
    assert tables._ETA.match(tables._fold_eta(label))


def test_eta_value_in_the_label_cell(excel_style):
    sheet = xlsx.read_book(excel_style).sheets[0]
    table = tables.Table("Data", 1, {"w1": 1}, {"w1": "w1"}, rows=[2, 3, 4])
    tables.find_eta(sheet, table)
    assert table.eta == 0.5 and table.eta_source == "cell D1"


@pytest.mark.parametrize(
    "text, key",
    [
        ("w1 (i1→h1)", "w1"),
        ("E_total [loss]", "E_total"),
        ("h1 = w1*i1 + w2*i2", "h1"),
        ("a(h1)", "a_h1"),
        ("∂E/∂w5 = δo1·a_h1", "dE_dw5"),
        ("E_t", "E_total"),
        ("∂E_t/∂w2", "dE_dw2"),
        ("sigmoid(o2)", "a_o2"),
        ("a_{h1}", "a_h1"),
        ("∂E/∂w₁", "dE_dw1"),
        ("$E_{total}$", "E_total"),
    ],
)
def test_headers_with_notes_or_equations(text, key):
    assert tables.lookup(text) == key


@pytest.mark.parametrize("text", ["hello (w1)", "η", "Iteration table", "w9", "E3"])
def test_other_text_is_no_label(text):
    assert tables.lookup(text) is None
