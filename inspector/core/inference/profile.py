"""ONNX Runtime's profile, mapped back from the optimized graph's nodes to the original ones.

Profile events name the nodes of the graph ONNX Runtime actually ran, after its optimizer:

* a node it kept is named as in the model (``node_linear``);
* an unnamed node is named ``<OpType>_<index>`` (its position in the model's node list);
* a fused node is named after the tensor it produces, plus a suffix: ``relu_nchwc`` is a Conv
  fused with the BatchNormalization and Relu that produce ``relu``, ``..._token_5`` a layout
  node; such an event is attributed to the chain of original nodes from the one of the event's
  op type down to the producer of that tensor, and every node of the chain shows the group's
  time (``source`` "fused");
* nodes ONNX Runtime inserts (``ReorderInput``/``ReorderOutput`` for the NCHWc layout,
  ``Memcpy*`` between devices) have no original node: they are listed in ``unmapped`` with why.

The session's ``session.record_ep_graph_assignment_info`` list says which original nodes the
optimized graph kept (by name); an original node absent from it was constant-folded or fused
away, and :attr:`Profile.not_run` says so.

Known limitations: the fused-chain walk follows first inputs only, at most 8 nodes back; nodes
inside subgraphs (If/Loop bodies) are not mapped; times are means per run including warm-up runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from inspector.core.graph import Graph

_SUFFIX = re.compile(r"_(nchwc|token_\d+)$")
_UNNAMED = re.compile(r"^(\w+?)_(\d+)$")
_INSERTED_OPS = frozenset(("ReorderInput", "ReorderOutput", "MemcpyToHost", "MemcpyFromHost"))
_MAX_CHAIN = 8


@dataclass(frozen=True)
class NodeTime:
    """The time of one original node. Example: ``NodeTime(2, "node_conv2d", "Conv", 118.0,
    "fused", "relu_nchwc")``."""

    node_index: int
    node: str
    op_type: str
    us: float  # mean microseconds per run of the event(s) this node is part of
    source: str  # "exact" (an event of its own) or "fused" (shares a fused event's time)
    event: str  # the optimized-graph node name the time comes from


@dataclass
class Profile:
    """Per-node times (``node_index`` → :class:`NodeTime`), events with no original node, and
    original nodes that did not run as such."""

    node_times: dict[int, NodeTime] = field(default_factory=dict)
    unmapped: list[dict[str, Any]] = field(default_factory=list)  # {name, op_type, us, reason}
    not_run: dict[int, str] = field(default_factory=dict)  # node index → why it has no time
    events: list[dict[str, Any]] = field(default_factory=list)  # the child's raw summary
    kept: set[str] = field(default_factory=set)  # original node names the session ran; may be empty

    def slowest_ops(self) -> list[tuple[str, float]]:
        """(op type, total µs per run) over the events, slowest first."""
        totals: dict[str, float] = {}
        for e in self.events:
            totals[e["op_type"]] = totals.get(e["op_type"], 0.0) + e["us"]
        return sorted(totals.items(), key=lambda kv: -kv[1])


def map_profile(
    graph: Graph, events: list[dict[str, Any]], assignment: list[dict[str, str]]
) -> Profile:
    """Attribute each kernel event (``{name, op_type, provider, us}``) to original nodes."""
    by_name = {n.name: n.index for n in graph.nodes if n.name}
    profile = Profile(events=events, kept={a["node"] for a in assignment})
    for e in events:
        indices, source = _locate(graph, by_name, e["name"], e["op_type"])
        if not indices:
            reason = (
                "inserted by ONNX Runtime (layout change or device copy)"
                if e["op_type"] in _INSERTED_OPS
                else "no original node matches its name"
            )
            profile.unmapped.append(
                {"name": e["name"], "op_type": e["op_type"], "us": e["us"], "reason": reason}
            )
            continue
        for i in indices:
            node = graph.nodes[i]
            previous = profile.node_times.get(i)
            us = e["us"] + (previous.us if previous else 0.0)
            profile.node_times[i] = NodeTime(i, node.name, node.op_type, us, source, e["name"])
    for node in graph.nodes:
        if node.index in profile.node_times:
            continue
        if profile.kept and node.name and node.name not in profile.kept:
            profile.not_run[node.index] = "removed by the optimizer (constant-folded or fused)"
        elif node.op_type == "Constant":
            profile.not_run[node.index] = "a constant: folded into an initializer"
        else:
            profile.not_run[node.index] = "no profile event could be matched to this node"
    return profile


def _locate(
    graph: Graph, by_name: dict[str, int], name: str, op_type: str
) -> tuple[list[int], str]:
    if name in by_name:
        return [by_name[name]], "exact"
    m = _UNNAMED.match(name)
    if m and m.group(1) == op_type:
        i = int(m.group(2))
        if i < len(graph.nodes) and graph.nodes[i].op_type == op_type and not graph.nodes[i].name:
            return [i], "exact"
    stripped = _SUFFIX.sub("", name)
    if stripped != name and stripped in by_name:
        return [by_name[stripped]], "fused"
    value = graph.values.get(stripped)
    if value is None or value.producer is None or op_type in _INSERTED_OPS:
        return [], ""
    return _chain(graph, value.producer, op_type), "fused"


def _chain(graph: Graph, last: int, op_type: str) -> list[int]:
    """From ``last`` back along first inputs to the nearest node of ``op_type`` (inclusive);
    just ``[last]`` if there is none within reach."""
    chain = [last]
    current = graph.nodes[last]
    for _ in range(_MAX_CHAIN):
        if current.op_type == op_type:
            return sorted(chain)
        first = graph.values.get(current.inputs[0]) if current.inputs else None
        if first is None or first.producer is None:
            break
        current = graph.nodes[first.producer]
        chain.append(current.index)
    return [last]
