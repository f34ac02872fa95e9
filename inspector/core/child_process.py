"""Running a Python child process the parent can stop: its lines as they come, cancel, timeout.

Everything that must not run in the window's process (an ONNX Runtime session, the user's
PyTorch code) runs through :func:`run_streaming`, so that a crash or a hang costs only the child.
"""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import inspector
from inspector.core.tasks import Cancelled, CancelToken

POLL_S = 0.05  # how often cancel and the timeout are looked at while no line arrives


def child_env(**extra: str) -> dict[str, str]:
    """The parent's environment, with this package importable even when the working folder is
    elsewhere and the package is not installed (a source checkout), plus ``extra``."""
    env = dict(os.environ)
    root = str(Path(inspector.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def run_streaming(
    cmd: list[str],
    on_line: Callable[[str], None],
    cancel: CancelToken | None,
    timeout: float,
    stderr: int | IO[bytes] = subprocess.STDOUT,
    env: dict[str, str] | None = None,
) -> int | None:
    """Run ``cmd`` to its end, handing each stdout line (newline stripped) to ``on_line`` on the
    calling thread as it arrives. Returns the exit code, or None when ``timeout`` seconds passed;
    raises :class:`Cancelled` when ``cancel`` is set. Either way the child is killed and reaped.
    """
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=stderr,
        stdin=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env if env is not None else child_env(),
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:  # a thread: a pipe read blocks, and the loop must poll cancel and timeout
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    reader = threading.Thread(target=read, name="child-stdout", daemon=True)
    reader.start()
    started = time.monotonic()
    try:
        while True:
            try:
                line = lines.get(timeout=POLL_S)
            except queue.Empty:
                line = ""
            if line is None:
                break
            if line:
                on_line(line)
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            if time.monotonic() - started > timeout:
                return None
        return proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
