"""The validation checklist of an export, and the reproducible script of it.

:func:`validate_export` runs in the export's child process (where PyTorch and the model are) and
checks the written file: the onnx checker, the static checks (:func:`run_checks`), the opset
against the one requested, that every dim marked dynamic is free in the file, and ONNX Runtime
parity with PyTorch on the example inputs and at other sizes of every dynamic dim (1, 3, 7 by
default). A mismatch only at other sizes, with a Python ``if`` on a shape in the source, is a
baked branch. Each check adds a checklist row (what the wizard shows with a tick or a cross)
and, when it fails, a finding.

:func:`write_script` writes a standalone Python script that repeats the export with the chosen
options, the casts of :mod:`.adjust` included (no Inspector needed to run it).

Known limitations: parity compares outputs in order (nested outputs flattened); integer inputs
at other sizes are drawn from [0, 10), which may be out of range for embeddings smaller than 10.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from inspector.core.export.config import DynamicDim, ExportConfig
from inspector.core.export.explain import Explained, SourceLine, finding, user_frames
from inspector.core.export.locate import OpSite, innermost, random_place
from inspector.core.findings import Severity

#: (rtol, atol) used instead of the config's for outputs of these dtypes: half precision
#: rounding alone exceeds the float32 tolerances.
HALF_TOLERANCE = (1e-2, 1e-2)


@dataclass
class CheckItem:
    """One row of the checklist, e.g. ``CheckItem("parity batch=7", "failed", "max |diff| 2.1
    > 1e-4 + 1e-3·|ref|")``. ``status``: passed, warning, failed or skipped."""

    name: str
    status: str
    detail: str = ""


def validate_export(
    cfg: ExportConfig,
    model: Any,
    args: tuple,
    names: list[str],
    dims: list[DynamicDim],
    found: list[Explained],
    branches: list[SourceLine],
    sites: Callable[[], list[OpSite]] | None = None,
    exporter: str = "dynamo",
) -> tuple[list[Explained], list[dict[str, Any]], int | None]:
    """(new findings, checklist rows as dicts, the file's ai.onnx opset). ``found`` holds the
    export's findings so far; they are not repeated. ``branches``: the shape tests that may be
    baked, most likely first; ``sites``: the captured graph's ops with their user lines (to
    name the random op behind a parity mismatch); ``exporter`` picks the next steps."""
    import onnx

    def find(code: str, message: str, source: SourceLine | None = None, **kw: Any) -> Explained:
        return finding(code, message, source, exporter=exporter, **kw)

    new: list[Explained] = []
    items: list[CheckItem] = []
    path = Path(cfg.output)
    try:
        onnx.checker.check_model(str(path))
        items.append(CheckItem("onnx checker", "passed"))
    except Exception as e:
        new.append(find("onnx-checker-failed", str(e).splitlines()[0][:300]))
        items.append(CheckItem("onnx checker", "failed", str(e)[:200]))
    proto = onnx.load(str(path), load_external_data=False)
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    new += _opset(cfg, opset, items)
    new += _static_checks(path, items)
    new += _dynamic_axes(proto, dims, found, items)
    codes = {f.finding.code for f in [*found, *new]}
    new += _parity(cfg, model, args, names, dims, branches, codes, items, sites, find)
    return new, [asdict(i) for i in items], opset


def _opset(cfg: ExportConfig, opset: int | None, items: list[CheckItem]) -> list[Explained]:
    if cfg.opset is None or opset == cfg.opset:
        items.append(CheckItem("opset", "passed", f"opset {opset}"))
        return []
    # Higher than asked: a runtime chosen for the requested opset may refuse the file.
    severity = Severity.ERROR if opset is not None and opset > cfg.opset else Severity.WARNING
    items.append(CheckItem("opset", "failed", f"requested {cfg.opset}, file has {opset}"))
    return [
        finding(
            "opset-not-honored",
            f"opset {cfg.opset} was requested (the opset setting) but the file has opset "
            f"{opset}; the exporter only logged it",
            severity=severity,
        )
    ]


def _static_checks(path: Path, items: list[CheckItem]) -> list[Explained]:
    from inspector.core.checks.run import run_checks
    from inspector.core.graph import open_model

    checked = run_checks(open_model(path))
    errors = sum(1 for f in checked if f.severity is Severity.ERROR)
    items.append(
        CheckItem(
            "runtime support and edges",
            "failed" if errors else "warning" if checked else "passed",
            f"{len(checked)} findings, {errors} errors",
        )
    )
    return [Explained(f) for f in checked]


def _dynamic_axes(
    proto: Any, dims: list[DynamicDim], found: list[Explained], items: list[CheckItem]
) -> list[Explained]:
    """Dims marked dynamic that are a number in the file (or a name that is a number: torch
    writes a specialized dim as dim_param "2")."""
    inputs = {i.name: i.type.tensor_type.shape.dim for i in proto.graph.input}
    # a dim fixed by the code or by a shape test: already said, with its line
    specialized = {
        f.finding.tensor
        for f in found
        if f.finding.code in ("dynamic-dim-specialized", "branch-baked")
    }
    new = []
    for d in dims:
        shape = inputs.get(d.input)
        if shape is None or d.dim >= len(shape):
            continue
        dim = shape[d.dim]
        free = dim.HasField("dim_param") and not dim.dim_param.isdigit()
        label = f"{d.input}[{d.dim}] dynamic"
        if free:
            items.append(CheckItem(label, "passed", f"'{dim.dim_param}'"))
            continue
        items.append(CheckItem(label, "failed", f"fixed to {dim.dim_param or dim.dim_value}"))
        if d.input not in specialized:
            new.append(
                finding(
                    "dynamic-axis-missing",
                    f"dim {d.dim} of '{d.input}' was meant to be '{d.symbol}' but is fixed to "
                    f"{dim.dim_param or dim.dim_value} in the ONNX file",
                    tensor=d.input,
                )
            )
    return new


def _parity(
    cfg: ExportConfig,
    model: Any,
    args: tuple,
    names: list[str],
    dims: list[DynamicDim],
    branches: list[SourceLine],
    codes: set[str],
    items: list[CheckItem],
    sites: Callable[[], list[OpSite]] | None,
    find: Callable[..., Explained],
) -> list[Explained]:
    import onnxruntime as ort
    import torch

    try:
        session = ort.InferenceSession(cfg.output, providers=["CPUExecutionProvider"])
    except Exception as e:
        message = str(e).splitlines()[0][:300]
        items.append(CheckItem("ONNX Runtime session", "failed", message))
        # Say which input dtype is to blame when it is one: no torch message names it.
        for code in ("float64-input", "fp16-on-cpu"):
            if code in codes:
                return [
                    find(
                        code,
                        f"ONNX Runtime (CPU) cannot run it: {message}",
                        severity=Severity.ERROR,
                    )
                ]
        return [find("runtime-load-failed", message)]
    items.append(CheckItem("ONNX Runtime session", "passed"))
    feed_names = [i.name for i in session.get_inputs()]
    new: list[Explained] = []
    mismatched = False
    gen = torch.Generator().manual_seed(cfg.seed + 1)
    # New values at the example shape catch a value or branch baked by tracing.
    cases: list[tuple[str, tuple]] = [
        ("example inputs", args),
        ("new values", _resized(args, names, [], "", 0, gen)),
    ]
    for symbol in dict.fromkeys(d.symbol for d in dims):
        for size in cfg.parity_sizes:
            cases.append((f"{symbol}={size}", _resized(args, names, dims, symbol, size, gen)))
    for label, case in cases:
        try:
            with torch.no_grad():
                expected = _leaves(model(*case))
        except Exception as e:
            # The model itself refuses this size: the dim was never really dynamic.
            items.append(CheckItem(f"parity {label}", "failed", f"PyTorch: {e}"[:200]))
            if not codes & {"dynamic-dim-specialized", "dynamic-axis-missing"}:
                # The innermost user frame of PyTorch's own error is the line that fixes it.
                frames = [(f.filename, f.lineno) for f in traceback.extract_tb(e.__traceback__)]
                new.append(
                    find(
                        "dynamic-dim-specialized",
                        f"the PyTorch model itself fails at {label}, a size of a dim marked "
                        f"dynamic: {e}"[:300],
                        innermost(user_frames("", frames, _user_file(cfg))),
                    )
                )
                codes.add("dynamic-dim-specialized")
            continue
        try:
            got = session.run(None, dict(zip(feed_names, (a.numpy() for a in case), strict=False)))
        except Exception as e:
            items.append(CheckItem(f"parity {label}", "failed", str(e).splitlines()[0][:200]))
            if not codes & {"dynamic-dim-specialized", "dynamic-axis-missing"}:
                new.append(
                    find(
                        "dynamic-axis-missing",
                        f"ONNX Runtime fails at {label}, where PyTorch runs: "
                        + str(e).splitlines()[0][:200],
                    )
                )
                codes.add("dynamic-axis-missing")
            continue
        ok, detail = _compare(expected, got, cfg)
        items.append(CheckItem(f"parity {label}", "passed" if ok else "failed", detail))
        if ok or mismatched:
            continue  # one parity finding says it; the checklist lists every size
        mismatched = True
        if label not in ("example inputs", "new values") and branches:
            new.append(
                find(
                    "branch-baked",
                    f"ONNX Runtime and PyTorch agree on the example inputs but not at {label} "
                    f"({detail}): a Python if on a shape was baked",
                    source=branches[0],
                    severity=Severity.ERROR,
                )
            )
        else:
            where = random_place(sites()) if sites is not None else None
            why = ": a random op draws other numbers in each runtime" if where else ""
            new.append(find("parity-mismatch", f"outputs differ at {label}: {detail}{why}", where))
    return new


def _user_file(cfg: ExportConfig) -> str:
    return str(Path(cfg.source).resolve()) if cfg.source_kind == "python" else ""


def _resized(
    args: tuple, names: list[str], dims: list[DynamicDim], symbol: str, size: int, gen: Any
) -> tuple:
    """The example inputs with every dim named ``symbol`` set to ``size``, values redrawn."""
    import torch

    out = []
    for name, a in zip(names, args, strict=False):
        shape = list(a.shape)
        for d in dims:
            if d.input == name and d.symbol == symbol and d.dim < len(shape):
                shape[d.dim] = size
        if a.dtype.is_floating_point:
            out.append(torch.randn(shape, generator=gen).to(a.dtype))
        elif a.dtype == torch.bool:
            out.append(torch.randint(0, 2, shape, generator=gen).bool())
        else:
            high = max(1, min(10, int(a.max()) + 1)) if a.numel() else 10
            out.append(torch.randint(0, high, shape, generator=gen).to(a.dtype))
    return tuple(out)


def _leaves(output: Any) -> list[Any]:
    import torch

    leaves = torch.utils._pytree.tree_leaves(output)
    return [t.detach().numpy() for t in leaves if isinstance(t, torch.Tensor)]


def _compare(expected: list[Any], got: list[Any], cfg: ExportConfig) -> tuple[bool, str]:
    """(all outputs close, "max |diff| … with rtol …, atol …")."""
    import numpy as np

    if len(expected) != len(got):
        return False, f"{len(got)} ONNX outputs for {len(expected)} PyTorch outputs"
    worst, rtol, atol = 0.0, cfg.rtol, cfg.atol
    for e, g in zip(expected, got, strict=True):
        if e.dtype in (np.float16,) or g.dtype == np.float16:
            rtol, atol = max(rtol, HALF_TOLERANCE[0]), max(atol, HALF_TOLERANCE[1])
        if e.shape != g.shape:
            return False, f"shape {list(g.shape)} in ONNX, {list(e.shape)} in PyTorch"
    ok = True
    for e, g in zip(expected, got, strict=True):
        e64, g64 = e.astype(np.float64), g.astype(np.float64)
        if e.size:
            worst = max(worst, float(np.nanmax(np.abs(e64 - g64))))
        ok = ok and bool(np.allclose(g64, e64, rtol=rtol, atol=atol, equal_nan=True))
    return ok, f"max |diff| {worst:.3g}, rtol {rtol:g}, atol {atol:g}"


# -- the reproducible script ------------------------------------------------------------------

_SCRIPT = '''"""Export {name} to ONNX as ONNX Inspector did (written by onnx-inspector; edit freely).

Run: python {script_name}
"""

from __future__ import annotations

import importlib.util
import sys

import onnx_ir
import torch

SOURCE = {source!r}
OUTPUT = {output!r}

torch.manual_seed({seed})
{load}
model.eval()
{inputs}
{adjust}{export}
print("wrote", OUTPUT)
'''


def write_script(cfg: ExportConfig, path: str | Path, names: list[str] | None = None) -> Path:
    """Write a standalone script that repeats the export of ``cfg``; returns its path.

    ``names`` are the input names the driver found (forward()'s parameters) when the config has
    no input specs. The script names dynamic dims with ``torch.export.Dim(symbol)``, so a
    model that specializes a dynamic dim fails loudly there instead of degrading silently.
    """
    path = Path(path)
    source = str(Path(cfg.source).resolve())
    if cfg.source_kind == "python":
        load = (
            f"sys.path.insert(0, {str(Path(source).parent)!r})\n"
            'spec = importlib.util.spec_from_file_location("user_model", SOURCE)\n'
            "module = importlib.util.module_from_spec(spec)\n"
            'sys.modules["user_model"] = module\n'
            "spec.loader.exec_module(module)\n"
            f"made = module.{cfg.factory}()\n"
            "model, example = made if isinstance(made, tuple) else (made, None)"
        )
    elif cfg.source_kind == "torchscript":
        load = 'model, example = torch.jit.load(SOURCE, map_location="cpu"), None'
    else:
        load = (
            "program = torch.export.load(SOURCE)\n"
            "model = program.module()\n"
            "example = program.example_inputs[0] if program.example_inputs else None"
        )
    if cfg.weights:
        load += (
            f"\nmodel.load_state_dict(torch.load({str(Path(cfg.weights).resolve())!r}, "
            'map_location="cpu", weights_only=True))'
        )
    specs = ", ".join(f"make({s.dtype!r}, {list(s.shape)!r})" for s in cfg.inputs)
    inputs = (
        "gen = torch.Generator().manual_seed(SEED)\n\n\n"
        "def make(dtype, shape):\n"
        "    dtype = getattr(torch, dtype)\n"
        "    if dtype.is_floating_point:\n"
        "        return torch.randn(shape, generator=gen).to(dtype)\n"
        "    if dtype == torch.bool:\n"
        "        return torch.randint(0, 2, shape, generator=gen).bool()\n"
        "    return torch.randint(0, 10, shape, generator=gen).to(dtype)\n\n\n"
        f"args = tuple(example) if isinstance(example, (tuple, list)) else "
        f"(example,) if example is not None else ({specs}{',' if len(cfg.inputs) == 1 else ''})"
    ).replace("SEED", str(cfg.seed))
    names = names or [s.name for s in cfg.inputs]
    dims = cfg.dynamic_dims(names)
    # the driver exports a TorchScript model with the TorchScript exporter whatever was asked
    # (torch.export refuses ScriptModules): the script must do the same to reproduce it
    if cfg.exporter == "dynamo" and cfg.source_kind != "torchscript":
        symbols = sorted({d.symbol for d in dims})
        renames = [(names.index(d.input), d.dim, d.symbol) for d in dims]
        dim_lines = "".join(f"{s} = torch.export.Dim({s!r})\n" for s in symbols)
        shapes = (
            "("
            + "".join(
                "{" + ", ".join(f"{d.dim}: {d.symbol}" for d in dims if d.input == n) + "}, "
                if any(d.input == n for d in dims)
                else "None, "
                for n in names
            )
            + ")"
        )
        # --translations: the same custom_translation_table, from the same file
        table = (
            'spec = importlib.util.spec_from_file_location("translations", '
            f"{str(Path(cfg.translations).resolve())!r})\n"
            "translations = importlib.util.module_from_spec(spec)\n"
            "spec.loader.exec_module(translations)\n"
            if cfg.translations
            else ""
        )
        export = (
            f"{dim_lines}{table}"
            "program = torch.export.export(\n"
            f"    model, args, dynamic_shapes={shapes if dims else None}, strict=False\n"
            ")\n"
            "onnx_program = torch.onnx.export(\n"
            f"    program, args, dynamo=True, opset_version={cfg.opset!r},\n"
            f"    optimize={cfg.constant_folding!r}, input_names={names!r},\n"
            + (
                "    custom_translation_table=translations.custom_translation_table,\n"
                if table
                else ""
            )
            + ")\n"
            "# torch names a dim shared by several inputs itself (s3): give it the chosen name.\n"
            "user = list(program.graph_signature.user_inputs)\n"
            "shapes = {n.name: n.meta['val'].shape for n in program.graph.nodes if n.name in user}\n"
            f"rename = {{str(shapes[user[i]][dim]): sym for i, dim, sym in {renames!r}}}\n"
            "graph = onnx_program.model.graph\n"
            "for value in [*graph.inputs, *graph.outputs,\n"
            "              *(v for node in graph.all_nodes() for v in node.outputs)]:\n"
            "    if value.shape is not None:\n"
            "        value.shape = onnx_ir.Shape([\n"
            "            onnx_ir.SymbolicDim(rename.get(s.value, s.value))\n"
            "            if isinstance(s, onnx_ir.SymbolicDim) else s for s in value.shape\n"
            "        ])\n"
            f"onnx_program.save(OUTPUT, external_data={cfg.external_data!r})"
        )
    else:
        axes: dict[str, dict[int, str]] = {}
        for d in dims:
            axes.setdefault(d.input, {})[d.dim] = d.symbol
        export = (
            "torch.onnx.export(\n"
            f"    model, args, OUTPUT, dynamo=False, opset_version={cfg.opset!r},\n"
            f"    do_constant_folding={cfg.constant_folding!r}, input_names={names!r},\n"
            f"    dynamic_axes={axes or None!r},\n"
            ")"
        )
    text = _SCRIPT.format(
        name=Path(source).name,
        adjust=_adjust_lines(cfg, names),
        script_name=path.name,
        source=source,
        output=str(Path(cfg.output).resolve()),
        seed=cfg.seed,
        load=load,
        inputs=inputs,
        export="with torch.no_grad():\n"
        + "".join(f"    {line}\n" if line else "\n" for line in export.splitlines()),
    )
    path.write_text(text, encoding="utf-8")
    return path


def _adjust_lines(cfg: ExportConfig, names: list[str]) -> str:
    """The script's lines that apply ``cfg``'s casts (``cast_float64``, ``float32_io``) to the
    model and its inputs as the export did, or "". They carry the source of
    :func:`~inspector.core.export.adjust.adjust_model` itself, so the script needs no Inspector
    and cannot drift from what the export ran."""
    if not (cfg.cast_float64 or cfg.float32_io):
        return ""
    from inspector.core.export import adjust

    functions = "\n\n".join(inspect.getsource(f) for f in (adjust.adjust_model, adjust._float32_io))
    return (
        "\n\n# The export's adjustments, as ONNX Inspector applied them "
        "(inspector/core/export/adjust.py).\n"
        "from types import SimpleNamespace\n"
        "from typing import Any\n\n\n"
        f"{functions}\n\n"
        f"adjust = SimpleNamespace(cast_float64={cfg.cast_float64!r}, "
        f"float32_io={cfg.float32_io!r})\n"
        f"model, args = adjust_model(adjust, model, args, {names!r}, print)\n\n"
    )
