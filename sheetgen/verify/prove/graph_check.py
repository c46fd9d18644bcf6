"""Check a network read from a sheet's formula graph (verify/computed_network.py) against its spec's oracle.

Each weighted sum, activation and update has the quantity of the spec it must hold (h1 of sample 2
at iteration 3; the weight w5 after iteration 3's update); every other computed cell (an error, a
δ, a gradient, a loss) is named by matching what it computes against the oracle's quantities.
Then, as for a built book (verify/built_spec.py):

- values: each cell equals the oracle evaluated at the sheet's own numbers of its iteration (its
  weights, inputs, targets and η as recalculated: a sheet whose weights start at RAND() is checked
  from the values it drew);
- formulas: each distinct formula, with everything it reads computed from the iteration's weights,
  inputs, targets and η, is evaluated at random points where each has its own value, against the oracle.

The loss the updates descend (½Σ(t−a)², Σ(t−a)², cross-entropy) and, in full batch, whether the
gradient is the mean or the sum over the samples, are chosen as the ones the updates prove; a
displayed loss is checked against its own definition (with or without ½, summed or averaged) and
named. The first wrong cell is the first, in dependency order, that is wrong while what it reads is
right; a diagnosis is the one reference whose change makes it right.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np

from sheetgen.core import formula, oracle
from sheetgen.core.spec import NetworkSpec, sample_key
from sheetgen.core.tolerance import close
from sheetgen.core.xlsx import address
from sheetgen.verify.prove import graph_fixes
from sheetgen.verify.prove.checks import Finding, TableCheck
from sheetgen.verify.prove.proof import Unproven
from sheetgen.verify.read import computed_network
from sheetgen.verify.read.cell_graph import CellGraph, Key, where
from sheetgen.verify.read.computed_network import Reading
from sheetgen.verify.read.tables import Table

WORLDS = 64  # random points: ReLU gates of units sharing a bias agree at most of a few by chance
LOSS_WORDS = {
    "half-squared": "½Σ(t−a)²",
    "squared": "Σ(t−a)² without ½",
    "cross-entropy": "cross-entropy −Σ[t·ln a + (1−t)·ln(1−a)]",
    "softmax cross-entropy": "cross-entropy −Σ t·ln a",
}
SHOULD = "it should compute"  # a diagnosis naming the quantity a cell should hold, no smaller fix known
ETA_WORDS = ("η", "eta", "learning", "rate", "alpha", "α", "lr")


class Check:
    """One reading, checked under one choice of loss and gradient scaling."""

    def __init__(self, reading: Reading, loss: str, scale: float, tol: float):
        self.r, self.loss, self.scale, self.tol = reading, loss, scale, tol
        self.graph: CellGraph = reading.graph
        s = reading.samples_per_iteration
        samples = tuple(((0.0,) * reading.spec.sizes[0], (0.0,) * reading.spec.sizes[-1]) for _ in range(s))
        self.spec: NetworkSpec = replace(
            reading.spec, loss=loss, samples=samples if s > 1 else None, batch="full"
        )
        self.roles: dict[Key, tuple[int, str]] = {}  # cell -> (iteration, oracle key)
        for n in reading.nets:
            unit = self.spec.layers[n.layer - 1].units[n.unit]
            if n.cell:
                self.roles[n.cell] = (n.iteration, sample_key(unit, n.sample + 1, self.spec))
            if n.act:
                self.roles[n.act] = (n.iteration, sample_key(f"a_{unit}", n.sample + 1, self.spec))
        self.update_of = {u: reading.chain[u] for u in reading.updates}  # -> (name, iteration it starts)
        self.by_iteration: dict[int, list] = {}
        for key, (name, it) in reading.chain.items():
            self.by_iteration.setdefault(it, []).append((key, name))
        self.targets = {
            key for names in reading.data.values() for name, key in names.items() if name.startswith("t")
        }
        self.data_keys = {key for names in reading.data.values() for key in names.values()}
        # A softmax's targets are a distribution (they sum to 1): the shortcut δ = a − t assumes it.
        self.target_groups: dict[Key, list[Key]] = {}
        if reading.spec.output_activation == "softmax":
            for names in reading.data.values():
                group = [key for name, key in sorted(names.items()) if name.startswith("t")]
                for key in group:
                    self.target_groups[key] = group
        self.eta_value = self._eta_value()
        self.iteration_cache: dict[Key, int] = {}  # a cell -> the iteration of the weights it reads

    # -- worlds ------------------------------------------------------------------------------------
    def _data_cells(self):
        for k in range(self.r.iterations):
            for s, names in enumerate(self.r.instance(k)):
                for name, key in names.items():
                    yield k, s, name, key

    def sheet_env(self) -> dict:
        env = {}
        for key in self.r.chain:
            env[key] = np.array([self.graph.value(key)])
        for _, _, _, key in self._data_cells():
            env[key] = np.array([self.graph.value(key)])
        for key in self.r.fixed:
            env[key] = np.array([self.graph.value(key)])
        if self.r.eta is not None:
            env[self.r.eta] = np.array([self.graph.value(self.r.eta)])
        return env

    def random_env(self, rng) -> dict:
        """Random points: each weight, bias, input, target and η its own values, drawn when first read."""
        return _World(self, rng)

    def eta(self, env):
        return env[self.r.eta] if self.r.eta is not None else self.eta_value

    def oracle_at(self, env: dict, k: int, cache: dict) -> dict:
        if k in cache:
            return cache[k]
        with np.errstate(all="ignore"):
            cache[k] = oracle.evaluate_spec(self.spec, self._oracle_values(env, k), self.r.activations)
        return cache[k]

    def oracle_at_every_iteration(self, env: dict, cache: dict) -> None:
        """Fill `cache` with the oracle at the sheet's numbers of every iteration, in one evaluation of
        all of them side by side (the oracle is elementwise; one call per iteration was most of checking
        a book of 100 iterations)."""
        rows = [self._oracle_values(env, k) for k in range(self.r.iterations)]
        if not rows or any(row.keys() != rows[0].keys() for row in rows):
            return
        try:
            stacked = {
                name: np.concatenate([np.reshape(row[name], (1,)) for row in rows]) for name in rows[0]
            }
        except ValueError:  # a value not one number: each iteration on its own, as oracle_at does
            return
        with np.errstate(all="ignore"):
            out = oracle.evaluate_spec(self.spec, stacked, self.r.activations)
        for k in range(self.r.iterations):
            cache[k] = {name: value[k : k + 1] if np.ndim(value) else value for name, value in out.items()}

    def _oracle_values(self, env: dict, k: int) -> dict:
        values = {}
        width = WORLDS if isinstance(env, _World) else 1
        for key, name in self.by_iteration.get(k, ()):
            values[name] = env[key]
        for key in self.r.fixed:
            values[self.r.chain.get(key, (None,))[0] or _bias_name(self, key)] = env[key]
        for name in self.spec.weights + self.spec.bias_names:
            values.setdefault(name, np.zeros(width))
        for s, names in enumerate(self.r.instance(k)):
            for name in self.spec.inputs + self.spec.targets:
                key = names.get(name)
                values[sample_key(name, s + 1, self.spec)] = env[key] if key is not None else np.zeros(width)
        return values

    def expected(self, key: Key, env: dict, cache: dict):
        """What a role cell must hold in this env, or None for a cell without a role."""
        if key in self.update_of:
            name, k = self.update_of[key]
            row = self.oracle_at(env, k - 1, cache)
            if name not in self.spec.free:
                return row[name]
            return row[name] - self.eta(env) * self.scale * row[oracle.gradient_key(name)]
        if key in self.roles:
            k, name = self.roles[key]
            return self.oracle_at(env, k, cache)[name]
        return None

    def _eta_value(self) -> float:
        """η written into the update formulas as a number: the median of (w − w_next)/(scale·∂E/∂w)."""
        if self.r.eta is not None or not self.r.updates:
            return 0.0
        env, cache, found = self.sheet_env(), {}, []
        for u, (name, k) in self.update_of.items():
            row = self.oracle_at(env, k - 1, cache)
            g = float(self.scale * row[oracle.gradient_key(name)][0])
            w = float(row[name][0])
            if abs(g) > 1e-12:
                found.append((w - self.graph.value(u)) / g)
        return float(np.median(found)) if found else 0.0

    # -- proving --------------------------------------------------------------------------------
    def frontier(self, target: Key):
        chain = self.r.chain
        return lambda k: k != target and k in chain

    def random_point(self, target: Key, rng, override=None):
        """(run, leaves, env): the cell as a function of the weights' chains (each `override` cell computed
        by its edited formula), and random worlds holding every leaf it reads; None when it cannot be
        computed. The env draws what else it is asked for (η, a target) when first read."""
        try:
            run, leaves = self.graph.evaluator(target, self.frontier(target), override)
        except formula.Unsupported:
            return None
        env = self.random_env(rng)
        for leaf in leaves:
            _fill(env, leaf, self.graph)
        return run, leaves, env

    def prove(self, key: Key, rng, override=None, want_key: Key | None = None) -> bool | None:
        """True when the cell computes its quantity at random points; None when it cannot be evaluated."""
        target = want_key or key
        point = self.random_point(target, rng, override)
        if point is None:
            return None
        run, _, env = point
        want = self.expected(target, env, {})  # before run, which reads the env as a plain dict
        if want is None:
            return None
        got = _evaluated(run, env)
        return None if got is None else bool(close(got, want, 1e-9).all())

    def value_check(self, key: Key, cache: dict, env: dict) -> tuple[bool, float]:
        want = self.expected(key, env, cache)
        found = self.graph.value(key)
        expected = float(np.asarray(want).reshape(-1)[0])
        return bool(close(np.array([found]), np.array([expected]), self.tol)[0]), expected

    # -- the candidates an intermediate cell may compute ------------------------------------------------
    def candidates(self, env: dict, k: int, cache: dict) -> dict[str, np.ndarray]:
        row = self.oracle_at(env, k, cache)
        found: dict[str, np.ndarray] = {}
        spec = self.spec
        for name, value in row.items():
            if name.startswith(("dE_d", "delta_")):
                found[name] = value
                found[f"−{name}"] = -value
                if self.r.samples_per_iteration > 1 and name.startswith("dE_d"):
                    found[f"{name} (summed over the samples)"] = value * self.r.samples_per_iteration
                    found[f"−{name} (summed over the samples)"] = -value * self.r.samples_per_iteration
            elif not name.startswith(("i", "t", "w", "b", "E")):  # losses: by their definitions, below
                found[name] = value
        for name in spec.free:
            step = self.eta(env) * self.scale * row[oracle.gradient_key(name)]
            found[f"the step −η·∂E/∂{name}"] = -step
            found[f"the step η·∂E/∂{name}"] = step
        blocks = spec.blocks
        softmax = spec.output_activation == "softmax"
        totals = {"½": 0.0, "": 0.0, "ce": 0.0}
        for s in range(1, blocks + 1):
            per = {"½": 0.0, "": 0.0, "ce": 0.0}
            if softmax:  # the parts a softmax is written with: the largest sum, the sum of the exponentials
                zs = [row[sample_key(u, s, spec)] for u in spec.output.units]
                top = np.max(zs, axis=0)
                with np.errstate(all="ignore"):
                    found["max of the output sums" + _s(s, blocks)] = top
                    found["Σe^o" + _s(s, blocks)] = np.sum(np.exp(zs), axis=0)
                    found["Σe^(o−max)" + _s(s, blocks)] = np.sum(np.exp(np.array(zs) - top), axis=0)
            for layer_unit in spec.output.units:
                a = row[sample_key(f"a_{layer_unit}", s, spec)]
                t = row[sample_key(f"t{layer_unit[1:]}", s, spec)]
                z = row[sample_key(layer_unit, s, spec)]
                found[f"t−a_{layer_unit}" + _s(s, blocks)] = t - a
                found[f"a_{layer_unit}−t" + _s(s, blocks)] = a - t
                for term, value in (("½", 0.5 * (t - a) ** 2), ("", (t - a) ** 2)):
                    found[f"{term}(t−a_{layer_unit})²" + _s(s, blocks)] = value
                    per[term] = per[term] + value
                with np.errstate(all="ignore"):
                    ce = -t * np.log(a) if softmax else -(t * np.log(a) + (1 - t) * np.log(1 - a))
                per["ce"] = per["ce"] + ce
                found[f"cross-entropy of {layer_unit}" + _s(s, blocks)] = ce
                if softmax:
                    top = np.max([row[sample_key(u, s, spec)] for u in spec.output.units], axis=0)
                    with np.errstate(all="ignore"):
                        found[f"e^{layer_unit}" + _s(s, blocks)] = np.exp(z)
                        found[f"e^({layer_unit}−max)" + _s(s, blocks)] = np.exp(z - top)
                    continue
                found[f"f′({layer_unit})" + _s(s, blocks)] = oracle.times_derivative(
                    1.0, spec.output.activation, z, a
                )
            for term in per:
                totals[term] = totals[term] + per[term]
                if blocks > 1:
                    found[f"{_loss_name(term)} of sample {s}"] = per[term]
        for term, value in totals.items():
            found[f"{_loss_name(term)}" + (", summed over the samples" if blocks > 1 else "")] = value
            if blocks > 1:
                found[f"{_loss_name(term)}, averaged over the samples"] = value / blocks
        for layer in spec.hidden:
            for unit in layer.units:
                for s in range(1, blocks + 1):
                    z, a = row[sample_key(unit, s, spec)], row[sample_key(f"a_{unit}", s, spec)]
                    d = oracle.times_derivative(1.0, layer.activation, z, a)
                    found[f"f′({unit})" + _s(s, blocks)] = d
                    with np.errstate(all="ignore"):
                        found[f"∂E/∂a_{unit}" + _s(s, blocks)] = np.where(
                            d != 0, row[sample_key(f"delta_{unit}", s, spec)] / np.where(d != 0, d, 1), np.nan
                        )
        # Per-sample gradients of a full batch, before they are averaged.
        if blocks > 1:
            for layer in spec.layers:
                for unit, ws in zip(layer.units, layer.weights, strict=True):
                    for s in range(1, blocks + 1):
                        d = row[sample_key(f"delta_{unit}", s, spec)]
                        for w, src in zip(ws, layer.sources, strict=False):
                            x = row[sample_key(src, s, spec)]
                            found[f"∂E/∂{w} of sample {s}"] = d * x
                            found[f"−∂E/∂{w} of sample {s}"] = -d * x
        return found


def _s(s: int, blocks: int) -> str:
    return f" of sample {s}" if blocks > 1 else ""


def _loss_name(term: str) -> str:
    return {"½": "½Σ(t−a)²", "": "Σ(t−a)²", "ce": "cross-entropy"}[term]


def _bias_name(check: Check, key: Key) -> str:
    for n in check.r.nets:
        if key in n.biases:
            return check.spec.layers[n.layer - 1].biases[n.unit]
    raise KeyError(key)


def _match(values: np.ndarray, candidates: dict) -> str | None:
    for name, want in candidates.items():
        want = np.broadcast_to(np.asarray(want, dtype=float), values.shape)
        if np.all(np.isfinite(want)) and close(values, want, 1e-9).all():
            return name
    return None


# -- the whole reading -------------------------------------------------------------------------------


def _topological(graph: CellGraph) -> dict[Key, int]:
    """Each computed cell's place in dependency order (every cell after the cells it reads), ties broken
    by sheet, row and column, so that of two cells neither reads the upper one comes first."""
    import heapq

    order = {name: i for i, name in enumerate(graph.order)}
    readers: dict[Key, list[Key]] = {}
    waiting: dict[Key, int] = {}
    for key in graph.trees:
        inside = [ref for ref in graph.direct(key) if ref in graph.trees and ref != key]
        waiting[key] = len(inside)
        for ref in inside:
            readers.setdefault(ref, []).append(key)
    place = lambda k: (order.get(k[0], len(order)), k[1], k[2], k)  # noqa: E731
    ready = [place(k) for k, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    index: dict[Key, int] = {}
    while ready:
        key = heapq.heappop(ready)[-1]
        index[key] = len(index)
        for reader in readers.get(key, ()):
            waiting[reader] -= 1
            if waiting[reader] == 0:
                heapq.heappush(ready, place(reader))
    for key in graph.trees:  # cells in a circle come last
        index.setdefault(key, len(index))
    return index


def _group(graph: CellGraph, keys, first_iteration) -> dict[tuple, list[Key]]:
    """Cells grouped by sheet, column and formula relative to its cell: a column filled down is one group."""
    groups: dict[tuple, list[Key]] = {}
    for key in keys:
        groups.setdefault((key[0], key[2], graph.shape(key), first_iteration(key)), []).append(key)
    return groups


def _ancestors(graph: CellGraph, key: Key, chain) -> list[Key]:
    seen, stack = set(), list(graph.direct(key))
    while stack:
        k = stack.pop()
        if k in seen or k not in graph.trees or k in chain:
            continue
        seen.add(k)
        stack.extend(graph.direct(k))
    return list(seen)


def _ancestors_of_all(graph: CellGraph, keys, chain) -> set[Key]:
    """The union of _ancestors over `keys`, in one walk (each cell visited once, not once per update)."""
    seen: set[Key] = set()
    stack = [ref for key in keys for ref in graph.direct(key)]
    while stack:
        k = stack.pop()
        if k in seen or k not in graph.trees or k in chain:
            continue
        seen.add(k)
        stack.extend(graph.direct(k))
    return seen


class Outcome:
    """What checking a reading found."""

    def __init__(self, check: Check):
        self.check = check
        self.proven_updates = 0
        self.failures: list[tuple[Key, str]] = []  # (role cell, "value" or "formula")
        self.names: dict[Key, str | None] = {}  # intermediate cell -> the quantity it computes (None: none)
        self.max_rel_error = 0.0
        self.proven_forms = 0


def _run(check: Check, rng, topo: dict[Key, int], name: bool = True) -> Outcome:
    """Check every role cell (values and formulas) and, with `name`, name every other cell."""
    out = Outcome(check)
    graph, r = check.graph, check.r
    role_cells = list(check.roles) + list(check.update_of)
    iteration_of = {k: v[0] for k, v in check.roles.items()} | {u: v[1] for u, v in check.update_of.items()}
    env, cache = check.sheet_env(), {}
    check.oracle_at_every_iteration(env, cache)
    failing = set()
    for key in role_cells:
        ok, expected = check.value_check(key, cache, env)
        found = graph.value(key)
        if np.isfinite(found) and np.isfinite(expected):
            out.max_rel_error = max(out.max_rel_error, abs(found - expected) / max(abs(expected), 1e-3))
        if not ok:
            failing.add(key)
            out.failures.append((key, "value"))
    for group in _group(graph, role_cells, lambda k: iteration_of[k] <= 1).values():
        key = group[0]
        proven = check.prove(key, rng)
        if proven:
            out.proven_forms += 1
            if key in check.update_of:
                out.proven_updates += len(group)
        elif key not in failing:
            failing.add(key)
            out.failures.append((key, "formula"))
    if not name:
        return out
    # Name every other computed cell of the network by what it computes.
    others = [k for k in graph.trees if k not in check.roles and k not in check.update_of]
    relevant = _ancestors_of_all(
        graph, [key for key in role_cells if key in check.update_of or key in failing], r.chain
    )
    sheets = {n.anchor[0] for n in r.nets}
    others = [k for k in others if k in relevant or k[0] in sheets]
    # Cells of one column and formula are one quantity over the iterations, unless they read different
    # samples (a transposed table stacks the samples' blocks down one column).
    sample_of = {c: n.sample for n in r.nets for c in (n.cell, n.act) if c}
    sample_of |= {c: s for (_, s), names in r.data.items() for c in names.values()}

    def samples_read(k):
        return frozenset(sample_of[c] for c in graph.direct(k) if c in sample_of)

    for group in _group(graph, others, samples_read).values():
        key = group[0]
        name = _name_of(check, key, rng)
        for k in group:
            out.names[k] = name
    out.failures.sort(key=lambda f: topo.get(f[0], 0))
    return out


def _evaluated(run, env) -> np.ndarray | None:
    """`run` at the random worlds `env`, one value per world; None where it cannot be computed."""
    try:
        return np.broadcast_to(np.asarray(run(env), dtype=float), (WORLDS,))
    except (formula.Unsupported, KeyError, TypeError, ValueError):
        return None


def _name_of(check: Check, key: Key, rng) -> str | None:
    point = check.random_point(key, rng)
    if point is None:
        return None
    run, leaves, env = point
    iterations = [check.r.chain[leaf][1] for leaf in leaves if leaf in check.r.chain] or [0]
    k = max(iterations)
    got = _evaluated(run, env)
    if got is None:
        return None
    cache: dict = {}
    name = _match(got, check.candidates(env, k, cache))
    if (
        name is None and k + 1 < check.r.iterations and any(u in leaves for u in check.update_of)
    ):  # a cell reading the next weights belongs to that iteration
        name = _match(got, check.candidates(env, k, cache))
    return name


# -- naming cells and the smallest fix ------------------------------------------------------------------


def _quantity(check: Check, key: Key, names: dict) -> str | None:
    if key in check.update_of:
        name, k = check.update_of[key]
        return f"{name} after update {k}"
    if key in check.roles:
        return check.roles[key][1]
    if key in check.r.chain:
        return check.r.chain[key][0]
    if key == check.r.eta:
        return "η"
    for names_of in check.r.data.values():
        for name, cell in names_of.items():
            if cell == key:
                return name
    if key in check.r.fixed:
        return check.r.fixed[key]
    return names.get(key)


def _kind_of_swap(old: str | None, new: str | None) -> str:
    old, new = old or "", new or ""
    strip = lambda q: q.split("_s")[0].removeprefix("a_")  # noqa: E731
    if new == "η":
        return "η read from the wrong cell"
    if old.startswith("a_") is False and new.startswith("a_") and strip(old) == strip(new):
        return "the pre-activation where the activation belongs"
    if old.startswith("a_") and new.startswith("a_") and strip(old) != strip(new):
        return "another unit's activation (and its derivative)"
    if old[:1] in "wb" and new[:1] in "wb" and old[:2] != "dE":
        return "the wrong weight"
    if old[:1] in "it" and new[:1] == old[:1] and old[1:2].isdigit():
        return "the wrong input" if old[0] == "i" else "the wrong target"
    return "the wrong cell"


def _refs_in_order(tree) -> list[formula.Ref]:
    found: list[formula.Ref] = []

    def visit(node):
        if isinstance(node, formula.Ref):
            found.append(node)
        return None

    formula.transform(tree, visit)
    return found


def _swap_tree(tree, cell: Key, ref: formula.Ref, other: Key, at: Key, at_tree, place: int | None = None):
    """`tree` of cell `cell`, a copy of the formula of `at` (`at_tree`), with the reference `ref` of
    `at`'s formula moved to read `other` instead, alike in the copy: where the copy's reference in that
    place moves with the cell (a column filled down, a block of columns copied for the next sample), the
    new one moves alike; where it stays (a shared weight, η), the new one stays too. `place`: only that
    reading of `ref` (in the order the formula reads it), the others kept."""
    shift = (cell[1] - at[1], cell[2] - at[2])
    mine = _refs_in_order(at_tree)
    position = iter(range(len(mine)))
    seen = [0]

    def swap(node):
        if not isinstance(node, formula.Ref):
            return None
        i = next(position)
        if mine[i] != ref:
            return None
        seen[0] += 1
        if place is not None and seen[0] - 1 != place:
            return None
        moves = formula.ref_key(node, cell[0]) != formula.ref_key(ref, at[0])
        row, col = (other[1] + shift[0], other[2] + shift[1]) if moves else (other[1], other[2])
        return formula.Ref(other[0] if other[0] != cell[0] else None, row, col, ref.row_abs, ref.col_abs)

    return formula.transform(tree, swap)


_PLACE = formula.Ref(None, 0, 0)


def _skeleton(tree):
    """The formula with every reference and range blanked: what copies of one formula share."""

    def blank(node):
        if isinstance(node, formula.Ref):
            return _PLACE
        if isinstance(node, formula.Area):
            return formula.Area(_PLACE, _PLACE)
        return None

    return formula.transform(tree, blank)


def _places(tree, sheet: str) -> list[Key]:
    """The cells a formula names, in order: each reference, and each range's two corners."""
    found: list[Key] = []

    def visit(node):
        if isinstance(node, formula.Ref):
            found.append(formula.ref_key(node, sheet))
        elif isinstance(node, formula.Area):
            found.extend((formula.ref_key(node.first, sheet), formula.ref_key(node.last, sheet)))
        return None

    formula.transform(tree, visit)
    return found


