"""The batch-dim rewrite: a NEW file with chosen dims of the inputs, and the graph outputs' dims
the batch reaches, renamed to symbols.

Deciding what to rename (:func:`plan_batch_rename`) reads the batch analysis
(:mod:`inspector.core.checks.batch_flow`) once; writing (:func:`write_renamed`) only rewrites and
returns the path. Whether the result runs is proven by running it
(:mod:`inspector.core.rewrites.dynamic_batch`), which reuses the same plan.

Known limitations: the new file drops the main graph's value_info (stale fixed shapes), which
shape inference recomputes on open; outputs of an input renamed on request although it is not a
batch (``inputs=``) keep their declared shapes.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import onnx

from inspector.core.checks.batch_flow import BatchFlow, analyse_batch, candidates, why_not
from inspector.core.graph import Model, open_model

# Protobuf cannot serialize a message of 2 GiB or more; stay well below it.
_INLINE_LIMIT = 1_800_000_000


@dataclass
class BatchRename:
    """What the rewrite renames, decided once from the batch analysis.

    Example: ``BatchRename({"image": "batch"}, {"logits": (0, "batch")}, {"image": 1}, flow)``.
    """

    inputs: dict[str, str]  # input → the symbol its dim 0 gets
    outputs: dict[str, tuple[int, str]]  # output → (axis, symbol) the batch reaches
    sizes: dict[str, int]  # renamed input → its fixed dim 0 before
    flow: BatchFlow = field(default_factory=BatchFlow)  # the analysis it was decided from


def plan_batch_rename(
    model: Model, inputs: Collection[str] | None = None, symbol: str = "batch"
) -> BatchRename:
    """Which dims to rename in ``model`` (opened with shape inference).

    ``inputs`` defaults to every input whose dim 0 behaves as a batch. Inputs of different fixed
    sizes get different symbols (``batch``, ``batch_2``), none already used by an input or output.
    An empty plan (no input qualifies) keeps the analysis in ``flow`` to say why. Raises
    ``ValueError`` when a named input is not one with a fixed dim 0.
    """
    fixed = candidates(model)
    for name in inputs or ():
        if name not in fixed:
            raise ValueError(f"'{name}' is not an input with a fixed dim 0 (rank >= 2)")
    flow = analyse_batch(model, inputs)
    names = list(flow.batch) if inputs is None else list(inputs)
    sizes = {n: fixed[n] for n in names}
    symbols = _symbols(model, symbol, sorted(set(sizes.values())))
    outputs = {
        o: (axis, symbols[b.size])
        for b in flow.batch.values()
        if b.name in sizes
        for o, axis in b.outputs
    }
    return BatchRename({n: symbols[s] for n, s in sizes.items()}, outputs, sizes, flow)


def write_renamed(
    source: str | os.PathLike[str], destination: str | os.PathLike[str], rename: BatchRename
) -> Path:
    """Write ``source`` to the new file ``destination`` with ``rename`` applied; returns
    ``destination``. Raises ``ValueError`` when ``destination`` is ``source`` (the user's file is
    never overwritten) or the plan renames nothing (saying why)."""
    src, dst = Path(source), Path(destination)
    if dst.exists() and src.exists() and os.path.samefile(src, dst):
        raise ValueError("the rewrite writes a new file; the destination is the source")
    if not rename.inputs:
        raise ValueError(why_not(rename.flow))
    proto = onnx.load(src)
    for vi in proto.graph.input:
        if vi.name in rename.inputs:
            # setting the oneof's other field clears dim_value
            vi.type.tensor_type.shape.dim[0].dim_param = rename.inputs[vi.name]
    for vi in proto.graph.output:
        if vi.name in rename.outputs:
            axis, sym = rename.outputs[vi.name]
            dims = vi.type.tensor_type.shape.dim
            if axis < len(dims):
                dims[axis].dim_param = sym
    del proto.graph.value_info[:]
    dst.parent.mkdir(parents=True, exist_ok=True)
    if proto.ByteSize() > _INLINE_LIMIT:
        onnx.save(proto, dst, save_as_external_data=True, location=dst.name + ".data")
    else:
        onnx.save(proto, dst)
    return dst


def make_dim_dynamic(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    inputs: Collection[str] | None = None,
    symbol: str = "batch",
    model: Model | None = None,
) -> Path:
    """The rewrite in one call, without the proof: plan from ``model`` (``source`` opened with
    shape inference; opened here if not given) and write; returns ``destination``. Raises
    ``ValueError`` as :func:`plan_batch_rename` and :func:`write_renamed` do."""
    plan = plan_batch_rename(model or open_model(source), inputs, symbol)
    return write_renamed(source, destination, plan)


def _symbols(model: Model, symbol: str, sizes: list[int]) -> dict[int, str]:
    """A fresh symbol for each fixed size: ``symbol``, ``symbol_2`` ..., none already in use."""
    g = model.graph
    used = {
        d
        for name in (*g.inputs, *g.outputs)
        if (t := g.values[name].declared) is not None and t.shape is not None
        for d in t.shape
        if isinstance(d, str)
    }
    out: dict[int, str] = {}
    k = 1
    for size in sizes:
        name = symbol if k == 1 else f"{symbol}_{k}"
        while name in used:
            k += 1
            name = f"{symbol}_{k}"
        used.add(name)
        out[size] = name
        k += 1
    return out
