"""What the installed ONNX Runtime can run: its kernel registry and operator schemas, indexed once.

Everything here is read from the installed onnxruntime itself
(``onnxruntime_pybind11_state.get_all_opkernel_def()`` and ``get_all_operator_schema()``), never
from a hand-written table, so the prediction follows whichever onnxruntime is installed. The index
is built once per process and provider (about 20 ms) and shared by every check.

Matching follows ONNX Runtime's ``KernelRegistry::VerifyKernelDef`` (measured with 1.32):

* a node's *since-version* is the newest schema version not newer than the model's opset for the
  node's domain; kernels are looked up by it, not by the opset;
* a kernel registered for ``[start, end]`` matches when ``start == since`` or when
  ``start < since <= end`` and the range is closed; an open-ended kernel ("25 and up") matches only
  ``since == 25`` exactly (a newer schema version needs a new kernel);
* each kernel type constraint is keyed by the schema's type-parameter name ("T", "T1"); it is met
  when the first argument present that is bound to that parameter (inputs first, then outputs)
  has one of the allowed types; the other arguments are not looked at (``MatchKernelDefTypes``;
  measured: RMSNormalization with a double scale and a float output has no kernel).

Known limitations: the highest opset a domain accepts is taken as the newest schema version in that
domain, and the highest IR version from ``onnx.helper.VERSION_TABLE`` at that opset (onnxruntime
does not expose either directly; both agree with the measured 1.32 limits: opset 28, IR 14).
"""

from __future__ import annotations

import functools
from bisect import bisect_right
from dataclasses import dataclass

from inspector.core.graph import TensorType

OPEN_END = 2**31 - 1  # how onnxruntime spells "and every later version" (INT_MAX)
ABSENT = ""  # an optional input or output left out (None is a present one of unknown type)

#: dtype names of the graph model → the element names onnxruntime's type strings use.
_ORT_ELEM = {"float32": "float", "float64": "double"}


@dataclass(frozen=True, slots=True)
class KernelDef:
    """One registered kernel: a version range and, per type parameter, the types it takes."""

    since: int
    until: int  # OPEN_END for an open-ended registration
    constraints: tuple[tuple[str, frozenset[str]], ...]  # ("T", {"tensor(float)"}), ...

    def matches_version(self, since_version: int) -> bool:
        return self.since == since_version or (
            self.since < since_version <= self.until and self.until != OPEN_END
        )

    @property
    def range_text(self) -> str:
        return f"{self.since}+" if self.until == OPEN_END else f"{self.since}-{self.until}"


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """The formal inputs and outputs of one version of an operator schema, and what the
    runtime's schema check (``Graph::InferAndVerifyTypeMatch``, ``OpSchema::Verify``) looks at."""

    since: int
    inputs: tuple[tuple[str, bool], ...]  # (type string or parameter name, variadic?)
    outputs: tuple[tuple[str, bool], ...]
    deprecated: bool
    input_types: tuple[frozenset[str], ...] = ()  # per formal input: the types it takes
    input_homogeneous: tuple[bool, ...] = ()  # per formal input: one type for all its arguments
    required: tuple[str, ...] = ()  # required attributes
    attributes: frozenset[str] = frozenset()  # every attribute the schema declares

    def param_of(self, formals: tuple[tuple[str, bool], ...], index: int) -> str | None:
        """The type parameter (or literal type) of actual argument ``index``; a trailing
        variadic formal takes every remaining argument."""
        if index < len(formals):
            return formals[index][0]
        if formals and formals[-1][1]:
            return formals[-1][0]
        return None


@dataclass
class Registry:
    """The kernels one execution provider registers, and the schemas they are looked up by."""

    provider: str
    runtime_version: str
    kernels: dict[tuple[str, str], list[KernelDef]]  # (domain, op_type) → kernels
    schemas: dict[tuple[str, str], list[SchemaVersion]]  # sorted by since-version
    max_opset: dict[str, int]  # domain → newest opset the runtime accepts
    max_ir: int | None
    own_domains: frozenset[str] = frozenset()  # domains whose schemas only the runtime defines

    def schema_for(self, domain: str, op_type: str, opset: int) -> SchemaVersion | None:
        """The schema version in force at ``opset`` (newest since-version not above it)."""
        versions = self.schemas.get((domain, op_type))
        if not versions:
            return None
        i = bisect_right([v.since for v in versions], opset)
        return versions[i - 1] if i else None

    def kernels_at(self, domain: str, op_type: str, since_version: int) -> list[KernelDef]:
        return [
            k for k in self.kernels.get((domain, op_type), ()) if k.matches_version(since_version)
        ]

    def versions_with_kernels(self, domain: str, op_type: str) -> list[str]:
        """Distinct kernel version ranges, oldest first: ``["7-12", "13", "14+"]``."""
        seen: dict[tuple[int, int], None] = {}
        for k in sorted(self.kernels.get((domain, op_type), ()), key=lambda k: k.since):
            seen[(k.since, k.until)] = None
        return [f"{a}+" if b == OPEN_END else (str(a) if a == b else f"{a}-{b}") for a, b in seen]

    def opsets_with_kernels(self, domain: str, op_type: str) -> list[int]:
        """Opsets at which the node's since-version would hit a kernel (lowest first, capped)."""
        out = []
        for opset in range(1, self.max_opset.get(domain, 1) + 1):
            sv = self.schema_for(domain, op_type, opset)
            if sv is not None and self.kernels_at(domain, op_type, sv.since):
                out.append(opset)
        return out


