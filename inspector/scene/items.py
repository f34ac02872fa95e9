"""The three QGraphicsItems of a :class:`~inspector.scene.scene.GraphScene`; paint only.

Each layer covers the whole drawing and, on every paint, asks the scene's grids what touches the
exposed rectangle, then draws that in as few QPainter calls as the level of detail allows:

- far (boxes a few pixels tall, or too many on screen for per-box Python): flat rectangles per
  category and 1 px straight edge segments, each group in one ``drawRects``/``drawLines`` call
  that reads a numpy array in place (:func:`draw_rects`); sub-pixel edge segments are skipped;
- middle: rounded, outlined boxes, with their titles once those are big enough to read;
- close: every text line elided to the box, dtype/shape labels on edges, and arrowheads.

Frame time is held by budgets rather than by zoom alone: more than ``MID_BUDGET`` boxes on
screen are drawn flat, and when the visible edges would rasterize more than
``EDGE_PIXEL_BUDGET`` pixels (a hairball of long edges) a stable random share of their segments
is drawn; selected and flagged edges are always drawn whole, by the overlay.

Known limitations: edges are straight polylines, not splines; a label with no free spot near its
edge's start is left out (:mod:`.labels`); arrowheads and labels are left out when more than
``CLOSE_BUDGET`` items are on screen even at close zoom (a very large window).
"""

from __future__ import annotations

import functools
import itertools
import math
from typing import TYPE_CHECKING

import numpy as np
import shiboken6
from PySide6.QtCore import QLineF, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFontMetricsF, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QStyleOptionGraphicsItem, QWidget

from inspector.core.categories import Category
from inspector.core.diagram import LINE_H, PAD_X, PAD_Y, BoxKind
from inspector.scene.badges import paint_badges
from inspector.scene.drawn_text import TextRecord
from inspector.scene.groups import paint_folder, paint_group_text
from inspector.scene.labels import REACH, LabelPlacer, RectIndex
from inspector.scene.layer import SceneLayer
from inspector.scene.palette import SEVERITIES

if TYPE_CHECKING:
    from inspector.scene.scene import GraphScene

FAR_LOD = 0.25  # below this zoom: flat rectangles and hairline edges
TITLE_LOD = 0.4  # from this zoom: titles (smaller text is unreadable and costs time)
CLOSE_LOD = 0.8  # from this zoom: every line, edge labels, arrowheads
#: More boxes than this on screen are drawn flat at any zoom: per-box Python costs ~10 µs.
MID_BUDGET = 4000
#: More boxes (edges) than this on screen get titles only, and no labels or arrowheads.
CLOSE_BUDGET = 1500
RADIUS = 4.0
ARROW_LEN = 8.0
ARROW_HALF_W = 3.5
#: Markers of findings and search hits stay at least this many pixels wide when zoomed far out,
#: so the overview shows where they are.
MARKER_PX = 6.0
#: Pixels of edge line a frame may rasterize, plain and antialiased (each ~5-10 ms, measured).
EDGE_PIXEL_BUDGET = 1_000_000
EDGE_AA_BUDGET = 400_000
#: Graphs with at least this many boxes get an overview image for far-out frames.
OVERVIEW_MIN_BOXES = 20_000
#: Long side of the overview image, in pixels (a 100k-box model: ~35 MB).
OVERVIEW_PX = 4096
OVERVIEW_MIN_PX = 256
#: The selection: a glow this many screen pixels wide around the box or along the edge, under
#: a dashed ring further out than a finding's solid outline, so the two never look alike.
SELECTION_GLOW_PX = 9.0
SELECTION_RING_PX = 6.0
#: Profile heat: its colour, and how many tint steps it is drawn in (one drawRects call each).
HEAT_COLOR = QColor(230, 81, 0)
HEAT_STEPS = 8
HEAT_BAR_PX = 4.0  # thickness of the heat bar along a box's bottom edge, in screen pixels


