"""NNAPI and CoreML: which nodes they take, read from the support lists the onnxruntime wheel ships.

The data is the wheel's own: ``onnxruntime/tools/mobile_helpers/nnapi_supported_ops.md``,
``coreml_supported_neuralnetwork_ops.md`` and ``coreml_supported_mlprogram_ops.md`` (one markdown
table each, ``|domain:op|note|``; found without importing onnxruntime). Nothing is retyped here.

The rules are the ones ONNX Runtime's usability checker
(``python -m onnxruntime.tools.check_onnx_model_mobile_usability``,
``mobile_helpers/usability_checker.py``) applies to each node, so that the partition map agrees
with it (``tests/core/test_mobile_agreement.py``):

1. the op (``domain:op_type``) is in the provider's list; a note in the list is a restriction that
   is documented, not checked, so such a node is ``restricted`` ("documented support: ...");
2. every input has a fixed shape (the checker's first pass, ``require_fixed_input_sizes``): an
   input with a symbolic or unknown dim, or of unknown type, keeps the node off the provider. As
   in the checker, a tensor whose type is known but whose rank is not counts as fixed, and an
   initializer always does;
3. CoreML: no input of rank above 5 (for Transpose, no ``perm`` longer than 5).

Known limitations, and where this differs from the checker on purpose: an omitted optional input
("") is not a shape (the checker counts it as a dynamic input, so it refuses e.g. a Resize without
``roi``); rank is checked on initializers too (the checker checks only values with a value_info).
The checker counts the graph after ONNX Runtime's basic optimizations; this module judges whatever
graph it is given (see :mod:`inspector.core.providers.placement`).
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from inspector.core.graph import Graph, Node, Value
from inspector.core.providers.verdict import Verdict

NNAPI = "NnapiExecutionProvider"
COREML = "CoreMLExecutionProvider"
MOBILE_PROVIDERS = (NNAPI, COREML)
# CoreML's ModelFormat provider option; ONNX Runtime's default is NeuralNetwork.
MODEL_FORMATS = ("NeuralNetwork", "MLProgram")
_LIST_FILES = {
    (NNAPI, ""): "nnapi_supported_ops.md",
    (COREML, "NeuralNetwork"): "coreml_supported_neuralnetwork_ops.md",
    (COREML, "MLProgram"): "coreml_supported_mlprogram_ops.md",
}
# The usability checker's max_rank: CoreML takes tensors up to rank 5; NNAPI has no limit there.
_MAX_RANK = {NNAPI: None, COREML: 5}


@dataclass(frozen=True)
class SupportList:
    """One provider's documented op list: ``"domain:op"`` → the note (restriction), or ""."""

    file: Path
    ops: dict[str, str]

    @property
    def source(self) -> str:
        return f"onnxruntime wheel: tools/mobile_helpers/{self.file.name}"


def helpers_dir() -> Path | None:
    """The installed onnxruntime's ``tools/mobile_helpers`` folder (None without the wheel)."""
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "tools" / "mobile_helpers"
    return folder if folder.is_dir() else None


def model_format(provider: str, options: dict[str, str]) -> str:
    """The list variant a provider's options choose ("" for NNAPI); raises ValueError on a
    ModelFormat CoreML does not have."""
    if provider != COREML:
        return ""
    chosen = options.get("ModelFormat", MODEL_FORMATS[0])
    if chosen not in MODEL_FORMATS:
        raise ValueError(
            f"ModelFormat={chosen} is not a CoreML model format; use one of "
            + ", ".join(MODEL_FORMATS)
        )
    return chosen


