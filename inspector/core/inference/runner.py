"""Run a model through ONNX Runtime in a child process: :func:`run_model` → :class:`RunResult`.

The parent never imports onnxruntime. It checks the feeds against the declared inputs, writes
them into a private temporary folder and runs the job of :mod:`inspector.core.inference.child`
through :mod:`inspector.core.child` (:func:`run_call` is that job, for the window's event loop),
which relays its progress and kills it on cancel (raising
:class:`~inspector.core.tasks.Cancelled`) or on timeout. Everything that comes back is mapped onto the graph model: runtime errors onto the node
ONNX Runtime names, the first NaN/Inf onto the node that produced it, profile events onto the
original nodes (:mod:`inspector.core.inference.profile`).

Outputs are memory-mapped from the child's ``.npy`` files, and their statistics were computed in
the child, so a result is in the caller's hands as soon as the child exits, whatever its size.
The folder lives as long as the :class:`RunResult` (or until :meth:`RunResult.close`).

Known limitations: only main-graph tensors can be captured and located; a crash is reported with
faulthandler's Python stack from the child's stderr, which names no native frame.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import traceback
import weakref
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inspector.core.child import ChildCall, ChildJob, Outcome, call_child
from inspector.core.feeds import check_feeds
from inspector.core.findings import Finding, Severity, has_errors
from inspector.core.graph import Model, open_model
from inspector.core.inference import protocol
from inspector.core.inference.profile import Profile, map_profile
from inspector.core.inference.protocol import RunOptions
from inspector.core.tasks import CancelToken, ProgressFn, no_progress

DEFAULT_RTOL = 1e-3
DEFAULT_ATOL = 1e-5
_PY_TRACEBACK = "Traceback (most recent call last)"


@dataclass
class TensorResult:
    """One output (or captured tensor): its statistics, and its values on demand."""

    name: str
    kind: str  # "tensor", or "sequence" / "map" / "none" for values that are not tensors
    stats: dict[str, Any] | None  # dtype, shape, min, max, mean, std, nan, inf, first_values
    file: str | None  # in the run's folder; None for non-tensors
    _workdir: Path = field(repr=False, default=Path())

    def array(self) -> np.ndarray | None:
        """The values, memory-mapped read-only (None for a non-tensor value)."""
        if self.file is None:
            return None
        return protocol.load_tensor(self._workdir, self.file)

    def to_dict(self) -> dict[str, Any]:
        keys = ("dtype", "shape", "min", "max", "mean", "std", "nan", "inf")
        stats = self.stats or {}
        return {"name": self.name, "kind": self.kind, **{k: stats.get(k) for k in keys}}


@dataclass(frozen=True)
class Comparison:
    """One output against its expected value."""

    name: str
    ok: bool
    max_abs: float | None  # None when the shapes differ or the values are not numbers
    max_rel: float | None
    message: str = ""  # why it failed, when it did

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ok": self.ok,
            "max_abs": self.max_abs,
            "max_rel": self.max_rel,
            "message": self.message,
        }


@dataclass
class Match:
    """The comparison with expected outputs: ``ok`` when every output is allclose."""

    ok: bool
    rtol: float
    atol: float
    outputs: list[Comparison]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rtol": self.rtol,
            "atol": self.atol,
            "outputs": [c.to_dict() for c in self.outputs],
        }


@dataclass
class RunResult:
    """What a run gave. ``status``: "ok", "invalid-feeds", "session-failed", "run-failed",
    "crashed", "timed-out" or "inspector-error" (the Inspector's own code failed around the run:
    ``error`` holds its traceback, and whatever outputs were done are kept); the failures also
    appear in ``findings`` (same Finding contract)."""

    status: str
    findings: list[Finding]
    outputs: list[TensorResult] = field(default_factory=list)
    intermediates: list[TensorResult] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    match: Match | None = None
    profile: Profile | None = None
    first_nonfinite: tuple[int, str] | None = None  # (node index, tensor) of the first NaN/Inf
    error: str = ""  # ONNX Runtime's raw message, the crash's stderr tail, or our traceback
    providers: list[str] = field(default_factory=list)
    workdir: Path | None = None
    _finalizer: Any = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """The run finished, no error finding, and the outputs match where expected exist."""
        return self.status == "ok" and not has_errors(self.findings)

    @property
    def latency_ms(self) -> dict[str, float] | None:
        """{mean, median, p90, min} over the timed runs; None if there were none."""
        if not self.latencies_ms:
            return None
        a = np.asarray(self.latencies_ms)
        return {
            "mean": float(a.mean()),
            "median": float(np.median(a)),
            "p90": float(np.percentile(a, 90)),
            "min": float(a.min()),
        }

    def arrays(self) -> dict[str, np.ndarray]:
        """Output name → values (memory-mapped) for every tensor output."""
        return {o.name: a for o in self.outputs if (a := o.array()) is not None}

    def save_outputs(self, path: str | os.PathLike[str]) -> None:
        """Write the tensor outputs to an ``.npz`` (by output name)."""
        with open(path, "wb") as f:
            np.savez(f, **self.arrays())

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "outputs": [o.to_dict() for o in self.outputs],
            "latency_ms": self.latency_ms,
            "match": self.match.to_dict() if self.match else None,
            "findings": [f.to_dict() for f in self.findings],
            "error": self.error,
        }

    def close(self) -> None:
        """Delete the run's folder now (it is also deleted when the result is collected).
        Arrays already taken from :meth:`arrays` stay valid on Linux and macOS."""
        if self._finalizer is not None:
            self._finalizer()


def run_model(
    path: str | os.PathLike[str],
    feeds: Mapping[str, np.ndarray],
    options: RunOptions | None = None,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    timeout: float = 600.0,
    expected: Mapping[str, np.ndarray] | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    model: Model | None = None,
) -> RunResult:
    """Run the model at ``path`` on ``feeds`` in a child process.

    ``model`` is the already opened graph model of ``path`` (opened here if not given; raises
    ``ModelLoadError`` if it cannot be). Feeds that disagree with the declared inputs are not run:
    the result has status "invalid-feeds" and the findings. Raises ``Cancelled`` after killing the
    child when ``cancel`` is set; a timeout gives status "timed-out".
    """
    call = run_call(path, feeds, options, timeout, expected, rtol, atol, model)
    return call_child(call, progress, cancel)


def run_call(
    path: str | os.PathLike[str],
    feeds: Mapping[str, np.ndarray],
    options: RunOptions | None = None,
    timeout: float = 600.0,
    expected: Mapping[str, np.ndarray] | None = None,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    model: Model | None = None,
) -> ChildCall[RunResult]:
    """The child job of :func:`run_model` (same arguments), its feeds written, not yet started."""
    options = options or RunOptions()
    model = model or open_model(path, infer=False)
    findings = check_feeds(model, feeds)
    if has_errors(findings):
        return ChildCall(None, lambda _outcome: RunResult("invalid-feeds", findings))
    workdir = Path(tempfile.mkdtemp(prefix="onnx-inspector-run-"))
    try:
        protocol.write_feeds(workdir, dict(feeds))
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    args = {"model": str(Path(path).resolve()), "options": asdict(options), "workdir": str(workdir)}
    job = ChildJob("inspector.core.inference.child:run", args, timeout, "the run")

    def finish(outcome: Outcome) -> RunResult:
        try:
            result = _result(model, outcome, workdir, expected, rtol, atol)
        except BaseException:
            shutil.rmtree(workdir, ignore_errors=True)
            raise
        if result.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
        else:  # the outputs live in the folder: it goes when the result is closed or collected
            result._finalizer = weakref.finalize(result, shutil.rmtree, workdir, ignore_errors=True)
        return result

    return ChildCall(job, finish, lambda: shutil.rmtree(workdir, ignore_errors=True))


def _result(
    model: Model,
    outcome: Outcome,
    workdir: Path,
    expected: Mapping[str, np.ndarray] | None,
    rtol: float,
    atol: float,
) -> RunResult:
    failure = outcome.failure
    if failure is None:
        try:
            return _build_result(model, outcome.value, workdir, expected, rtol, atol)
        except Exception:  # our mapping of a good result failed: ours, not ONNX Runtime's
            details = traceback.format_exc()
            return RunResult(
                "inspector-error",
                [inspector_error_finding("reading the run's result", details)],
                error=details,
            )
    if failure.reason == "timed-out":
        return RunResult(
            "timed-out",
            [
                Finding(
                    Severity.ERROR,
                    "timed-out",
                    f"the run took longer than {failure.timeout:g} s and was stopped",
                    "raise the timeout, or look for a Loop whose trip count comes from an input",
                )
            ],
        )
    exited = failure.returncode is not None and failure.returncode > 0
    if failure.reason == "raised" or (exited and _PY_TRACEBACK in failure.details):
        # A Python exception escaped the child: its code, not ONNX Runtime's, failed.
        return RunResult(
            "inspector-error", [inspector_error_finding("", failure.details)], error=failure.details
        )
    said = f": {failure.said}" if failure.said else ""
    crash = Finding(
        Severity.ERROR,
        "crashed",
        f"ONNX Runtime crashed ({failure.how}){said}",
        "the window is safe; try another provider or graph optimization level, and report "
        "the model to ONNX Runtime",
    )
    return RunResult("crashed", [crash], error=failure.details)


def inspector_error_finding(stage: str, details: str) -> Finding:
    """The finding for an exception raised by the Inspector's own code around a run (never
    ONNX Runtime's): the last line of the traceback, and where it happened."""
    lines = [ln.strip() for ln in details.splitlines() if ln.strip()]
    last = lines[-1] if lines else "an unknown error"
    while_ = f" while {stage}" if stage else ""
    return Finding(
        Severity.ERROR,
        "inspector-error",
        f"ONNX Inspector failed{while_}: {last}",
        "this is a bug in ONNX Inspector, not in ONNX Runtime or the model; please report it "
        "to ONNX Inspector with the details (the traceback)",
    )


