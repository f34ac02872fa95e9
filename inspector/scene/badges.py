"""Finding badges: where each pill goes, what it says, and what hovering it explains.

A badge names one finding by its code, in full ("dtype-mismatch"); hovering it shows the
finding's whole message and hint. The rules that keep them readable:

- one badge per finding: a finding on a tensor is badged once, on the edge into its node (or the
  tensor's first edge), not again on every edge of the tensor or on the node's box; a finding on
  a node only (or inside the subgraph or function a node stands for) is badged on that box;
- the badges of one box or edge stack upward from its anchor (a box's top-right corner, an
  edge's middle): errors on top, then warnings, then infos, so only the lowest pill reaches over
  the box; past ``MAX_STACK`` the lowest says "+N more" and its hover lists them;
- a stack moves up a little to stay clear of a neighbour's pills; where there is no room, pills
  are painted infos first and errors last, so an error is on top.

Geometry is in scene units (badges scale with the drawing, like box text), computed once per
change of the findings (:func:`layout_badges`), so painting and hover only read arrays.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QPainter

from inspector.core.findings import Finding, Severity
from inspector.scene.labels import Rect, RectIndex
from inspector.scene.palette import SEVERITIES, Palette

MAX_STACK = 3  # pills per box or edge; the last one says "+N more" when there are more
OVERLAP = 24.0  # how far a box's badges reach back over its top-right corner
EDGE_GAP = 6.0  # between an edge's midpoint and its badges
PAD = 4.0  # text to pill edge, each side
SPACING = 1.0  # between stacked pills
PAINT_BUDGET = 400  # pills painted per frame at most
MAX_SHIFT = 3  # pill heights a stack may move up to stay clear of another place's pills


@dataclass(frozen=True)
class Entry:
    """One thing to badge at one place: a finding, or a caller's own (severity, text)."""

    severity: str
    text: str  # on the pill
    tip: str  # on hover
    key: object = None  # the Finding, so the same one reached from several places is badged once


@dataclass
class Badges:
    """The pills to paint, in paint order (infos first): rects ``(k, 4)`` of ``x0, y0, x1, y1``
    in scene units, and per pill its severity, text, hover text and place (``("box", id)`` or
    ``("edge", id)``)."""

    rects: np.ndarray
    severity: list[str]
    text: list[str]
    tip: list[str]
    place: list[tuple[str, int]]

    @classmethod
    def empty(cls) -> Badges:
        return cls(np.zeros((0, 4)), [], [], [], [])

    def at(self, x: float, y: float) -> int | None:
        """The topmost pill at ``(x, y)`` (the last painted), or None."""
        r = self.rects
        hit = np.flatnonzero((r[:, 0] <= x) & (x <= r[:, 2]) & (r[:, 1] <= y) & (y <= r[:, 3]))
        return int(hit[-1]) if len(hit) else None

    def touching(self, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
        """Indices of the pills touching a rectangle, in paint order."""
        r = self.rects
        return np.flatnonzero((r[:, 2] >= x0) & (r[:, 0] <= x1) & (r[:, 3] >= y0) & (r[:, 1] <= y1))


def _rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES) - 1


def finding_entry(f: Finding) -> Entry:
    """A finding's pill: its code; its hover: severity, code, message and hint."""
    sev = Severity(f.severity).value
    tip = f"{sev}: {f.code}: {f.message}" + (f"\nhint: {f.hint}" if f.hint else "")
    return Entry(sev, f.code, tip, f)


def text_entries(severity: str, text: str) -> list[Entry]:
    """A caller's ``(severity, text)`` overlay: one pill per line, named by what precedes its
    first ": " (a finding code, or "first divergence"), the whole line on hover."""
    return [
        Entry(severity, line.split(": ", 1)[0], f"{severity}: {line}")
        for line in text.split("\n")
        if line
    ]


