"""The shared core: the oracle, the one column table, the workbook layout, errors, the xlsx reader."""
