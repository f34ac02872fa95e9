"""What each execution provider runs, per ONNX Runtime release, from the tables the package ships.

The data file (``tables.json.gz``, written by ``tools/gen_provider_tables.py``; the README says
how to regenerate it) holds, each stamped with its source, release, commit and date:

* the CPU, CUDA and DirectML kernel tables of ONNX Runtime's ``docs/OperatorKernels.md`` for each
  release from 1.14 on (the installed release's CPU table is written by ONNX Runtime's own
  ``gen_opkernel_doc.py`` from the installed wheel where no snapshot of that release was found);
* ONNX Runtime's published compatibility table and each release's ONNX pin;
* onnx-tensorrt's support matrix (``docs/operators.md``).

For the kernel-table providers a node is judged by the very rules the CPU check uses
(:mod:`inspector.core.checks.runtime_support`: since-version lookup, exact match of open-ended
ranges, type parameters bound by name, function bodies inlined): the table becomes a
:class:`~inspector.core.checks.runtime_registry.Registry` with the installed runtime's operator
schemas, and that check runs on it. Where the installed build registers a provider's kernels
itself (onnxruntime-gpu, -directml), the live registry wins and ``Verdict.source`` says so.

Known limitations: the schemas are the installed runtime's (a newer release's schemas list every
older since-version, so lookups at a model's opset agree); for CUDA and DirectML the attribute
checks of kernel constructors are the CPU kernels' only, so are not applied; a release with no
table of its own is judged with the newest older table, and ``table_info`` says which.
CoreML and NNAPI are judged by :mod:`.mobile` (ONNX Runtime's usability-checker rules); XNNPACK,
QNN and OpenVINO by the lists read from ONNX Runtime's source (:mod:`.source_lists`); WebGPU has
no shipped table (its registrations are spread over code) and answers "unknown".
"""

from __future__ import annotations

import functools
import gzip
import json
import weakref
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Generic, TypeVar

from inspector.core.checks.runtime_registry import (
    KernelDef,
    Registry,
    load_registry,
    normalize_domain,
)
from inspector.core.findings import Finding, Severity
from inspector.core.graph import Model, Node
from inspector.core.providers.source_lists import list_verdicts
from inspector.core.providers.tensorrt import trt_verdicts
from inspector.core.providers.verdict import NO, RESTRICTED, UNKNOWN, YES, Verdict

DATA = Path(__file__).with_name("tables.json.gz")

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
TENSORRT = "TensorrtExecutionProvider"
DML = "DmlExecutionProvider"
COREML = "CoreMLExecutionProvider"
OPENVINO = "OpenVINOExecutionProvider"
QNN = "QNNExecutionProvider"
NNAPI = "NnapiExecutionProvider"
XNNPACK = "XnnpackExecutionProvider"
WEBGPU = "WebGpuExecutionProvider"
PROVIDERS: tuple[str, ...] = (
    CPU,
    CUDA,
    TENSORRT,
    DML,
    COREML,
    OPENVINO,
    QNN,
    NNAPI,
    XNNPACK,
    WEBGPU,
)
#: Providers whose table is ONNX Runtime's OperatorKernels.md (kernels, versions, types).
KERNEL_TABLE_PROVIDERS = (CPU, CUDA, DML)


@functools.cache
def data() -> dict:
    """The shipped tables (about 100 kB gzipped; read once)."""
    return json.loads(gzip.decompress(DATA.read_bytes()))


def release_key(release: str | None) -> str | None:
    """``"1.16.3"`` or ``"1.16"`` → ``"1.16"``; None stays None."""
    if release is None:
        return None
    parts = release.strip().split(".")
    if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
        raise ValueError(f"not an ONNX Runtime release: {release!r} (expected e.g. 1.16)")
    return f"{int(parts[0])}.{int(parts[1])}"


def installed_release() -> str:
    import onnxruntime

    return release_key(onnxruntime.__version__) or ""


def _minor(key: str) -> int:
    return int(key.split(".")[1])


def _table_entry(provider: str, release: str | None) -> tuple[str, dict] | None:
    """(release key, stamp) of the kernel table to use: the release's own, else the newest older
    one; None when there is none at or before it."""
    kernels = data()["kernels"]
    want = release_key(release)
    have = sorted(
        (k for k, e in kernels.items() if provider in e["providers"]), key=_minor, reverse=True
    )
    for key in have:
        if want is None or _minor(key) <= _minor(want):
            entry = kernels[key]
            stamp = entry.get("cpu_stamp") if provider == CPU and "cpu_stamp" in entry else None
            return key, stamp or entry["stamp"]
    return None


def uses_live(provider: str, release: str | None) -> bool:
    """The installed build's own registry answers: it registers the provider's kernels and no
    other release is asked for."""
    if provider not in KERNEL_TABLE_PROVIDERS:
        return False
    key = release_key(release)
    if key is not None and key != installed_release():
        return False
    return load_registry(provider) is not None