def _copies(graph: CellGraph, wrong: Key) -> list[Key]:
    """`wrong` and the cells of its sheet holding its formula, filled down or copied across (the same
    mistake in every sample's block is one mistake, fixed alike): the same formula whose every reference
    is either the same cell or moved as the cell moved."""
    skeletons = graph.__dict__.setdefault("_skeletons", {})
    if wrong[0] not in skeletons:
        found: dict = {}
        for key, tree in graph.trees.items():
            if key[0] == wrong[0]:
                found.setdefault(_skeleton(tree), []).append(key)
        skeletons[wrong[0]] = found
    mine = _places(graph.trees[wrong], wrong[0])
    group = [wrong]
    for key in skeletons[wrong[0]].get(_skeleton(graph.trees[wrong]), []):
        if key == wrong:
            continue
        dr, dc = key[1] - wrong[1], key[2] - wrong[2]
        theirs = _places(graph.trees[key], key[0])
        if all(t == m or t == (m[0], m[1] + dr, m[2] + dc) for t, m in zip(theirs, mine, strict=True)):
            group.append(key)
    return group


def _diagnose(
    check: Check, wrong: Key, test, names: dict, k: int, needed: set | None = None
) -> tuple[str, Key] | None:
    """The one reference of `wrong` (changed alike in every cell of its column holding the same formula)
    whose change passes `test(override)`: (what it says, the right cell). `needed`: the cells the test
    computes, when known (the copies of the formula elsewhere need no edit)."""
    graph = check.graph
    tree = graph.trees.get(wrong)
    if tree is None:
        return None
    group = [c for c in _copies(graph, wrong) if needed is None or c == wrong or c in needed]
    pool = [c for c, (_, it) in check.r.chain.items() if it == k]
    pool += list(check.r.fixed)
    for s in range(check.r.samples_per_iteration):
        pool += list(check.r.data.get((k, s), {}).values())
    pool += [c for c, (it, _) in check.roles.items() if it == k]
    span = _rows_of_iteration(check, k)  # a named cell of another iteration is never the one meant
    pool += [
        c
        for c, n in names.items()
        if n
        and c in graph.trees
        and (c in (needed or ()) or span.get(c[0], (0, -1))[0] <= c[1] <= span.get(c[0], (0, -1))[1])
    ]
    eta_cells = ([check.r.eta] if check.r.eta is not None else []) + _eta_candidates(check)
    pool = list(dict.fromkeys(pool + eta_cells))
    refs = [n for n in formula.walk(tree) if isinstance(n, formula.Ref)]
    # Every place a reference is read, then each place of one read twice alone (a term of a long sum
    # reading w13 where w19 belongs, w13 being right in another term).
    places = [(ref, None) for ref in dict.fromkeys(refs)]
    places += [(ref, n) for ref in dict.fromkeys(refs) if refs.count(ref) > 1 for n in range(refs.count(ref))]
    said_of = {other: _quantity(check, other, names) or "" for other in pool}
    for ref, place in places:
        real = graph.resolve(formula.ref_key(ref, wrong[0]))
        # A quantity of the same family first (h3 for h2, w7 for w5), as fixes.py ranks its swaps: with a
        # step's gate IF(h>0,1,0), a bias of the same sign may pass the random points too.
        family = _family(_quantity(check, real, names) or "")
        for other in sorted(pool, key=lambda c, family=family: _family(said_of[c]) != family):
            if other in (real, wrong):
                continue
            try:
                override = {
                    cell: formula.compile_tree(
                        _swap_tree(graph.trees[cell], cell, ref, other, wrong, tree, place), cell[0]
                    )
                    for cell in group
                }
            except formula.Unsupported:
                continue
            if test(override):
                old, new = _quantity(check, real, names), _quantity(check, other, names)
                if other in eta_cells:
                    new = "η"
                said = _kind_of_swap(old, new)
                old_text = old or graph.label(real) or "a cell"
                return (
                    f"{said}: it reads {old_text} ({where(real)}) where "
                    f"{new or graph.label(other) or 'another cell'} ({where(other)}) belongs",
                    other,
                    override,
                )
    return None


