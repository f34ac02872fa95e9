"""Progress and cancellation for long core functions (Qt-free; the UI's task runner wraps these)."""

from __future__ import annotations

import threading
from collections.abc import Callable

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
