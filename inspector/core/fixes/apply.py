"""A fix that proves itself: convert, re-check, compare with the original, keep only what held.

:func:`apply_fix` (blocking) and :func:`fix_call` (the child job, for the window's event loop)
do, in one child process (:mod:`inspector.core.child`):

1. the conversion (:mod:`inspector.core.fixes.convert`) into a temporary folder next to the
   destination (same file system, so keeping it is a rename);
2. every static check (:func:`~inspector.core.checks.run_checks`, CPU provider) on the original
   and on the new file: findings the original did not have are the fix's ``checks``;
3. both models run on the same inputs (:func:`~inspector.core.diff.numeric.compare_outputs`,
   random feeds from ``seed``), every output compared against the tolerance (defaults per kind:
   :meth:`~inspector.core.fixes.spec.FixSpec.tolerances`).

The verdict, one finding on top of the report's ``findings``:

* ``fix-verified`` (info): no new error finding, every output within tolerance: the file is kept;
* ``fix-unverified`` (warning): no new error finding, but the original itself does not run here
  (a float64 input ONNX Runtime has no kernel for, an old opset), so nothing could be compared:
  the file is kept, and the warning says so;
* ``fix-rejected`` (error): the new file has an error finding the original did not have, does
  not run, or an output is beyond tolerance: the file is NOT kept (a file that does not hold must
  not sit where the user expects a working one), and the findings say why, on their nodes;
  rerun with a wider ``--rtol``/``--atol`` to keep a result whose difference is expected;
* ``fix-failed`` (error): the conversion itself could not be made (nothing to convert, a dim that
  is not a batch, the converter's error, a crash): nothing is written.

The source file, and its external data, are never written: the destination is refused when it
is one of them, and everything is written under the temporary folder first.

Known limitations: the comparison runs on the CPU provider at the model's own input shapes (a
dynamic dim is run at the original's size only: ``check --save-dynamic`` proves two batch
sizes); cancelling kills the fix's child, while a comparison run it had started ends on its own
at its next line to the dead parent.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inspector.core.child import ChildCall, ChildJob, Emitter, Outcome, call_child
from inspector.core.findings import Finding, Severity, error_line, finding_from_dict, has_errors
from inspector.core.fixes.spec import FixSpec
from inspector.core.tasks import CancelToken, ProgressFn, no_progress

if TYPE_CHECKING:  # the numeric diff imports numpy and the runner: the child imports it
    from inspector.core.diff.numeric import NumericDiff

JOB_TARGET = "inspector.core.fixes.apply:fix_job"
DEFAULT_TIMEOUT_S = 900.0  # the whole fix: conversion, two check passes, two runs

_RERUN_HINT = (
    "nothing was written; if the difference is expected, rerun with a wider --rtol/--atol "
    "(for float16, --keep-float32 OP keeps the op that loses precision in float32)"
)


class SameFileError(ValueError):
    """The destination is the model's own file: a fix never writes it."""


@dataclass
class FixReport:
    """What a fix did and whether it held.

    Example: ``FixReport(True, Path("m16.onnx"), "--to-float16", "float tensors are now
    float16", [], {...}, [Finding(INFO, "fix-verified", ...)], 1.9e-3, 1e-2, 1e-3,
    "verified: ... largest output difference 0.0019 (rtol 0.01, atol 0.001)")``.
    """

    ok: bool  # converted, no new error finding, outputs within tolerance (or not comparable)
    output: Path | None  # the file kept; None when nothing was written
    fix: str  # the fix as the CLI writes it: "--to-float16"
    change: str  # what the conversion changed, one line ("" when it failed)
    checks: list[Finding]  # findings of the new file that the original did not have
    comparison: dict[str, Any] | None  # NumericDiff.to_dict(); None when no comparison ran
    findings: list[Finding]  # the verdict first, then what rejected it, on their nodes
    max_abs: float | None  # the largest output difference measured; None when none
    rtol: float
    atol: float
    verdict: str  # one line for people
    keep: bool = field(default=False, repr=False)  # the child's word: move the staged file

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "output": str(self.output) if self.output else None,
            "fix": self.fix,
            "change": self.change,
            "verdict": self.verdict,
            "max_abs": _json_float(self.max_abs),
            "rtol": self.rtol,
            "atol": self.atol,
            "checks": [f.to_dict() for f in self.checks],
            "comparison": self.comparison,
            "findings": [f.to_dict() for f in self.findings],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], keep: bool = False) -> FixReport:
        max_abs = d["max_abs"]
        return cls(
            d["ok"],
            Path(d["output"]) if d["output"] else None,
            d["fix"],
            d["change"],
            [finding_from_dict(f) for f in d["checks"]],
            d["comparison"],
            [finding_from_dict(f) for f in d["findings"]],
            float(max_abs) if max_abs is not None else None,
            d["rtol"],
            d["atol"],
            d["verdict"],
            keep,
        )


