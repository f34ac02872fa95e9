"""Fixed batch dims: the ``fixed-batch-dim`` info finding and its "make dynamic" fix.

An export traced with one example input often fixes the batch size (``[1, 3, 224, 224]``), so the
model refuses any other batch. :func:`fixed_batch_findings` lists such inputs;
:func:`make_dim_dynamic` writes a NEW file with those dims renamed to a symbol and re-checks it,
so the user sees the effect in the re-inferred shapes and the new findings.

Known limitations: "batch-like" means dim 0 of an input of rank >= 2, reported only when no input
already has a symbolic dim 0; a graph output's dim 0 is renamed too when it had the same fixed
size, which may be a coincidence; the new file drops the main graph's value_info (stale fixed
shapes), which shape inference recomputes on open.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import onnx

from inspector.core.findings import Finding, Severity
from inspector.core.graph import Model, format_shape

# Protobuf cannot serialize a message of 2 GiB or more; stay well below it.
_INLINE_LIMIT = 1_800_000_000


def fixed_batch_dims(model: Model) -> list[tuple[str, int]]:
    """(input name, fixed size) for each real input whose dim 0 looks like a fixed batch."""
    g = model.graph
    shapes = []
    for name in g.inputs:
        t = g.values[name].declared
        if t is not None and t.shape is not None and len(t.shape) >= 2:
            shapes.append((name, t.shape))
    if any(isinstance(s[0], str) for _, s in shapes):
        return []  # the model already has a dynamic batch; a fixed dim 0 elsewhere is meant
    return [(name, s[0]) for name, s in shapes if isinstance(s[0], int) and s[0] >= 1]


def fixed_batch_findings(model: Model) -> list[Finding]:
    """One ``info`` finding per input with a fixed batch-like dim 0, on that input's edge."""
    g = model.graph
    out: list[Finding] = []
    for name, size in fixed_batch_dims(model):
        v = g.values[name]
        first = g.nodes[v.consumers[0]] if v.consumers else None
        out.append(
            Finding(
                Severity.INFO,
                "fixed-batch-dim",
                f"input '{name}' {format_shape(v.declared.shape if v.declared else None)} has a "
                f"fixed batch size of {size} (dim 0)",
                hint="make it dynamic: Save As with dim 0 renamed to 'batch'",
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
    dims: Iterable[tuple[str, int]] | None = None,
    symbol: str = "batch",
) -> tuple[Model, list[Finding]]:
    """Write ``source`` to the new file ``destination`` with the given input dims made symbolic.

    ``dims`` is (input name, axis) pairs; by default dim 0 of every input that
    :func:`fixed_batch_dims` lists. Returns the new file opened (types inferred) and its
    findings of every check, so the caller can show what changed. Raises ``ValueError`` if
    ``destination`` is ``source`` (the user's file is never overwritten) or names no input.
    """
    from inspector.core.checks import run_checks  # the checks package imports this module
    from inspector.core.graph import open_model

    src, dst = Path(source), Path(destination)
    if dst.exists() and src.exists() and os.path.samefile(src, dst):
        raise ValueError("make_dim_dynamic writes a new file; the destination is the source")
    if dims is None:
        dims = [(name, 0) for name, _ in fixed_batch_dims(open_model(src, infer=False))]
    proto = onnx.load(src)
    inputs = {vi.name: vi for vi in proto.graph.input}
    renamed_sizes: set[int] = set()
    for name, axis in dims:
        vi = inputs.get(name)
        if vi is None or not vi.type.tensor_type.HasField("shape"):
            raise ValueError(f"'{name}' is not an input with a shape")
        dim = vi.type.tensor_type.shape.dim[axis]
        if axis == 0 and dim.HasField("dim_value"):
            renamed_sizes.add(dim.dim_value)
        dim.dim_param = symbol  # setting the oneof's other field clears dim_value
    for vi in proto.graph.output:
        tt = vi.type.tensor_type
        if tt.HasField("shape") and tt.shape.dim:
            d0 = tt.shape.dim[0]
            if d0.HasField("dim_value") and d0.dim_value in renamed_sizes:
                d0.dim_param = symbol
    del proto.graph.value_info[:]
    dst.parent.mkdir(parents=True, exist_ok=True)
    if proto.ByteSize() > _INLINE_LIMIT:
        onnx.save(proto, dst, save_as_external_data=True, location=dst.name + ".data")
    else:
        onnx.save(proto, dst)
    model = open_model(dst)
    return model, run_checks(model)
