"""The committed network diagram, and the code that draws it."""

from __future__ import annotations

import importlib.util
import struct
from pathlib import Path

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
