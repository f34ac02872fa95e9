"""The export settings the wizard edits and the CLI parses: plain data, JSON round-trip, no torch.

An :class:`ExportConfig` is everything the child-side driver needs to reproduce an export: where
the model comes from (a Python file and a factory, a TorchScript file, or a ``torch.export``
``.pt2`` archive), the example inputs (from the factory or from :class:`InputSpec` rows), which
dims are dynamic and under what name, the exporter and its options, and where the file goes. The
parent writes it as JSON next to the child (:meth:`ExportConfig.to_json`), so the two processes
share no Python objects.

Known limitations: inputs are tensors only (no nested lists, dicts or ``None`` arguments); keyword
arguments of ``forward`` are not supported.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

SourceKind = Literal["python", "torchscript", "exported_program"]
Exporter = Literal["dynamo", "torchscript"]

SOURCE_KINDS: tuple[str, ...] = ("python", "torchscript", "exported_program")
EXPORTERS: tuple[str, ...] = ("dynamo", "torchscript")
#: Input dtypes a form can offer (torch names without the ``torch.`` prefix).
INPUT_DTYPES: tuple[str, ...] = (
    "float32",
    "float16",
    "bfloat16",
    "float64",
    "int64",
    "int32",
    "int8",
    "uint8",
    "bool",
)
#: The symbol ``--dynamic-batch`` gives dim 0 of every input.
BATCH_SYMBOL = "batch"
_SYMBOL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ConfigError(ValueError):
    """The configuration cannot be exported as it stands (one sentence saying what to change)."""


@dataclass
class DynamicDim:
    """One dim of one input that must stay free in the ONNX file, e.g. ``("x", 0, "batch")``.

    Dims that share a symbol must be equal at run time (two inputs with the same batch).
    """

    input: str  # input name, as in InputSpec.name or the forward() parameter name
    dim: int  # axis index, >= 0
    symbol: str  # the dim's name in the ONNX file, e.g. "batch"

    @classmethod
    def parse(cls, text: str) -> DynamicDim:
        """Parse the CLI form ``NAME:DIM:SYMBOL`` (``x:0:batch``)."""
        parts = text.split(":")
        if len(parts) != 3 or not parts[1].strip().isdigit():
            raise ConfigError(f"--dynamic '{text}' must look like NAME:DIM:SYMBOL, e.g. x:0:batch")
        name, dim, symbol = parts[0].strip(), int(parts[1]), parts[2].strip()
        if not name or not _SYMBOL_RE.match(symbol):
            raise ConfigError(
                f"--dynamic '{text}': the input name must not be empty and the symbol must be "
                "an identifier such as batch or seq"
            )
        return cls(name, dim, symbol)


@dataclass
class InputSpec:
    """One example input built from the form when the factory gives none, e.g.
    ``InputSpec("image", "float32", [1, 3, 224, 224])``. Values are random normal (floats) or
    small non-negative integers (ints), seeded, so exports are reproducible."""

    name: str
    dtype: str = "float32"  # one of INPUT_DTYPES
    shape: list[int] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> InputSpec:
        """Parse the CLI form ``NAME:DTYPE:SHAPE`` (``image:float32:1,3,224,224``)."""
        parts = text.split(":")
        dims = parts[2].replace(" ", "").split(",") if len(parts) == 3 else []
        if len(parts) != 3 or not parts[0].strip() or not all(d.isdigit() for d in dims):
            raise ConfigError(
                f"--input '{text}' must look like NAME:DTYPE:SHAPE, e.g. image:float32:1,3,224,224"
            )
        if parts[1] not in INPUT_DTYPES:
            raise ConfigError(f"--input '{text}': dtype must be one of {', '.join(INPUT_DTYPES)}")
        return cls(parts[0].strip(), parts[1], [int(d) for d in dims])


@dataclass
class ExportConfig:
    """Everything one export needs; edited by the wizard's pages, parsed from the CLI.

    Example: ``ExportConfig(source="net.py", factory="make_model", output="net.onnx",
    dynamic=[DynamicDim("x", 0, "batch")])``.
    """

    source: str  # path of the .py file, TorchScript file or .pt2 archive
    output: str  # the .onnx file to write
    source_kind: SourceKind = "python"
    # For "python": a function or class in the file; it returns the model, or (model, inputs)
    # where inputs is a tensor or a tuple of tensors.
    factory: str = ""
    # Optional state dict loaded into the model with torch.load(weights_only=True).
    weights: str = ""
    inputs: list[InputSpec] = field(default_factory=list)  # used when the factory gives none
    dynamic: list[DynamicDim] = field(default_factory=list)
    dynamic_batch: bool = False  # shorthand: dim 0 of every input is "batch"
    exporter: Exporter = "dynamo"
    opset: int | None = None  # None: the exporter's default
    constant_folding: bool = True  # dynamo: run onnxscript's optimizer; torchscript: fold
    external_data: bool = False  # weights in OUT.onnx.data (for models over 2 GB)
    # Validation: ONNX Runtime parity with PyTorch at these sizes of every dynamic dim.
    validate: bool = True
    parity_sizes: list[int] = field(default_factory=lambda: [1, 3, 7])
    rtol: float = 1e-3
    atol: float = 1e-4
    seed: int = 0

    def dynamic_dims(self, input_names: list[str]) -> list[DynamicDim]:
        """The explicit dynamic dims plus, with ``dynamic_batch``, dim 0 of every input."""
        dims = list(self.dynamic)
        if self.dynamic_batch:
            taken = {(d.input, d.dim) for d in dims}
            dims += [DynamicDim(n, 0, BATCH_SYMBOL) for n in input_names if (n, 0) not in taken]
        return dims

    def problems(self) -> list[str]:
        """What must change before exporting (empty if nothing): for the wizard's Next button
        and the CLI's exit code 2. Only checks that need no torch and no user code."""
        out: list[str] = []
        src, dst = Path(self.source), Path(self.output)
        if self.source_kind not in SOURCE_KINDS:
            out.append(f"source kind must be one of {', '.join(SOURCE_KINDS)}")
        if not src.is_file():
            out.append(f"cannot read the source '{self.source}': no such file")
        if self.source_kind == "python" and not self.factory:
            out.append("name the function or class that builds the model (--factory)")
        if self.source_kind == "python" and src.suffix not in (".py", ""):
            out.append(
                f"'{src.name}' is not a .py file; a full-model .pt pickle is not loaded "
                "(it would run arbitrary code): save a state dict and pass it as weights"
            )
        if self.weights and not Path(self.weights).is_file():
            out.append(f"cannot read the weights '{self.weights}': no such file")
        if self.exporter not in EXPORTERS:
            out.append(f"exporter must be one of {', '.join(EXPORTERS)}")
        if self.opset is not None and not 7 <= self.opset <= 99:
            out.append(f"opset {self.opset} is not an ONNX opset version")
        if dst.suffix.lower() != ".onnx":
            out.append(f"the output '{dst.name}' must end in .onnx")
        if src.exists() and dst.exists() and src.resolve() == dst.resolve():
            out.append("the output would overwrite the source; choose another path")
        if not dst.parent.exists():
            out.append(f"cannot write '{dst}': folder '{dst.parent}' does not exist")
        for spec in self.inputs:
            if spec.dtype not in INPUT_DTYPES:
                out.append(f"input '{spec.name}': dtype {spec.dtype} is not one of {INPUT_DTYPES}")
            if any(d < 1 for d in spec.shape):
                out.append(f"input '{spec.name}': every dim of the example shape must be >= 1")
        if any(s < 1 for s in self.parity_sizes):
            out.append("parity sizes must be >= 1")
        return out

    # -- JSON -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExportConfig:
        data = dict(data)
        data["inputs"] = [InputSpec(**i) for i in data.get("inputs", [])]
        data["dynamic"] = [DynamicDim(**d) for d in data.get("dynamic", [])]
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> ExportConfig:
        return cls.from_dict(json.loads(text))
