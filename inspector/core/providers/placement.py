"""The partition map: which execution provider each node lands on for a provider order, why, the
partitions each provider gets and the device copies between them.

How ONNX Runtime places nodes, and what is modelled: the providers are asked in the order given
(``GetCapability``), each taking the nodes it can run among those no earlier provider took; the
CPU provider comes last and takes the rest (ONNX Runtime appends it when the order lacks it).
A non-CPU provider lacking a kernel does not fail the session: the node falls back to the next
provider, which is a ``provider-fallback`` warning here. What the CPU cannot run either stays an
error, from the live CPU check (:mod:`inspector.core.checks.runtime_support`).

Partitions are formed as ONNX Runtime forms them for a provider that fuses
(``partitioning_utils.cc: CreateSupportedPartitionNodeGroups``, which the usability checker ports
to Python): nodes are visited in topological order, a provider's nodes join the current group,
another provider's node that consumes the group's output waits for the next group; a group
closes when nothing else is ready. Each graph (main graph and every subgraph) is partitioned on
its own. Copies count each tensor that crosses devices once per destination device: a value
produced on one device and read on another, a main-graph input read on a device, a main-graph
output produced on one. Initializers are placed on their device when the session is built and
are not counted; providers that work in host memory (CPU, XNNPACK) share one device, as do
TensorRT and CUDA.

Known limitations: ``Constant`` nodes are not placed (ONNX Runtime turns them into initializers);
inputs a device kernel reads from host memory (e.g. a Reshape's shape on CUDA) are not counted as
copies; a node nothing in the order can take lands on the CPU, whose own check then says whether
it runs.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from inspector.core.findings import Finding, Severity
from inspector.core.graph import Graph, Model, Node
from inspector.core.scopes import captured_inputs
from inspector.core.tasks import CancelToken

CPU = "CPUExecutionProvider"
# Providers whose kernels read and write host memory: no copy between them and the CPU.
_HOST = frozenset({CPU, "XnnpackExecutionProvider"})
# Providers that share one device's memory (TensorRT allocates through CUDA's allocator).
_DEVICE = {"TensorrtExecutionProvider": "cuda", "CUDAExecutionProvider": "cuda"}
_TAKES = ("yes", "restricted")


class VerdictLike(Protocol):
    status: str  # "yes" | "restricted" | "no" | "unknown"
    reason: str
    source: str


# (provider, node, the graph holding it) → whether that provider takes the node, and why.
VerdictFn = Callable[[str, Node, Graph], VerdictLike]

NodeKey = tuple[tuple[str, ...], int]  # (graph path, node index)


_SHORT = {
    "NnapiExecutionProvider": "NNAPI",
    "TensorrtExecutionProvider": "TensorRT",
    "DmlExecutionProvider": "DirectML",
    "XnnpackExecutionProvider": "XNNPACK",
    "WebGpuExecutionProvider": "WebGPU",
}


def short_name(provider: str) -> str:
    """``CUDAExecutionProvider`` → ``CUDA``."""
    return _SHORT.get(provider) or provider.removesuffix("ExecutionProvider") or provider


def device_of(provider: str) -> str:
    """Which memory a provider's kernels work in ("cpu" for host memory)."""
    if provider in _HOST:
        return "cpu"
    return _DEVICE.get(provider, provider)


def full_order(order: Iterable[str]) -> tuple[str, ...]:
    """The order as ONNX Runtime uses it: duplicates dropped, the CPU provider last."""
    seen: list[str] = []
    for p in order:
        if p not in seen and p != CPU:
            seen.append(p)
    return (*seen, CPU)


