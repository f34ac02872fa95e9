"""Pairs of models for the structural diff's tests: a model, and a copy of it with known changes.

* :func:`three_changes` changes one float attribute, one weight value and one node's op type,
  each on a different node and none of them changing a type or shape downstream, and says on
  which node (by index in the copy) each landed.
* :func:`disguise` renames every node and tensor (graph inputs and outputs included) and lays
  the nodes out in another valid topological order, so that only the structure can pair them.
* :func:`chain_model` builds a model of ``n`` nodes with onnx.helper (for the timing test).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# op type → the op it becomes: same input and output types and shapes, another function
SWAPS = {"Relu": "Sigmoid", "Sigmoid": "Relu", "Tanh": "Sigmoid", "Gelu": "Relu", "Abs": "Neg"}
FLOAT_ATTRIBUTES = ("epsilon", "alpha", "beta", "bias")


@dataclass(frozen=True)
class Changed:
    """Where each change landed, by node index in the original (= the copy's before disguise)."""

    attribute: int
    initializer: int
    op_type: int
    initializer_name: str
    attribute_name: str
    old_op: str
    new_op: str


def three_changes(model: onnx.ModelProto) -> tuple[onnx.ModelProto, Changed]:
    """A copy of ``model`` with one float attribute, one weight and one op type changed."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    g = copy.graph
    consumers: dict[str, list[int]] = {}
    for i, n in enumerate(g.node):
        for t in n.input:
            consumers.setdefault(t, []).append(i)
    used: set[int] = set()

    op_node = next(i for i, n in enumerate(g.node) if n.op_type in SWAPS and n.domain == "")
    old_op = g.node[op_node].op_type
    g.node[op_node].op_type = SWAPS[old_op]
    used.add(op_node)

    attr_node, attr_name = next(
        (i, a.name)
        for i, n in enumerate(g.node)
        if i not in used
        for a in n.attribute
        if a.name in FLOAT_ATTRIBUTES and a.type == onnx.AttributeProto.FLOAT
    )
    a = next(x for x in g.node[attr_node].attribute if x.name == attr_name)
    a.f = a.f * 2 + 0.25
    used.add(attr_node)

    init = next(
        t
        for t in g.initializer
        if len(consumers.get(t.name, ())) == 1
        and consumers[t.name][0] not in used
        and t.data_type == TensorProto.FLOAT
        and np.prod(t.dims) > 0
    )
    values = numpy_helper.to_array(init).copy()
    values.reshape(-1)[0] += 0.5
    init.CopyFrom(numpy_helper.from_array(values, init.name))
    init_node = consumers[init.name][0]
    return copy, Changed(attr_node, init_node, op_node, init.name, attr_name, old_op, SWAPS[old_op])


def disguise(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list[int]]:
    """A copy with no node names, every tensor renamed, and the nodes in another topological
    order (the latest-ready node first); also ``order``: original index → index in the copy."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    g = copy.graph
    names: dict[str, str] = {"": ""}

    def new(t: str) -> str:
        if t not in names:
            names[t] = f"t{len(names)}"
        return names[t]

    nodes = list(g.node)
    produced = {t: i for i, n in enumerate(nodes) for t in n.output if t}
    deps = [{produced[t] for t in n.input if t in produced} for n in nodes]
    users: list[list[int]] = [[] for _ in nodes]
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)
    waiting = [len(d) for d in deps]
    ready = [i for i, w in enumerate(waiting) if w == 0]
    order: list[int] = []
    while ready:
        i = ready.pop()  # the latest-ready first: another valid order than the file's
        order.append(i)
        for u in users[i]:
            waiting[u] -= 1
            if waiting[u] == 0:
                ready.append(u)
    assert len(order) == len(nodes), "the model's graph has a cycle"
    del g.node[:]
    for i in order:
        n = onnx.NodeProto()
        n.CopyFrom(nodes[i])
        n.name = ""
        n.input[:] = [new(t) for t in n.input]
        n.output[:] = [new(t) for t in n.output]
        g.node.append(n)
    for vi in [*g.input, *g.output, *g.value_info]:
        vi.name = new(vi.name)
    for t in g.initializer:
        t.name = new(t.name)
    position = {old: pos for pos, old in enumerate(order)}
    return copy, [position[i] for i in range(len(nodes))]


def small_cnn() -> onnx.ModelProto:
    """Conv → BatchNormalization → Relu → two branches (LeakyRelu, Tanh) → Add → Gemm, by hand."""
    rng = np.random.default_rng(0)

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node(
            "BatchNormalization", ["c", "s", "o", "mu", "var"], ["bn"], name="bn", epsilon=1e-5
        ),
        helper.make_node("Relu", ["bn"], ["r"], name="relu"),
        helper.make_node("LeakyRelu", ["r"], ["l"], name="leaky", alpha=0.2),
        helper.make_node("Tanh", ["r"], ["t"], name="tanh"),
        helper.make_node("Add", ["l", "t"], ["sum"], name="add"),
        helper.make_node("Flatten", ["sum"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["y"], name="fc", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "small_cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])],
        [
            weight("w", 4, 3, 3, 3),
            weight("b", 4),
            weight("s", 4),
            weight("o", 4),
            weight("mu", 4),
            numpy_helper.from_array(np.ones(4, np.float32), "var"),
            weight("fc_w", 10, 256),
            weight("fc_b", 10),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model, full_check=True)
    return model


def chain_model(n: int, seed: int = 0) -> onnx.ModelProto:
    """``n`` nodes: repeated blocks of MatMul (a 4×4 weight), Add (a bias), Relu and a skip Add,
    so that many nodes share an op type and only their neighbours tell them apart."""
    rng = np.random.default_rng(seed)
    nodes, inits = [], []
    x = "x"
    i = 0
    while len(nodes) < n:
        w, b = f"w{i}", f"b{i}"
        inits += [
            numpy_helper.from_array(rng.standard_normal((4, 4)).astype(np.float32), w),
            numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), b),
        ]
        nodes += [
            helper.make_node("MatMul", [x, w], [f"m{i}"], name=f"matmul_{i}"),
            helper.make_node("Add", [f"m{i}", b], [f"a{i}"], name=f"add_{i}"),
            helper.make_node("Relu", [f"a{i}"], [f"r{i}"], name=f"relu_{i}"),
            helper.make_node("Add", [f"r{i}", x], [f"s{i}"], name=f"skip_{i}"),
        ]
        x = f"s{i}"
        i += 1
    graph = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, 4])],
        inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


# One transformer block written out (attention by hand): both torch exporters take it, unlike
# nn.TransformerEncoderLayer, whose attention the TorchScript exporter cannot trace
# (scaled_dot_product_attention's is_causal comes out a tensor) — snippet for export_in_child.
TORCH_BLOCK_CODE = """
class Block(nn.Module):
    def __init__(self, d=32, heads=4):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm1 = nn.LayerNorm(d)
        self.norm2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, 64), nn.GELU(), nn.Linear(64, d))

    def forward(self, tokens):
        b, t, d = tokens.shape
        q, k, v = self.qkv(self.norm1(tokens)).chunk(3, dim=-1)
        q, k, v = (z.reshape(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        att = torch.softmax(q @ k.transpose(-2, -1) * (d // self.heads) ** -0.5, dim=-1)
        x = tokens + self.proj((att @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.norm2(x))

model = Block()
args = (torch.randn(1, 10, 32),)
export_kwargs = {"input_names": ["tokens"], "output_names": ["encoded"]}
"""
