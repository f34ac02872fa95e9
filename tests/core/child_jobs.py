"""Small job functions for the child-process layer's own tests (run in a child, by name)."""

from __future__ import annotations

import os
import threading
from typing import Any

from inspector.core.child import Emitter


def echo(emit: Emitter, value: Any) -> Any:
    """Progress, a log line, two parts, and noise from outside the protocol; returns ``value``."""
    emit.progress(0.5, "half")
    emit.log("a log line")
    emit.part(1)
    emit.part([2, "two"])
    print("a stray print")  # goes to stderr: it must not break a protocol line
    os.write(1, b"a write to file descriptor 1\n")
    print("\x1b[1;31mcoloured\x1b[0m like a terminal logger")  # rich/torch logs do this
    return value


def talk_then_wait(emit: Emitter) -> None:
    """Says it started, then waits until it is killed."""
    emit.progress(0.1, "started")
    threading.Event().wait()


def raise_error(emit: Emitter) -> None:
    emit.progress(0.1, "about to fail")
    raise KeyError("no such thing")
