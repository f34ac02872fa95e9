"""Which ONNX Runtime release can load a model: per release, its newest opset per domain and IR
version, and its CPU kernels, from the shipped tables (:mod:`.tables`).

``release_findings(model, "1.16")`` judges the model as that release would: the model-level limits
(``unsupported-opset``, ``unsupported-ir``) from ONNX Runtime's compatibility table, or, for a
release the table does not reach yet, from the ONNX release it pins and onnx's own version table;
the nodes through the CPU check with that release's kernel table from ``OperatorKernels.md``
(``unsupported-op``, ``unsupported-opset``, ``unsupported-type``, ...). For the installed release
the installed runtime itself answers. ``oldest_release(model)`` is the first release, from 1.14 on,
with no error, and why the one before it fails ("needs 1.17: opset 20 (Gelu)").

Known limitations: releases with no table of their own (none was found for 1.31) are left out,
never guessed; kernel constructors' attribute checks are today's; a release's patch versions
share one table (its newest patch, or the branch cut, as the table's stamp says).
"""

from __future__ import annotations

from inspector.core.checks.runtime_registry import load_registry, normalize_domain
from inspector.core.checks.runtime_support import check_registry
from inspector.core.findings import Finding, Severity
from inspector.core.graph import Model
from inspector.core.providers.tables import (
    CPU,
    PerModel,
    data,
    doc_registry,
    installed_release,
    limits_source,
    release_key,
    release_limits,
)

FIRST = 14  # the oldest release the tables reach (1.14)


def known_releases() -> tuple[str, ...]:
    """Every release a verdict can be given for, oldest first: ``("1.14", ..., "1.32")``."""
    keys = {k for k, e in data()["kernels"].items() if CPU in e["providers"]}
    keys.add(installed_release())
    return tuple(sorted((k for k in keys if int(k.split(".")[1]) >= FIRST), key=_minor))


def _minor(key: str) -> int:
    return int(key.split(".")[1])


def _checked_key(release: str) -> str:
    key = release_key(release)
    if key not in known_releases():
        known = known_releases()
        raise ValueError(
            f"no tables for onnxruntime {release}; known releases: {known[0]} to {known[-1]} "
            f"({', '.join(known)})"
        )
    return key


def limits(release: str) -> dict:
    """``{"release", "opset": {domain: newest}, "ir", "source"}`` for ``release``."""
    key = _checked_key(release)
    opsets, ir = release_limits(key)
    return {"release": key, "opset": opsets, "ir": ir, "source": limits_source(key)}


def has_kernel(release: str, domain: str, op_type: str, since_version: int) -> bool:
    """Whether ``release``'s CPU provider has a kernel for ``op_type`` at schema version
    ``since_version`` (the table's version-range rules: an open-ended range matches only its
    own start)."""
    registry = _registry(_checked_key(release))
    return bool(registry.kernels_at(domain, op_type, since_version))


def _registry(key: str):
    if key == installed_release():
        return load_registry(CPU)
    return doc_registry(CPU, key)


#: each release's findings per model: ``check --runtime-version`` asks for the release's in its
#: checks, in its report and (the releases up to the oldest that loads it) in oldest_release
_judged: PerModel[list[Finding]] = PerModel()


def release_findings(model: Model, release: str) -> list[Finding]:
    """Every error and warning ``release`` (CPU provider) gives ``model``; infos (fallbacks that
    still run) are left out. Judged once per model and release."""
    key = _checked_key(release)

    def judge() -> list[Finding]:
        found = check_registry(model, _registry(key))
        return [f for f in found if f.severity is not Severity.INFO]

    return list(_judged.get(key, model, judge))


def oldest_release(model: Model) -> tuple[str | None, list[str]]:
    """The oldest known release that loads ``model`` with no error, and why the release before
    it cannot (short reasons: ``["opset 20 (Gelu)"]``); ``(None, reasons for the newest)`` when
    none can."""
    previous: tuple[str, list[Finding]] | None = None
    for key in known_releases():
        errors = [f for f in release_findings(model, key) if f.severity is Severity.ERROR]
        if not errors:
            return key, reasons(model, *previous) if previous else []
        previous = (key, errors)
    return None, reasons(model, *previous) if previous else []


def reasons(model: Model, release: str, errors: list[Finding]) -> list[str]:
    """Short reasons from ``release``'s errors on ``model``: ``opset 20 (Gelu)`` (the ops whose
    version is newer than the release knows), ``IR 10``, ``Foo: unsupported-op``."""
    out = []
    for f in errors:
        if f.node_index is not None:
            continue
        if f.code == "unsupported-ir":
            out.append(f"IR {model.ir_version}")
        elif f.code == "unsupported-opset":
            newer = _newer_ops(model, release)
            opset = _number_after(f.message, "opset ")
            out.append(f"opset {opset}" + (f" ({', '.join(newer)})" if newer else ""))
        else:
            out.append(f.message)
    by_code: dict[str, list[str]] = {}
    for f in errors:
        if f.node_index is not None and f.op_type:
            names = by_code.setdefault(f.code, [])
            if f.op_type not in names:
                names.append(f.op_type)
    out += [f"{', '.join(names)}: {code}" for code, names in by_code.items()]
    return out


def _newer_ops(model: Model, release: str) -> list[str]:
    """The model's ops whose schema version at the model's opset is newer than ``release``'s
    newest opset for their domain (what makes the model need the newer opset)."""
    live = load_registry(CPU)
    newest, _ = release_limits(release)
    opsets = {normalize_domain(d): v for d, v in model.opset_imports.items()}
    found: set[str] = set()
    for g in model.graph.iter_graphs():
        for n in g.nodes:
            d = normalize_domain(n.domain)
            schema = live.schema_for(d, n.op_type, opsets.get(d, 0)) if live else None
            if schema is not None and d in newest and schema.since > newest[d]:
                found.add(n.op_type)
    return sorted(found)


def summary(release: str | None, why: list[str]) -> str:
    """``needs 1.17: opset 20 (Gelu)``; ``loads on every known release`` when nothing is
    needed."""
    if release is None:
        return "no known onnxruntime release loads it: " + "; ".join(why)
    if not why:
        return f"loads on onnxruntime {release} and later"
    return f"needs {release}: " + "; ".join(why)


def _number_after(text: str, marker: str) -> str:
    tail = text.split(marker, 1)[-1]
    digits = ""
    for ch in tail:
        if not ch.isdigit():
            break
        digits += ch
    return digits or "?"


def report(model: Model, release: str | None = None) -> dict:
    """What ``check --runtime-version`` and ``info/check --json`` print: the oldest release that
    loads the model and why, and, for ``release``, its limits and every finding it gives.
    ``{"oldest": {"release", "reasons", "summary"}, "release": {"release", "opset", "ir",
    "source", "loads", "findings"} | None}``."""
    oldest, why = oldest_release(model)
    out: dict = {"oldest": {"release": oldest, "reasons": why, "summary": summary(oldest, why)}}
    out["release"] = None
    if release is not None:
        found = release_findings(model, release)
        out["release"] = {
            **limits(release),
            "loads": not any(f.severity is Severity.ERROR for f in found),
            "findings": [f.to_dict() for f in found],
        }
    return out
