"""Which nodes the chosen runtime cannot run, and why: predicted without creating a session.

``check(model, target)`` reads the installed onnxruntime's kernel registry and schemas
(:mod:`.runtime_registry`) and names every node that session creation would reject, at once, where a
session stops at the first. Codes:

* ``unsupported-ir`` (model level): the file's IR version is newer than the runtime reads.
* ``unsupported-opset``: the model imports an opset newer than the runtime knows (model level), or a
  node's op has kernels only at other opsets, or does not exist yet at the model's opset.
* ``unsupported-op``: no schema or no kernel for this op and domain at any version.
* ``unsupported-type``: kernels exist at this version, but none takes these input/output types.
* ``kernel-refused``: a kernel takes the node's types, but its constructor refuses an attribute
  value (:mod:`.runtime_refusals`; e.g. LSTM ``layout=1``, Cast ``saturate=0`` to int8).
* ``schema-refused``: the runtime's own schema for a domain onnx does not define
  (``com.microsoft``) rejects the node's types or misses a required attribute.
* ``function-body-invalid``: no kernel takes the node's types, so the runtime inlines the op's
  function body, and a node of that body fails the runtime's schema check (e.g. a MatMul whose
  inputs are float16 and float: FAIL "bound to different types").
* ``runtime-fallback`` (info): the runtime still runs the node, by inlining the op's ONNX function
  body, or (CPU) by running float16 through inserted Casts to float.
* ``runtime-unchecked`` (warning): the check cannot be made for this runtime or provider (this
  build registers no kernels for it); nothing is guessed.
* ``runtime-unverified`` (warning): whether session creation fails on this node cannot be told
  statically (a function body that cannot be built without the input types, a locale the
  target machine must have); the hint says what would settle it.

Types at each node come from the graph model's declared types and onnx shape inference. When the
model was opened without inference (``model.types_inferred`` is False) the check runs inference on
its own copy of the types and leaves the model untouched (so it is safe on a worker thread while
the window infers in a child). A type that is still unknown never yields a type finding.

Order, as onnxruntime resolves a node (measured with 1.32): its own schema check (domains only the
runtime defines); a kernel for the types, and then that kernel's constructor; else the op's
function body, inlined and type-checked before any of its kernels is looked up; only then, on CPU,
float16 run through inserted Casts. An Identity no kernel takes is not a failure when the Identity
elimination removes it first.

Known limitations: execution providers are judged one at a time (no CPU fallback for another EP);
of the graph optimizations that run before kernel lookup only Identity elimination is modelled
(fusions only ever replace nodes with ones that have kernels); constructor checks on constant
input tensors (a Div by a constant zero, constant Resize scales) are not made; the float16 Cast
fallback is modelled for the CPU provider as "every float16 input and output becomes float".
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx

from inspector.core.checks.runtime_functions import (
    body_types,
    elem_type,
    has_typed_function,
    resolved_body,
    schema_function,
)
from inspector.core.checks.runtime_refusals import NodeView, refusal
from inspector.core.checks.runtime_registry import (
    ABSENT,
    KernelDef,
    Registry,
    SchemaVersion,
    bind_params,
    find_kernel,
    load_registry,
    normalize_domain,
    ort_type_str,
    providers_with_kernels,
)
from inspector.core.checks.runtime_schema import ort_function, schema_problem
from inspector.core.checks.target import RuntimeTarget
from inspector.core.findings import Finding, Severity
from inspector.core.graph import Graph, Model, TensorType, infer_proto_types
from inspector.core.tasks import CancelToken

CPU = "CPUExecutionProvider"
_FLOAT16 = "tensor(float16)"
_FLOAT = "tensor(float)"
# Cast targets to suggest for a type no kernel takes, most useful first.
_CAST_PREFERENCE = ("float", "double", "int64", "int32", "uint8", "int8", "bool", "float16")


@dataclass(frozen=True)
class _Verdict:
    """The outcome for one node signature (cached: a 10k-node export has a few hundred)."""

    code: str  # "" when a kernel runs it directly
    severity: Severity = Severity.ERROR
    message: str = ""
    hint: str = ""
    tensor: str | None = None


_OK = _Verdict("")
_IDENTITY_REMOVED = _Verdict(
    "runtime-fallback",
    Severity.INFO,
    "no kernel takes this Identity's type, but onnxruntime's graph optimization removes the "
    "Identity before kernels are looked up",
    hint="with graph optimizations disabled the session would fail here",
)


def check(model: Model, target: RuntimeTarget, cancel: CancelToken | None = None) -> list[Finding]:
    """Every node ``target`` cannot run (and every fallback it runs by), as findings.

    ``target.opset`` is not read here: checking the model converted to another opset is
    :mod:`.runtime_retarget`'s job, and :func:`~inspector.core.checks.run.runtime_findings`
    chooses between the two."""
    if target.runtime != "onnxruntime":
        return [_unchecked(f"runtime '{target.runtime}' is not known to the Inspector")]
    registry = load_registry(target.provider)
    if registry is None:
        have = ", ".join(sorted(providers_with_kernels()))
        return [
            _unchecked(
                f"this onnxruntime build registers no kernels for {target.provider} "
                f"(it has: {have}), so what that provider can run cannot be predicted"
            )
        ]
    return _Checker(model, registry, cancel).run()


def check_registry(
    model: Model, registry: Registry, cancel: CancelToken | None = None
) -> list[Finding]:
    """:func:`check` against a given kernel registry (a provider table read from a document,
    :mod:`inspector.core.providers.tables`) instead of the installed build's."""
    return _Checker(model, registry, cancel).run()


