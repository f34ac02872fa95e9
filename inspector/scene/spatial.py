"""A uniform grid over axis-aligned rectangles, built and queried with numpy (no Qt).

The graph view asks "which boxes / edge segments touch this rectangle?" on every paint and every
hover, so the answer has to cost far less than a frame even at 100k boxes. One QGraphicsItem per
box would let Qt's BSP tree answer that, but at ~20 µs and several KB per item; this grid is a
few numpy arrays (CSR: per cell, the ids of the rectangles that touch it) and a query is a
handful of vectorised calls.

A rectangle spanning more than ``MAX_SPAN`` cells (an edge's long vertical lane, say) is not
copied into every cell: it is kept in a short "big" list that every query tests directly.
"""

from __future__ import annotations

import numpy as np

#: Rectangles touching more cells than this go to the "big" list instead of the cells.
MAX_SPAN = 16
#: The grid never has more cells than this many per rectangle (bounds memory on sparse layouts).
CELLS_PER_ITEM = 2


class UniformGrid:
    """Rectangles ``(x0[i], y0[i]) – (x1[i], y1[i])`` bucketed into square cells.

    :meth:`query` returns the sorted ids of the rectangles that intersect a query rectangle
    (touching edges count), exactly, not just the ones sharing a cell.
    """

    def __init__(self, x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray) -> None:
        self.x0, self.y0, self.x1, self.y1 = (
            np.ascontiguousarray(a, np.float64) for a in (x0, y0, x1, y1)
        )
        n = len(self.x0)
        self.count = n
        if n == 0:
            self._origin = (0.0, 0.0)
            self._cell = 1.0
            self._cols = self._rows = 1
            self._start = np.zeros(2, np.int64)
            self._items = np.zeros(0, np.int64)
            self._big = np.zeros(0, np.int64)
            self.bounds = (0.0, 0.0, 0.0, 0.0)
            return
        bx0, by0 = float(self.x0.min()), float(self.y0.min())
        bx1, by1 = float(self.x1.max()), float(self.y1.max())
        self.bounds = (bx0, by0, bx1, by1)
        bw, bh = max(bx1 - bx0, 1.0), max(by1 - by0, 1.0)
        # A cell about the size of a typical rectangle keeps both the copies per rectangle and
        # the candidates per query small; the cap keeps a sparse layout from allocating cells
        # for its empty space.
        typical = max(float(np.median(self.x1 - self.x0)), float(np.median(self.y1 - self.y0)), 1.0)
        cell = max(typical, float(np.sqrt(bw * bh / (CELLS_PER_ITEM * n))))
        self._origin = (bx0, by0)
        self._cell = cell
        self._cols = int(bw // cell) + 1
        self._rows = int(bh // cell) + 1

        cx0, cy0 = self._cells(self.x0, self.y0)
        cx1, cy1 = self._cells(self.x1, self.y1)
        nx, ny = cx1 - cx0 + 1, cy1 - cy0 + 1
        span = nx * ny
        big = span > MAX_SPAN
        self._big = np.flatnonzero(big)
        small = np.flatnonzero(~big)
        nx, ny, cx0, cy0, span = nx[small], ny[small], cx0[small], cy0[small], span[small]
        # Expand every small rectangle into the cells it covers, all at once: entry k of
        # rectangle i is cell (cx0 + k % nx, cy0 + k // nx).
        first = np.cumsum(span) - span
        ids = np.repeat(small, span)
        k = np.arange(len(ids), dtype=np.int64) - np.repeat(first, span)
        nxr = np.repeat(nx, span)
        cells = (np.repeat(cy0, span) + k // nxr) * self._cols + np.repeat(cx0, span) + k % nxr
        order = np.argsort(cells, kind="stable")
        self._items = ids[order]
        self._start = np.zeros(self._cols * self._rows + 1, np.int64)
        np.cumsum(np.bincount(cells, minlength=self._cols * self._rows), out=self._start[1:])

    def _cells(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # Clip in float before the cast: a coordinate far outside the bounds must not overflow.
        cx = np.clip((x - self._origin[0]) / self._cell, 0, self._cols - 1).astype(np.int64)
        cy = np.clip((y - self._origin[1]) / self._cell, 0, self._rows - 1).astype(np.int64)
        return cx, cy

    def query(self, qx0: float, qy0: float, qx1: float, qy1: float) -> np.ndarray:
        """Sorted ids (int64) of the rectangles intersecting the query rectangle."""
        n = self.count
        if (
            n == 0
            or qx1 < self.bounds[0]
            or qy1 < self.bounds[1]
            or qx0 > self.bounds[2]
            or qy0 > self.bounds[3]
        ):
            return np.zeros(0, np.int64)
        if (
            qx0 <= self.bounds[0]
            and qy0 <= self.bounds[1]
            and qx1 >= self.bounds[2]
            and qy1 >= self.bounds[3]
        ):
            return np.arange(n, dtype=np.int64)
        (cx0, cx1), (cy0, cy1) = self._cells(np.array([qx0, qx1]), np.array([qy0, qy1]))
        rows = np.arange(cy0, cy1 + 1, dtype=np.int64) * self._cols
        lo = self._start[rows + cx0]
        hi = self._start[rows + cx1 + 1]
        length = hi - lo
        total = int(length.sum())
        # Gather the row slices [lo, hi) without a Python loop over rows.
        idx = np.arange(total, dtype=np.int64) + np.repeat(
            lo - (np.cumsum(length) - length), length
        )
        seen = np.zeros(n, dtype=bool)
        seen[self._items[idx]] = True
        seen[self._big] = True
        cand = np.flatnonzero(seen)
        hit = (
            (self.x1[cand] >= qx0)
            & (self.x0[cand] <= qx1)
            & (self.y1[cand] >= qy0)
            & (self.y0[cand] <= qy1)
        )
        return cand[hit]

    def query_many(self, rects: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every intersection of the query rectangles ``rects`` ((k, 4) of ``x0, y0, x1, y1``)
        with the grid's: pairs ``(query index, id)`` as two arrays, sorted by query then id.
        One vectorised pass for all k, where k calls of :meth:`query` cost ~100 µs each."""
        q = np.asarray(rects, np.float64).reshape(-1, 4)
        k, n = len(q), self.count
        if k == 0 or n == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        cx0, cy0 = self._cells(q[:, 0], q[:, 1])
        cx1, cy1 = self._cells(q[:, 2], q[:, 3])
        nx, ny = cx1 - cx0 + 1, cy1 - cy0 + 1
        span = nx * ny
        # each query expanded into the cells it covers, as the constructor does for rectangles
        first = np.cumsum(span) - span
        owner = np.repeat(np.arange(k, dtype=np.int64), span)
        j = np.arange(len(owner), dtype=np.int64) - np.repeat(first, span)
        nxr = np.repeat(nx, span)
        cells = (np.repeat(cy0, span) + j // nxr) * self._cols + np.repeat(cx0, span) + j % nxr
        lo, hi = self._start[cells], self._start[cells + 1]
        length = hi - lo
        idx = np.arange(int(length.sum()), dtype=np.int64) + np.repeat(
            lo - (np.cumsum(length) - length), length
        )
        owner = np.concatenate([np.repeat(owner, length), np.repeat(np.arange(k), len(self._big))])
        ids = np.concatenate([self._items[idx], np.tile(self._big, k)])
        hit = (
            (self.x1[ids] >= q[owner, 0])
            & (self.x0[ids] <= q[owner, 2])
            & (self.y1[ids] >= q[owner, 1])
            & (self.y0[ids] <= q[owner, 3])
        )
        # a rectangle in several of a query's cells is found once per cell: keep one
        pairs = np.unique(owner[hit] * n + ids[hit])
        return pairs // n, pairs % n
