"""Child-process probe: open one model in the real window and report times, frames and memory.

``python -m tests.benchmarks.open_probe MODEL.onnx`` prints one JSON object:
``onnx_load_s`` (best of 3 ``onnx.load`` of the file, in this process, after the window has
closed), ``open_s`` (best of
``--rounds`` opens: from ``open_files`` to the first complete paint of the graph, i.e. the window is
interactive), ``ratio`` (open_s / onnx_load_s, both measured here, so machine noise mostly cancels),
``frames_ms`` (per zoom level and per pan step after the open, the median of 5 forced
repaints; ``max_frame_ms`` the largest of those, ``worst_single_frame_ms`` the slowest single
repaint), ``worst_busy_frame_ms`` (the slowest of the repaints done while shape inference and
the checks ran after the first open), ``rss_mb``
(peak resident memory of this process while the window had the model open) and ``nodes``.
``--open-only`` measures the opens and the peak memory and nothing else (each tab is closed
right after its first paint, which stops its shape inference and checks); it prints
``open_s``, ``opens_s``, ``open_cpu_s`` (CPU seconds of the process, all threads, per open:
steadier than wall time on a loaded machine) and ``rss_mb``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ZOOMS = (0.01, 0.03, 0.08, 0.2, 0.5, 1.0, 2.0)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _open_once(app, window, path: Path) -> float:
    t0 = time.perf_counter()
    window.open_files([str(path)])
    while window.tabs.count() == 0:
        app.processEvents()
        time.sleep(0.001)  # the worker thread needs the core more than this loop does
    view = window.current_view()
    view.view.viewport().repaint()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--open-only",
        action="store_true",
        help="measure the opens and peak memory only (no frames, no wait for the checks)",
    )
    args = parser.parse_args()
    path = Path(args.model)

    from PySide6.QtCore import QEvent, QSettings
    from PySide6.QtWidgets import QApplication

    from inspector.ui import heap
    from inspector.ui.main_window import MainWindow
    from inspector.ui.settings import Settings

    heap.fix_mmap_threshold()  # as run_app does before its QApplication
    app = QApplication(sys.argv[:1])
    ini = Path(tempfile.mkdtemp()) / "settings.ini"
    window = MainWindow(Settings(QSettings(str(ini), QSettings.Format.IniFormat)))
    window.resize(1600, 1000)
    window.show()
    app.processEvents()

    opens = []
    busy_frames: list[float] = []
    cpu: list[float] = []  # CPU seconds of this process (all threads) per open
    for round_ in range(args.rounds):
        cpu0 = _cpu_s()
        opens.append(_open_once(app, window, path))
        cpu.append(_cpu_s() - cpu0)
        if args.open_only:
            # closing the tab stops its shape inference and checks (their children are killed)
            window._close_tab(0)
            app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
            gc.collect()
            continue
        if round_ == 0:
            # Frames while shape inference and the checks run after the first paint (children,
            # then a worker filling in the inferred types): the window must stay smooth then too.
            document = window.current_view().document
            started = time.perf_counter()
            while not document.checked and time.perf_counter() - started < 120:
                app.processEvents()
                t0 = time.perf_counter()
                window.current_view().view.viewport().repaint()
                busy_frames.append((time.perf_counter() - t0) * 1000)
        # let background shape inference finish before the next round (it is not part of "open")
        window.runner.wait_idle(600_000)
        app.processEvents()
        if len(opens) < args.rounds:
            window._close_tab(0)
            # free the closed tab now (deleteLater waits for a DeferredDelete event)
            app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
            gc.collect()

    if args.open_only:
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        window.close()
        app.processEvents()
        window.runner.wait_idle(600_000)
        json.dump(
            {"open_s": min(opens), "opens_s": opens, "open_cpu_s": cpu, "rss_mb": rss_mb},
            sys.stdout,
        )
        return
    view = window.current_view().view

    def frame_ms() -> float:
        """Median of 5 forced repaints: one paint on a shared VM is at the scheduler's mercy."""
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            view.viewport().repaint()
            times.append((time.perf_counter() - t0) * 1000)
        worst.append(max(times))
        return statistics.median(times)

    frames: dict[str, float] = {}
    worst: list[float] = []
    for z in ZOOMS:
        view.set_zoom(z)
        frames[f"zoom {z}"] = frame_ms()
    view.set_zoom(0.3)
    for step in range(5):
        view.horizontalScrollBar().setValue(view.horizontalScrollBar().value() + 200)
        view.verticalScrollBar().setValue(view.verticalScrollBar().value() + 300)
        frames[f"pan {step}"] = frame_ms()

    # Peak memory of the window with the model open, read before onnx.load below adds its own.
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    window.close()
    app.processEvents()

    import onnx

    loads = []
    for _ in range(3):
        t0 = time.perf_counter()
        proto = onnx.load(path)
        loads.append(time.perf_counter() - t0)
    nodes = len(proto.graph.node)
    json.dump(
        {
            "nodes": nodes,
            "onnx_load_s": min(loads),
            "open_s": min(opens),
            "ratio": min(opens) / min(loads),
            "frames_ms": frames,
            "max_frame_ms": max(frames.values()),
            "worst_single_frame_ms": max(worst),
            "busy_frames": len(busy_frames),
            "worst_busy_frame_ms": max(busy_frames, default=0.0),
            "rss_mb": rss_mb,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
