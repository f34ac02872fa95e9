"""Feeds for a run: random values that respect what each input feeds, or values loaded from files.

Random feeds (:func:`random_feeds`) look at where each graph input goes before drawing values,
because blind random integers break real models (Polygraphy draws ints from {0, 1}; ONNX
Runtime's own test tool from [0, 1000), which is past the end of most embedding tables):

* an integer input that reaches a Gather / GatherElements / GatherND index (directly or through
  Cast, Unsqueeze, Reshape ...) gets values in ``[0, n)`` where ``n`` is the size of the gathered
  axis of the table (an embedding table's vocabulary); a negative-index-safe range is not used;
* a mask (name contains ``mask``, dtype bool, or feeding Where's condition or And/Or/Xor/Not)
  gets 0/1;
* an integer input used as a shape (Reshape, Expand, ConstantOfShape, Tile) gets ones, and one
  used as a sequence position gets 0;
* floats get a seeded standard normal; other integers ``[0, 10)``.

Dim sizes (:func:`symbol_sizes`, :func:`feed_shape`): a fixed dim keeps its size, ``0``
included (an empty tensor is a legal feed). A symbol gets one size for every input it appears in
(so two inputs sharing ``batch`` always agree), chosen by name: ``batch``-like 1, sequence-like
(``seq``, ``len``, ``time``, ``token``) 16, height/width-like 224; any symbol can be overridden.
A symbol whose name says nothing, and an unknown dim (no value, or a negative one such as the
``-1`` PaddlePaddle exports declare), are sized by position: dim 0 is taken as a batch (1), the
last two dims of a float NCHW image input (dim 1 of 1, 3 or 4 channels) as its height and width
(224), any other dim 16.

Loaded feeds (:func:`load_feeds`): ``.npy`` (for a one-input model, or named after an input),
``.npz`` matched by name, an ONNX ``TensorProto`` ``.pb``, a folder of ``NAME.npy`` files, or an
onnx ``test_data_set_N`` folder (``input_<i>.pb`` in graph-input order), which also brings the
expected outputs.

Checking feeds against the declared inputs is :mod:`inspector.core.feeds`'s job.

Known limitations: the role analysis follows the main graph only (an index used inside a Loop
body is treated as a plain integer); a range for an index is only found when the table is an
initializer or has a declared shape; sequence, map and optional inputs are not supported.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from inspector.core.feeds import numpy_dtype
from inspector.core.graph import Graph, Model
from inspector.core.tensor_types import Shape

BATCH_DIM = 1  # batch-like symbols, and an unknown dim 0
SEQUENCE_DIM = 16  # sequence-like symbols, and any other unknown dim: small, but not degenerate
IMAGE_DIM = 224  # height/width-like symbols, and an image input's unknown height and width
_BATCH_SYMBOL = re.compile(r"batch|^(n|b|bs|num)$", re.IGNORECASE)
_SEQUENCE_SYMBOL = re.compile(r"seq|len|time|token|step", re.IGNORECASE)
_IMAGE_SYMBOL = re.compile(r"height|width|^(h|w|img_h|img_w)$", re.IGNORECASE)
_IMAGE_CHANNELS = (1, 3, 4)
_INT_HIGH = 10  # exclusive upper bound for integers with no known role

# Ops whose output carries the same values as input 0 (maybe reshaped or re-typed), so an index
# traced through them is still an index into the same table.
_PASS_THROUGH = frozenset(
    ("Cast", "Identity", "Unsqueeze", "Squeeze", "Reshape", "Flatten", "Expand", "Transpose")
)
_INDEX_SLOTS = {"Gather": 1, "GatherElements": 1, "GatherND": 1}
_SHAPE_SLOTS = {"Reshape": 1, "Expand": 1, "ConstantOfShape": 0, "Tile": 1}
_POSITION_OPS = frozenset(("SequenceAt", "SequenceErase", "SequenceInsert"))
_MASK_OPS = frozenset(("And", "Or", "Xor", "Not"))


class FeedError(Exception):
    """A feed file cannot be read or matched to the model's inputs (one line, what to do)."""


@dataclass(frozen=True)
class FeedSpec:
    """One graph input of a model and how random values are drawn for it (not to be confused
    with :class:`inspector.core.export.config.InputSpec`, an example input to build for an
    export).

    Example: ``FeedSpec("input_ids", "int64", ("batch", "seq"), "index", 30522,
    "index into 'embed.weight' axis 0 (30522)")``.
    """

    name: str
    dtype: str  # as the graph model names it (graph.dtype_name), e.g. "float32", "string"
    shape: Shape | None  # declared; None when the rank is unknown
    role: str  # "float" | "index" | "mask" | "shape" | "position" | "int" | "bool" | "string"
    high: int | None = None  # exclusive upper bound of an "index"
    reason: str = ""  # why this role, in words, for the panel's tooltip


