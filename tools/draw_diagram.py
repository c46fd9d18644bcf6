"""Draw the network diagrams of the Equations sheet into sheetgen/build/assets/.

network.png is the course's network; network_biases.png adds Mazur's biases (b1 into both
hidden units, b2 into both outputs). The PNGs are committed, so building a workbook never
imports matplotlib (which would cost more than the whole build). Every other network's diagram
is drawn by the build itself, as a native chart of the spec (sheetgen/build/derivation.py), so it
needs no picture here. Re-draw these after changing this file:

    python tools/draw_diagram.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "sheetgen" / "build" / "assets"
ASSET = ASSETS / "network.png"
ASSET_WITH_BIASES = ASSETS / "network_biases.png"
WIDTH_PX, HEIGHT_PX, DPI = 900, 480, 100

# Node centres in axes units (x grows left to right through the layers).
NODES = {
    "i1": (0.6, 3.0),
    "i2": (0.6, 1.0),
    "h1": (3.0, 3.0),
    "h2": (3.0, 1.0),
    "o1": (5.6, 3.0),
    "o2": (5.6, 1.0),
    "E1": (8.0, 3.0),
    "E2": (8.0, 1.0),
    "E_total": (10.05, 2.0),
}
# Half the width of each node's box, so that edges run from box edge to box edge.
HALF_WIDTH = {"i": 0.32, "h": 0.75, "o": 0.75, "E": 1.2}
NODE_TEXT = {
    "i1": "i1",
    "i2": "i2",
    "h1": "h1 → a_h1",
    "h2": "h2 → a_h2",
    "o1": "o1 → a_o1",
    "o2": "o2 → a_o2",
    "E1": "E1 = ½(t1 − a_o1)²",
    "E2": "E2 = ½(t2 − a_o2)²",
    "E_total": "E_total\n= E1 + E2",
}
# (from, to, weight label); the label sits a third of the way along, where edges do not cross.
EDGES = [
    ("i1", "h1", "w1"),
    ("i2", "h1", "w2"),
    ("i1", "h2", "w3"),
    ("i2", "h2", "w4"),
    ("h1", "o1", "w5"),
    ("h2", "o1", "w6"),
    ("h1", "o2", "w7"),
    ("h2", "o2", "w8"),
    ("o1", "E1", None),
    ("o2", "E2", None),
    ("E1", "E_total", None),
    ("E2", "E_total", None),
]
COLOURS = {"i": "#DDEBF7", "h": "#E2EFDA", "o": "#FCE4D6", "E": "#FFF2CC", "b": "#EDEDED"}
# Each bias sits between the two units it feeds, where no weight edge passes.
BIAS_NODES = {"b1": (3.0, 2.0), "b2": (5.6, 2.0)}
BIAS_EDGES = [("b1", "h1"), ("b1", "h2"), ("b2", "o1"), ("b2", "o2")]


def draw(path: str | Path = ASSET, biases: bool = False) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig = plt.figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.1, 10.9)
    ax.set_ylim(-0.2, 4.4)
    ax.axis("off")
    box = {"boxstyle": "round,pad=0.45", "linewidth": 1.2, "edgecolor": "#404040"}

    for start, end, weight in EDGES:
        (x0, y0), (x1, y1) = NODES[start], NODES[end]
        x0 += HALF_WIDTH[start[0]] if start != "E_total" else 0.75
        x1 -= HALF_WIDTH[end[0]] if end != "E_total" else 0.75
        ax.annotate(
            "",
            xy=(x1, y1),
            xytext=(x0, y0),
            arrowprops={
                "arrowstyle": "-|>",
                "color": "#606060",
                "linewidth": 1.2,
                "shrinkA": 0,
                "shrinkB": 0,
            },
        )
        if weight:
            t = 0.3
            ax.text(
                x0 + t * (x1 - x0),
                y0 + t * (y1 - y0),
                weight,
                fontsize=12,
                ha="center",
                va="center",
                fontweight="bold",
                color="#1F4E79",
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none"},
            )
    if biases:
        for start, end in BIAS_EDGES:
            (x, y0), (_, y1) = BIAS_NODES[start], NODES[end]
            toward = 1 if y1 > y0 else -1
            ax.annotate(
                "",
                xy=(x, y1 - toward * 0.32),
                xytext=(x, y0 + toward * 0.25),
                arrowprops={"arrowstyle": "-|>", "color": "#808080", "linewidth": 1.1, "linestyle": "--"},
            )
        for key, (x, y) in BIAS_NODES.items():
            ax.text(
                x,
                y,
                f"bias {key}",
                fontsize=11,
                ha="center",
                va="center",
                bbox={**box, "facecolor": COLOURS["b"]},
            )
    for key, (x, y) in NODES.items():
        ax.text(
            x,
            y,
            NODE_TEXT[key],
            fontsize=12,
            ha="center",
            va="center",
            bbox={**box, "facecolor": COLOURS[key[0]]},
        )

    label_y = 4.15
    ax.text(0.6, label_y, "inputs", ha="center", fontsize=11, style="italic")
    ax.text(3.0, label_y, "hidden layer: a_h = σ(h)", ha="center", fontsize=11, style="italic")
    ax.text(5.6, label_y, "output layer: a_o = σ(o)", ha="center", fontsize=11, style="italic")
    ax.text(8.0, label_y, "errors (targets t1, t2)", ha="center", fontsize=11, style="italic")
    b1, b2 = (" + b1", " + b2") if biases else ("", "")
    ax.text(
        5.4,
        0.05,
        f"h1 = w1·i1 + w2·i2{b1}   h2 = w3·i1 + w4·i2{b1}   o1 = w5·a_h1 + w6·a_h2{b2}   "
        f"o2 = w7·a_h1 + w8·a_h2{b2}   σ(x) = 1/(1 + e^(−x))",
        ha="center",
        fontsize=8.8 if biases else 10,
        color="#404040",
    )

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, facecolor="white")
    plt.close(fig)
    return path


if __name__ == "__main__":
    if len(sys.argv) > 1:  # one diagram to a path of your choice: draw_diagram.py PATH [--biases]
        print(f"wrote {draw(sys.argv[1], biases='--biases' in sys.argv[2:])}")
    else:
        print(f"wrote {draw(ASSET)}")
        print(f"wrote {draw(ASSET_WITH_BIASES, biases=True)}")