def _json_float(x: float | None) -> float | str | None:
    return x if x is None or math.isfinite(x) else str(x)


def apply_fix(
    model_path: str | os.PathLike[str],
    spec: FixSpec,
    out_path: str | os.PathLike[str],
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
    cancel: CancelToken | None = None,
    progress: ProgressFn = no_progress,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> FixReport:
    """Apply ``spec`` to the model at ``model_path``, writing ``out_path`` only if the result
    holds (see the module docstring). ``rtol``/``atol`` default to the kind's. Raises
    :class:`SameFileError` when ``out_path`` is the model's file, ``Cancelled`` on cancel (nothing
    is left behind)."""
    call = fix_call(model_path, spec, out_path, rtol, atol, seed, timeout)
    return call_child(call, progress, cancel)


def fix_call(
    model_path: str | os.PathLike[str],
    spec: FixSpec,
    out_path: str | os.PathLike[str],
    rtol: float | None = None,
    atol: float | None = None,
    seed: int = 0,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> ChildCall[FixReport]:
    """The child job of :func:`apply_fix` (same arguments), not yet started. The temporary folder
    next to ``out_path`` is made now; ``finish`` moves the new file into place when it held and
    removes the folder either way, ``discard`` (a cancelled call) removes it."""
    src, dst = Path(model_path), Path(out_path)
    refuse_same_file(src, dst)
    default_rtol, default_atol = spec.tolerances()
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    dst.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".partial", dir=dst.parent))
    args = {
        "source": str(src),
        "staged": str(stage / dst.name),
        "destination": str(dst),
        "spec": spec.to_dict(),
        "rtol": rtol,
        "atol": atol,
        "seed": seed,
        "timeout": timeout,
    }
    job = ChildJob(JOB_TARGET, args, timeout, f"the fix {spec.option}")

    def finish(outcome: Outcome) -> FixReport:
        try:
            if outcome.failure is not None:
                return _failed(spec, rtol, atol, outcome.failure.message)
            report = FixReport.from_dict(outcome.value["report"], keep=outcome.value["keep"])
            if report.keep:
                for f in stage.iterdir():  # the model and, past 1.8 GB, its .data file
                    os.replace(f, dst.parent / f.name)
                report.output = dst
            return report
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    return ChildCall(job, finish, lambda: shutil.rmtree(stage, ignore_errors=True))


def refuse_same_file(src: Path, dst: Path) -> None:
    """Raise :class:`SameFileError` when ``dst`` is ``src`` (by path, or by link)."""
    same = dst.resolve() == src.resolve() or (
        dst.exists() and src.exists() and os.path.samefile(src, dst)
    )
    if same:
        raise SameFileError(
            f"refusing to write {dst}: it is the model's own file; give -o a new path"
        )


def _failed(spec: FixSpec, rtol: float, atol: float, why: str) -> FixReport:
    """The conversion could not be made: nothing written."""
    finding = Finding(
        Severity.ERROR,
        "fix-failed",
        f"{spec.option}: nothing written: {why}",
        "the model is unchanged; see the message for what stopped the conversion",
    )
    return FixReport(
        False, None, spec.option, "", [], None, [finding], None, rtol, atol, f"failed: {why}"
    )


# ----------------------------------------------------------------------------- the child