def one_place_each(
    on_box: dict[int, list[Entry]], on_edge: dict[int, list[Entry]], edge_dst: np.ndarray
) -> tuple[dict[int, list[Entry]], dict[int, list[Entry]]]:
    """Drop the repeats of a finding reached from several places: one reached by an edge keeps
    only the edge into a box that has it too (its node), else its first edge; boxes keep only the
    findings no edge shows."""
    edges_of: dict[object, list[int]] = {}
    boxes_of: dict[object, set[int]] = {}
    for e, entries in on_edge.items():
        for x in entries:
            if x.key is not None:
                edges_of.setdefault(x.key, []).append(e)
    for b, entries in on_box.items():
        for x in entries:
            if x.key is not None:
                boxes_of.setdefault(x.key, set()).add(b)
    chosen: dict[object, int] = {}
    for key, edges in edges_of.items():
        boxes = boxes_of.get(key, set())
        into = [e for e in edges if int(edge_dst[e]) in boxes]
        chosen[key] = min(into or edges)
    edges_out = {
        e: kept
        for e, entries in on_edge.items()
        if (kept := [x for x in entries if x.key is None or chosen[x.key] == e])
    }
    boxes_out = {
        b: kept
        for b, entries in on_box.items()
        if (kept := [x for x in entries if x.key is None or x.key not in chosen])
    }
    return boxes_out, edges_out


def layout_badges(
    font: QFont, anchors: Iterable[tuple[tuple[str, int], float, float, list[Entry]]]
) -> Badges:
    """Pills for each ``(place, left x, lowest pill's middle y, entries)``: stacked upward, the
    most severe on top, at most ``MAX_STACK`` per place; returned in paint order.

    Places are stacked in order of their most severe finding; a stack that would overlap one
    placed before it moves up a pill's height at a time (up to ``MAX_SHIFT`` times), so the
    pills of neighbouring boxes and edges stay apart where there is room.
    """
    fm = QFontMetricsF(font)
    h = fm.height() + 2
    step = h + SPACING
    widths: dict[str, float] = {}
    stacks = []
    for place, x, y, entries in anchors:
        if not entries:
            continue
        entries = sorted(entries, key=lambda e: _rank(e.severity))
        if len(entries) > MAX_STACK:
            rest = entries[MAX_STACK - 1 :]
            more = Entry(
                min((e.severity for e in rest), key=_rank),
                f"+{len(rest)} more",
                "\n".join(e.tip for e in rest),
            )
            entries = [*entries[: MAX_STACK - 1], more]
        stacks.append((_rank(entries[0].severity), place, x, y, entries))
    stacks.sort(key=lambda st: st[0])  # stable: errors' stacks keep their anchors first
    placed = RectIndex()
    pills: list[tuple[int, Rect, str, str, str, tuple[str, int]]] = []
    for _, place, x, y, entries in stacks:
        rects: list[Rect] = []
        for shift in range(MAX_SHIFT + 1):
            top = y + h / 2 - len(entries) * step + SPACING - shift * step
            rects = []
            for e in entries:
                w = widths.get(e.text)
                if w is None:
                    w = widths[e.text] = fm.horizontalAdvance(e.text) + 2 * PAD
                rects.append((x, top, x + w, top + h))
                top += step
            if not any(placed.overlaps(r) for r in rects):
                break
        else:  # no free spot near: keep the anchor; severity order decides what is on top
            rects = [(r[0], r[1] + MAX_SHIFT * step, r[2], r[3] + MAX_SHIFT * step) for r in rects]
        for e, r in zip(entries, rects, strict=True):
            placed.add(place, r)
            pills.append((_rank(e.severity), r, e.severity, e.text, e.tip, place))
    # infos first, errors last: where two places' pills meet, the more severe is on top
    pills.sort(key=lambda p: -p[0])
    if not pills:
        return Badges.empty()
    return Badges(
        np.array([p[1] for p in pills], np.float64),
        [p[2] for p in pills],
        [p[3] for p in pills],
        [p[4] for p in pills],
        [p[5] for p in pills],
    )


def paint_badges(
    painter: QPainter, badges: Badges, ids: np.ndarray, font: QFont, palette: Palette
) -> None:
    """Paint pills ``ids`` of ``badges`` (in paint order), their text in full."""
    painter.setFont(font)
    for i in ids[-PAINT_BUDGET:].tolist():  # the last ones: the most severe
        x0, y0, x1, y1 = badges.rects[i].tolist()
        rect = QRectF(x0, y0, x1 - x0, y1 - y0)
        r = (y1 - y0) / 2
        painter.setPen(palette.background)  # a thin rim parts touching pills
        painter.setBrush(palette.severity_color(badges.severity[i]))
        painter.drawRoundedRect(rect, r, r)
        painter.setPen(palette.badge_text)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, badges.text[i])
