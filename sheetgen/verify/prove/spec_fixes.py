"""The smallest fix of a wrong formula in a book built for another network (verify/prove/built_spec.py).

The course's tables find it through fixes.py, on forms whose quantities are named "a_h1@0", "w1@-1",
"η", "param:w1". A built book's formula is read by built_spec as the spec's quantities of its own
row, of the row above, η and the Inputs values; here those are renamed to the same scheme and proven
at the spec's random points (built_spec's worlds), so fixes.py's one-edit search (a quantity read in
place of another, a sign, an operator, a factor, a number) names the mistake in the same words.
A reference to another sheet's cell (η of another LR sheet) is a quantity of its own, "cell:…",
drawn at random: reading it where η belongs is then found like any other swap.
"""

from __future__ import annotations

import numpy as np

from sheetgen.core import formula
from sheetgen.core.tolerance import close
from sheetgen.verify.prove.fixes import Search
from sheetgen.verify.prove.worlds import ETA

PROOF_TOL = 1e-9
MAX_TRIES = 10_000


def rename(name: str) -> str:
    """built_spec's name of a quantity in fixes.py's scheme: a_h1 -> a_h1@0, prev:w1 -> w1@-1, eta -> η."""
    if name == "eta":
        return ETA
    if name.startswith(("param:", "cell:")):
        return name
    if name.startswith("prev:"):
        return f"{name.removeprefix('prev:')}@-1"
    return f"{name}@0"


class _World:
    def __init__(self, values: dict):
        self.values = values


class _Reader:
    def __init__(self, worlds: dict[bool, _World]):
        self.worlds = worlds

    def world(self, first: bool) -> _World:
        return self.worlds[first]


class SpecProver:
    """What fixes.Search asks of a prover, for one built book's spec: its random points, and whether a
    form computes a quantity there."""

    def __init__(self, worlds: dict[bool, dict]):
        self.reader = _Reader({first: _World(values) for first, values in worlds.items()})
        self._compiled: dict[int, tuple] = {}

    def holds(self, tree, key: str, first: bool) -> bool:
        env = self.reader.world(first).values
        want = env.get(f"{key}@0")
        if want is None:
            return False
        try:
            compiled = formula.compile_tree(tree)
            with np.errstate(all="ignore"):
                got = np.broadcast_to(np.asarray(compiled(env), dtype=np.float64), np.shape(want))
        except (KeyError, formula.Unsupported, TypeError, ValueError):
            return False
        return bool(np.all(close(got, want, PROOF_TOL)))


def world_values(env: dict, cells: list[str], rng) -> dict:
    """built_spec's world renamed, with a random value for each other sheet's cell the formula reads."""
    values = {rename(k): np.asarray(v, dtype=float) for k, v in env.items()}
    size = len(next(iter(values.values())))
    for cell in cells:
        values.setdefault(cell, rng.uniform(0.1, 1.0, size))
    return values


def smallest_fix(tree, key: str, first: bool, worlds: dict[bool, dict], table=None) -> str | None:
    """The words of the first one-edit change (fixes.py) that makes `tree` (named as built_spec reads it)
    compute `key` at the spec's random points; None when the formula is right or no one edit fixes it."""
    renamed = formula.transform(
        tree, lambda n: formula.Var(rename(n.name)) if isinstance(n, formula.Var) else None
    )
    prover = SpecProver(worlds)
    # A long formula (a gradient written out inline over many outputs) has thousands of one-edit
    # candidates; each is one small numpy evaluation, and only the first wrong cell is searched.
    return Search(prover, renamed, key, first, table, max_tries=MAX_TRIES).run()
