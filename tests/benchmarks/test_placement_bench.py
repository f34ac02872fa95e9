"""The partition map of the ~10k-node transformer export, under 1 s per provider order.

Each order is timed on a freshly opened model, so the per-model verdicts (the kernel tables'
check of every node) are part of the time; the tables themselves are parsed once per process
before timing, as in the window (the CPU registry likewise, as ``test_runtime_bench`` does).

Run: ``python -m pytest tests/benchmarks/test_placement_bench.py -m benchmark --benchmark-enable -s``
"""

from __future__ import annotations

import time

import pytest

from inspector.core.checks.runtime_registry import load_registry
from inspector.core.graph import open_model
from inspector.core.providers.placement_target import target_placement
from tests.benchmarks.bench_models import get_model

pytestmark = pytest.mark.benchmark

ORDERS = {
    "cuda": ["CUDAExecutionProvider"],
    "tensorrt-cuda": ["TensorrtExecutionProvider", "CUDAExecutionProvider"],
    "nnapi": ["NnapiExecutionProvider"],
    "coreml-mlprogram": ["CoreMLExecutionProvider"],
}


@pytest.fixture(scope="module")
def warm_tables():
    load_registry("CPUExecutionProvider")
    warm = open_model(get_model("10k"))
    for order in ORDERS.values():
        target_placement(warm, order)


@pytest.mark.parametrize("name", list(ORDERS))
def test_partition_map_10k(benchmark, warm_tables, name) -> None:
    order = ORDERS[name]
    options = {"ModelFormat": "MLProgram"} if name == "coreml-mlprogram" else {}
    models = [open_model(get_model("10k")) for _ in range(3)]
    times: list[float] = []

    def one() -> object:
        model = models[len(times)]
        start = time.perf_counter()
        placed = target_placement(model, order, options)
        times.append(time.perf_counter() - start)
        return placed

    placed = benchmark.pedantic(one, rounds=3, iterations=1)
    print(
        f"\n{name}: {models[0].node_count} nodes, {placed.summary()}: "
        + ", ".join(f"{t:.3f}" for t in times)
        + " s"
    )
    assert max(times) < 1.0
