"""sheetgen build: template parameters in, a live-formula workbook out."""
