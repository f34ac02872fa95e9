"""Issue 16, acceptance 4: a diff of two 10k-node models opens side by side within 2 s, and
frames stay under 50 ms while panning both.

Run with ``pytest tests/benchmarks/test_compare_bench.py -m benchmark --benchmark-enable -s``.

A is the 10k-node Llama export (:mod:`tests.benchmarks.bench_models`); B is a copy with one
node in 500 changed (an attribute, an initializer's values or the op type, in turn) and a few
nodes inserted, so the layouts differ and the diff has work to do. "Opens" is from File >
Compare With… (``compare_files``) to both views painted with the diff's colours: reading both
files, laying out both graphs and the structural diff, each on a worker thread. A pan frame is
one scroll step of view A (200 px), the sync that moves view B, and a forced repaint of both
viewports, timed together, at three zooms, once shape inference and the diff after it ended.

Measured 2026-12-03 on the shared 2-core machine at load average 6-7 (seven helpers at work;
the 100k-box scene build of ``test_view_bench`` took 685 ms then against the README's 190 ms):
open side by side with colours in 2.05-2.97 s over two runs of 3 rounds (best 2.05 s), of which,
in isolation and best of 3, reading and laying out A 0.73 s and B 0.54 s, the structural diff
0.52 s, reading it onto the boxes 0.014 s and both scenes 0.17 s; a pan step with both repaints
median 8-22 ms, worst 35 ms; each view's own frame median 1-7 ms, worst 13 ms.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from tests.benchmarks.bench_models import get_model
from tests.ui.conftest import window  # noqa: F401  (the window-level tests' fixture)

pytestmark = pytest.mark.benchmark

OPEN_ROUNDS = 3
PAN_STEPS = 30
ZOOMS = {"far": 0.1, "mid": 0.35, "close": 1.0}


def changed_copy(src, dst, each: int = 5) -> dict[str, int]:
    """Write a copy of ``src`` with ``each`` nodes changed in an integer attribute, ``each`` in
    an initializer's first value, ``each`` in op type, and ``each`` Identity nodes inserted,
    spread over the graph; return how many of each were made."""
    model = onnx.load(src)
    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    nodes = list(graph.node)

    def spread(candidates: list[int]) -> list[int]:
        return candidates[:: max(1, len(candidates) // each)][:each]

    with_int = spread(
        [i for i, n in enumerate(nodes) if n.attribute and n.attribute[0].type == 2]
    )  # AttributeProto.INT
    consumers: dict[str, int] = {}
    for n in nodes:
        for x in n.input:
            consumers[x] = consumers.get(x, 0) + 1
    # a weight of one node only: a shared one would change every node reading it
    with_weight = spread(
        [
            i
            for i, n in enumerate(nodes)
            if any(
                x in inits
                and consumers[x] == 1
                and inits[x].data_type == onnx.TensorProto.FLOAT
                and len(inits[x].dims) >= 1
                for x in n.input
            )
        ]
    )
    swaps = {"Sigmoid": "Tanh", "Neg": "Abs", "Sqrt": "Exp"}
    swapped = spread([i for i, n in enumerate(nodes) if n.op_type in swaps])
    for i in with_int:
        nodes[i].attribute[0].i += 1
    for i in with_weight:
        weight = next(inits[x] for x in nodes[i].input if x in inits and consumers[x] == 1)
        values = numpy_helper.to_array(weight).copy()
        values.flat[0] += 1.0
        weight.CopyFrom(numpy_helper.from_array(values, weight.name))
    for i in swapped:
        nodes[i].op_type = swaps[nodes[i].op_type]
    inserted = set(spread([i for i, n in enumerate(nodes) if len(n.output) == 1]))
    out: list[onnx.NodeProto] = []
    for i, node in enumerate(nodes):
        out.append(node)
        if i in inserted:
            name = node.output[0]
            node.output[0] = f"{name}__before_identity"
            out.append(helper.make_node("Identity", [node.output[0]], [name], name=f"added_{i}"))
    del graph.node[:]
    graph.node.extend(out)
    onnx.save(model, dst)
    return {
        "attribute": len(with_int),
        "initializer": len(with_weight),
        "op type": len(swapped),
        "inserted": len(inserted),
    }


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    a = get_model("10k")
    b = tmp_path_factory.mktemp("compare") / "llama-10k-changed.onnx"
    counts = changed_copy(a, b)
    return a, b, counts


def open_compare(qtbot, win, a, b) -> tuple[float, object]:
    """Seconds from Compare With… to both views painted with the diff's colours."""
    win.resize(1800, 1000)
    started = time.perf_counter()
    with qtbot.waitSignal(win.comparisons.diffed, timeout=60000):
        win.compare_files(str(a), str(b))
    view = win.current_compare_view()
    view.view_a.viewport().repaint()
    view.view_b.viewport().repaint()
    return time.perf_counter() - started, view


def test_a_diff_of_two_10k_models_opens_within_2s(qtbot, window, pair):  # noqa: F811
    a, b, counts = pair
    seconds = []
    for _ in range(OPEN_ROUNDS):
        took, view = open_compare(qtbot, window, a, b)
        seconds.append(took)
        comp = view.comparison
        assert not comp.error
        window._close_tab(window.tabs.currentIndex())
    diff = comp.diff
    print(
        f"\nB: {counts}; diff: {len(diff.pairs):,} pairs, {len(diff.changed)} changed, "
        f"{len(diff.removed)} removed, {len(diff.added)} added\n"
        f"open side by side (s), {OPEN_ROUNDS} rounds: {[round(s, 3) for s in seconds]}"
    )
    assert len(diff.added) >= counts["inserted"]
    assert min(seconds) < 2.0


@pytest.mark.parametrize("zoom", list(ZOOMS))
def test_panning_both_views_keeps_frames_under_50ms(qtbot, window, pair, zoom):  # noqa: F811
    a, b, _ = pair
    _, view = open_compare(qtbot, window, a, b)
    # the steady state: shape inference (two children) and the diff after it have ended
    qtbot.waitUntil(lambda: window.comparisons.settled(view.comp_id), timeout=120000)
    va, vb = view.view_a, view.view_b
    va.set_zoom(ZOOMS[zoom])
    va.center_on_box(int(np.argmin(view.scene_a.layout.y)))  # the top: room to pan down
    for v in (va, vb):
        v.viewport().repaint()  # a far-out frame of a big graph builds its overview once
    steps, frames_a, frames_b = [], [], []
    bar = va.verticalScrollBar()
    for _ in range(PAN_STEPS):
        t0 = time.perf_counter()
        bar.setValue(bar.value() + 200)  # view B follows through the sync
        va.viewport().repaint()
        vb.viewport().repaint()
        steps.append((time.perf_counter() - t0) * 1000)
        frames_a.append(va.last_frame_ms)
        frames_b.append(vb.last_frame_ms)
    print(
        f"\n{zoom} (zoom {ZOOMS[zoom]}): pan step with both repaints median "
        f"{statistics.median(steps):.1f} ms, worst {max(steps):.1f} ms; frame A median "
        f"{statistics.median(frames_a):.1f} / worst {max(frames_a):.1f} ms, frame B median "
        f"{statistics.median(frames_b):.1f} / worst {max(frames_b):.1f} ms; painted boxes "
        f"A {view.scene_a.painted_box_count}, B {view.scene_b.painted_box_count}"
    )
    assert view.scene_a.painted_box_count > 0 and view.scene_b.painted_box_count > 0
    assert statistics.median(steps) < 50
    assert max(frames_a) < 50 and max(frames_b) < 50
