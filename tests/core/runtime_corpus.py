"""The models the runtime-support check is measured on (labels and score: ``runtime_truth``).

``build_corpus("tuned")`` is what the check was developed against; ``build_corpus("heldout")``
is made by other generators, seeds and values, and is only ever scored, never read while tuning.

Tuned:

* every node test case of ``onnx.backend.test.case.node.collect_testcases()``, and the
  single-node ones re-stamped at other opsets and input dtypes (``node/``);
* ``body/``: single-node cases of ops that have an ONNX function body, with the inputs of one
  type parameter re-typed (so the node may have no kernel and the runtime inlines the body, whose
  ops then meet mixed types);
* ``attr/``: one attribute of a single-node case set to 0, 1, 2, -1 or a value quoted in the
  attribute's documentation (one case per op, attribute and value; finds kernel-constructor
  refusals); ``attrbogus/``: each string attribute set to "bogus";
* ``contrib/``: every ``com.microsoft`` schema ONNX Runtime registers, at float, float16, double
  and bfloat16, plus the ones with required attributes left out;
* hand-built cases (``hand/``) and the onnx wheel's shipped models (``shipped/``).

Held out (``heldout/``):

* ``attr3/``: the attribute generator with other values (3, -2, and strings quoted anywhere in the
  op's documentation) and another seed for which test case carries each;
* ``body28/``: the body re-typing at the newest opset, picking the alternative types last-first;
* ``contribint/``: the ``com.microsoft`` schemas at int32, int64, int8 and uint8;
* ``chain/``: a sample of the three above with an Identity before every graph input and after
  every graph output, so the faulty node sits inside a larger graph.

A second held-out part (``heldout2/``, ``build_corpus("heldout2")``) repeats that with other values
(4, -3), seeds, opset (24) and dtypes (int16, uint16, uint32, bool). It was made after the first
held-out part had been scored and read, to score the changes that reading led to.

Every node gets a unique name, so the node a session names can be matched to the prediction. A
case records the node its generator made faulty (``fault``), for failures the runtime reports
without a node name (kernel constructors).
"""

from __future__ import annotations

import contextlib
import io
import random
import re
import warnings
from dataclasses import dataclass

import onnx
from onnx import TensorProto, helper

# dtype re-stamps, most telling first (bfloat16 has the fewest CPU kernels).
_DTYPE_VARIANTS = ("bfloat16", "float16", "double", "int8", "uint16")
_ELEM = {
    "bfloat16": TensorProto.BFLOAT16,
    "float16": TensorProto.FLOAT16,
    "double": TensorProto.DOUBLE,
    "float": TensorProto.FLOAT,
    "int8": TensorProto.INT8,
    "uint8": TensorProto.UINT8,
    "uint16": TensorProto.UINT16,
    "int32": TensorProto.INT32,
    "int64": TensorProto.INT64,
    "int16": TensorProto.INT16,
    "uint32": TensorProto.UINT32,
    "bool": TensorProto.BOOL,
}
_QUOTED = re.compile(r"[\"`']([A-Za-z_][A-Za-z0-9_]*)[\"`']")
_ONNX_DOMAINS = ("", "ai.onnx", "ai.onnx.ml", "ai.onnx.preview.training", "ai.onnx.preview")


@dataclass
class Case:
    id: str
    model: onnx.ModelProto
    fault: str = ""  # the node the generator made faulty, if any

    def data(self) -> bytes:
        return self.model.SerializeToString()


# --------------------------------------------------------------------------------- helpers


def _name_nodes(graph: onnx.GraphProto, prefix: str = "n") -> None:
    for i, n in enumerate(graph.node):
        if not n.name:
            n.name = f"{prefix}{i}_{n.op_type}"
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                _name_nodes(a.g, f"{n.name}_{a.name}_")
            for sg in a.graphs:
                _name_nodes(sg, f"{n.name}_{a.name}_")


def _named(model: onnx.ModelProto) -> onnx.ModelProto:
    m = _copy(model)
    _name_nodes(m.graph)
    for f in m.functions:
        for i, n in enumerate(f.node):
            n.name = n.name or f"{f.name}_n{i}_{n.op_type}"
    return m


