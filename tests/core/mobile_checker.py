"""ONNX Runtime's own mobile usability checker, run in a child process for the agreement tests.

``onnxruntime.tools`` imports torch when it is installed, and the test process must not: the
window's tests assert the GUI never imports torch, and every test shares the process. So the
checker's figures (per provider: partition sizes, supported-node count, and which nodes it takes,
as (graph, node) positions) are computed in a child, for a batch of models at once.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import onnx

from inspector.core.child import ChildJob, Emitter, run_job

# label → (the checker's function, its support list)
TARGETS = {
    "NNAPI": ("nnapi", ""),
    "CoreML NeuralNetwork": ("coreml", "coreml_supported_neuralnetwork_ops.md"),
    "CoreML MLProgram": ("coreml", "coreml_supported_mlprogram_ops.md"),
}


def checker_available() -> bool:
    """Whether the installed onnxruntime ships the checker (found without importing it)."""
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or spec.origin is None:
        return False
    return (Path(spec.origin).parent / "tools" / "mobile_helpers" / "usability_checker.py").exists()


def graph_protos(g: onnx.GraphProto) -> list[onnx.GraphProto]:
    """The graphs in the order ``Graph.iter_graphs`` walks them (depth first, by attribute)."""
    out = [g]
    for n in g.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                out += graph_protos(a.g)
    return out


def checker_figures(emit: Emitter, models: list[list[str]]) -> list[dict]:
    """The job (in the child): for each [model, optimized path], the checker's basic-level
    optimization written to the optimized path, and its figures per target."""
    import onnxruntime.tools.mobile_helpers.usability_checker as uc
    import onnxruntime.tools.onnx_model_utils as ou

    results = []
    for k, (source, optimized) in enumerate(models):
        emit.progress(k / max(len(models), 1), source)
        result: dict = {"skipped": "", "checker_s": 0.0, "targets": {}}
        results.append(result)
        started = time.perf_counter()
        try:
            ou.optimize_model(Path(source), Path(optimized), use_external_initializers=True)
            proto = ou.ModelProtoWithShapeInfo(Path(optimized)).model_with_shape_info
        except Exception as e:  # the checker's own first steps fail: it has no figures
            result["skipped"] = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:100]}"
            continue
        result["checker_s"] += time.perf_counter() - started
        # Held for the whole loop: protobuf hands out one wrapper per node only while one is
        # alive, and the checker's groups hold the wrappers it got (compared by identity).
        nodes = [
            (gi, ni, n)
            for gi, g in enumerate(graph_protos(proto.graph))
            for ni, n in enumerate(g.node)
        ]
        where = {id(n): (gi, ni) for gi, ni, n in nodes}
        for label, (kind, listing) in TARGETS.items():
            started = time.perf_counter()
            try:
                if kind == "nnapi":
                    info = uc.check_nnapi_partitions(proto, True)
                else:
                    info = uc.check_coreml_partitions(proto, True, listing)
            except Exception as e:
                result["skipped"] = f"the checker fails on it: {type(e).__name__}: {e}"
                break
            result["checker_s"] += time.perf_counter() - started
            result["targets"][label] = {
                "sizes": [len(group) for group in info.supported_groups],
                "supported": info.num_supported_nodes,
                "taken": [where[id(n)] for group in info.supported_groups for n in group],
            }
    return results


def run_checker(paths: list[Path], folder: Path) -> list[dict]:
    """The checker's figures for each of ``paths`` (one child for the batch); each result's
    ``optimized`` is the graph it counted, written into ``folder``."""
    pairs = []
    for i, p in enumerate(paths):  # a folder each: the checker writes external_data.pb beside it
        (folder / f"optimized-{i}").mkdir()
        pairs.append([str(p), str(folder / f"optimized-{i}" / "model.onnx")])
    job = ChildJob(
        "tests.core.mobile_checker:checker_figures",
        {"models": pairs},
        60.0 + 30.0 * len(pairs),
        "ONNX Runtime's usability checker",
    )
    outcome = run_job(job)
    if outcome.failure is not None:
        raise RuntimeError(f"the usability checker's child failed: {outcome.failure.said}")
    for result, (_, optimized) in zip(outcome.value, pairs, strict=True):
        result["optimized"] = optimized
    return outcome.value
