"""Operator documentation from the ONNX schemas: what the properties panel shows for a node.

``op_doc("Conv", "", 11)`` gives the schema in force at opset 11 (``since_version`` 11) as plain
data: a one-paragraph summary, the formal inputs and outputs, the type constraints and the
attributes. Schemas come from ``onnx.defs``; for other domains (``com.microsoft`` ...) they come
from ONNX Runtime's registry, which is imported only when such an operator is asked for.

Known limitations: the summary is the first paragraph of the schema's markdown, reduced to plain
text (links keep their text, formulas keep their source); ONNX Runtime documents some contrib
operators with an empty description.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import onnx
import onnx.defs

from inspector.core.attributes import format_attribute_value

# Domains whose schemas ship with the onnx package; anything else is looked up in ONNX Runtime.
_ONNX_DOMAINS = frozenset({"", "ai.onnx.ml", "ai.onnx.preview", "ai.onnx.preview.training"})

# Element types as schemas spell them ("float") → the names the graph model uses ("float32").
_SCALAR_NAMES = {"float": "float32", "double": "float64"}

# HTML tags schema docs use; matched by name so that "Tensor<T>" keeps its "<T>".
_HTML_TAG = re.compile(
    r"</?(?:a|b|i|p|em|strong|code|tt|pre|sub|sup|ul|ol|li|details|summary|span|div)\b[^>]*>",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class FormalParameter:
    """One formal input or output of an operator, e.g. ``X: T``, single."""

    name: str  # "X"
    type_str: str  # a type parameter ("T") or a concrete type ("float32")
    description: str
    option: str  # "single" | "optional" | "variadic"


@dataclass(frozen=True)
class TypeConstraint:
    """A type parameter and what it may be: ``T`` ∈ float16, float32, float64."""

    param: str  # "T"
    allowed: tuple[str, ...]  # ("float16", "float32", "float64"), "sequence(float32)" etc.
    description: str


@dataclass(frozen=True)
class AttributeDoc:
    """One attribute of an operator's schema."""

    name: str  # "kernel_shape"
    type: str  # "int", "ints", "string", "tensor", "graph", ...
    required: bool
    default: str | None  # formatted as node attributes are ("1", "'NOTSET'", "[1, 1]"); None: none
    description: str


@dataclass(frozen=True)
class OpDoc:
    """An operator's schema as in force at one opset version."""

    domain: str  # "" for ai.onnx
    op_type: str
    since_version: int  # the opset version this schema was introduced in
    deprecated: bool
    summary: str  # the first paragraph of the documentation, as plain text
    inputs: tuple[FormalParameter, ...]
    outputs: tuple[FormalParameter, ...]
    type_constraints: tuple[TypeConstraint, ...]
    attributes: tuple[AttributeDoc, ...]
    source: str  # "onnx" or "onnxruntime": whose registry documented it


def op_doc(op_type: str, domain: str, opset: int | None) -> OpDoc | None:
    """The schema of ``op_type`` in ``domain`` in force at ``opset`` (None: the newest), or None.

    ``domain`` "" and "ai.onnx" are the same. Results are cached per (domain, op, opset).
    """
    return _op_doc(op_type, "" if domain == "ai.onnx" else domain, opset)


def needs_runtime_schemas(domain: str) -> bool:
    """Whether looking up ``domain`` would first load ONNX Runtime's registry (~0.1 s, once).

    A window can call :func:`load_runtime_schemas` off the GUI thread when this is true.
    """
    return (
        domain not in _ONNX_DOMAINS
        and domain != "ai.onnx"
        and _runtime_schemas.cache_info().currsize == 0
    )


def load_runtime_schemas() -> None:
    """Load ONNX Runtime's operator registry now (it is otherwise loaded on first need)."""
    _runtime_schemas()


@functools.lru_cache(maxsize=4096)
def _op_doc(op_type: str, domain: str, opset: int | None) -> OpDoc | None:
    if domain in _ONNX_DOMAINS:
        try:
            if opset is None:
                schema = onnx.defs.get_schema(op_type, domain=domain)
            else:
                schema = onnx.defs.get_schema(op_type, max_inclusive_version=opset, domain=domain)
        except onnx.defs.SchemaError:
            return None
        return _from_schema(schema, "onnx")
    candidates = [
        s
        for s in _runtime_schemas().get((domain, op_type), ())
        if opset is None or s.since_version <= opset
    ]
    if not candidates:
        return None
    return _from_schema(max(candidates, key=lambda s: s.since_version), "onnxruntime")


