"""Graph → positions and edge routes, with no Qt.

:func:`layered_layout` draws a directed graph top to bottom in layers (a Sugiyama-style drawing),
built to stay near-linear so that a 100k-node model lays out in about a second. Every pass is
either one Python loop over nodes and edges (ranking) or a fixed number of vectorised numpy
passes over all layers at once; nothing is quadratic and nothing loops over layers in Python.

The method, pass by pass:

1. **Edges.** Duplicate edges are laid out once; self-loops get a small loop on the box's right.
2. **Cycle breaking and ranking.** A Kahn topological sort of the *reversed* graph with a stack
   (so the order is close to depth-first and keeps branches together); when it stalls on a
   cycle it takes the first unfinished node, and the edges that then point upwards are drawn
   reversed. Ranks are the longest path *to a sink*, so every source (Constants, weights, shape
   computations) sits just above its first consumer instead of on the top rank.
3. **Pull-up.** Sinks and nodes with more in-edges than out-edges move up to just below their
   lowest predecessor, which shortens the total edge span (a few vectorised Jacobi passes, the
   cheap stand-in for network simplex). Empty ranks are then removed.
4. **Long edges.** An edge spanning several ranks becomes a chain of dummy nodes (one narrow
   slot per rank it passes, so it runs between boxes, not through them) while the total number
   of dummies stays within a budget proportional to the node count, shortest edges first. The
   rest (typically masks, positions and rotary tables feeding every layer of a transformer,
   spanning thousands of ranks) are not threaded through the layers at all: all long edges of
   one source share one vertical *lane* just outside the drawing's extent over the ranks they
   pass, on the nearer side, and reach it and leave it by horizontal runs in the gaps between
   ranks. Lanes whose rank spans overlap get distinct offsets (interval partitioning).
5. **Ordering**, from two starts, keeping the one that ends with fewer crossings: the
   topological order with each dummy just after its edge's source, and the same order with each
   node keyed by the mean topological index of its targets and each dummy just before its edge's
   target (which keeps skip edges beside the branch they skip). Then barycentre passes in
   red-black fashion: even
   ranks are re-sorted by the mean position of their neighbours (seen through dummy chains, at
   the far end of each edge; dummies lie on the line between their edge's ends), then odd
   ranks. Each half-pass is a few ``np.bincount`` calls and one stable sort keyed by
   (rank, barycentre) over all layers at once. Crossings of every gap are counted at once
   (vectorised merge-sort inversion count); the best order seen is kept, and a half-pass keeps
   a rank's new order only where it adds no crossings. Last, rounds of *transposes* (``dot``'s
   adjacent-swap step, vectorised: all pairs of one rank parity and slot parity at once, each
   pair's crossings counted exactly) swap neighbours wherever that removes crossings.
6. **Coordinates.** Repeatedly aim every node at the mean x of its neighbours, then make the
   aims feasible while keeping the order and the minimum separation: left-to-right
   ``x[i] = max(aim[i], x[i-1] + gap)`` is a segmented cumulative maximum of ``aim - cumsum(gap)``,
   the mirror pass a segmented cumulative minimum; their average is feasible and unbiased.
7. **Routing.** Polylines run from the bottom-centre of the source straight down to its rank's
   bottom edge, across the gap, through the dummy slots (or the lane), then down into the
   top-centre of the target. Reversed (cycle) edges are routed as laid out and their point list
   reversed, so they start at the top of the source and end at the bottom of the target.

Known limitations:

- Ranking is longest path plus pull-up, not network simplex: total edge length is good for
  models (weights and constants sit next to their consumer) but not minimal.
- Red-black barycentre passes are not full down/up sweeps and the transposes only find local
  improvements, so the ordering can miss global untangling that a sweep finds.
- A node feeding many distant ranks gets a lane; its horizontal runs cross what lies between.
  The diagram draws small shared values (Constants, masks, rotary tables) once per consumer
  (:mod:`inspector.core.diagram_shared`), so in model drawings few lanes remain.
- Coordinates are an averaged projection, not Brandes–Köpf: long chains are mostly but not always
  straight.
- Lane edges may cross many edges on their horizontal runs, and lanes of different extents can
  occasionally coincide; lane edges ignore the ordering step.
- Edges are polylines with right-angle and diagonal segments; smoothing is the painter's job.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from inspector.core.layout_order import LayeredGraph, initial_order, order_nodes
from inspector.core.tasks import CancelToken, ProgressFn, no_progress


@dataclass
class Layout:
    """Where every box and edge of a diagram is drawn. Coordinates in scene pixels, y grows down.

    Boxes are indexed as in the input arrays; edges as in ``edge_src``/``edge_dst``.
    """

    x: np.ndarray  # float64 (n,): box centre x
    y: np.ndarray  # float64 (n,): box centre y
    w: np.ndarray  # float64 (n,): box width (as given)
    h: np.ndarray  # float64 (n,): box height (as given)
    rank: np.ndarray  # int32 (n,): layer index, 0 at the top
    edge_points: np.ndarray  # float64 (P, 2): all edge polylines, concatenated
    edge_offsets: (
        np.ndarray
    )  # int64 (m + 1,): edge i is edge_points[edge_offsets[i]:edge_offsets[i + 1]]

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) enclosing every box and edge point."""
        if len(self.x) == 0:
            return (0.0, 0.0, 0.0, 0.0)
        x0 = float(np.min(self.x - self.w / 2))
        x1 = float(np.max(self.x + self.w / 2))
        y0 = float(np.min(self.y - self.h / 2))
        y1 = float(np.max(self.y + self.h / 2))
        if len(self.edge_points):
            x0 = min(x0, float(self.edge_points[:, 0].min()))
            x1 = max(x1, float(self.edge_points[:, 0].max()))
            y0 = min(y0, float(self.edge_points[:, 1].min()))
            y1 = max(y1, float(self.edge_points[:, 1].max()))
        return (x0, y0, x1, y1)

    def edge_polyline(self, i: int) -> np.ndarray:
        return self.edge_points[self.edge_offsets[i] : self.edge_offsets[i + 1]]


