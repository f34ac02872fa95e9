"""What goes between the runner (parent) and the child job that owns the ONNX Runtime session.

The options (:class:`RunOptions`), progress and the result (keys on :func:`result_skeleton`) go
through the child-process protocol (:mod:`inspector.core.child`); the arrays through one private
work folder per run (never next to the user's model):

* ``feeds.npz``: the feeds, uncompressed, by input name;
* ``t<i>.npy``: one file per output or captured tensor, named by position rather than by tensor
  name (names may hold ``/`` or ``:``). ``.npy`` rather than one ``.npz`` because the parent
  memory-maps them: a 100 MB result is available to the caller without being read or copied.

String outputs are stored as fixed-width unicode so no file ever needs pickle to load. The
types of ``ml_dtypes`` (bfloat16, float8: numpy's files keep them only as raw bytes, which ONNX
Runtime would take for strings) are stored as unsigned ints of their width, their type's name in
the feed's key (``"bfloat16|x"``; ``"|x"`` for numpy's own types) or in the tensor's file name
(``t3.bfloat16.npy``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inspector.core.tensor_stats import TensorStats, histogram

FEEDS = "feeds.npz"

#: graph_optimization_level names, mapped to ``onnxruntime.GraphOptimizationLevel`` in the child.
OPT_LEVELS = ("disable", "basic", "extended", "all")


@dataclass
class RunOptions:
    """How the session is built and run. Example: ``RunOptions(repeat=20, profile=True)``."""

    provider: str = "CPUExecutionProvider"  # one of onnxruntime.get_available_providers()
    graph_optimization_level: str = "all"  # one of OPT_LEVELS
    intra_op_threads: int = 0  # 0: ONNX Runtime's default (one per physical core)
    warmup: int = 1  # untimed runs first (allocations, kernel selection)
    repeat: int = 10  # timed runs; the outputs are those of the last one
    profile: bool = False  # ONNX Runtime's profiler; per-node times in RunResult.profile
    # Intermediate capture: None (off), ["*"] for every node output of the main graph, or the
    # tensor names to capture. Runs a temporary copy of the model with those as extra outputs.
    capture: list[str] | None = None


def write_feeds(workdir: Path, feeds: dict[str, np.ndarray]) -> None:
    """Uncompressed: compressing costs more time than the disk saves for a local round trip."""
    arrays = {}
    for name, value in feeds.items():
        arr = np.asarray(value)
        arrays[f"{ml_type(arr.dtype)}|{name}"] = _storable(arr)
    with open(workdir / FEEDS, "wb") as f:
        np.savez(f, **arrays)


def read_feeds(workdir: Path) -> dict[str, np.ndarray]:
    with np.load(workdir / FEEDS, allow_pickle=False) as npz:
        feeds = {}
        for key in npz.files:
            tag, name = key.split("|", 1)
            feeds[name] = _runtime_value(_typed(npz[key], tag))
        return feeds


def ml_type(dtype: np.dtype) -> str:
    """The name of ``dtype`` if it is one of ``ml_dtypes``' types ("bfloat16", "float8_e4m3fn"
    ...); "" for numpy's own types."""
    return dtype.name if dtype.type.__module__.startswith("ml_dtypes") else ""


def _typed(arr: np.ndarray, tag: str) -> np.ndarray:
    """``arr`` as stored, seen as its ``ml_dtypes`` type ``tag`` again ("": as it is)."""
    if not tag:
        return arr
    import ml_dtypes  # onnx's own dependency

    return arr.view(np.dtype(getattr(ml_dtypes, tag)))


def _storable(arr: np.ndarray) -> np.ndarray:
    """Object (string) arrays as fixed-width unicode: loadable without pickle; ``ml_dtypes``'
    types as unsigned ints of their width."""
    if arr.dtype == object:
        return arr.astype(str)
    if ml_type(arr.dtype):
        return np.ascontiguousarray(arr).view(f"u{arr.dtype.itemsize}")
    return arr


def _runtime_value(arr: np.ndarray) -> np.ndarray:
    """ONNX Runtime takes string tensors as object arrays of str."""
    if arr.dtype.kind in "US":
        return arr.astype(object)
    return arr


def tensor_file(workdir: Path, index: int, tag: str = "") -> Path:
    """Where output ``index`` is saved; ``tag``: its ``ml_dtypes`` type's name, if any."""
    return workdir / (f"t{index}.{tag}.npy" if tag else f"t{index}.npy")


def save_tensor(workdir: Path, index: int, arr: np.ndarray) -> str:
    """Write one output or captured tensor; returns its file name (relative to ``workdir``)."""
    path = tensor_file(workdir, index, ml_type(arr.dtype))
    np.save(path, _storable(arr), allow_pickle=False)
    return path.name


def load_tensor(workdir: Path, file: str) -> np.ndarray:
    """Memory-mapped, read-only: nothing is read until the values are used."""
    parts = file.split(".")
    arr = np.load(workdir / file, mmap_mode="r", allow_pickle=False)
    return _typed(arr, parts[1] if len(parts) == 3 else "")


def result_skeleton() -> dict[str, Any]:
    """The keys of the run's result (what the child job returns), with their empty values.

    ``status``: "ok" | "session-failed" | "run-failed" (ONNX Runtime raised) | "inspector-error"
    (the Inspector's own code raised); ``error``: ONNX Runtime's raw message, or the Inspector's
    traceback; ``stage``: what the child was doing when the Inspector's code raised;
    ``unoptimized``: after a run failed with graph optimizations on, {status, error} of the same
    run with them off, else None; ``providers``: the session's providers; ``latencies_ms``: one per timed run; ``outputs`` and
    ``intermediates``: [{name, file or null, kind ("tensor" | "sequence" | ...), stats}] where
    stats are :func:`stats_to_json` of :func:`~inspector.core.tensor_stats.tensor_stats`;
    ``profile``: [{name, op_type, provider, us, runs}] kernel events summed per node;
    ``assignment``: [{ep, node, op_type}] for the nodes the session kept (original names).
    """
    return {
        "status": "ok",
        "error": "",
        "stage": "",
        "unoptimized": None,
        "providers": [],
        "latencies_ms": [],
        "outputs": [],
        "intermediates": [],
        "profile": [],
        "assignment": [],
    }


def stats_to_json(stats: TensorStats) -> dict[str, Any]:
    """The per-tensor figures the CLI and the panel show (``nan``/``inf`` are counts)."""
    return {
        "dtype": stats.dtype,
        "shape": list(stats.shape),
        "min": stats.min,
        "max": stats.max,
        "mean": stats.mean,
        "std": stats.std,
        "nan": stats.nan_count,
        "inf": stats.inf_count,
        "first_values": list(stats.first_values),
    }


def histogram_to_json(arr: np.ndarray) -> dict[str, list] | None:
    """``{"counts", "edges"}`` of :func:`~inspector.core.tensor_stats.histogram` (the child
    computes it while the values are in its memory, so the parent reads no output to draw it);
    None for a tensor with no finite numeric value."""
    h = histogram(arr)
    if h is None:
        return None
    counts, edges = h
    return {"counts": counts.tolist(), "edges": edges.tolist()}
