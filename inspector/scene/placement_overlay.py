"""The partition map as an overlay: which execution provider each box lands on, and the edges
where a tensor crosses devices.

Like the findings and the profile heat, it is laid over an unchanged layout: switching the
provider order rebuilds these few arrays and repaints, nothing is laid out again. Each box gets a
stripe along its left edge in its provider's colour (the category colour of the rest of the box
stays readable); far out, where boxes are dots, the stripe takes the left half. An edge whose
producer and consumer work in different memories (a device copy ONNX Runtime inserts) is drawn
dashed in ``DEVICE_CROSSING`` with a dot at its middle. The main graph's inputs and outputs live
in host memory; a subgraph's are not placed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QPainter, QPen

from inspector.core.diagram import BoxKind, Diagram
from inspector.core.providers.placement import device_of, short_name
from inspector.scene.items import draw_lines, draw_rects
from inspector.scene.palette import DEVICE_CROSSING, provider_color

if TYPE_CHECKING:
    from inspector.scene.scene import GraphScene

STRIPE_PX = 5.0  # the stripe's width on screen, up to a third of the box
DOT_PX = 4.0  # radius of the copy dot on a crossing edge
DOT_BUDGET = 400  # at most this many dots a frame (the dashes show every crossing)


class PlacementOverlay:
    """The provider of each box and the device crossings of one diagram's edges.

    ``order``: the providers present, in the order's order; ``slot``: per box, the index of its
    provider in ``order`` (-1: not placed); ``box_ids`` / ``box_slot``: the placed boxes and
    their slots; ``crossing``: the edges that cross devices. Built with numpy (a few ms at 10k
    boxes): it runs on the GUI thread at every provider switch.
    """

    def __init__(self, diagram: Diagram, providers: list[str], main_graph: bool) -> None:
        self.order = list(dict.fromkeys(p for p in providers if p))
        index = {p: k for k, p in enumerate(self.order)}
        node_slot = np.fromiter((index.get(p, -1) for p in providers), np.int64, len(providers))
        n_nodes = min(len(providers), len(diagram.node_box))
        self.slot = np.full(diagram.box_count, -1, np.int64)
        self.slot[diagram.node_box[:n_nodes]] = node_slot[:n_nodes]
        self.box_ids = np.flatnonzero(self.slot >= 0)
        self.box_slot = self.slot[self.box_ids]
        # memory per box: the index of its provider's device; the main graph's ends are host
        # memory; a subgraph's ends (-1) are not known
        devices = [device_of(p) for p in self.order]
        known = list(dict.fromkeys(["cpu", *devices]))
        slot_device = np.array([known.index(d) for d in devices] or [0], np.int64)
        box_device = np.where(self.slot >= 0, slot_device[np.maximum(self.slot, 0)], -1)
        if main_graph:
            box_device[(diagram.kind != BoxKind.NODE)] = known.index("cpu")
        src = box_device[diagram.edge_src]
        dst = box_device[diagram.edge_dst]
        self.crossing = np.flatnonzero((src >= 0) & (dst >= 0) & (src != dst))
        self._crossing = set(self.crossing.tolist())
        self._diagram = diagram
        self._segments: np.ndarray | None = None
        self._dots: np.ndarray | None = None  # the copy dots' centres, found on the first paint

    def _name(self, box: int) -> str:
        k = int(self.slot[box])
        return short_name(self.order[k]) if k >= 0 else "host"

    def box_tooltip(self, box: int) -> str:
        return f"runs on {self._name(box)}" if self.slot[box] >= 0 else ""

    def edge_tooltip(self, edge: int) -> str:
        if edge not in self._crossing:
            return ""
        d = self._diagram
        src, dst = int(d.edge_src[edge]), int(d.edge_dst[edge])
        return f"crosses devices ({self._name(src)} → {self._name(dst)}): a device copy"

    def paint(
        self, painter: QPainter, scene: GraphScene, rect: tuple[float, ...], px: float, far: bool
    ) -> None:
        """Stripes on the boxes and dashes on the crossing edges that touch ``rect``."""
        s = scene
        qx0, qy0, qx1, qy1 = rect
        ids = self.box_ids
        keep = (s.bx1[ids] >= qx0) & (s.bx0[ids] <= qx1) & (s.by1[ids] >= qy0) & (s.by0[ids] <= qy1)
        ids, slots = ids[keep], self.box_slot[keep]
        if len(ids):
            x0, y0, x1, y1 = s.bx0[ids], s.by0[ids], s.bx1[ids], s.by1[ids]
            w = (x1 - x0) / 2 if far else np.minimum(STRIPE_PX * px, (x1 - x0) / 3)
            rects = np.column_stack([x0, y0, np.broadcast_to(w, x0.shape), y1 - y0])
            painter.setPen(Qt.PenStyle.NoPen)
            for k, provider in enumerate(self.order):  # one drawRects per provider
                sel = slots == k
                if sel.any():
                    painter.setBrush(provider_color(provider))
                    draw_rects(painter, rects[sel])
        if not len(self.crossing):
            return
        if self._segments is None:  # the crossing edges' segments, found on the first paint
            self._segments = s.segments[np.isin(s.segment_edge, self.crossing)]
        segs = self._segments
        segs = segs[(np.maximum(segs[:, 0], segs[:, 2]) >= qx0) & (np.minimum(segs[:, 0], segs[:, 2]) <= qx1)
                    & (np.maximum(segs[:, 1], segs[:, 3]) >= qy0) & (np.minimum(segs[:, 1], segs[:, 3]) <= qy1)]  # fmt: skip
        pen = QPen(DEVICE_CROSSING, 2.5, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        painter.setPen(pen)
        draw_lines(painter, segs)
        if far:
            return
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(DEVICE_CROSSING)
        r = DOT_PX * px
        if self._dots is None:
            self._dots = s.edge_midpoints(self.crossing)
        xy = self._dots
        inside = (xy[:, 0] >= qx0) & (xy[:, 0] <= qx1) & (xy[:, 1] >= qy0) & (xy[:, 1] <= qy1)
        for x, y in xy[inside][:DOT_BUDGET].tolist():  # per-dot Python: a budget, as for badges
            painter.drawEllipse(QPointF(x, y), r, r)
