"""LibreOffice: recalculate workbooks (for verify) and draw them to PNG (sheetgen render)."""
