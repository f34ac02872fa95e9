"""The ``structure`` family against the real onnx.checker and the real ONNX Runtime.

Each violation is built with onnx.helper; the table records what onnx.checker
(``check_model(full_check=True)``) and ONNX Runtime (``InferenceSession`` on the CPU provider,
created in child processes by :func:`tests.core.runtime_truth.label_cases`) do with it, and the
test asserts both, so a new onnx or onnxruntime that changes its mind fails here first. Our
finding must carry the violation's code on its node or tensor, and the model must get an error
exactly when one of the two rejects it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector.core.checks import run_checks, structure
from inspector.core.findings import Finding, Severity, has_errors
from inspector.core.graph import open_model
from inspector.core.tasks import Cancelled, CancelToken
from tests.bad_models import external_model
from tests.core.runtime_truth import Case, label_cases
from tests.model_zoo import shipped_model_id, shipped_models

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
}  # fmt: skip


def _value_info_twice() -> onnx.ModelProto:
    m = model([node("Relu", ["x"], ["a"], "r"), node("Neg", ["a"], ["y"], "n")], [vi("x")],
              [vi("y")])  # fmt: skip
    m.graph.value_info.extend([vi("a"), vi("a")])
    return m


# ----------------------------------------------------------------------------------- fixtures


def checker_rejects(m: onnx.ModelProto) -> bool:
    try:
        onnx.checker.check_model(m, full_check=True)
    except Exception:
        return True
    return False


@pytest.fixture(scope="module")
def ort_rejects() -> dict[str, bool]:
    """Case id → whether ONNX Runtime's session creation fails, for every model built here."""
    cases = [Case(v.id, v.build()) for v in VIOLATIONS]
    cases += [Case(f"valid/{k}", build()) for k, build in VALID.items()]
    return {k: label.kind != "ok" for k, label in label_cases(cases).items()}


def check_proto(m: onnx.ModelProto, tmp_path, name: str = "m") -> list[Finding]:
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(m.SerializeToString())
    return structure.check(open_model(path))


# -------------------------------------------------------------------------------------- tests


def test_the_table_has_one_case_per_code_and_unique_ids():
    ids = [v.id for v in VIOLATIONS]
    assert len(ids) == len(set(ids))
    assert {v.code for v in VIOLATIONS} >= {
        "graph-cycle", "node-reads-own-output", "undefined-input", "node-order", "ssa-violation",
        "duplicate-initializer", "duplicate-input", "output-not-produced", "missing-type",
        "empty-graph", "no-outputs", "duplicate-node-name", "recursive-function",
        "duplicate-function", "function-opset-mismatch", "initializer-size-mismatch",
        "initializer-invalid", "duplicate-opset-import", "domain-not-imported",
        "ir-version-too-old", "initializer-not-input", "attribute-type-mismatch",
        "missing-attribute", "unknown-attribute", "invalid-attribute", "wrong-input-count",
        "wrong-output-count", "deprecated-op", "invalid-node", "onnx-checker-failed",
    }  # fmt: skip


@pytest.mark.parametrize("v", VIOLATIONS, ids=lambda v: v.id)
def test_violation(v: Violation, ort_rejects, tmp_path):
    m = v.build()
    assert checker_rejects(m) is v.checker, "onnx.checker's verdict changed"
    assert ort_rejects[v.id] is v.ort, "ONNX Runtime's verdict changed"
    findings = check_proto(m, tmp_path)
    hits = [f for f in findings if f.code == v.code]
    assert hits, f"no {v.code} in {[(f.code, f.message) for f in findings]}"
    where = [(f.node_index, f.tensor, f.path) for f in hits]
    if v.node is not None or v.tensor is not None or v.path:
        assert any(
            (v.node is None or f.node_index == v.node)
            and (v.tensor is None or f.tensor == v.tensor)
            and f.path == v.path
            for f in hits
        ), where
    assert {Severity(f.severity) for f in hits} == {v.expected}
    assert has_errors(findings) is (v.checker or v.ort)
    if v.node is not None:
        f = next(f for f in hits if f.node_index == v.node)
        graph = open_model_graph(m, tmp_path, f.path)
        assert f.op_type == graph.nodes[v.node].op_type and f.node == graph.nodes[v.node].name


