"""Models for the ``structure`` tests, each built with onnx.helper: a table of spec violations,
each with what onnx.checker and ONNX Runtime were measured to do with it, and a table of odd
but valid models that both accept.

Verdicts measured with onnx 1.23 and onnxruntime 1.32 (CPU provider); ``tests/core/
test_structure.py`` asserts them again on every run, so a change in either shows up there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from inspector.core.findings import Severity

F = TensorProto.FLOAT
ERROR, WARNING, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO


# ------------------------------------------------------------------------------ model builders


def vi(name: str, t: int = F, shape: tuple = (2,)) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, t, list(shape))


def model(nodes, inputs, outputs, inits=(), opset=17, ir=None, funcs=(), imports=()):
    g = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    m = helper.make_model(
        g,
        opset_imports=[helper.make_opsetid("", opset), *imports],
        functions=list(funcs),
    )
    if ir is not None:
        m.ir_version = ir
    return m


def node(op, ins, outs, name="", domain="", **attrs) -> onnx.NodeProto:
    return helper.make_node(op, ins, outs, name=name, domain=domain, **attrs)


def relu(**kw) -> onnx.ModelProto:
    """x → Relu → y, the smallest valid model; ``kw`` go to :func:`model`."""
    return model([node("Relu", ["x"], ["y"], "r")], [vi("x")], [vi("y")], **kw)


def raw(dt: int, dims: list[int], nbytes: int, name: str = "w") -> TensorProto:
    t = TensorProto(name=name, data_type=dt, dims=dims)
    t.raw_data = b"\x01" * nbytes
    return t


def typed(dt: int, dims: list[int], field: str, values: list) -> TensorProto:
    t = TensorProto(name="w", data_type=dt, dims=dims)
    getattr(t, field).extend(values)
    return t


def consume(t: TensorProto, extra_inits=()) -> onnx.ModelProto:
    """A model whose only node reads initializer ``t`` (Cast for the types Identity lacks)."""
    if t.data_type in (TensorProto.INT4, TensorProto.FLOAT8E4M3FN):
        n = node("Cast", [t.name], ["y"], "use", to=F)
        return model([n], [], [vi("y", F, tuple(t.dims))], [t, *extra_inits], opset=21)
    n = node("Identity", [t.name], ["y"], "use")
    return model([n], [], [vi("y", t.data_type, tuple(t.dims))], [t, *extra_inits])


def unused(t: TensorProto) -> onnx.ModelProto:
    """x → Relu → y, with initializer ``t`` that nothing reads."""
    opset = 21 if t.data_type == TensorProto.INT4 else 17
    return model([node("Relu", ["x"], ["y"], "r")], [vi("x")], [vi("y")], [t], opset=opset)


def sparse(values: TensorProto, indices: list[int], dims: list[int]) -> onnx.ModelProto:
    idx = numpy_helper.from_array(np.array(indices, np.int64), "idx")
    g = helper.make_graph([node("Identity", ["sp"], ["y"], "use")], "g", [], [vi("y", F, dims)])
    g.sparse_initializer.append(helper.make_sparse_tensor(values, idx, dims))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def if_model(then_nodes, then_outputs, before=(), then_inits=()):
    """An If (node 'if') whose then_branch is given; its else_branch copies x."""
    then = helper.make_graph(then_nodes, "then", [], then_outputs, list(then_inits))
    other = helper.make_graph([node("Identity", ["x"], ["e"], "ei")], "else", [], [vi("e")])
    nodes = [*before, node("If", ["c"], ["y"], "if", then_branch=then, else_branch=other)]
    return model(nodes, [vi("x"), vi("c", TensorProto.BOOL, ())], [vi("y")])


LOCAL = [helper.make_opsetid("local", 1)]


def function(name: str, body: list[onnx.NodeProto], opset: int = 17, outputs=("b",)):
    imports = [helper.make_opsetid("", opset), helper.make_opsetid("local", 1)]
    return helper.make_function("local", name, ["a"], list(outputs), body, imports)


def calls(op: str, funcs, called: bool = True, imports=LOCAL) -> onnx.ModelProto:
    """x → (local function ``op``, or Relu when not ``called``) → y, with ``funcs`` defined."""
    n = node(op, ["x"], ["y"], "call", "local") if called else node("Relu", ["x"], ["y"], "call")
    return model([n], [vi("x")], [vi("y")], funcs=funcs, imports=imports)


def with_attribute(op: str, attribute: onnx.AttributeProto, **attrs) -> onnx.ModelProto:
    """x → ``op`` → y, with ``attribute`` appended as is (helper.make_node would check it)."""
    n = node(op, ["x"], ["y"], "n", **attrs)
    n.attribute.append(attribute)
    return model([n], [vi("x")], [vi("y")])


def _with(n: onnx.NodeProto, attribute: onnx.AttributeProto) -> onnx.NodeProto:
    n.attribute.append(attribute)
    return n


def with_ir(m: onnx.ModelProto, ir: int) -> onnx.ModelProto:
    m.ir_version = ir
    return m


def topk(outputs: list[str]) -> onnx.ModelProto:
    k = numpy_helper.from_array(np.array([1], np.int64), "k")
    return model([node("TopK", ["x", "k"], outputs, "top")], [vi("x")], [vi("y")], [k])


def loop_body_reading(name: str) -> onnx.ModelProto:
    body = helper.make_graph(
        [node("Identity", ["cond"], ["co"]), node("Identity", [name], ["vo"])],
        "body",
        [vi("i", TensorProto.INT64, ()), vi("cond", TensorProto.BOOL, ()), vi("v")],
        [vi("co", TensorProto.BOOL, ()), vi("vo")],
    )
    n = node("Loop", ["n", "", "x"], ["y"], "loop", body=body)
    return model([n], [vi("x"), vi("n", TensorProto.INT64, ())], [vi("y")])


def chain(n: int) -> onnx.ModelProto:
    """x → (Add of a weight, Relu) alternating ``n`` nodes → y: half the nodes read a weight."""
    nodes, inits, prev = [], [], "x"
    for i in range(n):
        if i % 2 == 0:
            inits.append(numpy_helper.from_array(np.full(4, i, np.float32), f"w{i}"))
            nodes.append(node("Add", [prev, f"w{i}"], [f"t{i}"], f"add{i}"))
        else:
            nodes.append(node("Relu", [prev], [f"t{i}"], f"relu{i}"))
        prev = f"t{i}"
    return model(nodes, [vi("x", F, (4,))], [vi(prev, F, (4,))], inits)


# --------------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Violation:
    id: str
    build: Callable[[], onnx.ModelProto]
    code: str
    checker: bool  # onnx.checker.check_model(full_check=True) rejects it (measured)
    ort: bool  # ONNX Runtime's session creation rejects it (measured)
    node: int | None = None  # node_index of the finding (None: a tensor or the model)
    tensor: str | None = None
    path: tuple[str, ...] = ()
    severity: Severity | None = None  # when neither rejects it: warning or info

    @property
    def expected(self) -> Severity:
        return ERROR if self.checker or self.ort else self.severity or WARNING


FN = ("function", "local:F")
THEN = ("if", "then_branch")
V = Violation
VIOLATIONS = [
    # graph topology
    V("cycle", lambda: model(
        [node("Relu", ["x2"], ["a"], "n1"), node("Add", ["a", "x"], ["b"], "n2"),
         node("Relu", ["b"], ["x2"], "n3"), node("Relu", ["a"], ["y"], "n4")],
        [vi("x")], [vi("y")]), "graph-cycle", True, True, node=1),
    V("self-loop", lambda: model([node("Add", ["x", "y"], ["y"], "n")], [vi("x")], [vi("y")]),
      "node-reads-own-output", True, True, node=0, tensor="y"),
    V("undefined-input", lambda: model([node("Add", ["x", "z"], ["y"], "n")], [vi("x")],
      [vi("y")]), "undefined-input", True, True, node=0, tensor="z"),
    V("out-of-order", lambda: model(
        [node("Neg", ["a"], ["y"], "second"), node("Relu", ["x"], ["a"], "first")],
        [vi("x")], [vi("y")]), "node-order", True, False, node=0, tensor="a"),
    V("subgraph-reads-later-value", lambda: model(
        [node("If", ["c"], ["y0"], "if",
              then_branch=helper.make_graph([node("Neg", ["late"], ["t"])], "t", [], [vi("t")]),
              else_branch=helper.make_graph([node("Neg", ["x"], ["e"])], "e", [], [vi("e")])),
         node("Relu", ["x"], ["late"], "late"), node("Add", ["y0", "late"], ["y"], "add")],
        [vi("x"), vi("c", TensorProto.BOOL, ())], [vi("y")]),
      "node-order", True, False, node=0, tensor="late"),
    V("subgraph-undefined", lambda: if_model([node("Neg", ["q"], ["t"])], [vi("t")]),
      "undefined-input", True, True, node=0, tensor="q", path=THEN),
    V("loop-body-undefined", lambda: loop_body_reading("nowhere"), "undefined-input", True, True,
      node=1, tensor="nowhere", path=("loop", "body")),
    V("subgraph-cycle", lambda: if_model(
        [node("Neg", ["b"], ["a"]), node("Neg", ["a"], ["b"]), node("Neg", ["a"], ["t"])],
        [vi("t")]), "graph-cycle", True, True, node=0, path=THEN),
    # one definition per name
    V("two-nodes-one-output", lambda: model(
        [node("Relu", ["x"], ["y"], "a"), node("Neg", ["x"], ["y"], "b")], [vi("x")], [vi("y")]),
      "ssa-violation", True, True, node=1, tensor="y"),
    V("node-writes-input", lambda: model(
        [node("Relu", ["x"], ["x"], "a"), node("Neg", ["x"], ["y"], "b")], [vi("x")], [vi("y")]),
      "ssa-violation", True, True, node=0, tensor="x"),
    V("node-writes-initializer", lambda: model(
        [node("Relu", ["x"], ["w"], "a"), node("Add", ["x", "w"], ["y"], "b")], [vi("x")],
        [vi("y")], [numpy_helper.from_array(np.ones(2, np.float32), "w")]),
      "ssa-violation", True, True, node=0, tensor="w"),
    V("node-lists-output-twice", lambda: topk(["y", "y"]), "ssa-violation", True, True, node=0,
      tensor="y"),
    V("subgraph-redefines-outer", lambda: if_model(
        [node("Neg", ["x"], ["a"]), node("Neg", ["a"], ["t"])], [vi("t")],
        before=[node("Relu", ["x"], ["a"], "outer")]),
      "ssa-violation", True, True, node=0, tensor="a", path=THEN),
    V("duplicate-initializer", lambda: model(
        [node("Add", ["x", "w"], ["y"], "b")], [vi("x")], [vi("y")],
        [numpy_helper.from_array(np.ones(2, np.float32), "w"),
         numpy_helper.from_array(np.zeros(2, np.float32), "w")]),
      "duplicate-initializer", True, False, tensor="w"),
    V("duplicate-input", lambda: model([node("Add", ["x", "x"], ["y"], "b")], [vi("x"), vi("x")],
      [vi("y")]), "duplicate-input", True, True, tensor="x"),
    # outputs and declarations
    V("output-not-produced", lambda: model([node("Relu", ["x"], ["y"], "r")], [vi("x")],
      [vi("y"), vi("z")]), "output-not-produced", True, True, tensor="z"),
    V("subgraph-returns-outer", lambda: if_model([], [vi("x")]), "output-not-produced", True,
      True, tensor="x", path=THEN),
    V("function-output-not-produced", lambda: calls("F", [function(
        "F", [node("Relu", ["a"], ["c"])])], called=False), "output-not-produced", False, True,
      tensor="b", path=FN),
    V("input-without-type", lambda: model([node("Relu", ["x"], ["y"], "r")],
      [onnx.ValueInfoProto(name="x")], [vi("y")]), "missing-type", True, True, tensor="x"),
    V("input-empty-type", lambda: model([node("Relu", ["x"], ["y"], "r")],
      [onnx.ValueInfoProto(name="x", type=onnx.TypeProto())], [vi("y")]), "missing-type", True,
      True, tensor="x"),
    V("input-no-element-type", lambda: model([node("Relu", ["x"], ["y"], "r")],
      [vi("x", TensorProto.UNDEFINED)], [vi("y")]), "missing-type", True, True, tensor="x"),
    V("output-without-type", lambda: model([node("Relu", ["x"], ["y"], "r")], [vi("x")],
      [onnx.ValueInfoProto(name="y")]), "missing-type", True, False, tensor="y"),
    V("empty-graph", lambda: model([], [], []), "empty-graph", False, True),
    V("no-outputs-inputs-only", lambda: model([], [vi("x")], []), "empty-graph", False, True),
    V("constants-only", lambda: model(
        [node("Constant", [], ["c"], "k", value=numpy_helper.from_array(np.ones(2, np.float32)))],
        [], []), "empty-graph", False, True),
    V("no-outputs", lambda: model([node("Relu", ["x"], ["y"], "r")], [vi("x")], []),
      "no-outputs", False, False),
    V("passthrough", lambda: model([], [vi("x")], [vi("x")]), "empty-graph", False, False,
      severity=INFO),
    V("duplicate-node-name", lambda: model(
        [node("Relu", ["x"], ["a"], "r"), node("Neg", ["a"], ["y"], "r")], [vi("x")], [vi("y")]),
      "duplicate-node-name", False, True, node=1),
    V("subgraph-duplicate-node-name", lambda: if_model(
        [node("Neg", ["x"], ["t0"], "q"), node("Neg", ["t0"], ["t"], "q")], [vi("t")]),
      "duplicate-node-name", False, True, node=1, path=THEN),
    V("function-duplicate-node-name", lambda: calls("F", [function(
        "F", [node("Relu", ["a"], ["c"], "q"), node("Relu", ["c"], ["b"], "q")])]),
      "duplicate-node-name", False, True, node=1, path=FN),
    V("uncalled-function-duplicate-node-name", lambda: calls("F", [function(
        "F", [node("Relu", ["a"], ["c"], "q"), node("Relu", ["c"], ["b"], "q")])], called=False),
      "duplicate-node-name", False, False, node=1, path=FN),
    # model-local functions
    V("recursive-function", lambda: calls("F", [function("F", [node("F", ["a"], ["b"], "",
      "local")])]), "recursive-function", True, True, node=0, path=FN),
    V("mutually-recursive-functions", lambda: calls("F", [
        function("F", [node("G", ["a"], ["b"], "", "local")]),
        function("G", [node("F", ["a"], ["b"], "", "local")])]),
      "recursive-function", True, True, node=0, path=FN),
    V("uncalled-recursive-function", lambda: calls("F", [function("F", [node(
        "F", ["a"], ["b"], "", "local")])], called=False), "recursive-function", True, True,
      node=0, path=FN),
    V("duplicate-function", lambda: calls("F", [function("F", [node("Relu", ["a"], ["b"])]),
      function("F", [node("Neg", ["a"], ["b"])])]), "duplicate-function", True, True),
    V("function-opset-mismatch", lambda: calls("F", [function(
        "F", [node("Relu", ["a"], ["b"])], opset=13)]), "function-opset-mismatch", True, False,
      node=0, path=FN),
    V("function-undefined-input", lambda: calls("F", [function(
        "F", [node("Add", ["a", "zz"], ["b"])])]), "undefined-input", True, True, node=0,
      tensor="zz", path=FN),
    V("uncalled-function-undefined-input", lambda: calls("F", [function(
        "F", [node("Add", ["a", "zz"], ["b"])])], called=False), "undefined-input", True, False,
      node=0, tensor="zz", path=FN),
    V("function-two-nodes-one-output", lambda: calls("F", [function(
        "F", [node("Neg", ["a"], ["b"]), node("Relu", ["a"], ["b"])])]), "ssa-violation", True,
      True, node=1, tensor="b", path=FN),
    V("function-out-of-order", lambda: calls("F", [function(
        "F", [node("Neg", ["c"], ["b"]), node("Relu", ["a"], ["c"])])]), "node-order", True, True,
      node=0, tensor="c", path=FN),
    V("function-cycle", lambda: calls("F", [function(
        "F", [node("Add", ["a", "c"], ["b"]), node("Relu", ["b"], ["c"])])]), "graph-cycle", True,
      True, node=0, path=FN),
    # stored data
    V("raw-short", lambda: consume(raw(F, [2, 3], 20)), "initializer-size-mismatch", True, True,
      tensor="w"),
    V("raw-long", lambda: consume(raw(F, [2, 3], 28)), "initializer-size-mismatch", False, True,
      tensor="w"),
    V("raw-short-partial-element", lambda: consume(raw(F, [2, 3], 23)),
      "initializer-size-mismatch", True, True, tensor="w"),
    V("raw-long-partial-element", lambda: consume(raw(F, [2, 3], 25)),
      "initializer-size-mismatch", False, True, tensor="w"),
    V("raw-bool-short", lambda: consume(raw(TensorProto.BOOL, [3], 2)),
      "initializer-size-mismatch", True, True, tensor="w"),
    V("raw-int4-long", lambda: consume(raw(TensorProto.INT4, [3], 3)),
      "initializer-size-mismatch", False, True, tensor="w"),
    V("raw-int4-short", lambda: consume(raw(TensorProto.INT4, [5], 1)),
      "initializer-size-mismatch", True, True, tensor="w"),
    V("raw-float8-long", lambda: consume(raw(TensorProto.FLOAT8E4M3FN, [3], 6)),
      "initializer-size-mismatch", False, True, tensor="w"),
    V("raw-string", lambda: consume(raw(TensorProto.STRING, [2], 4)), "initializer-invalid", True,
      True, tensor="w"),
    V("raw-scalar-empty", lambda: consume(raw(F, [], 0)), "initializer-invalid", True, True,
      tensor="w"),
    V("unused-raw-long", lambda: unused(raw(F, [2], 12)), "initializer-size-mismatch", False,
      False, tensor="w"),
    V("unused-int4-long", lambda: unused(raw(TensorProto.INT4, [3], 3)),
      "initializer-size-mismatch", False, False, tensor="w"),
    V("unused-raw-short", lambda: unused(raw(F, [2], 3)), "initializer-size-mismatch", True,
      False, tensor="w"),
    V("float-data-short", lambda: consume(typed(F, [2, 3], "float_data", [1.0] * 5)),
      "initializer-size-mismatch", True, True, tensor="w"),
    V("int32-data-long", lambda: consume(typed(TensorProto.INT32, [2], "int32_data", [1, 2, 3])),
      "initializer-size-mismatch", False, True, tensor="w"),
    V("string-data-short", lambda: consume(typed(TensorProto.STRING, [3], "string_data",
      [b"a", b"b"])), "initializer-size-mismatch", True, True, tensor="w"),
    V("int4-unpacked", lambda: consume(typed(TensorProto.INT4, [3], "int32_data", [1, 2, 3])),
      "initializer-size-mismatch", False, True, tensor="w"),
    V("no-data", lambda: consume(TensorProto(name="w", data_type=F, dims=[2, 3])),
      "initializer-invalid", True, True, tensor="w"),
    V("two-data-fields", lambda: consume(TensorProto(
        name="w", data_type=F, dims=[2], float_data=[1, 2], raw_data=b"\0" * 8)),
      "initializer-invalid", True, False, tensor="w"),
    V("wrong-data-field", lambda: consume(typed(F, [2], "int64_data", [1, 2])),
      "initializer-invalid", True, True, tensor="w"),
    V("zero-elements-with-data", lambda: consume(raw(F, [0], 4)), "initializer-invalid", True,
      True, tensor="w"),
    V("no-data-type", lambda: model([node("Add", ["x", "w"], ["y"], "r")], [vi("x")], [vi("y")],
      [TensorProto(name="w", dims=[2], raw_data=b"\0" * 8)]), "initializer-invalid", True, True,
      tensor="w"),
    V("negative-dim", lambda: model([node("Add", ["x", "w"], ["y"], "r")], [vi("x")], [vi("y")],
      [TensorProto(name="w", data_type=F, dims=[-2])]), "initializer-invalid", True, True,
      tensor="w"),
    V("unnamed-initializer", lambda: unused(numpy_helper.from_array(np.ones(2, np.float32), "")),
      "initializer-invalid", True, False),
    V("constant-raw-long", lambda: model([node("Constant", [], ["y"], "k", value=raw(
        F, [2], 12, "v"))], [], [vi("y")]), "initializer-size-mismatch", False, True, node=0),
    V("subgraph-initializer-raw-long", lambda: if_model(
        [node("Add", ["x", "sw"], ["t"])], [vi("t")], then_inits=[raw(F, [2], 12, "sw")]),
      "initializer-size-mismatch", False, True, tensor="sw", path=THEN),
    V("sparse-values-short", lambda: sparse(raw(F, [2], 4, "sp"), [0, 3], [2, 3]),
      "initializer-size-mismatch", True, True, tensor="sp"),
    V("sparse-index-count", lambda: sparse(raw(F, [2], 8, "sp"), [0, 3, 4], [2, 3]),
      "initializer-invalid", True, True, tensor="sp"),
    V("sparse-index-out-of-range", lambda: sparse(raw(F, [2], 8, "sp"), [0, 30], [2, 3]),
      "initializer-invalid", True, True, tensor="sp"),
    # opsets and IR
    V("opset-imported-twice", lambda: relu(imports=[helper.make_opsetid("", 17)]),
      "duplicate-opset-import", False, False),
    V("opset-imported-twice-differently", lambda: relu(imports=[helper.make_opsetid("", 13)]),
      "duplicate-opset-import", False, False),
    V("opset-alias-imported-twice", lambda: relu(imports=[helper.make_opsetid("ai.onnx", 17)]),
      "duplicate-opset-import", False, False),
    V("ml-domain-not-imported", lambda: model(
        [node("Relu", ["x"], ["a"], "r"), node("Normalizer", ["a"], ["y"], "nz", "ai.onnx.ml")],
        [vi("x")], [vi("y")]), "domain-not-imported", True, False, node=1),
    V("microsoft-domain-not-imported", lambda: model(
        [node("Relu", ["x"], ["a"], "r"), node("Gelu", ["a"], ["y"], "g", "com.microsoft")],
        [vi("x")], [vi("y")]), "domain-not-imported", True, False, node=1),
    V("custom-domain-not-imported", lambda: model([node("Foo", ["x"], ["y"], "f", "com.example")],
      [vi("x")], [vi("y")]), "domain-not-imported", True, True, node=0),
    V("function-domain-not-imported", lambda: calls("F", [function(
        "F", [node("Relu", ["a"], ["b"])])], imports=()), "domain-not-imported", True, True,
      node=0),
    V("default-domain-not-imported", lambda: helper.make_model(helper.make_graph(
        [node("Relu", ["x"], ["y"], "r")], "g", [vi("x")], [vi("y")]),
        opset_imports=[helper.make_opsetid("ai.onnx.ml", 3)]), "domain-not-imported", True, False,
      node=0),
    V("ir-too-old-for-opset", lambda: relu(ir=7), "ir-version-too-old", False, False,
      severity=INFO),
    V("ir-too-old-for-functions", lambda: with_ir(calls("F", [function(
        "F", [node("Relu", ["a"], ["b"])])]), 7), "ir-version-too-old", False, False,
      severity=INFO),
    V("ir-2-with-opsets", lambda: relu(ir=2, opset=1), "ir-version-too-old", True, True),
    V("ir-3-initializer-not-input", lambda: model([node("Add", ["x", "w"], ["y"], "b")],
      [vi("x")], [vi("y")], [numpy_helper.from_array(np.ones(2, np.float32), "w")], opset=8,
      ir=3), "initializer-not-input", True, False, tensor="w"),
    # nodes against their schemas
    V("attribute-type", lambda: model([node("LeakyRelu", ["x"], ["y"], "n", alpha=1)], [vi("x")],
      [vi("y")]), "attribute-type-mismatch", True, True, node=0),
    V("attribute-type-list", lambda: model([node("Transpose", ["x"], ["y"], "n", perm=[0.0])],
      [vi("x")], [vi("y")]), "attribute-type-mismatch", True, True, node=0),
    V("missing-attribute", lambda: model([node("Cast", ["x"], ["y"], "n")], [vi("x")], [vi("y")]),
      "missing-attribute", True, True, node=0),
    V("if-without-else", lambda: model([node("If", ["c"], ["y"], "if", then_branch=helper.
        make_graph([node("Neg", ["x"], ["t"])], "t", [], [vi("t")]))],
        [vi("x"), vi("c", TensorProto.BOOL, ())], [vi("y")]), "missing-attribute", True, True,
      node=0),
    V("unknown-attribute", lambda: model([node("Relu", ["x"], ["y"], "n", foo=1)], [vi("x")],
      [vi("y")]), "unknown-attribute", True, True, node=0),
    V("uncalled-function-unknown-attribute", lambda: calls("F", [function(
        "F", [node("Relu", ["a"], ["b"], foo=2)])], called=False), "unknown-attribute", True,
      False, node=0, path=FN),
    V("attribute-without-name", lambda: with_attribute("Relu", onnx.AttributeProto(
        name="", type=onnx.AttributeProto.INT, i=1)), "invalid-attribute", True, True, node=0),
    V("attribute-without-type", lambda: with_attribute("LeakyRelu", onnx.AttributeProto(
        name="alpha", f=0.1)), "invalid-attribute", True, True, node=0),
    V("attribute-twice", lambda: with_attribute("LeakyRelu", helper.make_attribute("alpha", 0.2),
      alpha=0.1), "invalid-attribute", True, True, node=0),
    V("too-few-inputs", lambda: model([node("Add", ["x"], ["y"], "n")], [vi("x")], [vi("y")]),
      "wrong-input-count", True, True, node=0),
    V("too-many-inputs", lambda: model([node("Relu", ["x", "x"], ["y"], "n")], [vi("x")],
      [vi("y")]), "wrong-input-count", True, True, node=0),
    V("required-input-empty", lambda: model([node("Add", ["x", ""], ["y"], "n")], [vi("x")],
      [vi("y")]), "wrong-input-count", True, True, node=0),
    V("too-many-outputs", lambda: model([node("Relu", ["x"], ["y", "z"], "n")], [vi("x")],
      [vi("y")]), "wrong-output-count", True, True, node=0),
    V("too-few-outputs", lambda: topk(["y"]), "wrong-output-count", True, True, node=0),
    V("required-output-empty", lambda: topk(["y", ""]), "wrong-output-count", True, True, node=0),
    V("deprecated-op", lambda: model([node("Upsample", ["x", "s"], ["y"], "u")],
      [vi("x", F, (1, 1, 2, 2))], [vi("y", F, (1, 1, 4, 4))],
      [numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "s")], opset=13),
      "deprecated-op", True, True, node=0),
    V("node-without-inputs-or-outputs", lambda: model(
        [node("Relu", ["x"], ["y"], "r"), node("Foo", [], [], "f", "com.example")], [vi("x")],
        [vi("y")], imports=[helper.make_opsetid("com.example", 1)]), "invalid-node", True, False,
      node=1),
    V("node-domain-ai-onnx", lambda: model([node("Relu", ["x"], ["y"], "r", "ai.onnx")],
      [vi("x")], [vi("y")]), "domain-not-imported", True, False, node=0),
    V("attribute-two-values", lambda: with_attribute("Relu", onnx.AttributeProto(
        name="__x", type=onnx.AttributeProto.FLOAT, f=0.1, i=3)), "invalid-attribute", True, True,
      node=0),
    V("attribute-type-and-value-differ", lambda: with_attribute("LeakyRelu", onnx.AttributeProto(
        name="alpha", type=onnx.AttributeProto.FLOAT, i=3)), "invalid-attribute", True, True,
      node=0),
    V("function-call-attribute-without-name", lambda: model(
        [_with(node("F", ["x"], ["y"], "call", "local"), onnx.AttributeProto(
            name="", type=onnx.AttributeProto.INT, i=1))], [vi("x")], [vi("y")],
        funcs=[function("F", [node("Relu", ["a"], ["b"])])], imports=LOCAL),
      "invalid-attribute", True, True, node=0),
    V("custom-op-attribute-twice", lambda: model(
        [_with(node("Foo", ["x"], ["y"], "f", "com.example", a=1), helper.make_attribute("a", 2))],
        [vi("x")], [vi("y")], imports=[helper.make_opsetid("com.example", 1)]),
      "invalid-attribute", True, True, node=0),
    V("empty-op-type", lambda: model([node("", ["x"], ["y"], "n")], [vi("x")], [vi("y")]),
      "invalid-node", True, True, node=0),
    # only onnx.checker's own message says it
    V("if-branches-disagree", lambda: model([node("If", ["c"], ["y"], "if",
        then_branch=helper.make_graph([node("Neg", ["x"], ["t"])], "t", [], [vi("t")]),
        else_branch=helper.make_graph([node("Neg", ["x"], ["e"]), node("Neg", ["x"], ["e2"])],
                                      "e", [], [vi("e"), vi("e2")]))],
        [vi("x"), vi("c", TensorProto.BOOL, ())], [vi("y")]), "onnx-checker-failed", True, True,
      node=0),
    V("sparse-input-to-identity", lambda: sparse(raw(F, [2], 8, "sp"), [0, 3], [2, 3]),
      "onnx-checker-failed", True, False, node=0),
]  # fmt: skip


# Odd but valid: onnx.checker and ONNX Runtime accept each, and nothing here may say otherwise.
VALID = {
    "omitted-optional-input": lambda: model(
        [node("Clip", ["x", "", "mx"], ["y"], "c")], [vi("x")], [vi("y")],
        [numpy_helper.from_array(np.array(1, np.float32), "mx")]),
    "initializer-as-input-ir3": lambda: model(
        [node("Add", ["x", "w"], ["y"], "b")], [vi("x"), vi("w")], [vi("y")],
        [numpy_helper.from_array(np.ones(2, np.float32), "w")], opset=8, ir=3),
    "initializer-with-default-input": lambda: model(
        [node("Add", ["x", "w"], ["y"], "b")], [vi("x"), vi("w")], [vi("y")],
        [numpy_helper.from_array(np.ones(2, np.float32), "w")]),
    "output-is-initializer": lambda: model(
        [node("Relu", ["x"], ["y"], "r")], [vi("x")], [vi("y"), vi("w")],
        [numpy_helper.from_array(np.ones(2, np.float32), "w")]),
    "output-listed-twice": lambda: model([node("Relu", ["x"], ["y"], "r")], [vi("x")],
                                         [vi("y"), vi("y")]),
    "raw-int4": lambda: consume(raw(TensorProto.INT4, [3], 2)),
    "raw-float8": lambda: consume(raw(TensorProto.FLOAT8E4M3FN, [3], 3)),
    "int4-packed-int32-data": lambda: consume(typed(TensorProto.INT4, [3], "int32_data", [1, 2])),
    "float16-in-int32-data": lambda: consume(
        typed(TensorProto.FLOAT16, [3], "int32_data", [1, 2, 3])),
    "zero-elements": lambda: consume(raw(F, [0, 3], 0)),
    "function-called-twice": lambda: model(
        [node("F", ["x"], ["t"], "c1", "local"), node("F", ["t"], ["y"], "c2", "local")],
        [vi("x")], [vi("y")], funcs=[function("F", [node("Relu", ["a"], ["b"], "q")])],
        imports=LOCAL),
    "same-name-in-graph-and-subgraph": lambda: if_model([node("Neg", ["x"], ["t"], "if")],
                                                        [vi("t")]),
    "unnamed-nodes": lambda: model([node("Relu", ["x"], ["a"]), node("Neg", ["a"], ["y"])],
                                   [vi("x")], [vi("y")]),
    "loop-body-input-shadows-outer": lambda: loop_body_reading("v"),
    "loop-body-returns-its-input": lambda: model(
        [node("Loop", ["n", "", "x"], ["y"], "loop", body=helper.make_graph(
            [node("Identity", ["cond"], ["co"])], "body",
            [vi("i", TensorProto.INT64, ()), vi("cond", TensorProto.BOOL, ()), vi("v")],
            [vi("co", TensorProto.BOOL, ()), vi("v")]))],
        [vi("x"), vi("n", TensorProto.INT64, ())], [vi("y")]),
    "subgraph-returns-own-initializer": lambda: if_model(
        [], [vi("sw")], then_inits=[numpy_helper.from_array(np.ones(2, np.float32), "sw")]),
    "value-info-twice": lambda: _value_info_twice(),
    "ai-onnx-import-default-domain-node": lambda: helper.make_model(helper.make_graph(
        [node("Relu", ["x"], ["y"], "r")], "g", [vi("x")], [vi("y")]),
        opset_imports=[helper.make_opsetid("ai.onnx", 17)]),
}  # fmt: skip


def _value_info_twice() -> onnx.ModelProto:
    m = model([node("Relu", ["x"], ["a"], "r"), node("Neg", ["a"], ["y"], "n")], [vi("x")],
              [vi("y")])  # fmt: skip
    m.graph.value_info.extend([vi("a"), vi("a")])
    return m


# ---------------------------------------------------------------------------------- mutants

_NAMES = ("", "x", "y", "a", "w", "ghost", "t0", "a/b")


def _graphs(g: onnx.GraphProto) -> list[onnx.GraphProto]:
    out = [g]
    for n in g.node:
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                out += _graphs(a.g)
            elif a.type == onnx.AttributeProto.GRAPHS:
                for sg in a.graphs:
                    out += _graphs(sg)
    return out


def _mutate(m: onnx.ModelProto, rng) -> None:
    """One random structural change, anywhere in the model's graphs."""
    g = rng.choice(_graphs(m.graph))
    written = [o for n in g.node for o in n.output]
    k = rng.randrange(12)
    if k == 0 and g.node:
        n = rng.choice(g.node)
        if n.input:
            n.input[rng.randrange(len(n.input))] = rng.choice([*_NAMES, *written])
    elif k == 1 and g.node:
        n = rng.choice(g.node)
        if n.output:
            n.output[rng.randrange(len(n.output))] = rng.choice([*_NAMES, *written])
    elif k == 2 and g.initializer:
        t = rng.choice(g.initializer)
        t.data_type = rng.choice([0, 1, 7, 8, 16, 21, 22])
    elif k == 3 and g.initializer:
        rng.choice(g.initializer).dims.append(rng.choice([-1, 0, 3]))
    elif k == 4 and g.initializer:
        t = rng.choice(g.initializer)
        t.raw_data = t.raw_data[: rng.randrange(len(t.raw_data) + 1)] + b"\x01" * rng.randrange(3)
    elif k == 5 and g.node:
        a = rng.choice(g.node).attribute.add(name=rng.choice(["", "alpha", "axis", "__x"]))
        a.type = rng.randrange(15)
    elif k == 6:
        m.opset_import.add(domain=rng.choice(["", "ai.onnx", "local"]), version=rng.choice([1, 13]))
    elif k == 7 and len(g.node) > 1:
        i, j = rng.sample(range(len(g.node)), 2)
        a, b = onnx.NodeProto(), onnx.NodeProto()
        a.CopyFrom(g.node[i])
        b.CopyFrom(g.node[j])
        g.node[i].CopyFrom(b)
        g.node[j].CopyFrom(a)
    elif k == 8:
        m.ir_version = rng.choice([2, 3, 7])
    elif k == 9 and g.node:
        n = rng.choice(g.node)
        n.op_type = rng.choice(["", "Relu", "F", "Constant", "Upsample"])
        n.domain = rng.choice(["", "local", "ai.onnx"])
    elif k == 10:
        f = m.functions.add(name=rng.choice(["F", "G"]), domain="local", input=["a"], output=["b"])
        f.node.append(node(rng.choice(["F", "G", "Relu"]), ["a"], ["b"], "", "local"))
        f.opset_import.add(domain="", version=17)
    elif k == 11 and g.node:
        del g.node[rng.randrange(len(g.node))]


def mutants(count: int, seed: int = 11) -> list[tuple[str, onnx.ModelProto]]:
    """``count`` models made from the valid ones and the violations by 1 to 3 random changes."""
    import random

    rng = random.Random(seed)
    bases = [build() for build in VALID.values()] + [v.build() for v in VIOLATIONS]
    out = []
    for i in range(count):
        m = onnx.ModelProto()
        m.CopyFrom(rng.choice(bases))
        for _ in range(rng.randint(1, 3)):
            _mutate(m, rng)
        out.append((f"mutant/{seed}/{i}", m))
    return out
