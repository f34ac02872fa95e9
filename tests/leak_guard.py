"""A pytest plugin that fails any test leaving work running: Python threads, child processes,
busy Qt thread pools and active Qt timers.

Before each test (an autouse fixture, so after the module- and session-scoped fixtures it uses
are set up, and torn down before them) it records what is running; after the test it waits, up
to ``leak_guard_wait_s`` seconds (ini option, default 15) and returning as soon as all is clean,
for what the test started to end, then fails the test's teardown naming what is still there:

- Python threads (``threading.enumerate()``) that were not running before the test;
- this process's child processes, from ``/proc/*/stat`` (Linux only; the check is skipped
  elsewhere). A zombie (a child that ended but was never waited for) counts: nothing reaps it;
- only when ``PySide6.QtWidgets`` is already imported and a QApplication exists (so Qt-free
  tests never import Qt): work running in the global QThreadPool or in any QThreadPool Python
  made (each TaskRunner has one), and active QTimers Python made that were not active before
  the test (Qt's own internal timers are not looked at).
  While it waits it processes Qt events, so queued results and single-shot timers can land.

Known limitations: a grandchild whose parent (our child) already ended is re-parented away from
this process and not seen; threads that Python did not start (see ``python_threads``) are seen
only through the Qt pools they belong to.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

POLL_S = 0.02  # how often the leftovers are looked at again while waiting for them to end


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "leak_guard_wait_s",
        "seconds the leak guard waits for a test's threads, children and Qt work to end",
        default="15",
    )


# --- what is running ----------------------------------------------------------------------


@dataclass(frozen=True)
class Child:
    pid: int
    started: int  # clock ticks after boot: with the pid, tells a reused pid from this process
    state: str  # "Z" for a zombie: ended, never waited for
    cmdline: str

    def describe(self) -> str:
        zombie = " (a zombie: ended but never waited for)" if self.state == "Z" else ""
        return f"pid {self.pid}{zombie}: {self.cmdline}"


def child_processes() -> dict[tuple[int, int], Child] | None:
    """This process's children by (pid, start time); None where ``/proc`` cannot tell."""
    if not sys.platform.startswith("linux") or not os.path.isdir("/proc"):
        return None
    me = os.getpid()
    found: dict[tuple[int, int], Child] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read().decode("utf-8", "replace")
        except OSError:  # ended between the listing and the read
            continue
        # "pid (comm) state ppid ... starttime ...": comm may hold spaces and parentheses
        comm = stat[stat.find("(") + 1 : stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[1]) != me:
            continue
        pid = int(entry.name)
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            cmdline = ""
        found[(pid, int(fields[19]))] = Child(pid, int(fields[19]), fields[0], cmdline or comm)
    return found


def python_threads() -> set[threading.Thread]:
    # Threads Python did not start (Qt's pool workers, ONNX Runtime's) show up as _DummyThread
    # once they run Python code, and on Python < 3.13 they stay listed after they end, so they
    # cannot be waited for here; the Qt pools they belong to are checked below instead.
    return {
        t
        for t in threading.enumerate()
        if t.is_alive() and not isinstance(t, threading._DummyThread)
    }


def qt_application() -> Any | None:
    """The QApplication, only if the test already imported Qt's widgets and made one."""
    widgets = sys.modules.get("PySide6.QtWidgets")
    return None if widgets is None else widgets.QApplication.instance()


def _qt_objects(kind: type) -> list[Any]:
    """Every live ``kind`` Python made or saw, parented or not (a TaskRunner made without a
    parent, a widget no longer shown), from shiboken's wrapper map: a few hundred entries in a
    window test, read in well under a millisecond. Qt's own internal objects are not in it."""
    from shiboken6 import Shiboken  # already imported: QtWidgets is

    return [w for w in Shiboken.getAllValidWrappers() if isinstance(w, kind)]


def busy_pools() -> list[Any]:
    """The QThreadPools that have a task running."""
    from PySide6.QtCore import QThreadPool  # already imported: QtWidgets is

    pools = [QThreadPool.globalInstance()]
    pools += [p for p in _qt_objects(QThreadPool) if p not in pools]
    return [pool for pool in pools if pool.activeThreadCount()]