@dataclass
class LoadedFeeds:
    """Feeds read from files, and the expected outputs when the source had them."""

    feeds: dict[str, np.ndarray]
    expected: dict[str, np.ndarray] | None = None


# ------------------------------------------------------------------------------ random feeds


def input_specs(model: Model) -> list[FeedSpec]:
    """How random values are drawn for each real graph input of the main graph."""
    g = model.graph
    specs = []
    for name in g.inputs:
        t = g.values[name].type
        dtype = t.dtype if t else "float32"
        shape = t.shape if t else None
        specs.append(_spec(g, name, dtype, shape))
    return specs


def _spec(g: Graph, name: str, dtype: str, shape: Shape | None) -> FeedSpec:
    if dtype == "string":
        return FeedSpec(name, dtype, shape, "string", reason="strings")
    if dtype == "bool":
        return FeedSpec(name, dtype, shape, "bool", reason="bool: 0/1")
    is_int = dtype.startswith(("int", "uint"))
    uses = _uses(g, name)
    if "mask" in name.lower() or any(
        op in _MASK_OPS or (op == "Where" and slot == 0) for _, op, slot in uses
    ):
        return FeedSpec(name, dtype, shape, "mask", reason="a mask: 0/1")
    if not is_int:
        return FeedSpec(name, dtype, shape, "float", reason="standard normal")
    for node_index, op, slot in uses:
        if _INDEX_SLOTS.get(op) == slot:
            high, why = _table_size(g, node_index)
            if high:
                return FeedSpec(name, dtype, shape, "index", high, why)
        if _SHAPE_SLOTS.get(op) == slot:
            return FeedSpec(name, dtype, shape, "shape", reason=f"a shape for {op}: ones")
        if op in _POSITION_OPS and slot >= 1:
            return FeedSpec(name, dtype, shape, "position", reason=f"a position for {op}: 0")
    return FeedSpec(name, dtype, shape, "int", _INT_HIGH, f"integers in [0, {_INT_HIGH})")


def _uses(g: Graph, name: str) -> list[tuple[int, str, int]]:
    """(node index, op type, input slot) of every use of ``name``, looking through ops that only
    reshape or re-type it."""
    out: list[tuple[int, str, int]] = []
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen or current not in g.values:
            continue
        seen.add(current)
        for i in g.values[current].consumers:
            node = g.nodes[i]
            for slot, inp in enumerate(node.inputs):
                if inp == current:
                    out.append((i, node.op_type, slot))
                    if slot == 0 and node.op_type in _PASS_THROUGH:
                        todo.extend(o for o in node.outputs if o)
    return out


def _table_size(g: Graph, node_index: int) -> tuple[int | None, str]:
    """Size of the axis a Gather-like node indexes into its data input, with the reason."""
    node = g.nodes[node_index]
    data = g.values.get(node.inputs[0])
    shape = data.type.shape if data is not None and data.type is not None else None
    if not shape:
        return None, ""
    axis = 0
    if node.op_type in ("Gather", "GatherElements"):
        axis = int(node.attribute_values(("axis",)).get("axis", 0) or 0)  # type: ignore[call-overload]
    elif node.op_type == "GatherND":
        axis = int(node.attribute_values(("batch_dims",)).get("batch_dims", 0) or 0)  # type: ignore[call-overload]
    size = shape[axis] if -len(shape) <= axis < len(shape) else None
    if not isinstance(size, int) or size <= 0:
        return None, ""
    return size, f"index into '{node.inputs[0]}' axis {axis} ({size})"


def _positional_size(spec: FeedSpec, axis: int) -> int:
    """The size of a dim nothing names, from where it sits (see the module's docstring)."""
    if axis == 0:
        return BATCH_DIM
    shape = spec.shape or ()
    image = (
        spec.role == "float"
        and len(shape) == 4
        and axis in (2, 3)
        and isinstance(shape[1], int)
        and shape[1] in _IMAGE_CHANNELS
    )
    return IMAGE_DIM if image else SEQUENCE_DIM


def _symbol_size(spec: FeedSpec, axis: int, symbol: str) -> int:
    if _BATCH_SYMBOL.search(symbol):
        return BATCH_DIM
    if _SEQUENCE_SYMBOL.search(symbol):
        return SEQUENCE_DIM
    if _IMAGE_SYMBOL.search(symbol):
        return IMAGE_DIM
    return _positional_size(spec, axis)