def table_info(provider: str, release: str | None = None) -> dict:
    """The stamp of the table ``node_verdict`` uses for ``provider`` at ``release`` (None: the
    newest): ``{"provider", "requested", "release", "source", "repository", "ref", "commit",
    "date", "how", "live"}``; ``{"source": None}`` where no table is shipped."""
    requested = release_key(release)
    base = {"provider": provider, "requested": requested, "live": False}
    if uses_live(provider, release):
        import onnxruntime

        return {
            **base,
            "live": True,
            "release": onnxruntime.__version__,
            "source": "live registry",
            "how": "the installed onnxruntime's registered kernels",
        }
    if provider in KERNEL_TABLE_PROVIDERS:
        found = _table_entry(provider, release)
        if found is None:
            return {**base, "source": None, "release": None}
        key, stamp = found
        return {**base, **stamp, "table": key}
    if provider == TENSORRT and "tensorrt" in data():
        return {**base, **data()["tensorrt"]["stamp"]}
    if provider in data().get("sources", {}):
        return {**base, **data()["sources"][provider]["stamp"]}
    return {**base, "source": None, "release": None}


def source_text(info: dict) -> str:
    """How a verdict names its table: ``OperatorKernels.md (onnxruntime 1.22.1)``."""
    if info.get("live"):
        return f"live registry (onnxruntime {info['release']})"
    if info.get("source") is None:
        return ""
    name = info["source"].split()[0].rsplit("/", 1)[-1]
    if info.get("repository") == "onnx/onnx-tensorrt":
        return f"onnx-tensorrt {name} ({info['release']}, {info['date']})"
    if info.get("provider") in data().get("sources", {}):
        return f"{name} in onnxruntime's source ({info['release']}, {info['how']} {info['date']})"
    how = info.get("how", "")
    note = "" if how in ("tag", "release branch") else f", {how} {info['date']}"
    return f"{name} (onnxruntime {info['release']}{note})"


# -- kernel tables as registries -------------------------------------------------------------


@functools.cache
def doc_registry(provider: str, release: str | None = None) -> Registry | None:
    """The kernel table of ``provider`` at ``release`` (None: the newest shipped) as a
    :class:`Registry`, with the installed runtime's schemas and the release's opset and IR
    limits; None where no table is shipped."""
    found = _table_entry(provider, release)
    if found is None:
        return None
    key, stamp = found
    live = load_registry(CPU)
    if live is None:
        return None
    types = data()["types"]
    kernels: dict[tuple[str, str], list[KernelDef]] = {}
    for domain, ops in data()["kernels"][key]["providers"][provider].items():
        for op, rows in ops.items():
            kernels[(domain, op)] = [
                KernelDef(
                    since,
                    until,
                    tuple(sorted((p, frozenset(types[i])) for p, i in constraints.items())),
                )
                for since, until, constraints in rows
            ]
    max_opset, max_ir = release_limits(release_key(release) or key)
    return Registry(
        provider,
        stamp["release"],
        kernels,
        live.schemas,
        max_opset,
        max_ir,
        live.own_domains,
    )


def release_limits(release: str) -> tuple[dict[str, int], int | None]:
    """The newest opset per domain and IR version ``release`` loads: the installed release's
    from its registry; others from ONNX Runtime's compatibility table, else from the ONNX
    release the runtime pins (``cmake/deps.txt``) and onnx's own version table. Domains neither
    names (``com.microsoft``) keep the installed runtime's limits."""
    import onnx

    live = load_registry(CPU)
    base = dict(live.max_opset) if live is not None else {}
    key = release_key(release)
    if key == installed_release() and live is not None:
        return base, live.max_ir
    row = data()["compatibility"]["rows"].get(key)
    if row is not None:
        return {**base, "": row["opset"], "ai.onnx.ml": row["ml_opset"]}, row["ir"]
    pin = (data()["kernels"].get(key) or {}).get("onnx")
    for version, ir, opset, ml, *_ in onnx.helper.VERSION_TABLE:
        if version == pin:
            return {**base, "": opset, "ai.onnx.ml": ml}, ir
    return base, None


def limits_source(release: str) -> str:
    """Where :func:`release_limits` took ``release``'s limits from."""
    key = release_key(release)
    if key == installed_release():
        return "the installed onnxruntime's schemas"
    if key in data()["compatibility"]["rows"]:
        return "ONNX Runtime's compatibility table (docs/reference/compatibility.md)"
    pin = (data()["kernels"].get(key) or {}).get("onnx")
    if pin:
        return f"the ONNX release it pins (onnx {pin}, cmake/deps.txt) and onnx's version table"
    return ""


# -- verdicts ---------------------------------------------------------------------------------

_NodeKey = tuple[tuple[str, ...], int]  # (graph path, node index)
V = TypeVar("V")


