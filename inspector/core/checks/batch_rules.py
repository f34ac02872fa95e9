"""The batch analysis's facts, its types, and its rules for ops that move data around.

A rule gets a node and the inputs that carry the batch (:class:`Track`: on which axis) and says
which outputs carry it, on which axis, or raises :class:`Veto` saying why the node does not keep
it a batch. The rules here reshape, slice, gather and concatenate; :mod:`.batch_ops` holds those
that compute; :mod:`.batch_flow` runs them over the graph.

Shape vectors (:class:`Vec`): ``Shape`` of a batch tensor is a 1-D tensor holding the batch size
as one entry (:data:`BATCH`). :func:`vector_node` follows it through Gather/Slice/Concat/
Unsqueeze into Reshape, Expand or ConstantOfShape; any other use reads the size as data.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

import numpy as np

from inspector.core.attributes import constant_value
from inspector.core.graph import Graph, Model, Node
from inspector.core.tensor_types import Shape

BATCH = "B"  # the batch size as an entry of a shape vector
_FULL_END = 2**31 - 1  # a Slice end at or past this keeps the whole axis, whatever its size
_MAX_CONST = 1024  # integer initializers larger than this are weights, never shapes or axes


class Veto(Exception):
    """A node does not keep the batch as a batch. ``slots``: the inputs to blame (None: all)."""

    def __init__(self, reason: str, slots: Iterable[int] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.slots = None if slots is None else frozenset(slots)


@dataclass(frozen=True)
class Track:
    """A tensor that carries the batch on ``axis``."""

    axis: int
    size: int = 0
    seeds: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Vec:
    """A 1-D integer tensor (or a scalar) holding dims, the batch size among them."""

    entries: tuple[int | str | None, ...]  # BATCH, a known size, or None
    scalar: bool = False
    size: int = 0
    seeds: frozenset[str] = frozenset()


Out = dict[int, "Track | Vec"]  # output slot → what it carries

Rule = Callable[["Facts", Node, dict[int, Track]], Out]


class Facts:
    """What the rules know about the graph: shapes from shape inference, small constants."""

    def __init__(self, model: Model) -> None:
        self.g = model.graph
        self.opset = model.opset_for("") or 1
        self._consts: dict[str, np.ndarray | None] = {}

    def shape(self, name: str) -> Shape | None:
        v = self.g.values.get(name)
        t = v.type if v is not None else None
        return t.shape if t is not None else None

    def rank(self, name: str) -> int:
        shape = self.shape(name)
        if shape is None:
            raise Veto(f"has an input of unknown rank ('{name}')")
        return len(shape)

    def const(self, name: str) -> np.ndarray | None:
        """Values of a small constant (an initializer, a Constant node, or a Concat of those, as
        unoptimized exports write a Reshape target); None otherwise."""
        if not name:
            return None
        if name not in self._consts:
            arr = _read_const(self.g, name)
            v = self.g.values.get(name)
            if arr is None and v is not None and v.producer is not None:
                node = self.g.nodes[v.producer]
                if node.op_type == "Concat" and node.domain in ("", "ai.onnx"):
                    parts = [self.const(n) for n in node.inputs]
                    if all(a is not None and a.ndim == 1 for a in parts):
                        arr = np.concatenate(parts)  # type: ignore[arg-type]
            self._consts[name] = arr
        return self._consts[name]

    def ints(self, name: str, what: str) -> list[int]:
        """A constant's values as ints; a veto naming ``what`` when it is not constant."""
        arr = self.const(name)
        if arr is None or arr.dtype.kind not in "iu":
            raise Veto(f"takes its {what} from a value computed at run time")
        return [int(v) for v in arr.reshape(-1)]

    def axes(self, node: Node, slot: int, what: str = "axes") -> list[int] | None:
        """``axes`` from the attribute (older opsets) or the input at ``slot``; None if absent."""
        attr = node.attribute_values(("axes",)).get("axes")
        if isinstance(attr, list):
            return [int(a) for a in attr]
        if slot < len(node.inputs) and node.inputs[slot]:
            return self.ints(node.inputs[slot], what)
        return None


