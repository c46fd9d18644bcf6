"""sheetgen verify: find the tables in any workbook and check every cell against the oracle."""