def draw_rects(painter: QPainter, rects: np.ndarray) -> None:
    """Draw rows ``[x, y, w, h]`` of a (k, 4) array in one call, reading the array in place.

    A C-contiguous float64 (k, 4) array has the memory layout of ``QRectF[k]`` (QRectF is four
    qreals, which are doubles on every desktop build), so Qt can be handed a wrapper of the first
    row and the count instead of k Python QRectF objects (~2 µs each). The wrapper is dropped at
    once: shiboken reuses a live wrapper found at the same address, whatever its type.
    """
    if len(rects):
        buf = np.ascontiguousarray(rects, dtype=np.float64)
        painter.drawRects(shiboken6.wrapInstance(buf.ctypes.data, QRectF), len(buf))


def draw_lines(painter: QPainter, lines: np.ndarray) -> None:
    """Draw rows ``[x0, y0, x1, y1]`` of a (k, 4) array in one call (see :func:`draw_rects`)."""
    if len(lines):
        buf = np.ascontiguousarray(lines, dtype=np.float64)
        painter.drawLines(shiboken6.wrapInstance(buf.ctypes.data, QLineF), len(buf))


Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in scene units


def _lod(painter: QPainter) -> float:
    return QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())


def _query_rect(
    option: QStyleOptionGraphicsItem, margin: float
) -> tuple[float, float, float, float]:
    r = option.exposedRect
    return r.left() - margin, r.top() - margin, r.right() + margin, r.bottom() + margin


def _edges_of(scene: GraphScene, segments: np.ndarray) -> np.ndarray:
    """The sorted distinct edges owning ``segments`` (a mask beats ``np.unique`` tenfold here)."""
    owned = np.zeros(scene.diagram.edge_count, dtype=bool)
    owned[scene.segment_edge[segments]] = True
    return np.flatnonzero(owned)


def _cosmetic(color: QColor, width: float) -> QPen:
    pen = QPen(color, width)
    pen.setCosmetic(True)
    return pen


