"""Exporter errors and degradations, translated into findings a user can act on.

The exporter's own messages are long (step numbers, links, "submit a PR to PyTorch") and the root
cause sits in one line of an "Exception summary" or in a chained exception. :func:`explain_error`
reads the exception chain as text and returns one finding with a code, the user's source line
where it can be found, and concrete next steps. The degradations found after a successful export
(a specialized dim, a baked branch, an opset that was not honoured, ...) are built with
:func:`finding` from the same table of codes, so the README, the wizard and the CLI agree.

Torch-free on purpose: the driver passes exception *text* and traceback frames in, so the
parent (and tests) can use this module without torch.

Known limitations: matching is on message patterns measured with torch 2.13 and onnxscript 0.7;
an unknown message falls back to ``export-failed`` with the exception summary as its message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

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
        "a tensor became a Python number or NumPy array while tracing (.item(), .tolist(), "
        ".numpy(), int(t)): keep the computation in torch ops, or use the dynamo exporter",
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
) -> Explained:
    """A finding with the code's default severity and next steps (overridable)."""
    default_severity, default_hint = CODES[code]
    if source is not None and source.code:
        message = f"{message} (at line {source.line}: `{source.code.strip()}`)"
    return Explained(
        Finding(severity or default_severity, code, message, hint or default_hint, tensor=tensor),
        source,
    )


_FRAME_RE = re.compile(r'File "([^"]+)", line (\d+)')
_OVERLOAD_RE = re.compile(r"No ONNX function found for <OpOverload\(op='([\w.]+)'")
_TS_OP_RE = re.compile(r"Exporting the operator '(\w+)::(\w+)' to ONNX opset version (\d+)")
_TS_NAMESPACE_RE = re.compile(r"unrecognized namespace (\w+)::(\w+)")


def user_frames(
    text: str, frames: Iterable[tuple[str, int]], user_file: str
) -> list[tuple[str, int]]:
    """The (file, line) places in ``user_file``, from real traceback ``frames`` first and then
    from ``File "...", line N`` mentions in ``text`` (torch quotes the user's frame there)."""
    found = [(f, n) for f, n in frames if _same_file(f, user_file)]
    found += [(f, int(n)) for f, n in _FRAME_RE.findall(text) if _same_file(f, user_file)]
    return found


def _same_file(a: str, b: str) -> bool:
    return bool(b) and a.replace("\\", "/").rstrip() == b.replace("\\", "/")


def explain_error(
    text: str,
    source: SourceLine | None,
    opset: int | None,
    in_autograd_function: bool = False,
    op_source: SourceLine | None = None,
) -> Explained:
    """One finding for a failed export.

    ``text`` is the whole exception chain (type: message, for every cause); ``source`` the
    innermost user frame of the traceback; ``in_autograd_function`` whether that frame is inside
    a ``torch.autograd.Function`` subclass (the driver knows the user's classes);
    ``op_source`` where the op that failed to translate was called (from the captured graph).
    """
    if "Unsupported onnx_opset_version" in text or "Unsupported ONNX opset version" in text:
        return finding(
            "opset-unsupported", f"the exporter cannot produce opset {opset}", source=None
        )
    if in_autograd_function:
        return finding(
            "custom-autograd-function",
            "the export failed inside a custom torch.autograd.Function's forward: "
            + _summary(text),
            source,
        )
    m = _OVERLOAD_RE.search(text)
    if m:
        namespace, _, name = m.group(1).partition(".")
        if namespace == "aten":
            return finding(
                "unsupported-aten-op",
                f"aten::{name} has no ONNX translation in the dynamo exporter",
                op_source,
            )
        return finding(
            "custom-op-no-translation",
            f"the custom op {namespace}::{name} has no ONNX translation",
            op_source,
        )
    m = _TS_OP_RE.search(text)
    if m:
        namespace, name, version = m.groups()
        code = "unsupported-aten-op" if namespace == "aten" else "custom-op-no-translation"
        return finding(
            code, f"{namespace}::{name} cannot be exported at opset {version}", op_source
        )
    m = _TS_NAMESPACE_RE.search(text)
    if m:
        return finding(
            "custom-op-no-translation",
            f"the custom op {m.group(1)}::{m.group(2)} has no ONNX symbolic",
            op_source,
        )
    if "Couldn't export Python operator" in text or "prim::PythonOp" in text:
        return finding(
            "custom-autograd-function",
            "a custom torch.autograd.Function has no symbolic(): " + _summary(text),
            source,
        )
    if "GuardOnDataDependentSymNode" in text or "data-dependent" in text.lower():
        return finding(
            "data-dependent-control-flow",
            "the model branches on a tensor's value, which the exporter cannot trace",
            source,
        )
    if "Constraints violated" in text or "specialized it to be a constant" in text:
        return finding(
            "dynamic-dim-specialized",
            "a dim marked dynamic is fixed by the model's code: " + _summary(text),
            source,
        )
    return finding("export-failed", _summary(text), source)


def _summary(text: str, limit: int = 400) -> str:
    """The most telling line of an exporter error: the first line of its exception summary, or
    of the innermost cause, without ANSI colours and boilerplate."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)
    m = re.search(r"## Exception summary\s*\n(.+)", text)
    line = m.group(1) if m else next((ln for ln in text.splitlines() if ln.strip()), "")
    line = re.sub(r"^<class '([\w.]+)'>:\s*", lambda g: g.group(1).rsplit(".", 1)[-1] + ": ", line)
    return line.strip()[:limit]