def symbol_sizes(specs: list[FeedSpec], dims: Mapping[str, int] | None = None) -> dict[str, int]:
    """One size per symbolic dim over all ``specs``: ``dims[symbol]`` where given, else chosen by
    its name or, failing that, by the position of its first appearance."""
    dims = dims or {}
    out: dict[str, int] = {}
    for spec in specs:
        for axis, d in enumerate(spec.shape or ()):
            if isinstance(d, str) and d not in out:
                out[d] = int(dims[d]) if d in dims else _symbol_size(spec, axis, d)
    return out


def feed_shape(spec: FeedSpec, sizes: Mapping[str, int]) -> tuple[int, ...]:
    """The concrete shape fed to ``spec``'s input: fixed dims (``0`` too) kept, symbols from
    ``sizes`` (:func:`symbol_sizes`), unknown and negative dims by position.

    An unknown rank gives a scalar ``()``: there is nothing better to guess.
    """
    out = []
    for axis, d in enumerate(spec.shape or ()):
        if isinstance(d, int) and d >= 0:
            out.append(d)
        elif isinstance(d, str):
            out.append(int(sizes[d]) if d in sizes else _symbol_size(spec, axis, d))
        else:
            out.append(_positional_size(spec, axis))
    return tuple(out)


def build_feeds(
    specs: list[FeedSpec],
    seed: int = 0,
    dims: Mapping[str, int] | None = None,
    given: Mapping[str, np.ndarray] | None = None,
    constants: Mapping[str, float] | None = None,
) -> dict[str, np.ndarray]:
    """The feeds of a run: ``given`` arrays where there are, ``constants`` (every element one
    value) next, random values for the rest. The one builder the CLI and the panel share.

    Random values are drawn for every input in order whatever its source, so an input's values
    depend only on the seed, the dims and its position: ``run --random --seed N`` and the panel
    give the same arrays, and an input keeps its values when another one switches to a file.
    ``given`` names that are not in ``specs`` are kept, for the feed checks to report.
    """
    rng = np.random.default_rng(seed)
    sizes = symbol_sizes(specs, dims)
    given = given or {}
    constants = constants or {}
    feeds: dict[str, np.ndarray] = {}
    for spec in specs:
        shape = feed_shape(spec, sizes)
        try:
            drawn = random_value(spec, shape, rng)
        except MemoryError as e:
            raise FeedError(_too_big(spec, shape)) from e
        if spec.name in given:
            feeds[spec.name] = given[spec.name]
        elif spec.name in constants:
            feeds[spec.name] = np.full(shape, constants[spec.name]).astype(drawn.dtype)
        else:
            feeds[spec.name] = drawn
    feeds.update({k: v for k, v in given.items() if k not in feeds})
    return feeds


def random_feeds(
    model: Model, seed: int = 0, dims: Mapping[str, int] | None = None
) -> dict[str, np.ndarray]:
    """A random feed for every input of ``model`` (reproducible for a given ``seed``)."""
    return build_feeds(input_specs(model), seed, dims)


def _too_big(spec: FeedSpec, shape: tuple[int, ...]) -> str:
    size = math.prod(shape) * np.dtype(numpy_dtype(spec.dtype)).itemsize
    return (
        f"input '{spec.name}' of shape {list(shape)} would need {size:,} bytes of random values, "
        "more than this machine has; give its value from a file, or smaller sizes for its dims"
    )


