"""The chain rule's intermediate terms, computed from the oracle's outputs of a row.

Course sheets often give these a column of their own (δ_o1, ∂E/∂a_o1, a_o1·(1−a_o1), ∂E/∂a_h1,
δ_h1, ...) and read them in their gradient columns. The verifier's proof needs their true values
to identify such a column by what it computes, and to prove a gradient formula that reads one.
They extend sheetgen.core.oracle.evaluate (a separate module, so the oracle keeps one job).
"""

from __future__ import annotations

# key -> how a report names it
LABELS = {
    "dE_da_o1": "∂E/∂a_o1",
    "dE_da_o2": "∂E/∂a_o2",
    "da_o1": "a_o1·(1−a_o1)",
    "da_o2": "a_o2·(1−a_o2)",
    "da_h1": "a_h1·(1−a_h1)",
    "da_h2": "a_h2·(1−a_h2)",
    "delta_o1": "δ_o1",
    "delta_o2": "δ_o2",
    "dE1_da_h1": "∂E1/∂a_h1",
    "dE2_da_h1": "∂E2/∂a_h1",
    "dE1_da_h2": "∂E1/∂a_h2",
    "dE2_da_h2": "∂E2/∂a_h2",
    "dE_da_h1": "∂E/∂a_h1",
    "dE_da_h2": "∂E/∂a_h2",
    "delta_h1": "δ_h1",
    "delta_h2": "δ_h2",
}


def intermediates(row: dict) -> dict:
    """The terms above from one row of oracle.evaluate's output (numbers or numpy arrays)."""
    a_o1, a_o2, a_h1, a_h2 = row["a_o1"], row["a_o2"], row["a_h1"], row["a_h2"]
    terms = {
        "dE_da_o1": a_o1 - row["t1"],
        "dE_da_o2": a_o2 - row["t2"],
        "da_o1": a_o1 * (1 - a_o1),
        "da_o2": a_o2 * (1 - a_o2),
        "da_h1": a_h1 * (1 - a_h1),
        "da_h2": a_h2 * (1 - a_h2),
    }
    terms["delta_o1"] = terms["dE_da_o1"] * terms["da_o1"]
    terms["delta_o2"] = terms["dE_da_o2"] * terms["da_o2"]
    terms["dE1_da_h1"] = terms["delta_o1"] * row["w5"]
    terms["dE2_da_h1"] = terms["delta_o2"] * row["w7"]
    terms["dE1_da_h2"] = terms["delta_o1"] * row["w6"]
    terms["dE2_da_h2"] = terms["delta_o2"] * row["w8"]
    terms["dE_da_h1"] = terms["dE1_da_h1"] + terms["dE2_da_h1"]
    terms["dE_da_h2"] = terms["dE1_da_h2"] + terms["dE2_da_h2"]
    terms["delta_h1"] = terms["dE_da_h1"] * terms["da_h1"]
    terms["delta_h2"] = terms["dE_da_h2"] * terms["da_h2"]
    return terms
