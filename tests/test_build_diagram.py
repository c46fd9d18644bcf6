"""The committed network diagram, and the code that draws it."""

from __future__ import annotations

import importlib.util
import itertools
import struct
from pathlib import Path

import pytest

from sheetgen.build.derivation import _positions, weight_label_points
from sheetgen.core.spec import NetworkSpec

# The drawing script is a development tool outside the package (it needs matplotlib; building does not).
_SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "draw_diagram.py"
_spec = importlib.util.spec_from_file_location("draw_diagram", _SCRIPT)
diagram = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(diagram)


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_redrawing_the_diagram_gives_a_png_of_the_expected_size(tmp_path):
    path = diagram.draw(tmp_path / "network.png")
    assert _png_size(path) == (diagram.WIDTH_PX, diagram.HEIGHT_PX)
    assert path.stat().st_size > 10_000  # a drawing, not an empty canvas


def test_the_committed_diagram_is_the_one_the_workbook_uses():
    from sheetgen.build.equations import DIAGRAM

    assert DIAGRAM == diagram.ASSET
    assert _png_size(DIAGRAM) == (diagram.WIDTH_PX, diagram.HEIGHT_PX)


def test_the_diagram_with_biases_is_committed_and_used(tmp_path):
    from sheetgen.build.equations import DIAGRAM_WITH_BIASES

    assert DIAGRAM_WITH_BIASES == diagram.ASSET_WITH_BIASES
    assert _png_size(DIAGRAM_WITH_BIASES) == (diagram.WIDTH_PX, diagram.HEIGHT_PX)
    redrawn = diagram.draw(tmp_path / "biases.png", biases=True)
    assert redrawn.stat().st_size > 10_000 and redrawn.read_bytes() != diagram.ASSET.read_bytes()


@pytest.mark.parametrize(
    "sizes", [(2, 3, 3, 2), (3, 4, 3), (2, 3, 1), (4, 2, 3), (3, 1, 1, 2), (2, 4, 4, 2), (4, 4, 4, 2)]
)
def test_weight_labels_of_crossing_lines_do_not_overlap(sizes):
    """A weight label is about 0.3 layer-gaps wide and 0.15 unit-steps high in the diagram's coordinates;
    no two labels may share that box (at one fixed distance along the lines, w9 and w10 did)."""
    spec = NetworkSpec(sizes=sizes)
    points = weight_label_points(spec, _positions(spec))
    assert [w for w, _, _ in points] == list(spec.weights)
    for (a, xa, ya), (b, xb, yb) in itertools.combinations(points, 2):
        assert abs(xa - xb) >= 0.3 or abs(ya - yb) >= 0.15, (a, b)
