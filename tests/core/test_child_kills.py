"""Acceptance 4 of issue 12: every kind of child (shape inference, the checks, an ONNX Runtime run,
an export), killed at start-up, mid-run and at the end, reports the crash with the child's stack
and leaves no process behind.

The child is stopped at a known point by the layer's test hook (``INSPECTOR_CHILD_PAUSE``: it logs
``[child] paused at PHASE (pid N)`` and waits), and the signal is sent from the parent when that
line arrives: no test guesses at how long a start-up takes. SIGSEGV is what a native crash looks
like, and faulthandler (on from the interpreter's first instruction) writes the Python stack;
SIGKILL (the out-of-memory killer) leaves no stack to report, only the signal.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from inspector.core.checks import RuntimeTarget
from inspector.core.checks.child import checks_call
from inspector.core.child import call_child
from inspector.core.child.protocol import PAUSE_ENV, PAUSE_PREFIX
from inspector.core.export import ExportConfig, InputSpec, export_model
from inspector.core.infer_process import infer_types_call
from inspector.core.inference.runner import RunOptions, run_call
from tests.bad_models import small_model
from tests.leak_guard import child_processes
from tests.model_zoo import torch_available

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="signals, and /proc to find children"
)

CLEAN = Path(__file__).resolve().parent.parent / "export_cases" / "clean.py"
PHASES = ("start", "mid", "end")
_MARKER = re.compile(re.escape(PAUSE_PREFIX) + r"(\w+) \(pid (\d+)\)")


class Killer:
    """A log callback that sends ``sig`` to the child when its pause line arrives."""

    def __init__(self, sig: signal.Signals) -> None:
        self.sig = sig
        self.phase = ""

    def __call__(self, line: str) -> None:
        m = _MARKER.search(line)
        if m and not self.phase:
            self.phase = m.group(1)
            os.kill(int(m.group(2)), self.sig)


def _model(tmp_path: Path) -> Path:
    path = tmp_path / "m.onnx"
    onnx.save(small_model(), path)
    return path


def _infer(tmp_path: Path, on_log: Callable[[str], None]) -> str:
    types, error = call_child(infer_types_call(_model(tmp_path)), on_log=on_log)
    assert types == {}
    return error


def _checks(tmp_path: Path, on_log: Callable[[str], None]) -> str:
    (f,) = call_child(checks_call(_model(tmp_path), RuntimeTarget()), on_log=on_log)
    assert f.code == "check-failed"
    return f.message


def _run(tmp_path: Path, on_log: Callable[[str], None]) -> str:
    feeds = {"x": np.ones((2, 3), np.float32)}
    call = run_call(_model(tmp_path), feeds, RunOptions(warmup=0, repeat=1))
    r = call_child(call, on_log=on_log)
    assert r.status == "crashed" and [f.code for f in r.findings] == ["crashed"]
    assert r.workdir is None
    return f"{r.findings[0].message}\n{r.error}"


def _export(tmp_path: Path, on_log: Callable[[str], None]) -> str:
    out = tmp_path / "mlp.onnx"
    cfg = ExportConfig(
        str(CLEAN), str(out), factory="mlp", inputs=[InputSpec("x", "float32", [2, 16])]
    )
    cfg.validate = False
    r = export_model(cfg, log_callback=on_log)
    assert not r.ok and [f.code for f in r.findings] == ["export-crashed"]
    return f"{r.findings[0].message}\n{r.log}"


KINDS: dict[str, Callable[[Path, Callable[[str], None]], str]] = {
    "shape inference": _infer,
    "checks": _checks,
    "run": _run,
    "export": _export,
}


def _kill(kind: str, phase: str, sig: signal.Signals, tmp_path, monkeypatch) -> str:
    if kind == "export" and not torch_available():
        pytest.skip("torch is not installed")
    before = set(child_processes() or {})
    monkeypatch.setenv(PAUSE_ENV, phase)
    killer = Killer(sig)
    said = KINDS[kind](tmp_path, killer)
    assert killer.phase == phase  # the child stopped where asked, and was killed there
    assert set(child_processes() or {}) <= before, "a child process was left behind"
    assert f"signal {sig.name}" in said
    return said


def _params() -> list[Any]:
    slow = pytest.mark.slow  # torch takes seconds to import: only start-up runs by default
    return [
        pytest.param(kind, phase, marks=slow if kind == "export" and phase != "start" else ())
        for kind in KINDS
        for phase in PHASES
    ]


@pytest.mark.parametrize(("kind", "phase"), _params())
def test_a_segfault_is_reported_with_the_childs_stack(kind, phase, tmp_path, monkeypatch):
    said = _kill(kind, phase, signal.SIGSEGV, tmp_path, monkeypatch)
    assert "Fatal Python error: Segmentation fault" in said
    # The stack at the moment of the crash: the pause, in the layer's code, then the caller.
    assert "pause_if (protocol.py:" in said or 'protocol.py", line' in said, said


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_sigkill_is_reported_as_a_crash(kind, tmp_path, monkeypatch):
    said = _kill(kind, "start", signal.SIGKILL, tmp_path, monkeypatch)
    assert "Fatal Python error" not in said  # SIGKILL cannot be caught: there is no stack
