"""sheetgen: the classic step-by-step backpropagation sheet, as a live-formula Excel workbook.

The package is split into wings (see docs/architecture.md): core/ (oracle, column table, layout),
build/ (the workbook writer), verify/ (the checker) and office/ (LibreOffice). The modules that
used to sit flat here keep their old names: `from sheetgen import oracle, writer` still works.
"""

import importlib

__version__ = "0.1.0"

# Old flat name -> its module now; loaded on first use, so `import sheetgen` stays cheap.
_MOVED = {
    "oracle": "sheetgen.core.oracle",
    "columns": "sheetgen.core.columns",
    "errors": "sheetgen.core.errors",
    "xlsx": "sheetgen.core.xlsx",
    "params": "sheetgen.build.params",
    "writer": "sheetgen.build.writer",
    "equations": "sheetgen.build.equations",
    "tables": "sheetgen.verify.read.tables",
    "checks": "sheetgen.verify.prove.checks",
    "report": "sheetgen.verify.report.verdicts",
    "recalc": "sheetgen.office.recalc",
    "render": "sheetgen.office.render",
}


def __getattr__(name: str):
    if name in _MOVED:
        return importlib.import_module(_MOVED[name])
    raise AttributeError(f"module 'sheetgen' has no attribute {name!r}")
