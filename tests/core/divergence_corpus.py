"""A corpus of model pairs for the numeric first divergence (issue 16, acceptance 2).

Each case is an original model and a copy with ONE seeded numeric change, and the node of the
original where the two runs must first part:

* a perturbed constant: a float initializer (scaled by 1.2-2x per element, plus a small shift,
  so a variance stays positive) or a float ``Constant`` node's value; the node that first
  reads the initializer, or the ``Constant`` node itself, must be named;
* the operands of a non-commutative op swapped (Sub, Div, and MatMul where both are square);
* an attribute changed: an epsilon (BatchNormalization, LayerNormalization), an axis (Softmax,
  LogSoftmax) or a slope (LeakyRelu, Elu); that node must be named.

The originals come from four generators built with ``onnx.helper`` (an MLP, a small CNN, an
attention block of MatMul/Softmax chains, residual blocks) at several seeded sizes, and from the
onnx wheel's ``pytorch-converted`` models (moved from opset 6 to 13, PRelu slopes reshaped to
broadcast as they did at opset 6). Every copy passes ``onnx.checker`` and strict shape
inference, with the same output shapes as its original; changes that would break that are left
out of the corpus, not counted as misses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper, version_converter

from tests.model_zoo import shipped_data_dir

OPSET = 17
F = TensorProto.FLOAT
SWAPPABLE = ("Sub", "Div")  # any broadcast is symmetric, so the swap keeps every shape
EPSILON_OPS = ("BatchNormalization", "LayerNormalization", "InstanceNormalization")
AXIS_OPS = ("Softmax", "LogSoftmax")
SLOPE_OPS = ("LeakyRelu", "Elu")


@dataclass(frozen=True)
class DivergenceCase:
    """One original, its changed copy, and the node of the original where they must part."""

    name: str  # "attention2/swap:scores"
    original: Path
    changed: Path
    change: str  # in words: "perturbed initializer 'W1'"
    expected: int  # node index in the original (the same index in the copy)
    expected_label: str  # "scores (MatMul)"


# ------------------------------------------------------------------------------- generators


class _Builder:
    """Nodes and initializers of one generated graph, with seeded weights."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[TensorProto] = []

    def weight(self, name: str, shape: tuple[int, ...], scale: float = 0.5) -> str:
        data = (self.rng.standard_normal(shape) * scale).astype(np.float32)
        self.inits.append(numpy_helper.from_array(data, name))
        return name

    def const(self, name: str, data: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(data, np.float32), name))
        return name

    def node(self, op: str, inputs: list[str], name: str, **attrs: object) -> str:
        self.nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def model(self, graph_name: str, x_shape: list[int], out: str) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes,
            graph_name,
            [helper.make_tensor_value_info("x", F, x_shape)],
            [helper.make_tensor_value_info(out, F, None)],
            self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        model.graph.output[0].CopyFrom(inferred.graph.output[0])  # the output's shape declared
        return model

    def batch_norm(self, x: str, name: str, channels: int) -> str:
        scale = self.const(f"{name}.scale", self.rng.uniform(0.5, 1.5, channels))
        bias = self.weight(f"{name}.bias", (channels,))
        mean = self.weight(f"{name}.mean", (channels,), 0.1)
        var = self.const(f"{name}.var", self.rng.uniform(0.5, 1.5, channels))
        return self.node("BatchNormalization", [x, scale, bias, mean, var], name, epsilon=1e-5)


def mlp(seed: int) -> onnx.ModelProto:
    b = _Builder(seed)
    width = first = int(b.rng.integers(6, 16))
    h = "x"
    for i in range(int(b.rng.integers(2, 4))):
        nxt = int(b.rng.integers(6, 16))
        h = b.node("MatMul", [h, b.weight(f"W{i}", (width, nxt))], f"mm{i}")
        h = b.node("Add", [h, b.weight(f"b{i}", (nxt,))], f"add{i}")
        if i == 0:  # a normalisation written out: two non-commutative ops
            h = b.node("Sub", [h, b.weight("mu", (nxt,))], "center")
            h = b.node("Div", [h, b.const("sigma", b.rng.uniform(0.5, 2.0, nxt))], "scale")
        act = ("Relu", "Tanh", "LeakyRelu", "Sigmoid")[(seed + i) % 4]
        h = b.node(act, [h], f"act{i}", **({"alpha": 0.1} if act == "LeakyRelu" else {}))
        width = nxt
    out = b.node("Softmax", [h], "softmax", axis=-1)
    return b.model("mlp", [1, first], out)


