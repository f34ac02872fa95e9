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

import ast
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


@dataclass(frozen=True)
class ConfigProblem:
    """What must change in one field of an :class:`ExportConfig`, e.g.
    ``ConfigProblem("dynamic", "axis 2 is past the shape's 2 dims", "x")``."""

    # "source", "factory", "weights", "inputs", "dynamic", "exporter", "opset", "output" or
    # "validation": the wizard shows it beside that field
    field: str
    text: str
    input: str | None = None  # the input it concerns, for "inputs" and "dynamic"

    @property
    def message(self) -> str:
        """One line for the CLI: the text, naming the input it concerns."""
        return f"input '{self.input}': {self.text}" if self.input is not None else self.text


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
    # dynamo: a .py file defining custom_translation_table {torch.ops.aten.OP.OVERLOAD: fn}
    translations: str = ""
    # Fixes applied in the child without editing the user's code (inspector.core.export.adjust):
    cast_float64: bool = False  # float64 inputs, weights and buffers become float32
    float32_io: bool = False  # float16/bfloat16 weights kept; inputs and outputs float32
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
        """What must change before exporting (empty if nothing): the CLI's exit code 2."""
        return [p.message for p in self.problem_list()]

    def problems_by_field(self) -> dict[str, list[str]]:
        """Field → what must change in it: each wizard page shows its fields' and blocks Next
        on them. Fields are :attr:`ConfigProblem.field`'s."""
        out: dict[str, list[str]] = {}
        for p in self.problem_list():
            out.setdefault(p.field, []).append(p.message)
        return out

    def problem_list(self) -> list[ConfigProblem]:
        """Every problem, in field order. Only checks that need no torch and run no user code
        (a factory is looked up with ``ast``)."""
        out: list[ConfigProblem] = []

        def add(field_name: str, message: str, input_name: str | None = None) -> None:
            out.append(ConfigProblem(field_name, message, input_name))

        src, dst = Path(self.source).expanduser(), Path(self.output).expanduser()
        if self.source_kind not in SOURCE_KINDS:
            add("source", f"The source kind must be one of {', '.join(SOURCE_KINDS)}.")
        if not self.source:
            add("source", "Choose the file the model is loaded from.")
        elif not src.is_file():
            add("source", f"There is no file '{self.source}' (no such file).")
        elif self.source_kind == "python" and src.suffix != ".py":
            add(
                "source",
                f"'{src.name}' is not a .py file. A full-model .pt pickle is not loaded (it "
                "would run arbitrary code): save a state dict and give it as the weights.",
            )
        elif self.source_kind == "exported_program" and src.suffix != ".pt2":
            add("source", f"'{src.name}' is not a .pt2 archive (torch.export.save writes one).")
        if self.source_kind == "python":
            if not self.factory:
                add("factory", "Name the function or class that builds the model (--factory).")
            elif not self.factory.isidentifier():
                add("factory", f"'{self.factory}' is not a Python name (letters, digits and _).")
            elif not any(p.field == "source" for p in out):
                bound = top_level_names(src)
                if bound is not None and self.factory not in bound:
                    known = ", ".join(factory_candidates(src)[:8]) or "none"
                    add(
                        "factory",
                        f"'{src.name}' defines no '{self.factory}' (it defines: {known}).",
                    )
        if self.weights and not Path(self.weights).expanduser().is_file():
            add("weights", f"There is no weights file '{self.weights}'.")
        seen: set[str] = set()
        for spec in self.inputs:
            if not spec.name.isidentifier():
                add("inputs", f"the name '{spec.name}' must be a Python name", spec.name)
            elif spec.name in seen:
                add("inputs", f"the name '{spec.name}' is used twice", spec.name)
            seen.add(spec.name)
            if spec.dtype not in INPUT_DTYPES:
                add("inputs", f"dtype {spec.dtype} is not one of {INPUT_DTYPES}", spec.name)
            if any(d < 1 for d in spec.shape):
                add("inputs", "every dim of the example shape must be >= 1", spec.name)
        shapes = {spec.name: spec.shape for spec in self.inputs}
        named: set[tuple[str, int]] = set()
        for d in self.dynamic_dims(list(shapes)):
            if not d.input.isidentifier():
                add("dynamic", f"the input name '{d.input}' must be a Python name", d.input)
            elif shapes and d.input not in shapes:
                add("dynamic", f"'{d.input}' is not one of the inputs", d.input)
            elif d.input in shapes and not 0 <= d.dim < len(shapes[d.input]):
                rank = len(shapes[d.input])
                add("dynamic", f"axis {d.dim} is past the shape's {rank} dims", d.input)
            if not _SYMBOL_RE.match(d.symbol):
                add("dynamic", f"'{d.symbol}' is not a name such as batch or seq", d.input)
            if (d.input, d.dim) in named:
                add("dynamic", f"axis {d.dim} is named twice", d.input)
            named.add((d.input, d.dim))
        if self.translations and not Path(self.translations).expanduser().is_file():
            add("translations", f"There is no translations file '{self.translations}'.")
        elif self.translations and self.exporter != "dynamo":
            add("translations", "Translations (custom_translation_table) need the dynamo exporter.")
        if self.exporter not in EXPORTERS:
            add("exporter", f"The exporter must be one of {', '.join(EXPORTERS)}.")
        if self.opset is not None and not 7 <= self.opset <= 99:
            add("opset", f"opset {self.opset} is not an ONNX opset version")
        if not self.output:
            add("output", "Choose where to write the ONNX file.")
        elif dst.suffix.lower() != ".onnx":
            add("output", f"The output '{dst.name}' must end in .onnx.")
        elif not dst.parent.is_dir():
            add("output", f"Cannot write '{dst}': the folder '{dst.parent}' does not exist.")
        elif dst.is_dir():
            add("output", f"'{self.output}' is a folder; give a file name ending in .onnx.")
        elif src.exists() and dst.exists() and src.resolve() == dst.resolve():
            add("output", "The output would replace the model's source; choose another path.")
        if self.validate and (not self.parity_sizes or any(s < 1 for s in self.parity_sizes)):
            add("validation", "Give parity sizes of 1 or more, e.g. 1, 3, 7.")
        if self.validate and (self.rtol < 0 or self.atol < 0):
            add("validation", "Tolerances cannot be negative.")
        return out

    def warnings(self) -> list[ConfigProblem]:
        """What exports but likely not as meant: a dynamic dim whose example size is 0 or 1,
        which torch.export specializes (the dim comes out fixed)."""
        shapes = {spec.name: spec.shape for spec in self.inputs}
        return [
            ConfigProblem(
                "dynamic",
                f"'{d.symbol}' has example size {shapes[d.input][d.dim]}; torch.export fixes "
                "sizes 0 and 1, so use 2 or more to keep it dynamic",
                d.input,
            )
            for d in self.dynamic_dims(list(shapes))
            if 0 <= d.dim < len(shapes.get(d.input, ())) and shapes[d.input][d.dim] < 2
        ]

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


def top_level_names(path: Path) -> set[str] | None:
    """Names a Python file binds at module level (def, class, assignment, import), read with
    ``ast`` so nothing runs; None when unknown (unparsable, or a ``from x import *``)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
    return names


def factory_candidates(path: Path) -> list[str]:
    """Public top-level functions and classes of a Python file (for the factory's completer)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return []
    kinds = (ast.FunctionDef, ast.ClassDef)
    return [n.name for n in tree.body if isinstance(n, kinds) and not n.name.startswith("_")]
