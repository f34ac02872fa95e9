"""run_streaming: lines arrive as the child prints them; cancel and timeout kill the child."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from inspector.core.child_process import run_streaming
from inspector.core.tasks import Cancelled, CancelToken

TALK_THEN_WAIT = (
    "import sys, time\nprint('one', flush=True)\nprint('two', flush=True)\ntime.sleep(60)"
)


def test_lines_and_exit_code():
    lines: list[str] = []
    code = run_streaming(
        [sys.executable, "-c", "print('a'); print('b'); raise SystemExit(3)"],
        lines.append,
        None,
        timeout=60,
    )
    assert code == 3 and lines == ["a", "b"]


def test_timeout_kills_the_child():
    lines: list[str] = []
    started = time.monotonic()
    assert (
        run_streaming([sys.executable, "-c", TALK_THEN_WAIT], lines.append, None, timeout=2) is None
    )
    assert time.monotonic() - started < 20
    assert lines == ["one", "two"]


def test_cancel_kills_the_child():
    token = CancelToken()
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        if line == "two":
            threading.Timer(0.1, token.cancel).start()

    started = time.monotonic()
    with pytest.raises(Cancelled):
        run_streaming([sys.executable, "-c", TALK_THEN_WAIT], on_line, token, timeout=60)
    assert time.monotonic() - started < 20
