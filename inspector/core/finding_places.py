"""Where each finding sits in one graph's drawing: the one rule the graph view's outlines and
badges and a collapsed group's tally both follow.

A finding on this graph sits on its node and on its tensor's edges; one inside a subgraph sits on
the If/Loop/Scan node here that holds the subgraph; one inside a model-local function's body sits
on every node here that calls the function. Example: in the main graph, a finding with
``path=("loop_3", "body")`` sits on the node labelled ``loop_3``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from inspector.core.findings import Finding
from inspector.core.graph import Graph


@dataclass(frozen=True)
class Place:
    finding: Finding
    nodes: tuple[int, ...]  # node indices in the graph
    tensor: str | None  # the value whose edges it sits on (a finding on this graph only)

    def anchor(self, graph: Graph) -> int | None:
        """The one node that stands for it (a group counts it there): its first node, else its
        tensor's producer, else the tensor's first reader."""
        if self.nodes:
            return self.nodes[0]
        v = graph.values.get(self.tensor) if self.tensor else None
        if v is None:
            return None
        return v.producer if v.producer is not None else next(iter(v.consumers), None)


def finding_places(findings: Iterable[Finding], graph: Graph) -> list[Place]:
    """Each finding that sits somewhere in ``graph``, with where (see the module doc)."""
    here = graph.path
    depth = len(here)
    n_nodes = len(graph.nodes)
    out: list[Place] = []
    for f in findings:
        path = tuple(f.path)
        if path == here:
            index = f.node_index
            nodes = (index,) if index is not None and 0 <= index < n_nodes else ()
            if nodes or f.tensor:
                out.append(Place(f, nodes, f.tensor or None))
            continue
        # a function body's path, unless a node here is labelled "function" (its subgraph's
        # path starts so too) and no function of that name is called here
        callers = graph.callers_of(path[:2]) if path[:1] == ("function",) else []
        if callers and path[:2] != here:
            out.append(Place(f, tuple(callers), None))
        elif len(path) > depth and path[:depth] == here:
            index = graph.node_by_label(path[depth])
            if index is not None:  # the If/Loop/Scan node whose subgraph holds it
                out.append(Place(f, (index,), None))
    return out
