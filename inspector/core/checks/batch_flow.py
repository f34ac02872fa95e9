"""Does a fixed dim 0 of an input behave as a batch? The analysis behind ``fixed-batch-dim``.

An input's dim 0 is a batch when every sample along it is computed on its own: the dim flows
through the graph as one axis of each tensor it reaches, no op reads it as data (a shape value in
arithmetic, an index, a reduction or a concatenation along it), no constant has its size baked
in at its position, and it arrives at dim 0 of at least one graph output. Making such a dim
symbolic gives a model that runs at any batch size. Making any other one symbolic breaks the
model: a recurrent state's dim 0 counts layers, a MatMul's 2-D second operand is a weight, a
Reshape to ``[1, -1]`` keeps the old size.

:func:`analyse_batch` follows dim 0 of each candidate input forward through the main graph, op
by op, using the shapes of shape inference and small integer constants (Reshape targets, axes).
Every tensor it reaches carries the batch on one axis. A ``Shape`` of such a tensor gives a shape
vector with the batch as one entry, followed through Gather/Slice/Concat/Unsqueeze into Reshape,
Expand or ConstantOfShape (the dynamic ``x.view(x.size(0), -1)`` pattern). Inputs whose batches
meet at a node are judged together: a candidate that fails is dropped, and the rest are followed
again without it, since a fixed size left behind breaks what it meets.

The per-op rules live in :mod:`.batch_rules` (ops that move data: Reshape, Gather, Concat ...,
and the shape vectors) and :mod:`.batch_ops` (ops that compute).

Conservative by design (a false positive leads to a broken rewrite): an op with no rule, a
custom domain, a subgraph or model-local function on the batch's way, an unknown shape where one
is needed, or a non-constant axis each stop the input from counting as a batch.

Known limitations: candidates are inputs of rank >= 2 whose declared dim 0 is a fixed size; only
the main graph is followed; a Reshape keeps the batch only on axis 0; a recurrent op's initial
state must carry the same batch (a ``state`` input holds it on dim 1, which is never renamed, so
the input that meets it is not reported either).
"""

from __future__ import annotations

import heapq
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from inspector.core.checks.batch_ops import COMPUTE_RULES
from inspector.core.checks.batch_rules import (
    MOVE_RULES,
    Facts,
    Out,
    Rule,
    Track,
    Vec,
    Veto,
    vector_node,
)
from inspector.core.graph import Graph, Model, Node

_RULES: dict[str, Rule] = {**MOVE_RULES, **COMPUTE_RULES}


@dataclass(frozen=True)
class BatchInput:
    """An input whose fixed dim 0 behaves as a batch, and where the batch comes out.

    Example: ``BatchInput("x", 2, (("logits", 0),))``.
    """

    name: str
    size: int  # the fixed dim 0
    outputs: tuple[tuple[str, int], ...]  # (graph output, axis) the batch reaches


@dataclass
class BatchFlow:
    """The verdict on every candidate input (a real input of rank >= 2 with a fixed dim 0)."""

    batch: dict[str, BatchInput] = field(default_factory=dict)
    not_batch: dict[str, str] = field(default_factory=dict)  # input → why not, in words
    stopped_at: dict[str, int] = field(default_factory=dict)  # input → the node that stopped it


def candidates(model: Model) -> dict[str, int]:
    """Input name → fixed dim 0, for each real input of rank >= 2 whose declared dim 0 is fixed."""
    g = model.graph
    out = {}
    for name in g.inputs:
        t = g.values[name].declared
        if t is not None and t.shape is not None and len(t.shape) >= 2:
            d0 = t.shape[0]
            if isinstance(d0, int) and d0 >= 1:
                out[name] = d0
    return out


def analyse_batch(model: Model, inputs: Collection[str] | None = None) -> BatchFlow:
    """Which candidate inputs (all, or those named in ``inputs``) have a dim 0 that behaves as a
    batch, judged together; the others with the reason."""
    active = {n: s for n, s in candidates(model).items() if inputs is None or n in inputs}
    flow = BatchFlow()
    while active:
        p = _Pass(model, active)
        vetoed = p.run()
        if not vetoed:
            # a batch that reaches no output's dim 0 is not reported; the others are followed
            # again without it, because its fixed size stays wherever it met theirs
            vetoed = {
                n: f"dim 0 of '{n}' reaches no graph output's dim 0"
                for n in active
                if not any(axis == 0 and n in t.seeds for _, axis, t in p.reached)
            }
        if not vetoed:
            for n, size in active.items():
                outs = tuple((o, axis) for o, axis, t in p.reached if n in t.seeds)
                flow.batch[n] = BatchInput(n, size, outs)
            break
        for n, reason in vetoed.items():
            flow.not_batch[n] = reason
            if n in p.stopped_at:
                flow.stopped_at[n] = p.stopped_at[n]
            active.pop(n, None)
    return flow