@functools.cache
def _runtime_schemas() -> dict[tuple[str, str], list[Any]]:
    """(domain, op) → every version of its schema in ONNX Runtime's registry ({} if unavailable)."""
    try:
        from onnxruntime.capi import onnxruntime_pybind11_state as ort
    except ImportError:
        return {}
    get_all = getattr(ort, "get_all_operator_schema", None)
    if get_all is None:
        return {}
    out: dict[tuple[str, str], list[Any]] = {}
    for s in get_all():
        out.setdefault((s.domain, s.name), []).append(s)
    return out


def _from_schema(schema: Any, source: str) -> OpDoc:
    """Build an :class:`OpDoc` from an onnx or ONNX Runtime ``OpSchema`` (alike but not equal)."""
    return OpDoc(
        domain=schema.domain,
        op_type=schema.name,
        since_version=int(schema.since_version),
        deprecated=bool(schema.deprecated),
        summary=first_paragraph(schema.doc or ""),
        inputs=tuple(_formal(p) for p in schema.inputs),
        outputs=tuple(_formal(p) for p in schema.outputs),
        type_constraints=tuple(
            TypeConstraint(
                tc.type_param_str,
                tuple(type_name(t) for t in tc.allowed_type_strs),
                _plain(tc.description),
            )
            for tc in schema.type_constraints
        ),
        attributes=tuple(_attribute(a) for a in _sorted_attributes(schema.attributes.values())),
        source=source,
    )


def _formal(p: Any) -> FormalParameter:
    # onnx spells it type_str, ONNX Runtime typeStr.
    type_str = getattr(p, "type_str", None) or getattr(p, "typeStr", "")
    return FormalParameter(
        p.name, type_name(type_str), _plain(p.description), p.option.name.lower()
    )


def _sorted_attributes(attrs: Iterable[Any]) -> list[Any]:
    """Required attributes first, then by name."""
    return sorted(attrs, key=lambda a: (not a.required, a.name))


def _attribute(a: Any) -> AttributeDoc:
    return AttributeDoc(
        a.name, a.type.name.lower(), bool(a.required), _default(a), _plain(a.description)
    )


def _default(a: Any) -> str | None:
    """The attribute's default, formatted; onnx gives an AttributeProto, ONNX Runtime its bytes."""
    proto = getattr(a, "default_value", None)
    if proto is None:
        raw = getattr(a, "_default_value", b"")
        if not raw:
            return None
        proto = onnx.AttributeProto()
        proto.ParseFromString(raw)
    if proto.type == onnx.AttributeProto.UNDEFINED or not proto.name:
        return None
    return format_attribute_value(proto, onnx.helper.get_attribute_value(proto))


def type_name(type_str: str) -> str:
    """A schema's type string in the graph model's names: ``tensor(float)`` → ``float32``.

    ``seq(tensor(int64))`` → ``sequence(int64)``; ``map(int64, tensor(float))`` →
    ``map(int64,float32)``; a type parameter (``T``) is returned as it is.
    """
    s = type_str.strip()
    m = re.fullmatch(r"(\w+)\((.*)\)", s)
    if m is None:
        return _SCALAR_NAMES.get(s, s)
    kind, inner = m.group(1), m.group(2)
    if kind == "tensor":
        return type_name(inner)
    if kind == "sparse_tensor":
        return f"sparse({type_name(inner)})"
    if kind == "seq":
        return f"sequence({type_name(inner)})"
    if kind == "map":
        key, _, value = inner.partition(",")
        return f"map({type_name(key)},{type_name(value)})"
    return f"{kind}({type_name(inner)})"


def first_paragraph(doc: str) -> str:
    """The first paragraph of a schema's markdown/HTML documentation, as one line of plain text."""
    text = doc.strip()
    text = text.split("```", 1)[0]  # a code block ends the prose
    text = re.split(r"\n\s*\n", text.strip(), maxsplit=1)[0]
    return _plain(text)


def _plain(text: str) -> str:
    """Markdown and HTML reduced to plain text on one line."""
    text = re.sub(r"<br\s*/?>", " ", text, flags=re.IGNORECASE)
    text = _HTML_TAG.sub("", text)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # [text](link) → text
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", text)
    text = text.replace("`", "")
    text = re.sub(r"^\s*#+\s*", "", text, flags=re.MULTILINE)
    return " ".join(html.unescape(text).split())