def _unchecked(message: str) -> Finding:
    return Finding(
        Severity.WARNING,
        "runtime-unchecked",
        message,
        hint="install the onnxruntime build for that provider (e.g. onnxruntime-gpu) and check again",
    )


class _Checker:
    def __init__(self, model: Model, registry: Registry, cancel: CancelToken | None) -> None:
        self.model = model
        self.reg = registry
        self.cancel = cancel
        self.cpu = registry.provider == CPU
        self.local = {(normalize_domain(f.domain), f.name): f for f in model.functions}
        self.local_protos = tuple(model.proto.functions)
        self.verdicts: dict[tuple, _Verdict] = {}
        self.inferred: dict[str, TensorType] = {}
        if not model.types_inferred:
            self.inferred, _ = infer_proto_types(model.proto)

    def run(self) -> list[Finding]:
        findings = self._model_level()
        opsets = {normalize_domain(d): v for d, v in self.model.opset_imports.items()}
        for g in self.model.graph.iter_graphs():
            findings += self._graph(g, opsets, self._types_of(g))
        for f in self.model.functions:
            fn_opsets = {**opsets, **{normalize_domain(d): v for d, v in f.opset_imports.items()}}
            findings += self._graph(f.graph, fn_opsets, self._function_types(f, fn_opsets))
        return findings

    # -- model level ---------------------------------------------------------------------------

    def _model_level(self) -> list[Finding]:
        out = []
        reg = self.reg
        if reg.max_ir is not None and self.model.ir_version > reg.max_ir:
            out.append(
                Finding(
                    Severity.ERROR,
                    "unsupported-ir",
                    f"IR version {self.model.ir_version} is newer than onnxruntime "
                    f"{reg.runtime_version} reads (up to IR {reg.max_ir})",
                    hint=f"save the model with ir_version={reg.max_ir} (onnx.save after setting "
                    "model.ir_version), or upgrade onnxruntime",
                )
            )
        for domain, version in self.model.opset_imports.items():
            d = normalize_domain(domain)
            newest = reg.max_opset.get(d)
            if newest is not None and version > newest:
                out.append(
                    Finding(
                        Severity.ERROR,
                        "unsupported-opset",
                        f"the model imports {d or 'ai.onnx'} opset {version}; onnxruntime "
                        f"{reg.runtime_version} knows up to {newest}",
                        hint=f"convert to opset {newest} (onnx.version_converter, or the "
                        "target-opset preview) or upgrade onnxruntime",
                    )
                )
        return out

    # -- types ---------------------------------------------------------------------------------

    def _types_of(self, g: Graph) -> dict[str, TensorType | None]:
        inferred = self.inferred
        return {
            name: v.declared or v.inferred or inferred.get(name) for name, v in g.values.items()
        }

    def _function_types(self, f, opsets: dict[str, int]) -> dict[str, TensorType | None]:
        """Types inside a model-local function, from its first call site (functions are
        generic over their callers; the first call is what onnxruntime meets first)."""
        key = (normalize_domain(f.domain), f.name)
        for g in self.model.graph.iter_graphs():
            types = self._types_of(g)
            for node in g.nodes:
                if (normalize_domain(node.domain), node.op_type) == key:
                    proto = next(
                        p for p in self.local_protos if (p.domain, p.name) == (f.domain, f.name)
                    )
                    ins = [types.get(i) if i else None for i in node.inputs]
                    return dict(body_types(proto, node.proto, ins, opsets, self.local_protos))
        return {}

    # -- nodes ---------------------------------------------------------------------------------

    def _graph(
        self, g: Graph, opsets: dict[str, int], types: dict[str, TensorType | None]
    ) -> list[Finding]:
        out = []
        cancel = self.cancel
        for node in g.nodes:
            if cancel is not None and node.index % 256 == 0:
                cancel.check()
            if not node.op_type:
                continue  # invalid-node says so (structure_schema); there is no operator to look up
            domain = normalize_domain(node.domain)
            if (domain, node.op_type) in self.local:
                continue  # inlined by the runtime; its body is checked as its own graph
            ins = tuple(ort_type_str(types.get(i)) if i else ABSENT for i in node.inputs)
            outs = tuple(ort_type_str(types.get(o)) if o else ABSENT for o in node.outputs)
            key = (domain, node.op_type, opsets.get(domain), ins, outs, _attribute_key(node.proto))
            verdict = self.verdicts.get(key)
            if verdict is None:
                verdict = self.verdicts[key] = self._verdict(
                    node.proto, domain, opsets, ins, outs, [types.get(i) for i in node.inputs]
                )
            if verdict.severity is Severity.ERROR and _eliminated_identity(g, node):
                verdict = _IDENTITY_REMOVED
            if verdict.code:
                tensor = None
                if verdict.tensor is not None:
                    tensor = node.inputs[int(verdict.tensor)]
                out.append(
                    Finding(
                        verdict.severity,
                        verdict.code,
                        verdict.message,
                        hint=verdict.hint,
                        node=node.name,
                        node_index=node.index,
                        op_type=node.op_type,
                        tensor=tensor,
                        path=g.path,
                    )
                )
        return out

    def _verdict(
        self,
        proto: onnx.NodeProto,
        domain: str,
        opsets: dict[str, int],
        ins: tuple[str | None, ...],
        outs: tuple[str | None, ...],
        in_types: list[TensorType | None],
    ) -> _Verdict:
        reg = self.reg
        op = proto.op_type
        dname = domain or "ai.onnx"
        opset = opsets.get(domain)
        versions = reg.schemas.get((domain, op))
        if not versions:
            known = [d or "ai.onnx" for (d, o) in reg.schemas if o == op and d != domain]
            where = f"; it exists in {', '.join(sorted(known))}" if known else ""
            return _Verdict(
                "unsupported-op",
                message=f"onnxruntime {reg.runtime_version} has no operator {dname}.{op}{where}",
                hint="replace it with standard ops, or register a custom op library "
                "(SessionOptions.register_custom_ops_library)",
            )
        if opset is None:
            return _Verdict(
                "unsupported-opset",
                message=f"the model does not import domain {dname}, which {op} belongs to",
                hint=f"add an opset import for {dname}",
            )
        schema = reg.schema_for(domain, op, opset)
        if schema is None:
            return _Verdict(
                "unsupported-opset",
                message=f"{op} exists from {dname} opset {versions[0].since}; the model imports "
                f"opset {opset}",
                hint=f"convert the model to opset {versions[0].since} or newer",
            )
        if (domain, op) == ("", "Constant"):
            return _OK  # onnxruntime turns Constant nodes into initializers; no kernel is needed
        if domain in reg.own_domains:
            problem = schema_problem(schema, op, ins, {a.name for a in proto.attribute})
            if problem is not None:
                return _Verdict(
                    "schema-refused",
                    message=f"onnxruntime {reg.runtime_version}'s own schema for {dname}.{op} "
                    f"(version {schema.since}) rejects this node: {problem}",
                    hint="match the types and attributes that schema declares (onnxruntime's "
                    "contrib operator docs list them)",
                )
        kernels = reg.kernels_at(domain, op, schema.since)
        if kernels and find_kernel(kernels, schema, ins, outs) is not None:
            return (
                self._constructed(proto, domain, schema)
                or self._unknown_types(op, schema, kernels, ins, outs)
                or _OK
            )
        # Partitioning inlines the function of a node no kernel takes before the CPU provider's
        # float16 Cast insertion runs (measured: float16 Q with a float mask inlines Attention).
        fallback = self._function_fallback(proto, domain, schema, opsets, in_types)
        if fallback is not None:
            return fallback
        if kernels and self.cpu and _FLOAT16 in ins + outs:
            as_float = tuple(_FLOAT if t == _FLOAT16 else t for t in ins)
            outs_float = tuple(_FLOAT if t == _FLOAT16 else t for t in outs)
            if find_kernel(kernels, schema, as_float, outs_float) is not None:
                return self._constructed(proto, domain, schema) or _Verdict(
                    "runtime-fallback",
                    Severity.INFO,
                    f"no float16 CPU kernel for {op}; onnxruntime runs it in float through "
                    "inserted Casts",
                    hint="expect extra Cast nodes and float32 precision on CPU",
                )
        if kernels:
            return self._type_verdict(op, dname, schema, kernels, ins, outs)
        ranges = reg.versions_with_kernels(domain, op)
        if not ranges:
            return _Verdict(
                "unsupported-op",
                message=f"onnxruntime {reg.runtime_version} ({reg.provider}) has no kernel for "
                f"{dname}.{op} at any version",
                hint="replace it with ops the runtime has, or use another execution provider",
            )
        good = reg.opsets_with_kernels(domain, op)
        would = f"; opset {_ranges_text(good)} would have one" if good else ""
        return _Verdict(
            "unsupported-opset",
            message=f"{op} at {dname} opset {opset} is schema version {schema.since}; "
            f"onnxruntime has kernels only for versions {', '.join(ranges)}{would}",
            hint=f"convert the model to opset {good[-1]}" if good else "upgrade onnxruntime",
        )

    def _unknown_types(
        self,
        op: str,
        schema: SchemaVersion,
        kernels: list[KernelDef],
        ins: tuple[str | None, ...],
        outs: tuple[str | None, ...],
    ) -> _Verdict | None:
        """A warning when a type the kernel lookup depends on is unknown and the kernels do not
        take every type the schema allows for it: the kernel was assumed, not found."""
        for param, args in bind_params(schema, ins, outs).items():
            if next(iter(args.values())) is not None:
                continue
            taken = {
                t for k in kernels for n, allowed in k.constraints if n == param for t in allowed
            }
            formal = [i for i, (p, _) in enumerate(schema.inputs) if p == param]
            allowed = schema.input_types[formal[0]] if formal and schema.input_types else set()
            if taken and allowed - taken:
                return _Verdict(
                    "runtime-unverified",
                    Severity.WARNING,
                    f"the type bound to {op}'s {param} is unknown here, and {self.reg.provider} "
                    f"has kernels only for {_short(sorted(taken))}: whether the session can be "
                    "created cannot be told",
                    hint="declare the tensor's type (or run shape inference), or run `run` to "
                    "confirm",
                )
        return None

    def _constructed(
        self, proto: onnx.NodeProto, domain: str, schema: SchemaVersion
    ) -> _Verdict | None:
        """The kernel takes the types; does its constructor take the attributes? (CPU only: the
        refusals are the CPU kernels'.)"""
        if not self.cpu or any(a.ref_attr_name for a in proto.attribute):
            return None  # an attribute given by reference has no value here
        attrs = {a.name: _attribute_value(a) for a in proto.attribute}
        view = NodeView(proto.op_type, domain, schema.since, attrs)
        found = refusal(view, "auto_pad" in schema.attributes)
        if found is None:
            return None
        where = f"onnxruntime/{found.where}"
        if not found.certain:
            return _Verdict(
                "runtime-unverified", Severity.WARNING, f"{found.message} ({where})", found.hint
            )
        return _Verdict(
            "kernel-refused",
            message=f"{found.message}: the kernel's constructor throws and session creation "
            f"fails ({where})",
            hint=found.hint or "change the attribute to a value the CPU kernel takes",
        )

    def _function_fallback(
        self,
        proto: onnx.NodeProto,
        domain: str,
        schema: SchemaVersion,
        opsets: dict[str, int],
        in_types: list[TensorType | None],
    ) -> _Verdict | None:
        """The runtime inlines an op's function body when no kernel fits: the body's nodes are
        type-checked against the runtime's schemas, then looked up like any node, at the model's
        opset. None when the op has no function."""
        op = proto.op_type
        fn = schema_function(
            proto, domain, schema.since, opsets.get(domain, 0), in_types, self._since_at
        )
        source = "its ONNX function body"
        if fn is None:
            first = in_types[0] if in_types else None
            built = ort_function(proto, domain, elem_type(first.dtype) if first else None)
            if built is not None:
                fn, where = built
                source = f"the function body onnxruntime defines for it ({where})"
        if fn is None:
            given = [t for t, name in zip(in_types, proto.input, strict=False) if name]
            if None in given and has_typed_function(op, domain, schema.since):
                return _Verdict(
                    "runtime-unverified",
                    Severity.WARNING,
                    f"no kernel for {op} with these types; onnxruntime inlines its ONNX function "
                    "body, which cannot be checked without every input's type",
                    hint="declare the input types (or run shape inference), or run `run` to "
                    "confirm the session is created",
                )
            return None
        types = body_types(fn, proto, in_types, opsets, self.local_protos)
        body_opsets = dict(opsets)
        for o in fn.opset_import:
            body_opsets.setdefault(normalize_domain(o.domain), o.version)
        failed: _Verdict | None = None
        for n in resolved_body(fn, proto):
            d = normalize_domain(n.domain)
            ins = tuple(ort_type_str(types.get(i)) if i else ABSENT for i in n.input)
            inner = self.reg.schema_for(d, n.op_type, body_opsets.get(d, 0))
            problem = inner and schema_problem(inner, n.op_type, ins, {a.name for a in n.attribute})
            if problem:
                # The runtime type-checks the whole inlined body before it looks up kernels.
                return _Verdict(
                    "function-body-invalid",
                    message=f"no kernel takes {op} with these types, so onnxruntime inlines "
                    f"{source}, and its {n.op_type} node fails the schema check: {problem} "
                    "(session creation fails)",
                    hint="cast the inputs to types a kernel for "
                    f"{op} takes, so that the body is not needed",
                )
            if failed is None:
                outs = tuple(ort_type_str(types.get(o)) if o else ABSENT for o in n.output)
                v = self._verdict(n, d, body_opsets, ins, outs, [types.get(i) for i in n.input])
                if v.code and v.severity is Severity.ERROR:
                    failed = _Verdict(
                        v.code,
                        message=f"no kernel for {op} itself, and {source} fails: "
                        f"{n.op_type} inside it: {v.message}",
                        hint=v.hint,
                    )
        if failed is not None:
            return failed
        return _Verdict(
            "runtime-fallback",
            Severity.INFO,
            f"no kernel for {op} with these types; onnxruntime inlines {source} "
            f"({len(fn.node)} nodes)",
            hint="expect it to run slower than a fused kernel",
        )

    def _since_at(self, domain: str, op: str, opset: int) -> int | None:
        sv = self.reg.schema_for(normalize_domain(domain), op, opset)
        return sv.since if sv is not None else None

    def _type_verdict(
        self,
        op: str,
        dname: str,
        schema: SchemaVersion,
        kernels: list[KernelDef],
        ins: tuple[str | None, ...],
        outs: tuple[str | None, ...],
    ) -> _Verdict:
        bound = bind_params(schema, ins, outs)
        accepted: dict[str, set[str]] = {}
        for k in kernels:
            for name, allowed in k.constraints:
                accepted.setdefault(name, set()).update(allowed)
        firsts = {p: next(iter(a.items())) for p, a in bound.items()}
        bad = [
            (p, first)
            for p, first in firsts.items()
            if p in accepted and first[1] is not None and first[1] not in accepted[p]
        ]
        if not bad:  # each parameter is fine alone, but no one kernel takes the combination
            combos = "; ".join(
                ", ".join(f"{n}={_short(sorted(a))}" for n, a in k.constraints) for k in kernels
            )
            got = ", ".join(f"{p}={_short([t])}" for p, (_, t) in firsts.items() if t)
            return _Verdict(
                "unsupported-type",
                message=f"{op} has kernels for {combos}, but got {got}",
                hint="cast the inputs so that they match one of those combinations",
            )
        param, (index, got) = bad[0]
        target = _cast_target(accepted[param])
        return _Verdict(
            "unsupported-type",
            message=f"{op} (version {schema.since}) has {self.reg.provider} kernels for "
            f"{param} in {_short(sorted(accepted[param]))}, not {_short([got])}",
            hint=f"insert Cast(to={target}) before the input (and a Cast back after, if needed)"
            if target
            else "",
            tensor=str(index) if index >= 0 else None,
        )