def _read_const(g: Graph, name: str) -> np.ndarray | None:
    v = g.values.get(name)
    if v is None:
        return None
    if v.initializer is not None:
        init = v.initializer
        if init.numel > _MAX_CONST:
            return None
        try:
            return init.array()
        except Exception:  # stripped or unreadable data: not a usable constant
            return None
    if v.producer is None:
        return None
    value = constant_value(g.nodes[v.producer].proto)
    arr = value.array(_MAX_CONST) if value is not None else None
    return arr if arr is not None and arr.dtype != object else None  # strings are no sizes


def norm(axis: int, rank: int) -> int:
    a = axis + rank if axis < 0 else axis
    if not 0 <= a < rank:
        raise Veto(f"has axis {axis} outside rank {rank}")
    return a


def only(tracks: dict[int, Track], slots: Collection[int], what: str = "a parameter") -> None:
    """Veto the batch reaching any input slot but ``slots``."""
    bad = [i for i in tracks if i not in slots]
    if bad:
        raise Veto(f"takes it as {what} (input {bad[0]})", bad)


def attr(node: Node, name: str, default: object) -> object:
    value = node.attribute_values((name,)).get(name)
    return default if value is None else value


def int_attr(node: Node, name: str, default: int) -> int:
    value = attr(node, name, default)
    return int(value) if isinstance(value, (int, float)) else default


# ------------------------------------------------------------------- rules that move data


def _transpose(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,))
    perm = attr(node, "perm", None)
    if not isinstance(perm, list):
        perm = list(reversed(range(p.rank(node.inputs[0]))))
    return {0: Track(perm.index(tracks[0].axis))}


def _reshape(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,), "its target shape")
    target = p.ints(node.inputs[1], "target shape")
    if tracks[0].axis != 0 or not target:
        raise Veto("moves it away from dim 0")
    size = tracks[0].size
    if target[0] == 0 and not int_attr(node, "allowzero", 0):
        return {0: Track(0)}
    if target[0] == -1:
        shape = p.shape(node.inputs[0]) or ()
        rest = [shape[j] if t == 0 and j < len(shape) else t for j, t in enumerate(target)][1:]
        known = all(isinstance(d, int) and d > 0 for d in [*shape[1:], *rest])
        if shape and known and int(np.prod(shape[1:])) == int(np.prod(rest)):
            return {0: Track(0)}
        raise Veto(f"folds other dims into it (target shape {target})")
    if target[0] == size:
        raise Veto(f"has its size {size} baked into its target shape {target}")
    raise Veto(f"reshapes it to {target[0]} (target shape {target})")


def _flatten(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,))
    axis = norm(int_attr(node, "axis", 1), p.rank(node.inputs[0]) + 1)
    if tracks[0].axis != 0 or axis != 1:
        raise Veto(f"merges it with other dims (axis {axis})")
    return {0: Track(0)}


def _squeeze(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,), "its axes")
    shape = p.shape(node.inputs[0])
    axes = p.axes(node, 1)
    if axes is None:
        if shape is None or any(not isinstance(d, int) for d in shape):
            raise Veto("removes the size-1 dims of a tensor whose shape is unknown")
        axes = [i for i, d in enumerate(shape) if d == 1]
    rank = p.rank(node.inputs[0])
    axes = [norm(a, rank) for a in axes]
    a = tracks[0].axis
    if a in axes:
        raise Veto("removes it")
    return {0: Track(a - sum(x < a for x in axes))}


def _unsqueeze(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,), "its axes")
    axes = p.axes(node, 1) or []
    out_rank = p.rank(node.inputs[0]) + len(axes)
    inserted = {norm(a, out_rank) for a in axes}
    kept = [i for i in range(out_rank) if i not in inserted]
    return {0: Track(kept[tracks[0].axis])}


