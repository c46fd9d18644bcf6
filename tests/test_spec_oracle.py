"""The oracle of any network spec against torch autograd (tests/torch_reference.py), over a matrix of
layer sizes, activations, losses, bias modes and batching.

Tolerance: conditioning-aware. The same computation in float32 shows how strongly rounding is
amplified for this very row (|g32 − g64| ≈ κ·ε32·|g|), so a float64 result may differ from another
float64 result by about κ·ε64·|g| = |g32 − g64|·ε64/ε32; we allow a thousand times that, plus a few
ε64 of the row's largest gradient (sums that cancel to near 0).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch_reference  # noqa: E402

from sheetgen.core import oracle  # noqa: E402
from sheetgen.core.spec import NetworkSpec, SpecError  # noqa: E402

SIZES = [(1, 1, 1), (2, 1), (2, 2, 1), (2, 2, 2), (2, 3, 2), (3, 4, 3), (2, 3, 3, 2)]
ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear")
OUTPUTS = [
    ("sigmoid", "half-squared"),
    ("sigmoid", "squared"),
    ("sigmoid", "cross-entropy"),
    ("linear", "half-squared"),
    ("linear", "squared"),
    ("softmax", "cross-entropy"),
]
BIASES = [("none", "layer"), ("fixed", "layer"), ("trained", "layer"), ("fixed", "unit"), ("trained", "unit")]
BATCHING = [(False, "full"), (True, "full"), (True, "online")]
EPS64, EPS32 = float(np.finfo(np.float64).eps), float(np.finfo(np.float32).eps)
ITERATIONS = 3
ETA = 0.1


def _specs(sizes, rng):
    for act, (out, loss), (biases, per), (with_samples, batch) in itertools.product(
        ACTIVATIONS if len(sizes) > 2 else ACTIVATIONS[:1], OUTPUTS, BIASES, BATCHING
    ):
        samples = None
        if with_samples:
            samples = tuple(
                (
                    tuple(rng.uniform(-2, 2, sizes[0])),
                    tuple(
                        rng.dirichlet(np.ones(sizes[-1]))
                        if out == "softmax"
                        else rng.uniform(0, 1, sizes[-1])
                    ),
                )
                for _ in range(3)
            )
        try:
            yield NetworkSpec(sizes, act, out, loss, biases, per, samples, batch)
        except SpecError:
            continue  # softmax with a squared loss, cross-entropy with linear outputs: refused


def _params(spec, rng):
    params = {w: float(rng.uniform(-1.5, 1.5)) for w in spec.weights + spec.bias_names}
    if spec.samples is None:
        params |= {i: float(rng.uniform(-2, 2)) for i in spec.inputs}
        t = (
            rng.dirichlet(np.ones(spec.sizes[-1]))
            if spec.output_activation == "softmax"
            else rng.uniform(0, 1, spec.sizes[-1])
        )
        params |= dict(zip(spec.targets, map(float, t), strict=True))
    return params


@pytest.mark.parametrize("sizes", SIZES, ids=lambda s: "-".join(map(str, s)))
def test_oracle_equals_torch_autograd(sizes):
    rng = np.random.default_rng(sum(sizes) * 1000 + len(sizes))
    checked = 0
    for spec in _specs(sizes, rng):
        params = _params(spec, rng)
        table = oracle.train_spec(spec, params, ETA, ITERATIONS)
        rows64 = torch_reference.train(spec, params, ETA, ITERATIONS, torch.float64)
        rows32 = torch_reference.train(spec, params, ETA, ITERATIONS, torch.float32)
        for n, (r64, r32) in enumerate(zip(rows64, rows32, strict=True)):
            assert set(r64) == {f"dE_d{v}" for v in spec.free} | {"E_total"}, spec.describe()
            largest = max(abs(v) for v in r64.values())
            for key, expected in r64.items():
                spread = abs(r32[key] - expected)
                if not np.isfinite(spread):  # float32 overflowed: no estimate; a tight relative bound instead
                    spread = EPS32 * 1e3 * abs(expected)
                tol = 1e3 * EPS64 / EPS32 * spread + 16 * EPS64 * largest + 1e-300
                got = table[key][n]
                assert abs(got - expected) <= tol, f"{spec.describe()}: row {n} {key} {got!r} != {expected!r}"
        checked += 1
    assert checked >= (6 if len(sizes) == 2 else 100)


def test_the_default_spec_is_the_course_network():
    spec = NetworkSpec()
    assert spec.weights == tuple(f"w{k}" for k in range(1, 9))
    # w1 = i1→h1, w2 = i2→h1, w3 = i1→h2, w5 = a_h1→o1, w7 = a_h1→o2
    assert [spec.source_of(w) for w in ("w1", "w2", "w3", "w5", "w6", "w7")] == [
        ("i1", "h1"),
        ("i2", "h1"),
        ("i1", "h2"),
        ("a_h1", "o1"),
        ("a_h2", "o1"),
        ("a_h1", "o2"),
    ]
    assert NetworkSpec(biases="fixed").bias_names == ("b1", "b2")
    assert NetworkSpec((2, 3, 3, 2), biases="trained", bias_per="unit").bias_names == (
        "b_h1",
        "b_h2",
        "b_h3",
        "b_g1",
        "b_g2",
        "b_g3",
        "b_o1",
        "b_o2",
    )
    assert oracle.WEIGHTS == spec.weights and oracle.BIASES == ("b1", "b2")


def test_a_float32_oracle_would_fail_this_tolerance():
    """The tolerance is not loose: float32 results, against float64's, are far outside it."""
    spec = NetworkSpec((2, 3, 2), "tanh")
    params = _params(spec, np.random.default_rng(3))
    r64 = torch_reference.train(spec, params, ETA, 1, torch.float64)[1]
    r32 = torch_reference.train(spec, params, ETA, 1, torch.float32)[1]
    table = oracle.train_spec(spec, params, ETA, 1)
    outside = 0
    for key, expected in r64.items():
        assert abs(table[key][1] - expected) <= 1e3 * EPS64 / EPS32 * abs(r32[key] - expected) + 16 * EPS64
        outside += abs(r32[key] - expected) > 1e3 * EPS64 / EPS32 * abs(r32[key] - expected) + 16 * EPS64
    assert outside > len(r64) // 2
