"""Fixes the export wizard applies itself, without editing the user's code.

Each fix is a changed :class:`ExportConfig`: another exporter, another opset, float64 cast to
float32 (``cast_float64``), float32 inputs and outputs around float16 weights (``float32_io``),
or a dim declared dynamic or static. :func:`offered_fixes` says which fix fits which finding of
an export (the one table :data:`FIXES`, code → kinds of fix); the wizard offers each beside its
finding, exports again with the fixed config and shows :func:`compare_checklists`, each check
before → after. ``onnx-inspector export --cast-float64 / --float32-io`` set the same fields.

:func:`adjust_model` is the child side: the driver calls it on the loaded model and its example
inputs, so the casts happen where torch is, and never in the user's file.

Known limitations: a fix is offered for what it plausibly repairs, not proven to: the export
that follows says whether it did. ``float32_io`` casts every floating input to the weights'
half dtype, so a model that wants some float inputs in float32 is not served.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from inspector.core.export.config import BATCH_SYMBOL, DynamicDim, ExportConfig
from inspector.core.findings import Finding

#: finding code → the kinds of fix that can repair it, in the order they are offered.
FIXES: dict[str, tuple[str, ...]] = {
    "unsupported-aten-op": ("exporter", "opset"),
    "custom-op-no-translation": ("exporter",),
    "custom-autograd-function": ("exporter",),
    "data-dependent-control-flow": ("exporter",),
    "tensor-value-baked": ("exporter",),
    "onnx-checker-failed": ("exporter",),
    "export-failed": ("exporter", "opset"),
    "opset-unsupported": ("opset", "exporter"),
    "opset-not-honored": ("opset",),
    "float64-input": ("cast_float64",),
    "fp16-on-cpu": ("float32_io",),
    "fixed-batch-dim": ("dynamic",),
    "dynamic-dim-specialized": ("static",),
    "dynamic-axis-missing": ("static",),
}

#: The opset a retry asks for where the requested one cannot be written: the lowest the
#: dynamo exporter writes natively, and a TorchScript opset every current runtime runs.
RETRY_OPSET = {"dynamo": 18, "torchscript": 17}
EXPORTER_NAMES = {"dynamo": "dynamo", "torchscript": "TorchScript"}
_DIM_RE = re.compile(r"\bdim (\d+) of '")


@dataclass(frozen=True, eq=False)
class ExportFix:
    """One fix for one finding, e.g. ``ExportFix("exporter:torchscript", "Retry with the
    TorchScript exporter", "unsupported-aten-op", config, "--exporter torchscript")``: export
    ``config`` to apply it."""

    key: str  # what it changes; the same fix offered for two findings is offered once
    label: str  # the button's text
    code: str  # the finding code it addresses
    config: ExportConfig  # the settings to export with
    cli: str  # the same on the command line, e.g. "--exporter torchscript"


def offered_fixes(
    findings: list[Finding], cfg: ExportConfig, input_names: list[str], file_opset: int | None
) -> list[list[ExportFix]]:
    """Per finding, the fixes offered beside it; a fix is offered once, beside the first
    finding it addresses. ``input_names`` as exported, ``file_opset`` the file's (or None)."""
    seen: set[str] = set()
    out = []
    for f in findings:
        mine = [x for x in fixes_for(f, cfg, input_names, file_opset) if x.key not in seen]
        seen.update(x.key for x in mine)
        out.append(mine)
    return out


def translations_fix(cfg: ExportConfig, path: str) -> ExportFix:
    """Export again passing the translations file ``path`` (what the stubs offered for ops with
    no ONNX translation were saved to, and maybe filled in) back to the dynamo exporter."""
    name = Path(path).name
    changed = replace(cfg, exporter="dynamo", translations=path)
    return ExportFix(
        "translations",
        f"Retry with the translations in {name}",
        "unsupported-aten-op",
        changed,
        f"--translations {path}",
    )


def fixes_for(
    f: Finding, cfg: ExportConfig, input_names: list[str], file_opset: int | None = None
) -> list[ExportFix]:
    """The fixes of :data:`FIXES` that apply to ``f`` under ``cfg`` (none that change
    nothing, or that the exporter cannot take)."""
    out: list[ExportFix] = []
    for kind in FIXES.get(f.code, ()):
        fix = _FIX_BUILDERS[kind](f, cfg, input_names, file_opset)
        if fix is not None:
            out.append(fix)
    return out


def _exporter(f: Finding, cfg: ExportConfig, _names: list[str], _opset: int | None):
    other = "torchscript" if cfg.exporter == "dynamo" else "dynamo"
    if other == "dynamo" and cfg.source_kind == "torchscript":
        return None  # torch.export refuses a ScriptModule
    opset = cfg.opset
    # Keep the requested opset where the other exporter can write it, else its default.
    if opset is not None and (opset < 18 if other == "dynamo" else opset > 20):
        opset = None
    label = f"Retry with the {EXPORTER_NAMES[other]} exporter"
    changed = replace(cfg, exporter=other, opset=opset)  # type: ignore[arg-type]
    cli = f"--exporter {other}" + (" without --opset" if opset != cfg.opset else "")
    return ExportFix(f"exporter:{other}", label, f.code, changed, cli)


def _opset(f: Finding, cfg: ExportConfig, _names: list[str], file_opset: int | None):
    # A file written at another opset than asked: ask for the one it has, so the file and the
    # settings agree; an opset the exporter refuses: the retry opset; an op missing at an older
    # opset than that (TorchScript: "cannot be exported at opset 10"): the retry opset too.
    target = file_opset if f.code == "opset-not-honored" else RETRY_OPSET.get(cfg.exporter)
    if target is None or target == cfg.opset:
        return None
    if not f.code.startswith("opset-") and (cfg.opset is None or cfg.opset > target):
        return None
    label, changed = f"Retry with opset {target}", replace(cfg, opset=target)
    return ExportFix(f"opset:{target}", label, f.code, changed, f"--opset {target}")


def _cast_float64(f: Finding, cfg: ExportConfig, _names: list[str], _opset: int | None):
    if cfg.cast_float64:
        return None
    label = "Cast float64 inputs to float32 and retry"
    changed = replace(cfg, cast_float64=True)
    return ExportFix("cast-float64", label, f.code, changed, "--cast-float64")


def _float32_io(f: Finding, cfg: ExportConfig, _names: list[str], _opset: int | None):
    if cfg.float32_io:
        return None
    label = "Export with float32 inputs and outputs (keep float16 weights)"
    return ExportFix("float32-io", label, f.code, replace(cfg, float32_io=True), "--float32-io")


def _dynamic(f: Finding, cfg: ExportConfig, names: list[str], _opset: int | None):
    # fixed-batch-dim names the input whose dim 0 behaves as a batch.
    if f.tensor is None or f.tensor not in names:
        return None
    dims = cfg.dynamic_dims(names)
    if any((d.input, d.dim) == (f.tensor, 0) for d in dims):
        return None
    label = f"Declare {BATCH_SYMBOL} dynamic" + (f" on '{f.tensor}'" if len(names) > 1 else "")
    changed = replace(cfg, dynamic=[*cfg.dynamic, DynamicDim(f.tensor, 0, BATCH_SYMBOL)])
    cli = f"--dynamic {f.tensor}:0:{BATCH_SYMBOL}"
    return ExportFix(f"dynamic:{f.tensor}:0", label, f.code, changed, cli)


def _static(f: Finding, cfg: ExportConfig, names: list[str], _opset: int | None):
    dims = cfg.dynamic_dims(names)
    # The finding names its input (tensor) and usually the dim ("dim 0 of 'x'"); without an
    # input, the PyTorch model failed at another size of some dim: make every one static.
    m = _DIM_RE.search(f.message)
    drop = [
        d
        for d in dims
        if f.tensor is None or (d.input == f.tensor and (m is None or d.dim == int(m.group(1))))
    ]
    if not drop:
        return None
    if f.tensor is None:
        label, key = "Make the dynamic dims static", "static:*"
    else:
        label = f"Make dim {drop[0].dim} of '{f.tensor}' static"
        key = f"static:{f.tensor}:" + ",".join(str(d.dim) for d in drop)
    # dynamic_batch is spelled out so that only the dropped dims stop being dynamic.
    kept = [d for d in dims if d not in drop]
    cli = (
        "only " + " ".join(f"--dynamic {d.input}:{d.dim}:{d.symbol}" for d in kept)
        if kept
        else "without --dynamic or --dynamic-batch"
    )
    changed = replace(cfg, dynamic=kept, dynamic_batch=False)
    return ExportFix(key, label, f.code, changed, cli)


_FIX_BUILDERS = {
    "exporter": _exporter,
    "opset": _opset,
    "cast_float64": _cast_float64,
    "float32_io": _float32_io,
    "dynamic": _dynamic,
    "static": _static,
}


# -- before and after -------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckChange:
    """One check before and after a fix, e.g. ``CheckChange("ONNX Runtime session", "failed",
    "passed", "")``; a status is ``"not run"`` where that export did not run the check."""

    name: str
    before: str
    after: str
    detail: str  # the after's detail, else the before's


NOT_RUN = "not run"


def compare_checklists(
    before: list[dict[str, str]], after: list[dict[str, str]]
) -> list[CheckChange]:
    """Each check of either checklist, in the after's order, then those only run before."""
    old = {row["name"]: row for row in before}
    new = {row["name"]: row for row in after}
    out = [
        CheckChange(
            name, old.get(name, {}).get("status", NOT_RUN), row["status"], row.get("detail", "")
        )
        for name, row in new.items()
    ]
    out += [
        CheckChange(name, row["status"], NOT_RUN, row.get("detail", ""))
        for name, row in old.items()
        if name not in new
    ]
    return out


# -- the child side ---------------------------------------------------------------------------


def adjust_model(
    cfg: ExportConfig, model: Any, args: tuple, names: list[str], log: Any
) -> tuple[Any, tuple]:
    """The model and example inputs with ``cfg``'s casts applied (both unchanged without
    them); ``names`` are the inputs' names. Runs in the export's child (imports torch);
    ``log`` takes one line per change."""
    import torch

    if cfg.cast_float64:
        casted = 0
        for t in [*model.parameters(), *model.buffers()]:
            if t.dtype == torch.float64:
                t.data = t.data.float()
                casted += 1
        args = tuple(a.float() if a.dtype == torch.float64 else a for a in args)
        log(f"[inspector] cast float64 to float32: the inputs and {casted} weights or buffers")
    if cfg.float32_io:
        halves = {t.dtype for t in [*model.parameters(), *model.buffers()]}
        half = next((d for d in (torch.float16, torch.bfloat16) if d in halves), None)
        args = tuple(a.float() if a.is_floating_point() else a for a in args)
        if half is not None:
            model = _float32_io(model, half, names)
        log(
            "[inspector] float32 inputs and outputs"
            + (f" around the {str(half)[6:]} weights" if half is not None else "")
        )
    return model, args


def _float32_io(model: Any, half: Any, names: list[str]) -> Any:
    """``model`` behind Casts: float inputs to ``half`` on the way in, float outputs to float32
    on the way out, so the file's inputs and outputs are float32 and its weights stay half."""
    import inspect

    import torch

    class Float32IO(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *args: Any) -> Any:
            args = tuple(a.to(half) if a.is_floating_point() else a for a in args)
            out = self.model(*args)
            return torch.utils._pytree.tree_map(
                lambda t: t.float() if isinstance(t, torch.Tensor) and t.is_floating_point() else t,
                out,
            )

    # torch.export matches dynamic_shapes to forward's parameters: give it the model's names.
    params = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names]
    this = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    Float32IO.forward.__signature__ = inspect.Signature([this, *params])  # type: ignore[attr-defined]
    return Float32IO().eval()