class EdgeLayer(SceneLayer):
    """Edge polylines, and up close their arrowheads and dtype/shape labels."""

    def __init__(self, scene: GraphScene, rect: QRectF) -> None:
        super().__init__(scene, rect)
        self._labels: LabelPlacer | None = None  # made on the first close-up frame
        self.drawn_labels: list[tuple[int, tuple[float, float, float, float]]] = []

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        s = self.graph
        lod = _lod(painter)
        rect = _query_rect(option, ARROW_LEN + 2 / lod)
        if lod < s.overview_lod:  # the overview image has them
            count = len(_edges_of(s, s.segment_grid.query(*rect)))
        else:
            count = self.draw(painter, rect, lod)
        if widget is not None:
            s.painted_edge_count = count

    def draw(self, painter: QPainter, rect: Rect, lod: float) -> int:
        """Draw what touches ``rect`` (scene units) at zoom ``lod``; the number of edges drawn."""
        s = self.graph
        ids = s.segment_grid.query(*rect)
        seg = s.segments[ids]
        # Rasterizing costs ~5-10 ns per pixel of line (~3x that antialiased), so what bounds a
        # frame is the on-screen length of the visible segments, not their number.
        px_len = (np.abs(seg[:, 2] - seg[:, 0]) + np.abs(seg[:, 3] - seg[:, 1])) * lod
        # Segments of a pixel or two only blur the boxes' dots: a far-out graph is mostly those.
        keep = px_len >= 2.0 if lod < FAR_LOD else np.ones(len(ids), dtype=bool)
        work = float(np.minimum(px_len[keep], (rect[2] - rect[0] + rect[3] - rect[1]) * lod).sum())
        if work > EDGE_PIXEL_BUDGET:
            # A hairball of long edges: draw a stable random share of them that fits the budget.
            # The screen is saturated either way; the share grows as the zoom goes in.
            keep &= s.segment_priority[ids] < EDGE_PIXEL_BUDGET / work
        ids, seg = ids[keep], seg[keep]
        smooth = lod >= FAR_LOD and work <= EDGE_AA_BUDGET
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, smooth)
        painter.setPen(_cosmetic(s.palette.edge, max(1.0, lod) if smooth else 0))
        draw_lines(painter, seg)
        edges = _edges_of(s, ids)
        if lod >= CLOSE_LOD and len(edges) <= CLOSE_BUDGET:
            self._paint_arrows(painter, edges)
            if s.show_edge_labels:
                self._paint_labels(painter, rect)
        return len(edges)

    def _paint_arrows(self, painter: QPainter, edges: np.ndarray) -> None:
        s = self.graph
        edges = edges[s.edge_ok[edges]]
        tip = s.edge_tip[edges]
        d = tip - s.edge_before_tip[edges]
        length = np.hypot(d[:, 0], d[:, 1])
        ok = length > 0
        tip, d = tip[ok], d[ok] / length[ok, None]
        base = tip - d * ARROW_LEN
        normal = np.column_stack([-d[:, 1], d[:, 0]]) * ARROW_HALF_W
        left, right = base + normal, base - normal
        path = QPainterPath()
        for (tx, ty), (lx, ly), (rx, ry) in zip(
            tip.tolist(), left.tolist(), right.tolist(), strict=True
        ):
            path.moveTo(tx, ty)
            path.lineTo(lx, ly)
            path.lineTo(rx, ry)
            path.closeSubpath()
        painter.fillPath(path, QBrush(s.palette.edge))

    def _paint_labels(self, painter: QPainter, rect: Rect) -> None:
        """Each label at the spot :class:`~inspector.scene.labels.LabelPlacer` gives it, so none
        overlaps another; ``drawn_labels`` keeps ``(edge, spot)`` of what this paint drew."""
        s = self.graph
        x0, y0, x1, y1 = rect
        # the grid holds each label's first-choice spot; one placed left of or below it can
        # still land here
        edges = s.label_edges[s.label_grid.query(x0, y0 - REACH, x1 + REACH, y1)]
        self.drawn_labels = []
        if len(edges) > CLOSE_BUDGET:
            return
        if self._labels is None:
            self._labels = LabelPlacer(s.label_font)
        place, shown = self._labels.place, self._labels.shown
        painter.setFont(s.label_font)
        painter.setPen(s.palette.edge_label)
        run = s.text_record.begin(painter, s.label_font) if s.text_record is not None else None
        ascent = self._labels.ascent
        labels = s.diagram.edge_label

        @functools.cache
        def boxes() -> RectIndex:
            """The boxes a label placed in this frame could land on (a label reaches REACH from
            its edge's start); indexed once a frame places a label anew, not on every frame."""
            index = RectIndex()
            hits = s.box_grid.query(x0 - 2 * REACH, y0 - 2 * REACH, x1 + 2 * REACH, y1 + 2 * REACH)
            corners = np.stack((s.bx0[hits], s.by0[hits], s.bx1[hits], s.by1[hits]), axis=1)
            for b, r in zip(hits.tolist(), corners.tolist(), strict=True):
                index.add(b, tuple(r))
            return index

        edges.sort()  # placed in edge order: a whole-graph render always comes out the same
        for e, (x, y) in zip(edges.tolist(), s.edge_start[edges].tolist(), strict=True):
            text = shown(labels[e]) if labels[e] else ""
            spot = place(e, text, x, y, boxes) if text else None
            if (
                spot is not None
                and spot[2] >= x0
                and spot[0] <= x1
                and spot[3] >= y0
                and spot[1] <= y1
            ):
                painter.drawText(QPointF(spot[0], spot[1] + ascent), text)
                self.drawn_labels.append((e, spot))
                if run is not None:
                    run.at(text, spot[0], spot[1] + ascent)


