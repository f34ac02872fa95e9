"""Feeds (loaded or random input arrays) checked against the model's declared inputs.

The inference panel and ``run`` call :func:`check_feeds` before starting a session, so a float64
array fed to a float32 input (the most common failure) is reported as a finding on that input's
edge, like the static checks' findings, instead of as ONNX Runtime's error text.
:func:`cast_feed` is the one-click fix for a dtype finding.

Known limitations: only tensor inputs are checked (sequence, map and optional inputs are skipped);
a symbolic dim is not checked for consistency across inputs (``batch`` 2 in one input and 3 in
another is left to the runtime). In IR < 4 models an initializer listed as an input may be fed
(it overrides the constant, as in ONNX Runtime); such feeds are checked against the initializer.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from onnx import TensorProto, helper

from inspector.core.findings import Finding, Severity
from inspector.core.graph import Model, TensorType
from inspector.core.tensor_types import dtype_name, format_shape


def declared_inputs(model: Model) -> dict[str, TensorType]:
    """Input name → declared type: the real inputs, and initializers IR < 4 lists as inputs."""
    g = model.graph
    out: dict[str, TensorType] = {}
    for name in g.inputs:
        t = g.values[name].declared
        if t is not None:
            out[name] = t
    if model.ir_version < 4:
        for vi in model.proto.graph.input:
            v = g.values.get(vi.name)
            if v is not None and v.initializer is not None and v.declared is not None:
                out[vi.name] = v.declared
    return out


# dtype name (as the graph model spells it, :func:`~inspector.core.graph.dtype_name`) → ONNX
# element type, read off onnx's own enum so no hand list can drift from it.
_ELEM_BY_NAME = {dtype_name(e): e for e in TensorProto.DataType.values() if e}


def numpy_dtype(dtype: str) -> np.dtype | None:
    """The numpy dtype of a tensor element type by name, from onnx's own table
    (``onnx.helper.tensor_dtype_to_np_dtype``): ``"float32"`` → ``float32``, ``"string"`` →
    ``object``, ``"bfloat16"`` / ``"float8e4m3fn"`` / ``"int4"`` → ml_dtypes' types. None for a
    name that is no tensor element type (``"sequence(float32)"``, ``"undefined"``)."""
    elem = _ELEM_BY_NAME.get(dtype)
    return None if elem is None else np.dtype(helper.tensor_dtype_to_np_dtype(elem))


def _feedable_dtype(dtype: str) -> np.dtype | None:
    """:func:`numpy_dtype` where ONNX Runtime's Python API takes arrays of it; None for
    ml_dtypes' types (bfloat16, float8, int4: it refuses them whatever their values), which the
    feed checks then leave to the runtime."""
    want = numpy_dtype(dtype)
    return None if want is None or want.kind == "V" else want


def check_feeds(model: Model, feeds: Mapping[str, np.ndarray]) -> list[Finding]:
    """Findings for feeds whose dtype, rank or a fixed dim differs from the declared input.

    Codes: ``dtype-mismatch`` (hint: the cast), ``shape-mismatch`` (wrong rank, or a fixed dim
    with another size), and ``missing-feed`` / ``unknown-feed`` for names that do not match.
    Each finding's ``tensor`` is the input's name; ``node`` is the first node reading it.
    """
    g = model.graph
    declared = declared_inputs(model)
    findings: list[Finding] = []

    def finding(code: str, name: str, message: str, hint: str) -> Finding:
        v = g.values.get(name)
        first = g.nodes[v.consumers[0]] if v is not None and v.consumers else None
        return Finding(
            Severity.ERROR,
            code,
            message,
            hint=hint,
            node=first.name if first else "",
            node_index=first.index if first else None,
            op_type=first.op_type if first else "",
            tensor=name,
        )

    for name, arr in feeds.items():
        t = declared.get(name)
        if t is None:
            findings.append(
                finding(
                    "unknown-feed",
                    name,
                    f"'{name}' is fed but the model has no input of that name",
                    "inputs: " + ", ".join(g.inputs),
                )
            )
            continue
        arr = np.asarray(arr)
        want = _feedable_dtype(t.dtype)
        if want is not None and arr.dtype != want and not _both_strings(arr.dtype, want):
            findings.append(
                finding(
                    "dtype-mismatch",
                    name,
                    f"{arr.dtype} fed to input '{name}', which is declared {t.dtype}",
                    f"cast to {t.dtype}",
                )
            )
        if t.shape is None:
            continue
        if arr.ndim != len(t.shape):
            findings.append(
                finding(
                    "shape-mismatch",
                    name,
                    f"input '{name}' is declared {format_shape(t.shape)} (rank {len(t.shape)}) "
                    f"but fed shape {list(arr.shape)} (rank {arr.ndim})",
                    f"feed an array of rank {len(t.shape)}",
                )
            )
            continue
        for axis, (d, n) in enumerate(zip(t.shape, arr.shape, strict=True)):
            if isinstance(d, int) and d >= 0 and d != n:  # a negative dim (-1) is unknown
                findings.append(
                    finding(
                        "shape-mismatch",
                        name,
                        f"input '{name}' is declared {format_shape(t.shape)}, fed "
                        f"{list(arr.shape)}: dim {axis} must be {d}, it is {n}",
                        f"feed size {d} in dim {axis}, or make the dim dynamic",
                    )
                )
                break
    for name in g.inputs:
        if name not in feeds:
            findings.append(
                finding(
                    "missing-feed",
                    name,
                    f"input '{name}' {declared.get(name, '')} is not fed",
                    "load an array for it, or use random inputs",
                )
            )
    return findings


def _both_strings(a: np.dtype, b: np.dtype) -> bool:
    return a.kind in "OUS" and b.kind in "OUS"


def cast_feed(model: Model, name: str, array: np.ndarray) -> np.ndarray:
    """``array`` cast to the dtype input ``name`` is declared with (the one-click fix).

    Raises ``KeyError`` for an unknown input and ``ValueError`` for a declared dtype no numpy
    array can feed to ONNX Runtime (bfloat16, float8).
    """
    t = declared_inputs(model)[name]
    want = _feedable_dtype(t.dtype)
    if want is None:
        raise ValueError(
            f"input '{name}' is {t.dtype}, which ONNX Runtime takes from no numpy array"
        )
    return np.asarray(array).astype(want, copy=False)
