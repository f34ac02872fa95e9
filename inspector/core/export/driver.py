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

Every finding names the user's line where torch records one (:mod:`.locate`): the traceback's
innermost frame in the user's files, the captured graph's node stack traces, the symbolic-shape
events of ``torch.export``, the tracer's warnings, or the factory's source. A cause that is no
line (an opset, an input described on the Inputs page) names the setting instead.

Known limitations: inputs are positional tensors only.
"""

from __future__ import annotations

import inspect
import os
import time
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspector.core.child import Emitter
from inspector.core.export import locate
from inspector.core.export.adjust import adjust_model
from inspector.core.export.config import DynamicDim, ExportConfig
from inspector.core.export.explain import (
    CODES,
    Explained,
    SourceLine,
    explain_error,
    failed_op,
    finding,
    user_frames,
)
from inspector.core.export.locate import OpSite, ShapeLog, innermost
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


@dataclass
class Job:
    """One export's inputs and what locating its causes needs, shared by the steps below."""

    model: Any
    args: tuple
    names: list[str]
    dims: list[DynamicDim]
    cfg: ExportConfig
    emit: Emitter
    from_factory: bool  # the example inputs came from the factory (not from input specs)
    shapes: ShapeLog = field(default_factory=ShapeLog)
    program: Any = None  # the ExportedProgram, once captured (dynamo)
    exporter: str = "dynamo"  # the exporter really used
    _sites: list[OpSite] | None = None

    def sites(self) -> list[OpSite]:
        """The model's ops with their user lines: from an eager forward pass, else from the
        ExportedProgram's nodes. Computed once, when a finding first needs a line."""
        if self._sites is None:
            self._sites = locate.eager_sites(self.model, self.args)
            if not self._sites and self.program is not None:
                self._sites = locate.program_sites(self.program)
        return self._sites

    @property
    def user_file(self) -> str:
        return str(Path(self.cfg.source).resolve()) if self.cfg.source_kind == "python" else ""

    def find(self, code: str, message: str, source: SourceLine | None = None, **kw: Any):
        """:func:`finding` with this export's exporter (its next steps)."""
        return finding(code, message, source, exporter=self.exporter, **kw)

    def factory_place(self, words: tuple[str, ...] = ()) -> SourceLine | None:
        """The factory's line with one of ``words``, else its return: when the factory made
        the example inputs."""
        if not self.user_file or not self.from_factory:
            return None
        return locate.factory_place(self.user_file, self.cfg.factory, words)


#: Words on a factory's line that make float64 or float16 tensors.
_DTYPE_WORDS = {
    "float64-input": (".double()", "float64", "torch.double"),
    "fp16-on-cpu": (".half()", "float16", "bfloat16", "torch.half"),
}


def dtype_findings(job: Job) -> list[Explained]:
    """float64 and float16 inputs or weights: no torch message names these problems. The line
    is the factory's that made them (``model.double()``); inputs described on the Inputs page
    name that setting."""
    import torch

    found: list[Explained] = []
    weights = {p.dtype for p in job.model.parameters()} | {b.dtype for b in job.model.buffers()}
    setting = "" if job.from_factory else " (as described on the Inputs page / --input)"
    for name, a in zip(job.names, job.args, strict=False):
        if a.dtype == torch.float64:
            code, what = "float64-input", "float64"
        elif a.dtype in (torch.float16, torch.bfloat16):
            code, what = "fp16-on-cpu", str(a.dtype)[6:]
        else:
            continue
        where = job.factory_place(_DTYPE_WORDS[code])
        found.append(job.find(code, f"input '{name}' is {what}{setting}", where, tensor=name))
    codes = {f.finding.code for f in found}
    if torch.float64 in weights and "float64-input" not in codes:
        where = job.factory_place(_DTYPE_WORDS["float64-input"])
        found.append(job.find("float64-input", "the model has float64 weights or buffers", where))
    if weights & {torch.float16, torch.bfloat16} and "fp16-on-cpu" not in codes:
        where = job.factory_place(_DTYPE_WORDS["fp16-on-cpu"])
        found.append(job.find("fp16-on-cpu", "the model has float16 weights", where))
    return found


