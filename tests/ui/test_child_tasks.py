"""TaskRunner.submit_child: a child job read on the event loop (no worker thread waits on it);
its result, crash, timeout and protocol errors arrive on the GUI thread; cancel kills it."""

from __future__ import annotations

import os
import re
import signal
import threading

from inspector.core.child import ChildCall, ChildJob, Outcome
from inspector.core.child.protocol import PAUSE_ENV, PAUSE_PREFIX
from inspector.ui.tasks import TaskError, TaskRunner
from tests.leak_guard import child_processes

JOBS = "tests.core.child_jobs"


def _call(function: str, timeout: float = 120, **args) -> ChildCall[Outcome]:
    return ChildCall(ChildJob(f"{JOBS}:{function}", args, timeout, "the test job"), lambda o: o)


def _children() -> set[int]:
    return {c.pid for c in (child_processes() or {}).values()}


def test_result_progress_and_log_reach_the_gui_thread_and_no_worker_waits(qtbot):
    runner = TaskRunner()
    gui = threading.current_thread()
    seen: list[tuple[str, object]] = []
    pool_busy: list[int] = []

    def progress(fraction: float, message: str) -> None:
        # While the child runs, no thread of the pool is taken by it.
        pool_busy.append(runner._pool.activeThreadCount())
        seen.append(("progress", (fraction, message, threading.current_thread() is gui)))

    runner.submit_child(
        "a",
        _call("echo", value=[1, "x"]),
        lambda o: seen.append(("done", o)),
        on_progress=progress,
        on_log=lambda line: seen.append(("log", line)),
    )
    qtbot.waitUntil(lambda: any(kind == "done" for kind, _ in seen), timeout=60_000)
    outcome = next(o for kind, o in seen if kind == "done")
    assert isinstance(outcome, Outcome) and outcome.failure is None
    assert outcome.value == [1, "x"] and outcome.parts == [1, [2, "two"]]
    assert ("progress", (0.5, "half", True)) in seen and ("log", "a log line") in seen
    assert pool_busy == [0]
    assert runner.wait_idle(5000)


def test_a_crash_reaches_the_result_with_the_childs_stack(qtbot, monkeypatch):
    monkeypatch.setenv(PAUSE_ENV, "mid")
    runner = TaskRunner()
    done: list[Outcome] = []

    def kill_when_paused(line: str) -> None:
        if m := re.search(re.escape(PAUSE_PREFIX) + r"mid \(pid (\d+)\)", line):
            os.kill(int(m.group(1)), signal.SIGSEGV)

    runner.submit_child("a", _call("talk_then_wait"), done.append, on_log=kill_when_paused)
    qtbot.waitUntil(lambda: bool(done), timeout=60_000)
    failure = done[0].failure
    assert failure is not None and failure.reason == "crashed"
    assert failure.message.startswith("the test job crashed (signal SIGSEGV): Fatal Python error")
    assert "pause_if (protocol.py:" in failure.stack_line()
    assert _children() == set()


def test_cancel_kills_the_child_at_once(qtbot):
    runner = TaskRunner()
    results: list[object] = []
    started: list[str] = []
    runner.submit_child(
        "a", _call("talk_then_wait"), results.append, on_progress=lambda f, m: started.append(m)
    )
    qtbot.waitUntil(lambda: bool(started), timeout=60_000)
    assert _children()
    runner.cancel("a")
    assert _children() == set() and not runner.is_running("a")
    assert results == []


def test_a_timeout_is_the_outcome(qtbot):
    runner = TaskRunner()
    done: list[Outcome] = []
    runner.submit_child("a", _call("talk_then_wait", timeout=2), done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=60_000)
    assert done[0].failure is not None and done[0].failure.reason == "timed-out"
    assert _children() == set()


def test_a_line_outside_the_protocol_goes_to_the_error_handler(qtbot, tmp_path, monkeypatch):
    (tmp_path / "sitecustomize.py").write_text('print("welcome to this machine")\n')
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    runner = TaskRunner()
    errors: list[TaskError] = []
    discarded: list[bool] = []
    runner.install_error_handler(errors.append)
    call = _call("talk_then_wait")
    call.discard = lambda: discarded.append(True)
    runner.submit_child("a", call, lambda _o: None, what="testing")
    qtbot.waitUntil(lambda: bool(errors), timeout=60_000)
    assert type(errors[0].exception).__name__ == "JSONDecodeError"
    assert errors[0].what == "testing" and "Traceback" in errors[0].details
    assert discarded == [True] and _children() == set()


def test_a_prepared_call_runs_after_its_worker_step(qtbot):
    runner = TaskRunner()
    done: list[object] = []

    def prepare(_progress, _cancel) -> ChildCall[object]:
        return _call("echo", value=7).then(lambda o: o.value * 6)

    runner.submit_child("a", prepare, done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=60_000)
    assert done == [42]
    assert runner.wait_idle(5000)
