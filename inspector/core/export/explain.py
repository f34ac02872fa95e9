"""Exporter errors and degradations, translated into findings a user can act on.

The exporter's own messages are long (step numbers, links, "submit a PR to PyTorch") and the root
cause sits in one line of an "Exception summary" or in a chained exception. :func:`explain_error`
reads the exception chain as text and returns one finding with a code, the user's source line
where it can be found, and concrete next steps. The degradations found after a successful export
(a specialized dim, a baked branch, an opset that was not honoured, ...) are built with
:func:`finding` from the same table of codes, so the README, the wizard and the CLI agree.

Torch-free on purpose: the driver passes exception *text* and traceback frames in, so the
parent (and tests) can use this module without torch.

Next steps depend on the exporter: :data:`CODES` holds the dynamo exporter's, and
:data:`TORCHSCRIPT_STEPS` replaces them for the TorchScript exporter where they differ.

Known limitations: matching is on message patterns measured with torch 2.13 and onnxscript 0.7;
an unknown message falls back to ``export-failed`` with the exception summary as its message.
"""

from __future__ import annotations

import os
import re
import site
import sysconfig
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from inspector.core.findings import Finding, Severity

#: code → (default severity, next steps). One line each in the README.
CODES: dict[str, tuple[Severity, str]] = {
    "unsupported-aten-op": (
        Severity.ERROR,
        "replace the op with ops the exporter knows, or register a translation: "
        "torch.onnx.export(..., custom_translation_table={torch.ops.aten.OP.default: fn}) "
        "with an onnxscript function; or try the other exporter",
    ),
    "custom-autograd-function": (
        Severity.ERROR,
        "make Function.forward traceable (torch ops only, no .numpy()/.item()/Python math on "
        "tensors), or turn it into a torch.library.custom_op with a translation in "
        "custom_translation_table; backward and symbolic() are ignored by the dynamo exporter",
    ),
    "custom-op-no-translation": (
        Severity.ERROR,
        "give the custom op an ONNX translation: torch.onnx.export(..., "
        "custom_translation_table={torch.ops.NS.OP.default: onnxscript_fn}) (dynamo) or "
        "torch.onnx.register_custom_op_symbolic (torchscript), or decompose it into aten ops",
    ),
    "data-dependent-control-flow": (
        Severity.ERROR,
        "a Python if/while on tensor values is decided once while tracing: rewrite it with "
        "torch.where, or torch.cond(pred, true_fn, false_fn, (x,)) to keep both branches",
    ),
    "dynamic-dim-specialized": (
        Severity.ERROR,
        "the model's code fixed this dim (a reshape/view to a constant, a buffer of that size, "
        "or an example size of 0 or 1, which torch.export always specializes): use -1 or "
        "x.shape[...] instead of constants, and an example size of 2 or more",
    ),
    "dynamic-axis-missing": (
        Severity.ERROR,
        "the dim is fixed in the ONNX file: mark it dynamic (--dynamic NAME:DIM:SYMBOL or "
        "--dynamic-batch), check the input name, and use an example size of 2 or more",
    ),
    "branch-baked": (
        Severity.WARNING,
        "a Python if on a shape was evaluated once at the example size and only that branch "
        "was exported: use torch.cond for both branches, or remove the shape test",
    ),
    "tensor-value-baked": (
        Severity.ERROR,
        "a tensor became a NumPy array or Python values while capturing (.numpy(), .tolist()): "
        "keep the computation in torch ops (x.mean(), not x.numpy().mean()); torch.export "
        "keeps a .item() used in torch ops symbolic",
    ),
    "float64-input": (
        Severity.WARNING,
        "cast inputs and weights to float32 (model.float(), x.float()) before exporting; many "
        "runtimes and ONNX Runtime's CPU kernels (Conv, ...) have no float64 implementation",
    ),
    "fp16-on-cpu": (
        Severity.WARNING,
        "export in float32 and convert the ONNX file to float16 for the GPU (onnxconverter-"
        "common's float16 converter), or keep float32 for CPU deployment; CPU float16 kernels "
        "are missing or emulated and numerically looser",
    ),
    "opset-unsupported": (
        Severity.ERROR,
        "choose an opset this exporter supports (dynamo: 18 or newer; torchscript: 7 to 20) "
        "and the target runtime can run",
    ),
    "exporter-switched": (
        Severity.INFO,
        "to use the dynamo exporter, export from the Python code that builds the model (a .py "
        "file and its factory) or from a torch.export .pt2 archive",
    ),
    "opset-not-honored": (
        Severity.WARNING,
        "the file's opset differs from the one requested: use the dynamo exporter with opset "
        ">= 18, the torchscript exporter for older opsets, or check that the runtime supports "
        "the file's opset",
    ),
    "parity-mismatch": (
        Severity.ERROR,
        "ONNX Runtime disagrees with PyTorch: look for a baked branch or a specialized dim, "
        "random ops (dropout: call model.eval()), or float16 precision; compare per node with "
        "onnx-inspector run --expected",
    ),
    "runtime-load-failed": (
        Severity.ERROR,
        "ONNX Runtime cannot create a session for the file: see the message for the node; "
        "change the dtype or opset, or run onnx-inspector check on the file",
    ),
    "onnx-checker-failed": (
        Severity.ERROR,
        "the file is not valid ONNX: report it to the exporter with the file, and try the "
        "other exporter or another opset",
    ),
    "source-load-failed": (
        Severity.ERROR,
        "fix the error in the model's source (it runs as a script when loaded), or check the "
        "factory name and its arguments (the factory is called without arguments)",
    ),
    "weights-need-code": (
        Severity.ERROR,
        "the file is a full pickle that would run arbitrary code when loaded; load it yourself "
        "once and save model.state_dict() with torch.save, then pass that as the weights",
    ),
    "torch-missing": (
        Severity.ERROR,
        "install the export extra: pip install 'onnx-inspector[export]'",
    ),
    "export-timeout": (
        Severity.ERROR,
        "the export ran past the time limit and was stopped: raise the timeout, or look in the "
        "log for the step that hangs",
    ),
    "export-crashed": (
        Severity.ERROR,
        "the export process ended without a result (out of memory or a crash in native "
        "code): see the log's last lines",
    ),
    "export-failed": (
        Severity.ERROR,
        "see the exporter's message in the log; try the other exporter or another opset",
    ),
}


