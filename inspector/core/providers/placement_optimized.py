"""The partition map of the graph ONNX Runtime places: the model after its basic optimizations.

ONNX Runtime runs its level-1 ("basic") graph transformers (constant folding, Conv+BatchNormalization
and Conv+Add fusion, Identity and Dropout elimination, ...) before it asks the providers for
nodes, and its mobile usability checker counts that graph. The optimized graph is only known by
building a session, so a child process (the one child layer, :mod:`inspector.core.child`) builds
a CPU session at that level and has ONNX Runtime save the result into a temporary folder (large
initializers as external data next to it); the map is then made of that file, never of the
user's, which is only read.

Known limitation: the node indices of an optimized map are the optimized graph's; the findings of
``check`` stay on the graph as saved.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from inspector.core.child import ChildCall, ChildJob, Emitter, Outcome, call_child
from inspector.core.graph import open_model
from inspector.core.providers.placement import Placement
from inspector.core.providers.placement_target import target_placement
from inspector.core.tasks import CancelToken

_OPTIMIZED = "optimized.onnx"


class OptimizeFailed(Exception):
    """ONNX Runtime could not build the session that optimizes the model (the message says why)."""


def optimize(emit: Emitter, path: str, folder: str) -> dict[str, Any]:
    """The child's side: a CPU session at the basic level, saving its graph to ``folder``."""
    import onnxruntime as ort

    emit.progress(0.1, "optimizing (basic level)")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = str(Path(folder) / _OPTIMIZED)
    so.log_severity_level = 3  # errors only
    # Models over 2 GB cannot be saved as one protobuf: large initializers go next to it.
    so.add_session_config_entry(
        "session.optimized_model_external_initializers_file_name", "external_data.pb"
    )
    ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return {"path": so.optimized_model_filepath}


def optimize_call(path: str | os.PathLike[str], folder: Path, timeout: float) -> ChildCall[Path]:
    """The child job writing ``path``'s basic-optimized graph into ``folder``."""
    args = {"path": str(Path(path).resolve()), "folder": str(folder)}
    job = ChildJob(f"{__name__}:optimize", args, timeout, "the basic optimization")

    def finish(outcome: Outcome) -> Path:
        if outcome.failure is not None:
            raise OptimizeFailed(outcome.failure.said or outcome.failure.message)
        return Path(outcome.value["path"])

    return ChildCall(job, finish)


def optimized_placement(
    path: str | os.PathLike[str],
    order: Sequence[str],
    options: dict[str, str] | None = None,
    timeout: float = 600.0,
    cancel: CancelToken | None = None,
) -> Placement:
    """The partition map of the model at ``path`` as ONNX Runtime optimizes it at the basic
    level (``graph`` is "optimized"); raises :class:`OptimizeFailed` when no session can be
    built (the map of the graph as saved is then the one to show)."""
    folder = Path(tempfile.mkdtemp(prefix="onnx-inspector-optimized-"))
    try:
        optimized = call_child(optimize_call(path, folder, timeout), cancel=cancel)
        model = open_model(optimized, cancel=cancel)
        return target_placement(model, order, options, cancel, graph="optimized")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
