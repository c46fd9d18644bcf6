"""What each way of writing an annotated copy keeps of a student's workbook: measured, not assumed.

    python benchmarks/annotate_methods.py

The student's book: one from `sheetgen build` (charts on every LR sheet and the Summary, the network
diagram image, frozen panes, hyperlinks, print titles, number formats, custom document properties),
then edited the way students do (one ∂E/∂w3 formula given a_h1's derivative), plus a data
validation and a conditional format added to its XML. Three methods mark the wrong cell (a fill and
a comment) and add a first sheet:
  * openpyxl: load, edit, save;
  * zip/XML edit (sheetgen.verify.report.workbook_edit, what --annotate uses);
  * LibreOffice: a headless conversion round trip of the same book (xlsx -> xlsx, no macro); any
    edit made through LibreOffice comes on top of this, so what the round trip loses, that method loses.
Prints one row per feature: how many the original has and each method's copy keeps.
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from sheetgen.build.params import load_template
from sheetgen.build.writer import write_workbook
from sheetgen.core import xlsx
from sheetgen.office import recalc
from sheetgen.verify.report import workbook_edit
from sheetgen.verify.report.workbook_edit import CellMark, NewSheet

WRONG_CELL = ("LR 0.5", 8, 27)  # AA8, ∂E/∂w3
# A sparkline of E_total beside the table: Excel keeps these in the sheet's extLst.
SPARKLINE = (
    '<extLst><ext uri="{05C60535-1F16-4fd2-B633-F4F36F0B64E0}" '
    'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"><x14:sparklineGroups '
    'xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
    '<x14:sparklineGroup displayEmptyCellsAs="gap">'
    "<x14:colorSeries rgb=\"FF376092\"/><x14:sparklines><x14:sparkline><xm:f>'LR 0.5'!V6:V26</xm:f>"
    "<xm:sqref>AG6</xm:sqref></x14:sparkline></x14:sparklines></x14:sparklineGroup></x14:sparklineGroups>"
    "</ext></extLst>"
)


def student_book(path: Path, work: Path) -> None:
    _, params = load_template("era-v1")
    built = work / "built.xlsx"
    write_workbook(built, params, [0.5, 1.0], 20)
    with zipfile.ZipFile(built) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "xl/worksheets/sheet3.xml":
                text = data.decode()
                text = text.replace("*M8*(1-M8)*", "*K8*(1-K8)*", 1)
                extra = (
                    '<conditionalFormatting sqref="V6:V26"><cfRule type="cellIs" dxfId="0" priority="1" '
                    'operator="greaterThan"><formula>0.3</formula></cfRule></conditionalFormatting>'
                    '<dataValidations count="1"><dataValidation type="decimal" sqref="B2">'
                    "<formula1>0</formula1><formula2>10</formula2></dataValidation></dataValidations>"
                )
                text = text.replace("<hyperlinks>", extra + "<hyperlinks>", 1)
                text = text.replace("</worksheet>", SPARKLINE + "</worksheet>", 1)
                data = text.encode()
            elif info.filename == "xl/styles.xml":
                text = data.decode()
                dxf = (
                    '<dxfs count="1"><dxf><fill><patternFill><bgColor rgb="FFFFC7CE"/></patternFill></fill>'
                    "</dxf></dxfs>"
                )
                text = re.sub(r"<dxfs[^>]*/>|<dxfs.*?</dxfs>", "", text, flags=re.DOTALL)
                text = text.replace("</cellStyles>", "</cellStyles>" + dxf, 1)
                data = text.encode()
            out.writestr(info, data)


def features(path: Path) -> dict[str, int]:
    """Counts of what a teacher would miss if a copy lost it."""
    book = xlsx.read_book(path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        sheets = [
            archive.read(n).decode("utf-8", "replace")
            for n in names
            if re.match(r"xl/worksheets/[^/]+\.xml$", n)
        ]
        styles = archive.read("xl/styles.xml").decode("utf-8", "replace") if "xl/styles.xml" in names else ""
        workbook = archive.read("xl/workbook.xml").decode("utf-8", "replace")
        custom = archive.read("docProps/custom.xml").decode() if "docProps/custom.xml" in names else ""
        charts = [
            archive.read(n).decode("utf-8", "replace") for n in names if n.startswith("xl/charts/chart")
        ]
        comments = sum(
            archive.read(n).decode("utf-8", "replace").count("<comment ")
            for n in names
            if "comments" in n.lower()
        )

    def count(pattern: str, texts: list[str]) -> int:
        return sum(len(re.findall(pattern, t)) for t in texts)

    return {
        "charts": sum(s.charts for s in book.sheets),
        "images (xl/media)": sum(n.startswith("xl/media/") for n in names),
        "frozen panes": count(r'<(?:\w+:)?pane\b[^>]*state="frozen"', sheets),
        "hyperlinks": count(r"<(?:\w+:)?hyperlink\b", sheets),
        "defined names (print titles)": count(r"<(?:\w+:)?definedName\b", [workbook]),
        "custom number formats": count(r"<(?:\w+:)?numFmt\b", [styles]),
        "column widths": count(r"<(?:\w+:)?col\b", sheets),
        "conditional formats": count(r"<(?:\w+:)?cfRule\b", sheets),
        "data validations": count(r"<(?:\w+:)?dataValidation\s", sheets),
        "chart series": count(r"<(?:\w+:)?ser>", charts),
        "chart log-scale axes": count(r"<(?:\w+:)?logBase\b", charts),
        "chart colours (srgbClr)": count(r"<(?:\w+:)?srgbClr\b", charts),
        "chart titles": count(r"<(?:\w+:)?title>", charts),
        "chart XML elements": count(r"<[\w:]+[\s/>]", charts),
        "sparklines (extLst)": count(r"<(?:\w+:)?sparkline>", sheets),
        "custom document properties": custom.count("<property "),
        "comments": comments,
        "sheets": len(book.sheets),
    }


def by_openpyxl(source: Path, target: Path) -> None:
    import openpyxl
    from openpyxl.comments import Comment
    from openpyxl.styles import PatternFill

    book = openpyxl.load_workbook(source)
    sheet, row, col = WRONG_CELL
    cell = book[sheet].cell(row=row, column=col)
    cell.fill = PatternFill("solid", fgColor="FFFF7C80")
    cell.comment = Comment("expected …, found …", "sheetgen verify")
    feedback = book.create_sheet("Feedback", 0)
    feedback["A1"] = "Feedback"
    book.save(target)


def by_zip_edit(source: Path, target: Path) -> None:
    sheet, row, col = WRONG_CELL
    marks = [CellMark(sheet, row, col, "FFFF7C80", "expected …, found …")]
    workbook_edit.annotate(source, target, marks, NewSheet("Feedback", [["Feedback"]]))


def by_libreoffice(source: Path, target: Path) -> None:
    with recalc.Batch([source], target.parent / "lo", recalculate=False) as batch:
        shutil.copyfile(batch.output(0), target)


def identical_parts(a: Path, b: Path) -> str:
    with zipfile.ZipFile(a) as x, zipfile.ZipFile(b) as y:
        theirs = set(y.namelist())
        same = sum(n in theirs and x.read(n) == y.read(n) for n in x.namelist())
        return f"{same}/{len(x.namelist())}"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sheetgen-annotate-") as work:
        work = Path(work)
        source = work / "student.xlsx"
        student_book(source, work)
        methods = {
            "openpyxl": by_openpyxl,
            "zip/XML edit": by_zip_edit,
            "LibreOffice round trip": by_libreoffice,
        }
        table = {"original": features(source)}
        seconds, parts = {}, {}
        for name, method in methods.items():
            target = work / f"{name.split()[0].replace('/', '_')}.xlsx"
            start = time.perf_counter()
            method(source, target)
            seconds[name] = time.perf_counter() - start
            table[name] = features(target)
            parts[name] = identical_parts(source, target)
    columns = list(table)
    print(f"{'feature':32}" + "".join(f"{c:>24}" for c in columns))
    for feature in table["original"]:
        print(f"{feature:32}" + "".join(f"{table[c][feature]:>24}" for c in columns))
    print(f"{'parts byte-identical':32}{'':>24}" + "".join(f"{parts[c]:>24}" for c in columns[1:]))
    print(f"{'seconds':32}{'':>24}" + "".join(f"{seconds[c]:>24.2f}" for c in columns[1:]))
    print(
        "(the copies add one comment and one sheet: comments and sheets should be original + 1)",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
