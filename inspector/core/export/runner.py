"""The parent side of an export: the driver's job in a child process, its live log, Cancel.

:func:`export_model` is what ``onnx-inspector export`` calls, and :func:`export_call` the same
job for the wizard, which waits for it on the window's event loop. Neither imports torch or the
user's code: the config goes to :func:`inspector.core.export.driver.run_export` as JSON through
:mod:`inspector.core.child`, which hands each log line to ``log_callback``, relays the driver's
progress, and kills the child on Cancel or timeout.

Known limitations: progress is by step (load, capture, translate, save, validate), not within a
step; the exporter gives no finer signal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from inspector.core.child import ChildCall, ChildJob, Outcome, call_child
from inspector.core.export.config import ExportConfig
from inspector.core.export.explain import SourceLine, finding
from inspector.core.findings import Finding, finding_from_dict, has_errors
from inspector.core.tasks import CancelToken, ProgressFn, no_progress

DEFAULT_TIMEOUT_S = 900.0
LogFn = Callable[[str], None]


@dataclass
class ExportResult:
    """The outcome of one export, for the wizard's last pages and the CLI.

    ``ok``: a file was written (it may still be degraded: see the findings).
    ``findings[i]`` comes from ``source_lines[i]`` in the user's code ("path:line") when known.
    ``checklist``: the validation rows (name, status passed/warning/failed/skipped, detail).
    """

    ok: bool
    onnx: str | None
    findings: list[Finding] = field(default_factory=list)
    source_lines: list[str | None] = field(default_factory=list)
    checklist: list[dict[str, str]] = field(default_factory=list)
    opset: int | None = None
    input_names: list[str] = field(default_factory=list)  # as exported (for write_script)
    timings: dict[str, float] = field(default_factory=dict)
    log: str = ""  # the child's whole log: the raw exporter messages, one click away
    # A failed dynamo export: a Python file of onnxscript translations for the ops that have
    # none (inspector.core.export.translations), to fill in and pass back; "" when none.
    stubs: str = ""

    @property
    def has_errors(self) -> bool:
        return has_errors(self.findings)

    def finding_dicts(self) -> list[dict[str, Any]]:
        """Each finding's ``to_dict()`` plus its ``source_line`` (or None): the CLI's JSON."""
        return [
            {**f.to_dict(), "source_line": s}
            for f, s in zip(self.findings, self.source_lines, strict=True)
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "onnx": self.onnx,
            "opset": self.opset,
            "findings": self.finding_dicts(),
            "checklist": self.checklist,
            "timings": self.timings,
            "stubs": self.stubs or None,
        }


def export_model(
    config: ExportConfig,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    log_callback: LogFn | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> ExportResult:
    """Export ``config`` in a child process; raises :class:`Cancelled` if ``cancel`` is set.

    A failed export is a result (``ok`` False with an error finding), not an exception; so is
    a timeout or a crash of the child.
    """
    progress(0.0, "starting")
    result = call_child(export_call(config, timeout), progress, cancel, log_callback)
    progress(1.0, "done")
    return result


def export_call(
    config: ExportConfig, timeout: float = DEFAULT_TIMEOUT_S
) -> ChildCall[ExportResult]:
    """The child job of :func:`export_model`; no GPU for the user's code (reproducible files)."""
    job = ChildJob(
        "inspector.core.export.driver:run_export",
        {"config": config.to_json()},
        timeout,
        "the export",
        env={"CUDA_VISIBLE_DEVICES": ""},
    )
    return ChildCall(job, _result)


def _result(outcome: Outcome) -> ExportResult:
    log = "\n".join(outcome.log)
    failure = outcome.failure
    if failure is None:
        return result_from_json(outcome.value, log)
    if failure.reason == "timed-out":
        explained = finding("export-timeout", f"the export took over {failure.timeout:.0f} s")
    else:
        stack = failure.stack_line()
        said = f": {failure.said}" if failure.said else ""
        explained = finding(
            "export-crashed",
            f"the export process ended with {failure.how}{said}"
            + (f" [stack: {stack}]" if stack else ""),
        )
    return ExportResult(False, None, [explained.finding], [None], log=log)


def result_from_json(data: dict[str, Any], log: str = "") -> ExportResult:
    """The driver's result JSON as an :class:`ExportResult`."""
    findings, sources = [], []
    for d in data.get("findings", []):
        findings.append(finding_from_dict(d))
        sources.append(d.get("source_line"))
    return ExportResult(
        ok=bool(data.get("ok")),
        onnx=data.get("onnx"),
        findings=findings,
        source_lines=sources,
        checklist=data.get("checklist", []),
        opset=data.get("opset"),
        input_names=data.get("input_names", []),
        timings=data.get("timings", {}),
        log=log,
        stubs=data.get("stubs") or "",
    )


__all__ = ["ExportResult", "SourceLine", "export_model", "result_from_json"]