def _describe_pool(pool: Any) -> str:
    from PySide6.QtCore import QThreadPool

    owner = pool.parent()
    if pool == QThreadPool.globalInstance():
        name = "the global QThreadPool"
    elif owner is None:
        name = "a QThreadPool with no parent"
    else:
        name = f"a {type(owner).__name__}'s QThreadPool"
    return f"{name}: {pool.activeThreadCount()} task(s) running"


def _allowed_timers() -> list[Any]:
    # The allow-list, kept minimal: GuiThreadCollector's timer runs the garbage collector on the
    # GUI thread for the life of the process by design (installed once, by the first TaskRunner).
    tasks = sys.modules.get("inspector.ui.tasks")
    collector = None if tasks is None else tasks.GuiThreadCollector._installed
    return [] if collector is None else [collector.timer]


def active_timers() -> list[Any]:
    from PySide6.QtCore import QTimer  # already imported: QtWidgets is

    allowed = _allowed_timers()
    return [t for t in _qt_objects(QTimer) if t.isActive() and t not in allowed]


def _describe_timer(timer: Any) -> str:
    owner = timer.parent()
    attribute = next(
        (name for name, value in getattr(owner, "__dict__", {}).items() if value is timer), ""
    )
    where = f"{type(owner).__name__}.{attribute or timer.objectName() or '<QTimer>'}"
    kind = "single shot" if timer.isSingleShot() else "repeating"
    return f"{where} ({kind}, every {timer.interval()} ms)"


# --- the check ------------------------------------------------------------------------------


@dataclass
class Snapshot:
    threads: set[threading.Thread]
    children: dict[tuple[int, int], Child] | None
    timers: list[Any]

    @classmethod
    def take(cls) -> Snapshot:
        app = qt_application()
        return cls(python_threads(), child_processes(), [] if app is None else active_timers())


def _runs(thread: threading.Thread) -> str:
    target = getattr(thread, "_target", None)  # set while a Thread(target=...) runs
    return getattr(target, "__qualname__", None) or f"{type(thread).__qualname__}.run"


def leftovers(before: Snapshot) -> list[str]:
    """What runs now that did not before, one line each (empty when clean)."""
    lines = [
        f"thread {t.name!r} ({'daemon' if t.daemon else 'non-daemon'}, running {_runs(t)})"
        for t in python_threads() - before.threads
    ]
    children = child_processes()
    if children is not None and before.children is not None:
        lines += [
            f"child process {c.describe()}" for k, c in children.items() if k not in before.children
        ]
    app = qt_application()
    if app is not None:
        lines += [_describe_pool(p) for p in busy_pools()]
        lines += [
            f"active QTimer {_describe_timer(t)}" for t in active_timers() if t not in before.timers
        ]
    return lines


def _wait_a_little(before: Snapshot) -> None:
    """Block until something may have changed, at most POLL_S: on a new thread's end if there is
    one, else on Qt's pools, else for POLL_S (child processes and timers give no event here)."""
    app = qt_application()
    if app is not None:
        app.processEvents()
    new_threads = python_threads() - before.threads
    if new_threads:
        next(iter(new_threads)).join(POLL_S)
    elif app is not None and (pools := busy_pools()):
        pools[0].waitForDone(int(POLL_S * 1000))
    else:
        time.sleep(POLL_S)


def wait_for_leftovers(before: Snapshot, wait_s: float) -> list[str]:
    """Leftovers still there after up to ``wait_s`` seconds; returns as soon as there are none."""
    deadline = time.monotonic() + wait_s
    while True:
        found = leftovers(before)
        if not found or time.monotonic() >= deadline:
            return found
        _wait_a_little(before)


@pytest.fixture(autouse=True)
def leak_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fails the test (in its teardown) if it leaves threads, children or Qt work running."""
    before = Snapshot.take()
    yield
    wait_s = float(request.config.getini("leak_guard_wait_s"))
    found = wait_for_leftovers(before, wait_s)
    if found:
        pytest.fail(
            f"the test left work running {wait_s:g} s after it ended:\n  " + "\n  ".join(found),
            pytrace=False,
        )
