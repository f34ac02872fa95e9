"""The child job of a numeric diff: both models' runs in one child process (:func:`run_both`).

Each run is the inference runner's own job (:func:`inspector.core.inference.child.run`, its
arguments made by :func:`~inspector.core.inference.runner.run_call`), called in turn in one
process so that a comparison pays for one interpreter and one onnxruntime import rather than two
(measured: see ``tests/core/test_numeric_diff.py``). Each run's result is sent as a ``part`` the
moment it is done, so a crash in the second model still leaves the first one's result with the
parent; a ``log`` line before each run tells the parent which run a crash belongs to.
"""

from __future__ import annotations

from typing import Any

from inspector.core.child import Emitter
from inspector.core.inference.child import run

RUN_PREFIX = "[numeric diff] running model "


class _Share:
    """The emitter seen by one of ``count`` runs: its progress mapped onto its share of the job."""

    def __init__(self, emit: Emitter, index: int, count: int, label: str) -> None:
        self._emit, self._index, self._count, self._label = emit, index, count, label

    def progress(self, fraction: float, message: str) -> None:
        whole = (self._index + fraction) / self._count
        self._emit.progress(whole, f"model {self._label}: {message}")

    def log(self, line: str) -> None:
        self._emit.log(line)

    def part(self, value: Any) -> None:
        self._emit.part(value)


def run_both(emit: Emitter, runs: list[dict[str, Any]], labels: list[str]) -> int:
    """Run each of ``runs`` (the keyword arguments of the runner's job) in order; each result goes
    out as one part. Returns how many ran."""
    for i, (args, label) in enumerate(zip(runs, labels, strict=True)):
        emit.log(f"{RUN_PREFIX}{label}")
        emit.part(run(_Share(emit, i, len(runs), label), **args))  # type: ignore[arg-type]
    return len(runs)
