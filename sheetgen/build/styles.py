"""The workbook's cell formats and page setup, shared by every sheet the writer draws."""

from __future__ import annotations

import xlsxwriter

from sheetgen.core.columns import COLUMNS


class Styles:
    def __init__(self, book: xlsxwriter.Workbook):
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.note = book.add_format({"italic": True, "font_color": "#555555"})
        self.link = book.add_format({"font_color": "blue", "underline": 1})
        self.header = book.add_format(
            {"bold": True, "bg_color": "#D9E1F2", "bottom": 1, "align": "center", "valign": "vcenter"}
        )
        self.label = book.add_format({"bold": True, "align": "right"})
        self.input = book.add_format({"bg_color": "#FFF2CC", "border": 1, "num_format": "General"})
        self.eta = book.add_format(
            {"bg_color": "#FFF2CC", "border": 1, "bold": True, "num_format": "General"}
        )
        self.iteration = book.add_format({"num_format": "0", "align": "center"})
        self.number = book.add_format({"num_format": "0.000000000"})
        self.by_column = [book.add_format({"num_format": c.number_format}) for c in COLUMNS]
        self._book, self._by_format = book, {}

    def number_format(self, num_format: str):
        """The cell format showing numbers as `num_format`, one per distinct format in the book."""
        if num_format not in self._by_format:
            self._by_format[num_format] = self._book.add_format({"num_format": num_format})
        return self._by_format[num_format]


def print_setup(sheet, header_row: int | None, landscape: bool = True) -> None:
    """A4, one page wide, the header row repeated on every page, sheet name and page in the footer."""
    if landscape:
        sheet.set_landscape()
    else:
        sheet.set_portrait()
    sheet.set_paper(9)  # A4
    sheet.fit_to_pages(1, 0)  # one page wide, as many tall as needed
    if header_row is not None:
        sheet.repeat_rows(header_row)
    sheet.set_footer("&L&A&RPage &P of &N")
