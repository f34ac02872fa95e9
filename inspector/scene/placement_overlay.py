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


class PlacementOverlay:
    """The provider of each box and the device crossings of one diagram's edges.

    ``order``: the providers present, in the order's order; ``box_ids`` / ``box_slot``: the
    placed boxes and the index of each one's provider in ``order``; ``crossing``: the edges that
    cross devices, ``crossing_text`` each one's "CUDA → CPU".
    """

    def __init__(self, diagram: Diagram, providers: list[str], main_graph: bool) -> None:
        kind = diagram.kind
        ref = diagram.ref
        per_box = [""] * diagram.box_count
        for b in np.flatnonzero(kind == BoxKind.NODE).tolist():
            i = int(ref[b])
            per_box[b] = providers[i] if i < len(providers) else ""
        self.box_provider = per_box
        self.order = list(dict.fromkeys(p for p in providers if p))
        slot = {p: k for k, p in enumerate(self.order)}
        placed = [b for b, p in enumerate(per_box) if p]
        self.box_ids = np.array(placed, np.int64)
        self.box_slot = np.array([slot[per_box[b]] for b in placed], np.int64)

        def where(box: int) -> str:
            """The memory a box's tensors are in; "" where not known (a subgraph's ends)."""
            if per_box[box]:
                return device_of(per_box[box])
            return "cpu" if main_graph and kind[box] != BoxKind.NODE else ""

        crossing: list[int] = []
        self.crossing_text: dict[int, str] = {}
        for e, (src, dst) in enumerate(
            zip(diagram.edge_src.tolist(), diagram.edge_dst.tolist(), strict=True)
        ):
            a, b = where(src), where(dst)
            if a and b and a != b:
                crossing.append(e)
                self.crossing_text[e] = f"{_name(per_box[src])} → {_name(per_box[dst])}"
        self.crossing = np.array(crossing, np.int64)

    def box_tooltip(self, box: int) -> str:
        p = self.box_provider[box]
        return f"runs on {short_name(p)}" if p else ""

    def edge_tooltip(self, edge: int) -> str:
        text = self.crossing_text.get(edge)
        return f"crosses devices ({text}): a device copy" if text else ""

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
        on = np.isin(s.segment_edge, self.crossing)
        segs = s.segments[on]
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
        for x, y in s.edge_midpoints(self.crossing).tolist():
            if qx0 <= x <= qx1 and qy0 <= y <= qy1:
                painter.drawEllipse(QPointF(x, y), r, r)


def _name(provider: str) -> str:
    return short_name(provider) if provider else "host"