def _family(quantity: str) -> str:
    """h3_s4 -> h#_s#, a_h1 -> a_h#, w12 -> w#: quantities easily read for one another."""
    return re.sub(r"\d+", "#", quantity.split(" ")[0])


def _rows_of_iteration(check: Check, k: int) -> dict[str, tuple[int, int]]:
    """Per sheet, the first and last row holding iteration k's sums, activations and weights."""
    cells = [c for c, (it, _) in check.roles.items() if it == k]
    cells += [c for c, (_, it) in check.r.chain.items() if it == k]
    span: dict[str, tuple[int, int]] = {}
    for sheet, row, _ in cells:
        low, high = span.get(sheet, (row, row))
        span[sheet] = (min(low, row), max(high, row))
    return span


def _eta_candidates(check: Check) -> list[Key]:
    """Leaves labelled like a learning rate (η, eta, learning rate, α): where η may be meant to come from."""
    found = []
    for sheet in check.graph._values.sheets:
        for (row, col), value in sheet.values.items():
            if isinstance(value, float) and 0 < value <= 10:
                key = (sheet.name, row, col)
                if key in check.graph.trees or key in check.graph.volatile:
                    continue
                label = (check.graph.label(key) or "").lower()
                if any(word in label for word in ETA_WORDS):
                    found.append(key)
        if len(found) > 20:
            break
    return found


