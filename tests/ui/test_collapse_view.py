"""Layer groups in the window: a big model opens collapsed, groups open and close by
double-click, keys and the View menu, a finding inside a closed group is counted on its box and
reached from its Problems row, and the text drawn at fit is readable (counted from the scene's
own record of its last paint)."""

from __future__ import annotations

import re

import onnx
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QToolButton

from inspector.core.collapse import MIN_LABEL_PX
from inspector.core.diagram import BoxKind
from inspector.core.findings import Severity
from inspector.ui.document_view import DocumentView
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
    qtbot.waitUntil(lambda: view.document.current.diagram is drawing.folding.full)
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
    qtbot.waitUntil(lambda: doc.selection is not None and doc.selection.ident == frob)
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
    back = view.crumbs.findChildren(QToolButton)[0]
    qtbot.mouseClick(back, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: doc.graph_path == ())
    diagram = doc.current.diagram
    box = int(diagram.node_box[node.index])
    assert diagram.kind[box] == BoxKind.NODE
    assert view.view.visible_scene_rect().contains(view.scene.box_rect(box).center())
