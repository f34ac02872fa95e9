"""Progress and cancellation for long core functions (Qt-free; the UI's task runner wraps these)."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Callable, Iterator

#: ``progress(fraction, message)``: fraction in [0, 1], message a short phrase ("laying out").
ProgressFn = Callable[[float, str], None]


class Cancelled(Exception):
    """Raised by a core function when its cancel token was set."""


class CancelToken:
    """Set from any thread; long functions call :meth:`check` between nodes or passes."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled()


def no_progress(_fraction: float, _message: str) -> None:
    """The default progress callback: report nothing."""


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_state = {"enabled": True}


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while building many small objects.

    Building the graph model of a 100k-node export allocates ~1M objects; the collector would
    rescan them all again and again (0.4 s of 0.9 s, measured). Nested and concurrent uses from
    several threads are counted, so the collector comes back only when the last one ends.
    """
    global _gc_pausers
    with _gc_lock:
        if _gc_pausers == 0:
            was_enabled = gc.isenabled()
            gc.disable()
            _gc_state["enabled"] = was_enabled
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_state["enabled"]:
                gc.enable()


def gc_is_paused() -> bool:
    """Whether a thread is inside :func:`gc_paused`: a collector that runs on a timer waits
    (a full collection in the middle of building a 300k-node model rescans it all)."""
    return _gc_pausers > 0