# -- what the report says ---------------------------------------------------------------------------


def describe(check: Check, displayed: str | None) -> tuple[str, dict]:
    r, spec = check.r, check.spec
    sizes = "-".join(map(str, spec.sizes))
    if r.step_rule:
        hidden, output = set(r.kinds[:-1]), r.kinds[-1]
        acts = output if hidden <= {output} else f"{'/'.join(sorted(hidden))} hidden, {output} output"
    elif spec.hidden and spec.activation != spec.output_activation:
        acts = f"{spec.activation} hidden, {spec.output_activation} output"
    else:
        acts = spec.output_activation if not spec.hidden else spec.activation
    if spec.biases == "none":
        biases = "no biases"
    else:
        biases = f"a bias per {spec.bias_per} ({spec.biases})"
    s = r.samples_per_iteration
    online = _online_samples(check)
    if s > 1 and not r.updates:
        samples = f"{s} samples"
    elif s > 1:
        gradient = "mean" if check.scale == 1 else "sum"
        samples = f"{s} samples, full batch ({gradient} of the per-sample gradients)"
    elif online > 1:
        samples = f"{online} samples, online"
    else:
        samples = "1 sample"
    parts = [f"{sizes} {acts}", biases, samples]
    if r.updates and not r.step_rule:
        softmax = spec.output_activation == "softmax" and check.loss == "cross-entropy"
        parts.append(f"loss {LOSS_WORDS['softmax cross-entropy' if softmax else check.loss]}")
    if displayed:
        parts.append(f"displayed loss {displayed}")
    text = ", ".join(parts)
    data = {
        "read_from": "formulas",
        "sizes": list(spec.sizes),
        "activation": (r.kinds[0] if r.step_rule else spec.activation) if spec.hidden else None,
        "output_activation": r.kinds[-1] if r.step_rule else spec.output_activation,
        "biases": spec.biases,
        "bias_per": spec.bias_per if spec.biases != "none" else None,
        "samples": max(s, online),
        "batch": "full" if s > 1 else ("online" if online > 1 else None),
        "gradient": ("mean" if check.scale == 1 else "sum") if s > 1 else None,
        "loss": check.loss if r.updates and not r.step_rule else None,
        "displayed_loss": displayed,
        "iterations": r.iterations,
        "eta": float(check.graph.value(r.eta)) if r.eta is not None else (check.eta_value or None),
        "random_start": bool(r.random_start),
        "text": text,
    }
    return text, data


