"""The ``edges`` check family: every dtype and shape mismatch, each on the edge where it shows.

One pass over the nodes in graph order infers every node's output types from its input types,
the way a runtime would, and never stops at a fault:

* onnx's per-node inference (``OpSchema._infer_node_outputs``, the C++ behind
  ``onnx.shape_inference.infer_node_outputs``) gives each node's outputs, fed with small constant
  inputs (shape targets, axes) so Reshape, Slice and the like infer their shapes;
* the schema's type constraints are checked here (:mod:`.edge_types`), because onnx's messages
  name neither input; where two inputs disagree the culprit's type is repaired before inference,
  so the node's outputs keep the type the rest of the model expects;
* the project's own rules (:mod:`.shape_rules`) check what onnx does not (Conv input channels,
  Gemm's K, Reshape's element count) or words badly (MatMul, Concat, broadcasting);
* where inference cannot go on, the declared type (value_info, graph output) or the rule's
  repaired shape takes over, so one fault does not hide the next;
* inferred outputs are compared with what value_info and the graph outputs declare.

Codes: ``dtype-mismatch``, ``shape-mismatch``, ``declared-type-conflict``,
``declared-shape-conflict`` (errors) and ``fixed-batch-dim`` (info, see :mod:`.shape_dynamic`).

Known limitations: the bodies of model-local functions are not checked, and a call to one gives
only its declared output types; nodes of domains onnx has no schema for (``com.microsoft``)
pass their declared types through unchecked; values computed at run time (a Reshape target built
from ``Shape`` → ``Gather`` → ``Concat``) are not folded, so what depends on them goes unchecked;
a Loop's carried values and a Scan's outputs lose their shapes unless declared.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import MutableMapping
from typing import TYPE_CHECKING

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, defs, numpy_helper

from inspector.core.attributes import constant_value
from inspector.core.checks.edge_types import (
    DtypeClash,
    EdgeType,
    Signature,
    check_dtypes,
    dtype_of,
    elem_of,
    parse_type,
    schema_elem_name,
    signature,
    tensor_type_bytes,
)
from inspector.core.checks.shape_dynamic import fixed_batch_findings
from inspector.core.checks.shape_rules import RULES, NodeView
from inspector.core.findings import Finding, Severity, error_line
from inspector.core.graph import Graph, Model, Node
from inspector.core.tasks import CancelToken
from inspector.core.tensor_types import Shape, format_shape

# Constant integer inputs up to this many elements are handed to onnx's inference as data
# (shape targets, axes, pads); larger ones are weights, which no inference rule reads.
_MAX_DATA_ELEMENTS = 1024
_INT_TYPES = frozenset((TensorProto.INT64, TensorProto.INT32))

if TYPE_CHECKING:
    from inspector.core.checks.target import RuntimeTarget

Env = MutableMapping[str, bytes]  # value name → serialized TypeProto


def check(
    model: Model, target: RuntimeTarget | None = None, cancel: CancelToken | None = None
) -> list[Finding]:
    """Every dtype/shape mismatch of ``model`` (main graph and subgraphs), plus fixed-batch notes.

    ``target`` (a :class:`~inspector.core.checks.RuntimeTarget`) does not change what is
    checked: a mismatch is a fault on every runtime.
    """
    walker = _Walker(model, cancel)
    walker.walk(model.graph, model.proto.graph, {})
    return walker.findings + fixed_batch_findings(model)


def node_label(node: Node) -> str:
    """``Add 'add_7'``, or ``Add #12`` for an unnamed node."""
    return f"{node.op_type} '{node.name}'" if node.name else f"{node.op_type} #{node.index}"