def open_model_graph(m: onnx.ModelProto, tmp_path, path: tuple[str, ...]):
    p = tmp_path / "again.onnx"
    p.write_bytes(m.SerializeToString())
    graph = open_model(p).find_graph(path)
    assert graph is not None
    return graph


@pytest.mark.parametrize("key", sorted(VALID))
def test_valid_oddities_get_no_warning(key: str, ort_rejects, tmp_path):
    m = VALID[key]()
    assert not checker_rejects(m) and not ort_rejects[f"valid/{key}"]
    findings = check_proto(m, tmp_path)
    assert [(f.code, f.message) for f in findings if f.severity is not INFO] == []


def test_a_cycle_names_its_nodes(tmp_path):
    v = next(v for v in VIOLATIONS if v.id == "cycle")
    cycle = [f for f in check_proto(v.build(), tmp_path) if f.code == "graph-cycle"]
    assert sorted(f.node for f in cycle) == ["n1", "n2", "n3"]  # n4 only reads the cycle
    assert all("n1" in f.message and "n2" in f.message and "n3" in f.message for f in cycle)


def test_every_violation_of_one_model_is_reported(tmp_path):
    """onnx.checker names one fault; the family names each, on its own node or tensor."""
    w = numpy_helper.from_array(np.ones(2, np.float32), "w")
    m = model(
        [
            node("Relu", ["b"], ["a"], "on_cycle_1"),
            node("Neg", ["a"], ["b"], "on_cycle_2"),
            node("Add", ["x", "missing"], ["c"], "reads_nothing"),
            node("Relu", ["x"], ["c"], "writes_c_again", foo=1),
            node("Cast", ["x"], ["d"], "dup"),
            node("Neg", ["x"], ["e"], "dup"),
        ],
        [vi("x")],
        [vi("c"), vi("never")],
        [w, w, raw(F, [2, 3], 20, "short")],
        imports=[helper.make_opsetid("", 13)],
    )
    assert checker_rejects(m)
    codes = {(f.code, f.node_index, f.tensor) for f in check_proto(m, tmp_path)}
    assert codes >= {
        ("graph-cycle", 0, "b"),
        ("graph-cycle", 1, "a"),
        ("undefined-input", 2, "missing"),
        ("ssa-violation", 3, "c"),
        ("unknown-attribute", 3, None),
        ("missing-attribute", 4, None),
        ("duplicate-node-name", 5, None),
        ("duplicate-initializer", None, "w"),
        ("initializer-size-mismatch", None, "short"),
        ("output-not-produced", None, "never"),
        ("duplicate-opset-import", None, None),
    }


def test_shipped_models_that_load_have_no_structure_error(tmp_path):
    """The onnx wheel's shipped models that onnx.checker and ONNX Runtime accept: no error."""
    paths = shipped_models()
    labels = label_cases([Case(shipped_model_id(p), onnx.load(p)) for p in paths])
    accepted = 0
    for p in paths:
        m = onnx.load(p)
        if labels[shipped_model_id(p)].kind != "ok" or checker_rejects(m):
            continue
        accepted += 1
        errors = [f for f in structure.check(open_model(p)) if f.severity is ERROR]
        assert errors == [], shipped_model_id(p)
    assert accepted >= 100


def test_run_checks_says_each_fault_once(tmp_path):
    """Other families meet some of these faults too (edges through onnx's inference, which
    verifies the schema first; runtime_support's domain lookup; the checker's one message)."""

    def codes_at(m: onnx.ModelProto, index: int) -> list[str]:
        path = tmp_path / "m.onnx"
        path.write_bytes(m.SerializeToString())
        return sorted(f.code for f in run_checks(open_model(path)) if f.node_index == index)

    unknown_attr = next(v for v in VIOLATIONS if v.id == "unknown-attribute").build()
    assert codes_at(unknown_attr, 0) == ["unknown-attribute"]
    ml = next(v for v in VIOLATIONS if v.id == "ml-domain-not-imported").build()
    assert codes_at(ml, 1) == ["domain-not-imported"]
    unknown_op = model([node("Frobnicate", ["x"], ["y"], "f")], [vi("x")], [vi("y")])
    assert codes_at(unknown_op, 0) == ["unsupported-op"]  # not also onnx-checker-failed


