"""The one way the window runs background work: a thread pool, queued signals, single flight, cancel.

A task is a plain core function ``fn(progress, cancel) -> result``. It runs on a worker thread;
its progress, result or error come back to the GUI thread by queued signals. Starting a task under
a key that already has one running cancels the older one, whose result is then dropped (as in
Orange3's concurrent utilities).

Work that can crash or hang the process (ONNX Runtime sessions, user PyTorch code, shape
inference, the checks) runs in a child process (:mod:`inspector.core.child`) started with
:meth:`TaskRunner.submit_child`: a ``QProcess`` on the event loop reads its lines, so no worker
thread waits on it (two waiting children once held both workers, and a file-open queued behind
them started 2 s late). Only the short steps around it use a worker: preparing the job, and
turning its outcome into the caller's result. Cancel kills the child and reaps it at once.

No failure is lost: a task submitted without ``on_error`` hands its failure to the runner's one
error handler (the window installs its message bar's), and a caller's ``on_error`` that cleans up
after a failure it cannot explain passes it on with :meth:`TaskRunner.report`. Without a handler
installed the traceback goes to stderr.
"""

from __future__ import annotations

import gc
import itertools
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QCoreApplication,
    QObject,
    QProcess,
    QProcessEnvironment,
    QRunnable,
    QThreadPool,
    QTimer,
    Signal,
)

from inspector.core.child import ChildCall, ChildJob, ChildRun, Outcome
from inspector.core.tasks import Cancelled, CancelToken, ProgressFn, gc_is_paused

TaskFn = Callable[[ProgressFn, CancelToken], Any]
#: Builds a child call on a worker thread (feeds written to disk, say) before the child starts.
ChildPrepare = Callable[[ProgressFn, CancelToken], ChildCall[Any]]


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
        finally:
            # The pool may keep this wrapper after the run: drop what the function holds (its
            # closure can hold a whole model) so a closed tab's objects are freed.
            self.fn = _done


def _done(_progress: ProgressFn, _cancel: CancelToken) -> None:
    """What a finished job holds in place of its function."""


class _ChildProcess(QObject):
    """One child job read on the event loop: its lines go to a :class:`ChildRun`; the outcome
    (result, crash, timeout) to ``ended``, a line that breaks the protocol to ``broke``."""

    def __init__(
        self,
        job: ChildJob,
        run: ChildRun,
        ended: Callable[[Outcome], None],
        broke: Callable[[TaskError], None],
    ) -> None:
        # No Qt parent: it deletes itself (deleteLater) once the child is gone. Parented to the
        # runner, the runner's later destruction crashed the process (seen with PySide6 6.11).
        super().__init__()
        self.run, self._ended, self._broke = run, ended, broke
        self._over = False
        self._partial = {True: b"", False: b""}  # an unfinished last line, per stream
        self.process = QProcess(self)
        env = QProcessEnvironment()
        for name, value in job.environment().items():
            env.insert(name, value)
        self.process.setProcessEnvironment(env)
        self.process.setStandardInputFile(QProcess.nullDevice())
        self.process.readyReadStandardOutput.connect(lambda: self._read(True))
        self.process.readyReadStandardError.connect(lambda: self._read(False))
        self.process.finished.connect(self._finished)
        self.process.errorOccurred.connect(self._error)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._timed_out)
        command = job.command()
        self.process.start(command[0], command[1:])
        self._timer.start(max(1, round(job.timeout * 1000)))

    def kill(self) -> None:
        """Kill the child and reap it before returning; nothing is reported afterwards."""
        self._over = True
        self._timer.stop()
        if self.process.state() != QProcess.ProcessState.NotRunning:
            self.process.kill()
            self.process.waitForFinished(5000)
        self.deleteLater()

    def _read(self, stdout: bool, final: bool = False) -> None:
        if self._over:
            return
        data = bytes(
            (
                self.process.readAllStandardOutput()
                if stdout
                else self.process.readAllStandardError()
            ).data()
        )
        lines = (self._partial[stdout] + data).split(b"\n")
        self._partial[stdout] = b"" if final else lines.pop()
        feed = self.run.feed_stdout if stdout else self.run.feed_stderr
        try:
            for line in lines:
                if line or not final:
                    feed(line.decode("utf-8", "replace").rstrip("\r"))
        except Exception as e:  # a line that is not the protocol's: the Inspector's failure
            error = TaskError(e, traceback.format_exc())
            self.kill()
            self._broke(error)

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self._over:
            return
        self._read(True, final=True)
        self._read(False, final=True)
        if self._over:  # the last lines broke the protocol
            return
        crashed = status == QProcess.ExitStatus.CrashExit
        # On POSIX a crashed QProcess's exit code is the signal's number.
        returncode = (-code if os.name == "posix" else code or 1) if crashed else code
        self._end(returncode)

    def _timed_out(self) -> None:
        if self._over:
            return
        self._over = True  # before the kill: its finished signal must not report a crash
        self.process.kill()
        self.process.waitForFinished(5000)
        self._ended(self.run.finish(None))
        self.deleteLater()

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and not self._over:
            self._over = True
            self._timer.stop()
            message = f"could not start a child process: {self.process.errorString()}"
            self._broke(TaskError(OSError(message), message))
            self.deleteLater()

    def _end(self, returncode: int | None) -> None:
        self._over = True
        self._timer.stop()
        self._ended(self.run.finish(returncode))
        self.deleteLater()