def _tensors(entries: list[dict[str, Any]], workdir: Path) -> list[TensorResult]:
    return [TensorResult(e["name"], e["kind"], e["stats"], e["file"], workdir) for e in entries]


def _build_result(
    model: Model,
    data: dict[str, Any],
    workdir: Path,
    expected: Mapping[str, np.ndarray] | None,
    rtol: float,
    atol: float,
) -> RunResult:
    status = data["status"]
    result = RunResult(
        status,
        [],
        outputs=_tensors(data["outputs"], workdir),
        intermediates=_tensors(data["intermediates"], workdir),
        latencies_ms=data["latencies_ms"],
        error=data["error"],
        providers=data["providers"],
        workdir=workdir,
    )
    if status == "inspector-error":
        result.findings.append(inspector_error_finding(data["stage"], data["error"]))
        return result
    if status != "ok":
        result.findings.append(error_finding(model, status, data["error"], data["unoptimized"]))
        return result
    if expected:
        result.match = compare(result.arrays(), expected, rtol, atol)
        result.findings += [
            Finding(
                Severity.ERROR,
                "output-mismatch",
                f"output '{c.name}' differs from the expected values: {c.message}",
                "compare the exporter's and ONNX Runtime's numerics, or raise the tolerance",
                tensor=c.name,
            )
            for c in result.match.outputs
            if not c.ok
        ]
    result.findings += _nonfinite_findings(model, result)
    if data["profile"]:
        result.profile = map_profile(model.graph, data["profile"], data["assignment"])
    return result


