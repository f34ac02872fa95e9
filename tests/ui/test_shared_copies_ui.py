"""Clicking a copy of a shared small value (inspector.core.diagram_shared) selects the original."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper
from PySide6.QtCore import QPointF, Qt

from tests.ui.window_driving import open_and_wait


def test_clicking_a_copy_selects_the_original_node(qtbot, window, tmp_path):
    nodes = [helper.make_node("Constant", [], ["one"], value_float=1.0)]
    x = "x"
    for k, op in enumerate(["Add", "Mul", "Sub"]):
        for i in range(20):  # distance between the Constant's consumers
            nodes.append(helper.make_node("Relu", [x], [f"r{k}_{i}"]))
            x = f"r{k}_{i}"
        nodes.append(helper.make_node(op, [x, "one"], [f"{op}_out"]))
        x = f"{op}_out"
    io = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 8]) for n in ("x", x)]
    graph = helper.make_graph(nodes, "g", io[:1], io[1:])
    path = tmp_path / "shared.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)

    view = open_and_wait(qtbot, window, path)
    diagram = view.document.current.diagram
    original = int(diagram.node_box[0])
    copy = int(diagram.copy_of.tolist().index(original))  # the first copy of the Constant
    view.view.zoom_to_box(copy)
    centre = view.scene.box_rect(copy).center()
    pos = view.view.mapFromScene(QPointF(centre.x(), centre.y()))
    with qtbot.waitSignal(window.session.selection_changed, timeout=5000):
        qtbot.mouseClick(view.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    selection = view.document.selection
    assert (selection.kind, selection.ident) == ("node", 0)
    assert view.scene.selected_box == original