def random_value(spec: FeedSpec, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Values for one input, drawn as its role says."""
    dtype = numpy_dtype(spec.dtype)
    if dtype is None:
        raise FeedError(
            f"input '{spec.name}' is {spec.dtype}: random values are drawn for tensor inputs "
            "only, and ONNX Inspector cannot feed others"
        )
    if math.prod(shape) * dtype.itemsize > np.iinfo(np.intp).max:  # numpy: "array is too big"
        raise FeedError(_too_big(spec, shape))
    if spec.role == "string":
        return rng.choice(np.array(["monday", "tuesday", "the", "onnx"]), size=shape).astype(object)
    if spec.role in ("mask", "bool"):
        return rng.integers(0, 2, size=shape).astype(dtype)
    if spec.role == "shape":
        return np.ones(shape, dtype=dtype)
    if spec.role == "position":
        return np.zeros(shape, dtype=dtype)
    if spec.role in ("index", "int"):
        return rng.integers(0, spec.high or _INT_HIGH, size=shape).astype(dtype)
    return rng.standard_normal(size=shape).astype(dtype)


# ------------------------------------------------------------------------------- loaded feeds


def load_array(path: str | os.PathLike[str]) -> np.ndarray:
    """One array from a ``.npy`` or TensorProto ``.pb`` file (raises :class:`FeedError`)."""
    p = Path(path)
    if not p.is_file():
        raise FeedError(f"{p}: no such file")
    try:
        if p.suffix.lower() == ".npy":
            # allow_pickle stays off: a .npy from elsewhere must not run code when loaded.
            return np.load(p, allow_pickle=False)
        if p.suffix.lower() == ".pb":
            return numpy_helper.to_array(onnx.load_tensor(str(p)))
    except (ValueError, OSError) as e:
        raise FeedError(f"{p}: cannot read it ({e}); save the array with numpy.save") from e
    except Exception as e:  # protobuf's DecodeError and friends: a .pb that is not a tensor
        raise FeedError(f"{p}: not an ONNX TensorProto ({type(e).__name__})") from e
    raise FeedError(f"{p}: unknown file type; use .npy, .npz, .pb or a test_data_set folder")


def load_feeds(model: Model, source: str | os.PathLike[str]) -> LoadedFeeds:
    """Feeds (and expected outputs, if the source has them) from a file or folder.

    ``source``: ``.npz`` (arrays named after inputs), ``.npy`` or ``.pb`` (one-input models; a
    ``.pb`` with a name is matched by it, a file named ``<input name>.npy`` or ``.pb`` by its
    name), an onnx ``test_data_set_N`` folder, or a folder of ``<input name>.npy`` files.
    """
    p = Path(source)
    inputs = model.graph.inputs
    if p.is_dir():
        if any(p.glob("input_*.pb")):
            return _load_test_data_set(model, p)
        feeds = {f.stem: load_array(f) for f in sorted(p.glob("*.npy"))}
        if not feeds:
            raise FeedError(f"{p}: no input_<i>.pb or <name>.npy files in this folder")
        return LoadedFeeds(feeds)
    if p.suffix.lower() == ".npz":
        if not p.is_file():
            raise FeedError(f"{p}: no such file")
        try:
            with np.load(p, allow_pickle=False) as npz:
                return LoadedFeeds({k: npz[k] for k in npz.files})
        except (ValueError, OSError) as e:
            raise FeedError(f"{p}: cannot read it as .npz ({e})") from e
    arr = load_array(p)
    name = _pb_name(p) if p.suffix.lower() == ".pb" else ""
    if not name and len(inputs) != 1 and p.stem in inputs:
        name = p.stem  # input_ids.npy: the same rule as in a folder of <input name>.npy
    if not name:
        if len(inputs) != 1:
            raise FeedError(
                f"{p}: one array for a model with {len(inputs)} inputs; name the file after "
                "its input (NAME.npy), use an .npz with one array per input name, or "
                "--input NAME=FILE for each"
            )
        name = inputs[0]
    return LoadedFeeds({name: arr})


def _pb_name(path: Path) -> str:
    try:
        return onnx.load_tensor(str(path)).name
    except Exception:  # already read successfully by load_array; a name is optional
        return ""


def _numbered(folder: Path, prefix: str) -> list[Path]:
    files = folder.glob(f"{prefix}_*.pb")
    return sorted(files, key=lambda f: int(f.stem.rsplit("_", 1)[1]))


def _by_name(folder: Path, prefix: str, names: list[str]) -> dict[str, np.ndarray]:
    """``<prefix>_<i>.pb`` files matched to ``names`` in order (a tensor's own name wins)."""
    files = _numbered(folder, prefix)
    if len(files) > len(names):
        raise FeedError(
            f"{folder}: {len(files)} {prefix} files but the model has {len(names)} {prefix}s"
        )
    out = {}
    for f, declared in zip(files, names, strict=False):  # fewer files: trailing optional inputs
        own = _pb_name(f)
        out[own if own in names else declared] = load_array(f)
    return out


def _load_test_data_set(model: Model, folder: Path) -> LoadedFeeds:
    """``input_<i>.pb`` / ``output_<i>.pb`` in graph order."""
    g = model.graph
    expected = _by_name(folder, "output", g.outputs) if any(folder.glob("output_*.pb")) else None
    return LoadedFeeds(_by_name(folder, "input", g.inputs), expected)


def load_expected(model: Model, source: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Expected outputs from a ``test_data_set_N`` folder, an ``.npz`` or a folder of ``.npy``."""
    p = Path(source)
    if p.is_dir() and any(p.glob("output_*.pb")):
        return _by_name(p, "output", model.graph.outputs)
    if p.is_dir():
        arrays = {f.stem: load_array(f) for f in sorted(p.glob("*.npy"))}
    elif p.suffix.lower() == ".npz" and p.is_file():
        with np.load(p, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    else:
        raise FeedError(
            f"{p}: expected outputs must be a test_data_set folder, .npz or .npy folder"
        )
    if not arrays:
        raise FeedError(f"{p}: no expected outputs found")
    return arrays
