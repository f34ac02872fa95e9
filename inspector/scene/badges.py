"""Finding badges: where each pill goes, what it says, and what hovering it explains.

A badge names one finding by its code, in full ("dtype-mismatch"); hovering it shows the
finding's whole message and hint. The rules that keep them readable:

- one badge per finding: a finding on a tensor is badged once, on the edge into its node (or the
  tensor's first edge), not again on every edge of the tensor or on the node's box; a finding on
  a node only (or inside the subgraph or function a node stands for) is badged on that box;
- the badges of one box or edge stack upward from its anchor (a box's top edge, an edge's
  middle): errors on top, then warnings, then infos; past ``MAX_STACK`` the lowest says
  "+N more" and its hover lists them;
- a pill never covers another box: a box's stack sits on its top edge reaching right from near
  its top-right corner, or else kept within its own column, or lifted into the gap above it; an
  edge's beside its middle, right or left, up or down a little. Where no spot is clear of other
  boxes with the text, the pills become icons ("!", "i", "+N") with the text on hover; the last
  spot tried is a row of icons on the box's own top edge, from its right end, which no other
  box (and no neighbour's pill) reaches (an edge's: a column of icons on its middle point, in the
  space the layout keeps between boxes);
- a stack also keeps clear of the pills placed before it where there is room; where there is
  none, pills are painted infos first and errors last, so an error is on top.

Geometry is in scene units (badges scale with the drawing, like box text), computed once per
change of the findings (:func:`layout_badges`), so painting and hover only read arrays.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFont, QFontMetricsF, QPainter

from inspector.core.findings import Finding, Severity
from inspector.scene.drawn_text import TextRecord
from inspector.scene.labels import Rect, RectIndex
from inspector.scene.palette import SEVERITIES, Palette

MAX_STACK = 3  # pills per box or edge; the last one says "+N more" when there are more
OVERLAP = 24.0  # how far a box's badges reach back over its top-right corner
EDGE_GAP = 6.0  # between an edge's midpoint and its badges
PAD = 4.0  # text to pill edge, each side
SPACING = 1.0  # between stacked pills
PAINT_BUDGET = 400  # pills painted per frame at most
MAX_SHIFT = 3  # pill heights a stack may move up (or an edge's down) to find a clear spot


@dataclass(frozen=True)
class Entry:
    """One thing to badge at one place: a finding, or a caller's own (severity, text)."""

    severity: str
    text: str  # on the pill
    tip: str  # on hover
    key: object = None  # the Finding, so the same one reached from several places is badged once
    icon: str = ""  # shown instead of the text where it has no room; "": the severity's mark


@dataclass
class Badges:
    """The pills to paint, in paint order (infos first): rects ``(k, 4)`` of ``x0, y0, x1, y1``
    in scene units, and per pill its severity, text (the finding's code), hover text, place
    (``("box", id)`` or ``("edge", id)``) and what it shows: its text, or an icon where the text
    had no room (:func:`icon_text`)."""

    rects: np.ndarray
    severity: list[str]
    text: list[str]
    tip: list[str]
    place: list[tuple[str, int]]
    shown: list[str]

    @classmethod
    def empty(cls) -> Badges:
        return cls(np.zeros((0, 4)), [], [], [], [], [])

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


@dataclass(frozen=True)
class Anchor:
    """Where one place's stack of pills may go. Each candidate is a side ``(x, starts)`` (pills
    start at ``x`` going right, or end at ``x`` going left) with the stack moved ``shift`` pill
    heights up from ``y`` (the lowest pill's middle; a negative shift moves it down); candidates
    are tried shift by shift, side by side, in the order given. ``own`` is the box's own
    rectangle, on whose top edge the last spot tried puts a row of icons; None for an edge,
    whose last spot is a column of icons centred on ``(icon_x, y)``."""

    place: tuple[str, int]
    y: float
    sides: tuple[tuple[float, bool], ...]
    shifts: tuple[int, ...]
    entries: list[Entry]
    own: Rect | None = None
    icon_x: float = 0.0


#: For each ``(place, rect)`` asked, the rectangles of the boxes touching ``rect`` other than
#: the place's own (a pill may cover its own box, not those); asked once for all places.
BoxesNear = Callable[[list[tuple[tuple[str, int], Rect]]], list[list[Rect]]]


def icon_text(entry: Entry) -> str:
    """What a pill too long for its room shows instead of its text: its own icon (a "+N more"
    pill's count), else "!" (error or warning) or "i" (info); its hover still says it all."""
    return entry.icon or ("i" if entry.severity == "info" else "!")


def _stack(entries: list[Entry]) -> list[Entry]:
    """Most severe first, at most ``MAX_STACK``: the last of a longer list says "+N more"."""
    entries = sorted(entries, key=lambda e: _rank(e.severity))
    if len(entries) <= MAX_STACK:
        return entries
    rest = entries[MAX_STACK - 1 :]
    more = Entry(
        min((e.severity for e in rest), key=_rank),
        f"+{len(rest)} more",
        "\n".join(e.tip for e in rest),
        icon=f"+{len(rest)}",
    )
    return [*entries[: MAX_STACK - 1], more]


