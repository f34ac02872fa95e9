"""The one line protocol between a child job and its parent, and the child's side of it.

The child's stdout carries only protocol lines, one JSON object per line with a ``kind``:

* ``{"kind": "progress", "fraction": 0.4, "message": "timed run 3/10"}``
* ``{"kind": "log", "line": "[inspector] loading clean.py"}``: a line for the job's live log
* ``{"kind": "part", "value": ...}``: one piece of a result that is streamed, not sent whole
  (shape inference sends one per value: one 5 MB ``json.loads`` would hold the interpreter lock
  for ~70 ms at 100k nodes, long enough to drop a frame in the window)
* ``{"kind": "result", "value": ...}``: what the job's function returned; the last line
* ``{"kind": "error", "type": "OSError", "message": ..., "traceback": ...}``: it raised instead

Anything else the child prints (its libraries, the user's code, faulthandler's stack on a crash)
goes to stderr: the entry point points file descriptor 1 at stderr before the job is imported.

Standard library only: the child imports this before anything heavy, and a crash while numpy,
onnx, onnxruntime or torch loads must still leave faulthandler's stack.

Test hook: with ``INSPECTOR_CHILD_PAUSE`` set to ``start`` (before the job's module is
imported), ``mid`` (at the job's first progress line) or ``end`` (after the function returned,
before its result is written), the child logs ``[child] paused at PHASE (pid PID)`` and waits
to be killed, so a test can kill it at a known point without guessing at times.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, TextIO

PAUSE_ENV = "INSPECTOR_CHILD_PAUSE"
PAUSE_PREFIX = "[child] paused at "
KINDS = ("progress", "log", "part", "result", "error")


class ProtocolError(ValueError):
    """A stdout line that is JSON but not a protocol line."""


def encode(kind: str, **fields: Any) -> str:
    return json.dumps({"kind": kind, **fields}, separators=(",", ":"), default=_plain) + "\n"


def _plain(o: object) -> object:
    """numpy scalars as numbers (without importing numpy), anything else (a Path) as its text."""
    item = getattr(o, "item", None)
    return item() if callable(item) else str(o)


def decode(line: str) -> dict[str, Any]:
    """One stdout line → its message. Raises ``json.JSONDecodeError`` on a line that is not JSON
    (a banner printed before the entry point took stdout over) and :class:`ProtocolError` on a
    JSON line of no known kind."""
    message = json.loads(line)
    if not isinstance(message, dict) or message.get("kind") not in KINDS:
        raise ProtocolError(f"not a line of the child protocol: {line[:200]!r}")
    return message


class Emitter:
    """What a job's function is handed to talk to its parent (``emit.progress(0.5, "half")``)."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._pause = os.environ.get(PAUSE_ENV, "")
        self._started = False

    def progress(self, fraction: float, message: str) -> None:
        if not self._started:
            self._started = True
            self.pause_if("mid")
        self._send(encode("progress", fraction=round(float(fraction), 4), message=message))

    def log(self, line: str) -> None:
        self._send(encode("log", line=line))

    def part(self, value: Any) -> None:
        # Not flushed: a stream of parts goes out in the pipe's chunks, not one write per part.
        self._out.write(encode("part", value=value))

    def result(self, value: Any) -> None:
        self.pause_if("end")
        self._send(encode("result", value=value))

    def error(self, exc: BaseException, details: str) -> None:
        self._send(encode("error", type=type(exc).__name__, message=str(exc), traceback=details))

    def pause_if(self, phase: str) -> None:
        """The test hook (see the module's docstring): log where the child is, wait for death."""
        if self._pause == phase:
            self.log(f"{PAUSE_PREFIX}{phase} (pid {os.getpid()})")
            threading.Event().wait()

    def _send(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()
