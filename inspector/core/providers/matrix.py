"""The deployment matrix: one row per op signature of a model, and per execution provider whether
it runs there.

A row is (domain, op type, since-version, dtype signature): the since-version is that of the op
schema in force at the model's opset (``onnx.defs``; for a domain onnx does not define, the
imported opset), the signature the node's input and output types as the runtime check sees them
(declared, else inferred; ONNX Runtime's spelling, ``tensor(float)``). Each row counts its nodes
over the main graph and every subgraph and says, per provider:

* ``yes`` / ``restricted``: the provider takes the node (restricted: by a documented restriction
  or a fallback inside the provider, e.g. a function body inlined; the note says which);
* ``fallback`` (not the CPU): the provider cannot take it, so ONNX Runtime assigns it to the next
  provider of the order;
* ``no``: the CPU cannot run it (for another provider: neither it nor the CPU can);
* ``unknown``: the data for that provider cannot tell.

The verdicts are :func:`~inspector.core.providers.placement_target.verdicts`' (the one dispatch
the partition map uses). Nodes of one row can disagree (attributes, shapes): the row takes the
worst, and its note says how many nodes had which status.

Known limitations: model-local function bodies are not rows of their own: a call is one row,
judged as the partition map judges it (the CPU and kernel-table providers inline the body and
judge its nodes; a support list is asked for the call's op, so lists without it say fallback);
``Constant`` nodes are listed as "yes" everywhere since ONNX Runtime turns them into initializers
and no provider runs them.
"""

from __future__ import annotations

import csv
import functools
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import onnx

from inspector.core.checks.runtime_registry import normalize_domain, ort_type_str
from inspector.core.graph import Graph, Model, Node, TensorType, infer_proto_types
from inspector.core.providers.placement import CPU
from inspector.core.providers.placement_target import verdicts
from inspector.core.providers.tables import PROVIDERS
from inspector.core.tasks import CancelToken, gc_paused

YES, RESTRICTED, FALLBACK, NO, UNKNOWN = "yes", "restricted", "fallback", "no", "unknown"
# How bad a status is for a row whose nodes disagree: the worst one is the row's.
_RANK = {YES: 0, RESTRICTED: 1, UNKNOWN: 2, FALLBACK: 3, NO: 4}
_CONSTANT_NOTE = "ONNX Runtime turns Constant nodes into initializers; no provider runs them"
_CONSTANT = ("Constant",)  # stands for a Constant node's verdicts

Signature = tuple[str, str, int | None, str]  # (domain, op_type, since_version, types)


@dataclass
class MatrixRow:
    domain: str  # "" is ai.onnx
    op_type: str
    since_version: int | None  # None: the model imports no opset for the domain
    types: str  # "tensor(float), tensor(float) -> tensor(float)"; "?" unknown, "-" omitted
    count: int
    support: dict[str, str]  # provider → yes | restricted | fallback | no | unknown
    notes: dict[str, str]  # provider → why, where not plain yes

    def to_dict(self) -> dict[str, object]:
        return {
            "domain": self.domain,
            "op_type": self.op_type,
            "since_version": self.since_version,
            "types": self.types,
            "count": self.count,
            "support": dict(self.support),
            "notes": dict(self.notes),
        }


@dataclass
class Matrix:
    providers: tuple[str, ...]
    rows: list[MatrixRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"providers": list(self.providers), "ops": [r.to_dict() for r in self.rows]}

    def csv_header(self) -> list[str]:
        return [
            "domain",
            "op_type",
            "since_version",
            "types",
            "count",
            *self.providers,
            *(f"{p} notes" for p in self.providers),
        ]

    def to_csv(self) -> str:
        """The rows as a CSV table: the row key and count, a status column per provider, then a
        notes column per provider (empty where the status is plain yes)."""
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(self.csv_header())
        for r in self.rows:
            since = "" if r.since_version is None else r.since_version
            w.writerow(
                [r.domain, r.op_type, since, r.types, r.count]
                + [r.support[p] for p in self.providers]
                + [r.notes.get(p, "") for p in self.providers]
            )
        return out.getvalue()


