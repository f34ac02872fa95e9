"""The child-process layer: one job, one line protocol; timeout, cancel, errors and stray output."""

from __future__ import annotations

import sys
import time

import pytest

from inspector.core.child import ChildCall, ChildJob, Outcome, call_child, run_job
from inspector.core.tasks import Cancelled, CancelToken
from tests.leak_guard import child_processes

JOBS = "tests.core.child_jobs"


def _job(function: str, timeout: float = 120, **args) -> ChildJob:
    return ChildJob(f"{JOBS}:{function}", args, timeout, "the test job")


def _children() -> set[int]:
    return {c.pid for c in (child_processes() or {}).values()}


def test_result_parts_progress_and_log_arrive_and_stray_output_goes_to_the_log():
    progress: list[tuple[float, str]] = []
    log: list[str] = []
    outcome = run_job(
        _job("echo", value={"a": [1, 2]}), lambda f, m: progress.append((f, m)), log.append
    )
    assert outcome.failure is None
    assert outcome.value == {"a": [1, 2]} and outcome.parts == [1, [2, "two"]]
    assert progress == [(0.5, "half")]
    assert "a log line" in log and "a stray print" in log
    assert "a write to file descriptor 1" in log
    assert "coloured like a terminal logger" in log  # colour codes are stripped, text kept
    assert outcome.log == log


def test_timeout_kills_the_child():
    started = time.monotonic()
    outcome = run_job(_job("talk_then_wait", timeout=2))
    assert time.monotonic() - started < 20
    failure = outcome.failure
    assert failure is not None and failure.reason == "timed-out"
    assert failure.message == "the test job timed out after 2 s and was stopped"
    assert _children() == set()


def test_cancel_kills_the_child():
    token = CancelToken()
    started = time.monotonic()
    with pytest.raises(Cancelled):
        run_job(_job("talk_then_wait"), lambda _f, _m: token.cancel(), cancel=token)
    assert time.monotonic() - started < 20
    assert _children() == set()


def test_an_exception_in_the_job_is_reported_with_its_traceback():
    failure = run_job(_job("raise_error")).failure
    assert failure is not None and failure.reason == "raised" and failure.returncode == 1
    assert failure.message == "the test job failed: KeyError: 'no such thing'"
    assert "Traceback" in failure.details and "raise_error" in failure.details
    assert failure.stack_line().startswith("raise_error (child_jobs.py:")


def test_a_job_that_cannot_be_imported_is_a_failure_not_a_hang():
    failure = run_job(ChildJob("no.such.module:f", {}, 120, "the test job")).failure
    assert failure is not None and failure.reason == "raised"
    assert "ModuleNotFoundError" in failure.message


def test_a_line_outside_the_protocol_is_raised_and_the_child_killed(tmp_path, monkeypatch):
    # A banner printed before the entry point takes stdout over (a site customisation).
    (tmp_path / "sitecustomize.py").write_text('print("welcome to this machine")\n')
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    with pytest.raises(ValueError, match="Expecting value"):
        run_job(_job("talk_then_wait"))
    assert _children() == set()


def test_a_call_finishes_its_outcome_or_discards_when_cancelled():
    discarded: list[bool] = []
    call = ChildCall(
        _job("echo", value=3), lambda o: (o.value, len(o.parts)), lambda: discarded.append(True)
    )
    assert call_child(call.then(lambda r: r[0] * 10)) == 30 and discarded == []
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        call_child(call, cancel=token)
    assert discarded == [True]
    assert call_child(ChildCall(None, lambda o: o == Outcome())) is True


def test_the_entry_point_imports_nothing_heavy_before_the_job():
    # faulthandler must be on before onnx, onnxruntime, torch or numpy load: the entry point and
    # the protocol use the standard library only.
    code = (
        "import sys, inspector.core.child.__main__; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('numpy', 'onnx', 'onnxruntime', 'torch', 'PySide6')))"
    )
    import subprocess

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"
