"""The edges check (dtype/shape mismatches) on the 10k-node transformer export: under 2 s.

Run: ``python -m pytest tests/benchmarks/test_edges_bench.py -m benchmark --benchmark-enable -s``
"""

from __future__ import annotations

import pytest

from inspector.core.checks import edges
from inspector.core.findings import Severity
from inspector.core.graph import open_model
from tests.benchmarks.bench_models import get_model

pytestmark = pytest.mark.benchmark

TARGET_S = 2.0


def test_edges_check_10k(benchmark) -> None:
    # Opened without onnx's whole-model inference: the check infers every node itself.
    model = open_model(get_model("10k"), infer=False)
    findings = benchmark.pedantic(edges.check, args=(model,), rounds=5, iterations=1)
    print(f"\n10k: {model.node_count} nodes, edges check {benchmark.stats['max']:.3f} s (max of 5)")
    assert not [f for f in findings if f.severity is Severity.ERROR]
    assert benchmark.stats["max"] < TARGET_S
