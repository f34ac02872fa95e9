"""The parent's side of a child job: the job description, the line parser, the blocking runner.

:class:`ChildRun` is the one place that reads what a child said: it parses its stdout lines,
keeps its stderr (the live log and, on a crash, faulthandler's stack), and turns the exit status
into an :class:`Outcome`. :func:`run_job` drives it from a blocking call (the CLI, core callers,
tests); the window feeds the same object from a ``QProcess`` on its event loop
(:meth:`inspector.ui.tasks.TaskRunner.submit_child`), so no thread waits on a child there.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import inspector
from inspector.core.child.protocol import decode
from inspector.core.tasks import Cancelled, CancelToken, ProgressFn, no_progress
from inspector.core.text import strip_ansi

T = TypeVar("T")
U = TypeVar("U")
LogFn = Callable[[str], None]

POLL_S = 0.05  # how often run_job looks at cancel and the timeout while no line arrives
STDERR_TAIL = 8000  # characters of stderr kept for a failure's details
LOG_LINES = 20_000  # lines of log kept: a child stuck printing must not eat the memory
_FRAME = re.compile(
    r'^\s*File "([^"]+)", line (\d+),? in (.+)$'
)  # faulthandler's and a traceback's


def child_env(**extra: str) -> dict[str, str]:
    """The parent's environment, with this package importable even when the working folder is
    elsewhere and the package is not installed (a source checkout), plus ``extra``."""
    env = dict(os.environ)
    root = str(Path(inspector.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


@dataclass(frozen=True)
class ChildJob:
    """One function to run in a child process.

    Example: ``ChildJob("inspector.core.infer_process:infer_types", {"path": "m.onnx"}, 600,
    "shape inference")``. The function is called as ``function(emit, **args)`` with an
    :class:`~inspector.core.child.protocol.Emitter`; its return value must be JSON-able.
    """

    target: str  # "package.module:function"
    args: Mapping[str, Any]  # JSON-able keyword arguments
    timeout: float  # seconds before the child is killed and the job reported as timed out
    what: str  # for messages: "shape inference" → "shape inference crashed (signal SIGSEGV)"
    env: Mapping[str, str] = field(default_factory=dict)  # added to the parent's environment

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-X",
            "faulthandler",
            "-m",
            "inspector.core.child",
            self.target,
            json.dumps(dict(self.args)),
        ]

    def environment(self) -> dict[str, str]:
        return child_env(**self.env)


@dataclass
class ChildFailed:
    """Why a job gave no result: ``reason`` "timed-out", "crashed" (a signal, or an exit without
    a result line) or "raised" (the job's function raised).
    ``message`` is one line; ``details`` the traceback, or faulthandler's stack and what else
    the child wrote to stderr."""

    reason: str
    message: str  # "shape inference crashed (signal SIGSEGV): Fatal Python error: ..."
    said: str  # the cause alone: "Fatal Python error: ...", "OSError: ...", or ""
    details: str
    returncode: int | None
    timeout: float  # the job's

    @property
    def how(self) -> str:
        """ "exit code 1", "signal SIGSEGV" or "" (timed out)."""
        return exit_description(self.returncode) if self.returncode is not None else ""

    def stack_line(self) -> str:
        """The child's Python stack from ``details`` in one line, most recent call first
        (``wait (threading.py:359) ← main (__main__.py:40)``), or "" when there is none."""
        frames = [_FRAME.match(line) for line in self.details.splitlines()]
        calls = [f"{m.group(3)} ({Path(m.group(1)).name}:{m.group(2)})" for m in frames if m]
        if self.reason == "raised":  # a traceback lists the most recent call last
            calls.reverse()
        return " ← ".join(calls[:8])


@dataclass
class Outcome:
    """What a child job gave: its result ``value`` and streamed ``parts``, or its ``failure``;
    the ``log`` is its log lines and stderr, as they came."""

    value: Any = None
    parts: list[Any] = field(default_factory=list)
    failure: ChildFailed | None = None
    log: list[str] = field(default_factory=list)


@dataclass
class ChildCall(Generic[T]):
    """A job plus how the parent turns its :class:`Outcome` into the caller's result.

    ``finish`` runs once the child is gone (in the window, on a worker thread: it may map a
    big result); ``discard`` instead when the run was cancelled (a temporary folder to delete).
    ``job`` None: the answer is known without a child (feeds that do not fit the model), and
    ``finish`` gets an empty outcome.
    """

    job: ChildJob | None
    finish: Callable[[Outcome], T]
    discard: Callable[[], None] = field(default=lambda: None)

    def then(self, fn: Callable[[T], U]) -> ChildCall[U]:
        """The same call, with ``fn`` applied to its result in the same place ``finish`` runs."""
        return ChildCall(self.job, lambda outcome: fn(self.finish(outcome)), self.discard)


def exit_description(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


class ChildRun:
    """The parser and state of one running child; fed lines and, last, its exit status.

    ``feed_stdout`` raises ``json.JSONDecodeError`` or ``ProtocolError`` on a line that is not
    the protocol's: the caller kills the child and reports it as the Inspector's own failure.
    """

    def __init__(
        self, job: ChildJob, on_progress: ProgressFn = no_progress, on_log: LogFn | None = None
    ) -> None:
        self.job = job
        self._on_progress = on_progress
        self._on_log = on_log
        self._stderr: deque[str] = deque()
        self._stderr_chars = 0
        self._outcome = Outcome(log=[])
        self._log: deque[str] = deque(maxlen=LOG_LINES)
        self._result_seen = False
        self._error: dict[str, Any] | None = None

    def feed_stdout(self, line: str) -> None:
        if not line.strip():
            return
        message = decode(line)
        kind = message["kind"]
        if kind == "progress":
            self._on_progress(float(message["fraction"]), str(message["message"]))
        elif kind == "log":
            self._logged(str(message["line"]))
        elif kind == "part":
            self._outcome.parts.append(message["value"])
        elif kind == "result":
            self._outcome.value = message["value"]
            self._result_seen = True
        else:
            self._error = message

    def feed_stderr(self, line: str) -> None:
        self._stderr.append(line)
        self._stderr_chars += len(line) + 1
        while self._stderr_chars > STDERR_TAIL and len(self._stderr) > 1:
            self._stderr_chars -= len(self._stderr.popleft()) + 1
        self._logged(line)

    def finish(self, returncode: int | None) -> Outcome:
        """The outcome, given the exit code (negative: the signal that ended it; None: it was
        killed because it ran past the job's timeout)."""
        outcome = self._outcome
        outcome.log = list(self._log)
        what, timeout = self.job.what, self.job.timeout
        stderr = "\n".join(self._stderr).strip()
        if returncode is None:
            outcome.failure = ChildFailed(
                "timed-out",
                f"{what} timed out after {timeout:g} s and was stopped",
                "",
                stderr,
                None,
                self.job.timeout,
            )
        elif self._error is not None:
            e = self._error
            said = f"{e['type']}: {e['message']}"
            outcome.failure = ChildFailed(
                "raised", f"{what} failed: {said}", said, str(e["traceback"]), returncode, timeout
            )
        elif returncode != 0 or not self._result_seen:
            outcome.failure = _crash(what, returncode, stderr, timeout)
        return outcome

    def _logged(self, line: str) -> None:
        # The log is shown as plain text (the wizard's log view, the CLI's stderr): the colour
        # codes the exporter writes for a terminal would show as "[1;31m" noise.
        line = strip_ansi(line)
        self._log.append(line)
        if self._on_log is not None:
            self._on_log(line)


def _crash(what: str, returncode: int, stderr: str, timeout: float) -> ChildFailed:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    fatal = next((i for i, ln in enumerate(lines) if ln.startswith("Fatal Python error")), None)
    if fatal is not None:  # faulthandler's report: its first line names the fault
        said, details = lines[fatal].strip(), "\n".join(lines[fatal:])
    else:
        said, details = (lines[-1].strip() if lines else ""), stderr
    how = exit_description(returncode)
    return ChildFailed(
        "crashed",
        f"{what} crashed ({how}){': ' + said if said else ''}",
        said,
        details,
        returncode,
        timeout,
    )


def run_job(
    job: ChildJob,
    on_progress: ProgressFn = no_progress,
    on_log: LogFn | None = None,
    cancel: CancelToken | None = None,
) -> Outcome:
    """Run ``job`` to its end on the calling thread, handing its progress and log lines to the
    callbacks as they arrive. A crash, a timeout or an exception in the child is the outcome's
    ``failure``; cancel raises :class:`Cancelled`. Whatever happens the child is killed and
    reaped before this returns."""
    run = ChildRun(job, on_progress, on_log)
    proc = subprocess.Popen(
        job.command(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=job.environment(),
    )
    lines: queue.Queue[tuple[bool, str | None]] = queue.Queue()

    def read(stream: Any, is_stdout: bool) -> None:  # pipe reads block: one thread per pipe
        for line in stream:
            lines.put((is_stdout, line.rstrip("\n")))
        lines.put((is_stdout, None))

    readers = [
        threading.Thread(target=read, args=(proc.stdout, True), name="child-out", daemon=True),
        threading.Thread(target=read, args=(proc.stderr, False), name="child-err", daemon=True),
    ]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + job.timeout
    open_pipes = 2
    try:
        while open_pipes:
            try:
                is_stdout, line = lines.get(timeout=POLL_S)
            except queue.Empty:
                is_stdout, line = True, ""
            if line is None:
                open_pipes -= 1
            elif is_stdout:
                run.feed_stdout(line)
            else:
                run.feed_stderr(line)
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            if time.monotonic() > deadline:
                return run.finish(None)
        return run.finish(proc.wait())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for reader in readers:
            reader.join(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def call_child(
    call: ChildCall[T],
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    on_log: LogFn | None = None,
) -> T:
    """Run ``call``'s job with :func:`run_job` and finish it (discard it when cancelled)."""
    if call.job is None:
        return call.finish(Outcome())
    try:
        outcome = run_job(call.job, progress, on_log, cancel)
    except BaseException:
        call.discard()
        raise
    return call.finish(outcome)
