"""Layer groups in the window: a big model opens collapsed, groups open and close by
double-click, keys and the View menu, a finding inside a closed group is counted on its box and
reached from its Problems row, and the text drawn at fit is readable (counted from the scene's
own record of its last paint)."""

from __future__ import annotations

import re
import threading

import onnx
import pytest
from PySide6.QtCore import QCoreApplication, QPointF, Qt
from PySide6.QtWidgets import QToolButton

from inspector.core.collapse import MIN_LABEL_PX
from inspector.core.diagram import BoxKind, layout_diagram
from inspector.core.findings import Severity
from inspector.ui import document_view
from inspector.ui.document_view import SYNC_LAYOUT_BOXES, DocumentView
from tests.core.test_collapse import _group_boxes, _same, layered_model
from tests.ui.window_driving import open_and_wait


def _box_pos(view: DocumentView, box: int):
    centre = view.scene.box_rect(box).center()
    return view.view.mapFromScene(QPointF(centre.x(), centre.y()))


def _action(window, text: str):
    return next(a for a in window.findChildren(type(window.open_action)) if a.text() == text)


def test_big_model_opens_collapsed_and_groups_open_and_close(qtbot, window, tmp_path):
    path = tmp_path / "layered.onnx"
    onnx.save(layered_model(60), path)
    view = open_and_wait(qtbot, window, path)
    drawing = view.drawing
    assert drawing is not None and drawing.expanded != drawing.folding.everything
    first = drawing.diagram
    boxes = _group_boxes(first)
    assert "layers.1–59 ×59" in boxes
    tip = view.scene.tooltip_at(view.scene.box_rect(boxes["layers.1–59 ×59"]).center())
    assert tip.startswith("layers.1–59 ×59\n") and "double-click or → opens it" in tip

    # at fit every group's name is readable, counted from what the last paint drew
    view.view.fit_to_window()
    view.view.viewport().repaint()
    drawn = dict(view.scene.painted_labels())
    for title in boxes:
        assert drawn[title] >= MIN_LABEL_PX, title

    # from everything closed, double-click opens the fold: its layers are boxes of their own
    _action(window, "&Collapse All Groups").trigger()
    first = view.document.current.diagram
    boxes = _group_boxes(first)
    assert set(boxes) == {"embed", "layers.0", "layers.1–59 ×59", "head"}
    fold = boxes["layers.1–59 ×59"]
    view.view.zoom_to_box(fold)
    qtbot.mouseDClick(view.view.viewport(), Qt.MouseButton.LeftButton, pos=_box_pos(view, fold))
    opened = _group_boxes(view.document.current.diagram)
    assert {f"layers.{i}" for i in range(60)} <= set(opened)
    assert view.last_fold_ms > 0
    assert view.scene.diagram is view.document.current.diagram

    # Left on a selected layer closes the fold around it again: the same drawing as before
    layer = opened["layers.30"]
    view.view.zoom_to_box(layer)
    qtbot.mouseClick(view.view.viewport(), Qt.MouseButton.LeftButton, pos=_box_pos(view, layer))
    assert view.scene.selected_box == layer
    qtbot.keyClick(view.view, Qt.Key.Key_Left)
    _same(view.document.current.diagram, first)

    # Right on a selected group opens it
    head = _group_boxes(view.document.current.diagram)["layers.0"]
    view.view.zoom_to_box(head)
    qtbot.mouseClick(view.view.viewport(), Qt.MouseButton.LeftButton, pos=_box_pos(view, head))
    qtbot.keyClick(view.view, Qt.Key.Key_Right)
    assert {"attn", "mlp"} <= set(_group_boxes(view.document.current.diagram))

    # the View menu: everything, nothing, depth 1
    _action(window, "E&xpand All Groups").trigger()
    qtbot.waitUntil(lambda: view.document.current.diagram is drawing.folding.full, timeout=60_000)
    assert view.scene.box_grid.count == len(view.document.graph.nodes) + 2
    _action(window, "&Collapse All Groups").trigger()
    assert set(_group_boxes(view.document.current.diagram)) == set(boxes)
    view.expand_to_depth(1)
    assert view.document.current.expanded == drawing.folding.expanded_to_depth(1)


