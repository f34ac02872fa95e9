"""File → parsed ``onnx.ModelProto``, with every way a file can be bad turned into one clear error.

Parsing only: the graph model is built by :mod:`inspector.core.graph`. External data is never read
here; it is checked (present, inside the model's folder, a regular file, long enough, fields well
formed) and read lazily, one tensor at a time, by :func:`read_external_tensor`, so a 2 GB model
opens without reading its weights.

The file is hostile until proven otherwise: only a regular file is read (a named pipe or a device
would block or never end), at most :data:`MAX_MODEL_BYTES`, and an external-data location may
name only a regular file inside the model's folder (no absolute paths, ``..``, NUL bytes or links
leading out). The user's file is opened read-only and never written.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message
from onnx import AttributeProto, TensorProto

from inspector.core.proto_pieces import parse_in_pieces
from inspector.core.tasks import CancelToken, ProgressFn, no_progress
from inspector.core.text import printable

#: Largest file read: protobuf cannot parse a message of 2 GiB or more.
MAX_MODEL_BYTES = 2**31 - 1

# First bytes of files people mistake for ONNX models, and what to tell them.
_MAGIC_HINTS: tuple[tuple[bytes, str], ...] = (
    (
        b"PK\x03\x04",
        "it is a zip archive (a PyTorch .pt/.pth checkpoint or a .pt2 archive?); "
        "export it to ONNX first (File > Export from PyTorch, or `onnx-inspector export`)",
    ),
    (b"\x80\x02", "it is a Python pickle (a PyTorch checkpoint?); export it to ONNX first"),
    (b"\x89PNG", "it is a PNG image"),
    (b"\x89HDF", "it is an HDF5 file (a Keras model?); convert it with tf2onnx first"),
    (b"\x93NUMPY", "it is a NumPy .npy array, not a model"),
    (
        b"ORTM",
        "it is an ONNX Runtime .ort file, which this version cannot show; open the .onnx "
        "it was converted from",
    ),
    (b"{", "it is a JSON or text file"),
    (b"<", "it is an XML or HTML file"),
)


class ModelLoadError(Exception):
    """The file cannot be shown. ``str(e)`` says what is wrong and what to do, in one line.

    Paths and names from the file are shown escaped (:func:`~inspector.core.text.printable`), so
    a control character in them cannot break the line or drive the terminal.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str, hint: str) -> None:
        self.path = str(path)
        self.problem = printable(problem)
        self.hint = printable(hint)
        super().__init__(f"{printable(self.path)}: {self.problem}; {self.hint}")


@dataclass
class ExternalRef:
    """Where one tensor's bytes live outside the .onnx file."""

    file: Path  # resolved, checked to be a regular file inside the model's folder
    offset: int
    length: int  # bytes


@dataclass
class LoadedFile:
    """A parsed model and facts about the file it came from."""

    path: Path
    file_size: int
    proto: onnx.ModelProto  # external data NOT loaded
    external: dict[str, ExternalRef]  # main-graph initializer name → where its bytes are
    external_bytes: int  # over every externally stored tensor of the model
    # resolves the external initializers of subgraphs (checked, like every external tensor)
    external_data: ExternalData | None = None