def _copy(model: onnx.ModelProto) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    return m


def _opset(model: onnx.ModelProto, domain: str = "") -> int | None:
    return next((o.version for o in model.opset_import if o.domain in (domain, "ai.onnx")), None)


def _restamp_opset(model: onnx.ModelProto, version: int) -> onnx.ModelProto:
    m = _copy(model)
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = version
    return m


def _retype(model: onnx.ModelProto, names: set[str], new: int) -> onnx.ModelProto | None:
    """The model with the graph inputs/outputs ``names`` re-typed to ``new`` (None when one of
    them is an initializer: its data would need converting too)."""
    if any(t.name in names for t in model.graph.initializer):
        return None
    m = _copy(model)
    for vi in [*m.graph.input, *m.graph.output]:
        if vi.name in names and vi.type.HasField("tensor_type"):
            vi.type.tensor_type.elem_type = new
    del m.graph.value_info[:]
    return m


def _restamp_dtype(model: onnx.ModelProto, old: int, new: int) -> onnx.ModelProto | None:
    names = {
        vi.name
        for vi in [*model.graph.input, *model.graph.output, *model.graph.value_info]
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type == old
    }
    return _retype(model, names, new)


def _schema(model: onnx.ModelProto) -> onnx.defs.OpSchema | None:
    node = model.graph.node[0]
    opset = _opset(model, node.domain)
    if opset is None:
        return None
    try:
        return onnx.defs.get_schema(node.op_type, opset, node.domain)
    except onnx.defs.SchemaError:
        return None


def _single_node_testcases() -> list:
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        testcases = collect_testcases(None)
    return sorted(testcases, key=lambda t: t.name)


def node_testcase(name: str) -> onnx.ModelProto:
    """The model of one onnx node test case, by name (``test_attention_4d``)."""
    return next(tc.model for tc in _single_node_testcases() if tc.name == name)


def _is_single(tc) -> bool:
    return len(tc.model.graph.node) == 1 and "expanded" not in tc.name


# --------------------------------------------------------------------------------- node/


def _testcase_variants(model: onnx.ModelProto, name: str) -> list[Case]:
    """Other opsets and dtypes of a single-node ai.onnx test case."""
    out: list[Case] = []
    node = model.graph.node[0]
    opset = _opset(model)
    if opset is None or node.domain not in ("", "ai.onnx"):
        return out
    schema = _schema(model)
    if schema is None:
        return out
    older: list[int] = []
    if schema.since_version > 1:
        with contextlib.suppress(onnx.defs.SchemaError):  # SchemaError: new at this version
            older = [onnx.defs.get_schema(node.op_type, schema.since_version - 1, "").since_version]
    for v in sorted({*older[-1:], onnx.defs.onnx_opset_version()} - {opset}):
        out.append(Case(f"{name}@opset{v}", _restamp_opset(model, v)))
    if not model.graph.input or not schema.inputs:
        return out
    first = model.graph.input[0].type.tensor_type.elem_type
    allowed = _allowed(schema, schema.inputs[0].type_str)
    picked = 0
    for dt in _DTYPE_VARIANTS:
        elem = _ELEM[dt]
        if elem == first or f"tensor({dt})" not in allowed or picked == 2:
            continue
        m = _restamp_dtype(model, first, elem)
        if m is not None:
            out.append(Case(f"{name}@{dt}", m))
            picked += 1
    return out


def _allowed(schema: onnx.defs.OpSchema, param: str) -> set[str]:
    return next(
        (set(c.allowed_type_strs) for c in schema.type_constraints if c.type_param_str == param),
        set(),
    )


# --------------------------------------------------------------------------------- body/


