"""Issue 14 review of `render`: a wide, flat graph's strips are as tall as what they hold.

A wide graph is cut into vertical strips stacked top to bottom; each strip was drawn at the
whole graph's height, so a strip holding only the bottom row of a 2,000-wide fan-out (its
outputs) was three quarters empty: 4 pages where 2 do. Qt is imported inside the tests, so
collecting ``tests/core`` stays Qt-free.
"""

from __future__ import annotations

from pathlib import Path

import onnx


def test_wide_graph_strips_are_trimmed_to_their_boxes(qapp, tmp_path: Path) -> None:
    from inspector.core.diagram import draw_graph
    from inspector.core.graph import open_model
    from inspector.scene import GraphScene, palette_for
    from inspector.scene.render import TRIM_MARGIN, render_scene
    from tests.ui.test_render_readable import assert_op_types_legible, wide_model

    path = tmp_path / "wide.onnx"
    onnx.save(wide_model(167), path)
    model = open_model(path)
    drawn = draw_graph(model, model.graph)
    scene = GraphScene(drawn.diagram, drawn.layout, palette_for(False))
    rendering = render_scene(scene, tmp_path / "wide.png")
    assert len(rendering.pieces) > 1
    full = scene.sceneRect()
    trimmed = 0
    for piece in rendering.pieces:
        src = piece.source
        inside = (scene.bx1 > src.left()) & (scene.bx0 < src.right())
        inside &= (scene.by1 > src.top()) & (scene.by0 < src.bottom())
        assert inside.any()
        # no more than the margin above the top box and below the bottom one
        assert src.top() >= float(scene.by0[inside].min()) - TRIM_MARGIN - 1e-6
        assert src.bottom() <= float(scene.by1[inside].max()) + TRIM_MARGIN + 1e-6
        trimmed += src.height() < full.height()
    # the strips holding only the outputs' row are about a third of the graph's height
    assert trimmed >= len(rendering.pieces) // 2
    heights = [p.source.height() for p in rendering.pieces]
    assert min(heights) < 0.5 * full.height(), heights
    assert_op_types_legible(scene, rendering)