def deployment_matrix(
    model: Model,
    providers: Sequence[str] = PROVIDERS,
    release: str | None = None,
    options: dict[str, str] | None = None,
    cancel: CancelToken | None = None,
) -> Matrix:
    """The deployment matrix of ``model`` for ``providers`` (the tables of ONNX Runtime
    ``release``; None: the newest, or the installed build's registry), rows sorted by domain,
    op type, since-version and types. ``options`` are provider options (CoreML's
    ``ModelFormat``). The CPU is judged whether or not it is a column: it decides between
    "fallback" and "no"."""
    cols = tuple(dict.fromkeys(providers))
    judged = tuple(dict.fromkeys((CPU, *cols)))  # the CPU first: it decides fallback vs no
    judge = verdicts(model, judged, options or {}, release)
    inferred: dict[str, TensorType] = {}
    if not model.types_inferred:  # as the runtime check does: inferred on its own copy
        inferred, _ = infer_proto_types(model.proto)
    opsets = {normalize_domain(d): v for d, v in model.opset_imports.items()}
    # signature → (every provider's verdicts on one node) → how many nodes had exactly those;
    # statuses and notes are made once per distinct tuple (10k nodes have a few hundred)
    seen: dict[Signature, Counter[tuple]] = {}
    with gc_paused():  # a few small objects per node; the collector's rescans cost more
        for g in model.graph.iter_graphs():
            for node in g.nodes:
                if cancel is not None and node.index % 512 == 0:
                    cancel.check()
                key = _signature(node, g, opsets, inferred)
                row = seen.get(key)
                if row is None:
                    row = seen[key] = Counter()
                if node.op_type == "Constant" and not node.domain:
                    row[_CONSTANT] += 1
                else:
                    # (status, reason) pairs: str tuples hash and compare in C (measured: the
                    # Verdict dataclass's own __eq__/__hash__ took a third of the time)
                    verdict_of = [judge(p, node, g) for p in judged]
                    row[tuple([(v.status, v.reason) for v in verdict_of])] += 1
    rows = [_row(k, seen[k], judged, cols) for k in sorted(seen, key=_sort_key)]
    return Matrix(cols, rows)


def _status(provider: str, v: tuple[str, str], cpu: tuple[str, str]) -> tuple[str, str]:
    """(status, note) of one node on ``provider``, given its verdict's and the CPU's
    (status, reason)."""
    status, reason = v
    if status in (YES, RESTRICTED, UNKNOWN):
        return status, "" if status == YES else reason
    if provider == CPU:
        return NO, reason
    if cpu[0] == NO:
        return NO, f"{reason}; the CPU cannot run it either ({cpu[1]})"
    return FALLBACK, f"{reason}; ONNX Runtime assigns it to the next provider"


def _row(
    key: Signature, nodes: Counter[tuple], judged: tuple[str, ...], cols: tuple[str, ...]
) -> MatrixRow:
    """One row from its nodes' verdict tuples: per provider the worst status, and the notes."""
    per: dict[str, Counter[tuple[str, str]]] = {p: Counter() for p in cols}
    for vs, n in nodes.items():
        for p, status_note in zip(judged, _statuses(vs, judged), strict=True):
            if p in per:
                per[p][status_note] += n
    support: dict[str, str] = {}
    notes: dict[str, str] = {}
    for p, c in per.items():
        worst = max((s for s, _ in c), key=_RANK.__getitem__)
        support[p] = worst
        why = "; ".join(dict.fromkeys(note for (s, note) in c if s == worst and note))
        by_status: Counter[str] = Counter()
        for (s, _), n in c.items():
            by_status[s] += n
        if len(by_status) > 1:  # the nodes disagree: say so, and what the others got
            split = ", ".join(
                f"{n} {s}" for s, n in sorted(by_status.items(), key=lambda i: -_RANK[i[0]])
            )
            why = f"the nodes differ ({split}); the worst is shown" + (f": {why}" if why else "")
        if why:
            notes[p] = why
    domain, op_type, since, types = key
    return MatrixRow(domain, op_type, since, types, sum(nodes.values()), support, notes)


def _statuses(vs: tuple, judged: tuple[str, ...]) -> list[tuple[str, str]]:
    """(status, note) per provider of ``judged`` (the CPU first) for one node's verdicts."""
    if vs is _CONSTANT:
        return [(YES, _CONSTANT_NOTE)] * len(judged)
    cpu = vs[0]
    return [_status(p, v, cpu) for p, v in zip(judged, vs, strict=True)]


def _sort_key(key: Signature) -> tuple:
    domain, op_type, since, types = key
    return (domain, op_type, since if since is not None else -1, types)


def _signature(
    node: Node, g: Graph, opsets: dict[str, int], inferred: dict[str, TensorType]
) -> Signature:
    domain = normalize_domain(node.domain)
    since = _since_version(node.op_type, domain, opsets.get(domain))
    ins = ", ".join(_type_text(g, name, inferred) for name in node.inputs)
    outs = ", ".join(_type_text(g, name, inferred) for name in node.outputs)
    return domain, node.op_type, since, f"{ins} -> {outs}"


def _type_text(g: Graph, name: str, inferred: dict[str, TensorType]) -> str:
    """A value's type as the runtime check sees it: "-" for an omitted optional, "?" unknown."""
    if not name:
        return "-"
    v = g.values.get(name)
    t = (v.declared or v.inferred or inferred.get(name)) if v is not None else inferred.get(name)
    return ort_type_str(t) or "?"


@functools.lru_cache(maxsize=4096)  # a few hundred (op, opset) pairs per model
def _since_version(op_type: str, domain: str, opset: int | None) -> int | None:
    """The since-version of the op schema in force at ``opset``; the opset itself for an op or
    domain onnx does not define (``com.microsoft``, a custom domain)."""
    if opset is None:
        return None
    try:
        return onnx.defs.get_schema(op_type, opset, domain).since_version
    except onnx.defs.SchemaError:
        return opset