def _body_variants(
    model: onnx.ModelProto, name: str, tag: str, opset: int | None, newest_first: bool
) -> list[Case]:
    """The inputs (and outputs) bound to one type parameter re-typed to another float type the
    schema allows, for an op with an ONNX function body; at ``opset`` when given."""
    node = model.graph.node[0]
    if node.domain not in ("", "ai.onnx"):
        return []
    if opset is not None:
        model = _restamp_opset(model, opset)
    schema = _schema(model)
    if schema is None or not (schema.has_function or schema.has_context_dependent_function):
        return []
    graph_io = {vi.name: vi for vi in [*model.graph.input, *model.graph.output]}
    groups: dict[str, set[str]] = {}
    for formals, actuals in ((schema.inputs, node.input), (schema.outputs, node.output)):
        for i, actual in enumerate(actuals):
            if not actual or actual not in graph_io:
                continue
            formal = formals[min(i, len(formals) - 1)] if formals else None
            if formal is not None and not formal.type_str.startswith("tensor("):
                groups.setdefault(formal.type_str, set()).add(actual)
    out = []
    floats = ["float16", "bfloat16", "double", "float"]
    if newest_first:
        floats.reverse()
    for param, names in sorted(groups.items()):
        allowed = _allowed(schema, param)
        current = {graph_io[n].type.tensor_type.elem_type for n in names}
        picks = [d for d in floats if f"tensor({d})" in allowed and _ELEM[d] not in current][:2]
        for dt in picks:
            m = _retype(model, names, _ELEM[dt])
            if m is not None:
                out.append(Case(f"{tag}/{name}:{param}={dt}", m, fault=node.name))
    return out


# --------------------------------------------------------------------------------- attr/


def _attr_cases(
    testcases: list, tag: str, ints: tuple[int, ...], strings: str, seed: int
) -> list[Case]:
    """One case per (op, attribute, value): that attribute of a random single-node test case of
    the op set to the value. ``strings``: "own" takes the values quoted in the attribute's own
    documentation, "op" those quoted anywhere in the op's documentation, "bogus" one value no
    documentation names."""
    groups: dict[tuple[str, str, object], list] = {}
    for tc in testcases:
        if not _is_single(tc):
            continue
        schema = _schema(tc.model)
        if schema is None:
            continue
        node = tc.model.graph.node[0]
        current = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        op_words = set(_QUOTED.findall(schema.doc or ""))
        for a in schema.attributes.values():
            op_words.update(_QUOTED.findall(a.description))
        for attr in sorted(schema.attributes.values(), key=lambda a: a.name):
            if attr.type == onnx.AttributeProto.INT:
                values: list = list(ints)
            elif attr.type == onnx.AttributeProto.STRING:
                own = set(_QUOTED.findall(attr.description))
                values = {"own": sorted(own), "op": sorted(op_words - own)}.get(strings, ["bogus"])
            else:
                continue
            for v in values:
                cur = current.get(attr.name)
                if cur == v or (isinstance(cur, bytes) and cur.decode(errors="replace") == v):
                    continue
                groups.setdefault((node.op_type, attr.name, v), []).append(tc)
    rng = random.Random(seed)
    out = []
    for (_op, attr, v), tcs in sorted(groups.items(), key=lambda kv: repr(kv[0])):
        tc = rng.choice(tcs)
        m = _copy(tc.model)
        node = m.graph.node[0]
        kept = [a for a in node.attribute if a.name != attr]
        del node.attribute[:]
        node.attribute.extend([*kept, helper.make_attribute(attr, v)])
        out.append(Case(f"{tag}/{tc.name}:{attr}={v}", m))
    return out


# --------------------------------------------------------------------------------- contrib/


