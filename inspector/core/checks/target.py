"""The target type every check family takes: what the model will be run on.

Its own module so the families, the orchestration (:mod:`.run`) and the callers all import it
from one place below them, and no family imports the package or another family to get it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuntimeTarget:
    """What the model will be run on: a runtime, its execution providers in the order ONNX
    Runtime is given them (``provider`` first, then ``fallbacks``; the CPU is always last), their
    options ("KEY=VALUE"), and optionally the ai.onnx opset the model would be converted to first
    (None: the model's own)."""

    runtime: str = "onnxruntime"
    provider: str = "CPUExecutionProvider"
    opset: int | None = None
    fallbacks: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    # The ONNX Runtime release judged ("1.16"): its opset and IR limits and its kernel tables
    # (:mod:`inspector.core.providers.releases`); None: the installed runtime itself.
    release: str | None = None

    def __post_init__(self) -> None:  # a target read back from JSON carries lists
        object.__setattr__(self, "fallbacks", tuple(self.fallbacks))
        object.__setattr__(self, "options", tuple(self.options))

    @property
    def order(self) -> tuple[str, ...]:
        return (self.provider, *self.fallbacks)

    def retargets(self, model_opset: int | None) -> bool:
        """True when the model would be converted first: an opset other than ``model_opset``
        (the model's ai.onnx opset) is named."""
        return self.opset is not None and self.opset != model_opset