class BoxLayer(SceneLayer):
    """Boxes, coloured by category, with their text up close; collapsed groups as folders whose
    names stay readable further out than node titles."""

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        s = self.graph
        lod = _lod(painter)
        rect = _query_rect(option, 2 / lod)
        # a view's paint notes its box text afresh; a render's goes into the render's record
        record = TextRecord() if widget is not None else s.text_record
        if lod < s.overview_lod:  # the overview image has them
            count = len(s.box_grid.query(*rect))
        else:
            count = self.draw(painter, rect, lod, record)
        if widget is not None:
            s.painted_box_count = count
            s.view_text = record

    def draw(
        self,
        painter: QPainter,
        rect: Rect,
        lod: float,
        record: TextRecord | None = None,
    ) -> int:
        """Draw what touches ``rect`` (scene units) at zoom ``lod``; the number of boxes drawn.
        Each text line drawn is noted in ``record``."""
        s = self.graph
        ids = s.box_grid.query(*rect)
        is_group = s.kind[ids] == BoxKind.GROUP
        groups = ids[is_group]
        if lod < FAR_LOD or len(ids) > MID_BUDGET:
            self._paint_flat(painter, ids, lod)
        else:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            close = lod >= CLOSE_LOD and len(ids) <= CLOSE_BUDGET
            self._paint_shapes(painter, ids, close)
            if lod >= TITLE_LOD:
                self._paint_text(painter, ids[~is_group], close, record)
        if len(groups) <= CLOSE_BUDGET:
            paint_group_text(painter, s, groups, lod, record)
        return len(ids)

    def _paint_flat(self, painter: QPainter, ids: np.ndarray, lod: float) -> None:
        s = self.graph
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        px = 1.0 / lod
        x0, y0 = s.bx0[ids], s.by0[ids]
        # Grown to a pixel: Qt fills only pixels whose centre is covered, so a sub-pixel box
        # would vanish and a far-out graph would look empty.
        w = np.maximum(s.bx1[ids] - x0, px)
        h = np.maximum(s.by1[ids] - y0, px)
        cats = s.category[ids]
        order = np.argsort(cats, kind="stable")
        rects = np.column_stack([x0, y0, w, h])[order]
        cats = cats[order]
        cuts = [0, *(np.flatnonzero(np.diff(cats)) + 1).tolist(), len(cats)]
        outlined = len(ids) > 0 and float(h.min()) * lod >= 6
        for lo, hi in itertools.pairwise(cuts):
            c = int(cats[lo])
            painter.setBrush(s.palette.fill[c])
            painter.setPen(_cosmetic(s.palette.border[c], 1) if outlined else Qt.PenStyle.NoPen)
            draw_rects(painter, rects[lo:hi])

    def _paint_shapes(self, painter: QPainter, ids: np.ndarray, close: bool) -> None:
        s = self.graph
        pal = s.palette
        pens = [_cosmetic(c, 1) for c in pal.border]
        header_h = PAD_Y + LINE_H + PAD_Y / 2
        body = QBrush(pal.body)
        n_lines = s.diagram.lines
        for i, x0, y0, x1, y1, c, k in zip(
            ids.tolist(), s.bx0[ids].tolist(), s.by0[ids].tolist(), s.bx1[ids].tolist(),
            s.by1[ids].tolist(), s.category[ids].tolist(), s.kind[ids].tolist(), strict=True,
        ):  # fmt: skip
            if k == BoxKind.GROUP:
                paint_folder(painter, s.palette, QRectF(x0, y0, x1 - x0, y1 - y0), c)
                continue
            rect = QRectF(x0, y0, x1 - x0, y1 - y0)
            # Inputs and outputs are pills, as in Netron, so the graph's ends stand out.
            r = (y1 - y0) / 2 if k != BoxKind.NODE else RADIUS
            painter.setBrush(pal.fill[c])
            if not (close and k == BoxKind.NODE and len(n_lines[i]) > 1):
                painter.setPen(pens[c])
                painter.drawRoundedRect(rect, r, r)
                continue
            # Netron's look: a coloured header with the op type, details on a plain body.
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawRoundedRect(rect, r, r)
            painter.setBrush(body)
            top = y0 + header_h
            painter.drawRoundedRect(QRectF(x0, top, x1 - x0, y1 - top), r, r)
            painter.drawRect(QRectF(x0, top, x1 - x0, r))
            painter.setPen(pens[c])
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect, r, r)

    def _paint_text(
        self,
        painter: QPainter,
        ids: np.ndarray,
        close: bool,
        record: TextRecord | None,
    ) -> None:
        s = self.graph
        pal = s.palette
        fm_title = QFontMetricsF(s.title_font)
        fm_body = QFontMetricsF(s.body_font)
        # Baselines centred in their LINE_H row.
        t_off = PAD_Y + (LINE_H + fm_title.ascent() - fm_title.descent()) / 2
        b_off = PAD_Y + (LINE_H + fm_body.ascent() - fm_body.descent()) / 2
        painter.setFont(s.title_font)
        painter.setPen(pal.text)
        cx = s.layout.x[ids].tolist()
        y0 = s.by0[ids].tolist()
        run = record.begin(painter, s.title_font) if record is not None else None
        for i, x, y in zip(ids.tolist(), cx, y0, strict=True):
            text, width = s.elided_lines(i)[0]
            painter.drawText(QPointF(x - width / 2, y + t_off), text)
            if run is not None:
                run.at(text, x - width / 2, y + t_off)
        if not close:
            return
        painter.setFont(s.body_font)
        painter.setPen(pal.body_text)
        run = record.begin(painter, s.body_font) if record is not None else None
        x0 = s.bx0[ids].tolist()
        for i, x, y, c in zip(ids.tolist(), x0, y0, s.category[ids].tolist(), strict=True):
            lines = s.elided_lines(i)
            # Input/output boxes keep the header colour throughout, so their type line reads
            # as title text.
            if c in (Category.INPUT, Category.OUTPUT):
                painter.setPen(pal.text)
            for k in range(1, len(lines)):
                painter.drawText(QPointF(x + PAD_X, y + b_off + k * LINE_H), lines[k][0])
                if run is not None:
                    run.at(lines[k][0], x + PAD_X, y + b_off + k * LINE_H)
            if c in (Category.INPUT, Category.OUTPUT):
                painter.setPen(pal.body_text)


