"""The one result type of every check: the Problems panel, graph highlights and `--json` read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Sort key: errors first."""
        return {"error": 0, "warning": 1, "info": 2}[self.value]


@dataclass(frozen=True)
class Finding:
    """One problem (or note) a check found, attached to a node and/or a tensor.

    Example: ``Finding(Severity.ERROR, "dtype-mismatch", "float64 from 'c' meets float32 ...",
    hint="cast the initializer to float32", node="add_7", node_index=12, op_type="Add",
    tensor="const_3")``.
    """

    severity: Severity
    code: str  # kebab-case, e.g. "unsupported-op"; documented in the README
    message: str  # what is wrong, naming both sides where there are two
    hint: str = ""  # what to do about it
    node: str = ""  # the node's name (often empty in real models)
    node_index: int | None = (
        None  # position in its graph's node list; None for model-level findings
    )
    op_type: str = ""
    tensor: str | None = None  # the edge (tensor name) the finding sits on
    path: tuple[str, ...] = field(default=())  # subgraph path, e.g. ("loop_3", "body")
    # A comparison's second model (``diff-…`` codes): the matched node's index there; None for a
    # node only the first model has. ``node_index`` is then the first model's (None: added in B).
    other_node_index: int | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "severity": self.severity.value,
            "code": self.code,
            "node": self.node,
            "node_index": self.node_index,
            "op_type": self.op_type,
            "tensor": self.tensor,
            "message": self.message,
            "hint": self.hint,
        }
        if self.path:
            d["path"] = list(self.path)
        if self.other_node_index is not None or self.code.startswith("diff-"):
            d["other_node_index"] = self.other_node_index
        return d


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


def strongest(findings: list[Finding]) -> Severity:
    """The most severe severity among ``findings`` (which must not be empty)."""
    return min((Severity(f.severity) for f in findings), key=lambda s: s.rank)


def overlay_text(findings: list[Finding]) -> str:
    """One line per finding, most severe first: what a badge shows (its first line) and a hover
    explains (all of them)."""
    ordered = sorted(findings, key=lambda f: Severity(f.severity).rank)
    return "\n".join(f"{f.code}: {f.message}" for f in ordered)


def findings_at(
    findings: list[Finding],
    path: tuple[str, ...],
    node_index: int | None = None,
    tensor: str | None = None,
) -> list[Finding]:
    """The findings in graph ``path`` on that node (by index) or on that tensor."""
    return [
        f
        for f in findings
        if tuple(f.path) == path
        and (
            (node_index is not None and f.node_index == node_index)
            or (tensor is not None and f.tensor == tensor)
        )
    ]


def finding_from_dict(d: dict[str, Any]) -> Finding:
    """The inverse of :meth:`Finding.to_dict` (findings that crossed a process boundary)."""
    return Finding(
        Severity(d["severity"]),
        d["code"],
        d["message"],
        d.get("hint", ""),
        d.get("node", ""),
        d.get("node_index"),
        d.get("op_type", ""),
        d.get("tensor"),
        tuple(d.get("path", ())),
        d.get("other_node_index"),
    )


def error_line(e: BaseException) -> str:
    """An exception as one line for a message: its first line, or its type's name if empty."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
