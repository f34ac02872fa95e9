"""The proof of the kernel-table parser: the CPU table read from ``OperatorKernels.md`` must judge
every model of the runtime-support truth corpus as the installed runtime's live registry does.

Both judge through the same check (``runtime_support.check_registry``); only the kernel table
differs, so any disagreement is the document's (or the parser's). A model agrees when the two
give the same findings (code, severity, node, graph path, tensor). Every disagreement is
explained from the live registry, or reported as unexplained:

* ``constraint-free kernel``: the live registry has a kernel for the op registered without type
  constraints; ``gen_opkernel_doc.py`` writes one row per type constraint, so the document has
  no row for it (NonMaxSuppression, QLinearConcat, ...);
* ``merged kernels``: the live registry has several kernels for the op's version range, each
  taking one combination of types; the document writes one row with the union of each
  parameter's types, so a combination no single kernel takes looks taken (OneHot,
  RMSNormalization, Attention's mixed float16/float).

The sweep runs in child processes of the one child layer (:mod:`inspector.core.child`), since
onnx shape inference can abort on the corpus's malformed models; a model that crashes its child
is set aside and counted, as the truth corpus does.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from inspector.core.child import ChildJob, run_job

CHILD_TIMEOUT_S = 3600.0


def _signature(findings) -> dict[tuple, tuple]:
    out: dict[tuple, tuple] = {}
    for f in findings:
        key = (tuple(f.path or ()), f.node_index)
        out[key] = (*out.get(key, ()), (f.code, f.severity.value, f.tensor or ""))
    return {k: tuple(sorted(v)) for k, v in out.items()}


def _explain(model, key: tuple, live, doc) -> str:
    """Why the document's table and the live registry disagree on one node."""
    from inspector.core.checks.runtime_registry import normalize_domain

    path, index = key
    if index is None:
        return "unexplained: a model-level finding differs"
    graph = next((g for g in model.graph.iter_graphs() if g.path == path), None)
    if graph is None:
        graph = next(f.graph for f in model.functions if f.graph.path == path)
    node = graph.nodes[index]
    domain = normalize_domain(node.domain)
    opset = {normalize_domain(d): v for d, v in model.opset_imports.items()}.get(domain, 0)
    schema = live.schema_for(domain, node.op_type, opset)
    ops = {(domain, node.op_type)}
    if schema is not None:
        # The difference can come from an op inside the function body the runtime inlines.
        from inspector.core.checks.runtime_functions import schema_function

        fn = schema_function(node.proto, domain, schema.since, opset, [], lambda d, o, v: None)
        if fn is not None:
            ops |= {(normalize_domain(n.domain), n.op_type) for n in fn.node}
    for d, op in sorted(ops):
        kernels = live.kernels.get((d, op), [])
        if any(not k.constraints for k in kernels):
            return f"constraint-free kernel: {d or 'ai.onnx'}.{op} (no row in the document)"
        if _merged_faithfully(live, doc, d, op):
            return f"merged kernels: {d or 'ai.onnx'}.{op} (the document unions their types)"
    return "unexplained"


def _merged_faithfully(live, doc, domain: str, op: str) -> bool:
    """Whether the live registry has several kernels for one version range of ``op``, and the
    document's row for that range holds exactly the union of their types per parameter (so the
    parser read the row right, and the difference is the document's format)."""
    by_range: dict[tuple[int, int], list] = {}
    for k in live.kernels.get((domain, op), []):
        by_range.setdefault((k.since, k.until), []).append(k)
    rows = {(k.since, k.until): k for k in doc.kernels.get((domain, op), [])}
    merged = False
    for span, kernels in by_range.items():
        union: dict[str, set[str]] = {}
        for k in kernels:
            for name, allowed in k.constraints:
                union.setdefault(name, set()).update(allowed)
        row = rows.get(span)
        if row is None or {n: set(a) for n, a in row.constraints} != union:
            return False
        merged |= len(kernels) > 1
    return merged


