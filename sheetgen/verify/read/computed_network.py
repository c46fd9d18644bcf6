"""Read a small network from a workbook's formula graph, by what its cells compute.

Labels are not trusted here: each formula is probed as a function of the cells it reads.

- An *activation* reads one cell and computes, at probe points, 1/(1+e^−x), tanh x (TANH or its exp
  form), max(0, x) (MAX or IF), a step (IF(x>=0,1,0)) or a sign; a softmax output reads every sum of
  its layer and computes its own one's share e^x_i / Σ e^x_j.
- A *weighted sum* is Σ w·x + b: a polynomial whose second differences are 1 for each product pair
  and 0 elsewhere, and whose first differences are 1 for each lone term (a bias); a sum written
  inside its activation, 1/(1+EXP(−(w1*x1+w2*x2))), is the same once the activation is undone.
- An *update* is a cell U reading a weight W with ∂U/∂W ≡ 1 whose result is read as that weight
  by the next weighted sums: w − η·∂E/∂w and w + η·δ·x alike. Chains of updates give the
  iterations; a sum's weights are what the updates update (else, for a forward pass, the operand
  feeding fewer sums), its sources are inputs (leaves) or the layer below's activations.
- η is the leaf every update's step is proportional to; a target is the leaf whose mixed difference
  with an output activation is not zero in some cell (an error, a loss, an inline gradient).

From these the spec follows (sizes, activations, biases per layer or unit, trained or fixed,
samples, full batch or online); the loss and the scaling of a full batch's gradient are not read
from a formula's form but chosen by verify/graph_check.py as the ones the updates prove.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sheetgen.core import formula
from sheetgen.core.spec import HIDDEN_ACTIVATIONS, MAX_HIDDEN_LAYERS, NetworkSpec, SpecError
from sheetgen.verify.read import unit_forms
from sheetgen.verify.read.cell_graph import CellGraph, Key, where

_XS = np.array([-3.1, -1.3, -0.45, -0.07, 0.06, 0.35, 0.95, 2.7])
_SHAPES = {
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0.0),
    "step": lambda x: (x >= 0).astype(float),
    "sign": lambda x: np.where(x >= 0, 1.0, -1.0),
    "linear": lambda x: x,
}
_INVERSES = {"sigmoid": lambda y: np.log(y / (1 - y)), "tanh": np.arctanh}
MAX_SUM_TERMS = 40
STEP_RULES = ("step", "sign")


class NotANetwork(Exception):
    """The sheet computes no weighted sum with an activation: nothing this reader can take apart."""


class Unexpressible(Exception):
    """A network no spec can express; the message says what."""


class MisreadSource(Exception):
    """A weighted sum reads a unit's pre-activation where its activation belongs: a mistake, not
    another network. `cell` is the sum, `read` what it reads, `right` the activation it should."""

    def __init__(self, cell: Key, read: Key, right: Key):
        super().__init__(f"{where(cell)} reads {where(read)} where {where(right)} belongs")
        self.cell, self.read, self.right = cell, read, right


@dataclass
class Net:
    """One weighted sum of one unit, for one sample, at one iteration."""

    cell: Key | None  # the sum's own cell; None when written inside its activation
    act: Key | None  # the activation's cell; None for a linear unit
    kind: str
    pairs: list[tuple[Key, Key]]  # (weight, source) once oriented
    biases: list[Key]
    layer: int = 0
    unit: int = 0  # index within its layer
    sample: int = 0  # index within its iteration
    iteration: int = 0
    at_zero: float | None = None  # a step or sign unit's value at exactly 0
    span: tuple = ()  # a softmax unit's: every sum of its layer (read/unit_forms.py)

    @property
    def out(self) -> Key:
        return self.act or self.cell

    @property
    def anchor(self) -> Key:
        return self.cell or self.act


@dataclass
class Reading:
    graph: CellGraph
    spec: NetworkSpec  # with the samples of the first iteration (loss still to be chosen)
    nets: list[Net]
    iterations: int
    chain: dict[Key, tuple[str, int]]  # weight/bias cell -> (name, iteration)
    updates: dict[Key, Key]  # update cell -> the cell it updates
    data: dict[tuple[int, int], dict[str, Key]]  # (iteration, sample) -> {i1: leaf, t1: leaf, ...}
    eta: Key | None
    eta_literal: bool
    samples_per_iteration: int
    batch: str
    fixed: dict[Key, str] = field(default_factory=dict)  # fixed bias cell -> its name
    notes: list[str] = field(default_factory=list)
    step_rule: bool = False
    random_start: list[Key] = field(default_factory=list)
    # Per layer, a step network's (forward, derivative) in place of its spec's activation (None: the spec's).
    activations: tuple | None = None
    kinds: tuple[str, ...] = ()  # per layer, the activation the formulas compute

    def instance(self, iteration: int) -> list[dict]:
        """Per sample of an iteration: {i1: leaf, t1: leaf, ...}."""
        return [self.data.get((iteration, s), {}) for s in range(self.samples_per_iteration)]

    @property
    def input_cells(self) -> set[Key]:
        return {key for names in self.data.values() for name, key in names.items() if name.startswith("i")}


# -- probing one cell ---------------------------------------------------------------------------------


def local(graph: CellGraph, key: Key):
    """The cell as a function of the cells it reads: (run, the read cells in order)."""
    return graph.evaluator(key, lambda k: True)


def _activation_kind(run, var: Key) -> str | None:
    with np.errstate(all="ignore"):
        got = np.asarray(run({var: _XS}), dtype=float)
    if got.shape != _XS.shape:
        got = np.broadcast_to(got, _XS.shape)
    for kind, f in _SHAPES.items():
        if np.allclose(got, f(_XS), rtol=1e-9, atol=1e-12):
            return kind
    return None


def _at_zero(run, var: Key) -> float:
    """A step's value at exactly 0, where sheets differ (IF(x>=0,1,0), IF(x>0,1,0), SIGN(0) = 0) and
    where a perceptron starting from zero weights lands on its first step."""
    with np.errstate(all="ignore"):
        return float(np.asarray(run({var: np.zeros(1)}), dtype=float).reshape(-1)[0])


def step_function(kind: str, at_zero: float | None):
    """The forward function and derivative (zero wherever it exists) of a step or sign unit."""
    low = 0.0 if kind == "step" else -1.0
    zero = 1.0 if at_zero is None else at_zero

    def forward(z):
        return np.where(z > 0, 1.0, np.where(z < 0, low, zero)) + 0.0 * z

    def derivative(z):
        return 0.0 * z

    return forward, derivative


def _quadratic(
    run, variables: list[Key], undo=None, positive=False
) -> tuple[list[tuple[Key, Key]], list[Key]] | None:
    """(product pairs, lone terms) when run (after `undo`) is Σ a·b + Σ c over its variables, else None.
    `positive`: probed where every variable is positive only (a ReLU around the sum passes it there)."""
    n = len(variables)
    if not 2 <= n <= MAX_SUM_TERMS:
        return None
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    m = 1 + n + len(pairs)
    scale = 0.5
    env = {v: np.zeros(m) for v in variables}
    for i, v in enumerate(variables):
        env[v][1 + i] = scale
    for p, (i, j) in enumerate(pairs):
        env[variables[i]][1 + n + p] = scale
        env[variables[j]][1 + n + p] = scale
    rng = np.random.default_rng(7)
    probe = {v: rng.uniform(0.1, 1.5, 4) if positive else rng.uniform(-1.5, 1.5, 4) for v in variables}
    with np.errstate(all="ignore"):
        try:
            f = np.broadcast_to(np.asarray(run(env), dtype=float), (m,))
            g = np.broadcast_to(np.asarray(run(probe), dtype=float), (4,))
        except (formula.Unsupported, KeyError, TypeError, ValueError):
            return None
        if undo is not None:
            f, g = undo(f), undo(g)
    if not (np.all(np.isfinite(f)) and np.all(np.isfinite(g))):
        return None
    c0 = f[0]
    lin = (f[1 : 1 + n] - c0) / scale
    quad = np.array([f[1 + n + p] - f[1 + i] - f[1 + j] + c0 for p, (i, j) in enumerate(pairs)]) / scale**2
    predicted = c0 + sum(lin[i] * probe[v] for i, v in enumerate(variables))
    predicted = predicted + sum(
        quad[p] * probe[variables[i]] * probe[variables[j]] for p, (i, j) in enumerate(pairs)
    )
    if not np.allclose(predicted, g, rtol=1e-7, atol=1e-9) or abs(c0) > 1e-9:
        return None
    # A product pair contributes a·b: second difference 1, and no first difference.
    found_pairs, used = [], set()
    for p, (i, j) in enumerate(pairs):
        if abs(quad[p] - 1) < 1e-7:
            if i in used or j in used:
                return None
            used |= {i, j}
            found_pairs.append((variables[i], variables[j]))
        elif abs(quad[p]) > 1e-7:
            return None
    lone = []
    for i, v in enumerate(variables):
        if i in used:
            if abs(lin[i]) > 1e-7:
                return None
        elif abs(lin[i] - 1) < 1e-7:
            lone.append(v)
        elif abs(lin[i]) > 1e-7:
            return None
    return (found_pairs, lone) if found_pairs else None


def _is_update(run, variables: list[Key], weight: Key) -> bool:
    """∂U/∂W ≡ 1 and U is not W itself."""
    rng = np.random.default_rng(11)
    env = {v: rng.uniform(0.1, 0.9, 5) for v in variables}
    moved = dict(env)
    moved[weight] = env[weight] + 0.37
    with np.errstate(all="ignore"):
        try:
            a = np.asarray(run(env), dtype=float)
            b = np.asarray(run(moved), dtype=float)
        except (formula.Unsupported, KeyError, TypeError, ValueError):
            return False
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return False
    return bool(np.allclose(b - a, 0.37, rtol=1e-9, atol=1e-12) and not np.allclose(a, env[weight]))


def _proportional(run, variables: list[Key], weight: Key, leaf: Key) -> bool:
    """U − W is proportional to `leaf` (η): doubling it doubles the step."""
    rng = np.random.default_rng(13)
    env = {v: rng.uniform(0.1, 0.9, 5) for v in variables}
    doubled = dict(env)
    doubled[leaf] = env[leaf] * 2
    with np.errstate(all="ignore"):
        try:
            a = np.asarray(run(env), dtype=float) - env[weight]
            b = np.asarray(run(doubled), dtype=float) - env[weight]
        except (formula.Unsupported, KeyError, TypeError, ValueError):
            return False
    return bool(np.all(np.abs(a) > 1e-12) and np.allclose(b, 2 * a, rtol=1e-9, atol=1e-12))


def _mixed(run, variables: list[Key], a: Key, b: Key) -> bool:
    """a and b meet in one term: their mixed second difference is not zero, or the cell reads b − a
    (as an error t − a does: moving both alike changes nothing, moving b alone does)."""
    rng = np.random.default_rng(17)
    base = {v: rng.uniform(0.2, 0.8, 4) for v in variables}

    def at(da, db):
        env = dict(base)
        env[a] = base[a] + da
        env[b] = base[b] + db
        return np.asarray(run(env), dtype=float)

    with np.errstate(all="ignore"):
        try:
            base_value, both, alone = at(0, 0), at(0.1, 0.1), at(0, 0.1)
            mixed = both - at(0.1, 0) - alone + base_value
        except (formula.Unsupported, KeyError, TypeError, ValueError):
            return False
    difference = np.allclose(both, base_value, rtol=1e-9, atol=1e-12) and not np.allclose(alone, base_value)
    return bool(np.any(np.abs(mixed) > 1e-9) or difference)


# -- the whole sheet ---------------------------------------------------------------------------------


def _shape(graph: CellGraph, key: Key) -> tuple:
    """Cells of one column holding one formula relative to themselves share what probing finds."""
    return (key[0], key[2], graph.shape(key))


def _probe_one(run, variables: list[Key]):
    """('act', kind, 0) / ('sum', pair indices, lone indices, inline kind) / None, by variable position."""
    if len(variables) == 1:
        kind = _activation_kind(run, variables[0])
        if not kind or kind == "linear":
            return None
        return ("act", kind, _at_zero(run, variables[0]) if kind in STEP_RULES else None)
    position = {v: i for i, v in enumerate(variables)}
    for kind, undo in ((None, None), *_INVERSES.items()):
        found = _quadratic(run, variables, undo)
        if found:
            pairs = [(position[a], position[b]) for a, b in found[0]]
            return ("sum", pairs, [position[v] for v in found[1]], kind)
    found = _quadratic(run, variables, positive=True)
    if found and _clipped_below(run, variables, *found):  # MAX(0, w1*x1+w2*x2+b)
        pairs = [(position[a], position[b]) for a, b in found[0]]
        return ("sum", pairs, [position[v] for v in found[1]], "relu")
    return None


def _clipped_below(run, variables: list[Key], pairs, lone) -> bool:
    """The cell is 0 where its sum is negative (each product −0.25, each lone term −0.5): a ReLU."""
    env = {v: np.array([0.0]) for v in variables}
    for a, b in pairs:
        env[a], env[b] = np.array([-0.5]), np.array([0.5])
    for v in lone:
        env[v] = np.array([-0.5])
    with np.errstate(all="ignore"):
        try:
            got = np.asarray(run(env), dtype=float).reshape(-1)
        except (formula.Unsupported, KeyError, TypeError, ValueError):
            return False
    return bool(got.size and np.all(got == 0.0))


def _probe_cells(graph: CellGraph):
    """Activation cells {cell: (kind, source)} and sum candidates {cell: (pairs, lone, inline kind)}."""
    acts: dict[Key, tuple[str, Key, float | None]] = {}  # cell -> (kind, source, a step's value at 0)
    sums: dict[Key, tuple[list, list, str | None]] = {}
    seen: dict[tuple, object] = {}
    for key in graph.trees:
        variables = [v for v in graph.direct(key) if v != key]
        shape = (_shape(graph, key), len(variables))
        if shape not in seen:
            try:
                run, _ = local(graph, key)
            except formula.Unsupported:
                seen[shape] = None
                continue
            seen[shape] = _probe_one(run, variables)
        found = seen[shape]
        if found is None:
            continue
        if found[0] == "act":
            acts[key] = (found[1], variables[0], found[2])
        else:
            _, pairs, lone, kind = found
            sums[key] = ([(variables[a], variables[b]) for a, b in pairs], [variables[i] for i in lone], kind)
    return acts, sums


def read(graph: CellGraph) -> list[Reading]:
    acts, sums = _probe_cells(graph)
    pure_sums = {k for k, v in sums.items() if v[2] is None}
    spans: dict[Key, tuple] = {}
    for cell, (z, span) in unit_forms.softmax_cells(
        graph, pure_sums, lambda k: (_shape(graph, k), len(graph.direct(k))), set(acts)
    ).items():
        acts[cell] = ("softmax", z, None)
        spans[cell] = span
    consumers = graph.consumers()
    paired: set[Key] = set()
    lone_terms: set[Key] = set()
    for pairs, lone, _ in sums.values():
        for a, b in pairs:
            paired |= {a, b}
        lone_terms |= set(lone)
    operands = paired | lone_terms
    # Updates: U reads W with ∂U/∂W = 1, both weights of weighted sums (U may be the last, read by none).
    updates: dict[Key, Key] = {}
    update_shapes: dict[tuple, int | None] = {}
    for key in graph.trees:
        if key in acts or (key in sums and sums[key][2]):
            continue
        if key not in operands and any(c in graph.trees for c in consumers.get(key, ())):
            continue  # read by other formulas but by no weighted sum: not a weight
        variables = [v for v in graph.direct(key) if v != key]
        shape = (
            _shape(graph, key),
            len(variables),
            key in paired,
            key in lone_terms,
            key in operands,
            tuple((v in paired, v in lone_terms) for v in variables),
        )
        if shape not in update_shapes:
            update_shapes[shape] = None
            try:
                run, _ = local(graph, key)
            except formula.Unsupported:
                continue
            for i, var in enumerate(variables):
                # The next weight is read as the weight was: a product's factor, or a lone term (a bias),
                # or by none.
                same_kind = (var in paired and key in paired) or (var in lone_terms and key in lone_terms)
                if (same_kind or key not in operands) and var in operands and _is_update(run, variables, var):
                    update_shapes[shape] = i
                    break
        if update_shapes[shape] is not None:
            updates[key] = variables[update_shapes[shape]]
    chain_cells = set(updates) | set(updates.values())

    # Accept the sums that are nets: each pair a weight (a leaf or in an update chain) and a source
    # (a leaf, an activation, or a linear unit's sum); grown until nothing changes.
    def weight_like(k):
        return k in chain_cells or not graph.is_computed(k)

    nets: dict[Key, Net] = {}
    for act, (kind, source, at_zero) in acts.items():
        if source in sums and sums[source][2] is None:
            held = nets.get(source)
            if held is not None and not _rather(act, kind, held, operands):
                continue  # a sum's activation is what the next layer reads, not its derivative's step
            pairs, lone, _ = sums[source]
            nets[source] = Net(
                source, act, kind, list(pairs), list(lone), at_zero=at_zero, span=spans.get(act, ())
            )
    for key, (pairs, lone, inline) in sums.items():
        if inline:
            nets[key] = Net(None, key, inline, list(pairs), list(lone))
    outs = {n.out for n in nets.values()}
    sources = {source for _, source, _ in acts.values()}
    changed = True
    while changed:
        changed = False
        for key, (pairs, lone, inline) in sums.items():
            if key in nets or inline or key in sources:
                continue
            ok = all(
                (weight_like(a) and (not graph.is_computed(b) or b in outs))
                or (weight_like(b) and (not graph.is_computed(a) or a in outs))
                for a, b in pairs
            ) and all(weight_like(b) for b in lone)
            if ok and not (chain_cells & {key}):
                nets[key] = Net(key, None, "linear", list(pairs), list(lone))
                outs.add(key)
                changed = True
    if not nets:
        raise NotANetwork("no weighted sum feeding an activation")
    _refuse_foreign_activations(graph, nets, consumers, acts)
    return [
        _assemble(graph, group, updates, chain_cells)
        for group in _components(graph, list(nets.values()), updates)
    ]


def _rather(act: Key, kind: str, held: Net, operands: set[Key]) -> bool:
    """Of two one-variable functions of one sum, the activation is the one the next layer reads, else
    not a step (IF(z>0,1,0) is ReLU's derivative beside MAX(0,z))."""
    if (act in operands) != (held.act in operands):
        return act in operands
    return held.kind in STEP_RULES and kind not in STEP_RULES


def _refuse_foreign_activations(graph: CellGraph, nets: dict[Key, Net], consumers, acts) -> None:
    """A sum read as a linear unit whose value some cell passes through a nonlinear function no spec has
    (leaky ReLU, softplus): that is the unit's activation, and no spec expresses it."""
    for n in nets.values():
        if n.act is not None or n.cell is None:
            continue
        for reader in consumers.get(n.cell, ()):
            if reader in acts or [v for v in graph.direct(reader) if v != reader] != [n.cell]:
                continue
            try:
                run, _ = local(graph, reader)
            except formula.Unsupported:
                continue
            kind = unit_forms.foreign_activation(run, n.cell)
            if kind:
                raise Unexpressible(
                    f"{kind} units ({where(reader)} ={graph.texts.get(reader, '')} of the sum at "
                    f"{where(n.cell)}): a spec's units are sigmoid, tanh, ReLU or linear"
                )


def _components(graph: CellGraph, nets: list[Net], updates: dict[Key, Key]) -> list[list[Net]]:
    """The separate networks of a book (one per LR sheet, say): nets joined by a weight chain or a source."""
    parent: dict = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def join(a, b):
        parent[find(a)] = find(b)

    def node(key, net):
        # A typed value joins only the sums of its own sheet: LR sheets starting from the same Inputs values
        # are separate networks; a computed weight (an update) joins wherever it is read.
        return ("cell", key) if graph.is_computed(key) else ("cell", key, net.anchor[0])

    for u, w in updates.items():  # an update joins the weight it updates, on its own sheet when typed
        join(("cell", u), ("cell", w) if graph.is_computed(w) else ("cell", w, u[0]))
    for n in nets:
        for w, x in n.pairs:
            join(("net", n.anchor), node(w, n))
            join(("net", n.anchor), node(x, n))
        for b in n.biases:
            join(("net", n.anchor), node(b, n))
        if n.cell:
            join(("net", n.anchor), ("cell", n.cell))
        if n.act:
            join(("net", n.anchor), ("cell", n.act))
    groups: dict = {}
    for n in nets:
        groups.setdefault(find(("net", n.anchor)), []).append(n)
    return sorted(groups.values(), key=lambda g: min(_position(graph, n.anchor) for n in g))


def _assemble(graph: CellGraph, nets: list[Net], all_updates: dict[Key, Key], all_chain: set[Key]) -> Reading:
    net_list = sorted(nets, key=lambda n: _position(graph, n.anchor))
    out_of = {n.out: n for n in net_list}
    mine = {c for n in net_list for c in [*(c for pair in n.pairs for c in pair), *n.biases]}
    sheets = {n.anchor[0] for n in net_list}
    updates = {}
    changed = True
    while changed:  # the updates of this network's weights (each update is the next weight, and so on)
        changed = False
        for u, w in all_updates.items():
            if w in mine and u not in updates and u[0] in sheets:
                updates[u] = w
                mine.add(u)
                changed = True
    chain_cells = set(updates) | set(updates.values())

    # Orient each pair (weight, source). Where both are typed values, a weight is shared by the sums of
    # several samples (the sums feeding different later sums), an input by the units of one sample.
    uses: dict[Key, int] = {}
    spans: dict[Key, set] = {}
    consumer_net = {}
    for n in net_list:
        for pair in n.pairs:
            for x in pair:
                if x in out_of:
                    consumer_net.setdefault(x, n.anchor)
    for n in net_list:
        group = consumer_net.get(n.out, n.anchor)
        for a, b in n.pairs:
            uses[a] = uses.get(a, 0) + 1
            uses[b] = uses.get(b, 0) + 1
            spans.setdefault(a, set()).add(group)
            spans.setdefault(b, set()).add(group)
    for n in net_list:
        oriented = []
        for a, b in n.pairs:
            if b in out_of or (a in chain_cells and b not in chain_cells):
                oriented.append((a, b))
            elif a in out_of or (b in chain_cells and a not in chain_cells):
                oriented.append((b, a))
            elif len(spans[a]) != len(spans[b]):
                oriented.append((a, b) if len(spans[a]) > len(spans[b]) else (b, a))
            elif uses[a] != uses[b]:
                oriented.append((a, b) if uses[a] < uses[b] else (b, a))
            else:
                oriented.append(
                    (b, a)
                    if _looks_like_weight(graph.label(b)) and not _looks_like_weight(graph.label(a))
                    else (a, b)
                )
        n.pairs = oriented
    # Layers.
    changed = True
    for n in net_list:
        n.layer = 1
    while changed:
        changed = False
        for n in net_list:
            below = [out_of[x].layer for _, x in n.pairs if x in out_of]
            layer = 1 + max(below) if below else 1
            if layer != n.layer:
                n.layer = layer
                changed = True
                if layer > 8:
                    raise Unexpressible("its weighted sums feed each other in a circle")
    depth = max(n.layer for n in net_list)
    if depth - 1 > MAX_HIDDEN_LAYERS:
        raise Unexpressible(f"{depth - 1} hidden layers (a spec has at most {MAX_HIDDEN_LAYERS})")

    # Iterations: a weight's place in its chain of updates.
    previous = {u: w for u, w in updates.items()}
    root_of, step_of = {}, {}
    for cell in (
        chain_cells | {w for n in net_list for w, _ in n.pairs} | {b for n in net_list for b in n.biases}
    ):
        # Walk back to the chain's root, or to a cell already placed (each chain walked once, not once
        # per cell: a book of 100 iterations has chains of 100 updates).
        k, path, seen = cell, [], set()
        while k in previous and k not in seen and k not in root_of:
            seen.add(k)
            path.append(k)
            k = previous[k]
        root, steps = (root_of[k], step_of[k]) if k in root_of else (k, 0)
        if k not in root_of:
            root_of[k], step_of[k] = root, steps
        for placed in reversed(path):
            steps += 1
            root_of[placed], step_of[placed] = root, steps
    for n in net_list:
        steps = {step_of[w] for w, _ in n.pairs} | {step_of[b] for b in n.biases if b in chain_cells}
        if len(steps) != 1:
            raise Unexpressible(
                f"the weighted sum at {where(n.anchor)} mixes weights of different iterations"
            )
        n.iteration = steps.pop()
    iterations = max(n.iteration for n in net_list) + 1

    # Units: the same weights (by their chains' roots) at every iteration and sample.
    unit_ids: dict[tuple[int, frozenset], int] = {}
    first: dict[tuple[int, frozenset], Net] = {}
    for n in net_list:
        ident = (n.layer, frozenset(root_of[w] for w, _ in n.pairs))
        if ident not in first or (n.iteration, _position(graph, n.anchor)) < (
            first[ident].iteration,
            _position(graph, first[ident].anchor),
        ):
            first[ident] = n
    sizes = []
    for layer in range(1, depth + 1):
        idents = sorted((i for i in first if i[0] == layer), key=lambda i: _position(graph, first[i].anchor))
        for u, ident in enumerate(idents):
            unit_ids[ident] = u
        sizes.append(len(idents))
    for n in net_list:
        n.unit = unit_ids[(n.layer, frozenset(root_of[w] for w, _ in n.pairs))]

    # Samples: the layer-1 sums reading the same inputs are one sample; higher layers follow their sources.
    for k in range(iterations):
        groups: dict[frozenset, int] = {}
        ones = sorted(
            (n for n in net_list if n.iteration == k and n.layer == 1),
            key=lambda n: _position(graph, n.anchor),
        )
        for n in ones:
            xs = frozenset(x for _, x in n.pairs)
            n.sample = groups.setdefault(xs, len(groups))
        for layer in range(2, depth + 1):
            for n in net_list:
                if n.iteration == k and n.layer == layer:
                    n.sample = out_of[n.pairs[0][1]].sample
    for n in net_list:  # a softmax shares out its own layer's sums, of its own sample, all of them
        if n.span:
            layer = {
                m.cell
                for m in net_list
                if (m.layer, m.iteration, m.sample) == (n.layer, n.iteration, n.sample)
            }
            if set(n.span) != layer:
                raise Unexpressible(f"a softmax at {where(n.act)} over sums other than its layer's")
    per_iteration = {k: len({n.sample for n in net_list if n.iteration == k}) for k in range(iterations)}
    samples_per = per_iteration[0]
    if len(set(per_iteration.values())) != 1:
        raise Unexpressible("its iterations hold different numbers of samples")

    # Names: sources ordered by position (inputs) or by unit (the layer below), weights by (unit, source).
    def source_slot(n: Net, x: Key, order: dict) -> int:
        if x in out_of:
            return out_of[x].unit
        if x not in order:
            unit = next((m for m in net_list if m.cell == x and m.act is not None), None)
            if unit is not None:
                raise MisreadSource(n.anchor, x, unit.act)
            raise Unexpressible(
                f"the weighted sum at {where(n.anchor)} reads {where(x)}, which is neither an input nor "
                "the output of a unit the sheet computes as a weighted sum"
            )
        return order[x]

    n_inputs = None
    kinds: dict[int, set] = {}
    for n in net_list:
        kinds.setdefault(n.layer, set()).add(n.kind)
    reference = {}  # (layer, unit) -> {weight root: source slot}
    for n in sorted(net_list, key=lambda n: (n.iteration, n.sample, _position(graph, n.anchor))):
        key = (n.layer, n.unit)
        if key not in reference:
            if n.layer == 1:
                xs = sorted((x for _, x in n.pairs), key=lambda x: _position(graph, x))
                order = {x: j for j, x in enumerate(xs)}
                if n_inputs is None:
                    n_inputs = len(xs)
            else:
                order = {}
            reference[key] = {root_of[w]: source_slot(n, x, order) for w, x in n.pairs}
    if n_inputs is None:
        raise NotANetwork("no weighted sum reads the inputs")
    full_sizes = (n_inputs, *sizes)
    for (layer, unit), slots in reference.items():
        expected = full_sizes[layer - 1]
        if sorted(slots.values()) != list(range(expected)):
            raise Unexpressible(
                f"unit {unit + 1} of layer {layer} reads {len(slots)} of the {expected} values of the layer "
                "below (not fully connected)"
            )
    hidden = set().union(*(kinds[layer] for layer in range(1, depth))) if depth > 1 else set()
    output = kinds[depth]
    step_rule = bool((hidden | output) & set(STEP_RULES))
    if len(hidden) > 1:
        raise Unexpressible(f"hidden units of different activations ({', '.join(sorted(hidden))})")
    if len(output) > 1:
        raise Unexpressible(f"output units of different activations ({', '.join(sorted(output))})")
    hidden_kind = next(iter(hidden), "sigmoid")
    output_kind = next(iter(output))
    if not step_rule:
        if hidden_kind not in HIDDEN_ACTIVATIONS:
            raise Unexpressible(f"{hidden_kind} hidden units")
        if output_kind not in ("sigmoid", "linear", "softmax"):
            raise Unexpressible(
                f"{output_kind} output units (a spec's outputs are sigmoid, linear or softmax)"
            )

    # Biases: per layer (one cell chain shared by a layer's units) or per unit; trained when updated.
    bias_roots: dict[tuple[int, int], set] = {}
    for n in net_list:
        if len(n.biases) > 1:
            raise Unexpressible(f"the weighted sum at {where(n.anchor)} adds {len(n.biases)} lone terms")
        bias_roots.setdefault((n.layer, n.unit), set()).update(root_of.get(b, b) for b in n.biases)
    with_bias = {k for k, v in bias_roots.items() if v}
    if with_bias and with_bias != set(bias_roots):
        missing = sorted(set(bias_roots) - with_bias)
        raise Unexpressible(
            f"a bias in some units only (none into unit {missing[0][1] + 1} of layer {missing[0][0]})"
        )
    all_bias = [b for n in net_list for b in n.biases]
    trained = {b for b in all_bias if b in chain_cells}
    trained_roots = {root_of[t] for t in trained}
    if (
        trained
        and len(trained) != len(all_bias)
        and any(
            b not in chain_cells and step_of.get(b, 0) == 0
            for b in all_bias
            if root_of.get(b, b) not in trained_roots
        )
    ):
        raise Unexpressible("some biases trained and others fixed")
    biases = "none" if not all_bias else ("trained" if trained else "fixed")
    per_layer = all(
        len({r for (l2, _), rs in bias_roots.items() if l2 == layer for r in rs}) == 1
        for layer in range(1, depth + 1)
    )
    bias_per = "layer" if per_layer and biases != "none" and any(s > 1 for s in sizes) else "unit"
    if biases == "none":
        bias_per = "layer"

    try:
        spec = NetworkSpec(
            sizes=full_sizes,
            activation=hidden_kind if not step_rule and depth > 1 else "sigmoid",
            output_activation=output_kind if not step_rule else "linear",
            loss="cross-entropy" if output_kind == "softmax" and not step_rule else "half-squared",
            biases=biases,
            bias_per=bias_per,
        )
    except SpecError as error:
        raise Unexpressible(str(error)) from None

    # Weight and bias names, per cell of every chain.
    chain: dict[Key, tuple[str, int]] = {}
    for n in net_list:
        layer = spec.layers[n.layer - 1]
        slots = reference[(n.layer, n.unit)]
        for w, _ in n.pairs:
            chain[w] = (layer.weights[n.unit][slots[root_of[w]]], n.iteration)
        for b in n.biases:
            if b in chain_cells:
                chain[b] = (layer.biases[n.unit], n.iteration)
    fixed = {
        b: spec.layers[n.layer - 1].biases[n.unit] for n in net_list for b in n.biases if b not in chain_cells
    }
    for u, w in updates.items():  # an update read by no later sum: the last weights
        if u not in chain and w in chain:
            chain[u] = (chain[w][0], chain[w][1] + 1)

    data: dict[tuple[int, int], dict[str, Key]] = {}
    for n in net_list:
        if n.layer == 1:
            slots = reference[(1, n.unit)]
            for w, x in n.pairs:
                data.setdefault((n.iteration, n.sample), {})[spec.inputs[slots[root_of[w]]]] = x
    inputs = {x for names in data.values() for x in names.values()}

    # η: the leaf each update's step is proportional to; a literal when there is none. A target the
    # step is proportional to too (the perceptron's η·t·x) differs from row to row: η is the one most
    # updates share.
    eta_votes: dict[Key, int] = {}
    steps_in: dict[tuple, list[int]] = {}
    for u, w in updates.items():
        variables = [v for v in graph.direct(u) if v != u]
        candidates = [v for v in variables if not graph.is_computed(v) and v not in chain and v not in inputs]
        shape = (_shape(graph, u), len(variables), tuple(variables.index(v) for v in candidates))
        if shape not in steps_in:
            steps_in[shape] = []
            try:
                run, _ = local(graph, u)
            except formula.Unsupported:
                continue
            steps_in[shape] = [variables.index(v) for v in candidates if _proportional(run, variables, w, v)]
        for i in steps_in[shape]:
            eta_votes[variables[i]] = eta_votes.get(variables[i], 0) + 1
    # The most updates' η; on a tie, one on the updates' own sheet (a column reading another sheet's η is
    # the mistake, not the rule).
    own = {u[0] for u in updates}
    eta = max(eta_votes, key=lambda v: (eta_votes[v], v[0] in own)) if eta_votes else None

    # Targets: a leaf meeting an output activation in one term of some cell.
    out_cells = {n.out: n for n in net_list if n.layer == depth}
    net_cells = {c for n in net_list for c in (n.cell, n.act) if c}
    meets: dict[tuple, bool] = {}
    for key in graph.trees:
        direct = graph.direct(key)
        touched = [o for o in direct if o in out_cells]
        if not touched or key in net_cells:
            continue
        leaves = [
            v
            for v in direct
            if not graph.is_computed(v) and v not in chain and v not in inputs and v != eta and v not in fixed
        ]
        if not leaves:
            continue
        variables = [v for v in graph.direct(key) if v != key]
        shape = (_shape(graph, key), len(variables))
        run = None
        for o in touched:
            n = out_cells[o]
            for leaf in leaves:
                names = data.setdefault((n.iteration, n.sample), {})
                if spec.targets[n.unit] in names:
                    continue
                found = shape + (variables.index(o), variables.index(leaf))
                if found not in meets:
                    try:
                        run = run or local(graph, key)[0]
                    except formula.Unsupported:
                        meets[found] = False
                        continue
                    meets[found] = _mixed(run, variables, o, leaf)
                if meets[found]:
                    names[spec.targets[n.unit]] = leaf
    if step_rule:
        _step_targets(graph, net_list, data, spec, {*chain, *inputs, *fixed, eta})
    layer_kinds = tuple(next(iter(kinds[layer])) for layer in range(1, depth + 1))
    activations = None
    if step_rule:
        activations = tuple(
            step_function(kind, next((n.at_zero for n in net_list if n.layer == layer), None))
            if kind in STEP_RULES
            else None
            for layer, kind in enumerate(layer_kinds, start=1)
        )
    random_start = [k for k in chain if k in graph.volatile]
    batch = "full"
    reading = Reading(
        graph=graph,
        spec=spec,
        nets=net_list,
        iterations=iterations,
        chain=chain,
        updates={u: w for u, w in updates.items() if u in chain},
        data=data,
        eta=eta,
        eta_literal=eta is None and bool(updates),
        samples_per_iteration=samples_per,
        batch=batch,
        fixed=fixed,
        step_rule=step_rule,
        random_start=random_start,
        activations=activations,
        kinds=layer_kinds,
    )
    return reading


def _step_targets(graph: CellGraph, nets: list[Net], data: dict, spec: NetworkSpec, known: set) -> None:
    """A step unit's target where no smooth term pairs it with the output (IF(y=t, w, w+η·t·x)): the
    one other leaf a cell reads beside that output, its weights and its inputs."""
    depth = len(spec.sizes) - 1
    consumers = graph.consumers()
    for n in nets:
        if n.layer != depth:
            continue
        names = data.setdefault((n.iteration, n.sample), {})
        target = spec.targets[n.unit]
        if target in names:
            continue
        for reader in consumers.get(n.out, ()):
            leaves = {v for v in graph.direct(reader) if not graph.is_computed(v) and v not in known}
            if len(leaves) == 1:
                names[target] = leaves.pop()
                break


def _looks_like_weight(label: str | None) -> bool:
    if not label:
        return False
    text = label.strip().lower()
    return text.startswith(("w", "θ", "theta", "weight", "v"))


def _position(graph: CellGraph, key: Key | None) -> tuple:
    if key is None:
        return (10**9, 0, 0)
    sheet = graph.order.index(key[0]) if key[0] in graph.order else len(graph.order)
    return (sheet, key[1], key[2])
