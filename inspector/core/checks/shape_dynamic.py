"""Fixed batch dims: the ``fixed-batch-dim`` info finding and the rewrite that makes them dynamic.

An export traced with one example input often fixes the batch size (``[1, 3, 224, 224]``), so the
model refuses any other batch. :func:`fixed_batch_findings` reports an input only where its dim 0
really behaves as a batch (:mod:`.batch_flow`): a fixed dim 0 that counts a recurrent state's
layers, or a weight's rows, is not one, and renaming it would break the model.

:func:`make_dim_dynamic` writes a NEW file with those dims renamed to a symbol, and the graph
outputs' dims the batch reaches renamed with them. It only rewrites; whether the result runs is
proven by running it (:mod:`inspector.core.rewrites.dynamic_batch`).

Known limitations: the new file drops the main graph's value_info (stale fixed shapes), which
shape inference recomputes on open; outputs of an input renamed on request although it is not a
batch (``inputs=``) keep their declared shapes.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

import onnx

from inspector.core.checks.batch_flow import analyse_batch, candidates, why_not
from inspector.core.findings import Finding, Severity
from inspector.core.graph import Model, open_model
from inspector.core.tensor_types import format_shape

# Protobuf cannot serialize a message of 2 GiB or more; stay well below it.
_INLINE_LIMIT = 1_800_000_000


def fixed_batch_findings(model: Model) -> list[Finding]:
    """One ``info`` finding per input whose fixed dim 0 behaves as a batch, on its edge."""
    if not candidates(model):
        return []
    g = model.graph
    out: list[Finding] = []
    for name, b in analyse_batch(model).batch.items():
        v = g.values[name]
        first = g.nodes[v.consumers[0]] if v.consumers else None
        reached = ", ".join(f"'{o}'" for o, axis in b.outputs if axis == 0)
        out.append(
            Finding(
                Severity.INFO,
                "fixed-batch-dim",
                f"input '{name}' {format_shape(v.declared.shape if v.declared else None)} has a "
                f"fixed batch size of {b.size}: its dim 0 behaves as a batch (it reaches dim 0 "
                f"of {reached})",
                hint="make it dynamic: File > Save with Dynamic Batch As… or `check "
                "--save-dynamic OUT.onnx` (the copy is run at two batch sizes before it is kept)",
                node=first.name if first else "",
                node_index=first.index if first else None,
                op_type=first.op_type if first else "",
                tensor=name,
            )
        )
    return out


def make_dim_dynamic(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    inputs: Collection[str] | None = None,
    symbol: str = "batch",
    model: Model | None = None,
) -> Path:
    """Write ``source`` to the new file ``destination`` with dim 0 of ``inputs`` made symbolic;
    returns ``destination``.

    ``inputs`` defaults to every input whose dim 0 behaves as a batch. Inputs of different fixed
    sizes get different symbols (``batch``, ``batch_2``), and each graph output dim the batch
    reaches gets its input's symbol. ``model`` is ``source`` already opened (with shape
    inference), to save opening it again. Raises ``ValueError`` when ``destination`` is
    ``source`` (the user's file is never overwritten), when an input is not one with a fixed
    dim 0, or when no input's dim 0 behaves as a batch (saying why).
    """
    src, dst = Path(source), Path(destination)
    if dst.exists() and src.exists() and os.path.samefile(src, dst):
        raise ValueError("make_dim_dynamic writes a new file; the destination is the source")
    model = model or open_model(src)
    fixed = candidates(model)
    flow = analyse_batch(model, inputs)
    names = list(flow.batch) if inputs is None else list(inputs)
    if not names:
        raise ValueError(why_not(flow))
    for name in names:
        if name not in fixed:
            raise ValueError(f"'{name}' is not an input with a fixed dim 0 (rank >= 2)")
    proto = onnx.load(src)
    symbols = _symbols(proto, symbol, sorted({fixed[n] for n in names}))
    for vi in proto.graph.input:
        if vi.name in names:
            # setting the oneof's other field clears dim_value
            vi.type.tensor_type.shape.dim[0].dim_param = symbols[fixed[vi.name]]
    outputs = {
        o: (axis, b.size) for b in flow.batch.values() if b.name in names for o, axis in b.outputs
    }
    for vi in proto.graph.output:
        if vi.name in outputs:
            axis, size = outputs[vi.name]
            dims = vi.type.tensor_type.shape.dim
            if axis < len(dims):
                dims[axis].dim_param = symbols[size]
    del proto.graph.value_info[:]
    dst.parent.mkdir(parents=True, exist_ok=True)
    if proto.ByteSize() > _INLINE_LIMIT:
        onnx.save(proto, dst, save_as_external_data=True, location=dst.name + ".data")
    else:
        onnx.save(proto, dst)
    return dst


def _symbols(proto: onnx.ModelProto, symbol: str, sizes: list[int]) -> dict[int, str]:
    """A fresh symbol for each fixed size: ``symbol``, ``symbol_2`` ..., none already in use."""
    used = {
        d.dim_param
        for vi in (*proto.graph.input, *proto.graph.output)
        for d in vi.type.tensor_type.shape.dim
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
