"""ONNX translations the user passes back to the dynamo exporter, and the stubs offered for the
ops it cannot translate. Child side (imports torch); the driver calls it.

Passing back: a Python file (``--translations FILE.py``, :attr:`ExportConfig.translations`)
that defines ``custom_translation_table``, a dict ``{torch.ops.aten.OP.OVERLOAD: function}`` of
onnxscript functions, exactly what ``torch.onnx.export(..., custom_translation_table=...)``
takes. :func:`translation_table` loads it once per export.

Offering: when the export fails on an op with no translation, :func:`offer_stubs` decomposes the
captured program the way the exporter does (with the user's translations registered) and lists
*every* op left without a translation, not only the first the exporter stopped at. Where torch
decomposed an aten op into a ``prims`` op that has no translation either (``aten::erfinv`` →
``prims::erf_inv``), the stub is for the aten op, which a translation then keeps whole. Each
stub has the op's exact signature from its schema, annotated with the dtypes seen in the
captured graph, and either a working body (:mod:`.known_translations`) or a TODO body that
raises until filled in. The stubs are one Python file, ready for ``--translations``.

Known limitations: uses torch's exporter internals (``_registration``, ``_fx_passes``) as of
torch 2.13; if they change, the finding keeps its generic next steps and no stub is offered.
"""

from __future__ import annotations

import ast
import inspect
import keyword
import math
import re
import textwrap
import traceback
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from inspector.core.export.config import ExportConfig
from inspector.core.export.explain import Explained, finding
from inspector.core.export.source import SourceError, _import_user_file, source_line

#: The name the translations file must bind.
TABLE_NAME = "custom_translation_table"

_FIX_HINT = (
    f"fix the translations file: it must define {TABLE_NAME} = "
    "{torch.ops.aten.OP.OVERLOAD: onnxscript_function} (onnx-inspector export --write-stubs "
    "FILE.py writes one for the ops that fail)"
)

#: torch dtype → the onnxscript tensor type that annotates it.
_ONNX_TYPES = {
    "float32": "FLOAT",
    "float64": "DOUBLE",
    "float16": "FLOAT16",
    "bfloat16": "BFLOAT16",
    "int64": "INT64",
    "int32": "INT32",
    "int16": "INT16",
    "int8": "INT8",
    "uint8": "UINT8",
    "bool": "BOOL",
    "complex64": "COMPLEX64",
    "complex128": "COMPLEX128",
}
#: Schema scalar types → Python annotations (what onnxscript reads as attributes).
_SCALARS = {"int": "int", "float": "float", "bool": "bool", "str": "str", "number": "float"}


# -- passing translations back ----------------------------------------------------------------


@cache
def _load(path: str) -> dict[Any, Any]:
    import torch

    src = Path(path).resolve()
    try:
        module = _import_user_file(src)
    except Exception as e:
        frames = [(f.filename, f.lineno) for f in traceback.extract_tb(e.__traceback__)]
        mine = [f for f in frames if Path(f[0]) == src]
        raise SourceError(
            finding(
                "source-load-failed",
                f"the translations file '{src.name}' failed: {type(e).__name__}: {e}",
                source_line(*mine[-1]) if mine else None,
                hint=_FIX_HINT,
            )
        ) from e
    table = getattr(module, TABLE_NAME, None)
    problem = "" if isinstance(table, dict) else f"defines no {TABLE_NAME} dict"
    for key, fn in (table or {}).items() if not problem else ():
        if isinstance(key, torch._ops.OpOverloadPacket):
            problem = f"names {key} without an overload: use {key}.default (or the overload)"
        elif not isinstance(key, torch._ops.OpOverload):
            problem = f"has the key {key!r}, not an op such as torch.ops.aten.kthvalue.default"
        elif not callable(fn):
            problem = f"maps {key} to {type(fn).__name__}, not a function"
        if problem:
            break
    if problem:
        raise SourceError(finding("source-load-failed", f"'{src.name}' {problem}", hint=_FIX_HINT))
    return dict(table)


def translation_table(cfg: ExportConfig) -> dict[Any, Any] | None:
    """The user's ``custom_translation_table`` (None without ``cfg.translations``); loaded
    once per process. Raises :class:`SourceError` for a file that fails or binds no table."""
    return _load(cfg.translations) if cfg.translations else None


# -- finding what has no translation ----------------------------------------------------------


@dataclass(frozen=True)
class Missing:
    """An op to translate, e.g. ``aten::erfinv`` for a failed ``prims::erf_inv``."""

    op: Any  # the torch OpOverload the stub translates
    failed: str  # the op the exporter found no translation for ("prims::erf_inv")
    inputs: dict[str, str]  # parameter name → torch dtype of its tensor ("float32")
    outputs: tuple[str, ...]  # torch dtype of each result

    @property
    def name(self) -> str:
        """``aten::kthvalue``, ``aten::median.dim`` (torch leaves out ``.default``)."""
        return self.op.name()