#: code → next steps with the TorchScript exporter (``dynamo=False``), where they differ.
TORCHSCRIPT_STEPS: dict[str, str] = {
    "unsupported-aten-op": (
        "register a symbolic for the op: torch.onnx.register_custom_op_symbolic('aten::OP', "
        "fn, opset) with fn(g, *args) building ONNX nodes (g.op(...)); or replace the op; or "
        "use the dynamo exporter, which translates more ops"
    ),
    "custom-autograd-function": (
        "give the Function a symbolic: @staticmethod def symbolic(g, x): return g.op(...) "
        "built from ONNX ops; the tracer otherwise records forward's values (.numpy(), "
        ".item()) as constants"
    ),
    "custom-op-no-translation": (
        "register a symbolic: torch.onnx.register_custom_op_symbolic('NS::OP', fn, opset) "
        "with fn(g, *args) building ONNX nodes; or decompose the op into aten ops"
    ),
    "data-dependent-control-flow": (
        "the tracer kept only the branch taken for the example input: compute both sides and "
        "pick with torch.where, or use the dynamo exporter with torch.cond(pred, true_fn, "
        "false_fn, (x,))"
    ),
    "dynamic-dim-specialized": (
        "the model's code fixes this dim (a reshape/view/expand to constants, or a parameter "
        "or buffer of that size): use -1 or x.shape[...] instead of constants, or size the "
        "parameter from the input"
    ),
    "branch-baked": (
        "the tracer evaluated a Python if on a shape once, at the example size: remove the "
        "shape test, compute both sides with torch.where, or use the dynamo exporter, which "
        "records the condition as a guard"
    ),
    "tensor-value-baked": (
        "the tracer froze a value of the example input into a constant (.item(), .tolist(), "
        ".numpy(), int(t)): keep the computation in torch ops, or use the dynamo exporter"
    ),
}


@dataclass(frozen=True)
class SourceLine:
    """A place in the user's code: ``SourceLine("/src/net.py", 17, "if x.sum() > 0:")``."""

    path: str
    line: int
    code: str = ""

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Explained:
    """A finding plus where in the user's code it comes from (None when unknown)."""

    finding: Finding
    source: SourceLine | None = None

    def to_dict(self) -> dict:
        """``Finding.to_dict()`` plus ``source_line`` ("path:line" or null), for the JSON."""
        d = self.finding.to_dict()
        d["source_line"] = str(self.source) if self.source else None
        return d


