"""Every static check in a child process, for the window.

Why a child: the checks are Python that runs for seconds on big models (the edge check takes
2.6 s at 100k nodes) and calls into onnx's C++ inference, which can crash on malformed models.
In the window's process that Python would compete with painting for the interpreter lock
(measured: pan/zoom frames of 50 to 150 ms while it ran, 1 to 2 ms otherwise); in a child it
runs on the other core, a crash costs only the child, and Cancel kills it.

Protocol: ``python -m inspector.core.checks.child MODEL TARGET_JSON`` writes one JSON object to
stdout: ``{"findings": [Finding.to_dict(), ...]}``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path

from inspector.core.checks import RuntimeTarget, run_checks
from inspector.core.child_process import run_streaming
from inspector.core.findings import Finding, Severity, finding_from_dict
from inspector.core.graph import open_model
from inspector.core.loader import ModelLoadError
from inspector.core.tasks import CancelToken


def run_checks_in_child(
    path: str | os.PathLike[str],
    target: RuntimeTarget,
    cancel: CancelToken | None = None,
    timeout: float = 900.0,
) -> list[Finding]:
    """:func:`run_checks` on the model at ``path``, run by a child process (raises Cancelled)."""
    lines: list[str] = []
    with tempfile.TemporaryFile() as stderr:
        returncode = run_streaming(
            [
                sys.executable,
                "-m",
                "inspector.core.checks.child",
                str(Path(path)),
                json.dumps(dataclasses.asdict(target)),
            ],
            lines.append,
            cancel,
            timeout,
            stderr=stderr,
        )
        stderr.seek(0)
        err = stderr.read().decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
    if returncode is None:
        return [_failed(f"the checks took longer than {timeout:.0f} s and were stopped")]
    if returncode != 0:
        return [_failed(f"the checks crashed (exit code {returncode}) {err[0]}".strip())]
    return [finding_from_dict(d) for d in json.loads("".join(lines))["findings"]]


def _failed(message: str) -> Finding:
    return Finding(
        Severity.WARNING,
        "check-failed",
        message,
        "the model could not be checked here; `onnx-inspector check` shows the same checks",
    )


def _child(path: str, target_json: str) -> int:
    try:
        model = open_model(path)
    except ModelLoadError as e:
        findings = [_failed(str(e))]
    else:
        findings = run_checks(model, RuntimeTarget(**json.loads(target_json)))
    json.dump({"findings": [f.to_dict() for f in findings]}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1], sys.argv[2]))