def compare(emit, folder: str, start: int, release: str) -> int:
    """Child job: judge the models ``folder``/``<i>.onnx`` from ``start`` on with both tables;
    one part per model: ``[index, differences]``, each difference ``[path, node, live, doc,
    why]`` (None: the loader refused the model)."""
    from inspector.core.checks.runtime_registry import load_registry
    from inspector.core.checks.runtime_support import check_registry
    from inspector.core.graph import open_model
    from inspector.core.providers.tables import doc_registry

    live = load_registry("CPUExecutionProvider")
    doc = doc_registry("CPUExecutionProvider", release)
    count = len(list(Path(folder).glob("*.onnx")))
    for i in range(start, count):
        try:
            model = open_model(Path(folder) / f"{i}.onnx")
        except Exception:  # an unreadable corpus model is the loader's business
            emit.part([i, None])
            emit.progress((i + 1) / count, "")
            continue
        a = _signature(check_registry(model, live))
        b = _signature(check_registry(model, doc))
        diffs = [
            [list(k[0]), k[1], a.get(k), b.get(k), _explain(model, k, live, doc)]
            for k in sorted(set(a) | set(b), key=str)
            if a.get(k) != b.get(k)
        ]
        emit.part([i, diffs])
        # Parts are not flushed; progress is: a part must be out before the next model can
        # abort the child, or the parent would blame the wrong model.
        emit.progress((i + 1) / count, "")
    return count


def _sample() -> list:
    from tests.core import runtime_corpus

    return runtime_corpus.sample(runtime_corpus.build_corpus(), 150)


@dataclass
class Agreement:
    part: str
    models: int = 0
    agree: int = 0
    unreadable: int = 0
    crashed: list[str] = field(default_factory=list)
    differences: list[tuple[str, list]] = field(default_factory=list)  # (case id, diffs)

    @property
    def ratio(self) -> float:
        judged = self.agree + len(self.differences)
        return self.agree / judged if judged else 1.0

    def unexplained(self) -> list[str]:
        return [
            f"{cid}: {d}" for cid, diffs in self.differences for d in diffs if d[4] == "unexplained"
        ]

    def text(self) -> str:
        judged = self.agree + len(self.differences)
        lines = [
            f"{self.part}: {self.agree}/{judged} models agree ({100 * self.ratio:.2f}%), "
            f"{self.unreadable} unreadable, {len(self.crashed)} crashed shape inference"
        ]
        why: dict[str, int] = {}
        for _, diffs in self.differences:
            for d in diffs:
                why[d[4]] = why.get(d[4], 0) + 1
        lines += [f"  {n:5d} nodes: {reason}" for reason, n in sorted(why.items())]
        lines += [f"  differs: {cid}: {diffs}" for cid, diffs in self.differences]
        lines += [f"  crashed: {cid}" for cid in self.crashed]
        return "\n".join(lines)


def sweep(part: str, release: str = "1.32") -> Agreement:
    """Every model of ``part`` (a ``build_corpus`` part, or "sample"), judged in children; a
    model that kills its child is set aside and the sweep goes on from the next. The corpus is
    built once, here, and handed to the children as files."""
    import onnx

    from tests.core.runtime_corpus import build_corpus

    result = Agreement(part)
    cases = build_corpus(part) if part != "sample" else _sample()
    with tempfile.TemporaryDirectory() as folder:
        for i, case in enumerate(cases):
            onnx.save(case.model, Path(folder) / f"{i}.onnx")
        start = 0
        while True:
            job = ChildJob(
                "tests.core.provider_agreement:compare",
                {"folder": folder, "start": start, "release": release},
                CHILD_TIMEOUT_S,
                "the table agreement sweep",
            )
            outcome = run_job(job)
            last = start - 1
            for i, diffs in outcome.parts:
                last = i
                result.models += 1
                if diffs is None:
                    result.unreadable += 1
                elif diffs:
                    result.differences.append((cases[i].id, diffs))
                else:
                    result.agree += 1
            if outcome.failure is None:
                return result
            if outcome.failure.reason != "crashed":
                raise RuntimeError(outcome.failure.message)
            result.crashed.append(f"{cases[last + 1].id}: {outcome.failure.said[:120]}")
            start = last + 2