def test_finding_in_a_collapsed_group_is_counted_and_reached(qtbot, window, tmp_path):
    path = tmp_path / "custom.onnx"
    onnx.save(layered_model(60, custom_in=7), path)
    view = open_and_wait(qtbot, window, path, checked=True)
    doc = view.document
    frob = next(n.index for n in doc.graph.nodes if n.op_type == "Frob")
    errors = [
        f
        for f in doc.findings
        if f.node_index == frob and f.severity == Severity.ERROR and not f.path
    ]
    assert errors, [f.code for f in doc.findings]
    # the fold holding layers.7 carries the count on its badge
    fold = _group_boxes(doc.current.diagram)["layers.1–59 ×59"]
    assert int(doc.current.diagram.node_box[frob]) == fold
    severity, text = view.scene.box_overlay[fold]
    assert severity == "error"
    n = len(errors)
    assert re.fullmatch(rf"{n} errors?", text), text
    # its Problems row opens the groups on the way and selects the node itself
    row = doc.findings.index(errors[0])
    window.problems.finding_activated.emit(row)
    qtbot.waitUntil(
        lambda: doc.selection is not None and doc.selection.ident == frob, timeout=60_000
    )
    diagram = doc.current.diagram
    box = int(diagram.node_box[frob])
    assert diagram.kind[box] == BoxKind.NODE and view.scene.selected_box == box
    assert [doc.current.folding.name(t) for t in doc.current.folding.path_to(frob)] == [
        "layers.1–59 ×59",
        "layers.7",
        "mlp",
    ]
    assert set(doc.current.folding.path_to(frob)) <= doc.current.expanded
    assert view.scene.box_overlay[box][0] == "error"


