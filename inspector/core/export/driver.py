"""The child side of an export: the job :func:`run_export`, run by :mod:`inspector.core.child`.

Runs in its own process because it imports torch and the user's code (loading a model runs its
code): the window never does either, and Cancel or a timeout kills this process. Its progress
and ``[inspector]`` log lines go through the child protocol, with everything torch and the
user's code print (on stderr) as the rest of the live log; the outcome is the job's result:
``{"ok", "onnx", "opset", "findings": [Finding.to_dict() + source_line], "checklist": [...],
"timings": {step: seconds}}``.

Steps: load the source (:mod:`.source`), build or take the example inputs, flag
float64/float16, export (dynamo: ``torch.export.export`` with ``Dim.AUTO`` on the dims marked
dynamic, then ``torch.onnx.export`` of the ExportedProgram; or the TorchScript exporter),
translate a failure into a finding, check what the exporter degraded silently (a dim
specialized, a shape range narrowed by a Python ``if``, the opset), then validate
(:mod:`inspector.core.export.validate`).

Known limitations: inputs are positional tensors only; a dim marked dynamic that torch.export
specializes is reported, but the line of code that specialized it is not found (torch does not
record it).
"""

from __future__ import annotations

import ast
import inspect
import os
import time
import traceback
import warnings
from pathlib import Path
from typing import Any

from inspector.core.child import Emitter
from inspector.core.export.adjust import adjust_model
from inspector.core.export.config import DynamicDim, ExportConfig
from inspector.core.export.explain import (
    Explained,
    SourceLine,
    explain_error,
    finding,
    user_frames,
)
from inspector.core.export.source import SourceError, load_source, source_line
from inspector.core.export.translations import offer_stubs, translation_table
from inspector.core.findings import Severity


def step(emit: Emitter, fraction: float, message: str, detail: str) -> None:
    """A step of the export: ``message`` for the progress bar, ``detail`` for the log."""
    emit.progress(fraction, message)
    emit.log(f"[inspector] {detail}")


# -- inputs -----------------------------------------------------------------------------------


