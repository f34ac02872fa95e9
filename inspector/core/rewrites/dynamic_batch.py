"""Save with Dynamic Batch, proven: rename the batch dims, then run the copy before keeping it.

:func:`save_dynamic_batch` is what the CLI's ``check --save-dynamic`` and the window's File >
Save with Dynamic Batch As… call:

1. the inputs to rename are those whose fixed dim 0 behaves as a batch
   (:mod:`inspector.core.checks.batch_flow`); with none, nothing is written and the result says
   why for each input;
2. the copy is written by :func:`~inspector.core.rewrites.batch_dims.write_renamed`, from the
   plan of step 1 (decided once), into a temporary folder next to the destination (same file
   system, so the final move is a rename);
3. the proof, each run in ONNX Runtime's child process (:func:`run_model`), on random feeds from
   the core feed builder: the original at its own batch size N; the copy at N on the same feeds
   (its outputs must equal the original's); the copy at a second size M (3, or 2 when N is 3)
   whose first samples are the ones fed at N. At M, each output must either keep its shape and
   values (it does not depend on the batch) or change on exactly one axis from N to M and agree
   with the original on the shared samples, and at least one output must change. That catches
   a batch size baked into a Reshape target or a constant (the run fails on that node), an op
   that mixes samples, and a model that reads only some samples (``x[0]``);
4. only a proven copy is moved to the destination (with its ``.data`` file when it has one).
   A failed proof leaves nothing behind, and an existing file at the destination untouched: a
   file that does not run must not sit where the user expects a working one. The result names
   the node that failed when ONNX Runtime names one.

Known limitations: random feeds only (a model whose outputs depend on input values in a way
random values do not reach is not fully exercised); ops with random outputs (RandomNormal,
Dropout in training mode) fail the comparison; the proof runs on the CPU provider; the rewrite
itself (``onnx.load``/``onnx.save``) runs in the caller's process, in the window a worker thread,
which holds the interpreter lock while protobuf parses a very large model.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inspector.core.checks.batch_flow import BatchFlow, why_not
from inspector.core.findings import Finding, Severity, error_line
from inspector.core.graph import Model, open_model
from inspector.core.inference.inputs import random_feeds
from inspector.core.inference.runner import RunResult, compare, run_model
from inspector.core.rewrites.batch_dims import BatchRename, plan_batch_rename, write_renamed
from inspector.core.tasks import CancelToken, ProgressFn, no_progress

CODE = "dynamic-batch-failed"
# Another batch size may make ONNX Runtime pick other kernels (blocking, vectorization): the same
# sample's outputs then differ by float rounding, not more.
RTOL, ATOL = 1e-3, 1e-4


def other_batch(size: int) -> int:
    """The second batch size the copy is run at: 3, or 2 when the model's own size is 3."""
    return 2 if size == 3 else 3


@dataclass
class DynamicBatchResult:
    """What Save with Dynamic Batch did.

    Example: ``DynamicBatchResult(True, Path("m_dynamic.onnx"), {"image": 1}, (1, 3),
    "wrote m_dynamic.onnx: ...")``.
    """

    ok: bool  # the copy was written and proven
    path: Path | None  # the file written; None when nothing was kept
    inputs: dict[str, int]  # renamed input → its fixed dim 0 before
    batches: tuple[int, ...]  # the batch sizes the copy was run at
    message: str  # one line for people: what was written and proven, or why not
    findings: list[Finding] = field(default_factory=list)  # the failure, on its node

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "path": str(self.path) if self.path else None,
            "inputs": self.inputs,
            "batches": list(self.batches),
            "message": self.message,
        }