class _Walker:
    def __init__(self, model: Model, cancel: CancelToken | None) -> None:
        self.model = model
        self.cancel = cancel
        self.opsets = {("" if d == "ai.onnx" else d): v for d, v in model.opset_imports.items()}
        self.opset = self.opsets.get("", 1)
        self.ir = model.ir_version
        self.findings: list[Finding] = []
        self.counts = _type_counts(model.proto.graph)
        self._schemas: dict[tuple[str, str], defs.OpSchema | None] = {}
        self.constants: dict[str, TensorProto] = {}  # initializers and Constant outputs
        self._data: dict[str, bytes | None] = {}  # small integer constants, serialized
        self._arrays: dict[str, np.ndarray | None] = {}

    # --------------------------------------------------------------------------------- graphs

    def walk(self, graph: Graph, gp: onnx.GraphProto, outer: Env, seeds: Env | None = None) -> Env:
        """Infer every value of one graph; ``outer`` holds the enclosing scopes' types."""
        env: Env = ChainMap({}, outer) if outer else {}
        initializers = set()
        for t in gp.initializer:
            env[t.name] = tensor_type_bytes(t.data_type, tuple(t.dims))
            self.constants[t.name] = t
            initializers.add(t.name)
        for vi in gp.input:
            if vi.name in initializers:
                continue  # IR < 4 lists initializers as inputs too; unfed, they are constants
            if _has_elem(vi.type):
                env[vi.name] = vi.type.SerializeToString()
            elif seeds and vi.name in seeds:
                env[vi.name] = seeds[vi.name]
        declared_vi = {vi.name: vi.type.SerializeToString() for vi in gp.value_info}
        declared_out = {vi.name: vi.type.SerializeToString() for vi in gp.output}
        cancel = self.cancel
        for node in graph.nodes:
            if cancel is not None and node.index % 256 == 0:
                cancel.check()
            self.visit(graph, node, env, declared_vi, declared_out)
        return env

    def schema(self, node: Node) -> defs.OpSchema | None:
        key = (node.op_type, node.domain)
        if key not in self._schemas:
            domain = "" if node.domain == "ai.onnx" else node.domain
            try:
                self._schemas[key] = defs.get_schema(
                    node.op_type, self.opsets.get(domain, 1), domain
                )
            except defs.SchemaError:
                self._schemas[key] = None  # custom domain or model-local function
        return self._schemas[key]

    # ---------------------------------------------------------------------------------- nodes

    def visit(
        self,
        graph: Graph,
        node: Node,
        env: Env,
        declared_vi: dict[str, bytes],
        declared_out: dict[str, bytes],
    ) -> None:
        names = node.inputs
        types = [parse_type(env.get(n)) if n else None for n in names]
        if node.op_type == "Constant" and not node.domain and node.outputs:
            self._register_constant(node)
        sub_types: dict[str, list[bytes | None]] = {}
        if node.subgraph_by_attribute:
            sub_types = self._walk_subgraphs(node, env)
        schema = self.schema(node)
        if schema is None:
            self.set_outputs(graph, node, {}, env, declared_vi, declared_out)
            return
        sig = signature(schema)
        constant_slots = frozenset(i for i, n in enumerate(names) if n in self.constants)
        bindings, clashes = check_dtypes(sig, types, self.counts, constant_slots)
        for c in clashes:
            self._report_dtype(graph, node, sig, types, c)
        rule = RULES.get(node.op_type) if not node.domain else None
        faults, repaired_shape = [], None
        if rule is not None:
            view = self._view(graph, node, types)
            first = node.outputs[0] if node.outputs else ""
            declared = parse_type(declared_out.get(first) or declared_vi.get(first))
            view.declared_output = declared.shape if declared is not None else None
            faults, repaired_shape = rule(view)
            for f in faults:
                self.report(graph, node, "shape-mismatch", f.message, f.hint, names[f.slot])

        in_types = {n: env[n] for n in names if n and n in env}
        for c in clashes:  # infer on from the type the node expects
            elem = elem_of(c.expected or "")
            t = types[c.slot]
            if elem and t is not None:
                in_types[names[c.slot]] = tensor_type_bytes(elem, t.shape)
        if sub_types:
            in_types.update(self._outer_scope_types(node, env))
        data = {n: d for n in names if n and (d := self._constant_data(n)) is not None}
        try:
            inferred = schema._infer_node_outputs(
                node.proto.SerializeToString(), in_types, data, {}, self.opsets, self.ir
            )
        except Exception as e:  # onnx raises InferenceError, ValidationError, RuntimeError
            inferred = {}
            known = all(t is not None for n, t in zip(names, types, strict=False) if n)
            # Subgraph faults are reported by the walk into them; faults already found here
            # explain the error; with an unknown input, onnx's complaint may be an artefact.
            if not clashes and not faults and not sub_types and known:
                self._report_inference_error(graph, node, e)
        if not any(parse_type(inferred.get(o)) for o in node.outputs if o):
            inferred = self._fallback_outputs(node, sig, bindings, repaired_shape, sub_types)
        self.set_outputs(graph, node, inferred, env, declared_vi, declared_out)

    def set_outputs(
        self,
        graph: Graph,
        node: Node,
        inferred: dict[str, bytes],
        env: Env,
        declared_vi: dict[str, bytes],
        declared_out: dict[str, bytes],
    ) -> None:
        """Store each output's type, checking it against what the graph declares for it."""
        for name in node.outputs:
            if not name:
                continue
            got = inferred.get(name)
            t = parse_type(got)
            out_decl, vi_decl = declared_out.get(name), declared_vi.get(name)
            decl = out_decl or vi_decl
            if t is None:
                if decl is not None:
                    env[name] = decl  # inference cannot go on here: trust the declaration
                continue
            for where, d in (("graph output", out_decl), ("value_info", vi_decl)):
                if d is not None:
                    self._compare_declared(graph, node, name, t, parse_type(d), where)
            env[name] = _merge(got, t, parse_type(decl)) if decl else got  # type: ignore[arg-type]

    # -------------------------------------------------------------------------------- subgraphs

    def _walk_subgraphs(self, node: Node, env: Env) -> dict[str, list[bytes | None]]:
        """Check each subgraph; return attribute name → the subgraph's output types."""
        protos = {a.name: a.g for a in node.proto.attribute if a.type == AttributeProto.GRAPH}
        out: dict[str, list[bytes | None]] = {}
        for attr, sub in node.subgraphs:
            gp = protos.get(attr)
            if gp is None:
                continue
            seeds: dict[str, bytes] = {}
            if node.op_type == "Loop" and not node.domain:
                # Body inputs often carry no type: (iteration, condition, carried values...).
                loop_types = [
                    tensor_type_bytes(TensorProto.INT64, ()),
                    tensor_type_bytes(TensorProto.BOOL, ()),
                ]
                loop_types += [env.get(n) for n in node.inputs[2:]]  # type: ignore[misc]
                for vi, b in zip(gp.input, loop_types, strict=False):
                    if b is not None:
                        seeds[vi.name] = b
            sub_env = self.walk(sub, gp, env, seeds)
            out[attr] = [sub_env.get(o.name) for o in gp.output]
        return out

    def _outer_scope_types(self, node: Node, env: Env) -> dict[str, bytes]:
        """Types of the enclosing-scope values the node's subgraphs read (onnx needs them)."""
        found: dict[str, bytes] = {}
        for _, sub in node.subgraphs:
            for g in sub.iter_graphs():
                for v in g.values.values():
                    if v.producer is None and not v.is_input and v.initializer is None:
                        b = env.get(v.name)
                        if b is not None:
                            found[v.name] = b
        return found

    # ------------------------------------------------------------------------------ fallbacks

    def _fallback_outputs(
        self,
        node: Node,
        sig: Signature,
        bindings: dict[str, str],
        shape: Shape | None,
        sub_types: dict[str, list[bytes | None]],
    ) -> dict[str, bytes]:
        """Output types when onnx cannot infer them: from the subgraphs, else from the type
        parameters bound by the inputs (with the rule's repaired shape for the first output)."""
        out: dict[str, bytes] = {}
        op = node.op_type
        if op == "If" and "then_branch" in sub_types:
            then, other = sub_types["then_branch"], sub_types.get("else_branch", [])
            for i, name in enumerate(node.outputs):
                a = parse_type(then[i]) if i < len(then) else None
                b = parse_type(other[i]) if i < len(other) else None
                if a is not None and a.elem:
                    same = b is not None and b.shape == a.shape
                    out[name] = tensor_type_bytes(a.elem, a.shape if same else None)
            return out
        if op == "Loop" and "body" in sub_types:
            body = sub_types["body"][1:]  # skip the condition
            for name, b in zip(node.outputs, body, strict=False):
                t = parse_type(b)
                if t is not None and t.elem:
                    out[name] = tensor_type_bytes(t.elem, None)  # shapes may change per turn
            return out
        for i, name in enumerate(node.outputs):
            f = sig.outputs[min(i, len(sig.outputs) - 1)] if sig.outputs else None
            if not name or f is None:
                continue
            elem = elem_of(bindings.get(f.type_str, f.type_str))
            if elem:
                out[name] = tensor_type_bytes(elem, shape if i == 0 else None)
        return out

    # ------------------------------------------------------------------------------ constants

    def _register_constant(self, node: Node) -> None:
        value = constant_value(node.proto)
        tensor = value.tensor() if value is not None else None
        if tensor is not None:  # a sparse value is not read
            self.constants[node.outputs[0]] = tensor

    def _constant_array(self, name: str) -> np.ndarray | None:
        """Values of a small integer constant; None for weights, floats and unreadable data."""
        if name in self._arrays:
            return self._arrays[name]
        t = self.constants.get(name)
        arr = None
        if t is not None and t.data_type in _INT_TYPES and t.data_location != TensorProto.EXTERNAL:
            n = 1
            for d in t.dims:
                n *= d
            if n <= _MAX_DATA_ELEMENTS:
                try:
                    arr = numpy_helper.to_array(t)
                except Exception:  # raw data that does not match the dims (e.g. stripped weights)
                    arr = None
        self._arrays[name] = arr
        return arr

    def _constant_data(self, name: str) -> bytes | None:
        if name not in self.constants:
            return None
        if name not in self._data:
            self._data[name] = (
                self.constants[name].SerializeToString()
                if self._constant_array(name) is not None
                else None
            )
        return self._data[name]

    # ------------------------------------------------------------------------------- findings

    def _view(self, graph: Graph, node: Node, types: list[EdgeType | None]) -> NodeView:
        names = node.inputs
        return NodeView(
            op_type=node.op_type,
            label=node_label(node),
            inputs=names,
            types=types,
            opset=self.opset,
            attrs=node.attribute_values,
            constant=lambda i: self._constant_array(names[i]) if i < len(names) else None,
            is_constant=lambda i: i < len(names) and names[i] in self.constants,
            source=lambda i: self._source(graph, names[i]),
        )

    def _source(self, graph: Graph, name: str) -> str:
        """Who gives a value, for messages: ``'conv1'``, ``initializer 'w'``, ``input 'x'``."""
        v = graph.values.get(name)
        if v is not None:
            if v.initializer is not None:
                return f"initializer '{name}'"
            if v.is_input:
                return f"input '{name}'"
            if v.producer is not None:
                p = graph.nodes[v.producer]
                return f"'{p.name}'" if p.name else f"{p.op_type} #{p.index}"
        return f"'{name}'"

    def report(
        self, graph: Graph, node: Node, code: str, message: str, hint: str, tensor: str | None
    ) -> None:
        self.findings.append(
            Finding(
                Severity.ERROR,
                code,
                message,
                hint=hint,
                node=node.name,
                node_index=node.index,
                op_type=node.op_type,
                tensor=tensor,
                path=graph.path,
            )
        )

    def _report_dtype(
        self,
        graph: Graph,
        node: Node,
        sig: Signature,
        types: list[EdgeType | None],
        c: DtypeClash,
    ) -> None:
        name = node.inputs[c.slot]
        got = types[c.slot].dtype  # type: ignore[union-attr]
        where = f"input {sig.input_label(c.slot)} of {node_label(node)}"
        if c.kind == "disagree" and c.expected and c.other_slot is not None:
            want = dtype_of(c.expected)
            message = (
                f"{got} from {self._source(graph, name)} meets {want} from "
                f"{self._source(graph, node.inputs[c.other_slot])} at {where}"
            )
        else:
            want = dtype_of(c.expected) if c.expected else ""
            accepted = ", ".join(dtype_of(a) for a in c.accepted[:8])
            more = ", ..." if len(c.accepted) > 8 else ""
            message = f"{where} does not accept {got} (from {self._source(graph, name)}); it takes {accepted}{more}"
        v = graph.values.get(name)
        if not want:
            hint = f"insert a Cast to a type {node.op_type} accepts before input {sig.input_label(c.slot)}"
        elif v is not None and v.initializer is not None:
            hint = f"cast the initializer to {want}"
        elif (
            v is not None
            and v.producer is not None
            and graph.nodes[v.producer].op_type == "Constant"
        ):
            hint = f"make the constant {want}"
        elif v is not None and v.is_input:
            hint = f"declare input '{name}' as {want}, or insert a Cast to {want} after it"
        else:
            hint = f"insert a Cast to {want} before input {sig.input_label(c.slot)}"
        self.report(graph, node, "dtype-mismatch", message, hint, name)

    def _report_inference_error(self, graph: Graph, node: Node, e: Exception) -> None:
        text = error_line(e)
        code = "dtype-mismatch" if "TypeInferenceError" in text else "shape-mismatch"
        for prefix in ("[ShapeInferenceError] ", "[TypeInferenceError] "):
            text = text.replace(prefix, "")
        tensor = next((n for n in node.inputs if n), None)
        self.report(graph, node, code, f"{node_label(node)}: {text}", "", tensor)

    def _compare_declared(
        self,
        graph: Graph,
        node: Node,
        name: str,
        got: EdgeType,
        decl: EdgeType | None,
        where: str,
    ) -> None:
        if decl is None:
            return
        what = f"the {where} entry" if where == "value_info" else "the graph output"
        if got.elem and decl.elem and got.type_str != decl.type_str:
            self.report(
                graph,
                node,
                "declared-type-conflict",
                f"{what} declares '{name}' as {decl.dtype}, but {node_label(node)} gives {got.dtype}",
                f"declare '{name}' as {got.dtype}"
                + (" (or delete the value_info entry)" if where == "value_info" else ""),
                name,
            )
            return
        if got.shape is None or decl.shape is None:
            return
        differs = len(got.shape) != len(decl.shape) or any(
            isinstance(a, int) and isinstance(b, int) and a != b
            for a, b in zip(got.shape, decl.shape, strict=True)
        )
        if differs:
            self.report(
                graph,
                node,
                "declared-shape-conflict",
                f"{what} declares '{name}' as {format_shape(decl.shape)}, but "
                f"{node_label(node)} gives {format_shape(got.shape)}",
                f"declare '{name}' with shape {format_shape(got.shape)}"
                + (" (or delete the value_info entry)" if where == "value_info" else ""),
                name,
            )