def _concat(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    axis = norm(int_attr(node, "axis", 0), p.rank(node.inputs[0]))
    if any(t.axis == axis for t in tracks.values()):
        raise Veto("concatenates along it")
    for i, n in enumerate(node.inputs):
        if n and (i not in tracks or tracks[i].axis != tracks[min(tracks)].axis):
            raise Veto(f"concatenates it with '{n}', whose fixed size would not follow")
    return {0: Track(tracks[min(tracks)].axis)}


def _split(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,), "its split sizes")
    a = tracks[0].axis
    if norm(int_attr(node, "axis", 0), p.rank(node.inputs[0])) == a:
        raise Veto("splits along it")
    return {o: Track(a) for o in range(len(node.outputs))}


def _slice(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,), "a slice bound")
    if p.opset < 10:
        starts = [int(v) for v in attr(node, "starts", [])]  # type: ignore[union-attr]
        ends = [int(v) for v in attr(node, "ends", [])]  # type: ignore[union-attr]
        axes = attr(node, "axes", None)
        steps = [1] * len(starts)
    else:
        ins = list(node.inputs) + [""] * 5
        starts, ends = p.ints(ins[1], "starts"), p.ints(ins[2], "ends")
        axes = p.ints(ins[3], "axes") if ins[3] else None
        steps = p.ints(ins[4], "steps") if ins[4] else [1] * len(starts)
    rank = p.rank(node.inputs[0])
    axes_list = [int(a) for a in axes] if isinstance(axes, list) else list(range(len(starts)))
    a = tracks[0].axis
    for ax, st, en, sp in zip(axes_list, starts, ends, steps, strict=False):
        if norm(ax, rank) == a and not (st == 0 and en >= _FULL_END and sp == 1):
            raise Veto(f"slices it ([{st}:{en}:{sp}])")
    return {0: Track(a)}


def _gather(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    axis = norm(int_attr(node, "axis", 0), p.rank(node.inputs[0]))
    if 0 in tracks and 1 in tracks:
        raise Veto("indexes it with itself")
    if 1 in tracks:  # the indices carry the batch: an embedding lookup
        return {0: Track(axis + tracks[1].axis)}
    a = tracks[0].axis
    if a == axis:
        raise Veto("indexes along it")
    return {0: Track(a if a < axis else a + p.rank(node.inputs[1]) - 1)}


def _expand(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,), "its target shape")
    target = p.ints(node.inputs[1], "target shape")
    return _expanded(p, node, tracks[0], [int(t) for t in target])


def _expanded(p: Facts, node: Node, t: Track | None, target: list) -> Out:
    """Expand's output, the batch coming from the data (``t``) or as BATCH in ``target``."""
    r = p.rank(node.inputs[0])
    big = max(r, len(target))
    where = {i + big - len(target) for i, d in enumerate(target) if d == BATCH}
    if t is not None:
        where.add(t.axis + big - r)
    if len(where) != 1:
        raise Veto("expands it onto more than one axis")
    b = where.pop()
    k = b - (big - len(target))
    if k >= 0 and target[k] not in (1, BATCH):
        raise Veto(f"expands it to a fixed {target[k]}")
    if t is None and b - (big - r) >= 0 and (p.shape(node.inputs[0]) or ())[b - (big - r)] != 1:
        raise Veto("expands a fixed dim to its size")
    return {0: Track(b)}