def _eliminated_identity(g: Graph, node) -> bool:
    """Whether onnxruntime's Identity elimination (a level-1 graph transformer, on by default,
    ``EliminateIdentity::SatisfyCondition``) removes this node before kernel lookup: always when
    its output is not a graph output; when it is, only if the input comes from another node whose
    output is not a graph output and feeds nothing else."""
    if node.op_type != "Identity" or normalize_domain(node.domain) or len(node.outputs) != 1:
        return False
    if not node.inputs or not node.inputs[0]:
        return False
    out = g.values.get(node.outputs[0])
    if out is None or not out.is_output:
        return True
    src = g.values.get(node.inputs[0])
    return (
        src is not None
        and src.producer is not None
        and not src.is_output
        and len(src.consumers) == 1
    )


def _attribute_key(proto: onnx.NodeProto) -> tuple[bytes, ...]:
    """The attributes, as part of a verdict's cache key (Constant's value can be large and never
    changes the verdict)."""
    if proto.op_type == "Constant":
        return ()
    return tuple(a.SerializeToString() for a in proto.attribute)


def _attribute_value(a: onnx.AttributeProto) -> object:
    value = onnx.helper.get_attribute_value(a)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, list):
        return [v.decode("utf-8", errors="replace") if isinstance(v, bytes) else v for v in value]
    return value


def _short(types: list[str]) -> str:
    names = [t[7:-1] if t.startswith("tensor(") else t for t in types]
    return "{" + ", ".join(names) + "}"


def _cast_target(allowed: set[str]) -> str:
    names = {t[7:-1] for t in allowed if t.startswith("tensor(")}
    for name in _CAST_PREFERENCE:
        if name in names:
            return {"float": "FLOAT", "double": "DOUBLE"}.get(name, name.upper())
    return ""


def _ranges_text(opsets: list[int]) -> str:
    """``[7, 8, 9, 13]`` → ``"7-9, 13"``."""
    parts, start = [], None
    for i, o in enumerate(opsets):
        if start is None:
            start = o
        if i + 1 == len(opsets) or opsets[i + 1] != o + 1:
            parts.append(str(o) if start == o else f"{start}-{o}")
            start = None
    return ", ".join(parts)
