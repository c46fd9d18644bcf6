"""The workbook's sheet names: what `sheetgen build` writes and what `sheetgen verify` looks for.

Summary first, Inputs, one `LR <η>` sheet per learning rate, Equations last. The learning-rate
sheet name is the one rule both wings must agree on (the Summary reads the LR sheets by name,
the verifier finds them by it), so it is written here only.
"""

from __future__ import annotations

SUMMARY_SHEET = "Summary"
INPUTS_SHEET = "Inputs"
EQUATIONS_SHEET = "Equations"
LR_PREFIX = "LR "


def eta_label(eta: float) -> str:
    """A learning rate as sheet names, headers and messages print it: 0.5, 1, 1e-05."""
    return f"{eta:g}"


def lr_sheet_name(eta: float) -> str:
    """The sheet of learning rate `eta`: `LR 0.5`."""
    return f"{LR_PREFIX}{eta_label(eta)}"


def is_lr_sheet(name: str) -> bool:
    return name.startswith(LR_PREFIX)
