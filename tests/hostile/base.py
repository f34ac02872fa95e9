"""What every hostile case is made of: :class:`Case`, the writer that puts each case in its own
folder, small model builders, and protobuf wire-format helpers (for files onnx.helper refuses to
build: lying lengths, nesting past protobuf's limit, a million nodes in seconds)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import TensorProto, helper

OPSET = [helper.make_opsetid("", 17)]


@dataclass(frozen=True)
class Case:
    name: str  # "<category>/<name>", unique
    path: Path  # what the commands are given
    refused: bool | None  # True: exit 2 from every command; False: it opens; None: either
    slow: bool = False  # only in the slow corpus

    @property
    def category(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def folder(self) -> Path:
        """The model's folder: every read the commands make must stay inside it."""
        return self.path.parent

    @property
    def regular(self) -> bool:
        """A regular file (not through a link): safe to hand to onnx and ONNX Runtime."""
        return stat.S_ISREG(os.lstat(self.path).st_mode)


class CaseWriter:
    """Writes the cases of one category into ``ROOT/<category>/<name>/m/``."""

    def __init__(self, root: Path, category: str, slow: bool) -> None:
        self.root, self.category, self.slow = root / category, category, slow
        self.cases: list[Case] = []

    def folder(self, name: str) -> Path:
        """The model folder of case ``name`` (created); its parent holds the bait."""
        d = self.root / name / "m"
        d.mkdir(parents=True)
        return d

    def add(
        self,
        name: str,
        content: onnx.ModelProto | bytes | None = None,
        refused: bool | None = None,
        slow: bool = False,
        file_name: str = "model.onnx",
        make: Callable[[Path], None] | None = None,
    ) -> Path | None:
        """Write case ``name``: ``content`` as the file, or ``make(path)`` creates it. A slow
        case is skipped unless the corpus is built with ``slow``."""
        if slow and not self.slow:
            return None
        path = self.folder(name) / file_name
        if make is not None:
            make(path)
        elif isinstance(content, onnx.ModelProto):
            path.write_bytes(content.SerializeToString())
        else:
            path.write_bytes(content or b"")
        self.cases.append(Case(f"{self.category}/{name}", path, refused, slow))
        return path


def model(
    nodes: list[onnx.NodeProto],
    inputs: list[onnx.ValueInfoProto] | None = None,
    outputs: list[onnx.ValueInfoProto] | None = None,
    initializers: list[TensorProto] | None = None,
    name: str = "g",
    opsets: list[onnx.OperatorSetIdProto] | None = None,
    **kw: object,
) -> onnx.ModelProto:
    """A model around one graph; inputs and outputs default to float ``x`` and ``y`` of [2]."""
    g = helper.make_graph(
        nodes,
        name,
        [vi("x")] if inputs is None else inputs,
        [vi("y")] if outputs is None else outputs,
        initializers or [],
    )
    m = helper.make_model(g, opset_imports=opsets or OPSET, **kw)
    m.ir_version = 8
    return m


def vi(name: str, dims: list | None = None, dtype: int = TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, [2] if dims is None else dims)


def node(op: str, ins: list[str], outs: list[str], name: str = "", **attrs: object):
    return helper.make_node(op, ins, outs, name=name or None, **attrs)


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def wire_field(number: int, payload: bytes) -> bytes:
    """A length-delimited field with its true length."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def model_bytes(graph: bytes) -> bytes:
    """ir_version 8, opset 17 and ``graph`` (a serialized GraphProto) as a model."""
    return (
        varint(1 << 3)
        + varint(8)
        + wire_field(8, OPSET[0].SerializeToString())
        + wire_field(7, graph)
    )


def graph_attribute(name: str, graph: bytes) -> bytes:
    """An AttributeProto of type GRAPH, on the wire (protobuf refuses to copy deep messages)."""
    return wire_field(1, name.encode()) + wire_field(6, graph) + varint(20 << 3) + varint(5)


def read_varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[i]
        value |= (b & 0x7F) << shift
        i += 1
        if b < 0x80:
            return value, i
        shift += 7


def field_boundaries(data: bytes, start: int = 0, end: int | None = None) -> set[int]:
    """Offsets where a protobuf field, or a part of one (tag, length, payload), starts or ends,
    at every nesting level (a length-delimited payload that parses as fields is a message)."""
    end = len(data) if end is None else end
    out: set[int] = set()
    i = start
    try:
        while i < end:
            out.add(i)
            tag, j = read_varint(data, i)
            out.add(j)
            wire = tag & 7
            if wire == 0:
                _, i = read_varint(data, j)
            elif wire == 1:
                i = j + 8
            elif wire == 5:
                i = j + 4
            elif wire == 2:
                length, k = read_varint(data, j)
                out.add(k)
                inner = field_boundaries(data, k, k + length)
                if inner and max(inner) <= k + length:
                    out |= inner
                i = k + length
            else:
                return set()  # not a message: a string or packed numbers
            if i > end:
                return set()
        out.add(end)
        return out
    except IndexError:
        return set()
