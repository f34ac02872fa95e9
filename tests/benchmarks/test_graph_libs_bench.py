"""networkx against the layout's own array ranking, on the 100k-node transformer export.

Why the open path uses numpy arrays: building a networkx DiGraph of the diagram alone costs more
than our whole ranking. Run: ``python -m pytest tests/benchmarks/test_graph_libs_bench.py
-m benchmark --benchmark-enable``.
"""

from __future__ import annotations

import numpy as np
import pytest

from inspector.core import layout
from inspector.core.diagram import build_diagram
from inspector.core.graph import open_model
from tests.benchmarks.bench_models import get_model

pytestmark = pytest.mark.benchmark


@pytest.fixture(scope="module")
def edges() -> tuple[int, np.ndarray, np.ndarray]:
    model = open_model(get_model("100k"), infer=False)
    d = build_diagram(model, model.graph)
    key = np.unique(d.edge_src.astype(np.int64) * d.box_count + d.edge_dst)
    return d.box_count, key // d.box_count, key % d.box_count


def networkx_rank(n: int, us: np.ndarray, ud: np.ndarray) -> dict[int, int]:
    nx = pytest.importorskip("networkx")  # the bench extra: the app itself does not use it
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(us.tolist(), ud.tolist(), strict=True))
    rank = dict.fromkeys(range(n), 0)
    for u in nx.topological_sort(g):
        r = rank[u] + 1
        for v in g.successors(u):
            if rank[v] < r:
                rank[v] = r
    return rank


def test_networkx_ranking(benchmark, edges) -> None:
    n, us, ud = edges
    rank = benchmark(networkx_rank, n, us, ud)
    assert all(
        rank[v] > rank[u] for u, v in zip(us[:1000].tolist(), ud[:1000].tolist(), strict=True)
    )


def test_array_ranking(benchmark, edges) -> None:
    n, us, ud = edges
    order, rank = benchmark(layout._rank, n, us, ud)
    assert len(order) == n and len(rank) == n
