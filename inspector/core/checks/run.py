"""The orchestration: every static check family over one model, one sorted list of findings.

Families: ``structure`` (spec violations, and onnx.checker's verdict), ``runtime_support`` (what
the chosen runtime cannot run; with a target opset other than the model's, what it cannot run
after converting, from :mod:`.runtime_retarget`), ``edges`` (dtype and shape mismatches on
edges). Choosing between the plain runtime check and the retarget preview happens here, so
neither of those two modules imports the other's caller.

Families restate one another at times (onnx.checker's one error, which another family often
explains already; onnx's schema-verify messages, which the edges family meets through inference):
:func:`~inspector.core.checks.structure_checker.drop_repeats` keeps one finding per fault.
"""

from __future__ import annotations

from collections.abc import Callable

from inspector.core.checks import edges, runtime_retarget, runtime_support, structure
from inspector.core.checks.structure_checker import drop_repeats
from inspector.core.checks.target import RuntimeTarget
from inspector.core.findings import Finding, Severity
from inspector.core.graph import Model
from inspector.core.tasks import Cancelled, CancelToken, ProgressFn, no_progress

Family = Callable[[Model, RuntimeTarget, "CancelToken | None"], list[Finding]]


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Errors first, then by graph path and node position (a stable, readable order)."""
    return sorted(
        findings,
        key=lambda f: (
            Severity(f.severity).rank,
            f.path,
            f.node_index if f.node_index is not None else -1,
            f.code,
        ),
    )


def runtime_findings(
    model: Model, target: RuntimeTarget, cancel: CancelToken | None = None
) -> list[Finding]:
    """What ``target`` cannot run: on the model itself, or on the model converted to the
    target's opset when it names another one."""
    if target.retargets(model.opset_for("")):
        return runtime_retarget.retarget_findings(model, target, cancel)
    return runtime_support.check(model, target, cancel)


def families(runtime: Family | None = None) -> tuple[tuple[str, Family], ...]:
    """(name, check) of each family in the order they run (see the module docstring), looked up
    when called so a family's module can be swapped in a test; ``runtime`` replaces the runtime
    family (the partition map of a provider order does: it lives above the checks, in
    :func:`inspector.core.providers.placement_target.check_target`)."""
    return (
        ("structure", structure.check),
        ("runtime_support", runtime or runtime_findings),
        ("edges", edges.check),
    )


def run_checks(
    model: Model,
    target: RuntimeTarget | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    runtime: Family | None = None,
) -> list[Finding]:
    """Every finding of every static check family, sorted (``runtime``: see :func:`families`)."""
    target = target or RuntimeTarget()
    findings: list[Finding] = []
    steps = families(runtime)
    for i, (name, check) in enumerate(steps):
        progress(i / len(steps), name)
        try:
            findings += check(model, target, cancel)
        except Cancelled:
            raise
        except Exception as e:  # one family's bug must not hide the other families' findings
            findings.append(
                Finding(
                    Severity.WARNING,
                    "check-failed",
                    f"the {name} check stopped with {type(e).__name__}: {e}",
                    "the other checks' findings still stand; please report this model",
                )
            )
    progress(1.0, "checked")
    return sort_findings(drop_repeats(findings))
