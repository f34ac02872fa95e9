"""Acceptance 5 of issue 12: closing a tab frees the model and everything built from it.

The same model is opened and closed ten times in the window; after the last close no object of
the graph model (``Node``, ``Value``, ``Model``, their ``NodeProto``/``ModelProto``) built by those
opens (and the runs of the first and the last, every intermediate captured) is alive, and resident memory is within 10% of what it was after the first close. The
10k- and 100k-node exports are measured by ``tests/benchmarks/test_close_frees_bench.py``.
"""

from __future__ import annotations

import gc
import threading
import weakref
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from inspector.core.diagram import layout_diagram
from inspector.core.tasks import CancelToken
from inspector.ui import document_view
from tests.core.test_collapse import layered_model
from tests.ui.close_frees import open_close
from tests.ui.window_driving import open_and_wait

LAYERS = 300  # 5 nodes a layer: 1,500 nodes, 600 initializers (about 2.5 MB)


def _layered_model(path: Path) -> Path:
    """A chain of MatMul/Add/Relu/Mul/Add layers with weights, like a small MLP export."""
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    x = "x"
    for i in range(LAYERS):
        w, b = f"w{i}", f"b{i}"
        inits += [
            numpy_helper.from_array(rng.standard_normal((32, 32)).astype(np.float32), w),
            numpy_helper.from_array(rng.standard_normal(32).astype(np.float32), b),
        ]
        nodes += [
            helper.make_node("MatMul", [x, w], [f"m{i}"], name=f"layer{i}.matmul"),
            helper.make_node("Add", [f"m{i}", b], [f"a{i}"], name=f"layer{i}.add"),
            helper.make_node("Relu", [f"a{i}"], [f"r{i}"], name=f"layer{i}.relu"),
            helper.make_node("Mul", [f"r{i}", f"a{i}"], [f"g{i}"], name=f"layer{i}.gate"),
            helper.make_node("Add", [f"g{i}", x], [f"y{i}"], name=f"layer{i}.residual"),
        ]
        x = f"y{i}"
    graph = helper.make_graph(
        nodes,
        "layers",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 32])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", 32])],
        inits,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_closing_a_tab_ten_times_frees_every_model(qtbot, window, tmp_path):
    rounds = open_close(qtbot, window, _layered_model(tmp_path / "layers.onnx"), 10, run=True)
    assert rounds.left == {}, "\n".join(rounds.holders)
    assert rounds.growth <= 1.10, [f"{b / 2**20:.1f} MiB" for b in rounds.rss_after_close]


def _two_tabs(qtbot, window, tmp_path):
    """Two small layered models open in tabs, both drawn."""
    first = open_and_wait(qtbot, window, _layered_model(tmp_path / "first.onnx"))
    return first, open_and_wait(qtbot, window, _layered_model(tmp_path / "second.onnx"))


def _close(qtbot, window, view) -> None:
    """Close ``view``'s tab; return once the view is deleted and the workers are idle."""
    with qtbot.waitSignal(view.destroyed, timeout=10_000):
        window.tabs.tabCloseRequested.emit(window.tabs.indexOf(view))
    assert window.runner.wait_idle(60_000)


def test_closing_one_of_two_tabs_frees_it_and_keeps_the_other_frozen(qtbot, window, tmp_path):
    """A tab's model is kept out of garbage collections while it is open (``gc.freeze``, which is
    for the whole process): closing another tab frees that one's model, cycles and all, and
    leaves the open one frozen."""
    first, second = _two_tabs(qtbot, window, tmp_path)
    kept, closed = weakref.ref(first.document.model), weakref.ref(second.document.model)
    _close(qtbot, window, second)
    del first, second
    # freed once the view is deleted, with no collection asked for here
    qtbot.waitUntil(lambda: closed() is None, timeout=10_000)
    assert kept() is not None
    assert gc.get_freeze_count() > 0  # the open tab's model, frozen again


def test_closing_an_older_tab_needs_no_full_collection(qtbot, window, tmp_path, monkeypatch):
    """The first tab's window objects were frozen when the second opened; closing it still
    frees its model by reference counting (the tab lets go of its scene, and the scene's layers
    hold it weakly), so the open tab's frozen model is not thawed and rescanned (0.3 s of the
    GUI thread with a 300k-node model open)."""
    first, second = _two_tabs(qtbot, window, tmp_path)
    closed, kept = weakref.ref(first.document.model), weakref.ref(second.document.model)
    thaws: list[int] = []
    unfreeze = gc.unfreeze
    monkeypatch.setattr(gc, "unfreeze", lambda: (thaws.append(1), unfreeze())[1])
    frees: list[int] = []
    window.session.free_closed = lambda f=window.session.free_closed: (f(), frees.append(1))
    _close(qtbot, window, first)
    del first, second
    qtbot.waitUntil(lambda: bool(frees), timeout=10_000)
    assert closed() is None and kept() is not None
    assert thaws == []


def test_a_closed_model_held_in_a_cycle_is_still_freed(qtbot, window, tmp_path):
    """Should something of a closed tab hold its model in a frozen reference cycle, closing
    thaws and collects everything, as before: the model goes."""
    first, second = _two_tabs(qtbot, window, tmp_path)
    cycle: dict = {"model": second.document.model}
    cycle["self"] = cycle
    gc.freeze()  # as a later open would
    closed, kept = weakref.ref(second.document.model), weakref.ref(first.document.model)
    del cycle
    _close(qtbot, window, second)
    del first, second
    qtbot.waitUntil(lambda: closed() is None, timeout=10_000)
    assert kept() is not None
    assert gc.get_freeze_count() > 0  # the open tab's model, frozen again


def test_closing_a_tab_stops_the_layout_of_its_groups(qtbot, window, tmp_path, monkeypatch):
    """A big expansion is laid out on a worker: closing its tab cancels it, so the worker lets
    go of the closed model (and its CPU) at the layout's next check, not seconds later."""
    path = tmp_path / "layered300.onnx"
    onnx.save(layered_model(300), path)
    view = open_and_wait(qtbot, window, path)
    tokens: list[CancelToken] = []
    laying_out, release = threading.Event(), threading.Event()

    def held_layout(diagram, progress, cancel):  # the worker waits until the tab is closed
        if threading.current_thread() is not threading.main_thread():
            tokens.append(cancel)
            laying_out.set()
            assert release.wait(60)
        return layout_diagram(diagram, progress, cancel)

    monkeypatch.setattr(document_view, "layout_diagram", held_layout)
    folding = view.drawing.folding
    leaf = max(t for t in folding.everything if not folding.is_fold(t))
    view.set_expanded(folding.everything - {leaf})
    assert laying_out.wait(60)
    window.tabs.tabCloseRequested.emit(window.tabs.indexOf(view))
    cancelled = tokens[0].cancelled
    release.set()
    assert window.runner.wait_idle(60_000)
    assert cancelled
