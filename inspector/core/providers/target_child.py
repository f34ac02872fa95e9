"""The window's check for a provider order, in a child process: every check's findings
(:func:`~inspector.core.providers.placement_target.check_target`) and the partition map.

The findings stream as :mod:`inspector.core.checks.child` streams them (one protocol part per
finding, the same failures); the partition map is the result line, kept small: the placement's
``to_dict()``, its summary line, and per graph path one list of indices into the order (a 10k-node
model sends ~30 kB, not a name per node).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from inspector.core.checks import RuntimeTarget
from inspector.core.checks.child import check_failed, findings_of
from inspector.core.child import ChildCall, ChildJob, Emitter, Outcome
from inspector.core.findings import Finding
from inspector.core.graph import open_model
from inspector.core.loader import ModelLoadError
from inspector.core.providers.placement import CPU, Placement
from inspector.core.providers.placement_target import check_target

GraphPath = tuple[str, ...]


@dataclass(frozen=True)
class PlacementMap:
    """What the window shows of a partition map: the provider each node lands on, per graph."""

    order: tuple[str, ...]  # the full order, the CPU last
    summary: str  # "412 of 430 nodes on CUDA, 3 partitions, 4 copies"
    counts: dict[str, object]  # Placement.to_dict(): order, nodes, partitions, copies, graph
    providers_by_graph: dict[GraphPath, list[str]]  # "" for a Constant (an initializer)

    def providers_of(self, path: GraphPath) -> list[str] | None:
        """The provider per node index of the graph at ``path``; None for a graph not placed."""
        return self.providers_by_graph.get(path)

    def to_wire(self) -> dict[str, object]:
        index = {p: i for i, p in enumerate(self.order)}
        return {
            "order": list(self.order),
            "summary": self.summary,
            "counts": self.counts,
            "graphs": [
                [list(path), [index.get(p, -1) for p in placed]]
                for path, placed in self.providers_by_graph.items()
            ],
        }

    @classmethod
    def from_wire(cls, d: dict) -> PlacementMap:
        order = tuple(d["order"])
        return cls(
            order,
            d["summary"],
            d["counts"],
            {tuple(path): [order[i] if i >= 0 else "" for i in ids] for path, ids in d["graphs"]},
        )

    @classmethod
    def of(cls, placement: Placement) -> PlacementMap:
        return cls(
            placement.order,
            placement.summary(),
            placement.to_dict(),
            placement.providers_by_graph,
        )


CheckResult = tuple[list[Finding], PlacementMap | None]


def target_checks_call(
    path: str | os.PathLike[str], target: RuntimeTarget, timeout: float = 900.0
) -> ChildCall[CheckResult]:
    """The child job that checks the model at ``path`` for ``target``'s provider order: its
    findings, and its partition map where the order names a provider other than the CPU (None
    otherwise, and when the checks did not finish)."""
    args = {"path": str(Path(path)), "target": dataclasses.asdict(target)}
    job = ChildJob(f"{__name__}:check_target_model", args, timeout, "the checks")
    return ChildCall(job, _result)


def _result(outcome: Outcome) -> CheckResult:
    value = outcome.value if outcome.failure is None else None
    return findings_of(outcome), PlacementMap.from_wire(value) if value else None


def check_target_model(emit: Emitter, path: str, target: dict[str, object]) -> dict | None:
    """The child's side: stream every finding for the target, then return its partition map."""
    emit.progress(0.0, "reading the model")
    try:
        model = open_model(path)
    except ModelLoadError as e:
        emit.part(check_failed(str(e)).to_dict())
        return None
    emit.progress(0.3, "checking")
    chosen = RuntimeTarget(**target)  # type: ignore[arg-type]
    findings, placed = check_target(model, chosen)
    for f in findings:
        emit.part(f.to_dict())
    if set(chosen.order) <= {CPU}:
        return None  # the CPU alone: every node on it, nothing to tint
    return PlacementMap.of(placed).to_wire()
