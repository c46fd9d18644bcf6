"""What cells compute, in the forms students write it: a representative set of tests/network_forms.py.

Right books (softmax in its three spellings with cross-entropy and the shortcut δ = a − t, sigmoid outputs
with binary cross-entropy, sums inside their activation, SUMPRODUCT, derivatives from the sum or the
activation, SUMSQ and POWER losses, ½ or not, η typed, w + η·δ·x) must be VERIFIED and named as written;
planted mistakes WRONG at the cell they are planted in, the value it should hold being LibreOffice's
recalculation of the right twin; an activation no spec has is a DIFFERENT NETWORK that says which. All the
books go through one verify_books call (one LibreOffice run) and the twins through one recalculation.
"""

from __future__ import annotations

import network_books as nb
import network_forms as nf
import openpyxl
import pytest

from sheetgen.office import recalc
from sheetgen.verify import command as verify
from sheetgen.verify.report import verdicts as report

BASE = dict(
    inputs=2, hidden=2, outputs=1, activation="sigmoid", output="sigmoid", loss="half-squared",
    displayed="half-squared", biases=False, batch="one", sum_form="cell", act_form=0, out_form=0,
    softmax_form="direct", derivative="a", deriv_form=0, sign="grad", gradients="inline", eta_typed=False,
    loss_form=0,
)  # fmt: skip


def _v(seed: int, **fields) -> nf.Variant:
    return nf.variant(seed, **(BASE | fields))


SOFTMAX = dict(output="softmax", loss="cross-entropy", displayed="cross-entropy", outputs=2)
RIGHT = {
    "softmax_direct": _v(1, **SOFTMAX, hidden=3, biases=True),
    "softmax_exp_cells_online": _v(2, **(SOFTMAX | dict(outputs=3)), hidden=0, softmax_form="ecells",
                                   batch="online", loss_form=1, sign="neg"),
    "softmax_max_cell_full": _v(3, **SOFTMAX, activation="relu", softmax_form="maxcell", batch="full-mean",
                                derivative="z", gradients="column"),
    "softmax_max_inline": _v(4, **SOFTMAX, activation="tanh", softmax_form="max", loss_form=3,
                             sum_form="sumproduct"),
    "bce_single": _v(5, hidden=0, loss="cross-entropy", displayed="cross-entropy", biases=True,
                     batch="online", loss_form=1),
    "bce_hidden_neg": _v(6, loss="cross-entropy", displayed="cross-entropy", sign="neg", loss_form=2,
                         act_form=1, out_form=2),
    "relu_inline": _v(7, activation="relu", output="linear", sum_form="inline", biases=True, act_form=0),
    "relu_if_inline": _v(8, activation="relu", sum_form="inline", act_form=1, loss="squared",
                         displayed="squared", loss_form=3),
    "sigmoid_inline": _v(9, sum_form="inline", out_form=1, loss_form=2, batch="full-sum",
                         gradients="column"),
    "tanh_sumproduct_z": _v(10, activation="tanh", sum_form="sumproduct", derivative="z", act_form=2,
                            out_form=3, loss="squared", displayed="half-squared", loss_form=3),
    "sigmoid_from_z_column": _v(11, derivative="column", deriv_form=1, inputs=3, outputs=2,
                                gradients="column", displayed="squared", loss_form=1),
    "eta_typed_squared": _v(12, eta_typed=True, loss="squared", displayed="squared", biases=True,
                            derivative="z"),
}  # fmt: skip
# (book, the mistake planted in it)
PLANTED = {
    "softmax_sigmoid_factor": ("softmax_direct", "output delta, sigmoid factor"),
    "softmax_update_sign": ("softmax_exp_cells_online", "update sign"),
    "bce_half_factor": ("bce_hidden_neg", "output delta, half a sigmoid factor"),
    "relu_wrong_weight": ("relu_inline", "hidden delta, wrong weight"),
    "tanh_other_unit": ("tanh_sumproduct_z", "hidden delta, another unit's derivative"),
    "sigmoid_target": ("sigmoid_from_z_column", "output delta, target for output"),
}
LEAKY = _v(13, activation="relu", leaky=True, output="linear")


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory, soffice):
    folder = tmp_path_factory.mktemp("network-forms")
    paths, designs, cells = {}, {}, {}
    for name, v in RIGHT.items():
        designs[name] = nf.design(v)
        paths[name] = nb.write(folder / f"{name}.xlsx", dict(designs[name]), iterations=4)
    for name, (twin, what) in PLANTED.items():
        planted, cells[name] = nf.plant(RIGHT[twin], designs[twin], what)
        paths[name] = nb.write(folder / f"{name}.xlsx", dict(planted), iterations=4)
    paths["leaky"] = nb.write(folder / "leaky.xlsx", nf.design(LEAKY), iterations=4)
    names = list(paths)
    found = verify.verify_books([paths[n] for n in names], "libreoffice", 1e-9)
    results = dict(zip(names, found, strict=True))
    truth_dir = folder / "truth"
    truth_dir.mkdir()
    twins = sorted({twin for twin, _ in PLANTED.values()})
    recalculated = recalc.recalculate([paths[n] for n in twins], truth_dir)
    truth = {
        n: openpyxl.load_workbook(p, data_only=True)["Training"]
        for n, p in zip(twins, recalculated, strict=True)
    }
    return results, truth, cells


