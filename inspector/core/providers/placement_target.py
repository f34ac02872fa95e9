"""The partition map for a check target: which verdicts judge each provider, and the findings.

The NNAPI and CoreML verdicts come from the wheel's own support lists (:mod:`.mobile`); every
other provider's from the kernel and support tables
(:func:`inspector.core.providers.tables.model_verdicts`). The CPU comes last and is judged by the
live CPU check (:mod:`inspector.core.checks.runtime_support`).

:func:`check_target` is ``run_checks`` for a provider order: the tables build on the CPU check's
matcher, so this package sits above the checks and hands ``run_checks`` its runtime family (the
checks never import it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from inspector.core.checks import RuntimeTarget, run_checks
from inspector.core.checks.run import runtime_findings
from inspector.core.checks.runtime_support import check as cpu_check
from inspector.core.findings import Finding, Severity
from inspector.core.graph import Graph, Model, Node
from inspector.core.providers.mobile import MOBILE_PROVIDERS, MobileRules, defining_values
from inspector.core.providers.placement import CPU, Placement, VerdictFn, full_order, place
from inspector.core.providers.releases import release_findings
from inspector.core.providers.tables import PROVIDERS, model_verdicts
from inspector.core.providers.verdict import Verdict
from inspector.core.tasks import CancelToken, ProgressFn, gc_paused, no_progress


def parse_options(pairs: Iterable[str]) -> dict[str, str]:
    """``["ModelFormat=MLProgram"]`` → ``{"ModelFormat": "MLProgram"}``; raises ValueError on a
    pair without '='."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"provider option {pair!r} is not KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def known_provider(provider: str) -> bool:
    """Whether the Inspector has data to judge ``provider`` by."""
    return provider == CPU or provider in MOBILE_PROVIDERS or provider in PROVIDERS


def verdicts(
    model: Model, order: Sequence[str], options: dict[str, str], release: str | None = None
) -> VerdictFn:
    """The verdict function :func:`place` asks, for ``order``'s providers on ``model`` (the
    tables of ONNX Runtime ``release``; None: the newest, or the installed build's registry)."""
    mobile: dict[str, MobileRules] = {}
    wanted = [p for p in order if p in MOBILE_PROVIDERS]
    if wanted:
        values = defining_values([*model.graph.iter_graphs()])
        mobile = {p: MobileRules(p, options, values) for p in wanted}
    tables: dict[str, dict] = {}  # provider → every node's verdict, computed on first use

    def verdict(provider: str, node: Node, graph: Graph) -> Verdict:
        rules = mobile.get(provider)
        if rules is not None:
            return rules.verdict(node, graph)
        if provider in PROVIDERS:
            table = tables.get(provider)
            if table is None:
                table = tables[provider] = model_verdicts(provider, model, release)
            return table[(graph.path, node.index)]
        return Verdict("unknown", f"the Inspector has no data for {provider}", "")

    return verdict


def target_placement(
    model: Model,
    order: Sequence[str],
    options: dict[str, str] | None = None,
    cancel: CancelToken | None = None,
    release: str | None = None,
    graph: str = "as saved",
) -> Placement:
    """The partition map of ``model`` for the provider ``order`` (CPU appended last), judged by
    the tables of ONNX Runtime ``release`` (None: the newest); ``graph`` says which graph
    ``model`` is ("as saved", or "optimized": :mod:`.placement_optimized`)."""
    full = full_order(order)
    judge = verdicts(model, full, options or {}, release)
    # ~10 objects a node: the collector's rescans of a 10k-node model doubled the time (measured)
    with gc_paused():
        return place(model, full, judge, graph, cancel)


def placement_findings(
    model: Model, placement: Placement, cpu_findings: list[Finding]
) -> list[Finding]:
    """The findings of a placement: a fallback warning per node that left the first provider, a
    note per documented restriction, a ``runtime-unchecked`` warning per provider there is no
    data for, and of the live CPU check's findings those on the model or on nodes the CPU runs."""
    out = [
        Finding(
            Severity.WARNING,
            "runtime-unchecked",
            f"the Inspector has no kernel or support data for {p}; its nodes are counted on the "
            "next provider of the order",
            hint="choose a provider the target picker lists",
        )
        for p in placement.order
        if not known_provider(p)
    ]
    on_cpu = placement.providers_by_graph
    for f in cpu_findings:
        placed = on_cpu.get(f.path)
        if f.node_index is None or placed is None or placed[f.node_index] in (CPU, ""):
            out.append(f)
    return out + placement.findings(model)


def check_target(
    model: Model,
    target: RuntimeTarget,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[list[Finding], Placement]:
    """Every check's findings for ``target``'s provider order, and its partition map.

    With the CPU alone, or a target opset to convert to first, the runtime findings are the CPU
    check's as ever. Otherwise a node another provider lacks falls back along the order, and only
    the nodes that land on the CPU are judged by the CPU check."""
    options = parse_options(target.options)
    placed = target_placement(model, target.order, options, cancel, release=target.release)

    def runtime(m: Model, t: RuntimeTarget, c: CancelToken | None) -> list[Finding]:
        cpu_alone = set(t.order) == {CPU} or t.runtime != "onnxruntime"
        if t.retargets(m.opset_for("")):
            return runtime_findings(m, t, c)
        if t.release is not None:  # that release's limits and CPU kernel table, not the installed
            cpu = release_findings(m, t.release)
        elif cpu_alone:
            return runtime_findings(m, t, c)
        else:
            cpu = cpu_check(m, replace(t, provider=CPU, fallbacks=()), c)
        return cpu if cpu_alone else placement_findings(m, placed, cpu)

    return run_checks(model, target, progress, cancel, runtime=runtime), placed
