"""Every static check in a child process, for the window.

Why a child: the checks are Python that runs for seconds on big models (the edge check takes
2.6 s at 100k nodes) and calls into onnx's C++ inference, which can crash on malformed models.
In the window's process that Python would compete with painting for the interpreter lock
(measured: pan/zoom frames of 50 to 150 ms while it ran, 1 to 2 ms otherwise); in a child it
runs on the other core, a crash costs only the child, and Cancel kills it.

The child (:func:`check_model`) streams one protocol part per finding (``Finding.to_dict()``).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from inspector.core.checks import RuntimeTarget, run_checks
from inspector.core.child import ChildCall, ChildJob, Emitter, Outcome, call_child
from inspector.core.findings import Finding, Severity, finding_from_dict
from inspector.core.graph import open_model
from inspector.core.loader import ModelLoadError
from inspector.core.tasks import CancelToken


def checks_call(
    path: str | os.PathLike[str], target: RuntimeTarget, timeout: float = 900.0
) -> ChildCall[list[Finding]]:
    """The child job that runs :func:`run_checks` on the model at ``path``; a crash, a timeout or
    an unreadable file is one ``check-failed`` finding."""
    args = {"path": str(Path(path)), "target": dataclasses.asdict(target)}
    job = ChildJob(f"{__name__}:check_model", args, timeout, "the checks")
    return ChildCall(job, findings_of)


def run_checks_in_child(
    path: str | os.PathLike[str],
    target: RuntimeTarget,
    cancel: CancelToken | None = None,
    timeout: float = 900.0,
) -> list[Finding]:
    """:func:`run_checks` on the model at ``path``, run by a child process (raises Cancelled)."""
    return call_child(checks_call(path, target, timeout), cancel=cancel)


def findings_of(outcome: Outcome) -> list[Finding]:
    """The findings a checks child streamed; its crash, timeout or failure as ``check-failed``."""
    failure = outcome.failure
    if failure is None:
        return [finding_from_dict(d) for d in outcome.parts]
    if failure.reason == "timed-out":
        return [check_failed(f"the checks took longer than {failure.timeout:g} s and were stopped")]
    stack = failure.stack_line()
    parts = (f"the checks crashed ({failure.how})", failure.said, stack and f"[stack: {stack}]")
    return [check_failed(" ".join(p for p in parts if p))]


def check_failed(message: str) -> Finding:
    """The one finding that says the checks did not run (or not all of them)."""
    return Finding(
        Severity.WARNING,
        "check-failed",
        message,
        "the model could not be checked here; `onnx-inspector check` shows the same checks",
    )


def check_model(emit: Emitter, path: str, target: dict[str, object]) -> None:
    """The child's side: stream the findings of every check on the model at ``path``."""
    emit.progress(0.0, "reading the model")
    try:
        model = open_model(path)
    except ModelLoadError as e:
        findings = [check_failed(str(e))]
    else:
        emit.progress(0.3, "checking")
        findings = run_checks(model, RuntimeTarget(**target))  # type: ignore[arg-type]
    for f in findings:
        emit.part(f.to_dict())