@dataclass
class Placement:
    """The partition map for one provider order.

    ``providers_by_graph[path][i]`` is the provider node ``i`` of that graph lands on ("" for a
    ``Constant``, which becomes an initializer). ``why[(path, i)]`` lists, for a node that did not
    land on the first provider, each provider it passed and why; ``restricted[(path, i)]`` the
    documented restriction it runs under on its provider.
    """

    order: tuple[str, ...]
    providers_by_graph: dict[tuple[str, ...], list[str]]
    why: dict[NodeKey, list[tuple[str, str]]]
    restricted: dict[NodeKey, str]
    partitions: dict[str, list[int]]
    copies: int
    graph: str = "as saved"  # "as saved" | "optimized"
    sources: dict[str, str] = field(default_factory=dict)  # provider → where its data came from

    @property
    def provider_of(self) -> list[str]:
        """The main graph's provider per node index."""
        return self.providers_by_graph.get((), [])

    @property
    def reasons(self) -> dict[NodeKey, str]:
        """Why each node that did not land on the first provider is where it is, and the
        restriction each restricted node runs under (what a tooltip on the picture shows)."""
        out = {k: _passed_text(v) for k, v in self.why.items()}
        for k, note in self.restricted.items():
            out[k] = f"{out[k]}; {note}" if k in out else note
        return out

    def node_counts(self) -> dict[str, int]:
        """Provider → nodes it runs, over every graph, in the order's order."""
        c = Counter(p for ps in self.providers_by_graph.values() for p in ps if p)
        return {p: c[p] for p in self.order if c[p]}

    def to_dict(self) -> dict[str, object]:
        return {
            "order": list(self.order),
            "nodes": self.node_counts(),
            "partitions": {p: sizes for p, sizes in self.partitions.items()},
            "copies": self.copies,
            "graph": self.graph,
        }

    def summary(self) -> str:
        """One line for people: "412 of 430 nodes on CUDA, 3 partitions, 4 copies"."""
        counts = self.node_counts()
        total = sum(counts.values())
        parts = []
        for p in self.order:
            if p == CPU or (p != self.order[0] and not counts.get(p)):
                continue  # a later provider that got nothing is not worth a clause
            n_parts = len(self.partitions.get(p, []))
            parts.append(
                f"{counts.get(p, 0)} of {total} nodes on {short_name(p)}, "
                f"{n_parts} partition{'s' * (n_parts != 1)}"
            )
        if not parts:
            parts.append(f"{counts.get(CPU, 0)} of {total} nodes on CPU")
        graph = " (graph after basic optimizations)" if self.graph == "optimized" else ""
        copies = f", {self.copies} cop{'y' if self.copies == 1 else 'ies'}"
        return "; ".join(parts) + copies + graph

    def findings(self, model: Model) -> list[Finding]:
        """A ``provider-fallback`` warning per node that did not land on the first provider of
        the order, and a ``provider-restricted`` note per node a provider takes under a documented
        restriction."""
        out: list[Finding] = []
        first = self.order[0]
        if first == CPU:
            return out
        for g in _graphs(model):
            placed = self.providers_by_graph.get(g.path)
            if placed is None:
                continue
            for node in g.nodes:
                key = (g.path, node.index)
                lands = placed[node.index]
                if not lands:
                    continue
                passed = self.why.get(key)
                if passed:
                    because = _passed_text(passed)
                    # a provider with no data passed by: where the node runs is not known
                    lands_text = (
                        "counted on" if any(r.startswith(_UNSURE) for _, r in passed) else "runs on"
                    )
                    out.append(
                        _at(
                            node,
                            g,
                            Severity.WARNING,
                            "provider-fallback",
                            f"{lands_text} {short_name(lands)}, {because}",
                            "expect device copies around it; replace the op or reorder providers "
                            "if it sits between nodes of the same device",
                        )
                    )
                note = self.restricted.get(key)
                if note:
                    out.append(
                        _at(
                            node,
                            g,
                            Severity.INFO,
                            "provider-restricted",
                            f"{short_name(lands)} takes it under a restriction it documents: {note}",
                            "check the restriction holds for this node; if not, it falls back",
                        )
                    )
        return out


def _passed_text(passed: list[tuple[str, str]]) -> str:
    return "; ".join(f"not on {short_name(p)}: {r}" for p, r in passed)


def _at(node: Node, g: Graph, severity: Severity, code: str, message: str, hint: str) -> Finding:
    return Finding(
        severity,
        code,
        message,
        hint,
        node=node.name,
        node_index=node.index,
        op_type=node.op_type,
        path=g.path,
    )


def _graphs(model: Model) -> list[Graph]:
    return list(model.graph.iter_graphs())


