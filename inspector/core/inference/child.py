"""The child job that owns the ONNX Runtime session (:func:`run`, through :mod:`inspector.core.child`).

It reads ``feeds.npz`` from its work folder, builds the session with the requested options, runs
the warm-up and the timed runs, writes the outputs there and returns the result (see
:mod:`inspector.core.inference.protocol`). It is the only module that imports onnxruntime, and
it runs in its own process so that a native crash or a hang never reaches the caller.

Failures ONNX Runtime reports as exceptions (session creation, a run) end normally with
``status`` set and the raw message kept; a crash ends the process, and faulthandler writes the
Python stack to stderr for the parent to quote. Only exceptions raised by onnxruntime calls are
put on ONNX Runtime: one raised by the Inspector's own code (reading the options, building the
captured copy, statistics, histograms, the profile) ends with status ``inspector-error``, the
traceback as ``error`` and what it was doing as ``stage``, and keeps what was done by then.

A run that fails with graph optimizations on is tried once more, in a session with them off
(``unoptimized`` in the result): ONNX Runtime names the nodes of its optimized graph
(``c1_nchwc``, ``mm/MatMulAddFusion``), and the unoptimized run names the original node, or shows
that the original graph runs and the optimizer is at fault.

Intermediate capture runs a temporary copy of the model, held in memory (or, past protobuf's
2 GB limit, written to WORKDIR), with the captured tensors added as graph outputs; the user's
file is only read. Exposing a tensor keeps the optimizer from fusing across it, so captured runs
may be fused differently (and timed differently) than the plain model.

Timing: each timed run is measured around ``session.run`` alone with ``perf_counter``; feeds are
bound once before the loop, so the figure is comparable to a bare ``session.run`` loop.
"""

from __future__ import annotations

import ctypes
import json
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from inspector.core.child import Emitter
from inspector.core.inference import protocol
from inspector.core.tensor_stats import tensor_stats

_KERNEL_SUFFIX = "_kernel_time"
_MAX_PROTO_BYTES = 2_000_000_000  # protobuf cannot serialize a message past 2 GB


def _session_options(ort: Any, options: protocol.RunOptions, workdir: Path) -> Any:
    so = ort.SessionOptions()
    so.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[options.graph_optimization_level]
    so.intra_op_num_threads = options.intra_op_threads
    so.log_severity_level = 3  # errors only: warnings about old opsets would flood stderr
    if options.profile:
        so.enable_profiling = True
        so.profile_file_prefix = str(workdir / "profile")
        # Node placement under the original node names: the profile names optimized nodes.
        so.add_session_config_entry("session.record_ep_graph_assignment_info", "1")
    return so


def _model_with_outputs(
    model_path: str, capture: list[str], workdir: Path
) -> tuple[Any, list[str]]:
    """A temporary copy of the model exposing the ``capture`` tensors (``["*"]``: every node
    output of the main graph) as extra outputs; returns (bytes or path, the names added)."""
    import onnx

    proto = onnx.load(model_path)  # external data loaded: the copy must not point back at it
    g = proto.graph
    existing = {o.name for o in g.output}
    wanted = [o for n in g.node for o in n.output if o] if capture == ["*"] else capture
    added = [name for name in dict.fromkeys(wanted) if name not in existing]
    # A name with no type: ONNX Runtime infers it, which also covers tensors with no value_info.
    g.output.extend(onnx.ValueInfoProto(name=name) for name in added)
    if proto.ByteSize() < _MAX_PROTO_BYTES:
        return proto.SerializeToString(), added
    path = workdir / "captured.onnx"
    onnx.save_model(proto, str(path), save_as_external_data=True, location="captured.data")
    return str(path), added


def _ort_feeds(ort: Any, feeds: dict[str, np.ndarray], all_values: bool) -> dict[str, Any]:
    """The feeds as ONNX Runtime's Python API takes them: ``ml_dtypes`` arrays (bfloat16, float8,
    4-bit), which it refuses as arrays, as OrtValues of their ONNX element type; with
    ``all_values`` (for ``run_with_ort_values``) every feed as an OrtValue."""
    out: dict[str, Any] = {}
    for name, arr in feeds.items():
        if protocol.ml_type(arr.dtype):
            out[name] = _ml_value(ort, arr)
        else:
            out[name] = ort.OrtValue.ortvalue_from_numpy(arr) if all_values else arr
    return out


def _fetcher(ort: Any, session: Any, feeds: dict[str, np.ndarray]) -> tuple[Any, dict, bool]:
    """(the run call, the feeds it takes, whether it gives OrtValues): ONNX Runtime gives no
    bfloat16, float8 or 4-bit output as an array, so a session with one is run with
    ``run_with_ort_values`` and its outputs read with :func:`_fetched`."""
    as_values = any(_is_ml_type(o.type) for o in session.get_outputs())
    fetch = session.run_with_ort_values if as_values else session.run
    return fetch, _ort_feeds(ort, feeds, as_values), as_values