def save_dynamic_batch(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    model: Model | None = None,
    inputs: Collection[str] | None = None,
    symbol: str = "batch",
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
    timeout: float = 300.0,
) -> DynamicBatchResult:
    """Write ``source`` with its batch dims made symbolic to ``destination``, only once running it
    at two batch sizes proved it (see the module docstring).

    ``model`` is ``source`` already opened with shape inference (opened here if not given or not
    inferred); ``inputs`` overrides which inputs are renamed; ``timeout`` bounds each run.
    Raises ``ValueError`` when ``destination`` is the model's own file or its external data, or
    names an input without a fixed dim 0; ``Cancelled`` when ``cancel`` is set (nothing is left).
    """
    src, dst = Path(source), Path(destination)
    progress(0.0, "following the batch through the graph")
    if model is None or not model.types_inferred:
        model = open_model(src, cancel=cancel)
    _refuse_own_files(model, src, dst)
    plan = plan_batch_rename(model, inputs, symbol)
    if not plan.inputs:
        message = f"nothing written: {why_not(plan.flow)}"
        return DynamicBatchResult(
            False, None, {}, (), message, _not_batch_findings(model, plan.flow)
        )
    dst.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".partial", dir=dst.parent))
    try:
        progress(0.1, "writing the copy")
        staged = write_renamed(src, stage / dst.name, plan)
        result = _prove(model, src, staged, plan, progress, cancel, timeout)
        if result.ok:
            for f in stage.iterdir():
                os.replace(f, dst.parent / f.name)
            result.path = dst
            result.message = f"wrote {dst.name}: {result.message}"
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    progress(1.0, "done")
    return result


def _refuse_own_files(model: Model, src: Path, dst: Path) -> None:
    own = {src.resolve()} | {
        init.external.file.resolve() for init in model.graph.initializers if init.external
    }
    if {dst.resolve(), dst.with_name(dst.name + ".data").resolve()} & own:
        raise ValueError(
            "refusing to overwrite the model file or its external data; choose a new path"
        )


def _prove(
    model: Model,
    src: Path,
    staged: Path,
    plan: BatchRename,
    progress: ProgressFn,
    cancel: CancelToken | None,
    timeout: float,
) -> DynamicBatchResult:
    new = open_model(staged, infer=False)
    sizes, symbols = plan.sizes, plan.inputs
    n0 = min(sizes.values())
    m0 = other_batch(n0)
    batches = tuple(sorted({*sizes.values(), *(other_batch(s) for s in sizes.values())}))
    renamed = ", ".join(f"'{n}'" for n in sizes)
    sym = ", ".join(sorted(set(symbols.values()), key=str))

    def failed(why: str, hint: str, run: RunResult | None = None) -> DynamicBatchResult:
        return _failed(f"nothing written: {why}", dict(sizes), batches, hint, run)

    try:
        feeds = random_feeds(model, seed=0)
        wider = random_feeds(
            new, seed=1, dims={str(symbols[n]): other_batch(s) for n, s in sizes.items()}
        )
    except Exception as e:  # an input type the feed builder cannot draw
        return failed(f"cannot draw random inputs to run it: {error_line(e)}", _RUN_HINT)
    for name, arr in feeds.items():
        if name in sizes:
            k = min(sizes[name], other_batch(sizes[name]))
            wider[name][:k] = arr[:k]  # the shared samples: the outputs must agree on them
        else:
            wider[name] = arr

    def run(path: Path, m: Model, f: dict, lo: float, what: str, **kw: Any) -> RunResult:
        progress(lo, what)
        return run_model(
            path,
            f,
            model=m,
            cancel=cancel,
            timeout=timeout,
            progress=lambda x, msg: progress(lo + 0.25 * x, f"{what}: {msg}"),
            **kw,
        )

    base = run(src, model, feeds, 0.2, f"running the original at batch {n0}")
    if not base.ok:
        return failed(
            f"the original model does not run at batch {n0}, so the copy cannot be proven: "
            f"{_first_error(base)}",
            _RUN_HINT,
            base,
        )
    expected = base.arrays()
    same = run(staged, new, feeds, 0.45, f"running the copy at batch {n0}", expected=expected)
    if not same.ok:
        return failed(f"the copy fails at batch {n0}: {_first_error(same)}", _RENAME_HINT, same)
    wide = run(staged, new, wider, 0.7, f"running the copy at batch {m0}")
    if not wide.ok:
        return failed(
            f"the copy fails at batch {m0}: {_first_error(wide)}",
            "this node keeps the old batch size (a Reshape target or a constant with the size "
            "baked in): re-export with a dynamic batch (torch.onnx.export's dynamic_shapes or "
            "dynamic_axes)",
            wide,
        )
    problem = _rows_disagree(expected, wide.arrays(), set(sizes.values()), m0)
    if problem:
        return failed(problem, "an op mixes the samples of a batch, or the batch is not dim 0")
    return DynamicBatchResult(
        True,
        None,
        dict(sizes),
        batches,
        f"dim 0 of {renamed} is now '{sym}'; the copy ran at batch {n0} and {m0}, and its "
        f"outputs match the original's on the same samples (rtol {RTOL:g}, atol {ATOL:g})",
    )


