"""The task runner: results on the GUI thread, single flight per key, errors delivered, and the
garbage collector kept on the GUI thread."""

from __future__ import annotations

import gc
import threading
import weakref

from inspector.core.tasks import CancelToken
from inspector.ui.tasks import TaskError, TaskRunner


def test_result_progress_and_error_reach_the_gui_thread(qtbot):
    runner = TaskRunner()
    seen: list[tuple[str, object, bool]] = []
    gui = threading.current_thread()

    def work(progress, _cancel: CancelToken) -> int:
        progress(0.5, "half")
        return 42

    runner.submit(
        "a",
        work,
        lambda r: seen.append(("done", r, threading.current_thread() is gui)),
        on_progress=lambda f, m: seen.append(("progress", (f, m), True)),
    )
    qtbot.waitUntil(lambda: any(s[0] == "done" for s in seen), timeout=5000)
    assert ("done", 42, True) in seen and ("progress", (0.5, "half"), True) in seen

    errors: list[TaskError] = []
    runner.submit("b", lambda _p, _c: 1 / 0, lambda _r: None, errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=5000)
    assert (
        isinstance(errors[0].exception, ZeroDivisionError)
        and "ZeroDivisionError" in errors[0].details
    )
    assert runner.wait_idle(5000)


def test_a_new_task_under_the_same_key_cancels_the_old(qtbot):
    runner = TaskRunner()
    release = threading.Event()
    results: list[str] = []

    def slow(_p, cancel: CancelToken) -> str:
        release.wait(5)
        cancel.check()
        return "old"

    old = runner.submit("k", slow, results.append)
    runner.submit("k", lambda _p, _c: "new", results.append)
    assert old.cancelled
    release.set()
    qtbot.waitUntil(lambda: results == ["new"], timeout=5000)
    assert runner.wait_idle(5000)
    assert results == ["new"]


def test_garbage_is_collected_on_the_gui_thread(qtbot):
    TaskRunner()
    assert not gc.isenabled()  # automatic collection off: it could run in a worker thread

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle only the collector frees
    ref = weakref.ref(a)
    del a, b
    # live allocations past the generation-0 threshold (freed ones would not count)
    allocated = [[i] for i in range(5000)]
    qtbot.waitUntil(lambda: ref() is None, timeout=10000)
    assert len(allocated) == 5000


def test_a_failure_nobody_handles_goes_to_the_installed_handler_once(qtbot):
    runner = TaskRunner()
    unhandled: list[TaskError] = []
    handled: list[TaskError] = []
    runner.install_error_handler(unhandled.append)
    runner.submit("bare", lambda _p, _c: 1 / 0, lambda _r: None, what="dividing")
    runner.submit("caught", lambda _p, _c: [][1], lambda _r: None, handled.append)
    qtbot.waitUntil(lambda: bool(unhandled) and bool(handled), timeout=5000)
    assert runner.wait_idle(5000)
    assert [e.what for e in unhandled] == ["dividing"]
    assert isinstance(unhandled[0].exception, ZeroDivisionError)
    assert "ZeroDivisionError" in unhandled[0].details
    # a caller's handler keeps its failure, unless it passes it on
    assert isinstance(handled[0].exception, IndexError) and len(unhandled) == 1
    assert handled[0].what == "running the background task 'caught'"
    runner.report(handled[0])
    assert unhandled[1] is handled[0]


def test_a_cancelled_task_reports_nothing(qtbot):
    runner = TaskRunner()
    reported: list[TaskError] = []
    runner.install_error_handler(reported.append)
    started, release = threading.Event(), threading.Event()

    def slow(_p, cancel: CancelToken) -> None:
        started.set()
        release.wait(5)
        cancel.check()

    runner.submit("k", slow, lambda _r: None)
    assert started.wait(5)
    with qtbot.waitSignal(runner.busy_changed, timeout=5000) as idle:
        runner.cancel("k")
        release.set()
    assert idle.args == [False]
    assert reported == []