def _is_ml_type(ort_type: str) -> bool:
    """Whether ONNX Runtime's type name (``tensor(bfloat16)``) has no numpy type of its own."""
    from inspector.core.feeds import numpy_dtype  # imports onnx: not at the child's start

    dtype = numpy_dtype(ort_type.removeprefix("tensor(").removesuffix(")"))
    return dtype is not None and bool(protocol.ml_type(dtype))


def _four_bit(dtype: np.dtype) -> bool:
    """An ``ml_dtypes`` type ONNX Runtime packs two to a byte (int4, uint4, float4)."""
    import ml_dtypes  # onnx's own dependency

    try:
        return ml_dtypes.finfo(dtype).bits == 4
    except ValueError:
        return ml_dtypes.iinfo(dtype).bits == 4


def _ml_value(ort: Any, arr: np.ndarray) -> Any:
    """An OrtValue holding ``arr`` (an ``ml_dtypes`` array), 4-bit types packed two to a byte
    (low nibble first) as ONNX Runtime stores them."""
    from onnx import helper

    raw = np.ascontiguousarray(arr).view(f"u{arr.dtype.itemsize}").ravel()
    if _four_bit(arr.dtype):
        nibbles = np.append(raw & 0x0F, np.uint8(0)) if len(raw) % 2 else raw & 0x0F
        raw = (nibbles[0::2] | (nibbles[1::2] << 4)).astype(np.uint8)
    value = ort.OrtValue.ortvalue_from_shape_and_type(
        list(arr.shape), helper.np_dtype_to_tensor_dtype(arr.dtype)
    )
    if raw.nbytes:
        ctypes.memmove(value.data_ptr(), raw.ctypes.data, raw.nbytes)
    return value


def _fetched(value: Any) -> Any:
    """An OrtValue from ``run_with_ort_values`` as the plain ``run`` would give it, with
    bfloat16, float8 and 4-bit tensors as ``ml_dtypes`` arrays (``OrtValue.numpy`` refuses
    them)."""
    if not value.is_tensor():
        return value  # a sequence or map beside such outputs: shown as "other"
    from onnx import helper

    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(value.element_type()))
    if not protocol.ml_type(dtype):
        return value.numpy()
    shape = value.shape()
    n = int(np.prod(shape))
    packed = _four_bit(dtype)
    size = (n + 1) // 2 if packed else n * dtype.itemsize
    raw = np.frombuffer(ctypes.string_at(value.data_ptr(), size) if size else b"", np.uint8)
    if not packed:
        return raw.view(f"u{dtype.itemsize}").view(dtype).reshape(shape)
    nibbles = np.empty(2 * len(raw), np.uint8)
    nibbles[0::2], nibbles[1::2] = raw & 0x0F, raw >> 4
    nibbles = nibbles[:n]
    if dtype.name == "int4":
        return ((nibbles.astype(np.int8) ^ 8) - 8).astype(dtype).reshape(shape)
    if dtype.name == "uint4":
        return nibbles.astype(dtype).reshape(shape)
    return nibbles.view(dtype).reshape(shape)  # float4: the byte holds the 4-bit code


def _describe(workdir: Path, index: int, name: str, value: Any) -> dict[str, Any]:
    """Save one fetched value and return its result entry."""
    if isinstance(value, np.ndarray):
        stats = protocol.stats_to_json(tensor_stats(value))
        stats["histogram"] = protocol.histogram_to_json(value)
        file = protocol.save_tensor(workdir, index, value)  # last: all the result line waits on
        return {"name": name, "file": file, "kind": "tensor", "stats": stats}
    kinds = ((list, "sequence"), (dict, "map"), (type(None), "none"))
    kind = next((k for t, k in kinds if isinstance(value, t)), "other")
    return {"name": name, "file": None, "kind": kind, "stats": None}


def _profile(path: str, runs: int) -> list[dict[str, Any]]:
    """Kernel events summed per optimized-graph node; ``us`` is the mean per run."""
    with open(path, encoding="utf-8") as f:
        events = json.load(f)
    per_node: dict[str, dict[str, Any]] = {}
    for e in events:
        name = e.get("name", "")
        if e.get("cat") != "Node" or not name.endswith(_KERNEL_SUFFIX):
            continue
        node = name[: -len(_KERNEL_SUFFIX)]
        args = e.get("args", {})
        entry = per_node.setdefault(
            node,
            {
                "name": node,
                "op_type": args.get("op_name", ""),
                "provider": args.get("provider", ""),
                "us": 0.0,
                "count": 0,
            },
        )
        entry["us"] += float(e.get("dur", 0))
        entry["count"] += 1
    for entry in per_node.values():
        entry["us"] /= max(runs, 1)
    return sorted(per_node.values(), key=lambda x: -x["us"])


def _assignment(session: Any) -> list[dict[str, str]]:
    try:
        subgraphs = session.get_provider_graph_assignment_info()
    except Exception:  # older builds, or the config entry not set: the mapping is best-effort
        return []
    return [
        {"ep": sg.ep_name, "node": n.name, "op_type": n.op_type}
        for sg in subgraphs
        for n in sg.get_nodes()
    ]


