"""Small shared values drawn once per consumer, as Netron draws initializers.

Transformer exports read a few small values from every layer: scalar Constants (``1``, ``-1``,
``0.5``), shape constants, and the attention mask and rotary tables computed once at the top.
Drawn once, each such value needs an edge to every layer; those edges span thousands of ranks,
so the layout sends them along side lanes whose horizontal runs cross everything in between.
In ``llama-55L`` (docs/layout.md) 2,145 such edges made 1,003,695 of its crossings; without them
the same drawing had 5,221.

So a *shared small value* gets a copy box next to each consumer instead: the consumer that comes
first in the graph keeps the edge from the original box, every other consumer reads from its own
copy, and ``Diagram.copy_of`` maps each copy back to the original box (selecting a copy selects
the original node, whose ``node_box`` is the original box).

The rule (measured on the transformer exports and CNNs of docs/layout.md):

- the box is a node whose every output has at most :data:`MAX_ELEMENTS` elements (known from a
  Constant's own attribute, or from the value's declared or inferred type), so that
  activations, which are large in any real model, are never copied;
- it has at least :data:`MIN_CONSUMERS` distinct consumer nodes;
- either it reads no edge (only initializers or nothing: Constants, shape constants), or it
  has at least :data:`MIN_COMPUTED_CONSUMERS` consumers spread over at least :data:`MIN_SPREAD`
  node positions (masks and rotary tables computed once and read by every layer). In the tiny
  exports of docs/layout.md a residual-stream activation is as small as a mask (256 elements)
  and also read far apart, but by 2 or 3 nodes of one layer (a mask or a rotary table: by 6 to
  55, one or two per layer); copying it would cut the data flow, so it stays one box.

A copy of a computed value stands for it: it has no in-edges (its inputs are drawn at the
original), and its last line says it is a copy and how many nodes share it.

Known limitations: graph inputs are never copied (a shared ``attention_mask`` input stays one
box with long edges); a value with an unknown or symbolic shape is never copied, so in exports
with a dynamic sequence length the mask and rotary tables keep their lanes (only Constants,
whose size the node itself says, are copied there).
"""

from __future__ import annotations

import math

import numpy as np

from inspector.core.attributes import constant_value
from inspector.core.graph import Graph

#: Largest value (in elements) drawn at each consumer: scalars, shapes, a mask or rotary table
#: of a short sequence. Activations of a real model are larger.
MAX_ELEMENTS = 256
#: A value read by fewer distinct nodes has nothing to copy.
MIN_CONSUMERS = 2
#: A computed value (one that reads edges) is copied only when at least this many nodes read it
#: and they are this far apart in node order (where it would otherwise take lanes across layers).
MIN_COMPUTED_CONSUMERS = 4
MIN_SPREAD = 64


def _elements(graph: Graph, name: str) -> int | None:
    t = graph.values[name].type if name in graph.values else None
    if t is None or t.shape is None or not all(isinstance(d, int) for d in t.shape):
        return None
    return math.prod(t.shape)  # Python ints: no overflow, and 20x faster than numpy here


def shared_nodes(
    graph: Graph, edge_src: np.ndarray | None = None, edge_dst: np.ndarray | None = None
) -> np.ndarray:
    """bool (len(graph.nodes),): the nodes drawn once per consumer (see the module doc).

    ``edge_src``/``edge_dst``, a diagram's edges (node boxes numbered as nodes), narrow the
    search to nodes with edges to at least ``MIN_CONSUMERS`` distinct boxes (a few percent of a
    transformer's nodes) before the rule reads the graph."""
    values = graph.values
    nodes = graph.nodes
    shared = np.zeros(len(nodes), bool)
    if edge_src is not None and edge_dst is not None and len(edge_src):
        pairs = np.unique(edge_src.astype(np.int64) * (int(edge_dst.max()) + 1) + edge_dst)
        readers_of = np.bincount(pairs // (int(edge_dst.max()) + 1), minlength=len(nodes))
        candidates = np.flatnonzero(readers_of[: len(nodes)] >= MIN_CONSUMERS).tolist()
    else:
        candidates = range(len(nodes))
    for i in candidates:
        node = nodes[i]
        uses = [values[out].consumers for out in node.outputs if out in values]
        if sum(map(len, uses)) < MIN_CONSUMERS:  # most nodes: one reader, nothing to build
            continue
        readers = set().union(*uses)
        if len(readers) < MIN_CONSUMERS:
            continue
        if node.op_type == "Constant" and not node.domain:
            c = constant_value(node.proto)  # its size is known before shape inference
            sizes = [c.elements if c is not None else None]
        else:
            sizes = [_elements(graph, out) for out in node.outputs if out]
        if any(s is None or s > MAX_ELEMENTS for s in sizes):
            continue
        reads_edges = any(
            name and (name not in values or values[name].initializer is None)
            for name in node.inputs
        )
        shared[node.index] = not reads_edges or (
            len(readers) >= MIN_COMPUTED_CONSUMERS and max(readers) - min(readers) >= MIN_SPREAD
        )
    return shared


def plan_copies(
    n_boxes: int, edge_src: np.ndarray, edge_dst: np.ndarray, shared: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(new edge sources, original box of every copy) for boxes ``shared`` (bool per box).

    The first consumer of a shared box (lowest box index) keeps its edge; every other distinct
    consumer gets one new box, numbered from ``n_boxes`` on in edge order, and all its edges from
    that box come from the copy. Both the diagram and the layout benchmark use this.
    """
    src = np.asarray(edge_src, np.int64)
    dst = np.asarray(edge_dst, np.int64)
    hit = np.flatnonzero(shared[src])
    if not len(hit):
        return src.copy(), np.zeros(0, np.int64)
    pair = src[hit] * (int(dst.max()) + 1) + dst[hit]
    upair, first_at, which = np.unique(pair, return_index=True, return_inverse=True)
    us = upair // (int(dst.max()) + 1)
    # The lowest consumer of each source (pairs are sorted by source, then consumer) keeps it.
    keeps = np.ones(len(upair), bool)
    keeps[1:] = us[1:] != us[:-1]
    copied = np.flatnonzero(~keeps)
    copied = copied[np.argsort(first_at[copied], kind="stable")]  # number copies in edge order
    box = np.full(len(upair), -1, np.int64)
    box[copied] = n_boxes + np.arange(len(copied))
    new_src = src.copy()
    take = box[which.reshape(-1)]
    new_src[hit] = np.where(take >= 0, take, src[hit])
    return new_src, us[copied]