def finding(
    code: str,
    message: str,
    source: SourceLine | None = None,
    severity: Severity | None = None,
    hint: str = "",
    tensor: str | None = None,
    exporter: str = "dynamo",
) -> Explained:
    """A finding with the code's default severity and next steps for ``exporter``
    ("dynamo" or "torchscript"); both overridable."""
    default_severity, default_hint = CODES[code]
    if exporter == "torchscript":
        default_hint = TORCHSCRIPT_STEPS.get(code, default_hint)
    if source is not None and source.code:
        message = f"{message} (at line {source.line}: `{source.code.strip()}`)"
    return Explained(
        Finding(severity or default_severity, code, message, hint or default_hint, tensor=tensor),
        source,
    )


_FRAME_RE = re.compile(r'File "([^"]+)", line (\d+)')
_OVERLOAD_RE = re.compile(r"No ONNX function found for <OpOverload\(op='(\w+)\.(\w+)'")
_NODE_RE = re.compile(r"Error when translating node %\w+ : .*?target=torch\.ops\.(\w+)\.(\w+)\.")
_TS_OP_RE = re.compile(r"Exporting the operator '(\w+)::(\w+)' to ONNX opset version (\d+)")
_TS_NAMESPACE_RE = re.compile(r"unrecognized namespace (\w+)::(\w+)")
# A core aten op that the exporter decomposed to a primitive it cannot translate: the user's
# code called an aten op, so the prim is reported as that.
_CORE_NAMESPACES = ("aten", "prims")


@cache
def _library_dirs() -> tuple[str, ...]:
    """Folders whose files are nobody's model code: the standard library, site-packages (torch,
    onnxscript, ...) and Inspector itself."""
    paths = sysconfig.get_paths()
    dirs = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    dirs.update(site.getsitepackages() if hasattr(site, "getsitepackages") else [])
    dirs.add(site.getusersitepackages())
    dirs.add(str(Path(__file__).resolve().parents[2]))  # the inspector package
    return tuple(os.path.realpath(d).rstrip(os.sep) + os.sep for d in dirs if d)


@cache
def is_user_file(path: str) -> bool:
    """Whether ``path`` is the user's code: a real file outside the standard library,
    site-packages and Inspector (``<frozen ...>`` and generated code are not)."""
    if not path or path.startswith("<"):
        return False
    return not os.path.realpath(path).startswith(_library_dirs())


def user_frames(
    text: str, frames: Iterable[tuple[str, int]], user_file: str = ""
) -> list[tuple[str, int]]:
    """The (file, line) places in the user's code (``user_file``, the model's source, and any
    other file :func:`is_user_file` accepts: a helper module it imports), outermost first: from
    real traceback ``frames`` first, then from ``File "...", line N`` mentions in ``text``
    (torch quotes the user's frames in node stack traces and some messages)."""
    mentioned = [(f, int(n)) for f, n in _FRAME_RE.findall(text)]
    return [
        (f, n)
        for f, n in [*frames, *mentioned]
        if _same_file(f, user_file) or is_user_file(f.strip())
    ]


def _same_file(a: str, b: str) -> bool:
    return bool(b) and a.replace("\\", "/").rstrip() == b.replace("\\", "/")


def failed_op(text: str) -> str | None:
    """The op an exporter could not translate, as ``namespace::name`` (``aten::kthvalue``,
    ``prims::bessel_j0``, ``mylib::twice``), or None when the error is about something else."""
    for pattern in (_OVERLOAD_RE, _NODE_RE, _TS_OP_RE, _TS_NAMESPACE_RE):
        m = pattern.search(text)
        if m:
            return f"{m.group(1)}::{m.group(2)}"
    return None


