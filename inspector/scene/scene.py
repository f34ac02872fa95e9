"""The graph as a QGraphicsScene: three array-backed layers, hit tests, overlays and tooltips.

Qt spends ~20 µs of CPU and a few KB per QGraphicsItem, so one item per box, label and edge
costs 10 s and 1.5 GB at 100k boxes. Instead the scene holds the diagram and layout as numpy
arrays, two :class:`~inspector.scene.spatial.UniformGrid` indexes (boxes, and edge
segments), and exactly three items (:mod:`.items`): edges, boxes, and an overlay of selection,
search highlights and findings. Each paints only what its exposed rectangle touches, at a level
of detail chosen from the zoom.

Ids are the diagram's box and edge indices throughout, so findings, search results and
selection from the rest of the window map straight onto the drawing.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QFont, QFontMetricsF
from PySide6.QtWidgets import QGraphicsScene

from inspector.core.collapse import FIT_MARGIN, GROUP_BODY_PX, GROUP_TITLE_PX, NODE_TITLE_PX
from inspector.core.diagram import PAD_X, BoxKind, Diagram
from inspector.core.findings import Finding, overlay_text, strongest
from inspector.core.hierarchy import GroupTally
from inspector.core.layout import Layout
from inspector.scene import badges as badge_layout
from inspector.scene.drawn_text import TextRecord
from inspector.scene.items import (
    FAR_LOD,
    OVERVIEW_MIN_BOXES,
    OVERVIEW_PX,
    BoxLayer,
    EdgeLayer,
    OverlayLayer,
    OverviewLayer,
)
from inspector.scene.labels import GAP as LABEL_GAP
from inspector.scene.labels import MAX_LABEL_PX
from inspector.scene.palette import SEVERITIES, Palette
from inspector.scene.placement_overlay import PlacementOverlay
from inspector.scene.spatial import UniformGrid

#: Empty space around the drawing, so a fitted graph does not touch the window's edges (the
#: core's default-depth choice fits drawings with the same margin).
SCENE_MARGIN = FIT_MARGIN
#: Labels, badges and arrowheads reach this far beyond the boxes and edge points.
PAINT_MARGIN = 240.0
LABEL_FONT_PX = 9
#: Average advance of the 9 px label font: sizes label rectangles without asking Qt per label.
LABEL_CHAR_W = 5.6
#: Label rectangles are at least this many characters wide, for labels filled in later.
LABEL_MIN_CHARS = 24
#: Pill heights a box's badges may be lifted (into the gap above it) to find a clear spot; an
#: edge's may move either way from its middle.
BOX_SHIFTS = tuple(range(badge_layout.MAX_SHIFT + 1))
EDGE_SHIFTS = (0, *(k * d for k in range(1, badge_layout.MAX_SHIFT + 1) for d in (1, -1)))


class GraphScene(QGraphicsScene):
    """The drawing of one :class:`~inspector.core.diagram.Diagram` placed by a ``Layout``.

    Read-only geometry (numpy, indexed by box / edge id):

    - ``bx0, by0, bx1, by1``: box rectangles; ``category``, ``kind``: from the diagram.
    - ``segments`` (S, 4) ``[x0, y0, x1, y1]`` of every edge polyline segment, ``segment_edge``
      (S,) the edge each belongs to; ``box_grid`` / ``segment_grid`` / ``label_grid`` index them.

    ``painted_box_count`` / ``painted_edge_count`` say how many boxes / edges the last paint into
    a view drew (renders to images and the minimap do not count); :meth:`painted_labels` the box
    text it drew, with its size on screen (``view_text``, a
    :class:`~inspector.scene.drawn_text.TextRecord`: the record a render keeps of all its text in
    ``text_record`` while it paints); ``badges`` holds every finding badge's rectangle, text
    and hover text, and ``edge_layer.drawn_labels`` the edge labels the last paint drew, where
    (the scene's own model of what it drew, for hover and for tests).
    """

    #: The overlays, highlight or selection changed (the minimap redraws on it).
    overlays_changed = Signal()

    def __init__(self, diagram: Diagram, layout: Layout, palette: Palette) -> None:
        super().__init__()
        self.diagram = diagram
        self.layout = layout
        self.palette = palette
        self.show_edge_labels = True
        self.painted_box_count = 0
        self.painted_edge_count = 0
        #: The box text the last paint into a view drew (a fresh record each paint).
        self.view_text = TextRecord()
        #: Where every layer notes the text it draws while a render paints; None otherwise.
        self.text_record: TextRecord | None = None

        n = diagram.box_count
        self.category = diagram.category.astype(np.int64)
        self.kind = diagram.kind
        self.bx0 = layout.x - layout.w / 2
        self.by0 = layout.y - layout.h / 2
        self.bx1 = layout.x + layout.w / 2
        self.by1 = layout.y + layout.h / 2
        self.box_grid = UniformGrid(self.bx0, self.by0, self.bx1, self.by1)
        self._build_edges(layout)

        self.label_font = QFont()
        self.label_font.setPixelSize(LABEL_FONT_PX)
        self.title_font = QFont()
        self.title_font.setPixelSize(NODE_TITLE_PX)
        self.title_font.setBold(True)
        self.body_font = QFont()
        self.body_font.setPixelSize(11)
        # A collapsed group's name is larger than a node's title, so it reads from afar.
        self.group_title_font = QFont()
        self.group_title_font.setPixelSize(GROUP_TITLE_PX)
        self.group_title_font.setBold(True)
        self.group_body_font = QFont()
        self.group_body_font.setPixelSize(GROUP_BODY_PX)
        self._title_metrics = QFontMetricsF(self.title_font)
        self._body_metrics = QFontMetricsF(self.body_font)
        self._group_metrics = (
            QFontMetricsF(self.group_title_font),
            QFontMetricsF(self.group_body_font),
        )
        self._text_cache: dict[int, tuple[tuple[str, float], ...]] = {}

        self.selected_box: int | None = None
        self.selected_edge: int | None = None
        self.box_overlay: dict[int, tuple[str, str]] = {}
        self.edge_overlay: dict[int, tuple[str, str]] = {}
        # what the badges say per box / edge; ``badges`` is where they are drawn
        self._box_badges: dict[int, list[badge_layout.Entry]] = {}
        self._edge_badges: dict[int, list[badge_layout.Entry]] = {}
        self.badges = badge_layout.Badges.empty()
        self.highlighted = np.zeros(0, np.int64)
        self.highlight_mask = np.zeros(n, dtype=bool)
        # Profile heat: box ids and their values in 0..1 (parallel arrays; empty when off).
        self.heat_ids = np.zeros(0, np.int64)
        self.heat_values = np.zeros(0, np.float64)
        self.placement: PlacementOverlay | None = None  # the partition map's stripes; None: off

        x0, y0, x1, y1 = layout.bounds
        self.drawing_rect = QRectF(x0, y0, x1 - x0, y1 - y0)
        self._fit_to_content()
        # Three items need no BSP tree; its upkeep would only cost time.
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setBackgroundBrush(QBrush(palette.background))
        paint_rect = self.drawing_rect.adjusted(
            -PAINT_MARGIN, -PAINT_MARGIN, PAINT_MARGIN, PAINT_MARGIN
        )
        # Zoomed out further than this, a big graph is drawn from the overview image.
        long_side = max(self.drawing_rect.width(), self.drawing_rect.height(), 1.0)
        self.overview_lod = (
            min(OVERVIEW_PX / long_side, FAR_LOD) if n >= OVERVIEW_MIN_BOXES else 0.0
        )
        self.edge_layer = EdgeLayer(self, paint_rect)
        self.box_layer = BoxLayer(self, paint_rect)
        self.overview_layer = OverviewLayer(self, paint_rect, self.edge_layer, self.box_layer)
        self.overlay_layer = OverlayLayer(self, paint_rect)
        layers = (self.overview_layer, self.edge_layer, self.box_layer, self.overlay_layer)
        for z, item in enumerate(layers):
            item.setZValue(z)
            self.addItem(item)

    def _build_edges(self, layout: Layout) -> None:
        pts = np.asarray(layout.edge_points, np.float64).reshape(-1, 2)
        off = np.asarray(layout.edge_offsets, np.int64)
        m = len(off) - 1
        counts = np.diff(off)
        # A segment starts at every point except the last of its polyline.
        starts = np.ones(len(pts), dtype=bool)
        starts[off[1:][counts > 0] - 1] = False
        s = np.flatnonzero(starts)
        self.segments = np.ascontiguousarray(np.hstack([pts[s], pts[s + 1]]))
        self.segment_edge = np.repeat(np.arange(m, dtype=np.int64), np.maximum(counts - 1, 0))
        sx0 = np.minimum(self.segments[:, 0], self.segments[:, 2])
        sx1 = np.maximum(self.segments[:, 0], self.segments[:, 2])
        sy0 = np.minimum(self.segments[:, 1], self.segments[:, 3])
        sy1 = np.maximum(self.segments[:, 1], self.segments[:, 3])
        self.segment_grid = UniformGrid(sx0, sy0, sx1, sy1)
        # Fixed per segment, so thinning a hairball keeps the same segments frame to frame.
        self.segment_priority = np.random.default_rng(0).random(len(self.segments))

        # Arrowheads point along each polyline's last segment; an edge needs two points.
        has_line = counts >= 2
        self.edge_ok = has_line
        last = np.where(has_line, off[1:] - 1, 0)
        self.edge_tip = pts[last] if len(pts) else np.zeros((m, 2))
        self.edge_before_tip = pts[np.maximum(last - 1, 0)] if len(pts) else np.zeros((m, 2))
        self.edge_start = pts[np.where(has_line, off[:-1], 0)] if len(pts) else np.zeros((m, 2))

        # One dtype/shape label per (source, tensor): a tensor fanning out to ten consumers
        # starts ten polylines at the same point, and ten copies of its label would stack there.
        # Edges whose label is still empty are included: types inferred later fill them in.
        edge_value = self.diagram.edge_value
        ids = {v: i for i, v in enumerate(dict.fromkeys(edge_value))}
        value_id = np.fromiter(map(ids.__getitem__, edge_value), np.int64, m)
        lined = np.flatnonzero(has_line)
        key = self.diagram.edge_src[lined].astype(np.int64) * (len(ids) + 1) + value_id[lined]
        _, first = np.unique(key, return_index=True)
        self.label_edges = lined[np.sort(first)]
        self._count_label_chars()
        width = np.minimum(
            np.maximum(self._label_chars, LABEL_MIN_CHARS) * LABEL_CHAR_W, MAX_LABEL_PX
        )
        lx = self.edge_start[self.label_edges, 0] + 4
        ly = self.edge_start[self.label_edges, 1] + 2
        self.label_grid = UniformGrid(lx, ly, lx + width, ly + LABEL_FONT_PX + 3)

    # ------------------------------------------------------------------------------- geometry

    def box_rect(self, i: int) -> QRectF:
        return QRectF(
            self.bx0[i], self.by0[i], self.bx1[i] - self.bx0[i], self.by1[i] - self.by0[i]
        )

    def box_center(self, i: int) -> QPointF:
        return QPointF(self.layout.x[i], self.layout.y[i])

    def edge_midpoints(self, edges: np.ndarray) -> np.ndarray:
        """(k, 2) points on the given edges: the middle of each polyline's middle segment."""
        off = np.asarray(self.layout.edge_offsets, np.int64)
        pts = np.asarray(self.layout.edge_points, np.float64).reshape(-1, 2)
        if len(edges) == 0 or len(pts) == 0:
            return np.zeros((len(edges), 2))
        count = off[edges + 1] - off[edges]
        k = off[edges] + np.maximum(count - 2, 0) // 2
        nxt = np.where(count >= 2, k + 1, k)
        return (pts[np.minimum(k, len(pts) - 1)] + pts[np.minimum(nxt, len(pts) - 1)]) / 2

    def edge_midpoint(self, i: int) -> QPointF:
        """A point on edge ``i``, near its middle (where its badge sits; handy for clicks)."""
        x, y = self.edge_midpoints(np.array([i], np.int64))[0]
        return QPointF(float(x), float(y))

    def box_at(self, pos: QPointF) -> int | None:
        hits = self.box_grid.query(pos.x(), pos.y(), pos.x(), pos.y())
        return int(hits[-1]) if len(hits) else None

    def edge_at(self, pos: QPointF, tolerance: float) -> int | None:
        """The edge whose polyline passes nearest ``pos``, if within ``tolerance`` scene units."""
        px, py = pos.x(), pos.y()
        ids = self.segment_grid.query(
            px - tolerance, py - tolerance, px + tolerance, py + tolerance
        )
        if len(ids) == 0:
            return None
        seg = self.segments[ids]
        d = seg[:, 2:] - seg[:, :2]
        ll = np.einsum("ij,ij->i", d, d)
        t = np.clip(
            ((px - seg[:, 0]) * d[:, 0] + (py - seg[:, 1]) * d[:, 1]) / np.where(ll > 0, ll, 1),
            0,
            1,
        )
        dist = np.hypot(seg[:, 0] + t * d[:, 0] - px, seg[:, 1] + t * d[:, 1] - py)
        k = int(np.argmin(dist))
        return int(self.segment_edge[ids[k]]) if dist[k] <= tolerance else None

    def elided_lines(self, i: int) -> tuple[tuple[str, float], ...]:
        """Box ``i``'s lines elided to its width, each with its drawn width; cached, as only the
        boxes ever shown up close are asked for."""
        cached = self._text_cache.get(i)
        if cached is None:
            room = float(self.bx1[i] - self.bx0[i]) - 2 * PAD_X
            group = self.kind[i] == BoxKind.GROUP
            title_fm, body_fm = (
                self._group_metrics if group else (self._title_metrics, self._body_metrics)
            )
            out = []
            for k, line in enumerate(self.diagram.lines[i]):
                fm = title_fm if k == 0 else body_fm
                text = fm.elidedText(line, Qt.TextElideMode.ElideRight, room)
                out.append((text, fm.horizontalAdvance(text)))
            cached = self._text_cache[i] = tuple(out)
        return cached

    def painted_labels(self) -> list[tuple[str, float]]:
        """The box text the last paint into a view drew: ``(text, font size on screen in px)``
        per line, read from the paint's own :class:`~inspector.scene.drawn_text.TextRecord`
        (the one a render keeps too), for tests and the "is it readable" question."""
        return self.view_text.sizes()

    def group_box_ids(self) -> np.ndarray:
        """The boxes that stand for collapsed groups."""
        return np.flatnonzero(self.kind == BoxKind.GROUP)

    # ------------------------------------------------------------------------------- state

    def set_palette(self, palette: Palette) -> None:
        self.palette = palette
        self.setBackgroundBrush(QBrush(palette.background))
        self.overview_layer.invalidate()
        self.update()
        self.overlays_changed.emit()

    def set_show_edge_labels(self, show: bool) -> None:
        self.show_edge_labels = show
        self.edge_layer.update()

    def set_selection(self, box: int | None, edge: int | None) -> None:
        self.selected_box, self.selected_edge = box, edge
        self._overlay_changed()

    def set_highlight(self, boxes: set[int]) -> None:
        """Mark search results; an empty set clears them."""
        self.highlighted = np.array(sorted(boxes), dtype=np.int64)
        self.highlight_mask[:] = False
        self.highlight_mask[self.highlighted] = True
        self._overlay_changed()

    def set_box_overlay(self, overlay: dict[int, tuple[str, str]]) -> None:
        """Findings per box: ``{box: (severity, badge text)}``, severity "error"/"warning"/"info";
        each line of the text gets a pill named by what precedes its first ": "."""
        self.box_overlay = dict(overlay)
        self._box_badges = {b: badge_layout.text_entries(*v) for b, v in overlay.items()}
        self._badges_changed()

    def set_edge_overlay(self, overlay: dict[int, tuple[str, str]]) -> None:
        """Findings per edge: ``{edge: (severity, badge text)}``."""
        self.edge_overlay = dict(overlay)
        self._edge_badges = {e: badge_layout.text_entries(*v) for e, v in overlay.items()}
        self._badges_changed()

    def set_findings(
        self,
        on_box: dict[int, list[Finding]],
        on_edge: dict[int, list[Finding]],
        on_group: dict[int, GroupTally] | None = None,
    ) -> None:
        """The findings on each box and edge: outlined in their strongest severity, explained on
        hover, and badged one pill per finding (see :mod:`inspector.scene.badges`). A collapsed
        group's box gets one pill instead: the worst finding inside it, counted ("3 errors")."""
        self.box_overlay = {b: (strongest(fs).value, overlay_text(fs)) for b, fs in on_box.items()}
        self.edge_overlay = {
            e: (strongest(fs).value, overlay_text(fs)) for e, fs in on_edge.items()
        }
        entry = badge_layout.finding_entry
        self._box_badges = {b: [entry(f) for f in dict.fromkeys(fs)] for b, fs in on_box.items()}
        self._edge_badges = {e: [entry(f) for f in dict.fromkeys(fs)] for e, fs in on_edge.items()}
        for b, tally in (on_group or {}).items():
            sev = tally.severity.value
            tip = f"{tally.text} inside (of {tally.total} findings): expand the group to see them"
            self.box_overlay[b] = (sev, tally.text)
            self._box_badges[b] = [badge_layout.Entry(sev, tally.text, tip)]
        self._badges_changed()

    def _badges_changed(self) -> None:
        on_box, on_edge = badge_layout.one_place_each(
            self._box_badges, self._edge_badges, self.diagram.edge_dst
        )
        edges = np.fromiter(on_edge, np.int64, len(on_edge))
        mid = self.edge_midpoints(edges)
        anchors = self._box_anchors(on_box) + [
            badge_layout.Anchor(
                ("edge", e),
                y,
                ((x + badge_layout.EDGE_GAP, True), (x - badge_layout.EDGE_GAP, False)),
                EDGE_SHIFTS,
                on_edge[e],
                icon_x=x,
            )
            for e, (x, y) in zip(edges.tolist(), mid.tolist(), strict=True)
        ]
        self.badges = badge_layout.layout_badges(self.label_font, anchors, self._boxes_near)
        self._fit_to_content()
        self._overlay_changed()

    def labels_changed(self) -> None:
        """The diagram's edge labels were filled in (types inferred): the scene grows to hold
        them, and repaints."""
        self._count_label_chars()
        self._fit_to_content()
        self.update()

    def _count_label_chars(self) -> None:
        """The length of each drawn label's text (``label_edges``), as the diagram has it now."""
        labels = self.diagram.edge_label[:]  # made by the worker that laid the drawing out
        chars = np.fromiter(map(len, labels), np.float64, len(labels))
        self._label_chars = chars[self.label_edges]

    def _fit_to_content(self) -> None:
        """The scene's rectangle: the drawing and its margin, grown to hold what is painted past
        the drawing's edge (badges, and edge labels right of their edges), so renders and
        exported images do not cut it off."""
        rect = self.drawing_rect.adjusted(-SCENE_MARGIN, -SCENE_MARGIN, SCENE_MARGIN, SCENE_MARGIN)
        r = self.badges.rects
        if len(r):
            x0, y0 = r[:, :2].min(axis=0).tolist()
            x1, y1 = r[:, 2:].max(axis=0).tolist()
            rect = rect.united(QRectF(x0 - 4, y0 - 4, x1 - x0 + 8, y1 - y0 + 8))
        edges = self.label_edges
        if len(edges):
            labels = self.diagram.edge_label
            left = self.edge_start[edges, 0] + LABEL_GAP
            # an estimate from the average advance, measured where it may pass the edge
            rough = left + np.minimum(self._label_chars * LABEL_CHAR_W * 1.25, MAX_LABEL_PX)
            metrics = QFontMetricsF(self.label_font)
            right = rect.right()
            past = rough > right
            for e, x in zip(edges[past].tolist(), left[past].tolist(), strict=True):
                text = labels[e]
                width = min(metrics.horizontalAdvance(text), MAX_LABEL_PX)
                right = max(right, x + width + 4)
            rect.setRight(right)
        if rect != self.sceneRect():
            self.setSceneRect(rect)

    def _box_anchors(
        self, on_box: dict[int, list[badge_layout.Entry]]
    ) -> list[badge_layout.Anchor]:
        """A box's pills sit on its top edge: reaching right from near its top-right corner,
        else ending at its right edge (inside its column when they are short enough), else
        starting at its left edge; each lifted up to ``MAX_SHIFT`` pills into the gap above;
        with no room for the text, icons (a row of them on its top edge at the last)."""
        ids = np.fromiter(on_box, np.int64, len(on_box))
        corners = np.column_stack([self.bx0[ids], self.by0[ids], self.bx1[ids], self.by1[ids]])
        return [
            badge_layout.Anchor(
                ("box", b),
                y0,
                ((x1 - badge_layout.OVERLAP, True), (x1, False), (x0, True)),
                BOX_SHIFTS,
                on_box[b],
                (x0, y0, x1, y1),
            )
            for b, (x0, y0, x1, y1) in zip(ids.tolist(), corners.tolist(), strict=True)
        ]

    def _boxes_near(
        self, asked: list[tuple[tuple[str, int], badge_layout.Rect]]
    ) -> list[list[badge_layout.Rect]]:
        """Per ``(place, rect)``: the rectangles of the boxes touching ``rect``, less the place's
        own box (all places in one grid pass)."""
        rects = np.array([r for _, r in asked], np.float64).reshape(-1, 4)
        owner, ids = self.box_grid.query_many(rects)
        own = np.array([p[1] if p[0] == "box" else -1 for p, _ in asked], np.int64)
        keep = ids != own[owner] if len(owner) else np.zeros(0, bool)
        owner, ids = owner[keep], ids[keep]
        boxes = np.column_stack([self.bx0[ids], self.by0[ids], self.bx1[ids], self.by1[ids]])
        cuts = np.searchsorted(owner, np.arange(len(asked) + 1))
        listed = boxes.tolist()
        return [listed[cuts[k] : cuts[k + 1]] for k in range(len(asked))]

    def set_box_heat(self, heat: dict[int, float] | None) -> None:
        """Profile heat per box, ``{box: value}`` with values in 0..1 (clipped); None clears.

        Painted under the other overlays as a tint and a bar along the box's bottom edge whose
        length is the value, so a hot node is found from afar and compared up close.
        """
        heat = heat or {}
        self.heat_ids = np.fromiter(heat.keys(), np.int64, len(heat))
        self.heat_values = np.clip(np.fromiter(heat.values(), np.float64, len(heat)), 0.0, 1.0)
        self._overlay_changed()

    def set_placement(self, providers: list[str] | None, main_graph: bool = True) -> None:
        """The partition map: the execution provider per node index of the graph drawn ("" for
        a node not placed); None clears it. Only the overlay changes: nothing is laid out."""
        self.placement = (
            None if providers is None else PlacementOverlay(self.diagram, providers, main_graph)
        )
        self._overlay_changed()

    def _overlay_changed(self) -> None:
        self.overlay_layer.refresh()
        self.overlay_layer.update()
        self.overlays_changed.emit()

    # ------------------------------------------------------------------------------- tooltips

    def tooltip_at(self, pos: QPointF, tolerance: float = 4.0) -> str:
        """What hovering ``pos`` explains: a badge's finding, a box's lines, or an edge's tensor
        and type, each followed by its findings (if any); "" over empty space."""
        badge = self.badges.at(pos.x(), pos.y())
        if badge is not None:
            return self.badges.tip[badge]
        box = self.box_at(pos)
        if box is not None:
            text = "\n".join(self.diagram.lines[box])
            if self.diagram.kind[box] == BoxKind.GROUP:
                text += "\n(double-click or → opens it; ← on a box inside closes it again)"
            if self.placement is not None and self.placement.box_tooltip(box):
                text += "\n" + self.placement.box_tooltip(box)
            found = self.box_overlay.get(box)
        else:
            edge = self.edge_at(pos, tolerance)
            if edge is None:
                return ""
            label = self.diagram.edge_label[edge]
            text = self.diagram.edge_value[edge] + (f"\n{label}" if label else "")
            if self.placement is not None and self.placement.edge_tooltip(edge):
                text += "\n" + self.placement.edge_tooltip(edge)
            found = self.edge_overlay.get(edge)
        if found is not None:
            severity, message = found
            text += f"\n\n{severity if severity in SEVERITIES else 'info'}: {message}"
        return text