def missing_ops(
    program: Any, table: dict[Any, Any] | None, opset: int | None = None
) -> list[Missing]:
    """Every op of ``program`` (a torch ExportedProgram, before the exporter's decompositions)
    with no ONNX translation, once each, after decomposing it as the dynamo exporter does with
    ``table`` registered."""
    import torch
    from torch.onnx._internal.exporter import _fx_passes, _registration

    registry = _registration.ONNXRegistry.from_torchlib(
        **({"opset_version": opset} if opset else {})
    )
    for op, fn in (table or {}).items():
        registry.register_op(op, fn)
    decomposed = _fx_passes.decompose_with_registry(program, registry)
    captured = _nodes(program)
    found: dict[Any, Missing] = {}
    for node in _nodes(decomposed):
        target = node.target
        if not isinstance(target, torch._ops.OpOverload) or registry.is_registered(target):
            continue
        if target.name().startswith(("aten::_assert", "aten::sym_constrain")):
            continue  # assertions: the exporter drops them
        original = str(node.meta.get("original_aten", ""))
        # Stub the aten op the user's code called where torch decomposed it into the op that
        # failed: its translation keeps it whole. (Compared by name: the meta's OpOverload is
        # not the torch.ops object the captured graph holds.)
        at = next((n for n in captured if str(n.target) == original), None)
        op, seen = (at.target, at) if at is not None else (target, node)
        if op not in found:
            found[op] = Missing(op, target.name(), _input_dtypes(op, seen), _output_dtypes(seen))
    return list(found.values())


def _nodes(program: Any) -> list[Any]:
    import torch

    return [
        n
        for gm in program.graph_module.modules()
        if isinstance(gm, torch.fx.GraphModule)
        for n in gm.graph.nodes
        if n.op == "call_function"
    ]


def _dtype(value: Any) -> str | None:
    """The torch dtype name of a graph node's value, a (fake) tensor, or the first of a list."""
    if isinstance(value, list | tuple):
        return next((d for d in map(_dtype, value) if d), None)
    if hasattr(value, "meta"):  # an fx.Node: its value as captured
        value = value.meta.get("val")
    dtype = getattr(value, "dtype", None)
    return str(dtype).removeprefix("torch.") if dtype is not None else None


def _input_dtypes(op: Any, node: Any) -> dict[str, str]:
    out = {}
    for i, arg in enumerate(op._schema.arguments):
        value = node.args[i] if i < len(node.args) else node.kwargs.get(arg.name)
        dtype = _dtype(value)
        if dtype:
            out[arg.name] = dtype
    return out


def _output_dtypes(node: Any) -> tuple[str, ...]:
    val = node.meta.get("val")
    vals = val if isinstance(val, list | tuple) else [val]
    return tuple(_dtype(v) or "float32" for v in vals)


# -- writing the stubs ------------------------------------------------------------------------


def _annotation(jit_type: str, dtype: str | None, used: set[str]) -> str:
    """A schema type ("Tensor", "Optional[int]", "List[Tensor]") as an onnxscript annotation."""
    m = re.fullmatch(r"(Optional|List)\[(.+)\]", jit_type)
    if m:
        inner = _annotation(m.group(2), dtype, used)
        outer = "Optional" if m.group(1) == "Optional" else "Sequence"
        used.add(outer)
        return f"{outer}[{inner}]"
    if jit_type == "Tensor":
        name = _ONNX_TYPES.get(dtype or "float32", "FLOAT")
        used.add(name)
        return name
    # ScalarType, Layout, MemoryFormat are ints in the schema; Device and the rest, strings.
    return _SCALARS.get(jit_type, "str")


def _default(value: Any, used: set[str]) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        used.add("math")
        return "math.nan" if math.isnan(value) else ("-math.inf" if value < 0 else "math.inf")
    return repr(value)


def function_name(op: Any) -> str:
    """``aten_kthvalue``, ``aten_median_dim``: the stub's Python name."""
    return re.sub(r"\W", "_", op.name().replace("::", "_"))


def stub_function(m: Missing, used: set[str]) -> tuple[str, bool]:
    """The stub's source and whether its body works (else it raises until filled in).
    ``used`` collects the names the file must import."""
    from inspector.core.export.known_translations import KNOWN

    schema = m.op._schema
    params: list[str] = []
    for arg in schema.arguments:
        if arg.kwarg_only and "*" not in params:
            params.append("*")
        name = arg.name + "_" if keyword.iskeyword(arg.name) else arg.name
        text = f"{name}: {_annotation(str(arg.type), m.inputs.get(arg.name), used)}"
        if arg.has_default_value():
            text += f" = {_default(arg.default_value, used)}"
        params.append(text)
    results = [
        _annotation(str(r.type), d, used)
        for r, d in zip(
            schema.returns, [*m.outputs, *["float32"] * len(schema.returns)], strict=False
        )
    ]
    returns = results[0] if len(results) == 1 else f"tuple[{', '.join(results)}]"
    head = f"def {function_name(m.op)}({', '.join(params)}) -> {returns if results else 'None'}:"
    if len(head) > 99:
        head = f"def {function_name(m.op)}(\n" + "".join(f"    {p},\n" for p in params)
        head += f") -> {returns if results else 'None'}:"
    known = KNOWN.get(m.name)
    if known is not None:
        body = _body(known)
        used.update(n for n in ("math",) if f"{n}." in body)
    else:
        what = " and ".join(f"one {r}" for r in results) or "nothing"
        body = textwrap.indent(
            f"# TODO: {_decomposition_note(m)}\n"
            "# Build the result from ONNX ops (op.Add, op.TopK, op.Gather, ...: the operators of\n"
            f"# opset 18, https://onnx.ai/onnx/operators/) and return {what}. This runs once per\n"
            "# node at export time: tensors are symbolic, int/float/bool arguments are Python\n"
            "# values.\n"
            f'raise NotImplementedError("{m.name}: write its ONNX translation here")\n',
            "    ",
        )
    return f'{head}\n    """{schema}"""\n{body.rstrip()}', known is not None