# --------------------------------------------------------------------------- error mapping

_NODE_NAME_PATTERNS = (
    re.compile(r"node\. Name:'([^']*)'"),  # a run: "... running Gather node. Name:'/emb/Gather'"
    re.compile(r"node with name '([^']*)'"),  # NOT_IMPLEMENTED at session creation
    re.compile(r"Node \(([^)]*)\)"),  # shape inference during session creation
)
_OP_PATTERNS = (
    re.compile(r"running (\w+) node"),
    re.compile(r"implementation for (\w+)\("),
    re.compile(r"Op \((\w+)\)"),
)


# Names ONNX Runtime's optimizer gives the nodes it creates (measured on 1.32): the NCHWc layout
# names a node after its first output ("c1_nchwc"); MatMul+Add fusion appends to the MatMul's
# name ("mm/MatMulAddFusion"); a clash adds "_token_<n>".
_CLASH_SUFFIX = re.compile(r"_token_\d+$")
_OPTIMIZED_SUFFIXES = (
    (re.compile(r"^(.+)_nchwc$"), "output"),
    (re.compile(r"^(.+)/\w*Fusion$"), "node"),
)


def _named_node(model: Model, raw: str) -> tuple[str, int | None]:
    """(the node name ONNX Runtime's message gives, its index among the original nodes)."""
    name = next((m.group(1) for p in _NODE_NAME_PATTERNS if (m := p.search(raw))), "")
    index = next((n.index for n in model.graph.nodes if name and n.name == name), None)
    return name, index


