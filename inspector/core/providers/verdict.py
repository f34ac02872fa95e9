"""The verdict type every provider table answers with (its own module so each table's module
and :mod:`.tables` import it from below)."""

from __future__ import annotations

from dataclasses import dataclass

YES, RESTRICTED, NO, UNKNOWN = "yes", "restricted", "no", "unknown"


@dataclass(frozen=True)
class Verdict:
    """Whether one provider runs one node, and on what authority."""

    status: str  # "yes" | "restricted" | "no" | "unknown"
    reason: str  # why: no kernel for this op / version / these types; the documented restriction
    source: str  # "OperatorKernels.md (onnxruntime 1.22.1)", "live registry (onnxruntime 1.32.0)"
