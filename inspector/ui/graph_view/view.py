"""GraphView: pan, zoom, click and hover over a :class:`~inspector.scene.scene.GraphScene`.

Input map: drag pans; the wheel (and two-finger scrolling) pans; Ctrl+wheel zooms around the
cursor; a pinch (native touchpad gesture or a touchscreen ``QPinchGesture``) zooms around its
centre; ``+``/``-`` zoom around the middle of the view and ``0`` fits the graph; Right and Left
ask to open or close the selected group. A press and
release that moved less than the platform's drag distance is a click on whatever lies under it.

Signals carry ids (style habit 7); the session decides what a click means.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QKeyEvent,
    QMouseEvent,
    QNativeGestureEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QGestureEvent,
    QGraphicsScene,
    QGraphicsView,
    QPinchGesture,
    QToolTip,
    QWidget,
)

from inspector.core.collapse import MAX_FIT_ZOOM  # the zoom the default depth is chosen for
from inspector.scene.scene import GraphScene
from inspector.ui.graph_view.minimap import Minimap

MAX_ZOOM = 4.0
#: The graph can be zoomed out to this fraction of "fits the window" (and no further).
MIN_ZOOM_OF_FIT = 0.5
READABLE_FIT_ZOOM = 0.45  # below this, box titles are too small to read: start at the top instead
START_ZOOM = 0.85
KEY_STEP = 1.25
#: Zoom factor per wheel notch (120 units of angleDelta) with Ctrl held.
WHEEL_STEP = 1.2
#: Zoom at which ``zoom_to_box`` shows a box: close enough to read every line.
BOX_ZOOM = 1.2
#: Pixels around the cursor within which a click or hover finds an edge.
EDGE_TOLERANCE_PX = 5.0


class GraphView(QGraphicsView):
    """A zoomable, pannable view of one graph scene, with a minimap in its corner.

    ``zoom`` is the current scale (1.0: one scene pixel per screen pixel); ``last_frame_ms`` is
    the wall time of the last viewport paint, for tests and benchmarks.
    """

    box_clicked = Signal(int)
    edge_clicked = Signal(int)
    box_double_clicked = Signal(int)
    background_clicked = Signal()
    zoom_changed = Signal(float)
    #: Right (True: open the selected group) or Left (False: close the group around it).
    fold_key_pressed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.last_frame_ms = 0.0
        self._press_pos: QPoint | None = None
        # The automatic view ("fit" or "start") last applied, kept until the user zooms or pans:
        # a resize applies it again, so a graph shown before its tab was laid out (or the window
        # maximised) is still fitted or started right.
        self._auto_view: str | None = None
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        # The layers choose antialiasing per level of detail; the view starts without it.
        self.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        self.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        # Scrolling then repaints only the exposed strip; a zoom repaints everything anyway.
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        # The layers pad their own bounds, and restore nothing they rely on.
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing, True)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheNone)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        # Panning is by drag and wheel, and the minimap shows where the view is; scroll bars
        # would only take room (and flicker in and out at the fit zoom).
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.viewport().grabGesture(Qt.GestureType.PinchGesture)
        self.minimap = Minimap(self)
        self.horizontalScrollBar().valueChanged.connect(self.minimap.update)
        self.verticalScrollBar().valueChanged.connect(self.minimap.update)
        self.zoom_changed.connect(self.minimap.update)

    # ------------------------------------------------------------------------------- scene

    def graph_scene(self) -> GraphScene | None:
        scene = self.scene()
        return scene if isinstance(scene, GraphScene) else None

    def setScene(self, scene: QGraphicsScene | None) -> None:
        """Show ``scene`` and point the minimap at it (call :meth:`fit_to_window` after)."""
        super().setScene(scene)
        self.minimap.set_scene(scene if isinstance(scene, GraphScene) else None)

    # ------------------------------------------------------------------------------- zoom

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def fit_zoom(self) -> float:
        """The zoom at which the whole graph fits the viewport (capped at ``MAX_FIT_ZOOM``)."""
        scene = self.scene()
        if scene is None:
            return 1.0
        r = scene.sceneRect()
        vp = self.viewport().size()
        if r.width() <= 0 or r.height() <= 0:
            return 1.0
        return min(vp.width() / r.width(), vp.height() / r.height(), MAX_FIT_ZOOM)

    def zoom_limits(self) -> tuple[float, float]:
        return min(self.fit_zoom(), 1.0) * MIN_ZOOM_OF_FIT, MAX_ZOOM

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``zoom`` (clamped to the limits), keeping the scene point under ``anchor``
        (viewport pixels; default the viewport's centre) where it is."""
        self._auto_view = None
        lo, hi = self.zoom_limits()
        zoom = min(max(zoom, lo), hi)
        if abs(zoom - self.zoom) < 1e-9:
            return
        if anchor is None:
            anchor = QPointF(self.viewport().rect().center())
        before = self.mapToScene(anchor.toPoint())
        self.setTransform(QTransform.fromScale(zoom, zoom))
        # Scroll so the anchored scene point is back under the anchor.
        after = self.mapFromScene(before)
        delta = after - anchor.toPoint()
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + delta.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + delta.y())
        self.zoom_changed.emit(zoom)

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.set_zoom(self.zoom * factor, anchor)

    def fit_to_window(self) -> None:
        scene = self.scene()
        if scene is None:
            return
        self.set_zoom(self.fit_zoom())
        self.centerOn(scene.sceneRect().center())
        self._auto_view = "fit"

    def start_view(self) -> None:
        """The first view of a graph: fitted when that is readable, else readable at its top
        (as a reader starts at the inputs: a 10k-node graph fitted is a sliver of dots)."""
        scene = self.graph_scene()
        if scene is None:
            return
        if self.fit_zoom() >= READABLE_FIT_ZOOM or scene.diagram.box_count == 0:
            self.fit_to_window()
            return
        self.set_zoom(START_ZOOM)
        top = int(np.argmin(scene.layout.y - scene.layout.h / 2))
        half_height = self.viewport().height() / 2 / self.zoom
        y = float(scene.layout.y[top] - scene.layout.h[top] / 2) - 24 + half_height
        self.centerOn(QPointF(float(scene.layout.x[top]), y))
        self._auto_view = "start"

    def center_on(self, point: QPointF) -> None:
        """Centre on a scene point the user chose (a box, a place on the minimap): the automatic
        view is dropped, so a later resize does not take them back to the fit or the top."""
        self._auto_view = None
        self.centerOn(point)

    def center_on_box(self, i: int) -> None:
        scene = self.graph_scene()
        if scene is not None:
            self.center_on(scene.box_center(i))

    def zoom_to_box(self, i: int) -> None:
        """Zoom so box ``i`` is readable (or, if larger, fits the view), centred."""
        scene = self.graph_scene()
        if scene is None:
            return
        r = scene.box_rect(i)
        vp = self.viewport().size()
        fits = min(vp.width() / (r.width() * 1.5), vp.height() / (r.height() * 1.5))
        self.set_zoom(min(BOX_ZOOM, fits))
        self.center_on_box(i)

    def visible_scene_rect(self) -> QRectF:
        return self.mapToScene(self.viewport().rect()).boundingRect()

    # ------------------------------------------------------------------------------- events

    def paintEvent(self, event: QPaintEvent) -> None:
        t0 = time.perf_counter()
        super().paintEvent(event)
        self.last_frame_ms = (time.perf_counter() - t0) * 1000

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.minimap.place()
        if self._auto_view == "fit":
            self.fit_to_window()
        elif self._auto_view == "start":
            self.start_view()

    def wheelEvent(self, event: QWheelEvent) -> None:
        self._auto_view = None
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120
            self.zoom_by(WHEEL_STEP**steps, event.position())
        else:
            # Touchpads report pixels in both axes; mice report notches (angleDelta) only.
            d = event.pixelDelta()
            if d.isNull():
                d = event.angleDelta() / 2
                if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                    d = QPoint(d.y(), d.x())
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - d.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - d.y())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(KEY_STEP)
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.zoom_by(1 / KEY_STEP)
        elif key == Qt.Key.Key_0:
            self.fit_to_window()
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Left):
            self.fold_key_pressed.emit(key == Qt.Key.Key_Right)
        else:
            super().keyPressEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._auto_view = None
        if event.button() == Qt.MouseButton.LeftButton:
            self._press_pos = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        press, self._press_pos = self._press_pos, None
        if event.button() != Qt.MouseButton.LeftButton or press is None:
            return
        pos = event.position().toPoint()
        if (pos - press).manhattanLength() >= QApplication.startDragDistance():
            return  # a drag (pan), not a click
        box, edge = self._hit(pos)
        if box is not None:
            self.box_clicked.emit(box)
        elif edge is not None:
            self.edge_clicked.emit(edge)
        else:
            self.background_clicked.emit()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        box, _ = self._hit(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and box is not None:
            self.box_double_clicked.emit(box)
        super().mouseDoubleClickEvent(event)

    def _hit(self, pos: QPoint) -> tuple[int | None, int | None]:
        scene = self.graph_scene()
        if scene is None:
            return None, None
        p = self.mapToScene(pos)
        box = scene.box_at(p)
        if box is not None:
            return box, None
        return None, scene.edge_at(p, EDGE_TOLERANCE_PX / self.zoom)

    def viewportEvent(self, event: QEvent) -> bool:
        t = event.type()
        if t == QEvent.Type.ToolTip:
            scene = self.graph_scene()
            pos = event.pos()
            text = (
                scene.tooltip_at(self.mapToScene(pos), EDGE_TOLERANCE_PX / self.zoom)
                if scene
                else ""
            )
            if text:
                QToolTip.showText(event.globalPos(), text, self.viewport())
            else:
                QToolTip.hideText()
            return True
        if (
            isinstance(event, QNativeGestureEvent)
            and event.gestureType() == Qt.NativeGestureType.ZoomNativeGesture
        ):
            self.zoom_by(1 + event.value(), event.position())
            return True
        if t == QEvent.Type.Gesture and isinstance(event, QGestureEvent):
            pinch = event.gesture(Qt.GestureType.PinchGesture)
            if isinstance(pinch, QPinchGesture):
                anchor = self.viewport().mapFromGlobal(pinch.centerPoint().toPoint())
                self.zoom_by(pinch.scaleFactor(), QPointF(anchor))
                event.accept(pinch)
                return True
        return super().viewportEvent(event)
