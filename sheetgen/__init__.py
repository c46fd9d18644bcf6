"""sheetgen: the classic step-by-step backpropagation sheet, as a live-formula Excel workbook."""

__version__ = "0.1.0"