def cnn(seed: int) -> onnx.ModelProto:
    b = _Builder(seed)
    side, c1, c2, classes = (
        int(b.rng.integers(lo, hi)) for lo, hi in ((8, 13), (4, 9), (4, 9), (3, 7))
    )
    h = b.node("Conv", ["x", b.weight("conv1.w", (c1, 3, 3, 3)), b.weight("conv1.b", (c1,))],
               "conv1", pads=[1, 1, 1, 1])  # fmt: skip
    h = b.node("Relu", [b.batch_norm(h, "bn1", c1)], "relu1")
    h = b.node("MaxPool", [h], "pool", kernel_shape=[2, 2], strides=[2, 2])
    h = b.node("Conv", [h, b.weight("conv2.w", (c2, c1, 3, 3)), b.weight("conv2.b", (c2,))],
               "conv2", pads=[1, 1, 1, 1])  # fmt: skip
    h = b.node("Relu", [h], "relu2")
    h = b.node("Flatten", [b.node("GlobalAveragePool", [h], "gap")], "flatten")
    h = b.node("Gemm", [h, b.weight("fc.w", (c2, classes)), b.weight("fc.b", (classes,))], "fc")
    out = b.node("LogSoftmax", [h], "logsoftmax", axis=1)
    return b.model("cnn", [1, 3, side, side], out)


def attention(seed: int) -> onnx.ModelProto:
    """Two attention blocks; sequence length = width, so swapping a MatMul keeps its shape."""
    b = _Builder(seed)
    d = int(b.rng.integers(4, 9))
    h = "x"
    for blk in range(2):
        p = f"blk{blk}."
        q = b.node("MatMul", [h, b.weight(p + "Wq", (d, d))], p + "q")
        k = b.node("MatMul", [h, b.weight(p + "Wk", (d, d))], p + "k")
        v = b.node("MatMul", [h, b.weight(p + "Wv", (d, d))], p + "v")
        kt = b.node("Transpose", [k], p + "kt", perm=[0, 2, 1])
        s = b.node("MatMul", [q, kt], p + "scores")
        s = b.node("Div", [s, b.const(p + "sqrt_d", np.array(math.sqrt(d)))], p + "scaled")
        s = b.node("Softmax", [s], p + "probs", axis=-1)
        ctx = b.node("MatMul", [s, v], p + "ctx")
        res = b.node("Add", [ctx, h], p + "residual")
        gamma = b.const(p + "ln.gamma", b.rng.uniform(0.5, 1.5, d))
        ln = b.node("LayerNormalization", [res, gamma, b.weight(p + "ln.beta", (d,))], p + "ln",
                    axis=-1, epsilon=1e-5)  # fmt: skip
        h = b.node("MatMul", [ln, b.weight(p + "Wo", (d, d))], p + "out")
    return b.model("attention", [1, d, d], h)


def residual(seed: int) -> onnx.ModelProto:
    b = _Builder(seed)
    c, side = int(b.rng.integers(3, 7)), int(b.rng.integers(5, 9))
    h = "x"
    for blk in range(2):
        p = f"res{blk}."
        y = b.node("Conv", [h, b.weight(p + "conv1.w", (c, c, 3, 3), 0.3)], p + "conv1",
                   pads=[1, 1, 1, 1])  # fmt: skip
        y = b.node("Relu", [b.batch_norm(y, p + "bn1", c)], p + "relu1")
        y = b.node("Sub", [y, b.weight(p + "offset", (c, 1, 1), 0.2)], p + "shift")
        y = b.node("Conv", [y, b.weight(p + "conv2.w", (c, c, 3, 3), 0.3)], p + "conv2",
                   pads=[1, 1, 1, 1])  # fmt: skip
        y = b.batch_norm(y, p + "bn2", c)
        h = b.node("Relu", [b.node("Add", [y, h], p + "add")], p + "relu2")
    return b.model("residual", [1, c, side, side], h)


