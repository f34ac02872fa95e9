"""The one way the window runs background work: a thread pool, queued signals, single flight, cancel.

A task is a plain core function ``fn(progress, cancel) -> result``. It runs on a worker thread;
its progress, result or error come back to the GUI thread by queued signals. Starting a task under
a key that already has one running cancels the older one, whose result is then dropped (as in
Orange3's concurrent utilities). Work that can crash or hang the process (ONNX Runtime sessions,
user PyTorch code) does not come here: it runs in a child process.

No failure is lost: a task submitted without ``on_error`` hands its failure to the runner's one
error handler (the window installs its message bar's), and a caller's ``on_error`` that cleans up
after a failure it cannot explain passes it on with :meth:`TaskRunner.report`. Without a handler
installed the traceback goes to stderr.
"""

from __future__ import annotations

import gc
import itertools
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, QTimer, Signal

from inspector.core.tasks import Cancelled, CancelToken, ProgressFn

TaskFn = Callable[[ProgressFn, CancelToken], Any]


@dataclass
class TaskError:
    """What a failed task raised: the exception, the traceback text, and what the task was doing
    in people's words ("inferring shapes of model.onnx"), for the message that reports it."""

    exception: BaseException
    details: str
    what: str = ""


class _Relay(QObject):
    """Lives in the GUI thread; worker threads emit on it, so slots run in the GUI thread."""

    progressed = Signal(int, float, str)
    finished = Signal(int, object)
    failed = Signal(int, object)


class _Job(QRunnable):
    def __init__(self, task_id: int, fn: TaskFn, cancel: CancelToken, relay: _Relay) -> None:
        super().__init__()
        self.task_id = task_id
        self.fn = fn
        self.cancel = cancel
        self.relay = relay
        self.setAutoDelete(True)

    def run(self) -> None:
        def progress(fraction: float, message: str) -> None:
            if not self.cancel.cancelled:
                self.relay.progressed.emit(self.task_id, float(fraction), message)

        try:
            result = self.fn(progress, self.cancel)
        except Cancelled:
            self.relay.failed.emit(self.task_id, None)
        except BaseException as e:  # reported to the window, never lost in a thread
            self.relay.failed.emit(self.task_id, TaskError(e, traceback.format_exc()))
        else:
            self.relay.finished.emit(self.task_id, result)


@dataclass
class _Pending:
    key: str
    cancel: CancelToken
    on_done: Callable[[Any], None]
    on_error: Callable[[TaskError], None] | None
    on_progress: Callable[[float, str], None] | None
    what: str


def _print_error(error: TaskError) -> None:
    """The error handler of a runner the window did not install one on (tests, tools)."""
    print(f"error while {error.what}:\n{error.details}", file=sys.stderr)


class GuiThreadCollector(QObject):
    """Runs Python's cyclic garbage collector on the GUI thread only.

    Why: a collection runs in whichever thread happens to allocate when a threshold is crossed.
    When that is a worker thread and the garbage holds Qt objects (a closed tab's widgets kept in
    a reference cycle by a connected lambda), Qt destroys them off the GUI thread and the
    process crashes (seen here as a rare segfault in a worker building a graph model). So the
    automatic collector is switched off and a timer on the GUI thread collects, generation by
    generation, when the allocation counts pass the usual thresholds (as pyqtgraph does).
    """

    _installed: GuiThreadCollector | None = None

    def __init__(self, interval_ms: int = 200) -> None:
        super().__init__(QCoreApplication.instance())
        self.thresholds = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.collect_if_due)
        self.timer.start(interval_ms)

    @classmethod
    def install(cls) -> None:
        """Once per process, from the GUI thread (idempotent)."""
        if cls._installed is None:
            cls._installed = cls()

    def collect_if_due(self) -> None:
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self.thresholds[generation]:
                gc.collect(generation)
                return


class TaskRunner(QObject):
    """Runs core functions off the GUI thread. ``busy_changed`` tells the status bar."""

    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None, max_threads: int = 2) -> None:
        super().__init__(parent)
        GuiThreadCollector.install()
        # A worker running Python takes the interpreter lock for up to the switch interval each
        # time the GUI thread drops it (every Qt call from a paint does): 5 ms by default, so a
        # paint of 20 Qt calls waited up to 100 ms. At 1 ms, frames stay under 50 ms while a
        # worker fills in 100k inferred types (measured), at a small cost to the worker.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.001))
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._relay = _Relay(self)
        self._relay.progressed.connect(self._on_progress)
        self._relay.finished.connect(self._on_finished)
        self._relay.failed.connect(self._on_failed)
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._current: dict[str, int] = {}
        self._error_handler: Callable[[TaskError], None] = _print_error

    def install_error_handler(self, handler: Callable[[TaskError], None]) -> None:
        """Where failures go that no caller handles (the window: its message bar)."""
        self._error_handler = handler

    def report(self, error: TaskError) -> None:
        """Hand ``error`` to the installed error handler (from an ``on_error`` that cleaned up
        after a failure but leaves telling the user to the window)."""
        self._error_handler(error)

    def submit(
        self,
        key: str,
        fn: TaskFn,
        on_done: Callable[[Any], None],
        on_error: Callable[[TaskError], None] | None = None,
        on_progress: Callable[[float, str], None] | None = None,
        what: str = "",
    ) -> CancelToken:
        """Start ``fn`` under ``key``, cancelling the task that key had running; returns its token.

        A failure goes to ``on_error``, or without one to the installed error handler; ``what``
        says what the task does ("inferring shapes of model.onnx") for the message.
        """
        self.cancel(key)
        task_id = next(self._ids)
        token = CancelToken()
        what = what or f"running the background task '{key}'"
        self._pending[task_id] = _Pending(key, token, on_done, on_error, on_progress, what)
        self._current[key] = task_id
        was_busy = len(self._pending) > 1
        self._pool.start(_Job(task_id, fn, token, self._relay))
        if not was_busy:
            self.busy_changed.emit(True)
        return token

    def cancel(self, key: str) -> None:
        task_id = self._current.pop(key, None)
        if task_id is not None and task_id in self._pending:
            self._pending[task_id].cancel.cancel()

    def cancel_all(self) -> None:
        for key in list(self._current):
            self.cancel(key)

    def is_running(self, key: str) -> bool:
        return key in self._current

    def wait_idle(self, msecs: int = 30000) -> bool:
        """Block until every worker has returned (shutdown and tests only)."""
        return self._pool.waitForDone(msecs)

    def _take(self, task_id: int) -> _Pending | None:
        pending = self._pending.pop(task_id, None)
        if pending is not None and self._current.get(pending.key) == task_id:
            del self._current[pending.key]
        if not self._pending:
            self.busy_changed.emit(False)
        if pending is None or pending.cancel.cancelled:
            return None
        return pending

    def _on_progress(self, task_id: int, fraction: float, message: str) -> None:
        pending = self._pending.get(task_id)
        if pending and pending.on_progress and not pending.cancel.cancelled:
            pending.on_progress(fraction, message)

    def _on_finished(self, task_id: int, result: object) -> None:
        pending = self._take(task_id)
        if pending is not None:
            pending.on_done(result)

    def _on_failed(self, task_id: int, error: TaskError | None) -> None:
        pending = self._take(task_id)
        if pending is None or error is None:  # cancelled: whoever cancelled it tidies up
            return
        error.what = pending.what
        (pending.on_error or self._error_handler)(error)
