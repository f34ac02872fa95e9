"""File → parsed ``onnx.ModelProto``, with every way a file can be bad turned into one clear error.

Parsing only: the graph model is built by :mod:`inspector.core.graph`. External data is never read
here; it is checked (present, inside the model's folder, long enough) and read lazily, one tensor at
a time, by :func:`read_external_tensor`, so a 2 GB model opens without reading its weights.

The user's file is opened read-only and never written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import TensorProto

from inspector.core.tasks import CancelToken, ProgressFn, no_progress

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
    """The file cannot be shown. ``str(e)`` says what is wrong and what to do, in one line."""

    def __init__(self, path: str | os.PathLike[str], problem: str, hint: str) -> None:
        self.path = str(path)
        self.problem = problem
        self.hint = hint
        super().__init__(f"{self.path}: {problem}; {hint}")


@dataclass
class ExternalRef:
    """Where one tensor's bytes live outside the .onnx file."""

    file: Path  # resolved, checked to be inside the model's folder
    offset: int
    length: int  # bytes


@dataclass
class LoadedFile:
    """A parsed model and facts about the file it came from."""

    path: Path
    file_size: int
    proto: onnx.ModelProto  # external data NOT loaded
    external: dict[str, ExternalRef]  # initializer name → where its bytes are (top graph only)
    external_bytes: int


def load_model_file(
    path: str | os.PathLike[str],
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> LoadedFile:
    """Parse ``path`` without reading external data; raise :class:`ModelLoadError` on bad input."""
    p = Path(path)
    progress(0.0, "reading file")
    if not p.exists():
        raise ModelLoadError(p, "no such file", "check the path")
    if p.is_dir():
        raise ModelLoadError(
            p, "this is a folder, not a model file", "choose the .onnx file inside it"
        )
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ModelLoadError(
            p, f"cannot read the file ({e.strerror})", "check its permissions"
        ) from e
    if not data:
        raise ModelLoadError(
            p,
            "the file is empty (0 bytes)",
            "the export or download that wrote it did not finish; write it again",
        )
    if cancel:
        cancel.check()
    progress(0.2, "parsing")
    proto = _parse(p, data)
    if cancel:
        cancel.check()
    progress(0.7, "checking external data")
    external = _check_external_data(p, proto)
    progress(1.0, "parsed")
    return LoadedFile(p, len(data), proto, external, sum(r.length for r in external.values()))


def _parse(p: Path, data: bytes) -> onnx.ModelProto:
    for magic, what in _MAGIC_HINTS:
        if data.startswith(magic):
            raise ModelLoadError(
                p,
                "this is not an ONNX model: " + what.split("; ")[0],
                what.split("; ")[1] if "; " in what else "open an .onnx file",
            )
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except DecodeError as e:
        raise ModelLoadError(
            p,
            _decode_problem(data),
            "if it was copied or downloaded, do it again; if it was exported, export it again",
        ) from e
    except Exception as e:  # protobuf's C++ parser raises other types for some inputs
        raise ModelLoadError(
            p, f"this is not an ONNX model ({type(e).__name__})", "open an .onnx file"
        ) from e
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
    if proto.ir_version <= 0 or not proto.opset_import:
        raise ModelLoadError(
            p,
            "the file ends before the model does (no IR version or opset import)",
            "it is truncated or damaged; copy or export it again",
        )
    return proto


def _decode_problem(data: bytes) -> str:
    # A file that starts like an ONNX model (field 1, ir_version, varint) but fails to parse has
    # almost always been cut short; anything else is some other kind of file.
    if data[:1] == b"\x08":
        return "the file is truncated or damaged (protobuf parse failed)"
    return "this is not an ONNX model (it does not parse as one)"


def _external_refs(tensors: list[TensorProto]) -> list[tuple[TensorProto, dict[str, str]]]:
    out = []
    for t in tensors:
        if t.data_location == TensorProto.EXTERNAL:
            out.append((t, {e.key: e.value for e in t.external_data}))
    return out


def _check_external_data(p: Path, proto: onnx.ModelProto) -> dict[str, ExternalRef]:
    """Check every externally stored initializer of the top graph; read none of them."""
    base = p.parent.resolve()
    sizes: dict[Path, int] = {}
    refs: dict[str, ExternalRef] = {}
    for t, info in _external_refs(list(proto.graph.initializer)):
        loc = info.get("location", "")
        if not loc:
            raise ModelLoadError(
                p,
                f"initializer '{t.name}' is stored externally but names no file",
                "the model is damaged; export it again",
            )
        target = (base / loc).resolve()
        if os.path.isabs(loc) or not target.is_relative_to(base):
            raise ModelLoadError(
                p,
                f"initializer '{t.name}' points outside the model's folder ({loc})",
                "for safety only files next to the model are read; move the data file "
                "beside the model and re-save with a relative location",
            )
        if target not in sizes:
            if not target.is_file():
                raise ModelLoadError(
                    p,
                    f"external data file '{loc}' is missing (needed by '{t.name}')",
                    f"put '{loc}' next to {p.name}, as it was when the model was saved",
                )
            sizes[target] = target.stat().st_size
        offset = int(info.get("offset", 0) or 0)
        length = int(info["length"]) if info.get("length") else sizes[target] - offset
        if offset + length > sizes[target]:
            raise ModelLoadError(
                p,
                f"external data file '{loc}' is too short for '{t.name}' "
                f"(needs {offset + length} bytes, has {sizes[target]})",
                "the data file is truncated; copy or export it again",
            )
        refs[t.name] = ExternalRef(target, offset, length)
    return refs


def read_external_tensor(tensor: TensorProto, ref: ExternalRef) -> np.ndarray:
    """Read one externally stored tensor's values (and nothing else) from its data file."""
    from onnx import helper

    np_dtype = helper.tensor_dtype_to_np_dtype(tensor.data_type)
    with open(ref.file, "rb") as f:
        f.seek(ref.offset)
        raw = f.read(ref.length)
    arr = np.frombuffer(raw, dtype=np_dtype)
    return arr.reshape(tuple(tensor.dims))