GENERATORS: dict[str, Callable[[int], onnx.ModelProto]] = {
    "mlp": mlp,
    "cnn": cnn,
    "attention": attention,
    "residual": residual,
}


# ---------------------------------------------------------------------------------- changes

SEEDS = 6  # generated models per generator
PER_MODEL = 4  # changes per generated model (one per shipped model)
PYTORCH_CONVERTED = "pytorch-converted"


def _perturbed(arr: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Every element scaled by 1.2-2x and shifted a little: visible, and the sign kept."""
    shift = 0.05 * (float(np.abs(arr).mean()) if arr.size else 0.0) + 0.01
    return (arr * rng.uniform(1.2, 2.0, arr.shape) + shift).astype(arr.dtype)


def _inferred_shapes(model: onnx.ModelProto) -> dict[str, list]:
    g = onnx.shape_inference.infer_shapes(model, strict_mode=True).graph
    return {
        vi.name: [d.dim_value or d.dim_param for d in vi.type.tensor_type.shape.dim]
        for vi in [*g.value_info, *g.output]
    }


def _candidates(model: onnx.ModelProto) -> dict[str, list[str | int]]:
    """Change kind → its targets (an initializer name, or a node index)."""
    g = model.graph
    read = {name for n in g.node for name in n.input}
    out: dict[str, list[str | int]] = {"init": [], "const": [], "swap": [], "attr": []}
    out["init"] = [t.name for t in g.initializer if t.data_type == F and t.name in read]
    for i, n in enumerate(g.node):
        attrs = {a.name for a in n.attribute}
        if n.op_type == "Constant" and "value" in attrs:
            if helper.get_attribute_value(n.attribute[0]).data_type == F:
                out["const"].append(i)
        elif n.op_type in (*SWAPPABLE, "MatMul") and len(n.input) == 2 and len(set(n.input)) == 2:
            out["swap"].append(i)
        elif n.op_type in (*EPSILON_OPS, *AXIS_OPS, *SLOPE_OPS):
            out["attr"].append(i)
    return {kind: targets for kind, targets in out.items() if targets}


def _set_attribute(node: onnx.NodeProto, name: str, value: float | int) -> None:
    kept = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend([*kept, helper.make_attribute(name, value)])


def _apply(
    model: onnx.ModelProto, kind: str, target: str | int, rng: np.random.Generator
) -> tuple[onnx.ModelProto, str, int] | None:
    """(the changed copy, the change in words, the node that must be named), or None when the
    change does not apply (an axis with no other dim to move to)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    if kind == "init":
        t = next(t for t in g.initializer if t.name == target)
        t.CopyFrom(numpy_helper.from_array(_perturbed(numpy_helper.to_array(t), rng), t.name))
        first = next(i for i, n in enumerate(g.node) if target in n.input)
        return m, f"perturbed initializer '{target}'", first
    index = int(target)
    node = g.node[index]
    if kind == "const":
        t = helper.get_attribute_value(node.attribute[0])
        _set_attribute(
            node, "value", numpy_helper.from_array(_perturbed(numpy_helper.to_array(t), rng))
        )
        return m, f"perturbed the value of Constant #{index}", index
    if kind == "swap":
        node.input[0], node.input[1] = node.input[1], node.input[0]
        return m, f"swapped the operands of {node.op_type} #{index}", index
    if node.op_type in EPSILON_OPS:
        _set_attribute(node, "epsilon", 0.5)
        return m, f"epsilon of {node.op_type} #{index} set to 0.5", index
    if node.op_type in SLOPE_OPS:
        alpha = next((a.f for a in node.attribute if a.name == "alpha"), 0.01)
        _set_attribute(node, "alpha", float(alpha * 3 + 0.2))
        return m, f"alpha of {node.op_type} #{index} changed", index
    shape = _inferred_shapes(model)[node.output[0]]
    axis = next((a.i for a in node.attribute if a.name == "axis"), -1) % len(shape)
    others = [ax for ax, size in enumerate(shape) if ax != axis and size != 1]
    if not others:
        return None
    _set_attribute(node, "axis", int(rng.choice(others)))
    return m, f"axis of {node.op_type} #{index} moved from {axis}", index


def _cases_of(
    name: str, model: onnx.ModelProto, folder: Path, seed: int, count: int
) -> list[DivergenceCase]:
    """Up to ``count`` valid changed copies of ``model``, one change kind after another."""
    rng = np.random.default_rng(seed)
    original = folder / f"{name.replace('/', '_')}.onnx"
    onnx.save(model, original)
    shapes = _inferred_shapes(model)
    candidates = _candidates(model)
    kinds = list(candidates)
    rng.shuffle(kinds)
    cases: list[DivergenceCase] = []
    tries = 0
    while len(cases) < count and any(candidates.values()) and tries < 4 * count:
        kind = kinds[tries % len(kinds)]
        tries += 1
        if not candidates[kind]:
            continue
        target = candidates[kind].pop(int(rng.integers(len(candidates[kind]))))
        applied = _apply(model, kind, target, rng)
        if applied is None:
            continue
        changed, change, expected = applied
        try:
            onnx.checker.check_model(changed)
            same_shapes = _inferred_shapes(changed) == shapes
        except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError):
            continue
        if not same_shapes:  # a swapped MatMul that is not square: not a numeric change
            continue
        case = f"{name}/{kind}:{target}"
        path = folder / f"{case.replace('/', '_').replace(':', '_')}.onnx"
        onnx.save(changed, path)
        node = model.graph.node[expected]
        label = f"{node.name or node.output[0]} ({node.op_type})"
        cases.append(DivergenceCase(case, original, path, change, expected, label))
    return cases