def why_not(flow: BatchFlow) -> str:
    """One line: why no input qualifies (for a refused rewrite)."""
    if not flow.not_batch:
        return "no input has a fixed dim 0 (rank >= 2)"
    reasons = "; ".join(f"'{n}': {r}" for n, r in flow.not_batch.items())
    return f"no input's fixed dim 0 behaves as a batch ({reasons})"


class _Pass:
    """One walk of the batch of ``seeds`` (input → fixed size) through the main graph."""

    def __init__(self, model: Model, seeds: dict[str, int]) -> None:
        self.g = model.graph
        self.facts = Facts(model)
        self.carried: dict[str, Track | Vec] = {
            n: Track(0, size, frozenset((n,))) for n, size in seeds.items()
        }
        self.vetoed: dict[str, str] = {}
        self.stopped_at: dict[str, int] = {}  # seed → index of the node that vetoed it
        self.reached: list[tuple[str, int, Track]] = []  # (graph output, axis, track)

    def run(self) -> dict[str, str]:
        g = self.g
        # Visit only the nodes the batch reaches, in graph order (a heap of node indices): in a
        # sorted graph every producer of a node's inputs has been visited before the node.
        todo = sorted({i for n in self.carried for i in g.values[n].consumers})
        seen: set[int] = set()
        while todo:
            index = heapq.heappop(todo)
            if index in seen:
                continue
            seen.add(index)
            node = g.nodes[index]
            here = {i: self.carried[n] for i, n in enumerate(node.inputs) if n in self.carried}
            try:
                outs = self._node(node, here)
            except Veto as v:
                self._blame(node, here, v.reason, v.slots)
                continue
            except Exception as e:  # an odd model must cost a finding, never the whole check
                self._blame(node, here, f"could not be followed ({type(e).__name__})", None)
                continue
            first = next(iter(here.values()))
            size = first.size
            seeds = first.seeds
            if len(here) > 1:
                seeds = seeds.union(*(c.seeds for c in here.values()))
            for slot, c in outs.items():
                name = node.outputs[slot] if slot < len(node.outputs) else ""
                if not name:
                    continue
                self.carried[name] = (
                    Track(c.axis, size, seeds)
                    if isinstance(c, Track)
                    else Vec(c.entries, c.scalar, size, seeds)
                )
                for i in g.values[name].consumers:
                    if i <= index:
                        self._veto(seeds, "the graph is not in topological order")
                    heapq.heappush(todo, i)
        inner = _names_read_in_subgraphs(g)
        for name, c in self.carried.items():
            if name in inner:
                self._veto(c.seeds, f"dim 0 reaches a subgraph, which reads '{name}'")
        for name in g.outputs:
            c = self.carried.get(name)
            if isinstance(c, Vec):
                self._veto(c.seeds, f"the size of dim 0 becomes the value of output '{name}'")
            elif isinstance(c, Track):
                self.reached.append((name, c.axis, c))
        return self.vetoed

    def _blame(
        self, node: Node, here: dict[int, Track | Vec], reason: str, slots: frozenset | None
    ) -> None:
        where = f"dim 0 reaches {node.op_type} '{node.label}', which {reason}"
        for i, c in here.items():
            if slots is None or i in slots:
                self._veto(c.seeds, where, node.index)

    def _veto(self, seeds: Iterable[str], reason: str, node: int | None = None) -> None:
        for s in seeds:
            if s not in self.vetoed and node is not None:
                self.stopped_at[s] = node
            self.vetoed.setdefault(s, reason)

    def _node(self, node: Node, here: dict[int, Track | Vec]) -> Out:
        if node.domain not in ("", "ai.onnx") or node.subgraphs:
            raise Veto("is not an op whose batch handling is known")
        vecs = {i: c for i, c in here.items() if isinstance(c, Vec)}
        tracks = {i: c for i, c in here.items() if isinstance(c, Track)}
        if vecs:
            outs = vector_node(self.facts, node, tracks, vecs)
        elif (rule := _RULES.get(node.op_type)) is not None:
            outs = rule(self.facts, node, tracks)
        else:
            raise Veto("is not an op whose batch handling is known")
        # after the rule, whose reason (naming the input to blame) says more
        if len(here) > 1 and len({c.size for c in here.values()}) > 1:
            raise Veto("joins batches of different fixed sizes")
        return outs


def _names_read_in_subgraphs(g: Graph) -> set[str]:
    """Every tensor name a node inside a subgraph reads (outer-scope reads among them)."""
    out: set[str] = set()
    for node in g.nodes:
        for _, sub in node.subgraphs:
            for inner in sub.iter_graphs():
                for n in inner.nodes:
                    out.update(n.inputs)
    return out