def _merge(got: bytes, t: EdgeType, decl: EdgeType | None) -> bytes:
    """The inferred type, with unknown dims filled from the declaration (a fixed inferred dim
    wins over a declared one: it is what the producer really gives)."""
    if decl is None or decl.shape is None or not t.elem or not t.type_str.startswith("tensor("):
        return got
    if t.shape is None:
        return tensor_type_bytes(t.elem, decl.shape)
    if len(t.shape) != len(decl.shape):
        return got
    merged = tuple(
        a if isinstance(a, int) or b is None else b
        for a, b in zip(t.shape, decl.shape, strict=True)
    )
    return got if merged == t.shape else tensor_type_bytes(t.elem, merged)


def _has_elem(tp: onnx.TypeProto) -> bool:
    """Whether a declared type says anything (a Loop body's inputs often declare nothing)."""
    which = tp.WhichOneof("value")
    if which == "tensor_type":
        return tp.tensor_type.elem_type != 0
    return which is not None


def _type_counts(gp: onnx.GraphProto) -> dict[str, int]:
    """How many of the main graph's constants, inputs and outputs have each tensor type: the
    model's usual dtype, which decides which side of a disagreement is the odd one out.

    value_info is left out: it may be the very thing that is wrong. Each name counts once
    (IR < 4 lists initializers as inputs too).
    """
    elems: dict[str, int] = {}
    for t in gp.initializer:
        elems[t.name] = t.data_type
    for n in gp.node:
        if n.op_type == "Constant" and n.output:
            for a in n.attribute:
                if a.name == "value" and a.type == AttributeProto.TENSOR:
                    elems[n.output[0]] = a.t.data_type
    for vi in (*gp.input, *gp.output):
        if vi.type.HasField("tensor_type") and vi.name not in elems:
            elems[vi.name] = vi.type.tensor_type.elem_type
    counts: dict[str, int] = {}
    for elem in elems.values():
        key = f"tensor({schema_elem_name(elem)})"
        counts[key] = counts.get(key, 0) + 1
    return counts
