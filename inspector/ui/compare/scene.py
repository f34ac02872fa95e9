"""One side of a comparison drawn: the graph scene with a layer that colours boxes by what the
diff says of them (only in A: red, only in B: green, changed: amber; same boxes are left as they
are), and tooltips that say it.

The layer is one more array-backed item over the scene's boxes (as the findings overlay is):
each state is one ``drawRects`` call over the visible boxes, so colouring costs the same whether
three boxes differ or ten thousand.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QStyleOptionGraphicsItem, QWidget

from inspector.core.diagram import Diagram
from inspector.core.layout import Layout
from inspector.scene.items import FAR_LOD, MARKER_PX, draw_rects
from inspector.scene.layer import SceneLayer
from inspector.scene.palette import Palette
from inspector.scene.scene import PAINT_MARGIN, GraphScene
from inspector.ui.compare.comparison import ADDED, CHANGED, REMOVED, STATE_NAMES

#: Per state: (light theme, dark theme) colour.
STATE_COLORS = {
    REMOVED: ("#d32f2f", "#ef5350"),
    ADDED: ("#2e7d32", "#66bb6a"),
    CHANGED: ("#ef8f00", "#ffb300"),
}
TINT_ALPHA = 70
OUTLINE_PX = 2.5


def state_color(state: int, dark: bool) -> QColor:
    return QColor(STATE_COLORS[state][1 if dark else 0])


class DiffLayer(SceneLayer):
    """Tint and outline per differing box, between the boxes and the selection overlay."""

    def __init__(self, scene: DiffScene, rect: QRectF) -> None:
        super().__init__(scene, rect)
        self.ids: dict[int, np.ndarray] = {}

    def refresh(self) -> None:
        state = self.graph.state
        self.ids = (
            {s: np.flatnonzero(state == s) for s in (CHANGED, REMOVED, ADDED)}
            if state is not None
            else {}
        )
        self.update()

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        s = self.graph
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        px = 1.0 / lod
        r = option.exposedRect
        qx0, qy0 = r.left() - MARKER_PX * px, r.top() - MARKER_PX * px
        qx1, qy1 = r.right() + MARKER_PX * px, r.bottom() + MARKER_PX * px
        far = lod < FAR_LOD
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, not far)
        for state, ids in self.ids.items():
            ids = ids[(s.bx1[ids] >= qx0) & (s.bx0[ids] <= qx1) & (s.by1[ids] >= qy0) & (s.by0[ids] <= qy1)]  # fmt: skip
            if not len(ids):
                continue
            color = state_color(state, s.palette.dark)
            # Far out a box is a few pixels: a solid marker at least MARKER_PX wide finds it.
            grow = 2 * px
            cx, cy = s.layout.x[ids], s.layout.y[ids]
            w = np.maximum(s.bx1[ids] - s.bx0[ids] + 2 * grow, MARKER_PX * px)
            h = np.maximum(s.by1[ids] - s.by0[ids] + 2 * grow, MARKER_PX * px)
            tint = QColor(color)
            tint.setAlpha(255 if far else TINT_ALPHA)
            pen = QPen(color, OUTLINE_PX)
            pen.setCosmetic(True)
            painter.setPen(Qt.PenStyle.NoPen if far else pen)
            painter.setBrush(tint)
            draw_rects(painter, np.column_stack([cx - w / 2, cy - h / 2, w, h]))


class DiffScene(GraphScene):
    """A :class:`GraphScene` with each box's diff state (``set_diff``) drawn and explained."""

    def __init__(self, diagram: Diagram, layout: Layout, palette: Palette) -> None:
        super().__init__(diagram, layout, palette)
        self.state: np.ndarray | None = None
        self.changes: dict[int, list[str]] = {}
        r = self.drawing_rect
        self.diff_layer = DiffLayer(
            self, r.adjusted(-PAINT_MARGIN, -PAINT_MARGIN, PAINT_MARGIN, PAINT_MARGIN)
        )
        self.diff_layer.setZValue(self.box_layer.zValue() + 0.5)  # under selection and findings
        self.addItem(self.diff_layer)

    def set_diff(self, state: np.ndarray | None, changes: dict[int, list[str]]) -> None:
        """Each box's state (SAME/CHANGED/REMOVED/ADDED) and what changed on it; None clears."""
        self.state, self.changes = state, changes
        self.diff_layer.refresh()
        self.overlays_changed.emit()  # the minimap redraws

    def tooltip_at(self, pos: QPointF, tolerance: float = 4.0) -> str:
        text = super().tooltip_at(pos, tolerance)
        box = self.box_at(pos)
        if box is None or self.state is None or not self.state[box]:
            return text
        lines = self.changes.get(box, [])
        return f"{text}\n\n{STATE_NAMES[int(self.state[box])]}" + "".join(f"\n• {x}" for x in lines)
