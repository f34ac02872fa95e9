"""Minimap: the whole graph in a corner of the view, with the visible area framed.

The graph is rendered once into an image (at most ``MAX_SIZE`` px a side) when the scene or its
overlays change; a graph much taller than wide (or wider than tall) is stretched across at least
``MIN_SIZE`` px, so a deep chain shows its boxes as coloured bars rather than a blank strip, through the scene's own painting at that tiny zoom, so boxes show as category-
coloured dots and findings as severity markers. Each repaint only blits that image and draws
the frame, so following the view's scrolling costs next to nothing. Click or drag to move the
view there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from inspector.scene.scene import GraphScene
    from inspector.ui.graph_view.view import GraphView

MAX_SIZE = 200
#: The shorter side: narrower, a deep graph's minimap was a blank strip a few pixels wide.
MIN_SIZE = 56
MARGIN = 10
#: The most of the view's width or height the minimap may take; in a smaller view it hides.
MAX_SHARE = 0.6


class Minimap(QWidget):
    """An overlay child of a :class:`GraphView`, kept in its viewport's bottom-right corner."""

    def __init__(self, view: GraphView) -> None:
        super().__init__(view)
        self._view = view
        self._scene: GraphScene | None = None
        self._image = QImage()
        # minimap pixels per scene unit across and down (they differ where the graph is stretched)
        self._sx = self._sy = 1.0
        self.wanted = True  # View > Show Minimap; even then it hides while the graph fits
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.hide()
        view.zoom_changed.connect(self.refresh_visibility)

    def set_wanted(self, on: bool) -> None:
        self.wanted = on
        self.refresh_visibility()

    def refresh_visibility(self) -> None:
        """Shown when wanted and the view shows only part of the graph (a minimap of a graph that
        fits the view whole would only cover some of it), unless the view is too small for it."""
        scene = self._scene
        if scene is None or not self.wanted:
            self.setVisible(False)
            return
        viewport = self._view.viewport().rect()
        shown = self._view.mapFromScene(scene.sceneRect()).boundingRect()
        fits = viewport.adjusted(-2, -2, 2, 2).contains(shown)
        # in a small view (a small window, docks around it) it would hide most of what it maps
        crowded = (
            self.width() > MAX_SHARE * viewport.width()
            or self.height() > MAX_SHARE * viewport.height()
        )
        self.setVisible(not fits and not crowded)

    def set_scene(self, scene: GraphScene | None) -> None:
        if self._scene is not None:
            self._scene.overlays_changed.disconnect(self.rerender)
        self._scene = scene
        if scene is not None:
            scene.overlays_changed.connect(self.rerender)
        self.rerender()
        self.refresh_visibility()

    def rerender(self) -> None:
        """Render the whole graph into the cached image and resize to fit it."""
        scene = self._scene
        if scene is None:
            self._image = QImage()
            return
        r = scene.sceneRect()
        width, height = max(r.width(), 1.0), max(r.height(), 1.0)
        scale = min(MAX_SIZE / width, MAX_SIZE / height)
        size = QSize(max(MIN_SIZE, round(width * scale)), max(MIN_SIZE, round(height * scale)))
        self._sx, self._sy = size.width() / width, size.height() / height
        dpr = self.devicePixelRatioF()
        image = QImage(size * dpr, QImage.Format.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(dpr)
        image.fill(scene.palette.background)
        painter = QPainter(image)
        target = QRectF(0, 0, size.width(), size.height())
        scene.render(painter, target, r, Qt.AspectRatioMode.IgnoreAspectRatio)
        painter.end()
        self._image = image
        self.resize(size)
        self.place()
        self.update()

    def place(self) -> None:
        """Move into the bottom-right corner of the view's viewport."""
        vp = self._view.viewport().geometry()
        self.move(vp.right() - self.width() - MARGIN, vp.bottom() - self.height() - MARGIN)
        self.refresh_visibility()  # a resized view may now hold the whole graph, or no longer

    def _to_scene(self, p: QPointF) -> QPointF:
        r = self._scene.sceneRect() if self._scene else QRectF()
        return QPointF(r.left() + p.x() / self._sx, r.top() + p.y() / self._sy)

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._scene is None:
            return
        painter = QPainter(self)
        painter.drawImage(0, 0, self._image)
        pal = self._scene.palette
        painter.setPen(QPen(pal.edge, 1))
        painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        r = self._scene.sceneRect()
        v = self._view.visible_scene_rect()
        frame = QRectF(
            (v.left() - r.left()) * self._sx,
            (v.top() - r.top()) * self._sy,
            v.width() * self._sx,
            v.height() * self._sy,
        ).intersected(QRectF(self.rect()).adjusted(0, 0, -1, -1))
        fill = QColor(pal.minimap_frame)
        fill.setAlpha(40)
        painter.setBrush(fill)
        painter.setPen(QPen(pal.minimap_frame, 1.5))
        painter.drawRect(frame)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._view.center_on(self._to_scene(event.position()))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._view.center_on(self._to_scene(event.position()))
        event.accept()