def _online_samples(check: Check) -> int:
    if check.r.samples_per_iteration != 1:
        return 0
    seen = []
    wanted = sorted(check.r.data.get((0, 0), {}))
    for k in range(check.r.iterations):
        names = check.r.data.get((k, 0), {})
        if sorted(names) != wanted:
            continue  # the last row's target is read by no update: not a sample of its own
        values = tuple(round(check.graph.value(c), 12) for _, c in sorted(names.items()))
        if values not in seen:
            seen.append(values)
    return len(seen)


# -- verdicts -------------------------------------------------------------------------------------------


def judge(result, original, values, tol: float) -> bool:
    """Fill `result` (a report.BookResult) from the network the book's formulas compute; False when they
    compute none (no weighted sum feeding an activation), so the caller says what it says today."""
    try:
        graph = CellGraph(original, values)
        readings = computed_network.read(graph)
    except (ValueError, computed_network.NotANetwork):
        return False
    except computed_network.MisreadSource as mistake:
        result.tables.append(_misread_source(graph, mistake, tol))
        return True
    except computed_network.Unexpressible as error:
        result.network_difference = (
            f"{error}: no network spec expresses that (sheetgen verifies fully-connected networks "
            "with 0 to 2 hidden layers of sigmoid, tanh, ReLU or linear units and sigmoid or linear outputs)"
        )
        return True
    rng = np.random.default_rng(20261202)
    topo = _topological(graph)
    for reading in readings:
        table, network = _judge_reading(reading, tol, rng, topo)
        result.tables.append(table)
        if network.get("learning_rule_text"):
            result.learning_rule = network.pop("learning_rule_text")
        if result.network is None:
            result.network = network
    return True


def _misread_source(graph: CellGraph, mistake, tol: float) -> TableCheck:
    """WRONG at the weighted sum that reads a pre-activation: what it holds with the activation read
    instead is what it should hold."""
    run, leaves = graph.evaluator(mistake.cell, lambda k: True)
    env = {leaf: np.array([graph.value(leaf)]) for leaf in leaves}
    env[mistake.read] = np.array([graph.value(mistake.right)])
    expected = float(np.asarray(run(env), dtype=float).reshape(-1)[0])
    sheet, row, col = mistake.cell
    label = graph.label(mistake.cell) or "a weighted sum"
    finding = Finding(
        sheet,
        address(row, col),
        "a weighted sum",
        label,
        expected,
        graph.value(mistake.cell),
        graph.texts.get(mistake.cell),
        f"it reads the pre-activation {where(mistake.read)} where the unit's activation "
        f"{where(mistake.right)} belongs (the pre-activation where the activation belongs)",
        row,
    )
    table = Table(sheet, max(row - 1, 1), {"network": col}, {"network": "network"}, [row])
    result = TableCheck(table, 1, False, 0.0)
    result.first_wrong = finding
    result.wrong_cells.append(finding)
    result.wrong_columns.append(finding.label)
    return result


def _judge_reading(reading: Reading, tol: float, rng, topo) -> tuple[TableCheck, dict]:
    if reading.step_rule and reading.updates:
        return _step_rule(reading, tol, topo)
    losses = ["half-squared", "squared"] + (
        ["cross-entropy"] if reading.spec.output_activation == "sigmoid" and not reading.step_rule else []
    )
    if reading.spec.output_activation == "softmax":
        losses = ["cross-entropy"]
    scales = [1.0, float(reading.samples_per_iteration)] if reading.samples_per_iteration > 1 else [1.0]
    if reading.updates:
        return _judge_updates(reading, losses, scales, tol, rng, topo)
    best = None
    for loss in losses:
        for scale in scales:
            check = Check(reading, loss, scale, tol)
            outcome = _run(check, rng, topo)
            named = sum(1 for n in outcome.names.values() if n)
            score = (-len(outcome.failures), named)
            if best is None or score > best[0]:
                best = (score, check, outcome)
            # Right and every cell named: only the sheet's own loss names its error terms.
            if not outcome.failures and named == len(outcome.names):
                break
        if best and not best[2].failures and best[0][1] == len(best[2].names):
            break
    _, check, outcome = best
    return _table(check, outcome, tol, rng, topo)


def _judge_updates(reading: Reading, losses, scales, tol: float, rng, topo) -> tuple[TableCheck, dict]:
    """The loss and gradient scaling are the ones that prove the most updates: each tried on the role
    cells alone, and only the best named cell by cell (naming is most of the work, and a sheet with a
    mistake fails under every choice). Wrong under every choice, the one whose first wrong cell has
    the smallest fix is taken, else the loss the sheet displays."""
    tried = []
    for loss in losses:
        for scale in scales:
            check = Check(reading, loss, scale, tol)
            outcome = _run(check, rng, topo, name=False)
            tried.append(((outcome.proven_updates, -len(outcome.failures)), check))
            # With η typed into the updates every loss proves them (η scales): the names decide, below.
            if not outcome.failures and not reading.eta_literal:
                break
        if not tried[-1][0][1] and not reading.eta_literal:
            break
    tried.sort(key=lambda t: t[0], reverse=True)
    top = tried[0][0]
    best = None
    for score, check in tried:  # ties broken by how many other cells each choice names
        if score == top:
            outcome = _run(check, rng, topo)
            named = sum(1 for n in outcome.names.values() if n)
            if best is None or named > best[0]:
                best = (named, check, outcome)
    _, check, outcome = best
    finding = None
    if outcome.failures:
        shown = None
        chosen = check
        for score, other_check in sorted(tried, key=lambda t: t[1] is not chosen):  # the best first
            other = outcome if other_check is chosen else _run(other_check, rng, topo)
            if not other.failures:
                continue
            found = _first_wrong(other_check, other, rng, topo)
            if found.diagnosis and not found.diagnosis.startswith(SHOULD):
                check, outcome, finding = other_check, other, found
                break
            tie = score == top  # as many updates proven, as many failures
            if shown is None and tie and _loss_of(_displayed_loss(other, topo)) == other_check.loss:
                shown = (other_check, other, found)
            if finding is None:
                finding = found
        else:
            if shown is not None:
                check, outcome, finding = shown
    return _table(check, outcome, tol, rng, topo, finding)


def _loss_of(displayed: str | None) -> str | None:
    """The loss a displayed loss's name says."""
    if not displayed:
        return None
    if "cross-entropy" in displayed:
        return "cross-entropy"
    return "squared" if "without ½" in displayed else "half-squared"


