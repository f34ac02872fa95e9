"""Opening and closing one model in the window again and again: what stays behind.

Shared by ``tests/ui/test_close_frees.py`` (a built model) and the benchmark
``tests/benchmarks/test_close_frees_bench.py`` (the 10k- and 100k-node transformer exports).
"""

from __future__ import annotations

import gc
import os
import types
from dataclasses import dataclass
from pathlib import Path

import onnx
from PySide6.QtCore import QCoreApplication

from inspector.core.graph import Model, Node, Value
from inspector.ui import heap
from inspector.ui.document_view import DocumentView
from inspector.ui.main_window import MainWindow
from inspector.ui.session import Selection
from tests.ui.window_driving import open_and_wait

GRAPH_TYPES = (Node, Value, Model, onnx.NodeProto, onnx.ModelProto)


@dataclass
class Rounds:
    rss_after_close: list[int]  # bytes resident after each close
    left: dict[str, int]  # graph-model objects still alive after the last close, by type
    holders: list[str]  # for the first few of them: the chain of objects that holds them

    @property
    def growth(self) -> float:
        """Resident memory after the last close over that after the first."""
        return self.rss_after_close[-1] / self.rss_after_close[0]


def resident_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def graph_objects() -> list[object]:
    return [o for o in gc.get_objects() if isinstance(o, GRAPH_TYPES)]


def open_close(qtbot, window: MainWindow, path: Path, rounds: int, run: bool = False) -> Rounds:
    """Open ``path``, look at a node, a value and search results, close its tab; ``rounds`` times.
    With ``run``, the first and the last round also run the model with every intermediate
    captured. Objects of the graph model that were alive before the first open (other tests')
    are not counted."""
    # The window as ``run_app`` starts it (tests build a ``MainWindow`` without it): with glibc's
    # mmap threshold fixed, which the memory measured here depends on.
    heap.fix_mmap_threshold()
    # Models an earlier test's window left open are frozen (out of the collector's sight, and of
    # ``gc.get_objects``): thaw them, so they count as alive before the first open.
    gc.unfreeze()
    gc.collect()
    before = {id(o) for o in graph_objects()}
    rss: list[int] = []
    for i in range(rounds):
        # The checks are not waited for: closing the tab cancels them (and kills their child).
        view = open_and_wait(qtbot, window, path)
        if run and i in (0, rounds - 1):
            window.inference.options.capture.setChecked(True)
            with qtbot.waitSignal(window.inference.run_finished, timeout=120_000) as finished:
                window.inference.run()
            assert finished.args == ["ok"]
        _look_around(window, view)
        with qtbot.waitSignal(view.destroyed, timeout=10_000):
            window.tabs.tabCloseRequested.emit(window.tabs.indexOf(view))
        del view
        # cancelled work ends, and its results (dropped by the runner) are delivered
        assert window.runner.wait_idle(60_000)
        QCoreApplication.processEvents()
        gc.collect()
        rss.append(resident_bytes())
    left = [o for o in graph_objects() if id(o) not in before]
    counts: dict[str, int] = {}
    for o in left:
        counts[type(o).__name__] = counts.get(type(o).__name__, 0) + 1
    return Rounds(rss, counts, [holder_chain(o) for o in left[:3]])


def _look_around(window: MainWindow, view: DocumentView) -> None:
    """What a user does with an open model, so the panels build from it: select a node and a
    value (the Properties panel), search (the Search panel and the highlight)."""
    node = view.document.graph.nodes[-1]
    window.session.select(view.doc_id, Selection("node", node.index))
    window.session.select(view.doc_id, Selection("value", node.outputs[0]))
    window.search.set_query(node.op_type)


def holder_chain(obj: object, depth: int = 8) -> str:
    """What holds ``obj``: one referrer per level (skipping frames and this module's lists)."""
    chain = [type(obj).__name__]
    seen = {id(obj)}
    for _ in range(depth):
        referrers = [
            r
            for r in gc.get_referrers(obj)
            if id(r) not in seen and not isinstance(r, types.FrameType) and r is not chain
        ]
        if not referrers:
            break
        obj = referrers[0]
        seen.add(id(obj))
        name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
        chain.append(f"{type(obj).__name__}{f' {name}' if isinstance(name, str) else ''}")
    return " ← ".join(chain)