def _optimized_origin(model: Model, name: str) -> int | None:
    """The original node an optimizer-made node name comes from, where the name tells."""
    g = model.graph
    base = _CLASH_SUFFIX.sub("", name)
    for pattern, kind in _OPTIMIZED_SUFFIXES:
        if not (m := pattern.match(base)):
            continue
        stem = m.group(1)
        if kind == "output" and (v := g.values.get(stem)) is not None and v.producer is not None:
            return v.producer
        return next((n.index for n in g.nodes if n.name == stem), None)
    return None


def error_finding(
    model: Model, status: str, raw: str, unoptimized: Mapping[str, str] | None = None
) -> Finding:
    """The finding for a failed session or run, on the original node that failed.

    The node is found, in order: by the name ONNX Runtime gives, when it is an original node's;
    by the name the same run gives with graph optimizations off (``unoptimized``, from the
    child's retry), when the optimized graph renamed or fused the node; by the optimizer's naming
    (``<output>_nchwc``, ``<node>/…Fusion``); and last, the only node of the op type the message
    gives (ONNX Runtime names an unnamed node '').
    """
    name, index = _named_node(model, raw)
    op = next((m.group(1) for p in _OP_PATTERNS if (m := p.search(raw))), "")
    again = unoptimized or {}
    runs_plain = status == "run-failed" and again.get("status") == "ok"
    if index is None and again.get("status") == status:
        index = _named_node(model, again.get("error", ""))[1]
    if index is None and name:
        index = _optimized_origin(model, name)
    nodes = model.graph.nodes
    if index is None and op:
        same_op = [n.index for n in nodes if n.op_type == op]
        index = same_op[0] if len(same_op) == 1 else None
    node = nodes[index] if index is not None else None
    renamed = node is not None and name and name != node.name
    where = (
        f" at node '{node.label}' ({node.op_type})" if node else (f" at a {op} node" if op else "")
    )
    if renamed:
        where += f", which ONNX Runtime ran as '{name}' after optimizing the graph"
    detail = raw.split("Status Message:", 1)[-1].strip().splitlines()[0] if raw.strip() else ""
    if status == "session-failed":
        if "Could not find an implementation" in raw:
            message = f"ONNX Runtime has no kernel{where} for this opset and these input types"
            hint = "re-export with a newer opset, or check the node's input dtypes"
        else:
            message = f"ONNX Runtime could not load the model{where}: {detail}"
            hint = "run `onnx-inspector check` on the model for the static checks"
    elif runs_plain:
        message = (
            f"the run failed{where}: {detail}; the same run succeeds with graph optimizations "
            "disabled"
        )
        hint = (
            "ONNX Runtime's optimizer breaks this model: set the graph optimization level to "
            "'basic' or 'disable' in the run options, and report the model to ONNX Runtime"
        )
    else:
        message = f"the run failed{where}: {detail}"
        hint = "check the feeds' values and shapes against what this node expects"
    return Finding(
        Severity.ERROR,
        status,
        message,
        hint,
        node=node.name if node else "",
        node_index=index,
        op_type=node.op_type if node else op,
    )