def normalize_domain(domain: str) -> str:
    return "" if domain == "ai.onnx" else domain


def ort_type_str(t: TensorType | None) -> str | None:
    """A graph-model type as onnxruntime spells it: ``float32`` → ``tensor(float)``,
    ``sequence(int64)`` → ``seq(tensor(int64))``; None when unknown."""
    if t is None:
        return None
    return _ort_dtype(t.dtype)


@functools.lru_cache(maxsize=1024)  # a handful of dtypes, looked up for every edge of every node
def _ort_dtype(dtype: str) -> str | None:
    if dtype in ("undefined", "?") or dtype.startswith("dtype("):
        return None
    for prefix, wrap in (("sequence(", "seq({})"), ("optional(", "optional({})")):
        if dtype.startswith(prefix):
            inner = _ort_dtype(dtype[len(prefix) : -1])
            return wrap.format(inner) if inner else None
    if dtype.startswith("sparse("):
        return f"sparse_tensor({_ORT_ELEM.get(dtype[7:-1], dtype[7:-1])})"
    if dtype.startswith("map("):
        key, _, val = dtype[4:-1].partition(",")
        inner = _ort_dtype(val)
        return f"map({key},{inner})" if inner else None
    return f"tensor({_ORT_ELEM.get(dtype, dtype)})"


def providers_with_kernels() -> set[str]:
    """Execution providers whose kernels this onnxruntime build registers (CPU for the CPU wheel)."""
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_c

    return {k.provider for k in ort_c.get_all_opkernel_def()}


@functools.cache
def load_registry(provider: str = "CPUExecutionProvider") -> Registry | None:
    """The index for ``provider``, or None when this build registers no kernels for it (then
    nothing can be predicted for that provider). Cached for the life of the process."""
    import onnx
    import onnxruntime
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_c

    kernels: dict[tuple[str, str], list[KernelDef]] = {}
    for k in ort_c.get_all_opkernel_def():
        if k.provider != provider:
            continue
        start, end = k.version_range
        constraints = tuple(sorted((n, frozenset(ts)) for n, ts in k.type_constraints.items()))
        kernels.setdefault((k.domain, k.op_name), []).append(KernelDef(start, end, constraints))
    if not kernels:
        return None
    variadic = type(ort_c.get_all_operator_schema()[0].inputs[0].option).Variadic
    schemas: dict[tuple[str, str], list[SchemaVersion]] = {}
    max_opset: dict[str, int] = {}
    for s in ort_c.get_all_operator_schema():
        schemas.setdefault((s.domain, s.name), []).append(
            SchemaVersion(
                s.since_version,
                tuple((p.typeStr, p.option == variadic) for p in s.inputs),
                tuple((p.typeStr, p.option == variadic) for p in s.outputs),
                bool(s.deprecated),
                tuple(frozenset(p.types) for p in s.inputs),
                tuple(bool(p.isHomogeneous) for p in s.inputs),
                tuple(sorted(a.name for a in s.attributes.values() if a.required)),
                frozenset(s.attributes),
            )
        )
        max_opset[s.domain] = max(max_opset.get(s.domain, 0), s.since_version)
    for versions in schemas.values():
        versions.sort(key=lambda v: v.since)
    # The IR version released with the runtime's newest ai.onnx opset is the newest it reads.
    irs = [row[1] for row in onnx.helper.VERSION_TABLE if row[2] == max_opset.get("")]
    onnx_domains = {normalize_domain(d.domain) for d in onnx.defs.get_all_schemas_with_history()}
    return Registry(
        provider,
        onnxruntime.__version__,
        kernels,
        schemas,
        max_opset,
        max(irs) if irs else None,
        frozenset(set(max_opset) - onnx_domains),
    )


def bind_params(
    schema: SchemaVersion, ins: tuple[str | None, ...], outs: tuple[str | None, ...]
) -> dict[str, dict[int, str | None]]:
    """Type parameter → {argument position: actual type (None: unknown)} for every argument
    present, inputs first, then outputs; inputs at their index, outputs as ``-1 - index`` (so a
    hint can name an input tensor)."""
    bound: dict[str, dict[int, str | None]] = {}
    for i, t in enumerate(ins):
        p = schema.param_of(schema.inputs, i)
        if p is not None and t != ABSENT:
            bound.setdefault(p, {})[i] = t
    for i, t in enumerate(outs):
        p = schema.param_of(schema.outputs, i)
        if p is not None and t != ABSENT:
            bound.setdefault(p, {})[-1 - i] = t
    return bound


def find_kernel(
    kernels: list[KernelDef],
    schema: SchemaVersion,
    ins: tuple[str | None, ...],
    outs: tuple[str | None, ...],
) -> KernelDef | None:
    """The first kernel whose every constraint takes the first argument present that is bound
    to it (``KernelRegistry::VerifyKernelDef``: inputs first, then outputs; the other arguments
    of the parameter are not looked at); an unknown type never disqualifies."""
    bound = bind_params(schema, ins, outs)
    for k in kernels:
        if all(_first_allowed(bound.get(name), allowed) for name, allowed in k.constraints):
            return k
    return None


def _first_allowed(args: dict[int, str | None] | None, allowed: frozenset[str]) -> bool:
    if not args:
        return True
    first = next(iter(args.values()))
    return first is None or first in allowed
