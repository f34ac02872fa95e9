"""Parse a big ``.onnx`` file a few MiB at a time, so its bytes and the parsed model are never
both whole in memory.

Why: ``ModelProto.ParseFromString`` copies every string of the file into the message, so while it
runs the process holds the file's bytes and the parsed model at once: 500 MB + 790 MB for the
300k-node benchmark export, the peak of the whole open. Protobuf's merge rule makes the pieces
work: parsing the concatenation of two runs of whole fields gives the same message as parsing the
first and merging the second into it (repeated fields append). So the model's small top-level
fields are parsed together and its graph field, nearly all of the file, is merged into
``model.graph`` one run of whole ``GraphProto`` fields at a time, each read from the file just
before it is parsed.

Where a run ends is found without walking the hundreds of thousands of fields before it: near the
wanted size, a position where a chain of plausible ``GraphProto`` fields starts (each a tag the
graph has, and a length that stays inside the graph) is taken as the next boundary. The guess is
safe: parsing from a true boundary up to a position succeeds only if that position is a boundary
too (otherwise the field across it is cut short and the parse fails). Anything unexpected (no
single graph field, a field of another wire type, a failed piece, a file that changes) makes
:func:`parse_in_pieces` return None, and the caller parses the whole file as before, which also
gives the usual error messages for broken files.

Known limitation: protobuf's nesting limit (100 levels) counts from the message parsed, so a
big file whose subgraphs nest to exactly the limit parses here (one level shallower) where the
whole parse refuses it.
"""

from __future__ import annotations

import os

import onnx

from inspector.core.tasks import Cancelled, CancelToken, ProgressFn

#: Files smaller than this are parsed whole: the saving would be small.
MIN_PIECEWISE_BYTES = 64 * 2**20
#: About how many bytes of the graph each piece holds.
PIECE_BYTES = 8 * 2**20
# A guessed boundary must start this many plausible graph fields in a row (or reach the
# graph's end); inside a node the chain breaks within a few fields (a node's name, op type and
# attributes use tags that a graph does not have).
_CHAIN = 16
_GRAPH_FIELD = 7  # ModelProto.graph
# GraphProto's fields are all length-delimited; their one-byte tags (field << 3 | 2), and field
# 16 (metadata_props) whose tag takes two bytes.
_GRAPH_TAGS = frozenset(f << 3 | 2 for f in (1, 2, 5, 10, 11, 12, 13, 14, 15))
_TAG_16 = b"\x82\x01"
# Where a piece may start: a node, an initializer or a value info (graph fields 1, 5, 13).
_START_TAGS = frozenset(f << 3 | 2 for f in (1, 5, 13))
# The tags of those messages' own fields: NodeProto's ten, all length-delimited; TensorProto's
# (1-15, varint or length-delimited; field 16 has a two-byte tag and is rarely set); and
# ValueInfoProto's four.
_CONTENT_TAGS = {
    1 << 3 | 2: frozenset(f << 3 | 2 for f in range(1, 11)),
    5 << 3 | 2: frozenset(f << 3 | w for f in range(1, 16) for w in (0, 2)),
    13 << 3 | 2: frozenset(f << 3 | 2 for f in range(1, 5)),
}
_MAX_TOP_FIELDS = 100_000  # a model has a few dozen top-level fields; more is not worth it


class _Unusual(Exception):
    """The file is not laid out as expected: parse it whole instead."""


def parse_in_pieces(
    fd: int,
    size: int,
    progress: ProgressFn,
    cancel: CancelToken | None,
    piece_bytes: int = PIECE_BYTES,
    min_bytes: int = MIN_PIECEWISE_BYTES,
) -> tuple[onnx.ModelProto, bool] | None:
    """The model in the open file ``fd`` of ``size`` bytes, and whether the key ``location``
    (external data) occurs in its bytes; None when the file should be parsed whole (smaller
    than ``min_bytes``, or laid out unexpectedly). Pieces hold about ``piece_bytes``."""
    if size < min_bytes:
        return None
    try:
        top, graph_start, graph_end = _top_level(fd, size)
        proto = onnx.ModelProto()
        proto.ParseFromString(top)
        graph = proto.graph
        graph.SetInParent()
        has_location = b"location" in top
        start = graph_start
        while start < graph_end:
            if cancel:
                cancel.check()
            end = _next_boundary(fd, start, graph_end, piece_bytes)
            piece = os.pread(fd, end - start, start)
            if len(piece) != end - start:
                raise _Unusual("the file got shorter")
            graph.MergeFromString(piece)
            # "location" lies inside one field, so never across two pieces
            has_location = has_location or b"location" in piece
            del piece
            progress((end - graph_start) / max(graph_end - graph_start, 1), "parsing")
            start = end
    except Cancelled:
        raise
    except Exception:  # any failure: the whole parse runs and says what is wrong
        return None
    return proto, has_location


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    """The varint at ``buf[i]`` and the index after it (IndexError past the end)."""
    result = shift = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise _Unusual("varint too long")