def _body(fn: Any) -> str:
    """The statements of ``fn`` after its docstring, as written (4-space indented)."""
    lines, _ = inspect.getsourcelines(fn)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    statements = tree.body[0].body[1:]  # type: ignore[attr-defined]
    first = statements[0].lineno
    # Comments just above the first statement belong to the body.
    while first > 1 and lines[first - 2].strip().startswith("#"):
        first -= 1
    return "".join(lines[first - 1 :])


def _decomposition_note(m: Missing) -> str:
    if m.failed != m.name:
        return (
            f"torch decomposes {m.name} (torch._decomp) into {m.failed}, which has no ONNX\n"
            f"# translation either; translating {m.name} here keeps it whole."
        )
    return f"torch has no decomposition of {m.name} into ops the exporter can translate."


def stub_file(missing: list[Missing]) -> tuple[str, list[str], list[str]]:
    """One Python file with a stub for each op, and its ``custom_translation_table``:
    (text, names with a working body, names to fill in)."""
    used: set[str] = set()
    functions, ready, todo = [], [], []
    for m in missing:
        text, works = stub_function(m, used)
        functions.append(text)
        (ready if works else todo).append(m.name)
    imports = ["import math"] if "math" in used else []
    imports += ["from collections.abc import Sequence"] if "Sequence" in used else []
    imports += ["from typing import Optional"] if "Optional" in used else []
    imports += ["", "import torch"]
    types = sorted(n for n in used if n.isupper())
    imports += [f"from onnxscript import {', '.join(types)}"] if types else []
    imports += ["from onnxscript import opset18 as op"]
    entries = "".join(
        f"    torch.ops.{m.op.namespace}.{m.op._opname}.{m.op._overloadname}: "
        f"{function_name(m.op)},\n"
        for m in missing
    )
    doc = (
        '"""ONNX translations for the dynamo exporter, written by onnx-inspector.\n\n'
        "Pass this file back: onnx-inspector export SOURCE.py --factory NAME --out OUT.onnx "
        "--translations THIS.py\n(in your own code: torch.onnx.export(..., "
        f"custom_translation_table={TABLE_NAME})).\n"
        + (f"Working translations: {', '.join(ready)}.\n" if ready else "")
        + (f"To fill in (they raise NotImplementedError): {', '.join(todo)}.\n" if todo else "")
        + '"""\n'
    )
    # Laid out as ruff format would: the user edits this file.
    head = doc + "\n" + "\n".join(imports).lstrip("\n")
    text = "\n\n\n".join([head, *functions, f"{TABLE_NAME} = {{\n{entries}}}"])
    return text + "\n", ready, todo


def offer_stubs(explained: Explained, program: Any, cfg: ExportConfig) -> tuple[Explained, str]:
    """For a failed dynamo export: the finding with next steps naming each op's signature and
    what ``--write-stubs`` gives, and the stub file's text ("" when there is none to offer)."""
    codes = ("unsupported-aten-op", "custom-op-no-translation")
    if cfg.exporter != "dynamo" or program is None or explained.finding.code not in codes:
        return explained, ""
    try:
        missing = missing_ops(program, translation_table(cfg), cfg.opset)
    except Exception:  # the finding keeps its generic next steps; the log shows why
        traceback.print_exc()
        return explained, ""
    if not missing:
        return explained, ""
    text, ready, todo = stub_file(missing)
    signatures = "; ".join(
        str(m.op._schema)
        + (
            f" (torch decomposes it into {m.failed}, which has none either)"
            if m.failed != m.name
            else ""
        )
        for m in missing
    )
    if ready and not todo:
        what = "working onnxscript translations are ready"
    elif todo and not ready:
        what = "an onnxscript stub with this signature is ready to fill in"
    else:
        what = (
            f"working translations of {', '.join(ready)} and stubs to fill in for {', '.join(todo)}"
            " are ready"
        )
    them = "it" if len(missing) == 1 else "them"
    hint = (
        f"no ONNX translation for {signatures}: {what}; write {them} with --write-stubs FILE.py "
        "(the wizard: Save translations…) and export again with --translations FILE.py (the "
        "wizard: Retry with the translations; in your own code: torch.onnx.export(..., "
        f"custom_translation_table=...)); or replace the op with ops the exporter knows"
    )
    return replace(explained, finding=replace(explained.finding, hint=hint)), text
