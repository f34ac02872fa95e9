"""The graph view: painting what is visible, hit tests and clicks, zoom keys, overlays, export.

Every test paints for real (offscreen) and reads back what the view drew: the scene's painted
counters, or pixels of a grabbed image. Nothing sleeps; painting is forced with ``repaint()``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import (
    QColor,
    QHelpEvent,
    QImage,
    QNativeGestureEvent,
    QPointingDevice,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication, QToolTip

from inspector.core.categories import Category
from inspector.core.diagram import BoxKind, Diagram, build_diagram, layout_diagram
from inspector.core.graph import Graph, open_model
from inspector.core.layout import Layout
from inspector.scene import GraphScene, palette_for, render_to_file
from inspector.ui.graph_view import GraphView
from inspector.ui.graph_view.view import MAX_ZOOM

LIGHT = Path(onnx.__file__).parent / "backend/test/data/light"


# ----------------------------------------------------------------------------------- models


def synthetic(n: int, columns: int) -> tuple[Diagram, Layout]:
    """``n`` boxes in rows of ``columns``, each feeding the box below it and, for every third
    one, the box below-right; laid out directly on a grid (no layout engine involved)."""
    ids = np.arange(n)
    below = ids + columns
    diag = ids[ids % 3 == 0] + columns + 1
    src = np.concatenate([ids[below < n], ids[ids % 3 == 0][diag < n]]).astype(np.int32)
    dst = np.concatenate([below[below < n], diag[diag < n]]).astype(np.int32)
    category = (ids % 10).astype(np.int8)
    lines = [(f"Op{c}", f"node_{i}") for i, c in enumerate(category.tolist())]
    width = np.full(n, 120.0)
    height = np.full(n, 42.0)
    diagram = Diagram(
        graph=Graph("synthetic", (), [], {}, [], []),
        kind=np.full(n, BoxKind.NODE, np.int8),
        ref=ids.astype(np.int32),
        category=category,
        lines=lines,
        sizes=np.stack((width, height)),
        edge_src=src,
        edge_dst=dst,
        edge_value=[f"t{s}" for s in src.tolist()],
        edge_label=["float32[1,64,56,56]"] * len(src),
        node_box=ids.astype(np.int32),
    )
    x = (ids % columns) * 180.0 + 60
    y = (ids // columns) * 100.0 + 21
    points = np.empty((2 * len(src), 2))
    points[0::2] = np.column_stack([x[src], y[src] + 21])
    points[1::2] = np.column_stack([x[dst], y[dst] - 21])
    layout = Layout(
        x=x, y=y, w=width, h=height, rank=(ids // columns).astype(np.int32),
        edge_points=points, edge_offsets=np.arange(len(src) + 1, dtype=np.int64) * 2,
    )  # fmt: skip
    return diagram, layout


def helper_model(path: Path) -> Path:
    """x → Conv → Relu → Add(Relu, x) → y: a branch, so there are edges between boxes."""
    w = helper.make_tensor("w", TensorProto.FLOAT, [3, 3, 1, 1], [0.1] * 9)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
            helper.make_node("Relu", ["c"], ["r"], name="relu"),
            helper.make_node("Add", ["r", "x"], ["y"], name="add"),
        ],
        "small",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 8, 8])],
        [w],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def drawn(path: Path) -> tuple[Diagram, Layout]:
    model = open_model(path)
    diagram = build_diagram(model, model.graph)
    return diagram, layout_diagram(diagram)


@pytest.fixture(scope="module")
def resnet() -> tuple[Diagram, Layout]:
    return drawn(LIGHT / "light_resnet50.onnx")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Diagram, Layout]:
    return drawn(helper_model(tmp_path_factory.mktemp("models") / "small.onnx"))


def show(qtbot, diagram: Diagram, layout: Layout, dark: bool = False) -> GraphView:
    view = GraphView()
    qtbot.addWidget(view)
    view.resize(800, 600)
    view.setScene(GraphScene(diagram, layout, palette_for(dark)))
    with qtbot.waitExposed(view):
        view.show()
    view.fit_to_window()
    view.viewport().repaint()
    return view


def scene_of(view: GraphView) -> GraphScene:
    scene = view.graph_scene()
    assert scene is not None
    return scene


def count_color(image: QImage, color: QColor, x0: int, y0: int, x1: int, y1: int) -> int:
    """Pixels within 40 (sum of channel differences) of ``color`` in a rectangle of ``image``."""
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    found = 0
    for y in range(max(0, y0), min(image.height(), y1)):
        for x in range(max(0, x0), min(image.width(), x1)):
            c = image.pixelColor(x, y)
            found += (
                abs(c.red() - color.red())
                + abs(c.green() - color.green())
                + abs(c.blue() - color.blue())
                < 40
            )
    return found


# ----------------------------------------------------------------------------------- painting


def test_fit_paints_every_box_and_zoom_paints_fewer(qtbot, resnet) -> None:
    diagram, layout = resnet
    view = show(qtbot, diagram, layout)
    scene = scene_of(view)
    assert scene.painted_box_count == diagram.box_count
    assert scene.painted_edge_count > 0

    view.zoom_to_box(diagram.box_count // 2)
    view.viewport().repaint()
    assert 0 < scene.painted_box_count < diagram.box_count
    assert scene.painted_edge_count < diagram.edge_count


def test_dark_palette_paints(qtbot, small) -> None:
    diagram, layout = small
    view = show(qtbot, diagram, layout, dark=True)
    assert scene_of(view).painted_box_count == diagram.box_count
    image = view.viewport().grab().toImage()
    bg = palette_for(True).background
    assert count_color(image, bg, 0, 0, 20, 20) == 400


def test_hundred_thousand_boxes_build_and_paint(qtbot) -> None:
    diagram, layout = synthetic(100_000, columns=300)
    view = show(qtbot, diagram, layout)
    scene = scene_of(view)
    assert scene.painted_box_count == 100_000
    # Generous bounds (a loaded CI machine); tests/benchmarks measures the real numbers.
    view.viewport().repaint()
    assert view.last_frame_ms < 500
    view.set_zoom(0.15)
    view.center_on_box(50_000)
    view.viewport().repaint()
    assert view.last_frame_ms < 500
    assert 0 < scene.painted_box_count < 100_000
    view.set_zoom(1.0)
    view.viewport().repaint()
    assert view.last_frame_ms < 500
    assert scene.painted_box_count < 100


# ----------------------------------------------------------------------------------- hit tests


def test_box_at_edge_at_and_tooltips(qtbot, small) -> None:
    diagram, layout = small
    scene = GraphScene(diagram, layout, palette_for(False))
    relu = next(i for i, lines in enumerate(diagram.lines) if lines[0] == "Relu")
    assert scene.box_at(scene.box_center(relu)) == relu
    assert scene.box_at(QPointF(-1e6, -1e6)) is None
    assert scene.box_rect(relu).contains(scene.box_center(relu))

    edge = next(i for i in range(diagram.edge_count) if diagram.edge_value[i] == "r")
    mid = scene.edge_midpoint(edge)
    assert scene.edge_at(mid, 2.0) == edge
    assert scene.edge_at(QPointF(mid.x() + 50, mid.y()), 2.0) is None

    scene.set_box_overlay({relu: ("error", "Relu is not supported")})
    scene.set_edge_overlay({edge: ("warning", "float32 overflows in fp16")})
    assert scene.tooltip_at(scene.box_center(relu)) == "Relu\nrelu\n\nerror: Relu is not supported"
    tip = scene.tooltip_at(mid)
    assert tip.startswith("r\nfloat32[1,3,8,8]") and "warning: float32 overflows" in tip
    assert scene.tooltip_at(QPointF(-1e6, -1e6)) == ""


def test_click_box_edge_and_background(qtbot, small) -> None:
    diagram, layout = small
    view = show(qtbot, diagram, layout)
    scene = scene_of(view)
    vp = view.viewport()
    add = next(i for i, lines in enumerate(diagram.lines) if lines[0] == "Add")

    def at(p: QPointF) -> QPoint:
        return view.mapFromScene(p)

    with qtbot.waitSignal(view.box_clicked, check_params_cb=lambda b: b == add):
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=at(scene.box_center(add)))
    with qtbot.waitSignal(view.box_double_clicked, check_params_cb=lambda b: b == add):
        qtbot.mouseDClick(vp, Qt.MouseButton.LeftButton, pos=at(scene.box_center(add)))

    edge = next(i for i in range(diagram.edge_count) if diagram.edge_value[i] == "r")
    with qtbot.waitSignal(view.edge_clicked, check_params_cb=lambda e: e == edge):
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=at(scene.edge_midpoint(edge)))

    corner = scene.sceneRect().topLeft() + QPointF(2, 2)
    assert scene.box_at(corner) is None and scene.edge_at(corner, 10) is None
    with qtbot.waitSignal(view.background_clicked):
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, pos=at(corner))


# ----------------------------------------------------------------------------------- zoom


def test_keys_zoom_in_out_and_fit(qtbot, resnet) -> None:
    diagram, layout = resnet
    view = show(qtbot, diagram, layout)
    fit = view.zoom
    with qtbot.waitSignal(view.zoom_changed, check_params_cb=lambda z: z > fit):
        qtbot.keyClick(view, Qt.Key.Key_Plus)
    zoomed = view.zoom
    qtbot.keyClick(view, Qt.Key.Key_Minus)
    assert view.zoom < zoomed
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    qtbot.keyClick(view, Qt.Key.Key_0)
    assert view.zoom == pytest.approx(fit)

    for _ in range(40):
        qtbot.keyClick(view, Qt.Key.Key_Plus)
    assert view.zoom == pytest.approx(MAX_ZOOM)
    for _ in range(60):
        qtbot.keyClick(view, Qt.Key.Key_Minus)
    assert view.zoom == pytest.approx(view.zoom_limits()[0])


def test_zoom_keeps_the_anchor_still(qtbot, resnet) -> None:
    diagram, layout = resnet
    view = show(qtbot, diagram, layout)
    view.zoom_to_box(10)
    anchor = QPointF(200, 150)
    before = view.mapToScene(anchor.toPoint())
    view.zoom_by(1.5, anchor)
    after = view.mapToScene(anchor.toPoint())
    assert abs(after.x() - before.x()) < 3 and abs(after.y() - before.y()) < 3


def test_wheel_pans_and_ctrl_wheel_zooms(qtbot, resnet) -> None:
    diagram, layout = resnet
    view = show(qtbot, diagram, layout)
    view.zoom_to_box(diagram.box_count // 2)
    vp = view.viewport()

    def wheel(dy: int, modifiers: Qt.KeyboardModifier) -> None:
        pos = QPointF(vp.rect().center())
        event = QWheelEvent(
            pos, vp.mapToGlobal(pos), QPoint(), QPoint(0, dy), Qt.MouseButton.NoButton,
            modifiers, Qt.ScrollPhase.NoScrollPhase, False,
        )  # fmt: skip
        QApplication.sendEvent(vp, event)

    zoom, center = view.zoom, view.visible_scene_rect().center()
    wheel(-240, Qt.KeyboardModifier.NoModifier)
    assert view.zoom == zoom
    assert view.visible_scene_rect().center().y() > center.y() + 50
    with qtbot.waitSignal(view.zoom_changed):
        wheel(120, Qt.KeyboardModifier.ControlModifier)
    assert view.zoom > zoom


def test_pinch_zooms_and_hover_shows_a_tooltip(qtbot, small) -> None:
    diagram, layout = small
    view = show(qtbot, diagram, layout)
    vp = view.viewport()
    zoom = view.zoom
    pos = QPointF(vp.rect().center())
    pinch = QNativeGestureEvent(
        Qt.NativeGestureType.ZoomNativeGesture, QPointingDevice.primaryPointingDevice(), 2,
        pos, pos, vp.mapToGlobal(pos), 0.5, QPointF(),
    )  # fmt: skip
    QApplication.sendEvent(vp, pinch)
    assert view.zoom == pytest.approx(zoom * 1.5)

    scene = scene_of(view)
    relu = next(i for i, lines in enumerate(diagram.lines) if lines[0] == "Relu")
    at = view.mapFromScene(scene.box_center(relu))
    QApplication.sendEvent(vp, QHelpEvent(QEvent.Type.ToolTip, at, vp.mapToGlobal(at)))
    assert QToolTip.text() == "Relu\nrelu"
    QToolTip.hideText()


def test_minimap_click_moves_the_view(qtbot, resnet) -> None:
    diagram, layout = resnet
    view = show(qtbot, diagram, layout)
    assert not view.minimap.isVisible()  # fitted: the whole graph is on screen
    view.zoom_to_box(0)
    assert view.minimap.isVisible()
    before = view.visible_scene_rect().center()
    mini = view.minimap
    qtbot.mouseClick(
        mini, Qt.MouseButton.LeftButton, pos=QPoint(mini.width() // 2, mini.height() - 5)
    )
    after = view.visible_scene_rect().center()
    assert after.y() > before.y() + 1000


# ----------------------------------------------------------------------------------- overlays


def test_overlays_and_highlight_are_drawn(qtbot, resnet) -> None:
    diagram, layout = resnet
    view = show(qtbot, diagram, layout)
    scene = scene_of(view)
    box = next(i for i in range(diagram.box_count) if diagram.category[i] == Category.CONVOLUTION)
    view.zoom_to_box(box)
    view.viewport().repaint()
    r = view.mapFromScene(scene.box_rect(box)).boundingRect().adjusted(-8, -8, 8, 8)
    area = (r.left(), r.top(), r.right(), r.bottom())
    pal = scene.palette

    def pixels(color: QColor) -> int:
        return count_color(view.viewport().grab().toImage(), color, *area)

    assert pixels(pal.severity_color("error")) == 0
    scene.set_box_overlay({box: ("error", "unsupported")})
    view.viewport().repaint()
    assert pixels(pal.severity_color("error")) > 50

    scene.set_box_overlay({})
    scene.set_highlight({box})
    view.viewport().repaint()
    assert pixels(pal.highlight) > 50
    scene.set_highlight(set())
    scene.set_selection(box, None)
    view.viewport().repaint()
    assert pixels(pal.selection) > 50


# ----------------------------------------------------------------------------------- export


def test_render_to_png_and_svg(qtbot, resnet, tmp_path: Path) -> None:
    diagram, layout = resnet
    png = render_to_file(diagram, layout, tmp_path / "g.png", width=400)
    image = QImage(str(png))
    assert 0 < image.width() <= 400 and image.height() > 0
    assert image.pixelColor(0, 0) == palette_for(False).background

    svg = render_to_file(diagram, layout, tmp_path / "g.svg", width=400, dark=True)
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    assert svg.stat().st_size > 10_000