@functools.cache
def support_list(provider: str, fmt: str = "") -> SupportList | None:
    """The parsed list for ``provider`` (and CoreML model format), None when the wheel lacks it.

    Parsed as the checker parses it: a table row with exactly two cells whose first holds ':'.
    """
    folder = helpers_dir()
    name = _LIST_FILES.get((provider, fmt))
    if folder is None or name is None or not (folder / name).is_file():
        return None
    ops: dict[str, str] = {}
    for line in (folder / name).read_text(encoding="utf-8").splitlines():
        cells = line.strip().split("|")
        if line.startswith("|") and len(cells) == 4 and ":" in cells[1]:
            ops[cells[1]] = cells[2].replace("<br/>", " ").strip()
    return SupportList(folder / name, ops)


class MobileRules:
    """Judges nodes for one mobile provider; ``values`` resolves a tensor name model-wide (an
    outer-scope value inside a subgraph is judged by its definition outside)."""

    def __init__(self, provider: str, options: dict[str, str], values: dict[str, Value]) -> None:
        self.provider = provider
        self.short = "NNAPI" if provider == NNAPI else "CoreML"
        fmt = model_format(provider, options)
        if fmt:
            self.short += f" ({fmt})"
        self.list = support_list(provider, fmt)
        self.max_rank = _MAX_RANK[provider]
        self.values = values

    def verdict(self, node: Node, graph: Graph) -> Verdict:
        listed = self.list
        if listed is None:
            return Verdict(
                "unknown",
                f"the installed onnxruntime wheel ships no {self.short} support list",
                "onnxruntime wheel: tools/mobile_helpers",
            )
        key = f"{node.domain or 'ai.onnx'}:{node.op_type}"
        if key not in listed.ops:
            return Verdict("no", f"{key} is not in {self.short}'s support list", listed.source)
        for name in node.inputs:
            if not name:
                continue  # an omitted optional input has no shape to be dynamic
            value = graph.values.get(name)
            if value is None or (value.producer is None and value.type_source == "outer scope"):
                value = self.values.get(name, value)
            problem = _shape_problem(value, self.max_rank)
            if problem:
                return Verdict("no", f"input '{name}' {problem}", listed.source)
        if self.max_rank is not None and node.op_type == "Transpose":
            perm = node.attribute_values(("perm",)).get("perm")
            if isinstance(perm, (list, tuple)) and len(perm) > self.max_rank:
                return Verdict(
                    "no",
                    f"perm has rank {len(perm)}; {self.short} takes up to {self.max_rank}",
                    listed.source,
                )
        note = listed.ops[key]
        if note:
            return Verdict("restricted", f"documented support: {note}", listed.source)
        return Verdict("yes", "", listed.source)


def _shape_problem(value: Value | None, max_rank: int | None) -> str:
    """Why this input keeps the node off a mobile provider, or ""."""
    if value is None:
        return "has no known type (the mobile providers need fixed shapes)"
    if value.initializer is not None:
        shape = value.initializer.shape
    else:
        t = value.type
        if t is None:
            return "has no known type (the mobile providers need fixed shapes)"
        if t.dtype.startswith(("sequence", "map", "optional", "sparse")):
            return f"is a {t.dtype}, not a tensor of fixed shape"
        if t.shape is None:
            return ""  # known type, unknown rank: not known to be dynamic (the checker agrees)
        shape = t.shape
        if any(not isinstance(d, int) or d <= 0 for d in shape):
            dims = ",".join("?" if d is None else str(d) for d in shape)
            return f"has a dynamic shape [{dims}] (the mobile providers need fixed shapes)"
    if max_rank is not None and len(shape) > max_rank:
        return f"has rank {len(shape)}; the provider takes up to rank {max_rank}"
    return ""


def defining_values(graphs: list[Graph]) -> dict[str, Value]:
    """Tensor name → the Value where it is defined (produced, a graph input or an initializer),
    over every graph: names are unique model-wide, and a subgraph's outer-scope reference carries
    no type or initializer of its own."""
    out: dict[str, Value] = {}
    for g in graphs:
        for name, v in g.values.items():
            if v.producer is not None or v.is_input or v.initializer is not None:
                out.setdefault(name, v)
    return out