def _overlap(a: Rect, b: Rect) -> bool:
    """Whether two rectangles overlap (touching edges do not count)."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def layout_badges(font: QFont, anchors: Iterable[Anchor], boxes_near: BoxesNear) -> Badges:
    """Pills for each anchor: stacked upward, the most severe on top, at most ``MAX_STACK`` per
    place, none over another box's rectangle; returned in paint order.

    Places are placed in order of their most severe finding. Each takes the first candidate
    spot (see :class:`Anchor`) where its pills show their text and touch neither another box
    nor a pill placed before; else the first where they fit as icons (the text on hover), a row
    on the box's own top edge last; else the first clear of other boxes, over other pills
    (severity decides what is on top); else that last spot.
    """
    fm = QFontMetricsF(font)
    h = fm.height() + 2
    step = h + SPACING
    widths: dict[str, float] = {}

    def width(text: str, icon: bool) -> float:
        w = widths.get(text)
        if w is None:
            w = widths[text] = fm.horizontalAdvance(text) + 2 * PAD
        return max(w, h) if icon else w

    stacks = [(a, _stack(a.entries)) for a in anchors if a.entries]
    stacks.sort(key=lambda st: _rank(st[1][0].severity))  # stable: errors' stacks place first
    shown = [{False: [e.text for e in es], True: [icon_text(e) for e in es]} for _, es in stacks]
    ws = [{icon: [width(t, icon) for t in texts[icon]] for icon in texts} for texts in shown]
    reach = []  # a rectangle holding every spot a place's stack may take
    for (a, entries), w in zip(stacks, ws, strict=True):
        xs, wide = [x for x, _ in a.sides], max(*w[False], *w[True])
        top = a.y - (len(entries) + max(a.shifts)) * step
        bottom = a.y + h / 2 - min(0, *a.shifts) * step
        reach.append((a.place, (min(xs) - wide, top, max(xs) + wide, bottom)))
    nears = boxes_near(reach)
    placed = RectIndex()
    pills: list[tuple[int, Rect, Entry, str, tuple[str, int]]] = []
    for (a, entries), texts, w, near in zip(stacks, shown, ws, nears, strict=True):
        # tried lazily, in order of preference: most places take their first spot
        chosen: tuple[bool, list[Rect]] | None = None
        fallback: tuple[bool, list[Rect]] | None = None
        last = _last_spot(a, w[True], h, step)
        spots = (
            (icon, _spot(w[icon], a.y, x, starts, shift, h, step))
            for icon, shift, (x, starts) in itertools.product((False, True), a.shifts, a.sides)
        )
        for icon, rects in itertools.chain(spots, [(True, last)]):
            if any(_overlap(r, o) for r in rects for o in near):
                continue
            if not any(placed.overlaps(r) for r in rects):
                chosen = (icon, rects)
                break
            fallback = fallback or (icon, rects)
        icon, rects = chosen or fallback or (True, last)
        for e, text, r in zip(entries, texts[icon], rects, strict=True):
            placed.add(a.place, r)
            pills.append((_rank(e.severity), r, e, text, a.place))
    # infos first, errors last: where two places' pills meet, the more severe is on top
    pills.sort(key=lambda p: -p[0])
    if not pills:
        return Badges.empty()
    return Badges(
        np.array([p[1] for p in pills], np.float64),
        [p[2].severity for p in pills],
        [p[2].text for p in pills],
        [p[2].tip for p in pills],
        [p[4] for p in pills],
        [p[3] for p in pills],
    )


def _spot(
    widths: list[float], y: float, x: float, starts: bool, shift: int, h: float, step: float
) -> list[Rect]:
    """A stack of pills this wide, top to bottom, its lowest pill's middle ``shift`` steps above
    ``y``, starting (or ending) at ``x``."""
    top = y + h / 2 - len(widths) * step + SPACING - shift * step
    rects = []
    for w in widths:
        left = x if starts else x - w
        rects.append((left, top, left + w, top + h))
        top += step
    return rects


def _last_spot(a: Anchor, widths: list[float], h: float, step: float) -> list[Rect]:
    """Icons in a row on a box's top edge, up to its right end (within its own column, where no
    other box is and no neighbour's pill reaches); for an edge, a column centred on its point."""
    if a.own is not None:  # the most severe first, the row ending at the box's right end
        x0, y0, x1, _ = a.own
        left = max(x0, x1 - sum(widths) - SPACING * (len(widths) - 1))
        rects = []
        for w in widths:
            rects.append((left, y0 - h / 2, left + w, y0 + h / 2))
            left += w + SPACING
        return rects
    top = a.y - len(widths) * step / 2
    return [
        (a.icon_x - w / 2, top + k * step, a.icon_x + w / 2, top + k * step + h)
        for k, w in enumerate(widths)
    ]


def paint_badges(
    painter: QPainter,
    badges: Badges,
    ids: np.ndarray,
    font: QFont,
    palette: Palette,
    record: TextRecord | None = None,
) -> None:
    """Paint pills ``ids`` of ``badges`` (in paint order), each with its text in full or its
    icon."""
    painter.setFont(font)
    run = record.begin(painter, font) if record is not None else None
    for i in ids[-PAINT_BUDGET:].tolist():  # the last ones: the most severe
        x0, y0, x1, y1 = badges.rects[i].tolist()
        rect = QRectF(x0, y0, x1 - x0, y1 - y0)
        r = (y1 - y0) / 2
        painter.setPen(palette.background)  # a thin rim parts touching pills
        painter.setBrush(palette.severity_color(badges.severity[i]))
        painter.drawRoundedRect(rect, r, r)
        painter.setPen(palette.badge_text)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, badges.shown[i])
        if run is not None:
            run.centred(badges.shown[i], rect)
