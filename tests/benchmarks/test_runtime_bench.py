"""The runtime-support check: its accuracy against real sessions on the full corpus, and its speed.

* ``test_truth_full``: every model of ``tests/core/runtime_corpus.build_corpus()``, the tuned part
  and the two held-out parts scored separately, labelled by real ``InferenceSession`` creation in child
  processes (cached in ``tests/benchmarks/.cache/runtime_truth.json``), against the check's
  prediction. Targets on each part: precision and recall of "session creation fails" ≥ 0.99,
  failing node named in ≥ 99% of node-pinned failures.
* ``test_check_10k``: the check on the ~10k-node transformer export, under 1 s (the kernel index
  is built once per process, before timing, as in the window).

Run: ``python -m pytest tests/benchmarks/test_runtime_bench.py -m benchmark --benchmark-enable -s``
"""

from __future__ import annotations

import time

import pytest

from inspector.core.checks import RuntimeTarget
from inspector.core.checks.runtime_registry import load_registry
from inspector.core.checks.runtime_support import check
from inspector.core.graph import open_model
from tests.benchmarks.bench_models import get_model
from tests.core import runtime_corpus, runtime_truth

pytestmark = pytest.mark.benchmark


@pytest.mark.parametrize("part", ["tuned", "heldout", "heldout2"])
def test_truth_full(benchmark, part) -> None:
    cases = runtime_corpus.build_corpus(part)
    labels = runtime_truth.label_cases(cases)
    s = benchmark.pedantic(runtime_truth.score, args=(cases, labels), rounds=1, iterations=1)
    benchmark.extra_info.update(
        precision=s.precision, recall=s.recall, naming=s.naming, cases=len(cases)
    )
    print(f"\n{part}: {len(cases)} models: {s.text()}")
    for miss in s.misses:
        print("  ", miss[:160])
    assert len(cases) >= 2000
    assert s.precision >= 0.99 and s.recall >= 0.99 and s.naming >= 0.99


def test_check_10k(benchmark) -> None:
    model = open_model(get_model("10k"))
    load_registry("CPUExecutionProvider")
    start = time.perf_counter()
    findings = benchmark.pedantic(check, args=(model, RuntimeTarget()), rounds=3, iterations=1)
    elapsed = (time.perf_counter() - start) / 3
    print(f"\n{model.node_count} nodes: {elapsed:.3f} s per check, {len(findings)} findings")
    assert elapsed < 1.0
