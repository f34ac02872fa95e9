"""A model opens with its groups expanded to the depth readable on the graph view it gets in
this window as it is now, not on a fixed canvas."""

from __future__ import annotations

import onnx

from inspector.core.collapse import WINDOW_VIEWPORT, default_expansion
from tests.core.test_collapse import layered_model
from tests.ui.window_driving import open_and_wait


def test_a_model_opens_to_the_depth_its_canvas_reads(qtbot, window, tmp_path):
    path = tmp_path / "layered.onnx"
    onnx.save(layered_model(60), path)
    window.resize(700, 520)
    qtbot.waitUntil(lambda: window.width() <= 700)
    view = open_and_wait(qtbot, window, path)
    size = view.view.viewport().size()
    canvas = (float(size.width()), float(size.height()))
    assert window.graph_canvas() == canvas  # what the next open will use
    drawing = view.drawing
    assert drawing is not None
    assert drawing.expanded == default_expansion(drawing.folding, canvas)[0]
    # a fixed canvas of a 1400×900 window would have opened it deeper
    assert drawing.expanded != default_expansion(drawing.folding, WINDOW_VIEWPORT)[0]


def test_the_first_model_opens_for_the_canvas_it_gets(qtbot, window, tmp_path):
    # No tab yet: the tab bar is hidden (and says it takes no height) until the first tab shows it.
    canvas = window.graph_canvas()
    path = tmp_path / "layered.onnx"
    onnx.save(layered_model(60), path)
    view = open_and_wait(qtbot, window, path)
    size = view.view.viewport().size()
    # (the status bar's line after the open may move the window's rows by a pixel)
    assert abs(canvas[0] - size.width()) <= 2 and abs(canvas[1] - size.height()) <= 2, canvas


def test_a_model_opened_beside_a_subgraph_opens_for_a_view_without_a_breadcrumb(
    qtbot, window, tmp_path
):
    # The shown tab is in a subgraph: its view is that much shorter than a new tab's, which
    # starts in its main graph with no breadcrumb bar.
    path = tmp_path / "with_if.onnx"
    onnx.save(layered_model(60, if_in=9), path)
    view = open_and_wait(qtbot, window, path)
    node = next(n for n in view.document.graph.nodes if n.op_type == "If")
    view.session.enter_graph(view.doc_id, (node.label, "then_branch"))
    qtbot.waitUntil(lambda: view.crumbs.isVisible() and view.view.viewport().height() < 780)
    canvas = window.graph_canvas()
    other = tmp_path / "layered.onnx"
    onnx.save(layered_model(60), other)
    size = open_and_wait(qtbot, window, other).view.viewport().size()
    assert abs(canvas[0] - size.width()) <= 2 and abs(canvas[1] - size.height()) <= 2, canvas
