"""The leak guard (``tests/leak_guard.py``) fails tests that leave work running and passes tests
that clean up, without importing Qt for tests that do not. Each case runs in its own pytest
process (pytester), so what an inner test leaks cannot leak into this one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parent.parent

LEAKY = """
import atexit, os, subprocess, sys, threading

kept = []

def test_thread_that_never_ends():
    threading.Thread(target=threading.Event().wait, name="forever", daemon=True).start()

def test_child_left_running():
    # ends when this pytest process does (its stdin closes), so nothing outlives the run
    kept.append(subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()  # left-running"],
        stdin=subprocess.PIPE))

def test_child_never_waited_for():
    proc = subprocess.Popen(["true"])
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # ended, left unreaped
    kept.append(proc)

def test_qt_timer_left_running(qtbot):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QWidget

    widget = QWidget()
    widget.ticker = QTimer(widget)
    widget.ticker.start(1000)
    kept.append(widget)

def test_qt_pool_left_busy(qtbot):
    from PySide6.QtCore import QThreadPool

    done = threading.Event()
    atexit.register(done.set)  # the task ends as this pytest process does
    QThreadPool.globalInstance().start(lambda: done.wait(60))

def test_task_runner_left_busy(qtbot):
    from inspector.ui.tasks import TaskRunner

    done = threading.Event()
    atexit.register(done.set)
    runner = TaskRunner()  # no parent: found all the same
    runner.submit("k", lambda _progress, _cancel: done.wait(60), lambda _result: None)
    kept.append(runner)
"""

CLEAN = """
import subprocess, sys, threading

def test_short_thread_not_joined():
    threading.Timer(0.3, lambda: None).start()  # ends on its own after the test returns

def test_child_waited_for():
    assert subprocess.run([sys.executable, "-c", "pass"]).returncode == 0

def test_single_shot_timer_fires_while_the_guard_waits(qtbot):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QWidget

    widget = QWidget()
    qtbot.addWidget(widget)
    widget.later = QTimer(widget)
    widget.later.setSingleShot(True)
    widget.later.start(300)
"""

QT_FREE = """
import sys

def test_core():
    pass

def test_qt_still_not_imported():  # runs after test_core's guard teardown
    assert "PySide6" not in sys.modules
"""


def run_inner(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, source: str, wait_s: float
) -> pytest.RunResult:
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    pytester.makepyfile(test_inner=source)
    # -rN: no short summary, which repeats each message in full where CI is set (pytest does
    # not truncate it there), so what the tests count would depend on the environment.
    return pytester.runpytest_subprocess(
        "-p",
        "tests.leak_guard",
        "-p",
        "no:cacheprovider",
        "-rN",
        "-o",
        f"leak_guard_wait_s={wait_s}",
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the child check reads /proc")
def test_a_test_leaving_work_running_fails_naming_it(pytester, monkeypatch):
    result = run_inner(pytester, monkeypatch, LEAKY, wait_s=1)
    result.assert_outcomes(passed=6, errors=6)
    out = result.stdout.str()
    assert out.count("the test left work running 1 s after it ended") == 6
    assert "thread 'forever' (daemon, running Event.wait)" in out
    assert "sys.stdin.read()  # left-running" in out
    assert "(a zombie: ended but never waited for): true" in out
    assert "active QTimer QWidget.ticker (repeating, every 1000 ms)" in out
    assert "the global QThreadPool: 1 task(s) running" in out
    assert "a TaskRunner's QThreadPool: 1 task(s) running" in out


def test_a_test_that_cleans_up_passes_without_waiting_the_full_time(pytester, monkeypatch):
    result = run_inner(pytester, monkeypatch, CLEAN, wait_s=120)
    result.assert_outcomes(passed=3)
    # The guard returned once all was clean: a single full wait (120 s) would break the bound,
    # which leaves a loaded machine plenty of room (the inner run takes a few seconds).
    assert result.duration < 100


def test_the_guard_does_not_import_qt_for_a_qt_free_test(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    pytester.makepyfile(test_inner=QT_FREE)
    # pytest-qt imports Qt when it loads, so it is left out here as a Qt-free run would be
    result = pytester.runpytest_subprocess("-p", "tests.leak_guard", "-p", "no:pytest-qt")
    result.assert_outcomes(passed=2)
