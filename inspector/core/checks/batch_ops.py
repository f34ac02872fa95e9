"""The batch analysis's rules for ops that compute: elementwise, convolutions and pooling,
MatMul and Gemm, reductions, normalizations, recurrent ops (see :mod:`.batch_rules`)."""

from __future__ import annotations

from inspector.core.checks.batch_rules import (
    Facts,
    Out,
    Rule,
    Track,
    Veto,
    attr,
    int_attr,
    norm,
    only,
)
from inspector.core.graph import Node


def _elementwise(outputs: tuple[int, ...] = (0,), data: tuple[int, ...] = (0,)) -> Rule:
    """Ops computing each element from the same element of input 0 (and scalar parameters)."""

    def rule(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
        only(tracks, data)
        t = tracks[0]
        return {o: Track(t.axis) for o in outputs}

    return rule


def _image(outputs: tuple[int, ...] = (0,), data: tuple[int, ...] = (0,)) -> Rule:
    """Ops on [N, C, ...] tensors: every ``data`` input holds the batch on axis 0."""

    def rule(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
        only(tracks, data, "a weight or parameter")
        for i in data:
            if i < len(node.inputs) and node.inputs[i] and i not in tracks:
                raise Veto(f"also takes '{node.inputs[i]}', whose batch would stay fixed")
        if any(t.axis != 0 for t in tracks.values()):
            raise Veto("takes it on an axis other than N")
        return {o: Track(0) for o in outputs}

    return rule


def _broadcast(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    present = [i for i, n in enumerate(node.inputs) if n]
    ranks = {i: p.rank(node.inputs[i]) for i in present}
    r = max(ranks.values())
    axes = {i: t.axis + r - ranks[i] for i, t in tracks.items()}
    if len(set(axes.values())) > 1:
        raise Veto("broadcasts it against itself on different axes")
    b = next(iter(axes.values()))
    for i in present:
        if i in tracks:
            continue
        pos = b - (r - ranks[i])
        shape = p.shape(node.inputs[i]) or ()
        if pos >= 0 and shape[pos] != 1:
            raise Veto(
                f"combines it with '{node.inputs[i]}', whose dim {pos} ({shape[pos]}) would not "
                "follow a new batch size"
            )
    return {0: Track(b)}


def _matmul(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0, 1), "a zero point")
    ra, rb = p.rank(node.inputs[0]), p.rank(node.inputs[1])
    r = max(ra, rb)
    if ra < 2 or rb < 2:
        raise Veto("multiplies by a vector")
    out: set[int] = set()
    if 1 in tracks:
        ax = tracks[1].axis
        if ax >= rb - 2:
            kind = "a weight: its dim is contracted" if ax == rb - 2 else "its columns"
            raise Veto(f"takes it as the second operand, {kind}", (1,))
        out.add(ax + r - rb)
    if 0 in tracks:
        ax = tracks[0].axis
        if ax == ra - 1:
            raise Veto("contracts over it", (0,))
        out.add(r - 2 if ax == ra - 2 else ax + r - ra)
    if len(out) > 1:
        raise Veto("puts the batches of its operands on different axes")
    b = out.pop()
    if b < r - 2:  # a stacked axis: the other operand must broadcast there
        for i, rk in ((0, ra), (1, rb)):
            if i not in tracks and b - (r - rk) >= 0:
                d = (p.shape(node.inputs[i]) or ())[b - (r - rk)]
                if d != 1:
                    raise Veto(f"stacks it against '{node.inputs[i]}' ({d} there)")
    return {0: Track(b)}


def _gemm(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,), "B or C (a weight)")
    if int_attr(node, "transA", 0) or tracks[0].axis != 0:
        raise Veto("contracts over it (transA)")
    if len(node.inputs) > 2 and node.inputs[2]:
        c = p.shape(node.inputs[2])
        if c is None or (len(c) == 2 and c[0] != 1):
            raise Veto(f"adds C '{node.inputs[2]}', whose dim 0 would not follow the batch")
    return {0: Track(0)}


def _reduce(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,), "its axes")
    a = tracks[0].axis
    rank = p.rank(node.inputs[0])
    arg = node.op_type in ("ArgMax", "ArgMin")  # one axis attribute, default 0
    axes = [int_attr(node, "axis", 0)] if arg else p.axes(node, 1)
    if not axes:
        if int_attr(node, "noop_with_empty_axes", 0):
            return {0: Track(a)}
        raise Veto("reduces over every axis")
    axes = [norm(x, rank) for x in axes]
    if a in axes:
        raise Veto("reduces over it")
    keep = int_attr(node, "keepdims", 1)
    return {0: Track(a if keep else a - sum(x < a for x in axes))}