def _displayed_loss(outcome: Outcome, topo) -> str | None:
    losses = [
        (topo.get(k, 0), n) for k, n in outcome.names.items() if n and ("²" in n or "cross-entropy" in n)
    ]
    if not losses:
        return None
    name = max(losses)[1]
    if " of sample " in name:
        return None  # one sample's loss only: the total is not shown
    if outcome.check.spec.sizes[-1] == 1:
        name = re.sub(r"cross-entropy of o1$", "cross-entropy", name)  # the one output's is the total
    return re.sub(r"\(t−a_o\d+\)", "Σ(t−a)", name).replace("ΣΣ", "Σ").replace("²", "²") + (
        " without ½" if "½" not in name and "²" in name else ""
    )


def _network_table(reading) -> Table:
    """The table a network read from its formulas is reported as: the rows of its weighted sums on
    the first sheet that holds them, headed by the row above."""
    anchors = [n.anchor for n in reading.nets]
    sheet = anchors[0][0]
    rows = sorted({k[1] for k in anchors if k[0] == sheet})
    return Table(
        sheet,
        max(1, rows[0] - 1),
        {"network": min(k[2] for k in anchors if k[0] == sheet)},
        {"network": "network"},
        rows,
    )


def _table(check: Check, outcome: Outcome, tol, rng, topo, finding=None) -> tuple[TableCheck, dict]:
    r, graph = check.r, check.graph
    table = _network_table(r)
    displayed = _displayed_loss(outcome, topo)
    text, data = describe(check, displayed)
    eta_value = float(graph.value(r.eta)) if r.eta is not None else check.eta_value
    eta_note = (
        f"η = {eta_value:g} from {where(r.eta)}"
        if r.eta is not None
        else (f"η = {eta_value:g} written into the update formulas" if r.updates else "")
    )
    result = TableCheck(
        table,
        r.iterations,
        False,
        outcome.max_rel_error,
        eta=eta_value if r.updates else None,
        eta_note=eta_note,
    )
    result.proven_forms = outcome.proven_forms
    if r.random_start:
        cells = ", ".join(where(k) for k in r.random_start[:4])
        result.notes.append(
            f"its starting weights are drawn by RAND() ({cells}{', …' if len(r.random_start) > 4 else ''}): "
            "checked from the values they drew when recalculated"
        )
    named = [(topo.get(k, 0), k, n) for k, n in outcome.names.items() if n]
    if named:
        first = {}
        for _, k, n in sorted(named):
            first.setdefault(n, k)
        shown = [(0, k, n) for n, k in list(first.items())[:8]]
        result.notes.append(
            "cells read as: "
            + ", ".join(f"{n} ({where(k)})" for _, k, n in shown)
            + (", …" if len(first) > 8 else "")
        )
    if finding is None and outcome.failures:
        finding = _first_wrong(check, outcome, rng, topo)
    before = topo.get(_key_of(finding), 0) if finding else None
    odd = _wrong_intermediate(check, outcome, rng, topo, before)
    if odd is not None and (finding is None or topo.get(odd[0], 0) < topo.get(_key_of(finding), 0)):
        finding = odd[1]
    if not r.updates:
        backward = [
            n for _, _, n in sorted(named) if n.startswith(("delta_", "−delta_", "dE_d", "−dE_d", "∂E"))
        ]
        have = "a forward pass" + (f", the loss {displayed}" if displayed else "")
        if backward:
            have += ", error terms and gradients (" + ", ".join(dict.fromkeys(backward[:6])) + ")"
        if finding:
            expected = "" if math.isnan(finding.expected) else f", expected {finding.expected:.12g}"
            state = f"wrong from {_where_finding(finding)} (found {finding.describe_found()}{expected}" + (
                f"; {finding.diagnosis})" if finding.diagnosis else ")"
            )
        else:
            state = "all of it right"
        result.incomplete = f"{have}, and no weight update ({text}): {state}"
        return result, data
    if finding:
        result.first_wrong = finding
        result.wrong_cells.append(finding)
        result.wrong_columns.append(finding.label)
    elif r.eta_literal:
        held = [
            k
            for k in _eta_candidates(check)
            if abs(graph.value(k) - eta_value) <= 1e-12 * max(1, abs(eta_value))
        ]
        if held:
            result.unproven.append(
                Unproven(
                    held[0][0],
                    address(held[0][1], held[0][2]),
                    "η",
                    "constant",
                    eta_value,
                    "η",
                    f"the updates have η = {eta_value:g} typed into their formulas while "
                    f"{where(held[0])} holds η: change that cell and they do not follow",
                )
            )
    result.verified = not (result.first_wrong or result.unproven or result.incomplete)
    return result, data


def _where_finding(finding: Finding) -> str:
    return f"'{finding.sheet}'!{finding.address}"


def _error_source(graph: CellGraph, key: Key, topo: dict[Key, int]) -> Key | None:
    """The earliest cell `key` depends on that shows an error instead of a number: every cell computed
    from it inherits the error, so it is the first wrong one."""
    seen, stack, errors = set(), [key], []
    while stack:
        k = stack.pop()
        if k in seen:
            continue
        seen.add(k)
        if not np.isfinite(graph.value(k)) and isinstance(graph.shown(k), str):
            errors.append(k)
        if k in graph.trees:
            stack.extend(graph.direct(k))
    return min(errors, key=lambda k: (topo.get(k, 0), k[1], k[2])) if errors else None


def _error_finding(check: Check, key: Key, outcome: Outcome) -> Finding:
    graph = check.graph
    shown = graph.shown(key)
    circular = key in _circle(graph, key)
    why = "a circular reference: it reads itself through other cells" if circular else "an error value"
    why += ", which every cell computed from it inherits"
    quantity = _quantity(check, key, outcome.names) or "a cell the network reads"
    return Finding(
        key[0],
        address(key[1], key[2]),
        quantity,
        graph.label(key) or quantity,
        math.nan,
        shown,
        graph.texts.get(key),
        why,
        key[1],
    )


def _circle(graph: CellGraph, start: Key) -> set[Key]:
    """The cells reachable from `start` through the cells they read (start among them: a circle)."""
    seen, stack = set(), list(graph.direct(start)) if start in graph.trees else []
    while stack:
        k = stack.pop()
        if k in seen:
            continue
        seen.add(k)
        if k in graph.trees:
            stack.extend(graph.direct(k))
    return seen


