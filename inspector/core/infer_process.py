"""Shape inference in a child process, for the window.

Why a child: ``onnx.shape_inference`` holds the GIL for its whole run, needs three or four copies
of the model in memory at its peak (about +0.9 GB for a 100k-node transformer), and can crash the
interpreter on malformed models. In a child it runs on the other core, its memory is returned when
it exits, a crash is reported as an error, and Cancel kills it.

The child (:func:`infer_types`) reads the model file itself and streams one protocol part per
value, ``[name, dtype, shape or null]`` (shape: a list of int, str or null), then returns the
error text ("" when inference ran).
"""

from __future__ import annotations

import os
from pathlib import Path

from inspector.core.child import ChildCall, ChildJob, Emitter, Outcome, call_child
from inspector.core.graph import TensorType, infer_proto_types
from inspector.core.loader import ModelLoadError, load_model_file
from inspector.core.tasks import CancelToken

WHAT = "shape inference"


def infer_types_call(
    path: str | os.PathLike[str], timeout: float = 600.0
) -> ChildCall[tuple[dict[str, TensorType], str]]:
    """The child job that infers the types of the model at ``path``; its result is (value name →
    inferred type, error text or ""), as :func:`infer_types_in_child` returns."""
    job = ChildJob(f"{__name__}:infer_types", {"path": str(Path(path))}, timeout, WHAT)
    return ChildCall(job, _types)


def infer_types_in_child(
    path: str | os.PathLike[str], cancel: CancelToken | None = None, timeout: float = 600.0
) -> tuple[dict[str, TensorType], str]:
    """(value name → inferred type, error text or "") for the model at ``path``."""
    return call_child(infer_types_call(path, timeout), cancel=cancel)


def _types(outcome: Outcome) -> tuple[dict[str, TensorType], str]:
    failure = outcome.failure
    if failure is not None:
        if failure.reason == "timed-out":
            return {}, f"{WHAT} took longer than {failure.timeout:.0f} s and was stopped"
        stack = failure.stack_line()
        parts = (f"{WHAT} failed ({failure.how})", failure.said, stack and f"[stack: {stack}]")
        return {}, " ".join(p for p in parts if p)
    # One TensorType per distinct type, shared: a 300k-node export has a few hundred types,
    # and one object per value was about 100 MB.
    types: dict[str, TensorType] = {}
    shared: dict[tuple, TensorType] = {}
    for name, dtype, shape in outcome.parts:
        key = (dtype, tuple(shape) if shape is not None else None)
        t = shared.get(key)
        types[name] = t if t is not None else shared.setdefault(key, TensorType(*key))
    return types, str(outcome.value)


def infer_types(emit: Emitter, path: str) -> str:
    """The child's side: stream the inferred types of the model at ``path``; the error text."""
    emit.progress(0.0, "reading the model")
    try:
        loaded = load_model_file(path)
    except ModelLoadError as e:
        return str(e)
    emit.progress(0.3, "inferring shapes")
    types, error = infer_proto_types(loaded.proto)
    for name, t in types.items():
        emit.part([name, t.dtype, list(t.shape) if t.shape is not None else None])
    return error