def _along_axis(attr: str, default: int, outputs: tuple[int, ...] = (0,)) -> Rule:
    """Ops working along one axis (TopK, CumSum, LpNormalization): fine unless it is the batch."""

    def rule(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
        only(tracks, (0,), "a parameter")
        rank = p.rank(node.inputs[0])
        if node.op_type == "CumSum":
            axis = p.ints(node.inputs[1], "axis")[0]
        else:
            axis = int_attr(node, attr, default)
        if norm(axis, rank) == tracks[0].axis:
            raise Veto("works along it")
        return {o: Track(tracks[0].axis) for o in outputs}

    return rule


def _softmax(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,))
    a = tracks[0].axis
    old = p.opset < 13  # before 13 the input is seen as 2-D: [prod(:axis), prod(axis:)]
    axis = norm(int_attr(node, "axis", 1 if old else -1), p.rank(node.inputs[0]))
    if a == axis or (old and a > axis):
        raise Veto("normalizes over it")
    return {0: Track(a)}


def _layer_norm(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,), "its scale or bias")
    a = tracks[0].axis
    if a >= norm(int_attr(node, "axis", -1), p.rank(node.inputs[0])):
        raise Veto("normalizes over it")
    return {o: Track(a) for o in range(len(node.outputs))}


def _mvn(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,))
    axes = attr(node, "axes", [0, 2, 3])
    rank = p.rank(node.inputs[0])
    if tracks[0].axis in [norm(int(x), rank) for x in axes]:  # type: ignore[union-attr]
        raise Veto("normalizes over it")
    return {0: Track(tracks[0].axis)}


def _batch_norm(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    if int_attr(node, "training_mode", 0) or any(node.outputs[1:]):
        raise Veto("computes statistics over the batch (training mode)")
    return _image()(p, node, tracks)


def _resize(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,), "scales or sizes")
    a = tracks[0].axis
    if attr(node, "axes", None) is not None:
        raise Veto("resizes selected axes")
    ins = list(node.inputs) + [""] * 4
    if node.op_type == "Upsample":
        scales = attr(node, "scales", None)
        if scales is None:
            arr = p.const(ins[1])
            scales = None if arr is None else arr.reshape(-1).tolist()
    elif p.opset < 11:
        arr = p.const(ins[1])
        scales = None if arr is None else arr.reshape(-1).tolist()
    else:
        if ins[3]:
            raise Veto("resizes to fixed sizes")
        arr = p.const(ins[2])
        scales = None if arr is None else arr.reshape(-1).tolist()
    if not isinstance(scales, list) or len(scales) <= a or float(scales[a]) != 1.0:
        raise Veto("scales it, or takes its scales at run time")
    return {0: Track(a)}


def _pad(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,), "pads or a constant value")
    rank = p.rank(node.inputs[0])
    pads = attr(node, "pads", None)
    if p.opset >= 11:
        pads = p.ints(node.inputs[1], "pads")
    axes = list(range(rank))
    if len(node.inputs) > 3 and node.inputs[3]:
        axes = [norm(x, rank) for x in p.ints(node.inputs[3], "axes")]
    if not isinstance(pads, list) or len(pads) != 2 * len(axes):
        raise Veto("has no pads for every axis")
    a = tracks[0].axis
    if a in axes:
        k = axes.index(a)
        if pads[k] != 0 or pads[k + len(axes)] != 0:
            raise Veto("pads it")
    return {0: Track(a)}


def _onehot(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,), "depth or values")
    at = norm(int_attr(node, "axis", -1), p.rank(node.inputs[0]) + 1)
    a = tracks[0].axis
    return {0: Track(a if a < at else a + 1)}


def _trilu(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,), "its diagonal")
    if tracks[0].axis >= p.rank(node.inputs[0]) - 2:
        raise Veto("takes it as a matrix axis")
    return {0: Track(tracks[0].axis)}


def _quantize(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,), "a scale or zero point")
    scale = p.shape(node.inputs[1])
    a = tracks[0].axis
    per_axis = scale is None or (len(scale) >= 1 and scale != (1,))
    if per_axis and norm(int_attr(node, "axis", 1), p.rank(node.inputs[0])) == a:
        raise Veto("quantizes per element along it")
    return {0: Track(a)}