def _sizes(v: nf.Variant) -> list[int]:
    return [v.inputs] + ([v.hidden] if v.hidden else []) + [v.outputs]


def test_right_forms_verify_and_are_named_as_written(verdicts):
    results, _, _ = verdicts
    for name, v in RIGHT.items():
        result = results[name]
        assert result.verdict == report.VERIFIED, (name, report.one_line(result))
        read = result.network
        assert read["sizes"] == _sizes(v), (name, read["text"])
        assert read["output_activation"] == v.output, (name, read["text"])
        if v.hidden:
            assert read["activation"] == v.activation, (name, read["text"])
        assert read["biases"] == ("trained" if v.biases else "none"), (name, read["text"])
        if not v.eta_typed:  # typed η: ½ or not is the same update with η halved, not told apart
            assert read["loss"] == v.loss, (name, read["text"])
        if v.batch.startswith("full"):
            assert (read["batch"], read["gradient"]) == ("full", v.batch[5:]), (name, read["text"])
        elif v.batch == "online":
            assert read["batch"] == "online", (name, read["text"])


def test_softmax_and_its_loss_are_said(verdicts):
    results, _, _ = verdicts
    text = results["softmax_direct"].network["text"]
    assert text.startswith("2-3-2 sigmoid hidden, softmax output, a bias per unit (trained), 1 sample")
    assert "loss cross-entropy −Σ t·ln a" in text and "displayed loss cross-entropy" in text
    single = results["softmax_exp_cells_online"].network["text"]
    assert single.startswith("2-3 softmax, no biases") and "online" in single


def test_displayed_loss_and_update_each_by_their_own_definition(verdicts):
    results, _, _ = verdicts
    # Trained on Σ(t−a)² (δ = 2(a−t)·f′) while showing ½Σ(t−a)² with SUMSQ: both right, each named.
    text = results["tanh_sumproduct_z"].network["text"]
    assert "loss Σ(t−a)² without ½" in text and "displayed loss ½Σ(t−a)²" in text
    shown = results["sigmoid_from_z_column"].network["text"]
    assert "loss ½Σ(t−a)²" in shown and "displayed loss Σ(t−a)² without ½" in shown
    assert "displayed loss cross-entropy" in results["bce_hidden_neg"].network["text"]
    assert results["eta_typed_squared"].tables[0].eta_note.endswith("written into the update formulas")


def test_each_planted_mistake_is_wrong_at_its_cell(verdicts):
    results, truth, cells = verdicts
    for name, (twin, what) in PLANTED.items():
        result = results[name]
        assert result.verdict == report.WRONG, (name, report.one_line(result))
        finding = result.first_wrong
        assert finding.address == cells[name], (name, what, report.one_line(result))
        right = truth[twin][cells[name]].value
        assert finding.expected == pytest.approx(right, rel=1e-9, abs=1e-12), (name, report.one_line(result))


def test_an_activation_no_spec_has_is_a_different_network_saying_which(verdicts):
    results, _, _ = verdicts
    result = results["leaky"]
    assert result.verdict == report.DIFFERENT_NETWORK, report.one_line(result)
    assert "leaky ReLU (slope 0.01 below 0)" in result.network_difference
