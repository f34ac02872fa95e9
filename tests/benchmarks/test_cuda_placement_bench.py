"""How well the partition map predicts where ONNX Runtime's CUDA provider really puts each node.

Needs a machine with an NVIDIA GPU and ``onnxruntime-gpu`` installed in place of ``onnxruntime``
(skipped otherwise). For every model of the runtime-support truth corpus and the onnx wheel's
models, a session with providers [CUDA, CPU] is created in a child process at verbose log level
(:mod:`.placement_truth` reads its "Node placements"), and each main-graph node's real provider is
compared with :func:`~inspector.core.providers.placement_target.target_placement`'s prediction for
the order CUDA, CPU. The score is the precision and recall of "falls back to the CPU", printed
and written to ``tests/benchmarks/.cache/cuda_placement.json``.

Run: ``python -m pytest tests/benchmarks/test_cuda_placement_bench.py -m benchmark -s``.

Known differences, by design of the prediction: ONNX Runtime also moves small shape computations
that CUDA could run to the CPU on purpose (``GetCpuPreferredNodes``: nodes that only compute
shapes); those count as real fallbacks the tables cannot show, and are reported apart.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inspector.core.graph import open_model
from inspector.core.providers.placement import CPU
from inspector.core.providers.placement_target import target_placement
from tests.benchmarks.placement_truth import real_placement

CUDA = "CUDAExecutionProvider"
CACHE = Path(__file__).resolve().parent / ".cache" / "cuda_placement.json"


def _cuda_available() -> bool:
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    return CUDA in ort.get_available_providers()


pytestmark = [
    pytest.mark.benchmark,
    pytest.mark.skipif(not _cuda_available(), reason="needs onnxruntime-gpu and an NVIDIA GPU"),
]


def _corpus(folder: Path) -> list[Path]:
    """The truth corpus's models and the onnx wheel's, written with unique node names."""
    import onnx

    from tests.core.runtime_corpus import build_corpus
    from tests.model_zoo import shipped_model_id, shipped_models

    paths = []
    for case in build_corpus():
        path = folder / f"{len(paths):05d}.onnx"
        path.write_bytes(case.data())
        paths.append(path)
    for shipped in shipped_models():
        model = onnx.load(str(shipped))
        for i, node in enumerate(model.graph.node):
            node.name = node.name or f"n{i}"
        path = folder / f"{shipped_model_id(shipped).replace('/', '_')}.onnx"
        onnx.save(model, path)
        paths.append(path)
    return paths


def test_cuda_fallback_prediction(tmp_path) -> None:
    tp = fp = fn = tn = 0
    models = 0
    misses: list[str] = []
    for path in _corpus(tmp_path):
        real = real_placement(path, [CUDA, CPU])
        if not real:
            continue  # no session (the model is refused): the runtime check's business
        model = open_model(path)
        predicted = target_placement(model, [CUDA]).provider_of
        models += 1
        for node in model.graph.nodes:
            actual = real.get(node.name)
            if actual is None or node.op_type == "Constant":
                continue
            said, was = predicted[node.index] == CPU, actual == CPU
            tp += said and was
            fp += said and not was
            fn += was and not said
            tn += not said and not was
            if said != was and len(misses) < 200:
                misses.append(
                    f"{path.name} {node.op_type} ({node.name}): predicted "
                    f"{predicted[node.index]}, ran on {actual}"
                )
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    report = {
        "models": models,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": precision,
        "recall": recall,
        "misses": misses,
    }
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_text(json.dumps(report, indent=1))
    print(
        f"\nCUDA fallback over {models} models: precision {precision:.3f}, recall {recall:.3f} "
        f"(tp {tp}, fp {fp}, fn {fn}, tn {tn})"
    )
    print("\n".join(misses[:40]))
    assert models > 0