@pytest.mark.slow
def test_100k_model_opens_readable_and_folds_fast(qtbot, window):
    from tests.benchmarks.bench_models import get_model

    view = open_and_wait(qtbot, window, get_model("100k"))
    view.view.fit_to_window()
    view.view.viewport().repaint()
    readable = [t for t, px in view.scene.painted_labels() if px >= MIN_LABEL_PX]
    assert len(readable) >= 20, readable
    layer = _group_boxes(view.document.current.diagram)["layers.0"]
    times = []
    for _ in range(3):
        view.expand_group(layer)
        times.append(view.last_fold_ms)
        view.collapse_around(_group_boxes(view.document.current.diagram)["self_attn"])
        times.append(view.last_fold_ms)
        layer = _group_boxes(view.document.current.diagram)["layers.0"]
    print("expand/collapse ms at 100k:", [round(t, 1) for t in times], "labels:", len(readable))
    assert sorted(times)[len(times) // 2] < 100, times


def test_breadcrumb_back_up_opens_the_groups_to_the_if(qtbot, window, tmp_path):
    path = tmp_path / "with_if.onnx"
    onnx.save(layered_model(60, if_in=9), path)
    view = open_and_wait(qtbot, window, path)
    doc = view.document
    node = next(n for n in doc.graph.nodes if n.op_type == "If")
    # collapsed: the If is inside the fold
    assert doc.current.diagram.kind[doc.current.diagram.node_box[node.index]] == BoxKind.GROUP
    view.session.enter_graph(view.doc_id, (node.label, "then_branch"))
    qtbot.waitUntil(lambda: doc.graph_path == (node.label, "then_branch"), timeout=30000)

    # the breadcrumb's first button goes back to the main graph, with the If drawn and shown
    # the crumbs are refilled once the subgraph is drawn, and the old buttons go at the next
    # event-loop turn: wait for the enabled one (going back), not the main graph's old button
    def back_button() -> QToolButton | None:
        return next((b for b in view.crumbs.findChildren(QToolButton) if b.isEnabled()), None)

    qtbot.waitUntil(lambda: back_button() is not None, timeout=60_000)
    back = back_button()
    qtbot.mouseClick(back, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: doc.graph_path == (), timeout=60_000)
    diagram = doc.current.diagram
    box = int(diagram.node_box[node.index])
    assert diagram.kind[box] == BoxKind.NODE
    assert view.view.visible_scene_rect().contains(view.scene.box_rect(box).center())


def test_opened_groups_show_inferred_edge_labels(qtbot, window, tmp_path):
    # Edge labels of values only shape inference types: after it, every expansion state is cut
    # from a full diagram whose labels were refreshed, so opening a group does not lose them.
    path = tmp_path / "layered.onnx"
    onnx.save(layered_model(60), path)
    view = open_and_wait(qtbot, window, path)
    _action(window, "E&xpand All Groups").trigger()
    diagram = view.document.current.diagram
    shown = list(diagram.edge_label)
    diagram.refresh_edge_labels()
    assert shown == diagram.edge_label
    inner = [
        label
        for label, name in zip(shown, diagram.edge_value, strict=True)
        if name not in diagram.graph.inputs and name not in diagram.graph.outputs
    ]
    assert inner and all(inner), "an inner tensor's edge lost its inferred type label"


def test_a_big_expansion_is_made_and_laid_out_off_the_gui_thread(qtbot, window, tmp_path):
    """Past ``SYNC_LAYOUT_BOXES`` boxes, the drawing's boxes, text and layout are made on a
    worker; the view shows it when it is ready, its edge labels already made."""
    path = tmp_path / "layered300.onnx"
    onnx.save(layered_model(300), path)
    view = open_and_wait(qtbot, window, path)
    folding = view.drawing.folding
    leaf = max(t for t in folding.everything if not folding.is_fold(t))
    almost = folding.everything - {leaf}
    count = view.drawing.box_count_for(almost)
    assert count > SYNC_LAYOUT_BOXES
    with qtbot.waitSignal(view.groups_changed, timeout=60_000):
        view.set_expanded(almost)
        assert view.document.current.expanded != almost  # not shown yet: on its way
    shown = view.document.current
    assert shown.expanded == almost and shown.diagram.box_count == count
    assert view.scene.diagram is shown.diagram
    assert isinstance(shown.diagram.edge_label, list)
    # everything open: the full diagram, its lazily made labels all made by the worker
    with qtbot.waitSignal(view.groups_changed, timeout=60_000):
        _action(window, "E&xpand All Groups").trigger()
    full = view.document.current.diagram
    assert full is folding.full
    assert None not in full.edge_label._items


def test_a_big_expansion_finishing_after_shape_inference_shows_its_types(
    qtbot, window, tmp_path, monkeypatch
):
    """Asked for (and cut from the full diagram) before the types were inferred, laid out after
    them: its edge labels show the types all the same."""
    path = tmp_path / "layered300.onnx"
    onnx.save(layered_model(300), path)
    inferred = threading.Event()

    def layout_after_inference(diagram, *args):  # the worker waits; the GUI thread never does
        if threading.current_thread() is not threading.main_thread():
            assert inferred.wait(60)
        return layout_diagram(diagram, *args)

    monkeypatch.setattr(document_view, "layout_diagram", layout_after_inference)
    asked: list[frozenset[int]] = []

    def expand_at_once(doc_id: int) -> None:  # before shape inference starts
        view = window.current_view()
        folding = view.drawing.folding
        leaf = max(t for t in folding.everything if not folding.is_fold(t))
        asked.append(folding.everything - {leaf})
        view.set_expanded(asked[0])

    window.session.document_opened.connect(expand_at_once)
    with qtbot.waitSignal(window.session.types_inferred, timeout=60_000):
        window.open_files([str(path)])
    view = window.current_view()
    assert view.document.current.expanded != asked[0]  # still on its way
    with qtbot.waitSignal(view.groups_changed, timeout=60_000):
        inferred.set()
    diagram = view.document.current.diagram
    assert view.document.current.expanded == asked[0]
    inner = [
        label
        for label, name in zip(diagram.edge_label, diagram.edge_value, strict=True)
        if name not in diagram.graph.inputs and name not in diagram.graph.outputs
    ]
    assert inner and all(inner), "an inner tensor's edge has no inferred type label"


def test_the_last_expansion_asked_for_wins_over_one_still_laid_out(qtbot, window, tmp_path):
    """Asking for the drawing shown (Collapse All right after an Expand All that is still being
    laid out) drops the expansion on its way: it does not replace the drawing when it is done."""
    path = tmp_path / "layered300.onnx"
    onnx.save(layered_model(300), path)
    view = open_and_wait(qtbot, window, path)
    start = view.drawing.expanded
    folding = view.drawing.folding
    assert view.drawing.box_count_for(folding.everything) > SYNC_LAYOUT_BOXES
    view.set_expanded(folding.everything)  # on a worker
    view.set_expanded(start)  # back to what is shown, at once
    assert window.runner.wait_idle(60_000)
    QCoreApplication.processEvents()  # the worker's result, had it not been dropped
    assert view.document.current.expanded == start


def test_a_group_opened_while_a_big_drawing_is_made_adds_to_it(qtbot, window, tmp_path):
    """Opening a second group while the drawing for the first is still on its worker opens both
    (the request is built from what was asked, not from the drawing shown)."""
    path = tmp_path / "layered300.onnx"
    onnx.save(layered_model(300), path)
    view = open_and_wait(qtbot, window, path)
    _action(window, "&Collapse All Groups").trigger()
    folding = view.drawing.folding
    embed = _group_boxes(view.document.current.diagram)["embed"]
    almost = folding.everything - {int(view.document.current.diagram.ref[embed])}
    assert view.drawing.box_count_for(almost) > SYNC_LAYOUT_BOXES
    view.set_expanded(almost)  # on its way
    assert view.wanted_expanded == almost and view.document.current.expanded != almost
    assert view.depth_shown() < folding.max_depth  # embed is still closed
    view.expand_group(embed)  # the shown drawing's box, while the first is still being made
    qtbot.waitUntil(lambda: view.document.current.expanded == folding.everything, timeout=60_000)
    assert view.depth_shown() == folding.max_depth


def test_expand_to_depth_starts_at_the_depth_shown(qtbot, window, tmp_path):
    path = tmp_path / "layered.onnx"
    onnx.save(layered_model(60), path)
    view = open_and_wait(qtbot, window, path)
    view.collapse_all()
    assert view.depth_shown() == 0
    view.expand_to_depth(1)
    assert view.depth_shown() == 1
    view.expand_all()
    qtbot.waitUntil(
        lambda: view.document.current.expanded == view.drawing.folding.everything, timeout=60_000
    )
    assert view.depth_shown() == view.drawing.folding.max_depth


def test_a_node_revealed_while_its_drawing_is_made_is_where_the_view_lands(qtbot, window, tmp_path):
    """Search or Problems showing a node that the drawing on its way will show: when it
    arrives, the view centres on that node (not on what the expansion was asked for)."""
    path = tmp_path / "layered300.onnx"
    onnx.save(layered_model(300), path)
    view = open_and_wait(qtbot, window, path)
    view.collapse_all()
    folding = view.drawing.folding
    embed = _group_boxes(view.document.current.diagram)["embed"]
    almost = folding.everything - {int(view.document.current.diagram.ref[embed])}
    graph = view.document.graph
    node = next(n.index for n in graph.nodes if n.name == "/layers.150/attn/Softmax")
    with qtbot.waitSignal(view.groups_changed, timeout=60_000):
        view.set_expanded(almost)
        view.reveal_node(node)  # its groups are all in the drawing on its way
    box = view.box_of_node(node)
    assert view.document.current.diagram.kind[box] == BoxKind.NODE
    assert view.view.visible_scene_rect().contains(view.scene.box_rect(box).center())