def place(
    model: Model,
    order: Iterable[str],
    verdict: VerdictFn,
    graph: str = "as saved",
    cancel: CancelToken | None = None,
) -> Placement:
    """The partition map of ``model`` for ``order`` (the CPU provider appended last), with
    ``verdict`` judging each node for each non-CPU provider."""
    order_t = full_order(order)
    providers_by_graph: dict[tuple[str, ...], list[str]] = {}
    why: dict[NodeKey, list[tuple[str, str]]] = {}
    restricted: dict[NodeKey, str] = {}
    partitions: dict[str, list[int]] = {p: [] for p in order_t if p != CPU}
    sources: dict[str, str] = {}
    copies = 0
    for g in _graphs(model):
        placed: list[str] = []
        for node in g.nodes:
            if cancel is not None and node.index % 512 == 0:
                cancel.check()
            if node.op_type == "Constant" and not node.domain:
                placed.append("")
                continue
            lands, passed = CPU, []
            for p in order_t[:-1]:
                v = verdict(p, node, g)
                if v.source:
                    sources.setdefault(p, v.source)
                if v.status in _TAKES:
                    lands = p
                    if v.status == "restricted" and v.reason:
                        restricted[(g.path, node.index)] = v.reason
                    break
                passed.append((p, _reason(v)))
            placed.append(lands)
            if passed:
                why[(g.path, node.index)] = passed
        providers_by_graph[g.path] = placed
        consumers, roots = _edges(g, placed)
        for p in partitions:
            partitions[p] += partition_sizes(len(g.nodes), consumers, roots, placed, p)
        copies += _copies(g, placed, main=not g.path)
    return Placement(
        order_t, providers_by_graph, why, restricted, partitions, copies, graph, sources
    )


_UNSURE = "cannot tell"


def _reason(v: VerdictLike) -> str:
    if v.status == "unknown":
        return f"{_UNSURE} whether it runs there ({v.reason})" if v.reason else _UNSURE
    return v.reason or "not supported"


def _edges(g: Graph, placed: list[str]) -> tuple[list[set[int]], list[int]]:
    """Consumers of each node within ``g`` (a node holding subgraphs also consumes the values its
    subgraphs read from ``g``), and the nodes with no producer in ``g``, in node order. Constant
    nodes are left out: they are initializers to ONNX Runtime."""
    n = len(g.nodes)
    consumers: list[set[int]] = [set() for _ in range(n)]
    producers: list[set[int]] = [set() for _ in range(n)]
    values = g.values
    for node in g.nodes:
        i = node.index
        if not placed[i]:
            continue
        names: Iterable[str] = node.inputs
        if node.subgraph_by_attribute:
            names = [*node.inputs, *captured_inputs(node)]
        for name in names:
            v = values.get(name) if name else None
            if v is None or v.producer is None or v.producer == i or not placed[v.producer]:
                continue
            consumers[v.producer].add(i)
            producers[i].add(v.producer)
    roots = [i for i in range(n) if placed[i] and not producers[i]]
    return consumers, roots


def partition_sizes(
    n: int, consumers: list[set[int]], roots: list[int], placed: list[str], provider: str
) -> list[int]:
    """Sizes of the groups ``provider``'s nodes form, as ONNX Runtime's
    ``CreateSupportedPartitionNodeGroups`` forms them (see the module docstring)."""
    if provider not in placed:
        return []
    in_degree = [0] * n
    for cs in consumers:
        for c in cs:
            in_degree[c] += 1
    ready = deque(roots)
    later: deque[int] = deque()
    border: set[int] = set()
    sizes: list[int] = []
    size = 0
    while ready or later:
        if not ready:
            if size:
                sizes.append(size)
            size = 0
            border.clear()
            ready, later = later, deque()
            continue
        i = ready.popleft()
        if placed[i] == provider:
            size += 1
            border.discard(i)
            border.update(consumers[i])
        elif i in border:
            later.append(i)  # consumes this group's output: it starts the next group's round
            continue
        for c in consumers[i]:
            in_degree[c] -= 1
            if in_degree[c] == 0:
                ready.append(c)
    if size:
        sizes.append(size)
    return sizes


def _copies(g: Graph, placed: list[str], main: bool) -> int:
    """Tensors crossing devices in ``g``, once per (tensor, destination device)."""
    total = 0
    for v in g.values.values():
        if v.initializer is not None:
            continue
        if v.producer is not None:
            if not placed[v.producer]:
                continue
            src = device_of(placed[v.producer])
        elif v.is_input and main:
            src = "cpu"  # the caller's feeds are in host memory
        else:
            continue
        dests = {device_of(placed[c]) for c in v.consumers if placed[c]}
        if v.is_output and main:
            dests.add("cpu")
        dests.discard(src)
        total += len(dests)
    return total
