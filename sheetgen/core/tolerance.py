"""The one tolerance rule: when a value found in a sheet counts as the value expected.

A value passes when |found − expected| ≤ tol · max(|expected|, FLOOR). The floor makes values
smaller than 1e-3 compare absolutely (to tol · 1e-3): sums whose terms nearly cancel (h = w·i + w·i
with weights of opposite signs, a_o − t late in training) keep only an absolute precision in any
engine, while every quantity of the network that matters for a mistake is of order 1e-3 or larger
at the row where the mistake first shows.
"""

from __future__ import annotations

import numpy as np

FLOOR = 1e-3
DEFAULT_TOL = 1e-9


def relative_error(found, expected):
    """|found − expected| relative to |expected|, or to FLOOR below it (numbers or numpy arrays)."""
    return np.abs(found - expected) / np.maximum(np.abs(expected), FLOOR)


def close(found, expected, tol: float):
    """Whether found passes for expected (element-wise for arrays; NaN never passes)."""
    return relative_error(found, expected) <= tol