def explain_error(
    text: str,
    source: SourceLine | None,
    opset: int | None,
    in_autograd_function: bool = False,
    op_source: SourceLine | None = None,
    exporter: str = "dynamo",
) -> Explained:
    """One finding for a failed export.

    ``text`` is the whole exception chain (type: message, for every cause); ``source`` the
    innermost user frame of the traceback; ``in_autograd_function`` whether that frame is inside
    a ``torch.autograd.Function`` subclass; ``op_source`` where the op that failed to translate
    (:func:`failed_op`) was called, from the captured graph; ``exporter`` picks the next steps.
    """

    def made(code: str, message: str, where: SourceLine | None, hint: str = "") -> Explained:
        return finding(code, message, where, hint=hint, exporter=exporter)

    if "Unsupported onnx_opset_version" in text or "Unsupported ONNX opset version" in text:
        return made(
            "opset-unsupported",
            f"the {exporter} exporter cannot produce opset {opset}: the cause is the opset "
            "setting (--opset, the wizard's Opset field), not a line of code",
            None,
        )
    if in_autograd_function:
        return made(
            "custom-autograd-function",
            "the export failed inside a custom torch.autograd.Function's forward: "
            + _summary(text),
            source,
        )
    op = failed_op(text)
    if op is not None:
        namespace, name = op.split("::")
        where = op_source or source
        if namespace in _CORE_NAMESPACES:
            m = _TS_OP_RE.search(text)
            if m:
                what = f"aten::{name} cannot be exported at opset {m.group(3)}"
            elif _NODE_RE.search(text) and not _OVERLOAD_RE.search(text):
                what = f"aten::{name}'s ONNX translation fails here: {_inner(text)}"
            elif namespace == "prims":
                what = (
                    f"the op prims::{name} (what the aten op decomposes to) has no ONNX translation"
                )
            else:
                what = f"aten::{name} has no ONNX translation in the {exporter} exporter"
            return made("unsupported-aten-op", what, where, _op_steps(namespace, name, exporter))
        return made(
            "custom-op-no-translation",
            f"the custom op {namespace}::{name} has no ONNX translation",
            where,
            _op_steps(namespace, name, exporter),
        )
    if "Couldn't export Python operator" in text or "prim::PythonOp" in text:
        return made(
            "custom-autograd-function",
            "a custom torch.autograd.Function has no symbolic(): " + _summary(text),
            source,
        )
    if "GuardOnDataDependentSymNode" in text or "data-dependent" in text.lower():
        return made(
            "data-dependent-control-flow",
            "the model branches on a tensor's value, which the exporter cannot trace",
            source,
        )
    if "Constraints violated" in text or "specialized it to be a constant" in text:
        return made(
            "dynamic-dim-specialized",
            "a dim marked dynamic is fixed by the model's code: " + _summary(text),
            source,
        )
    if re.search(r"\.numpy\(\)|numpy\(\) is not supported|Cannot access data pointer", text):
        return made(
            "tensor-value-baked",
            "the code turns a tensor into a NumPy array, which the exporter cannot trace: "
            + _summary(text),
            source,
        )
    return made("export-failed", _summary(text), source)


def _op_steps(namespace: str, name: str, exporter: str) -> str:
    """The code's next steps with this op's name filled in."""
    if exporter == "torchscript":
        return (
            f"register a symbolic for it: torch.onnx.register_custom_op_symbolic("
            f"'{namespace}::{name}', fn, opset) with fn(g, *args) building ONNX nodes "
            "(g.op(...)); or replace the op"
            + (
                "; or use the dynamo exporter, which translates more ops"
                if namespace in _CORE_NAMESPACES
                else ""
            )
        )
    overload = f"torch.ops.{namespace}.{name}.default"
    if namespace in _CORE_NAMESPACES:
        return (
            "replace the op with ops the exporter knows, or register a translation: "
            f"torch.onnx.export(..., custom_translation_table={{{overload}: fn}}) with an "
            "onnxscript function; or try the TorchScript exporter"
        )
    return (
        "give the custom op an ONNX translation: torch.onnx.export(..., "
        f"custom_translation_table={{{overload}: onnxscript_fn}}), or decompose it into aten ops"
    )


def _inner(text: str) -> str:
    """The innermost exception of a chain (its last ``Type: message`` part), one line."""
    parts = [p for p in re.split(r"\n(?=\w+(?:Error|Exception)\b[^\n]*: )", text) if p.strip()]
    return _summary(parts[-1] if parts else text, 200)


def _summary(text: str, limit: int = 400) -> str:
    """The most telling line of an exporter error: the first line of its exception summary, or
    of the innermost cause, without ANSI colours and boilerplate."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    m = re.search(r"## Exception summary\s*\n(.+)", text)
    line = m.group(1) if m else next((ln for ln in text.splitlines() if ln.strip()), "")
    line = re.sub(r"^<class '([\w.]+)'>:\s*", lambda g: g.group(1).rsplit(".", 1)[-1] + ": ", line)
    return line.strip()[:limit]