def input_names(model: Any, cfg: ExportConfig, count: int) -> list[str]:
    """Names of the model's inputs: the form's names, else forward()'s parameter names."""
    if cfg.inputs:
        return [s.name for s in cfg.inputs][:count]
    try:
        params = [
            p.name
            for p in inspect.signature(model.forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        schema = getattr(getattr(model, "forward", None), "schema", None)  # a ScriptModule
        params = [a.name for a in schema.arguments[1:]] if schema is not None else []
    if len(params) >= count:
        return params[:count]
    return [f"input_{i}" for i in range(count)]


def build_inputs(cfg: ExportConfig) -> tuple:
    """Example inputs from the form's specs, seeded (floats normal, integers in [0, 10))."""
    import torch

    gen = torch.Generator().manual_seed(cfg.seed)
    out = []
    for spec in cfg.inputs:
        dtype = getattr(torch, spec.dtype)
        if dtype.is_floating_point:
            out.append(torch.randn(spec.shape, generator=gen).to(dtype))
        elif dtype == torch.bool:
            out.append(torch.randint(0, 2, spec.shape, generator=gen).bool())
        else:
            out.append(torch.randint(0, 10, spec.shape, generator=gen).to(dtype))
    return tuple(out)


def dtype_findings(model: Any, args: tuple, names: list[str]) -> list[Explained]:
    """float64 and float16 inputs or weights: no torch message names these problems."""
    import torch

    found: list[Explained] = []
    weights = {p.dtype for p in model.parameters()} | {b.dtype for b in model.buffers()}
    for name, a in zip(names, args, strict=False):
        if a.dtype == torch.float64:
            found.append(finding("float64-input", f"input '{name}' is float64", tensor=name))
        elif a.dtype in (torch.float16, torch.bfloat16):
            found.append(
                finding("fp16-on-cpu", f"input '{name}' is {str(a.dtype)[6:]}", tensor=name)
            )
    if torch.float64 in weights and not any(f.finding.code == "float64-input" for f in found):
        found.append(finding("float64-input", "the model has float64 weights or buffers"))
    if weights & {torch.float16, torch.bfloat16} and not any(
        f.finding.code == "fp16-on-cpu" for f in found
    ):
        found.append(finding("fp16-on-cpu", "the model has float16 weights"))
    return found


def shape_branches(path: str) -> list[SourceLine]:
    """``if``/``while``/conditional expressions in the user's file whose test reads a shape
    (``.shape``, ``.size()``, ``len()``, ``.dim()``, ``.ndim``, ``.numel()``): what every
    exporter evaluates once and bakes."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, SyntaxError, UnicodeDecodeError):
        return []
    lines = text.splitlines()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.If | ast.While | ast.IfExp) and _reads_shape(node.test):
            found.append(SourceLine(path, node.lineno, lines[node.lineno - 1]))
    return sorted(found, key=lambda s: s.line)


def _reads_shape(test: ast.AST) -> bool:
    for n in ast.walk(test):
        if isinstance(n, ast.Attribute) and n.attr in ("shape", "ndim"):
            return True
        if isinstance(n, ast.Call):
            f = n.func
            if isinstance(f, ast.Attribute) and f.attr in ("size", "dim", "numel"):
                return True
            if isinstance(f, ast.Name) and f.id == "len":
                return True
    return False


# -- exporting --------------------------------------------------------------------------------


class ExportFailed(Exception):
    def __init__(self, explained: Explained) -> None:
        super().__init__(explained.finding.message)
        self.explained = explained


def export(
    model: Any,
    args: tuple,
    names: list[str],
    dims: list[DynamicDim],
    cfg: ExportConfig,
    branches: list[SourceLine],
    emit: Emitter,
    module: Any = None,
) -> tuple[Any, list[Explained]]:
    """Export to ``cfg.output``; (the ExportedProgram or None, findings about the export).
    ``branches`` are the shape tests in the source (:func:`shape_branches`)."""
    import torch

    if cfg.exporter == "torchscript":
        return None, _export_torchscript(model, args, names, dims, cfg, branches, emit, module)
    if isinstance(model, torch.jit.ScriptModule):
        # torch.export (and so the dynamo exporter) refuses ScriptModules outright.
        emit.log(
            "[inspector] a TorchScript model: using the TorchScript exporter (dynamo cannot "
            "export it)"
        )
        found = _export_torchscript(model, args, names, dims, cfg, branches, emit, module)
        note = finding(
            "exporter-switched",
            "exported with the TorchScript exporter: the dynamo exporter cannot take a "
            "TorchScript model",
        )
        return None, [note, *found]
    return _export_dynamo(model, args, names, dims, cfg, branches, emit)


def _export_dynamo(
    model: Any,
    args: tuple,
    names: list[str],
    dims: list[DynamicDim],
    cfg: ExportConfig,
    branches: list[SourceLine],
    emit: Emitter,
) -> tuple[Any, list[Explained]]:
    import torch
    from torch.export import Dim

    found: list[Explained] = []
    # Dim.AUTO, not named Dims: the export then succeeds where the model fixes a dim, and the
    # specialization is reported below with the file in hand (a named Dim fails the export
    # with a constraint message that names no line of code).
    shapes = tuple({d.dim: Dim.AUTO for d in dims if d.input == n} or None for n in names)
    step(
        emit,
        0.2,
        "capturing the graph",
        "capturing the graph with torch.export.export(strict=False)",
    )
    program = torch.export.export(
        model, args, dynamic_shapes=shapes if dims else None, strict=False
    )
    placeholders = _user_input_shapes(program)
    symbols: dict[str, str] = {}  # torch's symbol ("s77") → the user's ("batch")
    for d in dims:
        shape = placeholders.get(names.index(d.input)) if d.input in names else None
        if shape is None or d.dim >= len(shape):
            continue
        size = shape[d.dim]
        if isinstance(size, int):
            found.append(
                finding(
                    "dynamic-dim-specialized",
                    f"dim {d.dim} of '{d.input}' ('{d.symbol}') was marked dynamic but the "
                    f"model's code fixed it to {size}; torch.export did so silently and the "
                    "ONNX file would still show a name for it",
                    tensor=d.input,
                )
            )
        else:
            symbols[str(size)] = d.symbol
            found += _narrowed_range(program, size, d, branches)
    step(emit, 0.5, "translating to ONNX", f"translating to ONNX (opset {cfg.opset or 'default'})")
    try:
        onnx_program = torch.onnx.export(
            program,
            args,
            dynamo=True,
            opset_version=cfg.opset,
            optimize=cfg.constant_folding,
            input_names=names,
            verbose=False,
            custom_translation_table=translation_table(cfg),
        )
    except Exception as e:
        # The captured graph knows where each op was called: locate_error reads it.
        e.program = program  # type: ignore[attr-defined]
        raise
    _rename_dims(onnx_program.model, symbols, names, dims, found)
    step(emit, 0.75, "saving", f"saving {cfg.output}")
    onnx_program.save(cfg.output, external_data=cfg.external_data)
    return program, found


def _user_input_shapes(program: Any) -> dict[int, list[Any]]:
    """Position of each user input → its captured shape (ints where specialized)."""
    user = list(program.graph_signature.user_inputs)
    out: dict[int, list[Any]] = {}
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in user:
            val = node.meta.get("val")
            if val is not None and hasattr(val, "shape"):
                out[user.index(node.name)] = [
                    int(s) if str(s).lstrip("-").isdigit() else s for s in val.shape
                ]
    return out


def _narrowed_range(
    program: Any, size: Any, d: DynamicDim, branches: list[SourceLine]
) -> list[Explained]:
    # A Python `if` on the size adds a guard that narrows the symbol's range (e.g. batch <= 4):
    # torch keeps the branch taken at the example size and records the range, silently.
    for sym, rng in program.range_constraints.items():
        if str(sym) != str(size.node.expr):
            continue
        upper = rng.upper
        bounded = str(upper) not in ("int_oo", "oo") and int(upper) < 2**62
        if bounded or int(rng.lower) > 2:
            return [
                finding(
                    "branch-baked",
                    f"'{d.symbol}' (dim {d.dim} of '{d.input}') is only valid in "
                    f"[{rng.lower}, {upper}]: a shape test in the code chose one branch at "
                    "export time",
                    source=branches[0] if branches else None,
                    tensor=d.input,
                )
            ]
    return []


def _rename_dims(
    model: Any, symbols: dict[str, str], names: list[str], dims: list[DynamicDim], found: list
) -> None:
    """Give torch's symbols (s77) the user's names (batch) on every value of the ONNX IR."""
    import onnx_ir as ir

    if not symbols:
        return
    values = list(model.graph.inputs) + list(model.graph.outputs)
    values += [v for node in model.graph.all_nodes() for v in node.outputs]
    for value in values:
        shape = value.shape
        if shape is None or not any(
            isinstance(s, ir.SymbolicDim) and s.value in symbols for s in shape
        ):
            continue
        value.shape = ir.Shape(
            [
                ir.SymbolicDim(symbols[s.value])
                if isinstance(s, ir.SymbolicDim) and s.value in symbols
                else s
                for s in shape
            ]
        )


def _export_torchscript(
    model: Any,
    args: tuple,
    names: list[str],
    dims: list[DynamicDim],
    cfg: ExportConfig,
    branches: list[SourceLine],
    emit: Emitter,
    module: Any,
) -> list[Explained]:
    import torch

    axes: dict[str, dict[int, str]] = {}
    for d in dims:
        axes.setdefault(d.input, {})[d.dim] = d.symbol
    what = f"exporting with the TorchScript exporter (opset {cfg.opset or 'default'})"
    step(emit, 0.2, "exporting", what)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.onnx.export(
            model,
            args,
            cfg.output,
            dynamo=False,
            opset_version=cfg.opset,
            do_constant_folding=cfg.constant_folding,
            input_names=names,
            dynamic_axes=axes or None,
        )
    found: list[Explained] = []
    user_file = str(Path(cfg.source).resolve())
    shape_lines = {b.line for b in branches}
    for w in caught:
        # The tracer warns where a tensor became a Python bool, number or NumPy array: the
        # branch taken, or the value, for the example input is baked into the file.
        if w.category.__name__ != "TracerWarning" or w.filename != user_file:
            continue
        where = source_line(w.filename, w.lineno)
        if "boolean" in str(w.message):
            code = "branch-baked" if w.lineno in shape_lines else "data-dependent-control-flow"
            what = "the branch taken for the example input was baked into the file"
        else:
            code = (
                "custom-autograd-function"
                if _in_autograd_function(module, w.lineno)
                else "tensor-value-baked"
            )
            what = "its value for the example input was baked into the file as a constant"
        found.append(
            finding(code, f"the tracer turned a tensor into a Python value: {what}", where)
        )
    return found


def locate_error(exc: BaseException, cfg: ExportConfig, module: Any, program: Any) -> Explained:
    """Translate an export exception, with the user's source line where it can be found."""
    text_parts, frames = [], []
    e: BaseException | None = exc
    while e is not None:
        text_parts.append(f"{type(e).__name__}: {e}")
        frames += [(f.filename, f.lineno) for f in traceback.extract_tb(e.__traceback__)]
        e = e.__cause__ or e.__context__
    text = "\n".join(text_parts)
    user_file = str(Path(cfg.source).resolve()) if cfg.source_kind == "python" else ""
    places = user_frames(text, frames, user_file)
    where = source_line(*places[-1]) if places else None
    return explain_error(
        text,
        where,
        cfg.opset,
        in_autograd_function=where is not None and _in_autograd_function(module, where.line),
        op_source=_failed_op_source(text, program, user_file),
    )


def _in_autograd_function(module: Any, line: int) -> bool:
    import torch

    for obj in vars(module).values() if module is not None else ():
        if inspect.isclass(obj) and issubclass(obj, torch.autograd.Function):
            try:
                src, start = inspect.getsourcelines(obj)
            except (OSError, TypeError):
                continue
            if start <= line < start + len(src):
                return True
    return False


def _failed_op_source(text: str, program: Any, user_file: str) -> SourceLine | None:
    """Where the op that has no translation was called: the captured node's stack trace."""
    import re

    m = re.search(r"OpOverload\(op='[\w]+\.(\w+)'", text)
    if m is None or program is None or not user_file:
        return None
    wanted = m.group(1).lstrip("_")
    for node in program.graph.nodes:
        target = str(getattr(node, "target", ""))
        if node.op == "call_function" and wanted in target.split("."):
            places = user_frames(node.meta.get("stack_trace") or "", [], user_file)
            if places:
                return source_line(*places[-1])
    return None


# -- the whole run ----------------------------------------------------------------------------


def run(cfg: ExportConfig, emit: Emitter) -> dict[str, Any]:
    """Do the export described by ``cfg``; the result JSON as a dict."""
    result: dict[str, Any] = {"ok": False, "onnx": None, "opset": None, "checklist": []}
    found: list[Explained] = []
    timings: dict[str, float] = {}
    result["timings"] = timings
    t0 = time.perf_counter()
    try:
        import torch
    except ImportError:
        found.append(finding("torch-missing", "PyTorch is not installed in this environment"))
        result["findings"] = [f.to_dict() for f in found]
        return result
    torch.manual_seed(cfg.seed)
    timings["import"] = time.perf_counter() - t0
    program = module = None
    try:
        step(emit, 0.05, "loading the model", f"loading {cfg.source} (this runs the model's code)")
        model, example, module = load_source(cfg)
        if example is None and not cfg.inputs:
            where = {"python": f"the factory '{cfg.factory}' returns"}.get(cfg.source_kind, "")
            raise SourceError(
                finding(
                    "source-load-failed",
                    f"no example inputs: {where or 'the file holds'} none and no input was "
                    "described",
                    hint="describe each input (name, dtype, shape), e.g. "
                    "InputSpec('x', 'float32', [2, 16]) on the wizard's Inputs page, or return "
                    "(model, example_inputs) from the factory",
                )
            )
        args = example if example is not None else build_inputs(cfg)
        names = input_names(model, cfg, len(args))
        # The wizard's fixes (casts, float32 I/O) on the loaded model; the user's file is untouched.
        model, args = adjust_model(cfg, model, args, names, emit.log)
        dims = cfg.dynamic_dims(names)
        result["input_names"] = names
        for d in dims:
            if d.input not in names:
                found.append(
                    finding(
                        "dynamic-axis-missing",
                        f"--dynamic names input '{d.input}', but the inputs are {', '.join(names)}",
                    )
                )
        dims = [d for d in dims if d.input in names]
        found += dtype_findings(model, args, names)
        translation_table(cfg)  # a broken --translations file is a load error, before exporting
        branches = (
            shape_branches(str(Path(cfg.source).resolve())) if cfg.source_kind == "python" else []
        )
        timings["load"] = time.perf_counter() - t0 - timings["import"]
        t1 = time.perf_counter()
        try:
            with torch.no_grad():
                program, degraded = export(model, args, names, dims, cfg, branches, emit, module)
        except Exception as e:  # every exporter error becomes a finding
            traceback.print_exc()
            explained = locate_error(e, cfg, module, getattr(e, "program", program))
            explained, result["stubs"] = offer_stubs(explained, getattr(e, "program", None), cfg)
            found.append(explained)
            result["findings"] = [f.to_dict() for f in found]
            return result
        timings["export"] = time.perf_counter() - t1
        found += degraded
        result["ok"], result["onnx"] = True, str(Path(cfg.output).resolve())
        if cfg.validate:
            from inspector.core.export.validate import validate_export

            t2 = time.perf_counter()
            step(
                emit,
                0.8,
                "validating",
                "validating: onnx checker, static checks, ONNX Runtime parity",
            )
            checked, checklist, opset = validate_export(
                cfg, model, args, names, dims, found, branches
            )
            found += checked
            result["checklist"], result["opset"] = checklist, opset
            timings["validate"] = time.perf_counter() - t2
    except SourceError as e:
        found.append(e.explained)
    result["findings"] = [f.to_dict() for f in _sorted(found)]
    return result


def _sorted(found: list[Explained]) -> list[Explained]:
    return sorted(found, key=lambda f: Severity(f.finding.severity).rank)


def run_export(emit: Emitter, config: str) -> dict[str, Any]:
    """The job: the export described by ``config`` (:meth:`ExportConfig.to_json`)."""
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")  # export on the CPU: reproducible files
    return run(ExportConfig.from_json(config), emit)
