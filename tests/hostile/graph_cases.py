"""Hostile files at the graph level: spec violations, deep nesting, hostile names, odd values,
and big graphs (see :mod:`tests.hostile` for the categories)."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.hostile.base import (
    OPSET,
    CaseWriter,
    graph_attribute,
    model,
    model_bytes,
    node,
    varint,
    vi,
    wire_field,
)


def structure_cases(w: CaseWriter) -> None:
    relu = lambda i, o, n="": node("Relu", [i], [o], n)  # noqa: E731
    w.add("self_loop", model([node("Add", ["x", "y"], ["y"], "a")]), refused=False)
    w.add(
        "cycle_a_b_a",
        model(
            [
                relu("x2", "a", "A"),
                relu("a", "b", "B"),
                node("Add", ["x", "b"], ["x2"], "C"),
                relu("a", "y"),
            ]
        ),
        False,
    )
    w.add("cycle_only", model([relu("b", "a", "A"), relu("a", "b", "B"), relu("b", "y")]), False)
    w.add("undefined_input", model([node("Add", ["x", "ghost"], ["y"], "add")]), False)
    w.add("two_writers", model([relu("x", "y", "r1"), node("Neg", ["x"], ["y"], "r2")]), False)
    w0 = numpy_helper.from_array(np.ones(2, np.float32), "w")
    w.add(
        "duplicate_initializer",
        model([node("Add", ["x", "w"], ["y"])], initializers=[w0, w0]),
        False,
    )
    w.add("duplicate_input", model([relu("x", "y")], inputs=[vi("x"), vi("x")]), False)
    w.add("output_not_produced", model([relu("x", "t")], outputs=[vi("y")]), False)
    w.add("output_is_input", model([], outputs=[vi("x")]), False)
    w.add("no_nodes_no_outputs", model([], outputs=[]), False)
    w.add("input_also_produced", model([relu("x", "x"), relu("x", "y")]), False)
    w.add(
        "initializer_also_produced",
        model([relu("x", "w"), node("Add", ["x", "w"], ["y"])], initializers=[w0]),
        False,
    )
    w.add("node_without_outputs", model([node("Relu", ["x"], []), relu("x", "y")]), False)
    w.add("empty_op_type", model([node("", ["x"], ["y"], "nameless_op")]), False)
    w.add("unknown_op", model([node("NoSuchOp", ["x"], ["y"])]), False)
    w.add(
        "unknown_domain",
        model(
            [helper.make_node("Relu", ["x"], ["y"], domain="no.such")],
            opsets=[*OPSET, helper.make_opsetid("no.such", 1)],
        ),
        False,
    )
    w.add("domain_not_imported", model([helper.make_node("Relu", ["x"], ["y"], domain="d")]), False)
    w.add(
        "missing_required_attribute", model([node("Transpose", ["x"], ["y"], perm=[5, 7])]), False
    )
    w.add("wrong_arity", model([node("Add", ["x"], ["y"])]), False)

    # model-local functions
    def fn(name: str, body: list[onnx.NodeProto]) -> onnx.FunctionProto:
        return helper.make_function("local", name, ["a"], ["b"], body, OPSET)

    local = [*OPSET, helper.make_opsetid("local", 1)]
    call = lambda f: helper.make_node(f, ["x"], ["y"], domain="local")  # noqa: E731
    selfcall = fn("F", [helper.make_node("F", ["a"], ["b"], domain="local")])
    w.add("function_calls_itself", model([call("F")], opsets=local, functions=[selfcall]), False)
    mutual = [
        fn("F", [helper.make_node("G", ["a"], ["b"], domain="local")]),
        fn("G", [helper.make_node("F", ["a"], ["b"], domain="local")]),
    ]
    w.add("functions_call_each_other", model([call("F")], opsets=local, functions=mutual), False)
    twice = [fn("F", [node("Relu", ["a"], ["b"])]), fn("F", [node("Neg", ["a"], ["b"])])]
    w.add("function_defined_twice", model([call("F")], opsets=local, functions=twice), False)
    w.add(
        "function_body_undefined",
        model([call("F")], opsets=local, functions=[fn("F", [node("Relu", ["zz"], ["b"])])]),
        False,
    )
    # initializer data
    for label, raw in (("short", 4), ("long", 12), ("not_multiple", 7), ("empty", 0)):
        t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2], raw_data=b"\0" * raw)
        w.add(f"raw_data_{label}", model([node("Add", ["x", "w"], ["y"])], initializers=[t]), False)
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2], float_data=[1.0, 2.0, 3.0])
    w.add("float_data_count", model([node("Add", ["x", "w"], ["y"])], initializers=[t]), False)
    t = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    t.raw_data = b"\x00" * 8
    w.add("raw_and_float_data", model([node("Add", ["x", "w"], ["y"])], initializers=[t]), False)
    t = helper.make_tensor("w", TensorProto.STRING, [2], [b"a", b"b"])
    t.raw_data = b"\x00" * 8
    w.add("string_with_raw_data", model([node("Identity", ["w"], ["y"])], initializers=[t]), False)
    t = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2], int64_data=[1, 2])
    w.add("int64_data_in_float", model([node("Add", ["x", "w"], ["y"])], initializers=[t]), False)
    t = helper.make_tensor("w", TensorProto.FLOAT, [2], [1.0, 2.0])
    t.segment.begin, t.segment.end = 0, 1
    w.add("segmented_tensor", model([node("Add", ["x", "w"], ["y"])], initializers=[t]), False)
    # opsets and IR
    w.add(
        "opset_twice", model([relu("x", "y")], opsets=[*OPSET, helper.make_opsetid("", 13)]), False
    )
    w.add("opset_zero", model([relu("x", "y")], opsets=[helper.make_opsetid("", 0)]), False)
    w.add("opset_future", model([relu("x", "y")], opsets=[helper.make_opsetid("", 10**6)]), False)
    w.add("opset_negative", model([relu("x", "y")], opsets=[helper.make_opsetid("", -5)]), False)
    m = model([relu("x", "y")])
    m.ir_version = 10**9
    w.add("ir_future", m, False)
    m = model([relu("x", "y")])
    m.ir_version = -1
    w.add("ir_negative", m)
    m = model([relu("x", "y")])
    m.ClearField("ir_version")
    w.add("ir_missing", m)
    m = model([relu("x", "y")])
    m.ClearField("opset_import")
    w.add("no_opset_import", m)
    m = model([relu("x", "y")])
    m.ClearField("graph")
    w.add("no_graph", m, True)
    # subgraphs
    then_g = helper.make_graph([relu("ghost", "t")], "then", [], [vi("t")])
    else_g = helper.make_graph([relu("t2", "t2")], "else", [], [vi("t2")])
    w.add(
        "subgraph_undefined_and_cycle",
        model(
            [node("If", ["c"], ["y"], "if", then_branch=then_g, else_branch=else_g)],
            inputs=[vi("c", [], TensorProto.BOOL)],
        ),
        False,
    )
    w.add("if_without_branches", model([node("If", ["x"], ["y"], "if")]), False)


def nested_ifs(depth: int) -> bytes:
    """A model: If inside If ... ``depth`` deep, the innermost then-branch computing Relu(x).

    Written on the wire: past about 33 levels protobuf refuses to build (or parse) it, which is
    what the deeper files are for."""
    ser = lambda m: m.SerializeToString()  # noqa: E731
    inner = ser(helper.make_graph([node("Relu", ["x"], [f"t{depth}"])], "l", [], [vi(f"t{depth}")]))
    for d in range(depth - 1, -1, -1):
        other = ser(helper.make_graph([node("Neg", ["x"], [f"e{d}"])], "e", [], [vi(f"e{d}")]))
        out = b"y" if d == 0 else b"t%d" % d
        n = (
            wire_field(1, b"c")
            + wire_field(2, out)
            + wire_field(3, b"if%d" % d)
            + wire_field(4, b"If")
            + wire_field(5, graph_attribute("then_branch", inner))
            + wire_field(5, graph_attribute("else_branch", other))
        )
        inner = (
            wire_field(1, n) + wire_field(2, b"then%d" % d) + wire_field(12, ser(vi(out.decode())))
        )
    io = b"".join(wire_field(11, ser(v)) for v in (vi("x"), vi("c", [], TensorProto.BOOL)))
    return model_bytes(inner + io)


def nested_loops(depth: int) -> onnx.ModelProto:
    """Loop bodies nested ``depth`` deep, each passing a float through (valid: every name is
    unique over all scopes, as ONNX requires)."""
    body = None
    for d in range(depth, 0, -1):
        nodes = [node("Identity", [f"c{d}"], [f"co{d}"])]
        if body is None:
            nodes.append(node("Relu", [f"v{d}"], [f"vo{d}"]))
        else:
            nodes.append(node("Loop", ["", f"c{d}", f"v{d}"], [f"vo{d}"], f"loop{d}", body=body))
        body = helper.make_graph(
            nodes,
            f"body{d}",
            [vi(f"i{d}", [], TensorProto.INT64), vi(f"c{d}", [], TensorProto.BOOL), vi(f"v{d}")],
            [vi(f"co{d}", [], TensorProto.BOOL), vi(f"vo{d}")],
        )
    n = node("Loop", ["n", "c", "x"], ["y"], "loop0", body=body)
    return model(
        [n], inputs=[vi("x"), vi("n", [], TensorProto.INT64), vi("c", [], TensorProto.BOOL)]
    )


def nesting_cases(w: CaseWriter) -> None:
    ser = lambda m: m.SerializeToString()  # noqa: E731
    for depth in (10, 30, 33, 34, 100):  # protobuf stops at 100 levels: about 33 Ifs
        w.add(f"if_in_if_{depth}", nested_ifs(depth))
    for depth in (5, 20):
        w.add(f"loop_in_loop_{depth}", nested_loops(depth).SerializeToString())
    for depth in (20, 45, 200):  # sequence(sequence(...(float))), ``depth`` deep
        t = varint(1 << 3) + varint(TensorProto.FLOAT)  # TypeProto.Tensor
        t = wire_field(1, t)  # TypeProto{tensor_type}
        for _ in range(depth):
            t = wire_field(4, wire_field(1, t))  # TypeProto{sequence_type{elem_type}}
        graph = ser(helper.make_graph([node("Identity", ["x"], ["y"])], "g", [], []))
        io = wire_field(11, wire_field(1, b"x") + wire_field(2, t)) + wire_field(
            12, wire_field(1, b"y") + wire_field(2, t)
        )
        w.add(f"sequence_type_{depth}_deep", model_bytes(graph + io))
    local = [*OPSET, helper.make_opsetid("local", 1)]
    for depth in (10, 500):  # F0 calls F1 calls ... F{depth}
        fs = [
            helper.make_function(
                "local",
                f"F{i}",
                ["a"],
                ["b"],
                [
                    helper.make_node(f"F{i + 1}", ["a"], ["b"], domain="local")
                    if i < depth
                    else node("Relu", ["a"], ["b"])
                ],
                local,
            )
            for i in range(depth + 1)
        ]
        w.add(
            f"function_chain_{depth}",
            model(
                [helper.make_node("F0", ["x"], ["y"], domain="local")], opsets=local, functions=fs
            ),
        )
    # a Loop body that reads the outer value it writes, and a subgraph named like its parent
    body = helper.make_graph(
        [node("Add", ["v", "y"], ["v_out"]), node("Identity", ["c"], ["co"])],
        "g",
        [vi("i", [], TensorProto.INT64), vi("c", [], TensorProto.BOOL), vi("v")],
        [vi("co", [], TensorProto.BOOL), vi("v_out")],
    )
    w.add(
        "body_reads_outer_output",
        model([node("Loop", ["", "", "x"], ["y"], "g", body=body)]),
        refused=False,
    )


HOSTILE_NAMES: dict[str, str] = {
    "html": "<b>bold</b><script>alert(1)</script>",
    "entities": "&amp;&lt;&#0;&nbsp;",
    "xml_end": "]]><!--",
    "quotes": "'\"`",
    "ansi_red": "\x1b[31mred\x1b[0m",
    "ansi_clear": "\x1b[2J\x1b[H",
    "osc_title": "\x1b]0;pwned\x07",
    "carriage_return": "ok\rBAD",
    "newline": "line1\nline2",
    "tab": "a\tb",
    "nul": "a\x00b",
    "del_and_c1": "\x7f\x85\x9b",
    "rtl_override": "abc\u202edcba",
    "zero_width": "a\u200bb\ufeff",
    "emoji": "🙂👍🏽",
    "combining": "e" + "\u0301" * 500,
    "dotdot_passwd": "../../etc/passwd",
    "absolute_tmp": "/tmp/x",
    "windows": "C:\\Windows\\system32",
    "url": "file:///etc/passwd",
    "format": "%s%n{0}{x}$(id)`id`",
    "only_spaces": "   ",
    "slashes": "a/b/c/../../..",
    "long_1mb": "n" * 1_000_000,
}


def named_model(s: str) -> onnx.ModelProto:
    """Every kind of name in one valid model is ``s`` (made distinct where it must be)."""
    nodes = [node("Relu", [s], [s + "#t"], s), node("Neg", [s + "#t"], [s + "#y"], s + "#2")]
    m = model(
        nodes,
        inputs=[vi(s, [s, 2])],
        outputs=[vi(s + "#y", [s, 2])],
        name=s,
        doc_string=s,
        producer_name=s,
    )
    m.graph.doc_string = s
    m.metadata_props.add(key=s, value=s)
    m.graph.node[0].doc_string = s
    m.graph.value_info.append(vi(s + "#t", [s, 2]))
    return m


def name_cases(w: CaseWriter) -> None:
    for label, s in HOSTILE_NAMES.items():
        w.add(label, named_model(s), refused=False)
    # as attribute names and values (of an op no runtime has: no standard op takes them)
    custom = helper.make_node("Hostile", ["x"], ["y"], domain="hostile.names")
    for label, s in HOSTILE_NAMES.items():
        custom.attribute.append(helper.make_attribute(f"{label}={s[:1000]}", s))
    opsets = [*OPSET, helper.make_opsetid("hostile.names", 1)]
    w.add("attribute_names_and_values", model([custom], opsets=opsets), refused=False)
    empty = model([node("Relu", ["x"], [""]), node("Relu", [""], ["y"])], name="")
    w.add("empty_tensor_name", empty, refused=False)
    m = model([node("Relu", ["", "x"], ["y"])], inputs=[vi(""), vi("x")], name="")
    w.add("empty_input_name", m, refused=False)
    m = model([node("Relu", ["x"], ["y"])], name="")
    m.graph.ClearField("name")
    w.add("no_graph_name", m, refused=False)
    same = [node("Relu", ["x"], ["t"], "n"), node("Relu", ["t"], ["y"], "n")]
    w.add("same_node_names", model(same), refused=False)
    w.add("node_named_like_tensor", model([node("Relu", ["x"], ["y"], "y")]), refused=False)
    w.add(
        "huge_doc_string",
        model([node("Relu", ["x"], ["y"])], doc_string="d" * 20_000_000),
        refused=False,
    )


def value_cases(w: CaseWriter) -> None:
    relu = [node("Relu", ["x"], ["y"])]
    for label, dims in (
        ("2_62", [2**62]),
        ("2_63_minus_1", [2**63 - 1]),
        ("negative", [-5]),
        ("zero", [0]),
        ("rank_1000", [1] * 1000),
        ("mixed", [2**40, -1, 0, "s"]),
    ):
        w.add(
            f"input_dims_{label}",
            model(relu, inputs=[vi("x", dims)], outputs=[vi("y", dims)]),
            False,
        )
    for label, dt in (
        ("undefined", TensorProto.UNDEFINED),
        ("unknown_999", 999),
        ("string", TensorProto.STRING),
        ("float8", TensorProto.FLOAT8E4M3FN),
        ("int4", TensorProto.INT4),
        ("complex128", TensorProto.COMPLEX128),
    ):
        w.add(
            f"dtype_{label}",
            model(relu, inputs=[vi("x", [2], dt)], outputs=[vi("y", [2], dt)]),
            False,
        )
        t = TensorProto(name="w", data_type=dt, dims=[2], raw_data=b"\x01" * 4)
        w.add(
            f"initializer_dtype_{label}",
            model([node("Add", ["x", "w"], ["y"])], initializers=[t]),
            False,
        )
    shape = helper.make_tensor("s", TensorProto.INT64, [2], [2**31, 2**31])
    w.add(
        "constant_of_huge_shape",
        model([node("ConstantOfShape", ["s"], ["y"])], inputs=[], initializers=[shape]),
        False,
    )
    w.add(
        "reshape_to_huge", model([node("Reshape", ["x", "s"], ["y"])], initializers=[shape]), False
    )
    w.add("expand_to_huge", model([node("Expand", ["x", "s"], ["y"])], initializers=[shape]), False)
    big = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2**31, 2**31])
    w.add(
        "initializer_claims_16_eib",
        model([node("Add", ["x", "w"], ["y"])], initializers=[big]),
        False,
    )
    for label, t in (
        ("no_value", onnx.TypeProto()),
        (
            "map",
            helper.make_map_type_proto(TensorProto.STRING, helper.make_tensor_type_proto(1, [2])),
        ),
        ("optional", helper.make_optional_type_proto(helper.make_tensor_type_proto(1, [2]))),
        ("sparse", helper.make_sparse_tensor_type_proto(1, [2])),
        ("no_shape", helper.make_tensor_type_proto(1, None)),
    ):
        w.add(
            f"input_type_{label}",
            model(
                [node("Identity", ["x"], ["y"])],
                inputs=[helper.make_value_info("x", t)],
                outputs=[helper.make_value_info("y", t)],
            ),
            False,
        )
    # attributes
    # attribute type 99 (unknown to this onnx: protobuf keeps it as an unknown field)
    odd = wire_field(1, b"alpha") + varint(2 << 3 | 5) + np.float32(1).tobytes() + varint(20 << 3)
    leaky = node("LeakyRelu", ["x"], ["y"]).SerializeToString() + wire_field(5, odd + varint(99))
    w.add(
        "attribute_type_99", model_bytes(model([]).graph.SerializeToString() + wire_field(1, leaky))
    )
    both = onnx.AttributeProto(name="alpha", type=onnx.AttributeProto.FLOAT, f=1.0, i=3, s=b"x")
    w.add("attribute_two_values", model([_with(node("LeakyRelu", ["x"], ["y"]), both)]), False)
    undefined = onnx.AttributeProto(name="alpha")
    w.add("attribute_undefined", model([_with(node("LeakyRelu", ["x"], ["y"]), undefined)]), False)
    ref = onnx.AttributeProto(name="alpha", type=onnx.AttributeProto.FLOAT, ref_attr_name="a")
    w.add(
        "attribute_ref_outside_function",
        model([_with(node("LeakyRelu", ["x"], ["y"]), ref)]),
        False,
    )
    dup = [
        onnx.AttributeProto(name="alpha", type=onnx.AttributeProto.FLOAT, f=v) for v in (1.0, 2.0)
    ]
    w.add("attribute_twice", model([_with(node("LeakyRelu", ["x"], ["y"]), *dup)]), False)
    graphs = helper.make_attribute("branches", [helper.make_graph([], "e", [], [])])
    w.add("graphs_attribute", model([_with(node("Relu", ["x"], ["y"]), graphs)]), False)
    bad_const = helper.make_node("Constant", [], ["y"], value_ints=[1] * 3, value_float=1.0)
    w.add("constant_two_values", model([bad_const], inputs=[]), False)
    huge_tensor_attr = helper.make_node(
        "Constant", [], ["y"], value=TensorProto(name="v", data_type=1, dims=[2**40])
    )
    w.add("constant_claims_4_tib", model([huge_tensor_attr], inputs=[]), False)
    w.add("ten_thousand_inputs_to_one_node", model([node("Sum", ["x"] * 10_000, ["y"])]), False)
    w.add(
        "ten_thousand_outputs",
        model([node("Split", ["x"], [f"o{i}" for i in range(10_000)], axis=0)], outputs=[vi("o0")]),
        False,
    )


def _with(n: onnx.NodeProto, *attrs: onnx.AttributeProto) -> onnx.NodeProto:
    n.attribute.extend(attrs)
    return n


def chain(n: int) -> bytes:
    """x → Relu → Relu → ... → y, ``n`` nodes, built on the wire (onnx.helper takes minutes)."""
    parts = [wire_field(1, wire_field(1, b"x") + wire_field(2, b"t1") + wire_field(4, b"Relu"))]
    for i in range(1, n - 1):
        parts.append(
            wire_field(
                1,
                wire_field(1, b"t%d" % i)
                + wire_field(2, b"t%d" % (i + 1))
                + wire_field(4, b"Relu"),
            )
        )
    parts.append(
        wire_field(
            1, wire_field(1, b"t%d" % (n - 1)) + wire_field(2, b"y") + wire_field(4, b"Relu")
        )
    )
    io = model([]).graph
    graph = (
        b"".join(parts)
        + wire_field(2, b"chain")
        + b"".join(wire_field(11, v.SerializeToString()) for v in io.input)
        + b"".join(wire_field(12, v.SerializeToString()) for v in io.output)
    )
    return model_bytes(graph)


def big_cases(w: CaseWriter) -> None:
    w.add("chain_20k", chain(20_000), refused=False)
    w.add(
        "fan_out_5k",
        model(
            [node("Relu", ["x"], [f"r{i}"]) for i in range(5000)]
            + [node("Sum", [f"r{i}" for i in range(5000)], ["y"])]
        ),
        False,
    )
    if w.slow:  # 1M nodes take 20 s just to write
        w.add("chain_1m", chain(1_000_000), refused=False, slow=True)