def made_dtype_findings(job: Job, found: list[Explained]) -> list[Explained]:
    """float64 or float16 tensors made inside forward (a cast, a constant, a promotion) when
    the inputs and weights gave no such finding: the node that made the first one."""
    codes = {f.finding.code for f in found}
    if not _file_has_wide_or_half(job.cfg.output):
        return []  # nothing to find, and running the model again for the lines is not free
    new = []
    for code, dtypes, what in (
        ("float64-input", ("float64",), "float64"),
        ("fp16-on-cpu", ("float16", "bfloat16"), "float16"),
    ):
        where = None if code in codes else locate.dtype_place(job.sites(), dtypes)
        if where is not None:
            new.append(job.find(code, f"the model's code makes a {what} tensor", where))
    return new


def _file_has_wide_or_half(path: str) -> bool:
    """Whether the ONNX file holds a float64, float16 or bfloat16 value, initializer or Cast."""
    import onnx

    wanted = {onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16}
    proto = onnx.load(path, load_external_data=False)
    g = proto.graph
    values = [*g.input, *g.output, *g.value_info]
    if any(v.type.tensor_type.elem_type in wanted for v in values):
        return True
    if any(t.data_type in wanted for t in g.initializer):
        return True
    for node in g.node:
        for a in node.attribute:
            if (a.name == "to" and a.i in wanted) or (
                a.name == "value" and a.t.data_type in wanted
            ):
                return True
    return False


# -- exporting --------------------------------------------------------------------------------


def export(job: Job, branches: list[SourceLine]) -> list[Explained]:
    """Export to ``cfg.output``; the findings about the export (``job.program`` is set when
    the dynamo exporter captured one). ``branches``: the shape tests in the source, the lines
    of last resort for a baked branch."""
    import torch

    if job.cfg.exporter == "torchscript":
        job.exporter = "torchscript"
        return _export_torchscript(job)
    if isinstance(job.model, torch.jit.ScriptModule):
        # torch.export (and so the dynamo exporter) refuses ScriptModules outright.
        job.emit.log(
            "[inspector] a TorchScript model: using the TorchScript exporter (dynamo cannot "
            "export it)"
        )
        job.exporter = "torchscript"
        found = _export_torchscript(job)
        note = finding(
            "exporter-switched",
            "exported with the TorchScript exporter: the dynamo exporter cannot take a "
            "TorchScript model",
        )
        return [note, *found]
    return _export_dynamo(job, branches)


def _export_dynamo(job: Job, branches: list[SourceLine]) -> list[Explained]:
    import torch
    from torch.export import Dim

    cfg, names, dims = job.cfg, job.names, job.dims
    found: list[Explained] = []
    # Dim.AUTO, not named Dims: the export then succeeds where the model fixes a dim, and the
    # specialization is reported below with its line (from the shape events torch logs).
    shapes = tuple({d.dim: Dim.AUTO for d in dims if d.input == n} or None for n in names)
    step(
        job.emit,
        0.2,
        "capturing the graph",
        "capturing the graph with torch.export.export(strict=False)",
    )
    with job.shapes:
        job.program = torch.export.export(
            job.model, job.args, dynamic_shapes=shapes if dims else None, strict=False
        )
    placeholders = _user_input_shapes(job.program)
    symbols: dict[str, str] = {}  # torch's symbol ("s77") → the user's ("batch")
    for d in dims:
        shape = placeholders.get(names.index(d.input)) if d.input in names else None
        if shape is None or d.dim >= len(shape):
            continue
        size = shape[d.dim]
        if isinstance(size, int):
            found.append(_specialized(job, d, size))
        else:
            symbols[str(size)] = d.symbol
            found += _narrowed_range(job, size, d, branches)
    step(
        job.emit,
        0.5,
        "translating to ONNX",
        f"translating to ONNX (opset {cfg.opset or 'default'})",
    )
    try:
        onnx_program = torch.onnx.export(
            job.program,
            job.args,
            dynamo=True,
            opset_version=cfg.opset,
            optimize=cfg.constant_folding,
            input_names=names,
            verbose=False,
            custom_translation_table=translation_table(cfg),
        )
    except Exception as e:
        e.program = job.program  # type: ignore[attr-defined]
        raise
    _rename_dims(onnx_program.model, symbols)
    step(job.emit, 0.75, "saving", f"saving {cfg.output}")
    onnx_program.save(cfg.output, external_data=cfg.external_data)
    return found