def _first_wrong(check: Check, outcome: Outcome, rng, topo) -> Finding:
    graph = check.graph
    failing, _ = outcome.failures[0]
    broken = _error_source(graph, failing, topo)
    if broken is not None:
        return _error_finding(check, broken, outcome)
    ancestors = sorted(_ancestors(graph, failing, check.r.chain), key=lambda k: topo.get(k, 0))
    unknown = [k for k in ancestors if outcome.names.get(k, "") is None]
    # A cell computing one of the network's quantities, but not the one its reader needs (sample 3's
    # ∂E/∂w1 where its ∂E/∂w2 belongs), is wrong when one changed reference in it makes the reader right.
    named = [k for k in ancestors if outcome.names.get(k) and k not in check.roles]
    read = set(graph.direct(failing))
    named.sort(key=lambda k: k not in read)  # what the wrong cell reads itself first (stable: in topo order)
    needed = set(ancestors) | {failing}
    wrong, diagnosis, fix = failing, None, {}
    k = check.update_of[failing][1] - 1 if failing in check.update_of else check.roles[failing][0]
    by_value = (failing, "value") in outcome.failures

    def changes(candidate, override) -> bool:
        """A cell read by a failing value is its cause only if the fix changes its own value."""
        if candidate == failing or not by_value:
            return True
        return not close(
            np.array([_value_with(check, candidate, override)]), np.array([graph.value(candidate)]), check.tol
        )[0]

    located = _replaced(check, failing, unknown, rng)
    if located is not None:  # the first cell that, holding one of the network's quantities, puts it right
        cell, should = located
        found = _diagnose(
            check,
            cell,
            lambda override: check.prove(cell, rng, override, want_key=failing),
            outcome.names,
            k,
            needed,
        )
        if not found:  # no changed reference: an edit of another kind (a number, a sign, an operator)
            edit = _edit(check, cell, outcome.names, needed, rng, want_key=failing)
            if edit:
                found = (edit[0], None, edit[1])
        label = graph.label(cell) or should
        return Finding(
            cell[0],
            address(cell[1], cell[2]),
            should,
            f"{label} ({should})" if label != should else should,
            _quantity_at_sheet(check, cell, should),
            graph.value(cell),
            graph.texts.get(cell),
            found[0] if found else f"{SHOULD} {should}",
            cell[1],
        )
    for candidate in unknown + [failing] + named:
        found = _diagnose(
            check,
            candidate,
            lambda override, candidate=candidate: (
                check.prove(candidate, rng, override, want_key=failing) and changes(candidate, override)
            ),
            outcome.names,
            k,
            needed,
        )
        if found:
            wrong, diagnosis, fix = candidate, found[0], found[2]
            break
    else:  # no changed reference makes it right: an edit of another kind (a sign, a number, an operator)
        for candidate in unknown + [failing]:
            found = _edit(check, candidate, outcome.names, needed, rng, want_key=failing)
            if found and changes(candidate, found[1]):
                wrong, diagnosis, fix = candidate, found[0], found[1]
                break
    env, cache = check.sheet_env(), {}
    if wrong == failing:
        expected = check.value_check(failing, cache, env)[1]
        quantity = _quantity(check, failing, outcome.names) or "?"
    else:
        expected = _value_with(check, wrong, fix)
        quantity = "a cell the update reads"
    text = graph.texts.get(wrong)
    label = graph.label(wrong) or quantity
    return Finding(
        wrong[0],
        address(wrong[1], wrong[2]),
        quantity,
        f"{label} ({quantity})" if label != quantity else quantity,
        expected,
        graph.value(wrong),
        text,
        diagnosis,
        wrong[1],
    )


def _replaced(check: Check, failing: Key, unknown: list[Key], rng) -> tuple[Key, str] | None:
    """(cell, quantity): the first of `unknown` (in dependency order) that, given that quantity of the
    network in place of what its formula computes, makes `failing` right at random points; None when
    no single cell does. This finds a wrong cell however its formula is wrong, not only by one reference."""
    graph = check.graph
    for cell in unknown:
        try:
            run, leaves = graph.evaluator(failing, lambda k, cell=cell: k in check.r.chain or k == cell)
        except formula.Unsupported:
            continue
        if cell not in leaves:
            continue
        worlds = []
        for _ in range(2):  # two draws, so that no coincidence of one (a ReLU off in all) decides
            env = check.random_env(rng)
            for leaf in leaves:
                if leaf != cell:
                    _fill(env, leaf, graph)
            want = check.expected(failing, env, {})
            if want is None:
                return None
            worlds.append((env, want, check.candidates(env, _iteration_of(check, cell), {})))
        for name in worlds[0][2]:
            if all(_puts_right(run, env, cell, found.get(name), want) for env, want, found in worlds):
                return cell, name
    return None


def _puts_right(run, env, cell: Key, value, want) -> bool:
    if value is None:
        return False
    value = np.broadcast_to(np.asarray(value, dtype=float), (WORLDS,))
    if not np.all(np.isfinite(value)):
        return False
    env[cell] = value
    got = _evaluated(run, env)
    return got is not None and bool(close(got, want, 1e-9).all())


def _quantity_at_sheet(check: Check, cell: Key, name: str) -> float:
    """A quantity of the network at the sheet's own numbers, in the iteration `cell` belongs to."""
    found = check.candidates(check.sheet_env(), _iteration_of(check, cell), {}).get(name)
    return float(np.asarray(found, dtype=float).reshape(-1)[0]) if found is not None else float("nan")


def _step_rule(reading: Reading, tol: float, topo: dict[Key, int]) -> tuple[TableCheck, dict]:
    """Updates of step units: the perceptron's rule w ← w + η·(t − y)·x, checked at the sheet's numbers
    (a step has no gradient, so there is no formula to prove at random inputs)."""
    check = Check(reading, "half-squared", 1.0, tol)
    graph = reading.graph
    text, data = describe(check, None)
    result = TableCheck(_network_table(reading), reading.iterations, False, 0.0)
    data["learning_rule"] = "perceptron step rule"
    if len(reading.spec.sizes) > 2:
        data["learning_rule_text"] = (
            f"updates of a network of step units ({text}), whose gradient is zero wherever it exists: "
            "not gradient descent on a loss"
        )
        return result, data
    rule = "the perceptron's step rule w ← w + η·(t − y)·x with y = step(Σ w·x + b)"
    # Its outputs first: each a step of its weighted sum, as the unit's formula at 0 defines it.
    env, cache = check.sheet_env(), {}
    for key in sorted(check.roles, key=lambda k: topo.get(k, 0)):
        ok, expected = check.value_check(key, cache, env)
        if not ok:
            verdict = (
                f"its output at {where(key)} is not the step of its weighted sum (expected {expected:.12g}, "
                f"found {graph.value(key):.12g}, formula ={graph.texts.get(key)})"
            )
            data["learning_rule_text"] = f"{rule}, not gradient descent on a loss ({text}); {verdict}"
            return result, data
    steps = {}  # weight cell -> the step (t − y)·x summed over the sums that read it
    for n in reading.nets:
        y = graph.value(n.out)
        t_cell = reading.data.get((n.iteration, n.sample), {}).get(check.spec.targets[n.unit])
        t = graph.value(t_cell) if t_cell is not None else float("nan")
        for w, x in n.pairs:
            steps[w] = steps.get(w, 0.0) + (t - y) * graph.value(x)
        for b in n.biases:
            steps[b] = steps.get(b, 0.0) + (t - y)
    # One step size for the whole sheet: η, or η/2 where a mistake adds η·t·x with ±1 outputs.
    ratios = [
        (graph.value(u) - graph.value(w)) / steps[w]
        for u, w in reading.updates.items()
        if abs(steps.get(w, 0.0)) > 1e-12
    ]
    size = float(np.median(ratios)) if ratios else 0.0
    wrong = None
    for u, w in sorted(reading.updates.items(), key=lambda item: topo.get(item[0], 0)):
        want = graph.value(w) + size * steps.get(w, float("nan"))
        if not close(np.array([graph.value(u)]), np.array([want]), tol)[0]:
            wrong = (u, want)
            break
    eta_cell = reading.eta if reading.eta is not None else _cell_holding(reading, size)
    eta = graph.value(eta_cell) if eta_cell is not None else None
    if eta is None:
        said = f"η = {size:g} written into the formulas"
    elif abs(size - eta) <= 1e-9 * max(1.0, abs(eta)):
        said = f"η = {eta:g} from {where(eta_cell)}"
    elif abs(size - eta / 2) <= 1e-9 * max(1.0, abs(eta)):
        said = f"η·t·x added on each mistake with ±1 outputs, which is (η/2)·(t − y)·x; η = {eta:g}"
    else:
        said = f"a step of {size:g}·(t − y)·x, while {where(eta_cell)} holds {eta:g}"
    if wrong is None:
        verdict = f"its updates follow that rule at every step ({said})"
    else:
        verdict = (
            f"its update at {where(wrong[0])} differs from that rule (expected {wrong[1]:.12g}, found "
            f"{graph.value(wrong[0]):.12g}, formula ={graph.texts.get(wrong[0])})"
        )
    data["learning_rule_text"] = f"{rule}, not gradient descent on a loss ({text}); {verdict}"
    return result, data


