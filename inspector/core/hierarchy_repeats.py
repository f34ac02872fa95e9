"""Repeated structure: runs of the same op-type sequence in a graph's node order.

For a model with no name scopes, a stack of identical layers still shows as the same ops in
the same order, N times over: ``find_repeats`` finds those runs, and the hierarchy makes each
one a ``block ×N`` group (:func:`inspector.core.hierarchy.build_hierarchy`).

How: for each period p, compare the op sequence with itself shifted by p (one numpy pass); a
stretch of at least p matches is a run of at least two copies of a p-op block. The runs covering
the most nodes are taken first (the shortest period on a tie, so twelve copies of a layer win
over six copies of two layers), skipping any that overlaps one taken; but first, the runs of the
period whose runs cover the most nodes together. The periods tried are
capped so the work stays near 2·10⁷ comparisons: 200 periods at 100k nodes, about 0.2 s.

Known limitations: blocks are found in node order only (a graph whose exporter interleaves the
copies' nodes shows none); a run's first copy starts at the first node that repeats, so when
the op before the first layer is the layer's last op the blocks come out shifted by one node;
one level only (no blocks within blocks).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from inspector.core.graph import Graph

MIN_PERIOD = 2  # a single op repeated (Add, Add, Add) is a chain, not a block
MAX_PERIOD = 512
MIN_COVERED = 8  # fewer nodes than this in all copies together is not worth a group
WORK = 20_000_000  # comparisons: periods tried × nodes


def find_repeats(ops: Sequence[str]) -> list[tuple[int, int, int]]:
    """Runs of a repeated block in ``ops`` (one op-type key per node, in node order):
    ``(first node, ops per copy, copies)``, sorted by first node, never overlapping."""
    n = len(ops)
    if n < MIN_COVERED:
        return []
    codes: dict[str, int] = {}
    seq = np.fromiter((codes.setdefault(op, len(codes)) for op in ops), np.int32, n)
    top = min(n // 2, MAX_PERIOD, max(MIN_PERIOD, WORK // n))
    candidates: list[tuple[int, int, int, int]] = []  # (covered, period, start, copies)
    edge = np.zeros(1, dtype=np.int8)
    for p in range(MIN_PERIOD, top + 1):
        same = (seq[:-p] == seq[p:]).view(np.int8)
        steps = np.diff(np.concatenate((edge, same, edge)))
        starts = np.flatnonzero(steps == 1)
        lengths = np.flatnonzero(steps == -1) - starts
        keep = lengths >= p  # a stretch of p matches holds two whole copies
        for start, length in zip(starts[keep].tolist(), lengths[keep].tolist(), strict=True):
            copies = (length + p) // p
            # one op over and over (a run of weight constants) is not a block
            if copies * p >= MIN_COVERED and (seq[start : start + p] != seq[start]).any():
                candidates.append((copies * p, p, start, copies))
    # The period whose runs cover the most nodes in all is the model's layer length (a ResNet's
    # residual block, not two halves of the network that happen to match): its runs go first,
    # then any others by the nodes they cover.
    per_period: dict[int, int] = {}
    for covered, period, _, _ in candidates:
        per_period[period] = per_period.get(period, 0) + covered
    best = min(per_period, key=lambda p: (-per_period[p], p), default=0)
    candidates.sort(key=lambda c: (c[1] != best, -c[0], c[1], c[2]))
    taken = np.zeros(n, dtype=bool)
    out: list[tuple[int, int, int]] = []
    for covered, period, start, copies in candidates:
        if taken[start : start + covered].any():
            continue
        taken[start : start + covered] = True
        out.append((start, period, copies))
    out.sort()
    return out


Chain = tuple[tuple[str, str], ...]


def repeat_chains(graph: Graph) -> tuple[list[Chain | None], list[Chain]]:
    """Per node, its ``((key, "block ×N"), (key, "block i"))`` groups, or None outside any run;
    and every chain once, in block order (the order the groups are listed in).

    Blocks are looked for along the data path: the nodes a graph input reaches. The others
    (weights made by Constant or ConstantOfShape, shape arithmetic on them) would break every
    period; each joins the block of the node that reads it.
    """
    nodes = graph.nodes
    on_path = _reached_from_inputs(graph)
    path = (
        [n.index for n in nodes if on_path[n.index]] if on_path.any() else list(range(len(nodes)))
    )
    chains: list[Chain | None] = [None] * len(nodes)
    order: list[Chain] = []
    for start, period, copies in find_repeats(
        [f"{nodes[i].domain}:{nodes[i].op_type}" for i in path]
    ):
        outer = (f"repeat@{path[start]}", f"block ×{copies}")
        for copy in range(copies):
            chain = (outer, (f"repeat@{path[start]}.{copy + 1}", f"block {copy + 1}"))
            order.append(chain)
            first = start + copy * period
            for i in path[first : first + period]:
                chains[i] = chain
    values = graph.values
    for node in reversed(nodes):  # consumers come after producers: one backward pass
        if on_path[node.index] or chains[node.index] is not None:
            continue
        for name in node.outputs:
            v = values.get(name) if name else None
            owner = next((c for c in v.consumers if chains[c] is not None), None) if v else None
            if owner is not None:
                chains[node.index] = chains[owner]
                break
    return chains, order


def _reached_from_inputs(graph: Graph) -> np.ndarray:
    """Which nodes a graph input reaches (bool per node index). One pass in node order, which
    ONNX requires to be topological; in a file that breaks that rule a node read before it is
    made counts as unreached, and only joins a block through its reader."""
    values = graph.values
    reached = [False] * len(graph.nodes)
    for node in graph.nodes:
        for name in node.inputs:
            v = values.get(name) if name else None
            if v is not None and (v.is_input or (v.producer is not None and reached[v.producer])):
                reached[node.index] = True
                break
    return np.array(reached, dtype=bool)
