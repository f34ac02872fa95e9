"""Where each edge's dtype/shape label goes, so that no two drawn labels overlap.

A label's first choice is just right of and below the point its edge leaves the box. Edges that
leave one box (the outputs of a Split, a TopK) start at the same point, and labels of edges from
neighbouring boxes can meet, so each label takes the first of a few nearby spots that no label
placed before it, and no box, covers: right, left, then one and two rows further down; with
none free it is not drawn (the edge's tooltip still gives its type). A label wider than
``MAX_LABEL_PX`` (a symbolic shape such as ``float32[batch,16,floor(height/2 - 1/2) + 1,…]``) is
drawn cut short with an ellipsis; the edge's tooltip and the Properties panel give it whole.

A label is placed the first time a frame needs it and then keeps its spot, so labels never jump
while the view scrolls; labels are placed in edge order within a frame, so a whole-graph render
always comes out the same. A label whose text changes (types inferred later) is placed again.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetricsF

Rect = tuple[float, float, float, float]  # x0, y0, x1, y1 in scene units

GAP = 4.0  # between the edge's start and the label, sideways
DROP = 2.0  # below the edge's start
ROWS = 3  # the rows tried: at the start, and one and two rows further down
#: How far a placed label can reach from its edge's start (a frame asks for the labels of edges
#: starting this far outside it).
REACH = 240.0
#: The widest a drawn label gets (about 40 characters of the 9 px label font).
MAX_LABEL_PX = 220.0
_CELL = 128.0


class RectIndex:
    """Rectangles placed so far, each under a key, in a grid of cells: whether a new one would
    overlap any of them costs a few cell look-ups, however many there are."""

    def __init__(self) -> None:
        self._cells: dict[tuple[int, int], list[tuple[object, Rect]]] = {}

    def overlaps(self, r: Rect) -> bool:
        """Whether ``r`` overlaps a placed rectangle (touching edges do not count)."""
        for cell in _cells_of(r):
            for _, o in self._cells.get(cell, ()):
                if r[0] < o[2] and o[0] < r[2] and r[1] < o[3] and o[1] < r[3]:
                    return True
        return False

    def add(self, key: object, r: Rect) -> None:
        for cell in _cells_of(r):
            self._cells.setdefault(cell, []).append((key, r))

    def remove(self, key: object, r: Rect) -> None:
        for cell in _cells_of(r):
            self._cells[cell] = [p for p in self._cells[cell] if p[0] != key]


class LabelPlacer:
    """The spots of the labels placed so far, and an index of them to test new ones against."""

    def __init__(self, font: QFont) -> None:
        fm = QFontMetricsF(font)
        self._fm = fm
        self.height = fm.height()
        self.ascent = fm.ascent()
        self._widths: dict[str, float] = {}
        self._shown: dict[str, str] = {}
        self._placed: dict[int, tuple[str, Rect | None]] = {}
        self._index = RectIndex()

    def shown(self, text: str) -> str:
        """``text`` as drawn: whole, or cut to ``MAX_LABEL_PX`` with an ellipsis."""
        short = self._shown.get(text)
        if short is None:
            short = self._shown[text] = self._fm.elidedText(
                text, Qt.TextElideMode.ElideRight, MAX_LABEL_PX
            )
        return short

    def place(
        self,
        edge: int,
        text: str,
        x: float,
        y: float,
        boxes: Callable[[], RectIndex] | None = None,
    ) -> Rect | None:
        """The spot of ``edge``'s label ``text`` for an edge leaving ``(x, y)``, off the labels
        placed before and off ``boxes()`` (the boxes near it: a label under a box is hidden, as
        the boxes are painted over the edges; asked for only when a label is placed anew);
        None: no room."""
        known = self._placed.get(edge)
        if known is not None:
            if known[0] == text:
                return known[1]
            if known[1] is not None:
                self._index.remove(edge, known[1])
        w = self._widths.get(text)
        if w is None:
            w = self._widths[text] = self._fm.horizontalAdvance(text)
        h = self.height
        near = boxes() if boxes is not None else RectIndex()
        spot = None
        for row in range(ROWS):
            top = y + DROP + row * (h + 1)
            for left in (x + GAP, x - GAP - w):
                r = (left, top, left + w, top + h)
                if not self._index.overlaps(r) and not near.overlaps(r):
                    spot = r
                    break
            if spot is not None:
                break
        self._placed[edge] = (text, spot)
        if spot is not None:
            self._index.add(edge, spot)
        return spot


def _cells_of(r: Rect) -> list[tuple[int, int]]:
    cx0, cx1 = math.floor(r[0] / _CELL), math.floor(r[2] / _CELL)
    cy0, cy1 = math.floor(r[1] / _CELL), math.floor(r[3] / _CELL)
    return [(cx, cy) for cx in range(cx0, cx1 + 1) for cy in range(cy0, cy1 + 1)]
