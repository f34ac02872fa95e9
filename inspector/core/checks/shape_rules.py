"""The project's own shape rules, for the checks onnx's per-node inference leaves out or words badly.

onnx infers a Conv's output without looking at the weight's input channels, infers Gemm without
comparing K, and accepts a Reshape target whose element count differs from the data's. These
rules check exactly those, plus MatMul's inner dimension, Concat's off-axis dims, broadcasting and
the per-channel vectors of BatchNormalization and InstanceNormalization, and say which input is
wrong and how to fix it (onnx's own messages name neither).

Each rule takes a :class:`NodeView` and returns ``(faults, output_shape)``: ``output_shape`` is
what the node would give if the fault were fixed (or ``None``), so the walker can go on past it.

Known limitations: a dim is compared only when both sides are fixed integers (a symbol may stand
for any size); a Reshape whose input has unknown dims, or whose target is computed at run time,
is not checked; old broadcasting with the ``broadcast``/``axis`` attributes (opset < 7) is not
checked.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from inspector.core.checks.edge_types import EdgeType
from inspector.core.tensor_types import Dim, Shape, format_shape


@dataclass(frozen=True, slots=True)
class ShapeFault:
    slot: int  # the input the finding goes on (its edge)
    message: str
    hint: str


@dataclass
class NodeView:
    """What a rule may see of one node (built by the walker)."""

    op_type: str
    label: str  # "Add 'add_7'"
    inputs: list[str]
    types: list[EdgeType | None]
    opset: int  # ai.onnx opset in force
    attrs: Callable[[Sequence[str]], dict[str, object]]
    constant: Callable[[int], np.ndarray | None]  # small constant input values, or None
    is_constant: Callable[[int], bool]
    source: Callable[[int], str]  # "'conv1'": who produces input slot i
    declared_output: Shape | None = None  # what value_info/graph output say output 0 is

    def shape(self, slot: int) -> Shape | None:
        if slot >= len(self.types):
            return None
        t = self.types[slot]
        return t.shape if t is not None else None


RuleResult = tuple[list[ShapeFault], Shape | None]


def _pick_culprit(view: NodeView, slots: Sequence[int]) -> int:
    """Of inputs equally suspect, the one to blame: a constant first (a weight is what an edit
    most often gets wrong), then the later input (the earlier is usually the data path)."""
    return max(slots, key=lambda s: (view.is_constant(s), s))


def _desc(view: NodeView, slot: int) -> str:
    return f"{view.source(slot)} {format_shape(view.shape(slot))}"


# ----------------------------------------------------------------------------------- broadcasting


def broadcast(view: NodeView) -> RuleResult:
    """Multidirectional broadcasting (Add, Mul, Where, Max, ...): trailing dims must be equal or 1."""
    if view.opset < 7 or view.attrs(("broadcast",)):
        return [], None  # legacy broadcast with an explicit axis
    slots = [i for i, n in enumerate(view.inputs) if n and view.shape(i) is not None]
    if len(slots) < 2:
        return [], None
    shapes = {s: view.shape(s) for s in slots}
    rank = max(len(sh) for sh in shapes.values())  # type: ignore[arg-type]
    out: list[Dim] = []
    faults: list[ShapeFault] = []
    blamed: set[int] = set()
    for k in range(rank, 0, -1):  # k-th dim from the right
        dims = {s: sh[-k] for s, sh in shapes.items() if len(sh) >= k}  # type: ignore[arg-type]
        fixed = {s: d for s, d in dims.items() if isinstance(d, int) and d != 1}
        sizes = Counter(fixed.values())
        if len(sizes) > 1:
            declared = view.declared_output
            hint_dim = declared[-k] if declared is not None and len(declared) >= k else None
            expected = _majority(view, sizes, fixed, hint_dim)
            bad = [s for s, d in fixed.items() if d != expected]
            culprit = _pick_culprit(view, bad) if len(bad) > 1 else bad[0]
            good = next(s for s, d in fixed.items() if d == expected)
            if culprit not in blamed:
                blamed.add(culprit)
                axis = len(shapes[culprit]) - k  # type: ignore[arg-type]
                faults.append(
                    ShapeFault(
                        culprit,
                        f"{_desc(view, culprit)} cannot broadcast with {_desc(view, good)} at "
                        f"{view.label}: dim {axis} is {fixed[culprit]}, the other side has "
                        f"{expected}",
                        f"make dim {axis} of '{view.inputs[culprit]}' {expected} or 1",
                    )
                )
            out.append(expected)
        elif sizes:
            out.append(next(iter(sizes)))
        else:
            syms = [d for d in dims.values() if d != 1]
            out.append(syms[0] if len(set(syms)) == 1 else (1 if not syms else None))
    return faults, tuple(reversed(out)) if faults else None


def _majority(
    view: NodeView, sizes: Counter[int], fixed: dict[int, int], declared: Dim = None
) -> int:
    """The size most inputs agree on; on a tie, the size the node's output is declared with,
    else the size of the non-constant, earlier input (usually the data path)."""
    best = max(sizes.values())
    tied = {d for d, c in sizes.items() if c == best}
    if len(tied) == 1:
        return next(iter(tied))
    if declared in tied:
        return declared  # type: ignore[return-value]
    keeper = min((s for s, d in fixed.items() if d in tied), key=lambda s: (view.is_constant(s), s))
    return fixed[keeper]


# ----------------------------------------------------------------------------------- MatMul, Gemm


def matmul(view: NodeView) -> RuleResult:
    a, b = view.shape(0), view.shape(1)
    if not a or not b:
        return [], None
    ka, kb = a[-1], (b[-2] if len(b) >= 2 else b[0])
    if not (isinstance(ka, int) and isinstance(kb, int)) or ka == kb:
        return [], None
    culprit = 1 if view.is_constant(1) or not view.is_constant(0) else 0
    fix = (
        f"'{view.inputs[1]}' needs {ka} rows (dim {len(b) - 2 if len(b) >= 2 else 0}), it has {kb}"
        if culprit == 1
        else f"'{view.inputs[0]}' needs {kb} in its last dim, it has {ka}"
    )
    fault = ShapeFault(
        culprit,
        f"inner dimensions disagree at {view.label}: {_desc(view, 0)} has K={ka}, "
        f"{_desc(view, 1)} has K={kb}",
        fix,
    )
    batch = a[:-2] if len(a) >= len(b) else b[:-2]
    tail: tuple[Dim, ...] = ((a[-2],) if len(a) >= 2 else ()) + ((b[-1],) if len(b) >= 2 else ())
    return [fault], tuple(batch) + tail


def gemm(view: NodeView) -> RuleResult:
    a, b = view.shape(0), view.shape(1)
    if not a or not b or len(a) != 2 or len(b) != 2:
        return [], None
    attrs = view.attrs(("transA", "transB"))
    ta, tb = bool(attrs.get("transA", 0)), bool(attrs.get("transB", 0))
    m, ka = (a[1], a[0]) if ta else (a[0], a[1])
    kb, n = (b[1], b[0]) if tb else (b[0], b[1])
    faults: list[ShapeFault] = []
    if isinstance(ka, int) and isinstance(kb, int) and ka != kb:
        culprit = 1 if view.is_constant(1) or not view.is_constant(0) else 0
        if culprit == 1:
            fix = f"'{view.inputs[1]}' needs {ka} in dim {1 if tb else 0}, it has {kb}"
        else:
            fix = f"'{view.inputs[0]}' needs {kb} in dim {0 if ta else 1}, it has {ka}"
        faults.append(
            ShapeFault(
                culprit,
                f"inner dimensions disagree at {view.label} (transA={int(ta)}, "
                f"transB={int(tb)}): {_desc(view, 0)} has K={ka}, {_desc(view, 1)} has K={kb}",
                fix,
            )
        )
    c = view.shape(2) if len(view.inputs) > 2 and view.inputs[2] else None
    if c is not None and view.opset >= 7:
        for dc, want in zip(reversed(c), (n, m), strict=False):
            if isinstance(dc, int) and isinstance(want, int) and dc not in (1, want):
                faults.append(
                    ShapeFault(
                        2,
                        f"bias {_desc(view, 2)} cannot broadcast to the output [{m},{n}] of "
                        f"{view.label}",
                        f"give '{view.inputs[2]}' shape [{n}] or [{m},{n}]",
                    )
                )
                break
        if len(c) > 2:
            faults.append(
                ShapeFault(2, f"bias {_desc(view, 2)} of {view.label} has rank {len(c)} > 2", "")
            )
    return faults, (m, n) if faults else None


# ------------------------------------------------------------------------------------------- Conv


def conv(view: NodeView) -> RuleResult:
    """Conv: X [N, C, ...] and W [M, C/group, ...]; ConvTranspose: W [C, M/group, ...]."""
    x, w = view.shape(0), view.shape(1)
    if not x or not w or len(x) < 2 or len(w) < 2:
        return [], None
    group = int(view.attrs(("group",)).get("group", 1) or 1)  # type: ignore[call-overload]
    c = x[1]
    faults: list[ShapeFault] = []
    if len(x) != len(w):
        faults.append(
            ShapeFault(
                1,
                f"{view.label}: the data ({_desc(view, 0)}) has rank {len(x)} but the weight "
                f"{_desc(view, 1)} has rank {len(w)}",
                f"the weight needs rank {len(x)}",
            )
        )
        return faults, None
    grouped = f" with group={group}" if group != 1 else ""
    if view.op_type == "ConvTranspose":
        if isinstance(c, int) and isinstance(w[0], int) and c != w[0]:
            faults.append(
                ShapeFault(
                    1,
                    f"{view.label}: the data ({_desc(view, 0)}) has {c} channels but the weight "
                    f"{_desc(view, 1)} expects {w[0]}",
                    f"the weight needs {c} input channels (dim 0), it has {w[0]}",
                )
            )
        return faults, None
    if isinstance(c, int) and isinstance(w[1], int) and c != w[1] * group:
        if c % group:
            hint = f"group={group} does not divide the {c} input channels"
        else:
            hint = f"the weight needs {c // group} input channels, it has {w[1]}"
        faults.append(
            ShapeFault(
                1,
                f"{view.label}: the data ({_desc(view, 0)}) has {c} channels but the weight "
                f"{_desc(view, 1)} expects {w[1] * group}{grouped}",
                hint,
            )
        )
    m = w[0]
    if isinstance(m, int) and group > 1 and m % group:
        faults.append(
            ShapeFault(
                1,
                f"{view.label}: {m} output channels of the weight are not divisible by "
                f"group={group}",
                f"make dim 0 of '{view.inputs[1]}' a multiple of {group}",
            )
        )
    bias = view.shape(2) if len(view.inputs) > 2 and view.inputs[2] else None
    if bias and isinstance(m, int) and isinstance(bias[0], int) and bias[0] != m:
        faults.append(
            ShapeFault(
                2,
                f"{view.label}: bias {_desc(view, 2)} has {bias[0]} values for {m} output channels",
                f"the bias needs {m} values, it has {bias[0]}",
            )
        )
    return faults, None


# ---------------------------------------------------------------------------------------- Reshape


def reshape(view: NodeView) -> RuleResult:
    """Element count of a constant target (0 copies the input dim unless allowzero, -1 infers)."""
    data = view.shape(0)
    if data is None:
        return [], None
    if view.opset >= 5:
        values = view.constant(1) if len(view.inputs) > 1 else None
        if values is None:
            return [], None
        target = [int(v) for v in values.reshape(-1).tolist()]
        slot = 1
    else:
        target = list(view.attrs(("shape",)).get("shape") or [])  # type: ignore[call-overload]
        slot = 0
    allowzero = bool(view.attrs(("allowzero",)).get("allowzero", 0))
    in_known, in_syms = _count(data)
    if in_known is None:
        return [], None
    resolved: list[Dim] = []
    for i, d in enumerate(target):
        if d == 0 and not allowzero:
            if i >= len(data):
                return [
                    _target_fault(
                        view,
                        slot,
                        target,
                        f"0 at position {i} copies a dim the "
                        f"input {format_shape(data)} does not have",
                    )
                ], None
            resolved.append(data[i])
        else:
            resolved.append(d)
    if resolved.count(-1) > 1:
        return [_target_fault(view, slot, target, "more than one -1")], None
    fixed = [d for d in resolved if d != -1]
    out_known, out_syms = _count(tuple(fixed))
    if out_known is None or out_syms != in_syms:
        return [], None  # symbols on one side only: the sizes cannot be compared
    if -1 in resolved:
        if out_known == 0 or in_known % out_known == 0:
            return [], None
        why = f"{in_known} elements do not divide into dims multiplying to {out_known}"
    elif out_known == in_known:
        return [], None
    else:
        why = f"it gives {out_known} elements, the input has {in_known}"
    return [_target_fault(view, slot, target, why, in_known)], None


def _count(shape: Shape) -> tuple[int | None, Counter[str]]:
    """(product of the fixed dims, the symbols); (None, ...) if any dim is unknown."""
    n = 1
    syms: Counter[str] = Counter()
    for d in shape:
        if d is None:
            return None, syms
        if isinstance(d, int):
            n *= d
        else:
            syms[d] += 1
    return n, syms


def _target_fault(
    view: NodeView, slot: int, target: list[int], why: str, elements: int | None = None
) -> ShapeFault:
    hint = (
        f"change the target shape so its dims multiply to {elements} (or use -1 for one dim)"
        if elements is not None
        else "fix the target shape"
    )
    return ShapeFault(
        slot,
        f"{view.label} cannot reshape {_desc(view, 0)} to {target}: {why}",
        hint,
    )


# ----------------------------------------------------------------------------------------- Concat


def concat(view: NodeView) -> RuleResult:
    slots = [i for i, n in enumerate(view.inputs) if n and view.shape(i) is not None]
    if len(slots) < 2:
        return [], None
    shapes = {s: view.shape(s) for s in slots}
    ranks = Counter(len(sh) for sh in shapes.values())  # type: ignore[arg-type]
    rank = ranks.most_common(1)[0][0]
    faults: list[ShapeFault] = []
    wrong_rank = [s for s in slots if len(shapes[s]) != rank]  # type: ignore[arg-type]
    for s in wrong_rank:
        good = next(t for t in slots if len(shapes[t]) == rank)  # type: ignore[arg-type]
        faults.append(
            ShapeFault(
                s,
                f"{view.label}: {_desc(view, s)} has rank {len(shapes[s])} but "  # type: ignore[arg-type]
                f"{_desc(view, good)} has rank {rank}",
                f"'{view.inputs[s]}' needs rank {rank}",
            )
        )
    # Concat-1 defaulted to axis 1; later versions require the attribute.
    axis = int(view.attrs(("axis",)).get("axis", 1 if view.opset < 4 else 0))  # type: ignore[call-overload]
    if axis < 0:
        axis += rank
    same = [s for s in slots if s not in wrong_rank]
    out: list[Dim] = list(shapes[same[0]])  # type: ignore[arg-type]
    blamed: set[int] = set(wrong_rank)
    for d in range(rank):
        if d == axis:
            continue
        fixed = {s: shapes[s][d] for s in same if isinstance(shapes[s][d], int)}  # type: ignore[index]
        sizes = Counter(fixed.values())
        if len(sizes) < 2:
            continue
        declared = view.declared_output
        hint_dim = declared[d] if declared is not None and len(declared) == rank else None
        expected = _majority(view, sizes, fixed, hint_dim)
        out[d] = expected
        good = next(s for s, v in fixed.items() if v == expected)
        for s, v in fixed.items():
            if v != expected and s not in blamed:
                blamed.add(s)
                faults.append(
                    ShapeFault(
                        s,
                        f"{view.label} on axis {axis}: {_desc(view, s)} has {v} at dim {d} "
                        f"where {_desc(view, good)} has {expected}",
                        f"make dim {d} of '{view.inputs[s]}' {expected}: Concat joins only "
                        f"along axis {axis}",
                    )
                )
    if not faults:
        return [], None
    sizes_on_axis = [shapes[s][axis] for s in same]  # type: ignore[index]
    out[axis] = sum(sizes_on_axis) if all(isinstance(v, int) for v in sizes_on_axis) else None  # type: ignore[arg-type, misc]
    return faults, tuple(out)


# ---------------------------------------------------------------------- per-channel parameters

#: The inputs after X that hold one value per channel (dim 1 of X).
_CHANNEL_VECTORS = {
    "BatchNormalization": ("scale", "B", "mean", "var"),
    "InstanceNormalization": ("scale", "B"),
}


def channel_vectors(view: NodeView) -> RuleResult:
    """BatchNormalization, InstanceNormalization: each parameter holds C values, C = dim 1 of X.

    Before opset 14 onnx infers BatchNormalization from X alone (InstanceNormalization at any
    opset), and ONNX Runtime fails only when it runs the node: a Conv upstream cut to fewer
    output channels went unseen until a later node with a rule (PaddleOCR exports, opset 11).
    """
    x = view.shape(0)
    if not x or len(x) < 2:
        return [], None
    spatial = view.attrs(("spatial",)).get("spatial", 1)
    if view.op_type == "BatchNormalization" and view.opset < 9 and spatial == 0:
        return [], None  # per-activation parameters, [C, D1, ...]
    roles = _CHANNEL_VECTORS[view.op_type]
    fixed: dict[int, int] = {0: x[1]} if isinstance(x[1], int) else {}
    for slot in range(1, len(roles) + 1):
        p = view.shape(slot) if slot < len(view.inputs) and view.inputs[slot] else None
        if p is not None and len(p) == 1 and isinstance(p[0], int):
            fixed[slot] = p[0]
    if len(set(fixed.values())) <= 1:
        return [], None
    c = _majority(view, Counter(fixed.values()), fixed)
    faults = []
    for slot, n in fixed.items():
        if n == c:
            continue
        if slot == 0:
            faults.append(
                ShapeFault(
                    0,
                    f"{view.label}: the data ({_desc(view, 0)}) has {n} channels but its "
                    f"{', '.join(roles)} hold {c} values",
                    f"the data needs {c} channels (dim 1): check what {view.source(0)} computes",
                )
            )
        else:
            faults.append(
                ShapeFault(
                    slot,
                    f"{view.label}: {roles[slot - 1]} {_desc(view, slot)} has {n} values for "
                    f"{c} channels",
                    f"'{view.inputs[slot]}' needs {c} values, one per channel",
                )
            )
    return faults, (x[0], c, *x[2:])


#: op type → rule, for ai.onnx ops.
RULES: dict[str, Callable[[NodeView], RuleResult]] = {
    "Conv": conv,
    "ConvTranspose": conv,
    "MatMul": matmul,
    "Gemm": gemm,
    "Reshape": reshape,
    "Concat": concat,
    "BatchNormalization": channel_vectors,
    "InstanceNormalization": channel_vectors,
    **{
        op: broadcast
        for op in (
            "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Equal", "Greater", "Less",
            "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor", "BitShift", "BitwiseAnd",
            "BitwiseOr", "BitwiseXor", "Max", "Min", "Sum", "Mean", "Where", "PRelu",
        )
    },
}  # fmt: skip