# --------------------------------------------------------------------- comparison, NaN/Inf


def compare(
    actual: Mapping[str, np.ndarray],
    expected: Mapping[str, np.ndarray],
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
) -> Match:
    """Each expected output against the actual one: allclose with NaNs equal, strings exact."""
    results = []
    for name, want in expected.items():
        got = actual.get(name)
        want = np.asarray(want)
        if got is None:
            results.append(Comparison(name, False, None, None, "the run gave no such output"))
            continue
        got = np.asarray(got)
        if got.shape != want.shape:
            results.append(
                Comparison(
                    name, False, None, None, f"shape {list(got.shape)}, expected {list(want.shape)}"
                )
            )
            continue
        if got.dtype.kind in "OUSb" or want.dtype.kind in "OUSb":
            same = bool(np.array_equal(got.astype(str), want.astype(str)))
            results.append(Comparison(name, same, None, None, "" if same else "values differ"))
            continue
        g, w = got.astype(np.float64), want.astype(np.float64)
        both_nan = np.isnan(g) & np.isnan(w)
        with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, x / tiny: no warnings
            diff = np.where(both_nan, 0.0, np.abs(g - w))
            rel = diff / np.maximum(np.abs(w), np.finfo(np.float64).tiny)
        max_abs = float(np.nanmax(diff, initial=0.0)) if diff.size else 0.0
        max_rel = float(np.nanmax(rel, initial=0.0)) if rel.size else 0.0
        ok = bool(np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True))
        msg = (
            ""
            if ok
            else (
                f"max abs error {max_abs:.3g}, max rel error {max_rel:.3g} "
                f"(rtol {rtol:g}, atol {atol:g})"
            )
        )
        results.append(Comparison(name, ok, max_abs, max_rel, msg))
    return Match(all(c.ok for c in results), rtol, atol, results)


def _has_nonfinite(t: TensorResult) -> bool:
    return bool(t.stats and (t.stats["nan"] or t.stats["inf"]))


def _nonfinite_findings(model: Model, result: RunResult) -> list[Finding]:
    """A warning on each output holding NaN/Inf, and on the first node producing one when
    intermediates were captured (node order is topological in a valid model)."""
    g = model.graph
    findings = [
        Finding(
            Severity.WARNING,
            "non-finite-output",
            f"output '{t.name}' holds {t.stats['nan']} NaN and {t.stats['inf']} Inf values",
            "run with intermediates captured to find the node that produces them",
            tensor=t.name,
        )
        for t in result.outputs
        if _has_nonfinite(t) and t.stats
    ]
    if not result.intermediates:
        return findings
    bad = [
        (v.producer, t.name)
        for t in result.intermediates + result.outputs
        if _has_nonfinite(t) and (v := g.values.get(t.name)) is not None and v.producer is not None
    ]
    if bad:
        index, tensor = min(bad)
        node = g.nodes[index]
        result.first_nonfinite = (index, tensor)
        findings.append(
            Finding(
                Severity.WARNING,
                "first-non-finite",
                f"node '{node.label}' ({node.op_type}) is the first to produce NaN or Inf, "
                f"in '{tensor}'",
                "look at this node's inputs (division by zero, log of a negative, overflow); "
                "captured runs may fuse differently from the plain model",
                node=node.name,
                node_index=index,
                op_type=node.op_type,
                tensor=tensor,
            )
        )
    return findings
