"""Which node of one graph is which node of another: the matching under the structural diff.

Two graphs of "the same" model rarely agree on everything: a fix renames nothing but changes a
node, another exporter renames everything and wires constants differently. The matcher uses, in
this order, the strongest evidence there is:

1. **Names.** A node name that is unique in both graphs, or an output tensor name (unique by
   SSA), pairs two nodes when their op types agree, or when both the node name and the output
   name agree (a node whose op type was changed in place).
2. **Neighbours.** Tensors already paired (graph inputs and outputs by name, then by position;
   same-named initializers; outputs of paired nodes, by position) pair their unmatched consumers
   of the same op type reading them at the same input position (any position for commutative
   ops, with less weight), and their unmatched producers feeding paired consumers at the same
   position. Forward (node order) and backward sweeps repeat until nothing new pairs.
3. **Op type changed in place.** An unmatched node whose inputs come from paired tensors and
   whose outputs feed paired consumers pairs with the unmatched node of another op type that
   sits at the same place on both sides.
4. **Looking through.** Only when 2 and 3 are stuck: the same, stepping over up to three
   unmatched single-input nodes on either side (a BatchNormalization folded into its Conv, a
   Transpose + Reshape that the other exporter writes as a Squeeze).
5. **Guessing.** Only when all else is stuck: candidates alike in every way (parallel branches
   of the same ops and weights' shapes) go by relative position in the node list, one sweep at
   a time, each followed by 2-4 again.

A graph against itself, its names and node order changed, pairs every node with itself: tested
on all 149 models the onnx wheel ships.

Known limitations: a node that neither a name, a paired neighbour nor its place links to its
twin stays unmatched (reported removed and added); runs of nodes that one exporter fuses and
another decomposes (Split against three Slices) pair at most one node; names are trusted, so
where one model's node names are counters shifted by an inserted node (``Conv_4`` is the other's
``Conv_3``), same-named nodes are paired and reported changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from inspector.core.graph import Graph, Node
from inspector.core.tasks import CancelToken

# Ops whose inputs may be given in any order: a bias added first or second is the same Add.
COMMUTATIVE = frozenset(
    ("Add", "Mul", "Sum", "Max", "Min", "Mean", "And", "Or", "Xor", "Equal", "BitwiseAnd")
)

# Evidence weights: a neighbour read at the same input position counts more than one read at
# another position of a commutative op (exporters order a bias and its operand differently).
_AT_POSITION = 2
_ELSEWHERE = 1
# How many nodes only one side has that looking through may step over, on each side.
_REACH = 3


@dataclass
class Matching:
    """The pairs found between graphs A and B, and the tensors they pair."""

    a_to_b: dict[int, int] = field(default_factory=dict)  # node index in A → node index in B
    b_to_a: dict[int, int] = field(default_factory=dict)
    tensors: dict[str, str] = field(default_factory=dict)  # tensor name in A → its twin in B
    tensors_back: dict[str, str] = field(default_factory=dict)
    by_name: int = 0  # pairs made by a node or output name


def match_graphs(
    ga: Graph,
    gb: Graph,
    outer: dict[str, str] | None = None,
    cancel: CancelToken | None = None,
) -> Matching:
    """Pair the nodes of ``ga`` with those of ``gb``. ``outer``: tensor pairs of the enclosing
    graphs (a subgraph reads its parents' values by name)."""
    return _Matcher(ga, gb, outer or {}, cancel).run()


class _Matcher:
    def __init__(
        self, ga: Graph, gb: Graph, outer: dict[str, str], cancel: CancelToken | None
    ) -> None:
        self.ga, self.gb, self.cancel = ga, gb, cancel
        self.m = Matching()
        for ta, tb in outer.items():
            self._pair_tensor(ta, tb)
        # relative position in the node list: the tie-breaker between equal candidates
        self.na = max(len(ga.nodes), 1)
        self.nb = max(len(gb.nodes), 1)

    # ------------------------------------------------------------------------------ pairing

    def _pair_tensor(self, ta: str, tb: str) -> None:
        if ta and tb and ta not in self.m.tensors and tb not in self.m.tensors_back:
            self.m.tensors[ta] = tb
            self.m.tensors_back[tb] = ta

    def _pair(self, a: int, b: int) -> None:
        self.m.a_to_b[a] = b
        self.m.b_to_a[b] = a
        for ta, tb in zip(self.ga.nodes[a].outputs, self.gb.nodes[b].outputs, strict=False):
            self._pair_tensor(ta, tb)

    # ------------------------------------------------------------------------------- phases

    def run(self) -> Matching:
        self._seed_tensors()
        self._by_name()
        for _ in range(len(self.ga.nodes) + 1):  # each round pairs at least one node, or stops
            if self.cancel is not None:
                self.cancel.check()
            before = len(self.m.a_to_b)
            self._propagate(look_through=False)
            self._in_place()
            if len(self.m.a_to_b) == before:
                # only then look past nodes one side lacks (a BatchNormalization folded away)
                self._propagate(look_through=True)
                self._in_place(look_through=True)
            if len(self.m.a_to_b) == before:
                # only then settle ties (parallel branches alike in every way) by position
                self._propagate(look_through=False, guess=True)
            if len(self.m.a_to_b) == before:
                break
        return self.m

    def _seed_tensors(self) -> None:
        """Graph inputs and outputs by name, then the rest by position; same-named initializers."""
        for a_names, b_names in (
            (self.ga.inputs, self.gb.inputs),
            (self.ga.outputs, self.gb.outputs),
        ):
            common = set(a_names) & set(b_names)
            for name in common:
                self._pair_tensor(name, name)
            rest_b = [n for n in b_names if n not in common]
            for ta, tb in zip((n for n in a_names if n not in common), rest_b, strict=False):
                self._pair_tensor(ta, tb)
        vb = self.gb.values
        for name, v in self.ga.values.items():
            if v.initializer is not None:
                w = vb.get(name)
                if w is not None and w.initializer is not None:
                    self._pair_tensor(name, name)

    def _by_name(self) -> None:
        na, nb = self.ga.nodes, self.gb.nodes
        b_by_name = _unique_names(nb)
        a_by_name = _unique_names(na)
        get_b = self.gb.values.get
        a_to_b, b_to_a = self.m.a_to_b, self.m.b_to_a
        for a in na:
            b_index = b_by_name.get(a.name) if a.name in a_by_name else None
            out_b = None
            if a.outputs and a.outputs[0]:
                v = get_b(a.outputs[0])
                out_b = v.producer if v is not None else None
            for cand in (b_index, out_b) if b_index != out_b else (b_index,):
                if cand is None or a.index in a_to_b or cand in b_to_a:
                    continue
                b = nb[cand]
                same_op = a.op_type == b.op_type and a.domain == b.domain
                if same_op or (
                    a.name and a.name == b.name and a.outputs and a.outputs[:1] == b.outputs[:1]
                ):
                    self._pair(a.index, cand)
                    self.m.by_name += 1
                    break

    def _propagate(self, look_through: bool, guess: bool = False) -> None:
        """Forward then backward sweeps over same-op neighbours, until neither pairs anything.
        ``look_through``: a forward step may also step over unmatched nodes on either side.
        ``guess``: one sweep that settles ties by position (see :meth:`_best`)."""
        while True:
            paired = 0
            for a in self.ga.nodes:
                if a.index not in self.m.a_to_b:
                    fwd = self._forward(a, same_op=True, look_through=look_through)
                    b = self._best(a, fwd, guess)
                    if b is not None:
                        self._pair(a.index, b)
                        paired += 1
            for a in reversed(self.ga.nodes):
                if a.index not in self.m.a_to_b:
                    b = self._best(a, self._backward(a, same_op=True), guess)
                    if b is not None:
                        self._pair(a.index, b)
                        paired += 1
            if self.cancel is not None:
                self.cancel.check()
            if not paired or guess:
                return

    def _in_place(self, look_through: bool = False) -> None:
        """Nodes whose op type changed: paired inputs on one side and paired consumers (or graph
        outputs) on the other, both pointing at the same unmatched node of B."""
        for a in self.ga.nodes:
            if a.index in self.m.a_to_b:
                continue
            fwd = self._forward(a, same_op=False, look_through=look_through)
            back = self._backward(a, same_op=False)
            has_inputs = any(self._computed_input(t) for t in a.inputs)
            # a source node (Constant) has no paired inputs: its consumers alone place it
            both = {b: fwd[b] + back[b] for b in fwd.keys() & back.keys()} if has_inputs else back
            b = self._best(a, both)
            if b is not None:
                self._pair(a.index, b)

    # --------------------------------------------------------------------------- evidence

    def _computed_input(self, name: str) -> bool:
        return bool(name) and not constant(self.ga, name)

    def _forward(self, a: Node, same_op: bool, look_through: bool = False) -> dict[int, int]:
        """Unmatched B nodes reading the twins of ``a``'s inputs where ``a`` reads them:
        candidate → how many inputs agree. ``look_through``: the twin may also be found past a
        few unmatched single-input nodes of A, and a candidate may read it past a few of B (one
        exporter's Transpose + Reshape is another's Squeeze)."""
        score: dict[int, int] = {}
        commutative = a.op_type in COMMUTATIVE
        vb = self.gb.values
        nb = self.gb.nodes
        for k, ta in enumerate(a.inputs):
            if not ta:
                continue
            tb = self.m.tensors.get(ta)
            if tb is None and look_through:
                tb = self.m.tensors.get(past_unmatched(self.ga, ta, self.m.a_to_b, _REACH))
            v = vb.get(tb) if tb else None
            if v is None:
                continue
            reads = [(tb, v.consumers)]
            if look_through:
                frontier = [v.consumers]
                for _ in range(_REACH):
                    ahead = []
                    for consumers in frontier:
                        for u in consumers:
                            if u not in self.m.b_to_a and passes(nb[u], self.gb):
                                t = nb[u].outputs[0]
                                reads.append((t, vb[t].consumers))
                                ahead.append(vb[t].consumers)
                    frontier = ahead
            for t, consumers in reads:
                for c in set(consumers):
                    if c in self.m.b_to_a:
                        continue
                    b = nb[c]
                    if same_op and (b.op_type != a.op_type or b.domain != a.domain):
                        continue
                    if k < len(b.inputs) and b.inputs[k] == t:
                        score[c] = score.get(c, 0) + _AT_POSITION
                    elif commutative and t in b.inputs:
                        score[c] = score.get(c, 0) + _ELSEWHERE
        return score

    def _backward(self, a: Node, same_op: bool) -> dict[int, int]:
        """Unmatched B nodes producing what the twins of ``a``'s consumers read where they read
        ``a``'s outputs (or the twin graph output): candidate → how many uses agree."""
        score: dict[int, int] = {}
        va, vb = self.ga.values, self.gb.values
        na, nb = self.ga.nodes, self.gb.nodes
        a_to_b = self.m.a_to_b
        for j, ta in enumerate(a.outputs):
            v = va.get(ta) if ta else None
            if v is None:
                continue
            # (B tensor, weight): where the twins of a's consumers read what a gives them
            twins: list[tuple[str, int]] = []
            if v.is_output and ta in self.m.tensors:
                twins.append((self.m.tensors[ta], _AT_POSITION))
            for c in set(v.consumers):
                cb = a_to_b.get(c)
                if cb is None:
                    continue
                ca_inputs, cb_inputs = na[c].inputs, nb[cb].inputs
                at = {k for k, t in enumerate(ca_inputs) if t == ta and k < len(cb_inputs)}
                twins += [(cb_inputs[k], _AT_POSITION) for k in at if cb_inputs[k]]
                if na[c].op_type in COMMUTATIVE and nb[cb].op_type in COMMUTATIVE:
                    twins += [
                        (t, _ELSEWHERE)
                        for k, t in enumerate(cb_inputs)
                        if t and k not in at and t not in self.m.tensors_back
                    ]
            for tb, weight in twins:
                w = vb.get(tb)
                p = w.producer if w is not None else None
                if p is None or p in self.m.b_to_a:
                    continue
                b = nb[p]
                if same_op and (b.op_type != a.op_type or b.domain != a.domain):
                    continue
                # the output position must agree too: output j of a is output j of b
                if j < len(b.outputs) and b.outputs[j] == tb:
                    score[p] = score.get(p, 0) + weight
        return score

    def _best(self, a: Node, score: dict[int, int], guess: bool = False) -> int | None:
        """The candidate with the most evidence; on a tie the one most like ``a`` (parallel
        branches read the same tensor). Candidates alike in every way are a guess: none, unless
        ``guess``, then the nearest in relative position."""
        if not score:
            return None
        top = max(score.values())
        cands = [b for b, s in score.items() if s == top]
        if len(cands) == 1:
            return cands[0]
        like = {b: self._likeness(a, b) for b in cands}
        most = max(like.values())
        cands = [b for b in cands if like[b] == most]
        if len(cands) == 1:
            return cands[0]
        if not guess:
            return None
        pos = a.index / self.na
        return max(cands, key=lambda b: (-abs(b / self.nb - pos), -b))

    def _likeness(self, a: Node, b_index: int) -> int:
        """How many attributes, weights (by dtype and shape, then by bytes) and output types of
        ``a`` and B's node agree."""
        b = self.gb.nodes[b_index]
        attrs_b = {x.name: x.SerializeToString() for x in b.proto.attribute}
        n = sum(attrs_b.get(x.name) == x.SerializeToString() for x in a.proto.attribute)
        va, vb = self.ga.values, self.gb.values
        for ta, tb in zip(a.inputs, b.inputs, strict=False):
            ia = va[ta].initializer if ta else None
            ib = vb[tb].initializer if tb else None
            if ia is not None and ib is not None and (ia.dtype, ia.shape) == (ib.dtype, ib.shape):
                n += 1 + (ia._proto.raw_data == ib._proto.raw_data)
        for ta, tb in zip(a.outputs, b.outputs, strict=False):
            if ta and tb and va[ta].type == vb[tb].type:
                n += 1
        return n


def passes(n: Node, g: Graph) -> bool:
    """A node with one output and one computed input (the rest weights), that a model may have
    or lack without changing its wiring: BatchNormalization, Identity, Cast, Dropout, Reshape."""
    if len(n.outputs) != 1 or not n.outputs[0]:
        return False
    return sum(1 for t in n.inputs if t and not constant(g, t)) == 1


def constant(g: Graph, name: str) -> bool:
    """Whether ``name`` is a weight: an initializer or a Constant node's output."""
    v = g.values[name]
    if v.initializer is not None:
        return True
    return v.producer is not None and g.nodes[v.producer].op_type == "Constant"


def past_unmatched(g: Graph, name: str, matched: dict[int, int], reach: int) -> str:
    """``name``, followed back through at most ``reach`` unmatched :func:`passes` nodes (a chain
    one model has and the other lacks: a Cast, an Identity, a folded BatchNormalization)."""
    for _ in range(reach):
        v = g.values.get(name)
        p = v.producer if v is not None else None
        if p is None or p in matched or not passes(g.nodes[p], g):
            return name
        name = next(t for t in g.nodes[p].inputs if t and not constant(g, t))
    return name


def _unique_names(nodes: Iterable[Node]) -> dict[str, int]:
    """Node name → index, for the names that occur once (empty names never)."""
    seen: dict[str, int] = {}
    dup: set[str] = set()
    for n in nodes:
        if n.name:
            if n.name in seen:
                dup.add(n.name)
            seen[n.name] = n.index
    return {k: v for k, v in seen.items() if k not in dup}