def load_model_file(
    path: str | os.PathLike[str],
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> LoadedFile:
    """Parse ``path`` without reading external data; raise :class:`ModelLoadError` on bad input."""
    p = Path(path)
    progress(0.0, "reading file")
    data, parsed = _read_model(p, lambda f, m: progress(0.7 * f, m), cancel)
    if parsed is None:
        if cancel:
            cancel.check()
        progress(0.2, "parsing")
        proto = _parse(p, data)
        size, has_location = len(data), b"location" in data
        del data  # before the graph model is built: it is as big as the file
    else:
        proto, size, has_location = parsed
        _check_parsed(p, proto)
    if cancel:
        cancel.check()
    progress(0.7, "checking external data")
    external_data = ExternalData(p)
    external, external_bytes = _check_external_data(external_data, proto, has_location)
    progress(1.0, "parsed")
    return LoadedFile(p, size, proto, external, external_bytes, external_data)


_KIND_OF_FILE = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_a_file(mode: int) -> str | None:
    """What a non-regular file is ("a named pipe (FIFO)"), or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    return next((what for test, what in _KIND_OF_FILE if test(mode)), "not a regular file")


def _read_model(
    p: Path, progress: ProgressFn, cancel: CancelToken | None
) -> tuple[bytes, tuple[onnx.ModelProto, int, bool] | None]:
    """The file's bytes, after making sure it is a regular file of a size protobuf can parse;
    or, for a big file that :func:`~inspector.core.proto_pieces.parse_in_pieces` can take, no
    bytes and (the parsed model, the file's size, whether ``location`` occurs in it).

    Opened with O_NONBLOCK and checked again on the open descriptor: a named pipe or a device
    swapped in after the first check still cannot make the read block or run forever.
    """
    try:
        st = os.stat(p)
    except FileNotFoundError:
        if os.path.islink(p):
            raise ModelLoadError(
                p, "the link points to a file that does not exist", "check the path"
            ) from None
        raise ModelLoadError(p, "no such file", "check the path") from None
    except (OSError, ValueError) as e:
        raise ModelLoadError(p, f"cannot read the file ({_os_reason(e)})", "check the path") from e
    what = _not_a_file(st.st_mode)
    if what == "a folder":
        raise ModelLoadError(
            p, "this is a folder, not a model file", "choose the .onnx file inside it"
        )
    if what is not None:
        raise ModelLoadError(
            p, f"this is {what}, not a model file", "give the path of an .onnx file"
        )
    if st.st_size > MAX_MODEL_BYTES:
        raise ModelLoadError(p, *_too_big(st.st_size))
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(p, flags)
    except OSError as e:
        raise ModelLoadError(
            p, f"cannot read the file ({_os_reason(e)})", "check its permissions"
        ) from e
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        what = _not_a_file(st.st_mode)
        if what is not None:  # replaced between the two looks
            raise ModelLoadError(p, f"this is {what}, not a model file", "give an .onnx file")
        if st.st_size <= MAX_MODEL_BYTES and not _magic_hint(os.pread(fd, 8, 0)):
            parsed = parse_in_pieces(fd, st.st_size, progress, cancel)
            if parsed is not None:
                return b"", (parsed[0], st.st_size, parsed[1])
        try:
            # The size it has (read() allocates what it is asked for), and never past the bound
            # if it grows meanwhile or, like files under /proc, claims no size.
            data = f.read(min(st.st_size, MAX_MODEL_BYTES) + 1)
            if len(data) > st.st_size:
                data += f.read(MAX_MODEL_BYTES + 1 - len(data))
        except OSError as e:
            raise ModelLoadError(
                p, f"cannot read the file ({_os_reason(e)})", "check the disk or copy it again"
            ) from e
    if len(data) > MAX_MODEL_BYTES:
        raise ModelLoadError(p, *_too_big(len(data)))
    if not data:
        raise ModelLoadError(
            p,
            "the file is empty (0 bytes)",
            "the export or download that wrote it did not finish; write it again",
        )
    return data, None


def _too_big(size: int) -> tuple[str, str]:
    return (
        f"the file is {size / 2**30:.1f} GiB; an .onnx file holds at most 2 GiB "
        "(the protobuf limit)",
        "a bigger model keeps its weights in external data files: save it with "
        "onnx.save_model(..., save_as_external_data=True)",
    )


def _os_reason(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return "the path contains a NUL byte" if "null" in str(e) else type(e).__name__


def _magic_hint(head: bytes) -> str | None:
    """What the file is when its first bytes say it is no ONNX model (see _MAGIC_HINTS)."""
    return next((what for magic, what in _MAGIC_HINTS if head.startswith(magic)), None)


def _parse(p: Path, data: bytes) -> onnx.ModelProto:
    what = _magic_hint(data[:8])
    if what is not None:
        raise ModelLoadError(
            p,
            "this is not an ONNX model: " + what.split("; ")[0],
            what.split("; ")[1] if "; " in what else "open an .onnx file",
        )
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except DecodeError as e:
        if "MaxDepth" in str(e):  # upb's own words for its nesting limit
            raise ModelLoadError(
                p,
                "the model nests deeper than protobuf can read (100 levels: about 30 "
                "subgraphs inside one another)",
                "flatten the nested control flow (If/Loop inside If/Loop) and export it again",
            ) from e
        raise ModelLoadError(
            p,
            _decode_problem(data),
            "if it was copied or downloaded, do it again; if it was exported, export it again",
        ) from e
    except Exception as e:  # protobuf's C++ parser raises other types for some inputs
        raise ModelLoadError(
            p, f"this is not an ONNX model ({type(e).__name__})", "open an .onnx file"
        ) from e
    _check_parsed(p, proto)
    return proto


def _check_parsed(p: Path, proto: onnx.ModelProto) -> None:
    """Refuse a message that parsed but is no model (no graph, no IR version or opsets)."""
    if not proto.HasField("graph") and not proto.opset_import:
        raise ModelLoadError(
            p,
            "this is not an ONNX model (it has no graph)",
            "open an .onnx file written by an ONNX exporter",
        )
    if not proto.HasField("graph"):
        raise ModelLoadError(
            p, "the file has no graph (truncated?)", "if it was copied or downloaded, do it again"
        )
    if not proto.opset_import:  # written after the graph: a file cut short right after it
        raise ModelLoadError(
            p,
            "the model imports no opset (the file may end before the model does)",
            "if it was copied or downloaded, do it again; if it was built by hand, add an opset "
            "import (onnx.helper.make_model(..., opset_imports=[...]))",
        )
    if proto.ir_version <= 0:  # written first: its graph and opsets are there
        raise ModelLoadError(
            p,
            "the model declares no IR version (ir_version is 0)",
            "set model.ir_version (onnx.helper.make_model does) and save it again",
        )


def _decode_problem(data: bytes) -> str:
    # A file that starts like an ONNX model (field 1, ir_version, varint) but fails to parse has
    # almost always been cut short; anything else is some other kind of file.
    if data[:1] == b"\x08":
        return "the file is truncated or damaged (protobuf parse failed)"
    return "this is not an ONNX model (it does not parse as one)"


#: The keys ONNX defines for external data (onnx's own loader knows these; ONNX Runtime refuses
#: a model with any other).
EXTERNAL_DATA_KEYS = frozenset(("location", "offset", "length", "checksum", "basepath"))
_DECIMAL = re.compile(r"[0-9]{1,20}")
# Element types packed two to a byte; every other type takes its numpy item size.
_FOUR_BIT = frozenset(
    getattr(TensorProto, n) for n in ("INT4", "UINT4", "FLOAT4E2M1") if hasattr(TensorProto, n)
)


class ExternalData:
    """Checks and resolves the external-data fields of the tensors of one model file.

    :meth:`ref` raises :class:`ModelLoadError` for a location that is empty, absolute, holds a
    NUL byte, leaves the model's folder (by ``..`` or through a link) or names anything but a
    regular file; for an offset or length that is not a decimal number; for an unknown or
    repeated key; and for a byte range that the file does not hold or that does not match the
    tensor's dims and element type. Nothing is read: the file is only looked at with ``stat``.
    """

    def __init__(self, model_path: Path) -> None:
        self.model_path = model_path
        self.base = Path(os.path.realpath(model_path.parent))
        self._files: dict[str, tuple[Path, int]] = {}  # location → (resolved file, size)

    def _fail(self, problem: str, hint: str) -> ModelLoadError:
        return ModelLoadError(self.model_path, problem, hint)

    def ref(self, t: TensorProto) -> ExternalRef:
        """Where ``t`` (stored externally) has its bytes; see the class docstring for refusals."""
        name = _shown(t.name)
        info: dict[str, str] = {}
        for e in t.external_data:
            key, value = _shown(e.key), e.value
            if key not in EXTERNAL_DATA_KEYS:
                raise self._fail(
                    f"tensor '{name}' has an unknown external-data key '{key}'",
                    "ONNX knows location, offset, length and checksum; export the model again",
                )
            if key in info:
                raise self._fail(
                    f"tensor '{name}' gives its external-data {key} twice",
                    "the model is damaged; export it again",
                )
            info[key] = value if isinstance(value, str) else value.decode("utf-8", "replace")
        file, size = self._file(name, info.get("location", ""))
        offset = self._number(name, info, "offset") or 0
        length = self._number(name, info, "length")
        needed = _stored_bytes(t)
        if length is not None and needed is not None and needed != length:
            raise self._fail(
                f"tensor '{name}' claims {length} bytes of external data, but its dims "
                f"{list(t.dims)} and type need {needed}",
                "the model is damaged; export it again",
            )
        if length is None:  # no length: the tensor's own size, else the rest of the file
            length = needed if needed is not None else max(size - offset, 0)
        if offset + length > size:
            raise self._fail(
                f"external data file '{_shown(info['location'])}' is too short for '{name}' "
                f"(needs {offset + length} bytes, has {size})",
                "the data file is truncated; copy or export it again",
            )
        return ExternalRef(file, offset, length)

    def _number(self, name: str, info: dict[str, str], key: str) -> int | None:
        text = info.get(key)
        if text is None:
            return None
        if not _DECIMAL.fullmatch(text):
            raise self._fail(
                f"tensor '{name}' has external-data {key} '{_shown(text, 40)}', "
                "which is not a number of bytes",
                "the model is damaged; export it again",
            )
        return int(text)

    def _file(self, name: str, loc: str) -> tuple[Path, int]:
        """The resolved data file and its size; checked once per location."""
        known = self._files.get(loc)
        if known is not None:
            return known
        shown = _shown(loc)
        if not loc:
            raise self._fail(
                f"tensor '{name}' is stored externally but names no file",
                "the model is damaged; export it again",
            )
        if "\x00" in loc:
            raise self._fail(
                f"tensor '{name}' names its data file with a NUL byte ('{shown}')",
                "the model is damaged or crafted; do not trust it",
            )
        outside = (
            f"tensor '{name}' points outside the model's folder ({shown})",
            "for safety only files next to the model are read; move the data file "
            "beside the model and re-save with a relative location",
        )
        # Absolute on any system: "/x", and Windows' "\\x", "\\\\server\\x" and "C:x".
        if os.path.isabs(loc) or loc.startswith("\\") or re.match(r"[A-Za-z]:", loc):
            raise self._fail(*outside)
        target = Path(os.path.realpath(self.base / loc))  # follows links, never raises on loops
        if not target.is_relative_to(self.base):
            if Path(os.path.normpath(self.base / loc)).is_relative_to(self.base):
                outside = (
                    f"the data file '{shown}' of tensor '{name}' is a link that leads outside "
                    "the model's folder",
                    outside[1],
                )
            raise self._fail(*outside)
        try:
            st = os.stat(target)
        except FileNotFoundError:
            raise self._fail(
                f"external data file '{shown}' is missing (needed by '{name}')",
                f"put '{shown}' next to {printable(self.model_path.name)}, as it was when the "
                "model was saved",
            ) from None
        except OSError as e:
            raise self._fail(
                f"external data file '{shown}' cannot be read ({_os_reason(e)})",
                "check the file next to the model",
            ) from e
        what = _not_a_file(st.st_mode)
        if what is not None:
            raise self._fail(
                f"external data file '{shown}' (needed by '{name}') is {what}, not a file",
                "put the data file the model was saved with next to it",
            )
        self._files[loc] = (target, st.st_size)
        return target, st.st_size


def _shown(text: str | bytes, limit: int = 200) -> str:
    """Text from the file for a message: escaped, and cut to ``limit`` characters."""
    text = printable(text)
    return text if len(text) <= limit else text[:limit] + "…"


def _stored_bytes(t: TensorProto) -> int | None:
    """Bytes ``t``'s values take as raw data, from its dims and type; None where unknown."""
    n = 1
    for d in t.dims:
        if d < 0:
            return None
        n *= d
    if t.data_type in _FOUR_BIT:
        return (n + 1) // 2
    itemsize = _itemsize(t.data_type)
    return n * itemsize if itemsize else None


def _itemsize(data_type: int) -> int:
    if data_type in (TensorProto.UNDEFINED, TensorProto.STRING):
        return 0
    try:
        return onnx.helper.tensor_dtype_to_np_dtype(data_type).itemsize
    except Exception:  # a type this onnx does not map to numpy: the length cannot be checked
        return 0


def _graph_tensors(g: onnx.GraphProto, top: bool) -> list[tuple[TensorProto, bool]]:
    """Every tensor of ``g`` and its subgraphs that may hold external data, with whether it is
    an initializer of the main graph. The same set ``onnx.load`` fills in (initializers and
    attribute tensors of every graph), plus sparse initializers."""
    out = [(t, top) for t in g.initializer]
    for st in g.sparse_initializer:
        out += [(st.values, False), (st.indices, False)]
    for node in g.node:
        out += _node_tensors(node)
    return out


def _node_tensors(node: onnx.NodeProto) -> list[tuple[TensorProto, bool]]:
    out: list[tuple[TensorProto, bool]] = []
    for a in node.attribute:
        if a.type == AttributeProto.TENSOR:
            out.append((a.t, False))
        elif a.type == AttributeProto.TENSORS:
            out += [(t, False) for t in a.tensors]
        elif a.type == AttributeProto.SPARSE_TENSOR:
            out += [(a.sparse_tensor.values, False), (a.sparse_tensor.indices, False)]
        elif a.type == AttributeProto.GRAPH:
            out += _graph_tensors(a.g, False)
        elif a.type == AttributeProto.GRAPHS:
            for g in a.graphs:
                out += _graph_tensors(g, False)
    return out


def _check_external_data(
    ext: ExternalData, proto: onnx.ModelProto, has_location: bool
) -> tuple[dict[str, ExternalRef], int]:
    """Check every externally stored tensor of the model (see :class:`ExternalData`); return
    where the main graph's initializers are, and the bytes of all. Nothing is read.
    ``has_location``: whether the key ``location`` occurs anywhere in the file's bytes."""
    if has_location:
        tensors = _graph_tensors(proto.graph, True)
        for f in proto.functions:
            for node in f.node:
                tensors += _node_tensors(node)
    else:
        # No tensor names a data file (the key "location" is nowhere in the bytes), so only the
        # main graph's initializers, which the graph model reads, need a look. Scanning every
        # node's attributes costs about 0.3 s per 100k nodes.
        tensors = [(t, True) for t in proto.graph.initializer]
    refs: dict[str, ExternalRef] = {}
    total = 0
    for t, top in tensors:
        if t.data_location == TensorProto.EXTERNAL:
            ref = ext.ref(t)
            total += ref.length
            if top:
                refs[t.name] = ref
    return refs, total


def repair_text(message: Message) -> int:
    """Replace invalid UTF-8 in every string field of ``message`` (recursively) with U+FFFD;
    return how many fields were repaired.

    Protobuf's Python runtime hands a proto2 string field that is not UTF-8 back as ``bytes``;
    everything downstream (JSON, Qt, onnx's C++ bindings) expects ``str``. Walking every field
    costs about a second at 100k nodes, so :func:`inspector.core.graph.build_model` calls this
    only when it met such a field.
    """
    strings, messages = _text_fields(message.DESCRIPTOR)
    repaired = 0
    for name, repeated in strings:
        value = getattr(message, name)
        if repeated:
            for i, item in enumerate(value):
                if isinstance(item, bytes):
                    value[i] = item.decode("utf-8", "replace")
                    repaired += 1
        elif isinstance(value, bytes):
            setattr(message, name, value.decode("utf-8", "replace"))
            repaired += 1
    for name, repeated in messages:
        if repeated:
            for item in getattr(message, name):
                repaired += repair_text(item)
        elif message.HasField(name):
            repaired += repair_text(getattr(message, name))
    return repaired


_TEXT_FIELDS: dict[str, tuple[list[tuple[str, bool]], list[tuple[str, bool]]]] = {}


def _text_fields(desc: Descriptor) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    """(string fields, message fields) of a message type, as (name, repeated)."""
    known = _TEXT_FIELDS.get(desc.full_name)
    if known is None:
        strings = [(f.name, f.is_repeated) for f in desc.fields if f.type == f.TYPE_STRING]
        messages = [
            (f.name, f.is_repeated) for f in desc.fields if f.type == FieldDescriptor.TYPE_MESSAGE
        ]
        known = _TEXT_FIELDS[desc.full_name] = (strings, messages)
    return known


def read_external_tensor(tensor: TensorProto, ref: ExternalRef) -> np.ndarray:
    """Read one externally stored tensor's values (and nothing else) from its data file."""
    from onnx import helper

    np_dtype = helper.tensor_dtype_to_np_dtype(tensor.data_type)
    # O_NONBLOCK and a second look: the file was checked at load, but may since have been
    # replaced by a pipe or device, which must not make this read block or run forever.
    fd = os.open(ref.file, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if _not_a_file(os.fstat(fd).st_mode) is not None:
            raise OSError(f"{ref.file} is no longer a regular file")
        f.seek(ref.offset)
        raw = f.read(ref.length)
    if len(raw) != ref.length:
        raise OSError(f"{ref.file} is shorter than when the model was opened")
    arr = np.frombuffer(raw, dtype=np_dtype)
    return arr.reshape(tuple(tensor.dims))
