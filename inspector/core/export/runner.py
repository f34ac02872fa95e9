"""The parent side of an export: run the driver in a child process, stream its log, cancel it.

:func:`export_model` is what the wizard's export page and ``onnx-inspector export`` call. It
never imports torch or the user's code: it writes the config as JSON, starts
``python -m inspector.core.export.driver CONFIG.json RESULT.json``, hands each log line to
``log_callback`` (on the calling thread, so a Qt task can forward it by a queued signal),
reports coarse progress from the driver's step lines, and kills the child on Cancel or timeout.

Known limitations: progress is by step (load, capture, translate, save, validate), not within a
step; the exporter gives no finer signal.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inspector.core.child_process import child_env, run_streaming
from inspector.core.export.config import ExportConfig
from inspector.core.export.explain import Explained, SourceLine, finding
from inspector.core.findings import Finding, finding_from_dict, has_errors
from inspector.core.tasks import CancelToken, ProgressFn, no_progress

DEFAULT_TIMEOUT_S = 900.0
LogFn = Callable[[str], None]

#: A driver log line starting with this → progress fraction (see driver.log calls).
_STEPS = (
    ("[inspector] loading", 0.05, "loading the model"),
    ("[inspector] capturing", 0.2, "capturing the graph"),
    ("[inspector] exporting", 0.2, "exporting"),
    ("[inspector] translating", 0.5, "translating to ONNX"),
    ("[inspector] saving", 0.75, "saving"),
    ("[inspector] validating", 0.8, "validating"),
)


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
    lines: list[str] = []

    def on_line(line: str) -> None:
        lines.append(line)
        for prefix, fraction, message in _STEPS:
            if line.startswith(prefix):
                progress(fraction, message)
        if log_callback is not None:
            log_callback(line)

    progress(0.0, "starting")
    with tempfile.TemporaryDirectory(prefix="inspector_export_") as scratch:
        config_path = Path(scratch) / "config.json"
        result_path = Path(scratch) / "result.json"
        config_path.write_text(config.to_json(), encoding="utf-8")
        failure = _run_child(config_path, result_path, on_line, cancel, timeout)
        log = "\n".join(lines)
        if failure is not None:
            return _failed(failure, log)
        data = json.loads(result_path.read_text(encoding="utf-8"))
    progress(1.0, "done")
    return result_from_json(data, log)


def _run_child(
    config_path: Path,
    result_path: Path,
    on_line: LogFn,
    cancel: CancelToken | None,
    timeout: float,
) -> Explained | None:
    """Run the driver to the end; None when it wrote a result, else the finding saying why."""
    # unbuffered: the log must arrive line by line, not at exit; no GPU for the user's code
    env = child_env(PYTHONUNBUFFERED="1", CUDA_VISIBLE_DEVICES="")
    returncode = run_streaming(
        [sys.executable, "-m", "inspector.core.export.driver", str(config_path), str(result_path)],
        on_line,
        cancel,
        timeout,
        env=env,
    )
    if returncode is None:
        return finding("export-timeout", f"the export took over {timeout:.0f} s")
    if returncode != 0 or not result_path.is_file():
        return finding("export-crashed", f"the export process ended with exit code {returncode}")
    return None


def _failed(explained: Explained, log: str) -> ExportResult:
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
    )


__all__ = ["ExportResult", "SourceLine", "export_model", "result_from_json"]