_NO_BATCH_HINT = (
    "only a dim 0 that reaches the outputs' dim 0 as a batch can be renamed; "
    "re-export the model with a dynamic batch instead"
)
_RUN_HINT = "nothing was written; `onnx-inspector run MODEL --random` shows why it does not run"
_RENAME_HINT = "nothing was written; please report this model: renaming dims changed its result"


def _first_error(result: RunResult) -> str:
    errors = [f for f in result.findings if f.severity is Severity.ERROR]
    if errors:
        return errors[0].message
    return result.error.splitlines()[0] if result.error else result.status


def _rows_disagree(
    base: Mapping[str, np.ndarray], wide: Mapping[str, np.ndarray], sizes: set[int], m0: int
) -> str:
    """Why the outputs at the other batch size do not follow the batch ("" when they do): each
    keeps its shape and values, or changes on one axis from N to M and keeps the shared samples'
    values; and at least one changes (a model that reads only the first sample runs too)."""
    followed = False
    for name, a in base.items():
        b = wide.get(name)
        if b is None:
            return f"output '{name}' is missing at batch {m0}"
        if a.shape != b.shape:
            axes = [i for i in range(a.ndim) if a.ndim == b.ndim and a.shape[i] != b.shape[i]]
            ax = axes[0] if len(axes) == 1 else -1
            if ax < 0 or a.shape[ax] not in sizes or b.shape[ax] != other_batch(a.shape[ax]):
                return (
                    f"output '{name}' is {list(b.shape)} at batch {m0} where the original gave "
                    f"{list(a.shape)}: it does not follow the batch"
                )
            k = min(a.shape[ax], b.shape[ax])
            a, b = np.take(a, range(k), axis=ax), np.take(b, range(k), axis=ax)
            followed = True
        match = compare({name: b}, {name: a}, RTOL, ATOL)
        if not match.ok:
            return (
                f"output '{name}' at batch {m0} differs from the original's on the same "
                f"samples: {match.outputs[0].message}"
            )
    if not followed:
        return f"no output follows the batch: at batch {m0} every output keeps its shape"
    return ""


def _not_batch_findings(model: Model, flow: BatchFlow) -> list[Finding]:
    """One finding per candidate input, on the node that stopped its batch (the graph's badge)."""
    g = model.graph
    out = []
    for name, reason in flow.not_batch.items():
        node = g.nodes[flow.stopped_at[name]] if name in flow.stopped_at else None
        out.append(
            Finding(
                Severity.ERROR,
                CODE,
                f"Save with Dynamic Batch: nothing written: '{name}': {reason}",
                _NO_BATCH_HINT,
                node=node.name if node else "",
                node_index=node.index if node else None,
                op_type=node.op_type if node else "",
                tensor=name,
            )
        )
    return out or [Finding(Severity.ERROR, CODE, f"Save with Dynamic Batch: {why_not(flow)}")]


def _failed(
    message: str,
    sizes: dict[str, int],
    batches: tuple[int, ...],
    hint: str,
    run: RunResult | None = None,
) -> DynamicBatchResult:
    """A failed save: the message, and the same as an error finding on the node a run names."""
    where = next((f for f in run.findings if f.node_index is not None), None) if run else None
    finding = Finding(
        Severity.ERROR,
        CODE,
        f"Save with Dynamic Batch: {message}",
        hint,
        node=where.node if where else "",
        node_index=where.node_index if where else None,
        op_type=where.op_type if where else "",
    )
    return DynamicBatchResult(False, None, sizes, batches, message, [finding])