def _recurrent(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    """LSTM / GRU / RNN. layout 0: X [seq, batch, in], states [dirs, batch, hidden],
    Y [seq, dirs, batch, hidden]; layout 1: the batch first everywhere."""
    layout = int_attr(node, "layout", 0)
    x_axis, y_axis = (1, 2) if layout == 0 else (0, 0)
    state_axis = 1 if layout == 0 else 0
    where = {0: x_axis, 4: 0, 5: state_axis, 6: state_axis}
    for i, t in tracks.items():
        if i not in where:
            raise Veto(f"takes it as weights (input {i})", (i,))
        if t.axis == where[i]:
            continue
        if i == 0:
            raise Veto(f"takes it as X's dim {t.axis}, not the batch (layout {layout})", (i,))
        raise Veto(
            f"takes it as an initial state, whose dim {t.axis} is "
            f"{'num_directions' if t.axis == 1 - state_axis else 'hidden_size'}, not the batch",
            (i,),
        )
    for i in where:
        if i < len(node.inputs) and node.inputs[i] and i not in tracks:
            raise Veto(f"also takes '{node.inputs[i]}', whose batch would stay fixed")
    return {0: Track(y_axis), 1: Track(state_axis), 2: Track(state_axis)}


_UNARY = [
    "Abs",
    "Acos",
    "Acosh",
    "Asin",
    "Asinh",
    "Atan",
    "Atanh",
    "BitwiseNot",
    "Cast",
    "Ceil",
    "Celu",
    "Cos",
    "Cosh",
    "Elu",
    "Erf",
    "Exp",
    "Floor",
    "Gelu",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "IsInf",
    "IsNaN",
    "LeakyRelu",
    "Log",
    "Mish",
    "Neg",
    "Not",
    "Reciprocal",
    "Relu",
    "Round",
    "Selu",
    "Shrink",
    "Sigmoid",
    "Sign",
    "Sin",
    "Sinh",
    "Softplus",
    "Softsign",
    "Sqrt",
    "Tan",
    "Tanh",
    "ThresholdedRelu",
]


_BROADCAST = [
    "Add",
    "And",
    "BitShift",
    "BitwiseAnd",
    "BitwiseOr",
    "BitwiseXor",
    "Div",
    "Equal",
    "Greater",
    "GreaterOrEqual",
    "Less",
    "LessOrEqual",
    "Max",
    "Mean",
    "Min",
    "Mod",
    "Mul",
    "Or",
    "Pow",
    "PRelu",
    "Sub",
    "Sum",
    "Where",
    "Xor",
]


_IMAGE = [
    "AveragePool",
    "Conv",
    "ConvInteger",
    "ConvTranspose",
    "DepthToSpace",
    "GlobalAveragePool",
    "GlobalLpPool",
    "GlobalMaxPool",
    "GroupNormalization",
    "InstanceNormalization",
    "LRN",
    "LpPool",
    "SpaceToDepth",
]


_REDUCE = [
    "ArgMax",
    "ArgMin",
    "ReduceL1",
    "ReduceL2",
    "ReduceLogSum",
    "ReduceLogSumExp",
    "ReduceMax",
    "ReduceMean",
    "ReduceMin",
    "ReduceProd",
    "ReduceSum",
    "ReduceSumSquare",
]


COMPUTE_RULES: dict[str, Rule] = {
    **{op: _elementwise() for op in _UNARY},
    **{op: _broadcast for op in _BROADCAST},
    **{op: _image() for op in _IMAGE},
    **{op: _reduce for op in _REDUCE},
    "Clip": _elementwise(),
    "CastLike": _elementwise(),
    "Dropout": _elementwise((0, 1)),
    "MaxPool": _image((0, 1)),
    "GridSample": _image(data=(0, 1)),
    "BatchNormalization": _batch_norm,
    "MatMul": _matmul,
    "MatMulInteger": _matmul,
    "Gemm": _gemm,
    "TopK": _along_axis("axis", -1, (0, 1)),
    "CumSum": _along_axis("axis", 0),
    "LpNormalization": _along_axis("axis", -1),
    "Softmax": _softmax,
    "LogSoftmax": _softmax,
    "Hardmax": _softmax,
    "LayerNormalization": _layer_norm,
    "MeanVarianceNormalization": _mvn,
    "Resize": _resize,
    "Upsample": _resize,
    "Pad": _pad,
    "OneHot": _onehot,
    "Trilu": _trilu,
    "QuantizeLinear": _quantize,
    "DequantizeLinear": _quantize,
    "LSTM": _recurrent,
    "GRU": _recurrent,
    "RNN": _recurrent,
}