def _cell_holding(reading: Reading, value: float) -> Key | None:
    """The typed cell an update reads through other cells (Δw = η·e·x) that holds `value`: its η."""
    known = set(reading.chain) | {key for names in reading.data.values() for key in names.values()}
    for u in reading.updates:
        try:
            _, leaves = reading.graph.evaluator(u, lambda k: k in known)
        except formula.Unsupported:
            continue
        for leaf in leaves:
            if leaf not in known and abs(reading.graph.value(leaf) - value) <= 1e-9 * max(1.0, abs(value)):
                return leaf
    return None


def _key_of(finding: Finding) -> Key:
    from sheetgen.core.xlsx import column_number

    letters = "".join(ch for ch in finding.address if ch.isalpha())
    return (finding.sheet, finding.row, column_number(letters))


def _edit(check: Check, key: Key, names: dict, reach: set, rng, want_key=None, taken=None):
    """(words, override) of the smallest edit of `key`'s formula that no changed reference is
    (graph_fixes.py), made alike in every cell of its column holding the same formula that `reach`
    holds (the cells the failing one is computed from); with `want_key` it must make that cell right,
    else (taken given) the cell must compute one of the network's quantities."""
    graph = check.graph
    shape = graph.shape(key)
    group = [c for c in reach if c != key and c[0] == key[0] and c[2] == key[2] and graph.shape(c) == shape]

    def override_of(compiled, edited_tree=None):
        found = {key: compiled}
        for cell in group:
            found[cell] = formula.compile_tree(formula_shifted(edited_tree, cell[1] - key[1]), cell[0])
        return found

    def test(compiled, edited_tree):
        try:
            override = override_of(compiled, edited_tree)
        except formula.Unsupported:
            return False
        if want_key is not None:
            return bool(check.prove(key, rng, override, want_key=want_key))
        return _computes_something(check, key, override, rng, taken or frozenset())

    found = graph_fixes.smallest_edit(
        graph, key, _quantity(check, key, names), lambda cell: _quantity(check, cell, names), test
    )
    if found is None:
        return None
    words, compiled, edited = found
    return words, override_of(compiled, edited)


def formula_shifted(tree, rows: int):
    """The tree of the same formula filled `rows` rows down: relative references moved."""
    if not rows:
        return tree

    def move(node):
        if isinstance(node, formula.Ref) and not node.row_abs:
            return formula.Ref(node.sheet, node.row + rows, node.col, False, node.col_abs)
        return None

    return formula.transform(tree, move)


def _iteration_of(check: Check, key: Key) -> int:
    if key not in check.iteration_cache:
        check.iteration_cache[key] = _iteration_from_leaves(check, key)
    return check.iteration_cache[key]


def _iteration_from_leaves(check: Check, key: Key) -> int:
    try:
        _, leaves = check.graph.evaluator(key, check.frontier(key))
    except formula.Unsupported:
        return 0
    return max([check.r.chain[leaf][1] for leaf in leaves if leaf in check.r.chain] or [0])


def _computes_something(check: Check, key: Key, override: dict, rng, taken=frozenset()) -> bool:
    """With `override`, the cell computes one of the network's quantities at random points (one no other
    cell computes already: an error term fixed into its neighbour's is no fix)."""
    point = check.random_point(key, rng, override)
    if point is None:
        return False
    run, _, env = point
    got = _evaluated(run, env)
    if got is None:
        return False
    found = check.candidates(env, _iteration_of(check, key), {})
    held = [np.asarray(found[n], dtype=float) for n in taken if n in found]
    # The first quantity it matches that no other cell holds (held ones are compared only on a match:
    # comparing every candidate with every held value first was most of a wrong book's time).
    for want in found.values():
        want = np.broadcast_to(np.asarray(want, dtype=float), got.shape)
        if np.all(np.isfinite(want)) and close(got, want, 1e-9).all():
            if not any(np.array_equal(want, np.broadcast_to(h, want.shape)) for h in held):
                return True
    return False


def _value_with(check: Check, key: Key, override: dict) -> float:
    """The cell's value at the sheet's own numbers once its formula is edited."""
    try:
        run, leaves = check.graph.evaluator(key, check.frontier(key), override)
        env = check.sheet_env()
        for leaf in leaves:
            env.setdefault(leaf, np.array([check.graph.value(leaf)]))
        return float(np.asarray(run(env), dtype=float).reshape(-1)[0])
    except (formula.Unsupported, KeyError, TypeError, ValueError):
        return float("nan")


def _wrong_intermediate(check: Check, outcome: Outcome, rng, topo, before: int | None = None):
    """(cell, finding) for the first cell computing none of the network's quantities that one changed
    reference makes compute one (an error term reading another unit's weight); None when there is none.
    Only cells before `before` in dependency order are tried: a later one would not be the first wrong."""
    graph = check.graph
    seen, candidates = set(), []
    unnamed = (
        k
        for k, n in outcome.names.items()
        if n is None and not _is_text(graph, k) and (before is None or topo.get(k, 0) < before)
    )
    for key in sorted(unnamed, key=lambda k: topo.get(k, 0)):
        group = (key[0], key[2], graph.shape(key))
        if group not in seen:
            seen.add(group)
            candidates.append(key)
    for key in candidates[:6]:
        fix = {}

        taken = {n for n in outcome.names.values() if n}

        def test(override, key=key, taken=taken, fix=fix):
            if _computes_something(check, key, override, rng, taken):
                fix.update(override)
                return True
            return False

        needed = set(_ancestors(graph, key, check.r.chain)) | {key}
        found = _diagnose(check, key, test, outcome.names, _iteration_of(check, key), needed)
        if not found:
            edit = _edit(check, key, outcome.names, {key}, rng, taken=taken)
            if edit:
                fix.update(edit[1])
                found = (edit[0], None, edit[1])
        if (
            found
            and close(np.array([_value_with(check, key, fix)]), np.array([graph.value(key)]), check.tol)[0]
        ):
            continue  # the edit leaves its value as it is: not why anything is wrong
        if found:
            label = graph.label(key) or "a cell"
            return key, Finding(
                key[0],
                address(key[1], key[2]),
                "?",
                label,
                _value_with(check, key, fix),
                graph.value(key),
                graph.texts.get(key),
                found[0],
                key[1],
            )
    return None


def _is_text(graph: CellGraph, key: Key) -> bool:
    """A formula writing text (a chart's title "E_total, η = "&B2): no quantity of the network."""
    return any(
        isinstance(n, formula.Text) or (isinstance(n, formula.Binary) and n.op == "&")
        for n in formula.walk(graph.trees[key])
    )


class _World(dict):
    """A random point of the network's values, each drawn when first read (a book has thousands)."""

    def __init__(self, check: Check, rng):
        super().__init__()
        self.check, self.rng = check, rng

    def __missing__(self, key):
        check, rng = self.check, self.rng
        if key in check.r.chain or key in check.r.fixed:
            value = rng.uniform(-1, 1, WORLDS)
        elif key == check.r.eta:
            value = rng.uniform(0.1, 1.0, WORLDS)
        elif key in check.target_groups:
            group = check.target_groups[key]
            shares = rng.dirichlet(np.ones(len(group)), WORLDS).T
            for other, share in zip(group, shares, strict=True):
                self.setdefault(other, share)
            return self[key]
        elif key in check.targets:
            value = rng.uniform(0.05, 0.95, WORLDS)
        elif key in check.data_keys:
            value = rng.uniform(-1, 1, WORLDS)
        else:
            raise KeyError(key)
        self[key] = value
        return value


def _fill(env: _World, leaf: Key, graph: CellGraph) -> None:
    """Draw a leaf the formula reads, or give it the sheet's value when it is none of the network's values."""
    try:
        env[leaf]
    except KeyError:
        env[leaf] = np.full(WORLDS, graph.value(leaf))
