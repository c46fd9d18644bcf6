"""The random worlds the formula proof evaluates at: every free quantity with its own value.

A world is K points at once (numpy arrays). Its free quantities are oracle.evaluate's arguments,
whatever they are (inputs, targets, weights, biases): those with a default (biases) are held at it
when a table's network lacks them. Rows are a short chain of training steps: two rows above the
row in question (free weights), the row itself (the row above updated by its gradients, as
training does) and two below; a table's first row starts the chain (its weights are free).
Every quantity is keyed as the forms name it: "a_h1@0" (this row), "w1@-1" (the row above),
"η", "param:i1" (a labelled input; "param:w1" is the initial weight, the row's own only in the
first row).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass

import numpy as np

from sheetgen.core import oracle
from sheetgen.core.intermediates import intermediates
from sheetgen.verify.read.tables import UPDATED, Table

K_WORLDS = 6
OFFSETS = range(-2, 3)  # row offsets a world holds: two rows above to two below
ETA = "η"


def free_names() -> list[str]:
    """The oracle's free variables (inputs, targets, initial weights, and whatever it gains later)."""
    return list(inspect.signature(oracle.evaluate).parameters)


def optional_names() -> dict[str, float]:
    """Free variables with a default (biases): a network without them holds them at that value."""
    parameters = inspect.signature(oracle.evaluate).parameters.values()
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def with_gradient() -> list[str]:
    """The free variables the oracle gives a gradient dE_d<name> of (what training may update)."""
    names = free_names()
    probe = oracle.evaluate(**{n: 0.3 for n in names})
    return [n for n in names if f"dE_d{n}" in probe]


def var(key: str, offset: int) -> str:
    return f"{key}@{offset}"


def split_var(name: str) -> tuple[str, int] | None:
    key, at, offset = name.rpartition("@")
    if not at:
        return None
    try:
        return key, int(offset)
    except ValueError:
        return None


@dataclass
class World:
    """K random points: every quantity's value, keyed as the forms name them."""

    first: bool  # True: the row is the table's first (its weights are free, nothing above it)
    values: dict[str, np.ndarray]
    free: dict[str, np.ndarray]  # the free quantities of the row, for reports
    trained: tuple[str, ...]
    fixed: tuple[str, ...]


def make_world(first: bool, absent=(), trained=None, k: int = K_WORLDS, seed: int = 20240611) -> World:
    """The worlds of a network: `absent` free variables held at their defaults (no biases), `trained`
    the ones updated from row to row (default: all with a gradient but the absent)."""
    rng = np.random.default_rng(seed + int(first))
    names = [n for n in free_names() if n not in absent]
    defaults = {n: v for n, v in optional_names().items() if n in absent}
    graded = with_gradient()
    trained = tuple(n for n in names if n in graded) if trained is None else tuple(trained)
    fixed = tuple(n for n in names if n not in trained)
    eta = rng.uniform(0.1, 2.0, k)
    fixed_values = {
        n: rng.uniform(-1.0, 1.0, k) if n in graded else rng.uniform(0.05, 0.95, k) for n in fixed
    }
    params = {n: rng.uniform(-1.0, 1.0, k) for n in trained}
    values: dict[str, np.ndarray] = {ETA: eta}
    free = {ETA: eta, **fixed_values}
    with np.errstate(all="ignore"):
        for offset in OFFSETS if not first else range(0, OFFSETS.stop):
            if offset == 0:
                free.update(params)
            out = oracle.evaluate(**fixed_values, **params, **defaults)
            out.update(intermediates(out))
            updated = {n: params[n] - eta * out[f"dE_d{n}"] for n in trained}
            for key, value in out.items():
                values[var(key, offset)] = np.broadcast_to(np.asarray(value, dtype=np.float64), (k,))
            for n in trained:
                values[var(UPDATED + n, offset)] = updated[n]
            params = updated
    for n in fixed:
        values[f"param:{n}"] = fixed_values[n]
    for n in trained:  # an initial weight is the row's own weight only in the first row
        values[f"param:{n}"] = values[var(n, 0)] if first else rng.uniform(-1.0, 1.0, k)
    return World(first, values, free, trained, fixed)


_WORLDS: dict[tuple, World] = {}


def world(first: bool, absent=(), trained=None) -> World:
    key = (first, tuple(absent), None if trained is None else tuple(trained))
    if key not in _WORLDS:
        _WORLDS[key] = make_world(first, tuple(absent), trained)
    return _WORLDS[key]


def network_of(table: Table, params: dict[tuple, str], col_keys: dict[int, str]) -> tuple[tuple, tuple]:
    """(absent, trained) free variables of a table's network.

    An optional variable (a bias) with no column and no labelled cell is absent: held at its
    default. One with a column is trained when the table has its gradient column, else fixed.
    """
    present = set(col_keys.values()) | set(table.params)
    labelled = {name.removeprefix("param:") for name in params.values()}
    absent = tuple(n for n in optional_names() if n not in present and n not in labelled)
    trained = tuple(
        n for n in with_gradient() if n not in absent and (n not in optional_names() or f"dE_d{n}" in present)
    )
    return absent, trained
