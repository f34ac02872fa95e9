"""Static checks. Each family is a module with ``check(model, target, cancel) -> list[Finding]``;
:func:`run_checks` runs every family and returns their findings in one list (the CLI's ``check``,
the Problems panel and the graph highlights all read that list).

Families: ``structure`` (spec violations, and onnx.checker's verdict), ``runtime_support`` (what
the chosen runtime cannot run), ``edges`` (dtype and shape mismatches on edges).

Families restate one another at times (onnx.checker's one error, which another family often
explains already; onnx's schema-verify messages, which the edges family meets through inference):
:func:`~inspector.core.checks.structure_checker.drop_repeats` keeps one finding per fault.
"""

from __future__ import annotations

from dataclasses import dataclass

from inspector.core.findings import Finding, Severity
from inspector.core.graph import Model
from inspector.core.tasks import Cancelled, CancelToken, ProgressFn, no_progress


@dataclass(frozen=True)
class RuntimeTarget:
    """What the model will be run on: a runtime, one of its execution providers, and optionally
    the ai.onnx opset the model would be converted to first (None: the model's own)."""

    runtime: str = "onnxruntime"
    provider: str = "CPUExecutionProvider"
    opset: int | None = None


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


def run_checks(
    model: Model,
    target: RuntimeTarget | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> list[Finding]:
    """Every finding of every static check family, sorted."""
    target = target or RuntimeTarget()
    from inspector.core.checks import edges, runtime_support, structure
    from inspector.core.checks.structure_checker import drop_repeats

    families: list = [structure, runtime_support, edges]  # see the module docstring
    findings: list[Finding] = []
    for i, family in enumerate(families):
        progress(i / max(1, len(families)), family.__name__.rsplit(".", 1)[-1])
        try:
            findings += family.check(model, target, cancel)
        except Cancelled:
            raise
        except Exception as e:  # one family's bug must not hide the other families' findings
            name = family.__name__.rsplit(".", 1)[-1]
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