def _tile(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    only(tracks, (0,), "its repeats")
    repeats = p.ints(node.inputs[1], "repeats")
    a = tracks[0].axis
    if a >= len(repeats) or repeats[a] != 1:
        raise Veto("repeats it")
    return {0: Track(a)}


def _shape(p: Facts, node: Node, tracks: dict[int, Track]) -> Out:
    shape = p.shape(node.inputs[0])
    if shape is None:
        raise Veto("reads the shape of a tensor of unknown rank")
    entries: list[int | str | None] = [d if isinstance(d, int) else None for d in shape]
    entries[tracks[0].axis] = BATCH
    start = norm(int_attr(node, "start", 0), len(shape) + 1) if shape else 0
    end = attr(node, "end", None)
    stop = len(shape) if end is None else min(len(shape), norm(int(end), len(shape) + 1))  # type: ignore[call-overload]
    return _vec_out(entries[start:stop])


def _vec_out(entries: list, scalar: bool = False) -> Out:
    """A shape vector output; one without the batch in it carries nothing."""
    return {0: Vec(tuple(entries), scalar)} if BATCH in entries else {}


def vector_node(p: Facts, node: Node, tracks: dict[int, Track], vecs: dict[int, Vec]) -> Out:
    """A node reading a shape vector that holds the batch size: where the size may go."""
    op = node.op_type
    v = vecs.get(0)
    if op in ("Cast", "Identity") and v is not None:
        return {0: Vec(v.entries, v.scalar)}
    if op == "Gather" and v is not None and len(vecs) == 1 and not v.scalar:
        idx = p.const(node.inputs[1])
        if idx is not None and idx.dtype.kind in "iu" and idx.ndim <= 1:
            n = len(v.entries)
            picked = [v.entries[int(k) + n if k < 0 else int(k)] for k in idx.reshape(-1)]
            return _vec_out(picked, scalar=idx.ndim == 0)
    if op == "Slice" and v is not None and len(vecs) == 1 and not v.scalar and p.opset >= 10:
        ins = list(node.inputs) + [""] * 5
        starts, ends = p.ints(ins[1], "starts"), p.ints(ins[2], "ends")
        steps = p.ints(ins[4], "steps") if ins[4] else [1]
        if len(starts) == 1 and (not ins[3] or p.ints(ins[3], "axes") in ([0], [-1])):
            return _vec_out(list(v.entries[starts[0] : ends[0] : steps[0]]))
    if op == "Unsqueeze" and v is not None and v.scalar and p.axes(node, 1) in ([0], [-1]):
        return _vec_out(list(v.entries))
    if op == "Squeeze" and v is not None and not v.scalar and len(v.entries) == 1:
        return _vec_out(list(v.entries), scalar=True)
    if op == "Concat" and not tracks:
        entries: list = []
        for i, n in enumerate(node.inputs):
            if i in vecs and not vecs[i].scalar:
                entries += vecs[i].entries
            elif (arr := p.const(n)) is not None and arr.dtype.kind in "iu":
                entries += [int(d) for d in arr.reshape(-1)]
            else:  # a part computed without the batch: only its length matters
                shape = p.shape(n)
                if shape is None or len(shape) != 1 or not isinstance(shape[0], int):
                    raise Veto(f"builds a shape from '{n}', whose length is unknown")
                entries += [None] * shape[0]
        return _vec_out(entries)
    if op == "Reshape" and set(vecs) == {1} and 0 in tracks:
        target = vecs[1].entries
        if tracks[0].axis == 0 and target[0] == BATCH and target.count(BATCH) == 1:
            return {0: Track(0)}
        raise Veto("moves it away from dim 0")
    if op == "Expand" and set(vecs) == {1}:
        return _expanded(p, node, tracks.get(0), list(vecs[1].entries))
    if op == "ConstantOfShape" and v is not None and v.entries.count(BATCH) == 1:
        return {0: Track(v.entries.index(BATCH))}
    raise Veto("uses its size as a value")


MOVE_RULES: dict[str, Rule] = {
    "Transpose": _transpose,
    "Reshape": _reshape,
    "Flatten": _flatten,
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Concat": _concat,
    "Split": _split,
    "Slice": _slice,
    "Gather": _gather,
    "Expand": _expand,
    "Tile": _tile,
    "Shape": _shape,
}