def _contrib_cases(tag: str, dtypes: tuple[str, ...]) -> list[Case]:
    """Every com.microsoft schema ONNX Runtime registers, one node with its required inputs all of
    one dtype (shape [2, 4, 4]), outputs left for the runtime to type; ops with required
    attributes once without them."""
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_c

    newest: dict[str, object] = {}
    for s in ort_c.get_all_operator_schema():
        newer = s.name not in newest or s.since_version > newest[s.name].since_version
        if s.domain == "com.microsoft" and not s.deprecated and newer:
            newest[s.name] = s
    single = type(next(iter(newest.values())).inputs[0].option).Single if newest else None
    out = []
    for name, s in sorted(newest.items()):
        ins = [p for p in s.inputs if p.option == single] or list(s.inputs[:1])
        if not ins or len(ins) > 4 or not s.outputs:
            continue
        required = [a for a in s.attributes.values() if a.required]
        dts = ("float",) if required else dtypes
        for dt in dts:
            vis = [
                helper.make_tensor_value_info(f"x{i}", _ELEM[dt], [2, 4, 4])
                for i in range(len(ins))
            ]
            outs = [f"y{i}" for i in range(max(1, s.min_output))]
            node = helper.make_node(
                name, [v.name for v in vis], outs, name="the_node", domain="com.microsoft"
            )
            graph = helper.make_graph(
                [node], name, vis, [onnx.ValueInfoProto(name=o) for o in outs]
            )
            m = helper.make_model(
                graph,
                opset_imports=[
                    helper.make_opsetid("", 21),
                    helper.make_opsetid("com.microsoft", s.since_version),
                ],
            )
            suffix = "no-required-attrs" if required else dt
            out.append(Case(f"{tag}/{name}@{suffix}", m, fault="the_node"))
    return out


# --------------------------------------------------------------------------------- chain/


def _chained(case: Case) -> Case | None:
    """``case`` with an Identity before every graph input and after every graph output (its own
    nodes named first, so the faulty one keeps its name)."""
    m = _named(case.model)
    fault = case.fault or (m.graph.node[0].name if len(m.graph.node) == 1 else "")
    g = m.graph
    inits = {t.name for t in g.initializer}
    pre, post = [], []
    for i, vi in enumerate(g.input):
        if vi.name in inits:
            continue
        raw = f"{vi.name}__raw"
        pre.append(helper.make_node("Identity", [raw], [vi.name], name=f"pre{i}"))
        vi.name = raw
    for i, vi in enumerate(g.output):
        final = f"{vi.name}__out"
        post.append(helper.make_node("Identity", [vi.name], [final], name=f"post{i}"))
        vi.name = final
    if not pre:
        return None
    nodes = [*pre, *g.node, *post]
    del g.node[:]
    g.node.extend(nodes)
    if (_opset(m) or 0) < 21:  # Identity takes every tensor type from opset 21
        return None
    return Case(case.id.replace("/", "/chain/", 1), m, fault=fault)


# --------------------------------------------------------------------------------- corpus


_CONTRIB = (  # (op, number of same-typed inputs): simple com.microsoft ops
    ("Gelu", 1),
    ("FastGelu", 1),
    ("QuickGelu", 1),
    ("BiasGelu", 2),
    ("FusedMatMul", 2),
    ("Inverse", 1),
    ("BiasSoftmax", 2),
    ("SkipLayerNormalization", 3),
    ("NoSuchContribOp", 1),
)


def single(
    op: str, n_in: int, elem: int, opset: int = 21, domain: str = "", **kw
) -> onnx.ModelProto:
    """One node ``the_node`` of ``op`` on ``n_in`` inputs of ``elem`` (shape [4, 4])."""
    shapes = [[4, 4]] * n_in
    if op == "SkipLayerNormalization":
        shapes = [[2, 4, 4], [2, 4, 4], [4]]
    if op == "BiasGelu":
        shapes = [[4, 4], [4]]
    ins = [helper.make_tensor_value_info(f"x{i}", elem, s) for i, s in enumerate(shapes)]
    node = helper.make_node(op, [i.name for i in ins], ["y"], name="the_node", domain=domain, **kw)
    graph = helper.make_graph([node], op, ins, [helper.make_tensor_value_info("y", elem, None)])
    imports = [helper.make_opsetid("", opset)]
    if domain:
        imports.append(helper.make_opsetid(domain, 1))
    return helper.make_model(graph, opset_imports=imports)