def _unoptimized(
    ort: Any,
    model: Any,
    opts: protocol.RunOptions,
    feeds: dict[str, Any],
    names: list[str],
    workdir: Path,
) -> dict[str, str]:
    """The failed run once more with graph optimizations off: {status, error}."""
    plain = replace(opts, graph_optimization_level="disable", profile=False)
    try:
        session = ort.InferenceSession(
            model, _session_options(ort, plain, workdir), providers=[opts.provider]
        )
    except Exception as e:
        return {"status": "session-failed", "error": str(e)}
    try:
        fetch, ort_feeds, _ = _fetcher(ort, session, feeds)
        fetch(names, ort_feeds)
    except Exception as e:
        return {"status": "run-failed", "error": str(e)}
    return {"status": "ok", "error": ""}


def _run(
    emit: Emitter, model_path: str, opts: protocol.RunOptions, workdir: Path, result: dict[str, Any]
) -> None:
    """Do the run, filling ``result`` (see :func:`protocol.result_skeleton`).

    Every onnxruntime call is wrapped here and sets an ONNX Runtime status; any other exception
    propagates to :func:`run`, which reports it as the Inspector's, with ``result["stage"]``.
    """
    result["stage"] = "reading the feeds"
    feeds = protocol.read_feeds(workdir)
    model: Any = model_path
    added: list[str] = []
    emit.progress(0.0, "loading ONNX Runtime")
    try:
        import onnxruntime as ort

        ort.set_default_logger_severity(3)
        available = ort.get_available_providers()
    except Exception as e:  # a broken install: ImportError, or OSError from its native library
        result.update(status="session-failed", error=f"onnxruntime cannot be loaded: {e}")
        return
    if opts.provider not in available:
        # ONNX Runtime would fall back to the CPU with only a warning: say it plainly instead.
        result.update(
            status="session-failed",
            error=f"execution provider {opts.provider} is not available in this onnxruntime "
            f"build; installed: {', '.join(available)}",
        )
        return
    if opts.capture:
        result["stage"] = "adding the captured tensors as outputs"
        model, added = _model_with_outputs(model_path, opts.capture, workdir)
    result["stage"] = "setting the session options"
    session_options = _session_options(ort, opts, workdir)
    result["stage"] = ""
    emit.progress(0.05, "creating the session")
    try:
        session = ort.InferenceSession(model, session_options, providers=[opts.provider])
        result["providers"] = session.get_providers()
        names = [o.name for o in session.get_outputs()]
    except Exception as e:  # ONNX Runtime raises its own exception types for every failure
        result.update(status="session-failed", error=str(e))
        return
    total = opts.warmup + opts.repeat
    latencies: list[float] = []
    values: list[Any] = []
    result["stage"] = "converting the feeds"
    fetch, ort_feeds, as_values = _fetcher(ort, session, feeds)
    result["stage"] = ""
    try:
        for i in range(total):
            emit.progress(
                0.1 + 0.8 * i / max(total, 1),
                f"warm-up {i + 1}/{opts.warmup}"
                if i < opts.warmup
                else f"timed run {i - opts.warmup + 1}/{opts.repeat}",
            )
            start = time.perf_counter()
            values = fetch(names, ort_feeds)
            elapsed = time.perf_counter() - start
            if i >= opts.warmup:
                latencies.append(elapsed * 1000.0)
    except Exception as e:
        result.update(status="run-failed", error=str(e))
        if opts.graph_optimization_level != "disable":
            del session  # its memory, before a second session is built
            emit.progress(0.9, "locating the failing node with graph optimizations off")
            result["unoptimized"] = _unoptimized(ort, model, opts, feeds, names, workdir)
        return
    result["latencies_ms"] = latencies
    profile_file = None
    if opts.profile:
        try:
            profile_file = session.end_profiling()
        except Exception as e:
            result.update(status="run-failed", error=f"ONNX Runtime's profiler failed: {e}")
            return
    emit.progress(0.9, "writing outputs")
    if as_values:
        result["stage"] = "reading the outputs"
        values = [_fetched(v) for v in values]
    extra = set(added)
    for i, (name, value) in enumerate(zip(names, values, strict=True)):
        key = "intermediates" if name in extra else "outputs"
        result["stage"] = f"summarizing {key[:-1]} '{name}'"
        result[key].append(_describe(workdir, i, name, value))
    if profile_file is not None:
        result["stage"] = "reading the profile"
        result["profile"] = _profile(profile_file, total)
        result["assignment"] = _assignment(session)
    result["stage"] = ""


def run(emit: Emitter, model: str, options: dict[str, Any], workdir: str) -> dict[str, Any]:
    """The job: run ``model`` (an absolute path, only read) with ``options`` (a
    :class:`~protocol.RunOptions` as a dict) on the feeds in ``workdir``; the result's keys are
    :func:`protocol.result_skeleton`'s."""
    result = protocol.result_skeleton()
    try:
        result["stage"] = "reading the options"
        _run(emit, model, protocol.RunOptions(**options), Path(workdir), result)
    except Exception:  # not ONNX Runtime's: every onnxruntime call is wrapped in _run()
        result.update(status="inspector-error", error=traceback.format_exc())
    return result
