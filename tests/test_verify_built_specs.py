"""Books `sheetgen build` wrote for drawn specs (tests/spec_sampler.py), right and with planted mistakes.

A fixed-seed set of drawn specs, chosen so that together they cover every hidden and output activation,
every loss, bias mode and per, one sample and several (full batch and online), and one and two hidden
layers. For each: the built book is VERIFIED by the spec it records, the same book with its spec
stripped is VERIFIED from its formulas alone with the network read equal to the spec, and each planted
mistake (an update's sign, η of another sheet, another unit's derivative, the wrong weight, the
pre-activation, a wrong number) is WRONG at the first planted cell whose value LibreOffice changes,
with a diagnosis, in both books; the value it says the cell should hold is LibreOffice's value of that
cell in the unplanted book. All books go through one verify_books call.
"""

from __future__ import annotations

import numpy as np
import pytest
import spec_sampler as sampler

from sheetgen.verify.report import verdicts as report

# (seed, index) of draws from spec_sampler.draw: the specs they give are listed in the comments.
DRAWS = {
    "sigmoid-ce-3out": (1, 0),  # 2-4-3 sigmoid, cross-entropy, biases trained per layer, one sample
    "linear-deep-4samples": (1, 1),  # 2-4-2-2 linear hidden, sigmoid outputs, 4 samples, full batch
    "softmax": None,  # 2-3-2-2 tanh hidden, softmax outputs, biases trained per unit (drawn below)
    "relu-online": None,  # 1-1-2 ReLU, linear outputs, squared loss, biases fixed, 4 samples online
}
# Words each kind of mistake's diagnosis says, in the built book and in the stripped one.
WORDS = {
    "sign": ("sign",),
    "eta": ("η",),
    "other unit": ("a_h", "a_g", "h1", "h2", "h3", "h4", "g1", "g2", "another unit"),
    "wrong weight": ("w",),
    "preact": ("h", "g"),
    "constant": ("number",),
}


def _drawn() -> list[sampler.Drawn]:
    found = []
    for name, where in DRAWS.items():
        if where is not None:
            seed, index = where
            rng = np.random.default_rng(seed)
            for _ in range(index + 1):
                drawn = sampler.draw(rng, name)
            found.append(drawn)
    rng = np.random.default_rng(2026)
    wanted = {
        "softmax": lambda s: s.output_activation == "softmax" and s.activation == "tanh" and s.hidden,
        "relu-online": lambda s: s.activation == "relu" and s.batch == "online" and s.n_samples > 1,
    }
    for name, test in wanted.items():
        while True:
            drawn = sampler.draw(rng, name)
            if test(drawn.spec):
                found.append(drawn)
                break
    return found


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, soffice):
    folder = tmp_path_factory.mktemp("built-specs")
    cases = sampler.prepare(_drawn(), folder, seed=5)
    return sampler.run(cases)


def test_the_drawn_set_covers_what_build_writes():
    specs = [d.spec for d in _drawn()]
    assert {s.output_activation for s in specs} == {"sigmoid", "linear", "softmax"}
    assert {s.loss for s in specs} == {"half-squared", "squared", "cross-entropy"}
    assert {s.biases for s in specs} == {"none", "fixed", "trained"}
    assert {s.bias_per for s in specs if s.biases != "none"} == {"layer", "unit"}
    assert {s.activation for s in specs if s.hidden} >= {"sigmoid", "linear", "tanh", "relu"}
    assert {len(s.hidden) for s in specs} >= {1, 2}
    assert {s.n_samples > 1 for s in specs} == {True, False}
    assert {s.batch for s in specs if s.n_samples > 1} == {"full", "online"}


def test_right_books_are_verified_kept_and_stripped(outcomes):
    right = [(c, p, r) for c, p, r in outcomes if c.kind is None]
    assert len(right) == 2 * len(DRAWS)
    for case, problem, result in right:
        assert problem is None, (case.drawn.name, case.variant, problem)
        if case.variant == "stripped":
            assert result.network["read_from"] == "formulas"
            assert result.network["sizes"] == list(case.drawn.spec.sizes)


def test_planted_mistakes_are_the_first_wrong_cell_with_a_diagnosis(outcomes):
    planted = [(c, p, r) for c, p, r in outcomes if c.kind is not None]
    kinds = {c.kind for c, _, _ in planted if c.first}
    assert kinds == set(sampler.KINDS), kinds  # every kind was planted somewhere with an effect
    for case, problem, result in planted:
        assert problem is None, (case.drawn.name, case.variant, case.kind, problem)
        if case.first is None:
            continue
        assert result.verdict == report.WRONG
        diagnosis = result.first_wrong.diagnosis
        assert any(word in diagnosis for word in WORDS[case.kind]), (case.kind, case.variant, diagnosis)