def if_model(elem: int) -> onnx.ModelProto:
    """An If whose then-branch adds ``x + x`` (of ``elem``) and else-branch returns ``x``."""
    x = helper.make_tensor_value_info("x", elem, [2])
    y = helper.make_tensor_value_info("y", elem, [2])
    then_g = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["t"], name="branch_add")],
        "then",
        [],
        [helper.make_tensor_value_info("t", elem, [2])],
    )
    else_g = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["e"], name="branch_id")],
        "else",
        [],
        [helper.make_tensor_value_info("e", elem, [2])],
    )
    node = helper.make_node(
        "If", ["c"], ["y"], name="the_if", then_branch=then_g, else_branch=else_g
    )
    c = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    g = helper.make_graph([node], "if_model", [c, x], [y])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])


def local_function_model(elem: int) -> onnx.ModelProto:
    """A model-local function ``custom.AddTwice(a) = Add(Add(a, a), a)`` called once."""
    body = [
        helper.make_node("Add", ["a", "a"], ["b"], name="fn_add1"),
        helper.make_node("Add", ["b", "a"], ["out"], name="fn_add2"),
    ]
    fn = helper.make_function(
        "custom", "AddTwice", ["a"], ["out"], body, [helper.make_opsetid("", 21)]
    )
    x = helper.make_tensor_value_info("x", elem, [2])
    y = helper.make_tensor_value_info("y", elem, [2])
    call = helper.make_node("AddTwice", ["x"], ["y"], name="call", domain="custom")
    g = helper.make_graph([call], "fn_model", [x], [y])
    return helper.make_model(
        g,
        opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("custom", 1)],
        functions=[fn],
    )


def mixed_attention_model() -> onnx.ModelProto:
    """Attention-23 with float16 Q and K and a float V: no CPU kernel takes T1=float16 with
    T2=float, so the runtime inlines the body, whose second MatMul then meets float16 and float."""
    f16, f32 = TensorProto.FLOAT16, TensorProto.FLOAT
    ins = [
        helper.make_tensor_value_info("Q", f16, [1, 2, 4, 8]),
        helper.make_tensor_value_info("K", f16, [1, 2, 4, 8]),
        helper.make_tensor_value_info("V", f32, [1, 2, 4, 8]),
    ]
    node = helper.make_node("Attention", ["Q", "K", "V"], ["Y"], name="the_node")
    out = helper.make_tensor_value_info("Y", f16, [1, 2, 4, 8])
    graph = helper.make_graph([node], "attention", ins, [out])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])