def _top_level(fd: int, size: int) -> tuple[bytes, int, int]:
    """The bytes of every top-level field but the graph, and where the graph's bytes are."""
    parts: list[bytes] = []
    graph: tuple[int, int] | None = None
    pos = 0
    for _ in range(_MAX_TOP_FIELDS):
        if pos == size:
            break
        head = os.pread(fd, 20, pos)
        tag, i = _varint(head, 0)
        wire = tag & 7
        if wire == 0:
            _, i = _varint(head, i)
            end = pos + i
        elif wire == 2:
            length, i = _varint(head, i)
            end = pos + i + length
            if tag >> 3 == _GRAPH_FIELD:
                if graph is not None:
                    raise _Unusual("two graph fields")
                graph = (pos + i, end)
        else:
            raise _Unusual("a top-level field of another wire type")
        if end > size:
            raise _Unusual("truncated")
        if tag >> 3 != _GRAPH_FIELD:
            field = os.pread(fd, end - pos, pos)
            if len(field) != end - pos:
                raise _Unusual("the file got shorter")
            parts.append(field)
        pos = end
    else:
        raise _Unusual("too many top-level fields")
    if graph is None:
        raise _Unusual("no graph")
    return b"".join(parts), graph[0], graph[1]


def _next_boundary(fd: int, start: int, graph_end: int, piece_bytes: int) -> int:
    """The end of the piece that starts at the field boundary ``start``: a field boundary about
    ``piece_bytes`` further on, or the graph's end."""
    want = start + piece_bytes
    window = max(min(piece_bytes // 8, 256 * 2**10), 256)
    while want + window < graph_end:
        buf = os.pread(fd, window, want)
        found = _find_chain(buf, want, graph_end)
        if found is not None:
            return found
        # inside one big field (a large initializer): look further on
        want += window - 64
        window *= 2
    return graph_end


def _find_chain(buf: bytes, base: int, graph_end: int) -> int | None:
    """The first position in ``buf`` (file offset ``base``) where :data:`_CHAIN` plausible
    graph fields start, or None."""
    last = len(buf) - 32
    i = 0
    while i < last:
        if buf[i] in _START_TAGS and _chain_holds(buf, i, base, graph_end):
            return base + i
        i += 1
    return None


def _chain_holds(buf: bytes, i: int, base: int, graph_end: int) -> bool:
    """Whether :data:`_CHAIN` plausible graph fields start at ``buf[i]``: each with a tag the
    graph has and a length inside the graph, each node's content a run of node fields."""
    try:
        for step in range(_CHAIN):
            if base + i == graph_end:
                return True
            tag = buf[i]
            if tag in _GRAPH_TAGS:
                i += 1
            elif buf[i : i + 2] == _TAG_16:
                i += 2
            else:
                return False
            length, i = _varint(buf, i)
            end = i + length
            if base + end > graph_end:
                return False
            if end > len(buf):  # past what was read: plausible if enough fields came before
                return step >= 4
            # The end of a node's last metadata entry is followed by the next node, and the
            # entry's key and value fields have graph tags too: a node's, initializer's or
            # value info's content must read as fields of its own type to the byte.
            inner = _CONTENT_TAGS.get(tag)
            if inner is not None and not _fields_fill(buf, i, end, inner):
                return False
            i = end
    except (IndexError, _Unusual):
        return False
    return True


def _fields_fill(buf: bytes, i: int, end: int, tags: frozenset[int]) -> bool:
    """Whether ``buf[i:end]`` is a run of fields with one-byte ``tags`` (varint or
    length-delimited)."""
    while i < end:
        tag = buf[i]
        if tag not in tags:
            return False
        value, i = _varint(buf, i + 1)
        if tag & 7 == 2:
            i += value
    return i == end
