"""Numeric diff: run two models on the same inputs and compare what they compute.

:func:`compare_outputs` (blocking) and :func:`compare_call` (the child job, for the window's event
loop) run both models in ONE child process (:mod:`inspector.core.diff.numeric_child`), through the
inference runner's own job, so a crash, a hang or a cancel costs only the child. Both models get
the same values: the runner's random feeds (:func:`~inspector.core.inference.inputs.build_feeds`,
which respect what each input feeds) or loaded ones
(:func:`~inspector.core.inference.inputs.load_feeds`), read against model A and given to model B
under its own input names, each cast to B's declared dtype, so a float16 copy of a float32 model
is fed the same values in float16. Every comparison is made in float64.

Outputs are paired by name, then the rest by position. Each pair gives a :class:`TensorGap`
(numpy.allclose semantics with A as the reference: ``|b - a| <= atol + rtol * |a|``, NaN
equal to NaN) and, when it is
beyond tolerance, a ``diff-output-mismatch`` finding on the node producing the output in A (and
the node producing it in B as ``other_node_index``).

With ``intermediates``, both runs capture every node output of the main graph, and
:func:`first_divergence` walks A's nodes in order over the node and tensor pairs of the
structural diff (:func:`~inspector.core.diff.diff_models`): the first matched node with an output
beyond tolerance of its twin is where the models part (``diff-first-divergence``). Captured runs
may be fused differently from the plain models (each captured tensor is a graph output), so
their outputs are compared as captured.

Known limitations: only main-graph tensors are captured (a divergence inside a Loop or If body
is named at the Loop or If node); only tensor outputs are compared (a sequence or map output is
paired but its values are not); outputs whose dtypes are not both numbers or both strings, or
whose shapes differ, are never within tolerance (their gap is ``inf``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np

from inspector.core.child import ChildCall, ChildJob, Outcome, call_child
from inspector.core.diff.structural import ModelDiff, diff_models
from inspector.core.feeds import cast_feed
from inspector.core.findings import Finding, Severity, has_errors
from inspector.core.graph import Model, open_model
from inspector.core.inference.inputs import build_feeds, input_specs, load_feeds
from inspector.core.inference.protocol import RunOptions
from inspector.core.inference.runner import (
    DEFAULT_ATOL,
    DEFAULT_RTOL,
    RunResult,
    TensorResult,
    run_call,
)
from inspector.core.tasks import CancelToken, ProgressFn, no_progress

JOB_TARGET = "inspector.core.diff.numeric_child:run_both"
LABELS = ("A", "B")

Feeds = Mapping[str, np.ndarray]
Inputs = Feeds | str | os.PathLike[str] | None


@dataclass(frozen=True)
class TensorGap:
    """How far one tensor of model B is from its counterpart in model A.

    Example: ``TensorGap("logits", "logits", 0.31, 2.4, False, "dtype float32 vs float16")``.
    """

    a_name: str
    b_name: str
    max_abs: float  # largest |a - b|; NaN against NaN counts 0, NaN against a number inf
    max_rel: float  # largest |a - b| / |a|; inf where shapes or dtypes cannot be compared
    ok: bool  # within rtol/atol (numpy.allclose semantics, NaN equal to NaN)
    note: str = ""  # "shape (1, 10) vs (1, 12)", "dtype float16 vs float32", ...

    def to_dict(self) -> dict[str, Any]:
        return {
            "a_name": self.a_name,
            "b_name": self.b_name,
            "max_abs": _json_float(self.max_abs),
            "max_rel": _json_float(self.max_rel),
            "ok": self.ok,
            "note": self.note,
        }


@dataclass(frozen=True)
class NumericDiff:
    """Two models run on the same inputs: every paired output's gap, the first node where they
    part (with intermediates captured) and the findings (``diff-output-mismatch``,
    ``diff-first-divergence``, and each run's own findings, their message starting with the
    model's letter)."""

    outputs: tuple[TensorGap, ...]
    first_divergence: tuple[int, int] | None  # (node index in A, node index in B)
    findings: tuple[Finding, ...]
    rtol: float
    atol: float

    @property
    def same(self) -> bool:
        """Both runs finished and every output is within tolerance."""
        return all(g.ok for g in self.outputs) and not has_errors(list(self.findings))

    def to_dict(self) -> dict[str, Any]:
        return {
            "same": self.same,
            "rtol": self.rtol,
            "atol": self.atol,
            "outputs": [g.to_dict() for g in self.outputs],
            "first_divergence": list(self.first_divergence) if self.first_divergence else None,
            "findings": [f.to_dict() for f in self.findings],
        }


def _json_float(x: float) -> float | str:
    """JSON has no inf or NaN: those go out as strings."""
    return x if math.isfinite(x) else str(x)


# ------------------------------------------------------------------------------------- gaps


def tensor_gap(
    a_name: str,
    b_name: str,
    a: np.ndarray | None,
    b: np.ndarray | None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> TensorGap:
    """The gap between ``a`` and ``b`` (None: a value that is not a tensor)."""
    inf = math.inf
    if a is None or b is None:
        if a is None and b is None:
            return TensorGap(a_name, b_name, 0.0, 0.0, True, "not tensors: values not compared")
        return TensorGap(a_name, b_name, inf, inf, False, "a tensor vs not a tensor")
    a, b = np.asarray(a), np.asarray(b)
    notes = [f"dtype {a.dtype} vs {b.dtype}"] if a.dtype != b.dtype else []
    if a.shape != b.shape:
        notes.insert(0, f"shape {a.shape} vs {b.shape}")
        return TensorGap(a_name, b_name, inf, inf, False, ", ".join(notes))
    text_a, text_b = a.dtype.kind in "OUS", b.dtype.kind in "OUS"
    if text_a or text_b:
        same = text_a and text_b and bool(np.array_equal(a.astype(str), b.astype(str)))
        gap = 0.0 if same else inf
        return TensorGap(a_name, b_name, gap, gap, same, ", ".join(notes))
    if a.dtype.kind not in "biuf" or b.dtype.kind not in "biuf":  # complex, ml_dtypes' types
        return TensorGap(a_name, b_name, inf, inf, False, ", ".join(notes) or "not comparable")
    x, y = a.astype(np.float64), b.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        equal = (x == y) | (np.isnan(x) & np.isnan(y))  # inf against the same inf is no gap
        diff = np.where(equal, 0.0, np.abs(x - y))
        diff = np.where(np.isnan(diff), inf, diff)  # NaN against a number: the widest gap
        rel = np.where(diff == 0.0, 0.0, diff / np.maximum(np.abs(x), np.finfo(np.float64).tiny))
    max_abs = float(diff.max()) if diff.size else 0.0
    max_rel = float(rel.max()) if rel.size else 0.0
    ok = bool(np.allclose(y, x, rtol=rtol, atol=atol, equal_nan=True))
    return TensorGap(a_name, b_name, max_abs, max_rel, ok, ", ".join(notes))


def describe_gap(gap: TensorGap) -> str:
    """``max abs 0.31, max rel 2.4 (dtype float32 vs float16)`` for a message."""
    text = f"max abs {gap.max_abs:.3g}, max rel {gap.max_rel:.3g}"
    return f"{text} ({gap.note})" if gap.note else text


# ------------------------------------------------------------------------------------ feeds


def _paired_names(a: list[str], b: list[str]) -> list[tuple[str, str]]:
    """(A name, B name): same names first, then the rest in order (a renamed input or output)."""
    common = set(a) & set(b)
    rest_a = [n for n in a if n not in common]
    rest_b = [n for n in b if n not in common]
    return [(n, n) for n in a if n in common] + list(zip(rest_a, rest_b, strict=False))


def comparison_feeds(
    a: Model, b: Model, inputs: Inputs = None, seed: int = 0
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(feeds of A, feeds of B): ``inputs`` (arrays by A's input names, or a file or folder as
    ``run --inputs`` takes, read against A), random values (``seed``) for A's other inputs, and
    the same values for B under its own names, cast to B's declared dtypes. Raises
    :class:`~inspector.core.inference.inputs.FeedError` for an unreadable inputs file, or an input
    random values cannot be drawn for (a sequence, or one too big)."""
    if inputs is None:
        given: dict[str, np.ndarray] = {}
    elif isinstance(inputs, Mapping):
        given = dict(inputs)
    else:
        given = load_feeds(a, inputs).feeds
    feeds_a = build_feeds(input_specs(a), seed, given=given)
    given_b = {}
    for name_a, name_b in _paired_names(a.graph.inputs, b.graph.inputs):
        try:
            given_b[name_b] = cast_feed(b, name_b, feeds_a[name_a])
        except (KeyError, ValueError):  # no declared type, or bfloat16: the checks say so
            given_b[name_b] = feeds_a[name_a]
    return feeds_a, build_feeds(input_specs(b), seed, given=given_b)


# ---------------------------------------------------------------------------------- running


def compare_outputs(
    path_a: str | os.PathLike[str],
    path_b: str | os.PathLike[str],
    *,
    inputs: Inputs = None,
    seed: int = 0,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    intermediates: bool = False,
    cancel: CancelToken | None = None,
    progress: ProgressFn = no_progress,
    timeout: float = 600.0,
    models: tuple[Model, Model] | None = None,
    structure: ModelDiff | None = None,
) -> NumericDiff:
    """Run both models on the same inputs in one child process and compare them (see the
    module's docstring; ``models`` and ``structure`` as :func:`compare_call` takes them).
    Raises ``ModelLoadError`` for a model that cannot be read, ``FeedError`` for an unreadable
    ``inputs`` file, and ``Cancelled`` (after killing the child) when ``cancel`` is set; a crash
    or a timeout is a finding."""
    call = compare_call(
        path_a,
        path_b,
        inputs=inputs,
        seed=seed,
        rtol=rtol,
        atol=atol,
        intermediates=intermediates,
        timeout=timeout,
        models=models,
        structure=structure,
    )
    return call_child(call, progress, cancel)


def compare_many(
    pairs: Sequence[tuple[str | os.PathLike[str], str | os.PathLike[str]]],
    *,
    inputs: Inputs = None,
    seed: int = 0,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    intermediates: bool = False,
    cancel: CancelToken | None = None,
    progress: ProgressFn = no_progress,
    timeout: float = 600.0,
) -> list[NumericDiff]:
    """:func:`compare_outputs` for each (A, B) of ``pairs`` (the same arguments for each), all
    in one child process: the child's start and its onnx and onnxruntime imports are paid once, not per pair.
    ``timeout`` is per pair. A crash ends the child: the pair it crashed in is reported as
    crashed and the pairs after it run in a new child."""
    results: list[NumericDiff | None] = [None] * len(pairs)
    while (pending := [i for i, r in enumerate(results) if r is None]) != []:
        prepared: list[_Pair] = []
        try:
            for i in pending:
                prepared.append(
                    _Pair(*pairs[i], inputs, seed, rtol, atol, intermediates, timeout, None, None)
                )
        except BaseException:  # a model that cannot be read: the feeds written so far go
            for pair in prepared:
                pair.discard()
            raise
        done = call_child(_batch_call(prepared, timeout), progress, cancel)
        for i, diff in zip(pending, done, strict=True):
            results[i] = diff
    return [r for r in results if r is not None]


def compare_call(
    path_a: str | os.PathLike[str],
    path_b: str | os.PathLike[str],
    *,
    inputs: Inputs = None,
    seed: int = 0,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    intermediates: bool = False,
    timeout: float = 600.0,
    models: tuple[Model, Model] | None = None,
    structure: ModelDiff | None = None,
) -> ChildCall[NumericDiff]:
    """The child job of :func:`compare_outputs` (same arguments; ``models``: both already opened
    graph models; ``structure``: their :func:`~inspector.core.diff.diff_models`, whose node and
    tensor pairs the first divergence walks, made when it finishes if not given), its feeds
    written, not yet started; ``timeout`` covers both runs."""
    pair = _Pair(
        path_a, path_b, inputs, seed, rtol, atol, intermediates, timeout, models, structure
    )
    # The first run of the only pair is always reached (run, crashed in, or not needed).
    return _batch_call([pair], timeout).then(lambda diffs: cast(NumericDiff, diffs[0]))


class _Pair:
    """One comparison: both models opened, their feeds written, their runs' calls made."""

    def __init__(
        self,
        path_a: str | os.PathLike[str],
        path_b: str | os.PathLike[str],
        inputs: Inputs,
        seed: int,
        rtol: float,
        atol: float,
        intermediates: bool,
        timeout: float,
        models: tuple[Model, Model] | None,
        structure: ModelDiff | None,
    ) -> None:
        self.a, self.b = models or (
            open_model(path_a, infer=False),
            open_model(path_b, infer=False),
        )
        self.rtol, self.atol, self.intermediates, self.structure = (
            rtol,
            atol,
            intermediates,
            structure,
        )
        feeds_a, feeds_b = comparison_feeds(self.a, self.b, inputs, seed)
        options = RunOptions(warmup=0, repeat=1, capture=["*"] if intermediates else None)
        self.calls = [
            run_call(path, feeds, options, timeout, model=model)
            for path, feeds, model in ((path_a, feeds_a, self.a), (path_b, feeds_b, self.b))
        ]

    def discard(self) -> None:
        for call in self.calls:
            call.discard()

    def diff(self, results: list[RunResult | None]) -> NumericDiff:
        """The comparison of this pair's run results (closed here)."""
        try:
            pairs = None
            if self.intermediates:
                matched = self.structure or diff_models(self.a, self.b)
                pairs = (dict(matched.pairs), dict(matched.tensor_pairs))
            return _diff(self.a, self.b, *results, self.rtol, self.atol, pairs)
        finally:
            for r in results:
                if r is not None:
                    r.close()


def _batch_call(pairs: list[_Pair], timeout: float) -> ChildCall[list[NumericDiff | None]]:
    """One child job running every pair's runs in turn; a pair the child never reached (it
    crashed in an earlier one) is None."""
    calls = [call for pair in pairs for call in pair.calls]
    labels = [
        label if len(pairs) == 1 else f"{label} of pair {i + 1}/{len(pairs)}"
        for i in range(len(pairs))
        for label in LABELS
    ]
    runs = [(dict(c.job.args), label) for c, label in zip(calls, labels, strict=True) if c.job]
    args = {"runs": [r for r, _ in runs], "labels": [label for _, label in runs]}
    what = "the comparison run" if len(pairs) == 1 else "the comparison runs"
    job = ChildJob(JOB_TARGET, args, timeout * len(pairs), what) if runs else None

    def discard() -> None:
        for call in calls:
            call.discard()

    def finish(outcome: Outcome) -> list[NumericDiff | None]:
        results: list[RunResult | None] = []
        ran = 0
        for call in calls:
            if call.job is None:  # feeds that do not fit: no child was needed to say so
                results.append(call.finish(Outcome()))
            elif ran < len(outcome.parts):
                results.append(call.finish(Outcome(value=outcome.parts[ran], log=outcome.log)))
                ran += 1
            elif outcome.failure is not None and ran == len(outcome.parts):
                results.append(call.finish(Outcome(failure=outcome.failure, log=outcome.log)))
                ran += 1  # the run the child died in; the later ones never started
            else:
                call.discard()
                results.append(None)
        diffs: list[NumericDiff | None] = []
        for i, pair in enumerate(pairs):
            mine = results[2 * i : 2 * i + 2]
            diffs.append(None if mine[0] is None and mine[1] is None else pair.diff(mine))
        return diffs

    return ChildCall(job, finish, discard)


# ------------------------------------------------------------------------------- the result


def _side_findings(result: RunResult, label: str) -> list[Finding]:
    """One run's findings, for the diff: the message names the model; model B's node index
    moves to ``other_node_index`` (``node_index`` is always model A's)."""
    out = []
    for f in result.findings:
        moved = {"node_index": None, "other_node_index": f.node_index} if label == "B" else {}
        out.append(replace(f, message=f"model {label}: {f.message}", **moved))
    return out


def _output_findings(
    a: Model, b: Model, gaps: list[TensorGap], rtol: float, atol: float
) -> list[Finding]:
    findings = []
    for gap in gaps:
        if gap.ok:
            continue
        va, vb = a.graph.values.get(gap.a_name), b.graph.values.get(gap.b_name)
        node = a.graph.nodes[va.producer] if va is not None and va.producer is not None else None
        other = vb.producer if vb is not None else None
        names = gap.a_name if gap.a_name == gap.b_name else f"{gap.a_name}' / '{gap.b_name}"
        findings.append(
            Finding(
                Severity.ERROR,
                "diff-output-mismatch",
                f"output '{names}' differs between the models: {describe_gap(gap)} "
                f"(rtol {rtol:g}, atol {atol:g})",
                "with intermediates captured, diff-first-divergence names the node where they "
                "part; raise the tolerance if the difference is expected (float16)",
                node=node.name if node else "",
                node_index=node.index if node else None,
                op_type=node.op_type if node else "",
                tensor=gap.a_name,
                other_node_index=other,
            )
        )
    return findings


def _unpaired_findings(a: Model, b: Model) -> list[Finding]:
    pairs = _paired_names(a.graph.outputs, b.graph.outputs)
    only_a = [n for n in a.graph.outputs if n not in {x for x, _ in pairs}]
    only_b = [n for n in b.graph.outputs if n not in {y for _, y in pairs}]
    return [
        Finding(
            Severity.ERROR,
            "diff-output-mismatch",
            f"output '{name}' of model {side} has no counterpart in the other model",
            "compare models with the same outputs, or read the structural diff",
            tensor=name if side == "A" else None,
        )
        for side, names in (("A", only_a), ("B", only_b))
        for name in names
    ]


def first_divergence(
    a: Model,
    node_pairs: Mapping[int, int],
    tensor_pairs: Mapping[str, str],
    values_a: Mapping[str, TensorResult],
    values_b: Mapping[str, TensorResult],
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> tuple[int, int, TensorGap, bool] | None:
    """Where two runs part: (node index in A, in B, the gap of its first diverging output,
    whether its computed inputs agree) for the first node of A, in node order (topological in a
    valid model), that is matched in B (``node_pairs``) and has an output whose twin
    (``tensor_pairs``) in ``values_b`` is beyond tolerance; None if there is none.

    Walking in topological order, that node's computed inputs come from earlier nodes that agree,
    so they agree too, unless they come from a node that is not matched or not captured: then
    the divergence began there, and the flag says so. Initializers and graph inputs are not
    compared (the same values were fed; a changed initializer is the structural diff's)."""
    gaps: dict[str, TensorGap | None] = {}

    def gap(name: str) -> TensorGap | None:
        if name not in gaps:
            twin = tensor_pairs.get(name)
            ta, tb = values_a.get(name), values_b.get(twin) if twin else None
            gaps[name] = (
                None if ta is None or tb is None else
                tensor_gap(name, tb.name, ta.array(), tb.array(), rtol, atol)
            )  # fmt: skip
        return gaps[name]

    for node in a.graph.nodes:
        other = node_pairs.get(node.index)
        if other is None:
            continue
        bad = [g for o in node.outputs if o and (g := gap(o)) is not None and not g.ok]
        if bad:
            inputs_agree = all(g.ok for i in node.inputs if i and (g := gap(i)) is not None)
            return node.index, other, bad[0], inputs_agree
    return None


def _divergence_finding(
    a: Model, where: tuple[int, int, TensorGap, bool], outputs_same: bool
) -> Finding:
    index, other, gap, inputs_agree = where
    node = a.graph.nodes[index]
    since = (
        "while its inputs agree"
        if inputs_agree
        else "with an input already differing, from a node not matched or not captured"
    )
    then = "; the outputs still agree within tolerance" if outputs_same else ""
    return Finding(
        Severity.INFO if outputs_same else Severity.WARNING,
        "diff-first-divergence",
        f"node '{node.label}' ({node.op_type}) is the first where the models part: its output "
        f"'{gap.a_name}' differs from '{gap.b_name}' by {describe_gap(gap)} {since}{then}",
        "compare this node's attributes, constant inputs and op version in the structural diff",
        node=node.name,
        node_index=index,
        op_type=node.op_type,
        tensor=gap.a_name,
        other_node_index=other,
    )


def _diff(
    a: Model,
    b: Model,
    run_a: RunResult | None,
    run_b: RunResult | None,
    rtol: float,
    atol: float,
    pairs: tuple[Mapping[int, int], Mapping[str, str]] | None,
) -> NumericDiff:
    findings: list[Finding] = []
    for run, label in ((run_a, "A"), (run_b, "B")):
        if run is not None:
            findings += _side_findings(run, label)
    if run_a is None or run_b is None or run_a.status != "ok" or run_b.status != "ok":
        return NumericDiff((), None, tuple(findings), rtol, atol)
    values_a = {t.name: t for t in run_a.outputs}
    values_b = {t.name: t for t in run_b.outputs}
    gaps = [
        tensor_gap(na, nb, values_a[na].array(), values_b[nb].array(), rtol, atol)
        for na, nb in _paired_names(list(values_a), list(values_b))
    ]
    findings = _output_findings(a, b, gaps, rtol, atol) + _unpaired_findings(a, b) + findings
    where = None
    if pairs is not None:
        captured_a = {t.name: t for t in run_a.intermediates + run_a.outputs}
        captured_b = {t.name: t for t in run_b.intermediates + run_b.outputs}
        where = first_divergence(a, *pairs, captured_a, captured_b, rtol, atol)
        if where is not None:
            same = all(g.ok for g in gaps)
            findings.insert(0, _divergence_finding(a, where, same))
    first = (where[0], where[1]) if where is not None else None
    return NumericDiff(tuple(gaps), first, tuple(findings), rtol, atol)
