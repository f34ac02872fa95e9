"""Issue 14 review of `render`: an edge's dtype/shape label must not be drawn under a box.

The box layer paints over the edge layer, so the label placer (``inspector.scene.labels``) keeps
labels off the boxes as well as off each other: in the onnx wheel's Inception v2, seven edge
labels were hidden under a neighbouring box while the render's own record of its text
(``Rendering.labels``) counted them as drawn whole. Qt is imported inside the test, so
collecting ``tests/core`` stays Qt-free.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def side_by_side_model() -> onnx.ModelProto:
    """A Mul and a wide, tall Unsqueeze (a long initializer name) side by side, both feeding an
    Add: the Mul's output label, right of where its edge leaves it, lands inside the Unsqueeze
    (the shape of Inception v2's batch-norm scale branch)."""
    f = TensorProto.FLOAT
    scale = numpy_helper.from_array(np.zeros(64, np.float32), "conv1/7x7_s2/bn/sc_b_0")
    axes = numpy_helper.from_array(np.array([1, 2], np.int64), "ax")
    nodes = [
        helper.make_node("Mul", ["x", "x"], ["m"], name="n3"),
        helper.make_node("Unsqueeze", [scale.name, "ax"], ["u"], name="n4"),
        helper.make_node("Add", ["m", "u"], ["y"], name="n5"),
    ]
    graph = helper.make_graph(
        nodes,
        "side_by_side",
        [helper.make_tensor_value_info("x", f, [1, 64, 112, 112])],
        [helper.make_tensor_value_info("y", f, [1, 64, 112, 112])],
        initializer=[scale, axes],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def test_no_edge_label_is_drawn_under_a_box(qapp, tmp_path: Path) -> None:
    from inspector.core.diagram import draw_graph
    from inspector.core.graph import open_model
    from inspector.scene import GraphScene, palette_for
    from inspector.scene.render import render_scene

    path = tmp_path / "side.onnx"
    onnx.save(side_by_side_model(), path)
    model = open_model(path)
    drawn = draw_graph(model, model.graph)
    scene = GraphScene(drawn.diagram, drawn.layout, palette_for(False))
    rendering = render_scene(scene, tmp_path / "side.png")
    assert len(rendering.pieces) == 1
    src, piece, scale = rendering.pieces[0].source, rendering.pieces[0], rendering.scale
    label_px = scene.label_font.pixelSize() * scale
    edge_labels = [
        label
        for label in rendering.labels
        if label.text in set(scene.diagram.edge_label) and abs(label.px - label_px) < 0.01
    ]
    assert edge_labels  # the Mul's, the Unsqueeze's and the Add's
    for label in edge_labels:
        x, y, w, h = label.rect
        x0, y0 = src.left() + (x - piece.x) / scale, src.top() + (y - piece.y) / scale
        x1, y1 = x0 + w / scale, y0 + h / scale
        under = (scene.bx0 < x1) & (x0 < scene.bx1) & (scene.by0 < y1) & (y0 < scene.by1)
        hidden = [scene.diagram.lines[i][0] for i in np.flatnonzero(under).tolist()]
        assert not hidden, f"edge label {label.text} is drawn under {hidden}"
