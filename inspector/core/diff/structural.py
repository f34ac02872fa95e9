"""The structural diff of two models: which nodes were added, removed or changed, and how.

``diff_models(a, b)`` pairs the main graphs' nodes (:mod:`inspector.core.diff.match`), then says
for each pair what differs (:mod:`inspector.core.diff.changes`) and turns every difference into
one ``Finding`` with a ``diff-…`` code: ``node_index`` is A's node, ``other_node_index`` B's.
Model-level differences (IR version, opset imports, graph inputs and outputs, local functions)
are ``diff-model-changed`` findings without a node.

Every structural difference is a warning: nothing is wrong with either model, but each is a place
to look. Whether the models are the same is :attr:`ModelDiff.same` (``diff`` exits 1 otherwise,
whatever the severities).

Known limitations: names are not compared (a renamed node or tensor is the same node); symbolic
dims are equal to each other whatever their names (``batch`` and ``N``), but not to fixed sizes;
subgraphs are diffed with the same matcher and summed up as one change line on their node.
"""

from __future__ import annotations

from dataclasses import dataclass

from inspector.core.diff.changes import ChangeFinder, io_changes, model_changes
from inspector.core.diff.match import match_graphs
from inspector.core.findings import Finding, Severity
from inspector.core.graph import Model
from inspector.core.tasks import CancelToken

HINT = "compare the two nodes side by side (File > Compare With…)"


@dataclass(frozen=True)
class NodeChange:
    """A matched pair of nodes that differ, and what differs."""

    a: int  # node index in A's main graph
    b: int  # node index in B's main graph
    # one line per difference, e.g. "attribute alpha: 0.2 → 0.3", "initializer 'w': max |Δ| 0.5",
    # "input 0 dtype float32 → float16", "op type Relu → Sigmoid", "opset 12 → 13 (ReduceSum-11 →
    # ReduceSum-13)"
    lines: tuple[str, ...]


@dataclass(frozen=True)
class ModelDiff:
    """What differs between models A and B (their main graphs, and model-level properties)."""

    pairs: tuple[tuple[int, int], ...]  # matched (A index, B index), main graph, by A index
    removed: tuple[int, ...]  # A nodes with no match
    added: tuple[int, ...]  # B nodes with no match
    changed: tuple[NodeChange, ...]  # matched pairs that differ, by A index
    # matched tensor names (A, B): graph inputs, outputs of matched nodes (by output position),
    # graph outputs
    tensor_pairs: tuple[tuple[str, str], ...]
    # one diff-… Finding per difference: model-level ones first (no node), then removed and
    # changed by A's index (``node``/``op_type`` A's), then added by B's (``node``/``op_type``
    # B's, ``node_index`` None)
    findings: tuple[Finding, ...]
    matched_by_name: int  # pairs made by a node or output tensor name
    matched_by_structure: int  # pairs made by neighbours or position

    @property
    def same(self) -> bool:
        """No difference at all: structurally the same model."""
        return not self.findings

    @property
    def matched(self) -> int:
        return len(self.pairs)


def diff_models(a: Model, b: Model, cancel: CancelToken | None = None) -> ModelDiff:
    """The structural differences between ``a`` and ``b`` (A is the reference, B the other)."""
    ga, gb = a.graph, b.graph
    matching = match_graphs(ga, gb, cancel=cancel)
    pairs = tuple(sorted(matching.a_to_b.items()))
    removed = tuple(n.index for n in ga.nodes if n.index not in matching.a_to_b)
    added = tuple(n.index for n in gb.nodes if n.index not in matching.b_to_a)

    finder = ChangeFinder(a, b, matching)
    changed: list[NodeChange] = []
    for i, (ia, ib) in enumerate(pairs):
        if cancel is not None and i % 1024 == 0:
            cancel.check()
        lines = finder.node_lines(ga.nodes[ia], gb.nodes[ib])
        if lines:
            changed.append(NodeChange(ia, ib, tuple(lines)))

    findings: list[Finding] = []
    for line in model_changes(a, b):
        findings.append(_model_finding(line))
    for line, tensor in io_changes(ga, gb, matching):
        findings.append(_model_finding(line, tensor))
    by_a: list[tuple[int, Finding]] = []
    for ia in removed:
        n = ga.nodes[ia]
        by_a.append(
            (
                ia,
                Finding(
                    Severity.WARNING,
                    "diff-removed",
                    f"{_label(n.op_type, n.name, ia)} is only in A (removed in B)",
                    HINT,
                    node=n.name,
                    node_index=ia,
                    op_type=n.op_type,
                ),
            )
        )
    for c in changed:
        n = ga.nodes[c.a]
        by_a.append(
            (
                c.a,
                Finding(
                    Severity.WARNING,
                    "diff-changed",
                    f"{_label(n.op_type, n.name, c.a)} ↔ B #{c.b}: " + "; ".join(c.lines),
                    HINT,
                    node=n.name,
                    node_index=c.a,
                    op_type=n.op_type,
                    other_node_index=c.b,
                ),
            )
        )
    findings += [f for _, f in sorted(by_a, key=lambda x: x[0])]
    for ib in added:
        n = gb.nodes[ib]
        findings.append(
            Finding(
                Severity.WARNING,
                "diff-added",
                f"{_label(n.op_type, n.name, ib)} is only in B (added)",
                HINT,
                node=n.name,
                op_type=n.op_type,
                other_node_index=ib,
            )
        )

    return ModelDiff(
        pairs=pairs,
        removed=removed,
        added=added,
        changed=tuple(changed),
        tensor_pairs=_tensor_pairs(a, b, matching.tensors, pairs),
        findings=tuple(findings),
        matched_by_name=matching.by_name,
        matched_by_structure=len(pairs) - matching.by_name,
    )


def _label(op_type: str, name: str, index: int) -> str:
    return f"{op_type} '{name}' (#{index})" if name else f"{op_type} #{index}"


def _model_finding(message: str, tensor: str | None = None) -> Finding:
    return Finding(
        Severity.WARNING,
        "diff-model-changed",
        message,
        "check that the change is intended",
        tensor=tensor,
    )


def _tensor_pairs(
    a: Model, b: Model, tensors: dict[str, str], pairs: tuple[tuple[int, int], ...]
) -> tuple[tuple[str, str], ...]:
    """Graph inputs, outputs of matched nodes by position, graph outputs; each pair once."""
    ga, gb = a.graph, b.graph
    out: dict[tuple[str, str], None] = {}
    for name in ga.inputs:
        twin = tensors.get(name)
        if twin is not None and twin in gb.values and gb.values[twin].is_input:
            out[(name, twin)] = None
    for ia, ib in pairs:
        for ta, tb in zip(ga.nodes[ia].outputs, gb.nodes[ib].outputs, strict=False):
            if ta and tb:
                out[(ta, tb)] = None
    for name in ga.outputs:
        twin = tensors.get(name)
        if twin is not None and twin in gb.values and gb.values[twin].is_output:
            out[(name, twin)] = None
    return tuple(out)