def rnn_model(op: str, layout: int) -> onnx.ModelProto:
    """One RNN/GRU/LSTM node (hidden size 3) with ``layout``."""
    gates = {"RNN": 1, "GRU": 3, "LSTM": 4}[op]
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [2, 1, 2] if layout else [1, 2, 2])
    w = helper.make_tensor_value_info("W", TensorProto.FLOAT, [1, 3 * gates, 2])
    r = helper.make_tensor_value_info("R", TensorProto.FLOAT, [1, 3 * gates, 3])
    node = helper.make_node(
        op, ["X", "W", "R"], ["", "Y_h"], name="the_node", hidden_size=3, layout=layout
    )
    out = helper.make_tensor_value_info("Y_h", TensorProto.FLOAT, None)
    graph = helper.make_graph([node], op, [x, w, r], [out])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def cast_model(to: int, saturate: int | None) -> onnx.ModelProto:
    """Cast float → ``to``, with ``saturate`` set when not None."""
    kw = {} if saturate is None else {"saturate": saturate}
    node = helper.make_node("Cast", ["x"], ["y"], name="the_node", to=to, **kw)
    graph = helper.make_graph(
        [node],
        "cast",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", to, [4])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def hand_cases() -> list[Case]:
    """Known-answer models, also used by the unit tests."""
    f, bf, f16, d = TensorProto.FLOAT, TensorProto.BFLOAT16, TensorProto.FLOAT16, TensorProto.DOUBLE
    newest = onnx.defs.onnx_opset_version()
    out = [
        Case("hand/unknown-op", single("NoSuchOp", 1, f)),
        Case("hand/unknown-domain", single("Thing", 1, f, domain="example.custom")),
        Case("hand/opset-too-new", single("Relu", 1, f, opset=newest + 1)),
        Case("hand/bf16-add", single("Add", 2, bf)),
        Case("hand/if-bf16", if_model(bf)),
        Case("hand/if-float", if_model(f)),
        Case("hand/local-function-bf16", local_function_model(bf)),
        Case("hand/local-function-float", local_function_model(f)),
        Case("hand/attention-mixed", mixed_attention_model(), fault="the_node"),
        Case("hand/lstm-layout1", rnn_model("LSTM", 1), fault="the_node"),
        Case("hand/gru-layout0", rnn_model("GRU", 0)),
        Case("hand/cast-saturate-int8", cast_model(TensorProto.INT8, 0), fault="the_node"),
        Case("hand/cast-saturate-f8", cast_model(TensorProto.FLOAT8E4M3FN, 0)),
        Case("hand/cast-f16", cast_model(f16, None)),
        Case("hand/fastgelu-double", single("FastGelu", 1, d, domain="com.microsoft")),
        Case("hand/gelu-double", single("Gelu", 1, d, domain="com.microsoft")),
    ]
    ir = single("Relu", 1, f)
    ir.ir_version = onnx.IR_VERSION + 1
    out.append(Case("hand/ir-too-new", ir))
    return out


def build_corpus(part: str = "tuned") -> list[Case]:
    """Every model of one part of the measurement ("tuned", "heldout" or "heldout2"), in a fixed
    order."""
    testcases = _single_node_testcases()
    singles = [tc for tc in testcases if _is_single(tc)]
    cases: list[Case] = []
    if part == "tuned":
        from tests.model_zoo import shipped_model_id, shipped_models

        for tc in testcases:
            cases.append(Case(f"node/{tc.name}", tc.model))
            if _is_single(tc):
                cases += _testcase_variants(tc.model, f"node/{tc.name}")
        for tc in singles:
            cases += _body_variants(tc.model, tc.name, "body", None, newest_first=False)
        cases += _attr_cases(testcases, "attr", (0, 1, 2, -1), "own", seed=0)
        cases += _attr_cases(testcases, "attrbogus", (), "bogus", seed=0)
        cases += _contrib_cases("contrib", ("float", "float16", "double", "bfloat16"))
        for op, n in _CONTRIB:
            for dt in ("float", "float16", "double", "bfloat16"):
                cases.append(
                    Case(f"contrib1/{op}@{dt}", single(op, n, _ELEM[dt], domain="com.microsoft"))
                )
        cases += hand_cases()
        for path in shipped_models():
            cases.append(Case(f"shipped/{shipped_model_id(path)}", onnx.load(path)))
    elif part == "heldout":
        newest = onnx.defs.onnx_opset_version()
        held: list[Case] = []
        held += _attr_cases(testcases, "heldout/attr3", (3, -2), "op", seed=11)
        for tc in singles:
            held += _body_variants(tc.model, tc.name, "heldout/body28", newest, newest_first=True)
        held += _contrib_cases("heldout/contribint", ("int32", "int64", "int8", "uint8"))
        rng = random.Random(7)
        chains = [c for c in map(_chained, rng.sample(held, min(400, len(held)))) if c]
        cases = held + chains
    elif part == "heldout2":
        held = _attr_cases(testcases, "heldout2/attr4", (4, -3), "op", seed=23)
        for tc in singles:
            held += _body_variants(tc.model, tc.name, "heldout2/body24", 24, newest_first=True)
        held += _contrib_cases("heldout2/contribmisc", ("int16", "uint16", "uint32", "bool"))
        rng = random.Random(13)
        chains = [c for c in map(_chained, rng.sample(held, min(400, len(held)))) if c]
        cases = held + chains
    else:
        raise ValueError(f"no corpus part {part!r}")
    return [Case(c.id, _named(c.model), c.fault) for c in cases]


def sample(cases: list[Case], n: int, seed: int = 4) -> list[Case]:
    """A deterministic sample of ``n`` cases that always includes the hand-built ones."""
    hand = [c for c in cases if c.id.startswith("hand/")]
    rest = [c for c in cases if not c.id.startswith("hand/")]
    return hand + random.Random(seed).sample(rest, max(0, n - len(hand)))
