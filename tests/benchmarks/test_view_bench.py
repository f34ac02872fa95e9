"""Graph view benchmarks: scene build time, and frame time at fit, mid and close zoom.

Run with ``pytest tests/benchmarks/test_view_bench.py -m benchmark --benchmark-enable``.

Graphs are synthetic (rows of boxes, each feeding the box below and every third one also the box
below-right, plus random skip edges) with 1k, 10k and 100k boxes, laid out by the real
``layered_layout``, so edges have its lanes and long runs. A frame is one forced repaint of an
1600×1000 viewport; "far" (just above the overview image of a 100k graph, the costliest zoom), "mid" and "close" are centred on the middle box. The target is 50 ms for
every frame at any zoom on 100k boxes, and a scene build well under 1 s.
"""

from __future__ import annotations

import statistics

import numpy as np
import pytest

from inspector.core.diagram import Diagram
from inspector.core.layout import Layout, layered_layout
from inspector.scene import GraphScene, palette_for
from inspector.ui.graph_view import GraphView
from tests.ui.test_graph_view import synthetic

pytestmark = pytest.mark.benchmark

SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}
ZOOMS = {"fit": None, "far": 0.08, "mid": 0.35, "close": 1.0}

_cache: dict[str, tuple[Diagram, Layout]] = {}


def graph(size: str) -> tuple[Diagram, Layout]:
    """The synthetic graph of ``size``, laid out once per session (100k takes ~2 s)."""
    if size not in _cache:
        n = SIZES[size]
        diagram, _ = synthetic(n, columns=max(10, int(np.sqrt(n) / 2)))
        rng = np.random.default_rng(0)
        skip_src = rng.integers(0, n - 100, n // 20)
        diagram.edge_src = np.concatenate([diagram.edge_src, skip_src]).astype(np.int32)
        diagram.edge_dst = np.concatenate(
            [diagram.edge_dst, skip_src + rng.integers(50, 100, len(skip_src))]
        ).astype(np.int32)
        diagram.edge_value += [f"s{s}" for s in skip_src.tolist()]
        diagram.edge_label += ["float16[1,128]"] * len(skip_src)
        layout = layered_layout(diagram.width, diagram.height, diagram.edge_src, diagram.edge_dst)
        _cache[size] = (diagram, layout)
    return _cache[size]


@pytest.mark.parametrize("size", list(SIZES))
def test_scene_build(benchmark, qapp, size: str) -> None:
    diagram, layout = graph(size)
    scene = benchmark(GraphScene, diagram, layout, palette_for(False))
    assert scene.box_grid.count == diagram.box_count


@pytest.mark.parametrize("zoom", list(ZOOMS))
@pytest.mark.parametrize("size", list(SIZES))
def test_frame(benchmark, qtbot, size: str, zoom: str) -> None:
    diagram, layout = graph(size)
    view = GraphView()
    qtbot.addWidget(view)
    view.resize(1600, 1000)
    view.setScene(GraphScene(diagram, layout, palette_for(False)))
    with qtbot.waitExposed(view):
        view.show()
    view.fit_to_window()
    if ZOOMS[zoom] is not None:
        view.set_zoom(ZOOMS[zoom])
        view.center_on_box(diagram.box_count // 2)
    view.viewport().repaint()  # the first far-out frame of a big graph builds its overview

    frames: list[float] = []

    def frame() -> None:
        view.viewport().repaint()
        frames.append(view.last_frame_ms)

    benchmark.pedantic(frame, rounds=15, warmup_rounds=2)
    benchmark.extra_info["painted_boxes"] = view.graph_scene().painted_box_count
    benchmark.extra_info["worst_ms"] = max(frames)
    assert view.graph_scene().painted_box_count > 0
    assert statistics.median(frames) < 50  # the budget for a pan or zoom frame