def fix_job(
    emit: Emitter,
    source: str,
    staged: str,
    destination: str,
    spec: dict[str, Any],
    rtol: float,
    atol: float,
    seed: int,
    timeout: float,
) -> dict[str, Any]:
    """The child's side: convert, check both, compare both; returns the report (as a dict) and
    whether the parent should keep the staged file."""
    from inspector.core.checks import RuntimeTarget, run_checks
    from inspector.core.diff.numeric import compare_outputs
    from inspector.core.fixes.convert import convert
    from inspector.core.graph import open_model

    fix = FixSpec.from_dict(spec)
    src, new_path = Path(source), Path(staged)
    emit.progress(0.0, "reading the original")
    original = open_model(src)
    own = {src.resolve()} | {
        i.external.file.resolve() for i in original.graph.initializers if i.external
    }
    written = {Path(destination).resolve(), Path(destination + ".data").resolve()}
    if written & own:
        why = "the destination is the model's external data file; give -o a new path"
        return {"report": _failed(fix, rtol, atol, why).to_dict(), "keep": False}
    emit.progress(0.1, f"converting ({fix.option})")
    try:
        change = convert(fix, src, new_path)
        fixed = open_model(new_path)
    except Exception as e:  # the converter's own refusal or error: nothing is kept
        return {"report": _failed(fix, rtol, atol, error_line(e)).to_dict(), "keep": False}
    emit.progress(0.3, "checking the original and the new file")
    target = RuntimeTarget()
    before = run_checks(original, target)
    seen = {_key(f) for f in before}
    checks = [f for f in run_checks(fixed, target) if _key(f) not in seen]
    emit.progress(0.6, "running both on the same inputs")
    # half the fix's time: a hung run is then the comparison's finding, not the whole fix's
    diff = compare_outputs(src, new_path, seed=seed, rtol=rtol, atol=atol, timeout=timeout / 2)
    report = _verdict(fix, change, checks, diff, rtol, atol)
    return {"report": report.to_dict(), "keep": report.keep}


def _key(f: Finding) -> tuple[Any, ...]:
    """What makes a finding the same in both models: its tensor when it has one (the node that
    reads an input may now be an inserted Cast), else its node by name and type; never the
    node's index (conversions insert nodes) nor the message (it names dtypes that changed)."""
    where = (f.tensor,) if f.tensor else (f.node, f.op_type)
    return (f.severity, f.code, f.path, *where)


def _verdict(
    fix: FixSpec, change: str, checks: list[Finding], diff: NumericDiff, rtol: float, atol: float
) -> FixReport:
    gaps = diff.outputs
    max_abs = max((g.max_abs for g in gaps), default=None)
    measured = (
        f"largest output difference {max_abs:.3g} (rtol {rtol:g}, atol {atol:g})"
        if max_abs is not None
        else "outputs not compared"
    )
    why: list[str] = []
    evidence: list[Finding] = []
    new_errors = [f for f in checks if f.severity is Severity.ERROR]
    if new_errors:
        first = new_errors[0]
        why.append(
            f"the checks find {len(new_errors)} new error(s) ({first.code}: {first.message})"
        )
        evidence += new_errors
    side_errors = {
        side: [
            f
            for f in diff.findings
            if f.severity is Severity.ERROR and f.message.startswith(f"model {side}: ")
        ]
        for side in ("A", "B")
    }
    unverified = ""
    bad = [g for g in gaps if not g.ok]
    if bad:
        g = max(bad, key=lambda x: x.max_abs)
        why.append(
            f"output '{g.b_name}' is off by {g.max_abs:.3g} (max rel {g.max_rel:.3g})"
            + (f", {g.note}" if g.note else "")
            + f", beyond rtol {rtol:g}, atol {atol:g}"
        )
        evidence += [f for f in diff.findings if f.code == "diff-output-mismatch"]
    elif side_errors["A"]:
        unverified = (
            "the original does not run here, so the outputs were not compared "
            f"({side_errors['A'][0].message.removeprefix('model A: ')})"
        )
    elif side_errors["B"]:
        why.append(
            f"the new file does not run ({side_errors['B'][0].message.removeprefix('model B: ')})"
        )
        evidence += side_errors["B"]
    elif not diff.same:  # an output only one model has
        why.append("the outputs do not pair up")
        evidence += [f for f in diff.findings if f.severity is Severity.ERROR]
    if why:
        verdict = f"rejected: {'; '.join(why)}"
        top = Finding(Severity.ERROR, "fix-rejected", f"{fix.option}: {verdict}", _RERUN_HINT)
        keep = False
    elif unverified:
        verdict = f"kept, unverified: {change}; {unverified}"
        top = Finding(
            Severity.WARNING,
            "fix-unverified",
            f"{fix.option}: {verdict}",
            "the new file passes the checks; run it on data you trust before relying on it",
        )
        keep = True
    else:
        verdict = f"verified: {change}; {measured}"
        top = Finding(Severity.INFO, "fix-verified", f"{fix.option}: {verdict}")
        keep = True
    findings = [top, *evidence]
    return FixReport(
        not has_errors(findings),
        None,
        fix.option,
        change,
        checks,
        diff.to_dict(),
        findings,
        max_abs,
        rtol,
        atol,
        verdict,
        keep,
    )