def test_graphs_attributes_are_checked(tmp_path):
    """A custom op's GRAPHS attribute (which the graph model does not build) is checked too."""
    body = helper.make_graph([node("Neg", ["ghost"], ["t"], "inner")], "b", [], [vi("t")])
    n = node("Custom", ["x"], ["y"], "custom", "com.example")
    n.attribute.append(helper.make_attribute("bodies", [body]))
    m = model([n], [vi("x")], [vi("y")], imports=[helper.make_opsetid("com.example", 1)])
    hits = [f for f in check_proto(m, tmp_path) if f.code == "undefined-input"]
    assert [(f.path, f.node_index, f.tensor) for f in hits] == [
        (("custom", "bodies[0]"), 0, "ghost")
    ]


def test_external_data_is_checked_through_the_path(tmp_path):
    """onnx.checker needs the file's folder to find external data: no spurious error."""
    assert structure.check(open_model(external_model(tmp_path / "ext"))) == []


def test_a_huge_cycle_ends_with_a_bounded_report(tmp_path):
    m = chain(20_000)
    m.graph.node[0].input[0] = m.graph.node[-1].output[0]  # the last node feeds the first
    cycle = [f for f in check_proto(m, tmp_path) if f.code == "graph-cycle"]
    assert len(cycle) == 200 and all("cycle of 20000 nodes" in f.message for f in cycle)
    assert [f.node_index for f in cycle] == list(range(200))


def test_cancel_stops_the_check(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_bytes(chain(100).SerializeToString())
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        structure.check(open_model(path), cancel=token)


def test_check_json_exits_1_with_structure_codes(tmp_path):
    m = model(
        [node("Relu", ["x"], ["a"], "r"), node("Neg", ["ghost"], ["y"], "r")],
        [vi("x")],
        [vi("y")],
        imports=[helper.make_opsetid("", 17)],
    )
    path = tmp_path / "broken.onnx"
    path.write_bytes(m.SerializeToString())
    r = subprocess.run(
        [sys.executable, "-m", "inspector", "check", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 1, r.stderr
    codes = {f["code"] for f in json.loads(r.stdout)["findings"]}
    assert {"undefined-input", "duplicate-node-name", "duplicate-opset-import"} <= codes


@pytest.mark.slow
def test_onnx_node_test_models_get_no_error_where_the_checker_accepts(tmp_path):
    """Every node test model of the onnx wheel (about 1,900): none that onnx.checker accepts gets
    a structure error; each it rejects gets one."""
    from onnx.backend.test.case.node import collect_testcases

    cases = collect_testcases(None)
    for case in cases:
        findings = check_proto(case.model, tmp_path)
        assert has_errors(findings) is checker_rejects(case.model), case.name
    assert len(cases) > 1000


@pytest.mark.slow
@pytest.mark.parametrize("broken", [False, True], ids=["clean", "broken"])
def test_a_100k_node_chain_checks_in_under_a_second_of_cpu(broken: bool, tmp_path):
    """CPU time of the family without onnx.checker (process time: steady on a shared machine)."""
    m = chain(100_000)
    if broken:  # the checker rejects it, so every pass runs
        m.graph.node[-1].input[0] = m.graph.node[-1].output[0]
    path = tmp_path / "chain.onnx"
    path.write_bytes(m.SerializeToString())
    loaded = open_model(path, infer=False)
    s = structure._Structure(loaded, None)
    start = time.process_time()
    s.run(full=broken)
    elapsed = time.process_time() - start
    print(f"\n100k nodes, {'all passes' if broken else 'checker accepted'}: {elapsed:.3f} s CPU")
    assert elapsed < 1.0
    assert [f.code for f in s.findings] == (["node-reads-own-output"] if broken else [])