def _prelu_slopes_broadcast(model: onnx.ModelProto) -> onnx.ModelProto:
    """A PRelu slope of shape [C] reshaped to [C, 1, ...]: opset 6 broadcast it along the
    channels, opset 7 and later along the last axis, and the version converter leaves it as it
    was (ONNX Runtime then refuses to broadcast 3 channels against a width of 4)."""
    g = model.graph
    ranks = {vi.name: len(vi.type.tensor_type.shape.dim) for vi in g.input}
    inits = {t.name: t for t in g.initializer}
    for node in (n for n in g.node if n.op_type == "PRelu"):
        slope, rank = inits.get(node.input[1]), ranks.get(node.input[0], 0)
        if slope is not None and len(slope.dims) == 1 and slope.dims[0] > 1 and rank > 2:
            slope.dims[:] = [slope.dims[0]] + [1] * (rank - 2)
            for vi in g.input:  # IR 3: the initializer is also declared as an input
                if vi.name == slope.name:
                    vi.type.tensor_type.shape.CopyFrom(
                        helper.make_tensor_type_proto(F, list(slope.dims)).tensor_type.shape
                    )
    return model


def build_corpus(folder: Path) -> list[DivergenceCase]:
    """Every case, deterministic: the generated models first, then the onnx wheel's."""
    cases: list[DivergenceCase] = []
    for gen_name, generator in GENERATORS.items():
        for seed in range(SEEDS):
            model = generator(seed)
            onnx.checker.check_model(model, full_check=True)
            cases += _cases_of(f"{gen_name}{seed}", model, folder, seed, PER_MODEL)
    shipped = sorted((shipped_data_dir() / PYTORCH_CONVERTED).glob("*/model.onnx"))
    for i, path in enumerate(shipped):
        # Moved to opset 13: ONNX Runtime 1.32 has no kernel for Gemm, PRelu, Add or
        # BatchNormalization at the opset 6 these were written with; every one converts and runs.
        model = _prelu_slopes_broadcast(version_converter.convert_version(onnx.load(path), 13))
        cases += _cases_of(f"pytorch/{path.parent.name}", model, folder, i, 1)
    return cases


def spread(cases: list[DivergenceCase], count: int) -> list[DivergenceCase]:
    """``count`` cases with every kind of change and every source: the first case of each
    (source, kind), the kinds taken in turn."""
    by_kind: dict[str, dict[str, DivergenceCase]] = {}
    for case in cases:
        source, change = case.name.split("/")[0].rstrip("0123456789"), case.name.split("/")[-1]
        by_kind.setdefault(change.split(":")[0], {}).setdefault(source, case)
    turns = [list(firsts.values()) for firsts in by_kind.values()]
    picked = [turn[i] for i in range(max(map(len, turns))) for turn in turns if i < len(turn)]
    return picked[:count]