def _specialized(job: Job, d: DynamicDim, size: int) -> Explained:
    """A dim marked dynamic that torch.export fixed: where the code fixed it (the shape event's
    stack), or the factory's example when its size is 0 or 1 (always specialized)."""
    example = job.args[job.names.index(d.input)].shape[d.dim]
    what = f"dim {d.dim} of '{d.input}' ('{d.symbol}') was marked dynamic but "
    if example in (0, 1):
        where = job.factory_place()
        made = "by the factory" if where is not None else "as described on the Inputs page"
        message = (
            f"{what}its example size is {example} ({made}), which torch.export always fixes; "
            "give an example size of 2 or more"
        )
    else:
        where = job.shapes.specialized(d.input, d.dim)
        if where is not None and locate.shape_test_at(where.path, where.line):
            # len(t) or int(t.shape[0]) in an if: the size became a plain int, so the dim was
            # fixed and only the branch taken at the example size was exported.
            return job.find(
                "branch-baked",
                f"{what}a shape test in the code turned it into the number {size}: the dim "
                "is fixed and only the branch taken at that size was exported",
                where,
                tensor=d.input,
            )
        message = (
            f"{what}the model's code fixed it to {size}; torch.export did so silently and the "
            "ONNX file would still show a name for it"
        )
    # A named Dim makes torch.export stop at the line that fixes the dim, until it is fixed.
    declare = (
        f"; then declare it: dynamic_shapes={{'{d.input}': {{{d.dim}: "
        f"torch.export.Dim('{d.symbol}', min=2)}}}} (torch.export then fails while the code "
        "still fixes it)"
    )
    hint = CODES["dynamic-dim-specialized"][1] + declare
    return job.find("dynamic-dim-specialized", message, where, tensor=d.input, hint=hint)


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
    job: Job, size: Any, d: DynamicDim, branches: list[SourceLine]
) -> list[Explained]:
    # A Python `if` on the size adds a guard that narrows the symbol's range (e.g. batch <= 4):
    # torch keeps the branch taken at the example size and records the range, silently.
    symbol = str(size.node.expr)
    for sym, rng in job.program.range_constraints.items():
        if str(sym) != symbol:
            continue
        upper = rng.upper
        bounded = str(upper) not in ("int_oo", "oo") and int(upper) < 2**62
        if bounded or int(rng.lower) > 2:
            where = job.shapes.guarded(symbol) or (branches[0] if branches else None)
            return [
                job.find(
                    "branch-baked",
                    f"'{d.symbol}' (dim {d.dim} of '{d.input}') is only valid in "
                    f"[{rng.lower}, {upper}]: a shape test in the code chose one branch at "
                    "export time",
                    where,
                    tensor=d.input,
                )
            ]
    return []


def _rename_dims(model: Any, symbols: dict[str, str]) -> None:
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


