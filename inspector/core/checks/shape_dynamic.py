"""Fixed batch dims: the ``fixed-batch-dim`` info finding.

An export traced with one example input often fixes the batch size (``[1, 3, 224, 224]``), so the
model refuses any other batch. :func:`fixed_batch_findings` reports an input only where its dim 0
really behaves as a batch (:mod:`.batch_flow`): a fixed dim 0 that counts a recurrent state's
layers, or a weight's rows, is not one, and renaming it would break the model.

The rewrite that makes them dynamic is :mod:`inspector.core.rewrites.batch_dims` (it writes a
new file), proven by running it (:mod:`inspector.core.rewrites.dynamic_batch`).
"""

from __future__ import annotations

from inspector.core.checks.batch_flow import analyse_batch, candidates
from inspector.core.findings import Finding, Severity
from inspector.core.graph import Model
from inspector.core.tensor_types import format_shape


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
