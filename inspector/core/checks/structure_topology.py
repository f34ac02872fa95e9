"""The graphs the ``structure`` family checks, and their topology: definitions, reads, order,
cycles and outputs.

:class:`GraphView` is one graph (the main graph, a subgraph, a function body): the graph model's
nodes, built here from the protobuf where the graph model has no graph (a GRAPHS attribute), and
the protobuf's declarations, which the graph model merges (a duplicated initializer is one value
there). :func:`scan` walks one graph and its subgraphs in one pass over the nodes; a read of a
name not defined yet is set aside and resolved after the pass (undefined, out of order, on a
cycle, or the node's own output), so valid graphs pay one dict lookup per input. A subgraph's
reads of enclosing-scope values count as reads of the node that holds it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import onnx
from onnx import AttributeProto, SparseTensorProto, TensorProto

from inspector.core.checks.edges import node_label
from inspector.core.findings import Severity
from inspector.core.graph import Graph, Node

INPUT = -1  # definer of a graph input, in a graph's name → definer map
INIT = -2  # definer of an initializer
_STANDARD = frozenset(("", "ai.onnx", "ai.onnx.ml"))
_GRAPH_OPS = frozenset(("If", "Loop", "Scan", "SequenceMap"))
_MAX_NAMED = 8  # node names listed in a cycle message
_MAX_CYCLE_FINDINGS = 200  # nodes of one cycle that get a finding each (its first, by index)

# add(severity, code, message, hint, view, node, tensor): how a pass reports a finding
Report = Callable[..., None]


@dataclass
class GraphView:
    """One graph to check (see the module docstring)."""

    path: tuple[str, ...]
    kind: str  # "main" | "subgraph" | "function"
    nodes: list[Node]
    inputs: list[str]
    outputs: list[str]
    initializers: Sequence[TensorProto]
    sparse: Sequence[SparseTensorProto]
    opsets: dict[str, int]  # domain ("ai.onnx" as "") → version in force
    function: str = ""  # "domain:name" of the function this graph is (in), else ""
    subs: list[tuple[Node, GraphView]] = field(default_factory=list)  # its subgraphs
    implicit: dict[int, set[str]] = field(default_factory=dict)  # node → outer names read
    _used: set[str] | None = None

    def used(self) -> set[str]:
        """Every name a node, a subgraph or a graph output reads (built on first use)."""
        if self._used is None:
            used = set(self.outputs)
            for node in self.nodes:
                used.update(node.inputs)
            for names in self.implicit.values():
                used |= names
            for _, sub in self.subs:
                used |= sub.used()  # a nested graph may read this graph's values
            self._used = used
        return self._used

    def tree(self) -> list[GraphView]:
        """This graph and every nested subgraph, depth first."""
        out = [self]
        for _, sub in self.subs:
            out += sub.tree()
        return out


def discover(view: GraphView, every_node: bool = False) -> GraphView:
    """Fill in ``view.subs`` (recursively); return ``view``.

    Standard ops other than control flow hold no graph in a model onnx.checker accepts (their
    schemas have no graph attribute); ``every_node`` looks in theirs too, for a model it
    rejected."""
    for node in view.nodes:
        if (
            not every_node
            and node.subgraph_by_attribute is None
            and node.domain in _STANDARD
            and node.op_type not in _GRAPH_OPS
        ):
            continue
        built = node.subgraph_by_attribute or {}
        for a in node.proto.attribute:
            if a.type == AttributeProto.GRAPH:
                graphs = [(a.name, a.g)]
            elif a.type == AttributeProto.GRAPHS:
                graphs = [(f"{a.name}[{k}]", g) for k, g in enumerate(a.graphs)]
            else:
                continue
            for key, gp in graphs:
                g = built.get(key)
                sub = GraphView(
                    (*view.path, node.label, key),
                    "subgraph",
                    nodes_for(g, gp),
                    [vi.name for vi in gp.input],
                    [vi.name for vi in gp.output],
                    gp.initializer,
                    gp.sparse_initializer,
                    view.opsets,
                    view.function,
                )
                view.subs.append((node, discover(sub, every_node)))
    return view


def scan(view: GraphView, outer: tuple[dict[str, int], ...], add: Report) -> set[str]:
    """Check one graph's definitions, reads, order and outputs, then its subgraphs'; return the
    enclosing-scope names it (or its subgraphs) reads."""
    local: dict[str, int] = {}
    for name in view.inputs:
        if name in local:
            add(
                Severity.ERROR,
                "duplicate-input",
                f"graph input '{name}' is declared twice",
                "remove the second declaration",
                view,
                None,
                name,
            )
        local[name] = INPUT
    stored: set[str] = set()
    for name in [t.name for t in view.initializers] + [s.values.name for s in view.sparse]:
        if not name:
            continue  # the data check reports an unnamed initializer
        if name in stored:
            add(
                Severity.ERROR,
                "duplicate-initializer",
                f"initializer '{name}' is stored twice (onnx.checker rejects this; ONNX "
                "Runtime keeps one of them)",
                "remove one copy; check which values the model is meant to use",
                view,
                None,
                name,
            )
        stored.add(name)
        local.setdefault(name, INIT)  # an initializer also listed as input is its default
    pending: list[tuple[Node, str]] = []  # reads of names not defined before the node
    for node in view.nodes:
        for name in node.inputs:
            if name and name not in local:
                pending.append((node, name))
        i = node.index
        for name in node.outputs:
            if not name:
                continue
            prev = local.get(name)
            if prev is None:
                if outer and _defined_in(outer, name):
                    _ssa(add, view, node, name, "a value of an enclosing graph")
                local[name] = i
            else:
                _ssa(add, view, node, name, _definer(view, prev, i))
    for node, sub in view.subs:
        free = scan(sub, (local, *outer), add)
        if free:
            view.implicit.setdefault(node.index, set()).update(free)
            pending += [(node, name) for name in free if local.get(name, INPUT) >= node.index]
    free: set[str] = {name for names in view.implicit.values() for name in names}
    free = {name for name in free if name not in local}
    back: list[tuple[Node, str, int]] = []  # reads of a name a node at or after defines
    for node, name in pending:
        p = local.get(name)
        if p is None:
            if outer and _defined_in(outer, name):
                free.add(name)
            else:
                _undefined(add, view, node, name)
        elif p >= node.index:
            back.append((node, name, p))
    if back:
        _order(add, view, local, back)
    _outputs(add, view, local, outer)
    return free


def _definer(view: GraphView, prev: int, i: int) -> str:
    if prev == INPUT:
        return "a graph input"
    if prev == INIT:
        return "an initializer"
    if prev == i:
        return "the same node (it lists the name twice)"
    return f"{node_label(view.nodes[prev])} (#{prev})"


def _ssa(add: Report, view: GraphView, node: Node, name: str, other: str) -> None:
    add(
        Severity.ERROR,
        "ssa-violation",
        f"{node_label(node)} writes '{name}', which {other} already defines; every tensor "
        "name must be defined once",
        "rename one of them (and the nodes that read it)",
        view,
        node,
        name,
    )


def _undefined(add: Report, view: GraphView, node: Node, name: str) -> None:
    scope = " in this graph or an enclosing one" if view.kind == "subgraph" else ""
    add(
        Severity.ERROR,
        "undefined-input",
        f"{node_label(node)} reads '{name}', which nothing defines (no graph input, "
        f"initializer or node output{scope})",
        "connect the tensor meant, or add it as a graph input or initializer; an omitted "
        "optional input is written ''",
        view,
        node,
        name,
    )


def _order(
    add: Report, view: GraphView, local: dict[str, int], back: list[tuple[Node, str, int]]
) -> None:
    """Cycles, self-reads and out-of-order reads, from the reads that go backwards.

    Every node on a cycle lies within the index span of one of the cycle's backward reads (the
    cycle, walked in index space, crosses each point between its ends going down), so only the
    nodes inside those spans are searched for cycles. A cycle's first 200 nodes get a finding
    each (a 100k-node cycle would otherwise flood the Problems panel); every message gives the
    cycle's size.
    """
    nodes = view.nodes
    back = list({(node.index, name): (node, name, p) for node, name, p in back}.values())
    inside: set[int] = set()
    end = -1  # spans merged in order, so each index is added once
    for start, stop in sorted((node.index, p) for node, _, p in back):
        if stop > end:
            inside.update(range(max(start, end + 1), stop + 1))
            end = stop
    succ: dict[int, list[int]] = {i: [] for i in inside}
    for i in inside:
        reads = [*nodes[i].inputs, *view.implicit.get(i, ())]
        for name in reads:
            p = local.get(name, -1) if name else -1
            if p in succ:
                succ[p].append(i)
    order = sorted(inside)
    position = {i: k for k, i in enumerate(order)}
    comp_of = strongly_connected(len(order), [[position[j] for j in succ[i]] for i in order])
    comp = {i: comp_of[position[i]] for i in order}
    members: dict[int, list[int]] = {}
    for i in order:
        members.setdefault(comp[i], []).append(i)
    for i in order:
        cycle = members[comp[i]]
        if len(cycle) < 2 or i > cycle[min(len(cycle), _MAX_CYCLE_FINDINGS) - 1]:
            continue  # not on a cycle, or past the first nodes of a huge one
        node = nodes[i]
        names = ", ".join(node_label(nodes[k]) for k in cycle[:_MAX_NAMED])
        more = f" and {len(cycle) - _MAX_NAMED} more" if len(cycle) > _MAX_NAMED else ""
        via = next(
            (
                n
                for n in [*node.inputs, *sorted(view.implicit.get(i, ()))]
                if n and comp.get(local.get(n, -1)) == comp[i]
            ),
            None,
        )
        add(
            Severity.ERROR,
            "graph-cycle",
            f"{node_label(node)} is on a cycle of {len(cycle)} nodes ({names}{more}): "
            "each needs another's output",
            "a graph must be acyclic: break the cycle (a value fed back belongs in a "
            "Loop's carried state)",
            view,
            node,
            via,
        )
    for node, name, p in back:
        i = node.index
        if p == i:
            add(
                Severity.ERROR,
                "node-reads-own-output",
                f"{node_label(node)} reads its own output '{name}'",
                "feed it the tensor meant; a value fed back belongs in a Loop",
                view,
                node,
                name,
            )
        elif comp[p] != comp[i]:
            through = "" if name in node.inputs else " (through its subgraph)"
            add(
                Severity.ERROR,
                "node-order",
                f"{node_label(node)} reads '{name}'{through} before {node_label(nodes[p])} "
                f"(#{p}) computes it: nodes must be in topological order (onnx.checker rejects "
                "this; ONNX Runtime sorts the graph itself)",
                "sort the nodes topologically (re-export, or reorder the graph's nodes)",
                view,
                node,
                name,
            )


def _outputs(
    add: Report, view: GraphView, local: dict[str, int], outer: tuple[dict[str, int], ...]
) -> None:
    for name in view.outputs:
        if name in local:
            continue
        if view.kind == "subgraph" and _defined_in(outer, name):
            message = (
                f"subgraph output '{name}' is a value of an enclosing graph returned directly; "
                "it must be computed in the subgraph"
            )
            hint = "add an Identity node in the subgraph that copies it to a new name"
        else:
            what = "function" if view.kind == "function" else "graph"
            message = f"{what} output '{name}' is not produced by any node"
            hint = "connect the output to the tensor that holds it, or remove it"
        add(Severity.ERROR, "output-not-produced", message, hint, view, None, name)


def strongly_connected(n: int, succ: list[list[int]]) -> list[int]:
    """The strongly connected component of each of ``n`` vertices (Tarjan's algorithm, iterative
    so that a 100k-node cycle needs no recursion)."""
    index = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    comp = [-1] * n
    stack: list[int] = []
    counter = ncomp = 0
    for root in range(n):
        if index[root] != -1:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack[root] = True
        work = [(root, 0)]
        while work:
            v, k = work[-1]
            if k < len(succ[v]):
                work[-1] = (v, k + 1)
                w = succ[v][k]
                if index[w] == -1:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack[w] = True
                    work.append((w, 0))
                elif on_stack[w] and index[w] < low[v]:
                    low[v] = index[w]
                continue
            work.pop()
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp[w] = ncomp
                    if w == v:
                        break
                ncomp += 1
    return comp


def _defined_in(scopes: tuple[dict[str, int], ...], name: str) -> bool:
    return any(name in s for s in scopes)


def nodes_for(built: Graph | None, gp: onnx.GraphProto | onnx.FunctionProto) -> list[Node]:
    """The graph model's nodes of ``gp``, or, where it built none or not all of them (a GRAPHS
    attribute; a graph it had to cut short), nodes made here from the protobuf."""
    if built is not None and len(built.nodes) == len(gp.node):
        return built.nodes
    return [
        Node(i, n.name, n.op_type, n.domain, list(n.input), list(n.output), n)
        for i, n in enumerate(gp.node)
    ]