def _export_torchscript(job: Job) -> list[Explained]:
    import torch

    cfg = job.cfg
    axes: dict[str, dict[int, str]] = {}
    for d in job.dims:
        axes.setdefault(d.input, {})[d.dim] = d.symbol
    what = f"exporting with the TorchScript exporter (opset {cfg.opset or 'default'})"
    step(job.emit, 0.2, "exporting", what)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.onnx.export(
            job.model,
            job.args,
            cfg.output,
            dynamo=False,
            opset_version=cfg.opset,
            do_constant_folding=cfg.constant_folding,
            input_names=job.names,
            dynamic_axes=axes or None,
        )
    found: list[Explained] = []
    seen: set[tuple[str, int]] = set()
    for w in caught:
        # The tracer warns where a tensor became a Python bool, number, list or NumPy array, or
        # where len() read a shape: the branch taken, or the value, for the example input is
        # baked into the file.
        place = (w.filename, w.lineno)
        if w.category.__name__ != "TracerWarning" or place in seen:
            continue
        if not user_frames("", [place], job.user_file):
            continue
        seen.add(place)
        where = source_line(*place)
        if locate.shape_test_at(w.filename, w.lineno):
            code, what = "branch-baked", "the branch taken for the example's shape was baked"
        elif locate.in_autograd_function(w.filename, w.lineno):
            code = "custom-autograd-function"
            what = "a value computed in a custom autograd Function's forward was baked"
        elif "boolean" in str(w.message):
            code = "data-dependent-control-flow"
            what = "the branch taken for the example input was baked into the file"
        else:
            code = "tensor-value-baked"
            what = "its value for the example input was baked into the file as a constant"
        found.append(
            job.find(code, f"the tracer turned a tensor into a Python value: {what}", where)
        )
    return found


def locate_error(exc: BaseException, job: Job) -> Explained:
    """Translate an export exception, with the user's source line where it can be found: the
    op that has no translation where it was called (the captured graph), else the innermost
    frame of the traceback in the user's files."""
    text_parts, frames = [], []
    e: BaseException | None = exc
    while e is not None:
        text_parts.append(f"{type(e).__name__}: {e}")
        frames += [(f.filename, f.lineno) for f in traceback.extract_tb(e.__traceback__)]
        e = e.__cause__ or e.__context__
    text = "\n".join(text_parts)
    job.program = getattr(exc, "program", job.program)
    where = innermost(user_frames(text, frames, job.user_file))
    op = failed_op(text)
    return explain_error(
        text,
        where,
        job.cfg.opset,
        in_autograd_function=where is not None
        and locate.in_autograd_function(where.path, where.line),
        op_source=locate.op_place(job.sites(), op) if op else None,
        exporter=job.exporter,
    )


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
    try:
        step(emit, 0.05, "loading the model", f"loading {cfg.source} (this runs the model's code)")
        model, example, _module = load_source(cfg)
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
                        f"--dynamic names input '{d.input}', but the inputs are {', '.join(names)}: "
                        "the cause is that setting (--dynamic, the wizard's dynamic dims)",
                    )
                )
        dims = [d for d in dims if d.input in names]
        job = Job(model, args, names, dims, cfg, emit, from_factory=example is not None)
        found += dtype_findings(job)
        translation_table(cfg)  # a broken --translations file is a load error, before exporting
        branches = locate.shape_tests(job.user_file) if job.user_file else []
        timings["load"] = time.perf_counter() - t0 - timings["import"]
        t1 = time.perf_counter()
        try:
            with torch.no_grad():
                degraded = export(job, branches)
        except Exception as e:  # every exporter error becomes a finding
            traceback.print_exc()
            explained = locate_error(e, job)
            explained, result["stubs"] = offer_stubs(explained, getattr(e, "program", None), cfg)
            found.append(explained)
            result["findings"] = [f.to_dict() for f in _sorted(found)]
            return result
        timings["export"] = time.perf_counter() - t1
        found += degraded
        found += made_dtype_findings(job, found)
        # The shape tests torch or the tracer pinned come first: a baked branch found by
        # parity names them rather than the file's first shape test. torch.export records a
        # guard for every shape test it evaluates, so with dynamo an unpinned test was not
        # baked, and a mismatch elsewhere must not be blamed on it.
        pinned = [f.source for f in found if f.finding.code == "branch-baked" and f.source]
        rest = [b for b in branches if b not in pinned] if job.exporter == "torchscript" else []
        branches = pinned + rest
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
                cfg, model, args, names, dims, found, branches, job.sites, job.exporter
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