class OverviewLayer(SceneLayer):
    """Far out on a big graph, the edge and box layers drawn once into an image pyramid.

    Below ``scene.overview_lod`` every frame would otherwise draw most of the graph (100k
    rectangles cost ~25 ms in the rasterizer alone); blitting a cached image costs a few ms
    whatever the size. The base image is ``OVERVIEW_PX`` on its long side, drawn by the layers'
    own ``draw``; each further level halves it with area averaging, and a frame scales the
    smallest level still at least as detailed as the screen, so it never shimmers. Built on the
    first far-out frame (~0.1 s at 100k boxes); overlays are not in it, so findings and
    selection changes do not rebuild it.
    """

    def __init__(self, scene: GraphScene, rect: QRectF, edges: EdgeLayer, boxes: BoxLayer) -> None:
        super().__init__(scene, rect)
        self._edges = edges
        self._boxes = boxes
        self._levels: list[QImage] = []

    def invalidate(self) -> None:
        """Forget the images (after a palette change)."""
        self._levels = []
        self.update()

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        s = self.graph
        lod = _lod(painter)
        if lod >= s.overview_lod:
            return
        if not self._levels:
            self._build()
        r = s.drawing_rect
        image = self._levels[0]
        for level in self._levels[1:]:
            if level.width() < r.width() * lod:
                break
            image = level
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        painter.drawImage(r, image)

    def _build(self) -> None:
        s = self.graph
        r = s.drawing_rect
        scale = s.overview_lod
        size = QSize(max(1, math.ceil(r.width() * scale)), max(1, math.ceil(r.height() * scale)))
        image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(Qt.GlobalColor.transparent)
        painter = QPainter(image)
        painter.scale(size.width() / r.width(), size.height() / r.height())
        painter.translate(-r.left(), -r.top())
        everything = (r.left(), r.top(), r.right(), r.bottom())
        self._edges.draw(painter, everything, scale)
        self._boxes.draw(painter, everything, scale)
        painter.end()
        self._levels = [image]
        while max(image.width(), image.height()) > OVERVIEW_MIN_PX:
            image = image.scaled(
                max(1, image.width() // 2),
                max(1, image.height() // 2),
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            self._levels.append(image)


class OverlayLayer(SceneLayer):
    """Profile heat, search highlights, findings (outline per box or edge, and the scene's
    badges) and the selection (a glow and a dashed ring: unlike a finding's solid outline)."""

    def __init__(self, scene: GraphScene, rect: QRectF) -> None:
        super().__init__(scene, rect)
        self._box_ids: dict[str, np.ndarray] = {}
        self._edge_segments: dict[str, np.ndarray] = {}
        self.refresh()

    def refresh(self) -> None:
        """Re-read the scene's overlays into per-severity arrays (call after they change)."""
        s = self.graph
        by_sev_box: dict[str, list[int]] = {sev: [] for sev in SEVERITIES}
        for box, (sev, _) in s.box_overlay.items():
            by_sev_box[sev if sev in SEVERITIES else "info"].append(box)
        self._box_ids = {sev: np.array(ids, np.int64) for sev, ids in by_sev_box.items()}
        self._edge_segments = {}
        sev_of_edge = np.full(s.diagram.edge_count, -1, np.int64)
        for edge, (sev, _) in s.edge_overlay.items():
            sev_of_edge[edge] = SEVERITIES.index(sev) if sev in SEVERITIES else 2
        seg_sev = sev_of_edge[s.segment_edge]
        for k, sev in enumerate(SEVERITIES):
            self._edge_segments[sev] = s.segments[seg_sev == k]

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        s = self.graph
        pal = s.palette
        lod = _lod(painter)
        px = 1.0 / lod
        qx0, qy0, qx1, qy1 = _query_rect(option, (MARKER_PX + SELECTION_GLOW_PX) * px)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, lod >= FAR_LOD)

        def visible_boxes(ids: np.ndarray) -> np.ndarray:
            return ids[
                (s.bx1[ids] >= qx0)
                & (s.bx0[ids] <= qx1)
                & (s.by1[ids] >= qy0)
                & (s.by0[ids] <= qy1)
            ]

        def marker_rects(ids: np.ndarray, grow_px: float) -> np.ndarray:
            # Outlines sit just outside the box; far out, each grows to a marker MARKER_PX wide.
            cx, cy = s.layout.x[ids], s.layout.y[ids]
            w = np.maximum(s.bx1[ids] - s.bx0[ids] + 2 * grow_px * px, MARKER_PX * px)
            h = np.maximum(s.by1[ids] - s.by0[ids] + 2 * grow_px * px, MARKER_PX * px)
            return np.column_stack([cx - w / 2, cy - h / 2, w, h])

        far = lod < FAR_LOD
        if s.placement is not None:  # under the heat and the findings: they say more
            s.placement.paint(painter, s, (qx0, qy0, qx1, qy1), px, far)
        self._paint_heat(painter, (qx0, qy0, qx1, qy1), px, far)
        hl = visible_boxes(s.highlighted)
        tint = QColor(pal.highlight)
        tint.setAlpha(70)
        painter.setBrush(pal.highlight if far else tint)
        painter.setPen(_cosmetic(pal.highlight, 3))
        draw_rects(painter, marker_rects(hl, 2))
        selected = None if s.selected_box is None else np.array([s.selected_box])
        selected_segments = (
            None if s.selected_edge is None else s.segments[s.segment_edge == s.selected_edge]
        )
        glow = QColor(pal.selection)
        glow.setAlpha(60)
        if selected is not None:  # under the findings' outlines, which stay readable on it
            # a band around the box, not over it: the box's own colours stay as they are
            painter.setPen(_cosmetic(glow, SELECTION_GLOW_PX))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            draw_rects(painter, marker_rects(selected, SELECTION_GLOW_PX / 2))
        if selected_segments is not None:
            pen = _cosmetic(glow, SELECTION_GLOW_PX)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            painter.setPen(pen)
            draw_lines(painter, selected_segments)

        for sev in reversed(SEVERITIES):  # errors last, so on top
            color = pal.severity_color(sev)
            segs = self._edge_segments[sev]
            segs = segs[(np.maximum(segs[:, 0], segs[:, 2]) >= qx0) & (np.minimum(segs[:, 0], segs[:, 2]) <= qx1)
                        & (np.maximum(segs[:, 1], segs[:, 3]) >= qy0) & (np.minimum(segs[:, 1], segs[:, 3]) <= qy1)]  # fmt: skip
            painter.setPen(_cosmetic(color, 3))
            draw_lines(painter, segs)
            ids = visible_boxes(self._box_ids[sev])
            painter.setBrush(color if far else Qt.BrushStyle.NoBrush)
            painter.setPen(_cosmetic(color, 2.5))
            draw_rects(painter, marker_rects(ids, 2))

        ring = _cosmetic(pal.selection, 2)
        ring.setStyle(Qt.PenStyle.DashLine)
        if selected_segments is not None:
            painter.setPen(ring)
            draw_lines(painter, selected_segments)
        if selected is not None:
            painter.setPen(ring)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            draw_rects(painter, marker_rects(selected, SELECTION_RING_PX))
        if not far:  # over the selection: a selected node's badges stay readable
            badges = s.badges
            shown = badges.touching(qx0, qy0, qx1, qy1)
            paint_badges(painter, badges, shown, s.label_font, pal, s.text_record)

    def _paint_heat(self, painter: QPainter, rect: Rect, px: float, far: bool) -> None:
        """Profile heat: a tint over each timed box (stronger when hotter) and, up close, a bar
        along its bottom edge as long as the value; far out, a solid marker per hot box."""
        s = self.graph
        qx0, qy0, qx1, qy1 = rect
        ids, values = s.heat_ids, s.heat_values
        keep = (s.bx1[ids] >= qx0) & (s.bx0[ids] <= qx1) & (s.by1[ids] >= qy0) & (s.by0[ids] <= qy1)
        ids, values = ids[keep], values[keep]
        if not len(ids):
            return
        x0, y0, x1, y1 = s.bx0[ids], s.by0[ids], s.bx1[ids], s.by1[ids]
        painter.setPen(Qt.PenStyle.NoPen)
        # Batched by tint step: one drawRects per step instead of one call per box.
        steps = np.minimum((values * HEAT_STEPS).astype(np.int64), HEAT_STEPS - 1)
        for k in range(HEAT_STEPS):
            sel = steps == k
            if not sel.any():
                continue
            tint = QColor(HEAT_COLOR)
            tint.setAlpha(
                int(40 + 180 * (k + 1) / HEAT_STEPS) if far else int(25 + 90 * (k + 1) / HEAT_STEPS)
            )
            painter.setBrush(tint)
            draw_rects(
                painter, np.column_stack([x0[sel], y0[sel], x1[sel] - x0[sel], y1[sel] - y0[sel]])
            )
        if far:
            return
        bar_h = np.minimum(HEAT_BAR_PX * px, (y1 - y0) / 3)
        painter.setBrush(HEAT_COLOR)
        draw_rects(
            painter, np.column_stack([x0, y1 - bar_h, (x1 - x0) * np.maximum(values, 0.02), bar_h])
        )