class PerModel(Generic[V]):
    """Answers computed once per model object and key, held only while the model lives (a
    reopened file is a new model, judged afresh)."""

    def __init__(self) -> None:
        self._entries: dict[tuple[Hashable, int], tuple[weakref.ref, V]] = {}

    def get(self, key: Hashable, model: Model, compute: Callable[[], V]) -> V:
        """The answer for ``key`` on ``model``: the first one, else ``compute()``."""
        slot = (key, id(model))
        hit = self._entries.get(slot)
        if hit is not None and hit[0]() is model:
            return hit[1]
        value = compute()
        for k in [k for k, (ref, _) in self._entries.items() if ref() is None]:
            del self._entries[k]  # models that are gone
        self._entries[slot] = (weakref.ref(model), value)
        return value


_verdicts: PerModel[dict[_NodeKey, Verdict]] = PerModel()


def model_verdicts(
    provider: str, model: Model, release: str | None = None
) -> dict[_NodeKey, Verdict]:
    """Every node's verdict, keyed by (graph path, node index); computed once per model,
    provider and release (a 10k-node model's few hundred distinct signatures)."""
    return _verdicts.get(
        (provider, release_key(release)), model, lambda: _compute(provider, model, release)
    )


def node_verdict(provider: str, node: Node, model: Model, release: str | None = None) -> Verdict:
    """Whether ``provider`` (at ONNX Runtime ``release``; None: the newest table, or the installed
    build's registry where it has the provider's kernels) runs ``node`` of ``model``."""
    verdicts = model_verdicts(provider, model, release)
    for g in model.graph.iter_graphs():
        if node.index < len(g.nodes) and g.nodes[node.index] is node:
            return verdicts[(g.path, node.index)]
    for f in model.functions:
        g = f.graph
        if node.index < len(g.nodes) and g.nodes[node.index] is node:
            return verdicts[(g.path, node.index)]
    raise ValueError(f"node {node.index} ({node.op_type}) is not a node of this model")


def _all_nodes(model: Model):
    for g in model.graph.iter_graphs():
        yield g, g.nodes
    for f in model.functions:
        yield f.graph, f.graph.nodes


def _compute(provider: str, model: Model, release: str | None) -> dict[_NodeKey, Verdict]:
    if provider not in PROVIDERS:
        raise ValueError(f"unknown execution provider {provider!r}; known: {', '.join(PROVIDERS)}")
    info = table_info(provider, release)
    source = source_text(info)
    if provider in KERNEL_TABLE_PROVIDERS and info.get("source") is not None:
        registry = load_registry(provider) if info["live"] else doc_registry(provider, release)
        return _from_findings(model, registry, source)
    if provider == TENSORRT and info.get("source") is not None:
        return trt_verdicts(model, data()["tensorrt"], source)
    if provider in data().get("sources", {}):
        entry = data()["sources"][provider]
        return list_verdicts(provider, model, entry, load_registry(CPU), source)
    why = (
        "judged by ONNX Runtime's mobile usability rules (placement), not by a table here"
        if provider in (COREML, NNAPI)
        else f"no support table for {provider} is shipped with this version of the Inspector"
    )
    unknown = Verdict(UNKNOWN, why, "")
    return {(g.path, n.index): unknown for g, nodes in _all_nodes(model) for n in nodes}


def _from_findings(model: Model, registry: Registry, source: str) -> dict[_NodeKey, Verdict]:
    from inspector.core.checks.runtime_support import check_registry

    found: dict[_NodeKey, list[Finding]] = {}
    for f in check_registry(model, registry):
        if f.node_index is not None:
            found.setdefault((tuple(f.path or ()), f.node_index), []).append(f)
    local = {(normalize_domain(f.domain), f.name) for f in model.functions}
    out: dict[_NodeKey, Verdict] = {}
    for g, nodes in _all_nodes(model):
        for n in nodes:
            fs = found.get((g.path, n.index), [])
            out[(g.path, n.index)] = _verdict_of(fs, n, local, source)
    return out


def _verdict_of(
    findings: list[Finding], node: Node, local: set[tuple[str, str]], source: str
) -> Verdict:
    errors = [f for f in findings if f.severity is Severity.ERROR]
    if errors:
        return Verdict(NO, f"{errors[0].code}: {errors[0].message}", source)
    warnings = [f for f in findings if f.severity is Severity.WARNING]
    if warnings:
        return Verdict(UNKNOWN, f"{warnings[0].code}: {warnings[0].message}", source)
    if findings:  # info: it runs, by a fallback (function body inlined, float16 through Casts)
        return Verdict(RESTRICTED, f"{findings[0].code}: {findings[0].message}", source)
    if (normalize_domain(node.domain), node.op_type) in local:
        return Verdict(YES, "a model-local function: inlined, its nodes are judged", source)
    return Verdict(YES, "a kernel takes this op at this version with these types", source)
