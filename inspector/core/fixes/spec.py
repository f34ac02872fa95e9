"""What a fix is asked to do (:class:`FixSpec`), and the tolerance its result is held to.

Standard library only (the export config's dim parser aside), so the CLI and the window's Fix
menu build a spec without importing onnx.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from inspector.core.export.config import ConfigError, DynamicDim

#: The kinds of fix, as the CLI names them (``--to-float16`` → ``float16``).
KINDS = ("float16", "float32", "cast-inputs", "opset", "dynamic", "simplify")
#: The dtypes ``--cast-inputs`` takes: graph inputs of any other float type become this one.
CAST_TARGETS = ("float32", "float16", "float64")

# Default tolerances (rtol, atol) of the comparison with the original, per kind. float16 keeps
# ~3 significant digits and every op rounds again: 1e-2 relative covers the error measured on
# the torch exports (largest 1.9e-3 absolute, the transformer) with room for deeper networks.
# A cast of float64 inputs to float32 rounds each input once (relative 6e-8) and the model
# then computes as before. Opset conversion, a dynamic dim and the optimizer must not change the
# arithmetic beyond kernel choice: the inference runner's own defaults.
_TOLERANCES = {
    "float16": (1e-2, 1e-3),
    "float32": (1e-2, 1e-3),  # against the float16 original: float16's own error, in reverse
    "cast-inputs": (1e-4, 1e-6),
    "opset": (1e-3, 1e-5),
    "dynamic": (1e-3, 1e-5),
    "simplify": (1e-3, 1e-5),
}


class FixSpecError(ValueError):
    """A fix asked for in a way that cannot be done (one sentence saying what to change)."""


@dataclass(frozen=True)
class FixSpec:
    """One fix: its kind and that kind's parameters.

    Examples: ``FixSpec("float16")``, ``FixSpec("float16", op_block_list=("Resize",))``,
    ``FixSpec("cast-inputs", dtype="float32")``, ``FixSpec("opset", opset=17)``,
    ``FixSpec("dynamic", dynamic="image:0:batch")``, ``FixSpec("simplify")``.
    """

    kind: str  # one of KINDS
    opset: int | None = None  # "opset": the ai.onnx opset to convert to
    dtype: str = "float32"  # "cast-inputs": what float inputs become
    dynamic: str = ""  # "dynamic": NAME:DIM:SYMBOL, e.g. "image:0:batch"
    op_block_list: tuple[str, ...] = ()  # "float16": op types kept in float32 (added to ORT's)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FixSpecError(f"unknown fix '{self.kind}'; choose one of {', '.join(KINDS)}")
        if self.kind == "opset" and (self.opset is None or self.opset < 7):
            raise FixSpecError("--opset needs an ai.onnx opset of 7 or more (ONNX Runtime's)")
        if self.kind == "cast-inputs" and self.dtype not in CAST_TARGETS:
            raise FixSpecError(
                f"--cast-inputs {self.dtype}: choose one of {', '.join(CAST_TARGETS)}"
            )
        if self.kind == "dynamic":
            self.dynamic_dim()  # raises FixSpecError on a malformed NAME:DIM:SYMBOL

    def dynamic_dim(self) -> DynamicDim:
        """The ``dynamic`` text parsed, with the export wizard's parser."""
        try:
            return DynamicDim.parse(self.dynamic)
        except ConfigError as e:
            raise FixSpecError(str(e)) from e

    @property
    def option(self) -> str:
        """The fix as the command line writes it: ``--to-float16``, ``--opset 17``."""
        return {
            "float16": "--to-float16",
            "float32": "--to-float32",
            "cast-inputs": f"--cast-inputs {self.dtype}",
            "opset": f"--opset {self.opset}",
            "dynamic": f"--dynamic {self.dynamic}",
            "simplify": "--simplify",
        }[self.kind]

    def tolerances(self) -> tuple[float, float]:
        """The default (rtol, atol) the comparison with the original is held to."""
        return _TOLERANCES[self.kind]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["op_block_list"] = list(self.op_block_list)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FixSpec:
        return cls(**{**d, "op_block_list": tuple(d.get("op_block_list", ()))})