@dataclass
class _Pending:
    key: str
    cancel: CancelToken
    on_done: Callable[[Any], None]
    on_error: Callable[[TaskError], None] | None
    on_progress: Callable[[float, str], None] | None
    what: str
    # child tasks only: "prepare" (a worker builds the call), "child" (the process runs),
    # "finish" (a worker turns the outcome into the result)
    stage: str = ""
    on_log: Callable[[str], None] | None = None
    call: ChildCall[Any] | None = None
    child: _ChildProcess | None = None


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
        if gc_is_paused():  # a worker is building a model: collect once it is done
            return
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

    def submit_child(
        self,
        key: str,
        call: ChildCall[Any] | ChildPrepare,
        on_done: Callable[[Any], None],
        on_error: Callable[[TaskError], None] | None = None,
        on_progress: Callable[[float, str], None] | None = None,
        on_log: Callable[[str], None] | None = None,
        what: str = "",
    ) -> CancelToken:
        """Run a child job under ``key`` as :meth:`submit` runs a function, with the child's log
        lines to ``on_log``. ``call`` is the job, or a function that builds it on a worker.

        While the child runs no thread waits: its lines are read on the event loop. Its crash or
        timeout reaches ``on_done`` as the call's result says it (each kind turns it into its
        result); a line that breaks the protocol, or an exception while preparing or finishing,
        goes to ``on_error`` (or the installed error handler). Cancel kills the child at once.
        """
        self.cancel(key)
        task_id = next(self._ids)
        token = CancelToken()
        what = what or f"running the background task '{key}'"
        pending = _Pending(key, token, on_done, on_error, on_progress, what, on_log=on_log)
        self._pending[task_id] = pending
        self._current[key] = task_id
        if len(self._pending) == 1:
            self.busy_changed.emit(True)
        if isinstance(call, ChildCall):
            self._start_child(task_id, pending, call)
        else:
            pending.stage = "prepare"
            self._pool.start(_Job(task_id, call, token, self._relay))
        return token

    def _start_child(self, task_id: int, pending: _Pending, call: ChildCall[Any]) -> None:
        pending.call = call
        if call.job is None:  # the answer needs no child
            self._finish_child(task_id, pending, Outcome())
            return
        pending.stage = "child"

        def log(line: str) -> None:
            if pending.on_log is not None and not pending.cancel.cancelled:
                pending.on_log(line)

        run = ChildRun(call.job, lambda f, m: self._on_progress(task_id, f, m), log)
        pending.child = _ChildProcess(
            call.job,
            run,
            lambda outcome: self._finish_child(task_id, pending, outcome),
            lambda error: self._child_broke(task_id, pending, error),
        )

    def _finish_child(self, task_id: int, pending: _Pending, outcome: Outcome) -> None:
        pending.stage, pending.child = "finish", None
        call = pending.call
        assert call is not None
        self._pool.start(
            _Job(task_id, lambda _p, _c: call.finish(outcome), pending.cancel, self._relay)
        )

    def _child_broke(self, task_id: int, pending: _Pending, error: TaskError) -> None:
        pending.child = None
        if pending.call is not None:
            pending.call.discard()
        self._on_failed(task_id, error)

    def cancel(self, key: str) -> None:
        task_id = self._current.pop(key, None)
        if task_id is None or task_id not in self._pending:
            return
        pending = self._pending[task_id]
        pending.cancel.cancel()
        if pending.stage == "child" and pending.child is not None:
            # Nothing reports back from a killed child: the task ends here.
            pending.child.kill()
            pending.child = None
            if pending.call is not None:
                pending.call.discard()
            self._take(task_id)

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
        pending = self._pending.get(task_id)
        if pending is not None and pending.stage == "prepare":  # result: the child call
            call = result
            assert isinstance(call, ChildCall)
            if pending.cancel.cancelled:
                call.discard()
                self._take(task_id)
            else:
                self._start_child(task_id, pending, call)
            return
        pending = self._take(task_id)
        if pending is not None:
            pending.on_done(result)

    def _on_failed(self, task_id: int, error: TaskError | None) -> None:
        pending = self._take(task_id)
        if pending is None or error is None:  # cancelled: whoever cancelled it tidies up
            return
        error.what = pending.what
        (pending.on_error or self._error_handler)(error)