#: Vertical gap between the bottom of one rank and the top of the next.
RANK_GAP = 44.0
#: Distance between parallel lanes, and from the drawing to the first lane.
LANE_SEP = 12.0
#: Dummy budget: at most this many dummy nodes per real node (plus a small constant).
DUMMY_BUDGET = 1.0
ORDER_PASSES = 2  # red-black pairs of half-passes, per start (8 crossed no less, once transposed)
TRANSPOSE_PASSES = 8
COORD_PASSES = 8
PULL_DOWN_PASSES = 24


def layered_layout(
    widths: np.ndarray,
    heights: np.ndarray,
    edge_src: np.ndarray,
    edge_dst: np.ndarray,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> Layout:
    """Lay out ``n`` boxes and ``m`` directed edges top to bottom in ranks (see the module doc).

    ``widths``/``heights`` are box sizes in pixels; ``edge_src[i] → edge_dst[i]`` are box indices
    (duplicates allowed; cycles are broken). Raises :class:`~inspector.core.tasks.Cancelled` if
    ``cancel`` is set; calls ``progress(fraction, message)`` between passes.
    """
    check = cancel.check if cancel is not None else _nothing
    w = np.asarray(widths, dtype=np.float64).reshape(-1)
    h = np.asarray(heights, dtype=np.float64).reshape(-1)
    n = len(w)
    src = np.asarray(edge_src, dtype=np.int64).reshape(-1)
    dst = np.asarray(edge_dst, dtype=np.int64).reshape(-1)
    if len(h) != n or len(src) != len(dst):
        raise ValueError("widths/heights and edge_src/edge_dst must have equal lengths")
    if len(src) and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
        raise ValueError("edge endpoint out of range")
    if n == 0:
        return Layout(
            *(np.zeros(0) for _ in range(4)),
            np.zeros(0, np.int32),
            np.zeros((0, 2)),
            np.zeros(len(src) + 1, np.int64),
        )

    progress(0.0, "ranking")
    loop = src == dst
    key = src * n + dst
    ukey, inverse = np.unique(key[~loop], return_inverse=True)
    us, ud = ukey // n, ukey % n
    check()
    # Rank on the reversed graph (longest path to a sink), so that sources such as Constants
    # and shape computations sit just above their first consumer rather than on the top rank.
    tidx, height = _rank(n, ud, us)
    fwd = tidx[ud] < tidx[us]
    u, v = np.where(fwd, us, ud), np.where(fwd, ud, us)
    check()
    rank = -_pull_down(height - height.max(), v, u, PULL_DOWN_PASSES)
    rank = np.unique(rank, return_inverse=True)[1].reshape(-1).astype(np.int64)
    n_ranks = int(rank.max()) + 1
    check()

    progress(0.15, "splitting long edges")
    span = rank[v] - rank[u]
    chain = _chain_edges(span, int(DUMMY_BUDGET * n) + 1000)
    g = LayeredGraph.build(n, w, rank, u[chain], v[chain], span[chain])
    check()

    progress(0.25, "ordering")
    perm, crossings = None, np.inf
    for k, by_targets in enumerate((True, False)):  # two starts; neither wins on every model
        cand, c = order_nodes(
            g,
            initial_order(g, tidx, by_targets),
            ORDER_PASSES,
            TRANSPOSE_PASSES,
            check,
            lambda f, k=k: progress(0.25 + 0.175 * (k + f), "ordering"),
        )
        if c < crossings:
            perm, crossings = cand, c

    progress(0.6, "placing")
    x = _assign_x(g, perm, COORD_PASSES, check)
    x -= (x[:n] - w / 2).min()  # the leftmost box touches x = 0
    rank_h = np.zeros(n_ranks)
    np.maximum.at(rank_h, rank, h)
    top = np.concatenate(([0.0], np.cumsum(rank_h + RANK_GAP)[:-1]))
    yc = top + rank_h / 2
    check()

    progress(0.85, "routing edges")
    geo = _Geometry(x=x, w=w, h=h, rank=rank, yc=yc, top=top, bottom=top + rank_h)
    upoints, uoffsets = _route(geo, g, u, v, chain)
    layout = _per_input_edge(geo, upoints, uoffsets, inverse, fwd, loop, src, n)
    progress(1.0, "laid out")
    return layout


def _nothing() -> None:
    pass


def _rank(n: int, us: np.ndarray, ud: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Topological index (cycles broken greedily) and longest-path rank of every node.

    One Python loop over nodes and edges: a sequential pass is inherent to longest path, and a
    vectorised wave-by-wave version would cost one numpy call per rank (tens of thousands).
    """
    by_src = np.argsort(us, kind="stable")
    ptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(us, minlength=n), out=ptr[1:])
    succ = ud[by_src].tolist()
    ptr_l = ptr.tolist()
    indeg = np.bincount(ud, minlength=n).tolist()
    tidx = [-1] * n
    rank = [0] * n
    ready = [i for i in range(n - 1, -1, -1) if indeg[i] == 0]
    forced = False
    next_unseen = 0
    for t in range(n):
        if ready:
            a = ready.pop()
        else:  # a cycle: take the first node not yet placed; its pending in-edges get reversed
            while tidx[next_unseen] >= 0:
                next_unseen += 1
            a, forced = next_unseen, True
        tidx[a] = t
        ra = rank[a]
        outs = succ[ptr_l[a] : ptr_l[a + 1]]
        if forced:  # edges a → (already placed) are reversed: they push a below that node
            for b in outs:
                if tidx[b] >= 0 and rank[b] >= ra:
                    ra = rank[b] + 1
            rank[a] = ra
        for b in reversed(outs):
            if tidx[b] < 0:
                if rank[b] <= ra:
                    rank[b] = ra + 1
                indeg[b] -= 1
                if indeg[b] == 0:
                    ready.append(b)
    return np.array(tidx, np.int64), np.array(rank, np.int64)


def _pull_down(rank: np.ndarray, u: np.ndarray, v: np.ndarray, passes: int) -> np.ndarray:
    """Move nodes with fewer in-edges than out-edges down to just above their highest successor.

    Such a move shortens the total edge span; nodes with equal counts stay (moving them only
    trades one long edge for another). Used on the reversed graph to pull sinks up.
    """
    n = len(rank)
    indeg = np.bincount(v, minlength=n)
    outdeg = np.bincount(u, minlength=n)
    movable = (outdeg > 0) & (indeg < outdeg)
    big = np.iinfo(np.int64).max
    for _ in range(passes):
        lowest = np.full(n, big, np.int64)
        np.minimum.at(lowest, u, rank[v])
        new = np.where(movable & (lowest - 1 > rank), lowest - 1, rank)
        if np.array_equal(new, rank):
            break
        rank = new
    return rank


def _chain_edges(span: np.ndarray, budget: int) -> np.ndarray:
    """Mask of edges drawn through dummy chains: all short ones, long ones shortest first."""
    extra = span - 1
    order = np.argsort(extra, kind="stable")
    fits = np.cumsum(extra[order]) <= budget
    chain = np.zeros(len(span), bool)
    chain[order[fits]] = True
    return chain


def _assign_x(
    g: LayeredGraph, perm: np.ndarray, passes: int, check: Callable[[], None]
) -> np.ndarray:
    """x for every node: pulled towards its neighbours, order and separation kept."""
    r = g.rank[perm]
    first = np.ones(len(perm), bool)
    first[1:] = r[1:] != r[:-1]
    gap = g.half[perm] + np.roll(g.half[perm], 1)
    gap[first] = 0.0
    c = np.cumsum(gap)
    c -= np.maximum.accumulate(np.where(first, c, 0.0))  # restart the sum at every rank
    last = np.ones(len(perm), bool)
    last[:-1] = r[1:] != r[:-1]
    width = np.zeros(int(r.max()) + 1)
    width[r[last]] = c[last]
    x = np.empty(len(perm))
    x[perm] = c - width[r] / 2  # every rank packed and centred on 0
    for _ in range(passes):
        aim = g.neighbour_mean(x)[perm] - c
        spread = 2.0 * float(np.abs(aim).max()) + 1.0
        # Segmented running max / min: an offset per rank, growing along the scan direction,
        # keeps each rank's running extremum from leaking into the next rank.
        offs = r * spread
        left = np.maximum.accumulate(aim + offs) - offs
        roffs = (r[-1] - r[::-1]) * spread
        right = -(np.maximum.accumulate(-aim[::-1] + roffs) - roffs)[::-1]
        x[perm] = (left + right) / 2 + c
        check()
    return x


@dataclass
class _Geometry:
    x: np.ndarray  # (N,) including dummies
    w: np.ndarray
    h: np.ndarray
    rank: np.ndarray  # (n,)
    yc: np.ndarray  # (R,) rank centre lines
    top: np.ndarray  # (R,)
    bottom: np.ndarray  # (R,)


def _route(
    geo: _Geometry, g: LayeredGraph, u: np.ndarray, v: np.ndarray, chain: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Polylines of the unique oriented edges, consecutive duplicate points removed."""
    m = len(u)
    x, rank = geo.x, geo.rank
    npts = np.zeros(m, np.int64)
    span = rank[v] - rank[u]
    npts[chain] = 2 * span[chain] + 2
    npts[~chain] = 8
    off = np.concatenate(([0], np.cumsum(npts)))
    pts = np.empty((int(off[-1]), 2))
    ru, rv = rank[u], rank[v]
    # Common ends: out of the source's bottom, down to its rank's bottom; into the target's top.
    pts[off[:-1]] = np.c_[x[u], geo.yc[ru] + geo.h[u] / 2]
    pts[off[:-1] + 1] = np.c_[x[u], geo.bottom[ru]]
    pts[off[1:] - 2] = np.c_[x[v], geo.top[rv]]
    pts[off[1:] - 1] = np.c_[x[v], geo.yc[rv] - geo.h[v] / 2]
    # Chains: through each dummy slot, top to bottom of its rank.
    ci = np.flatnonzero(chain)
    nd = span[ci] - 1
    e = np.repeat(ci, nd)
    k = np.arange(int(nd.sum())) - np.repeat(np.cumsum(nd) - nd, nd)
    d = np.repeat(g.dummy_start, nd) + k
    dr = g.rank[d]
    at = off[e] + 2 + 2 * k
    pts[at] = np.c_[x[d], geo.top[dr]]
    pts[at + 1] = np.c_[x[d], geo.bottom[dr]]
    # Lanes: one per source (and side), outside the drawing over the ranks passed.
    li = np.flatnonzero(~chain)
    if len(li):
        lane_x = _lanes(geo, g, u[li], rv[li])
        mid_below = geo.bottom[ru[li]] + RANK_GAP / 2
        mid_above = geo.top[rv[li]] - RANK_GAP / 2
        o = off[li]
        pts[o + 2] = np.c_[x[u[li]], mid_below]
        pts[o + 3] = np.c_[lane_x, mid_below]
        pts[o + 4] = np.c_[lane_x, mid_above]
        pts[o + 5] = np.c_[x[v[li]], mid_above]
    return _drop_repeats(pts, off)


def _lanes(geo: _Geometry, g: LayeredGraph, lu: np.ndarray, lrv: np.ndarray) -> np.ndarray:
    """x of the lane of each lane edge (given by its source and its target's rank)."""
    x = geo.x
    R = len(geo.yc)
    lo = np.full(R, np.inf)
    hi = np.full(R, -np.inf)
    np.minimum.at(lo, g.rank, x - g.half)
    np.maximum.at(hi, g.rank, x + g.half)
    sources, which = np.unique(lu, return_inverse=True)
    start = geo.rank[sources]
    end = np.full(len(sources), -1, np.int64)
    np.maximum.at(end, which, lrv)
    gl = _range_reduce(lo, start + 1, end - 1, np.minimum)
    gr = _range_reduce(hi, start + 1, end - 1, np.maximum)
    xs = x[sources]
    right = (gr - xs) <= (xs - gl)
    slot = np.zeros(len(sources), np.int64)
    for side in (False, True):  # interval partitioning: reuse a lane whose span has ended
        idx = np.flatnonzero(right == side)
        free: list[tuple[int, int]] = []
        used = 0
        for i in idx[np.lexsort((idx, start[idx]))].tolist():
            if free and free[0][0] <= start[i]:
                slot[i] = heapq.heappop(free)[1]
            else:
                slot[i], used = used, used + 1
            heapq.heappush(free, (int(end[i]), int(slot[i])))
    dist = LANE_SEP * (1 + slot)
    lane = np.where(right, gr + dist, gl - dist)
    return lane[which]


def _range_reduce(values: np.ndarray, i0: np.ndarray, i1: np.ndarray, op: np.ufunc) -> np.ndarray:
    """op(values[i0:i1 + 1]) for many inclusive ranges at once, via a sparse table."""
    table = [values]
    while (1 << len(table)) <= len(values):
        prev, step = table[-1], 1 << (len(table) - 1)
        table.append(op(prev[:-step], prev[step:]))
    length = i1 - i0 + 1
    level = np.floor(np.log2(length)).astype(np.int64)
    out = np.empty(len(i0))
    for lev in np.unique(level).tolist():
        sel = level == lev
        t = table[lev]
        out[sel] = op(t[i0[sel]], t[i1[sel] - (1 << lev) + 1])
    return out


def _drop_repeats(pts: np.ndarray, off: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.ones(len(pts), bool)
    keep[1:] = np.any(pts[1:] != pts[:-1], axis=1)
    keep[off[:-1]] = True  # every polyline keeps its first point
    counts = (
        np.add.reduceat(keep.astype(np.int64), off[:-1])
        if len(pts)
        else np.zeros(len(off) - 1, np.int64)
    )
    return pts[keep], np.concatenate(([0], np.cumsum(counts)))


def _per_input_edge(
    geo: _Geometry,
    upts: np.ndarray,
    uoff: np.ndarray,
    inverse: np.ndarray,
    fwd: np.ndarray,
    loop: np.ndarray,
    src: np.ndarray,
    n: int,
) -> Layout:
    """Gather the unique edges' polylines back into input edge order (reversed where needed)."""
    m = len(loop)
    x, y = geo.x[:n], geo.yc[geo.rank]
    length = np.zeros(m, np.int64)
    which = np.zeros(m, np.int64)
    which[~loop] = inverse.reshape(-1)
    length[~loop] = np.diff(uoff)[which[~loop]]
    length[loop] = 6
    off = np.concatenate(([0], np.cumsum(length)))
    pts = np.empty((int(off[-1]), 2))
    lengths = length[~loop]
    e = np.repeat(np.flatnonzero(~loop), lengths)
    k = np.arange(len(e)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    ue = which[e]
    rev = ~fwd[ue]
    at = np.where(rev, uoff[ue + 1] - 1 - k, uoff[ue] + k)
    pts[off[e] + k] = upts[at]
    if loop.any():
        s = src[loop]
        sx, sy, sw, sh = x[s], y[s], geo.w[s], geo.h[s]
        out_x = sx + sw / 2 + LANE_SEP
        below, above = sy + sh / 2 + RANK_GAP / 3, sy - sh / 2 - RANK_GAP / 3
        lx = np.stack([sx, sx, out_x, out_x, sx, sx], 1)
        ly = np.stack([sy + sh / 2, below, below, above, above, sy - sh / 2], 1)
        pts[(off[:-1][loop][:, None] + np.arange(6)).reshape(-1)] = np.stack([lx, ly], -1).reshape(
            -1, 2
        )
    rank = geo.rank.astype(np.int32)
    return Layout(x.copy(), y, geo.w.copy(), geo.h.copy(), rank, pts, off)
