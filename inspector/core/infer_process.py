"""Shape inference in a child process, for the window.

Why a child: ``onnx.shape_inference`` holds the GIL for its whole run, needs three or four copies
of the model in memory at its peak (about +0.9 GB for a 100k-node transformer), and can crash the
interpreter on malformed models. In a child it runs on the other core, its memory is returned when
it exits, a crash is reported as an error, and Cancel kills it.

Protocol: the child reads the model file itself and writes one JSON object to stdout:
``{"types": {name: [dtype, shape or null]}, "error": ""}`` (shape: a list of int, str or null).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from inspector.core.child_process import run_streaming
from inspector.core.graph import TensorType, infer_proto_types
from inspector.core.loader import ModelLoadError, load_model_file
from inspector.core.tasks import CancelToken


def infer_types_in_child(
    path: str | os.PathLike[str], cancel: CancelToken | None = None, timeout: float = 600.0
) -> tuple[dict[str, TensorType], str]:
    """(value name → inferred type, error text or "") for the model at ``path``."""
    lines: list[str] = []
    with tempfile.TemporaryFile() as stderr:
        returncode = run_streaming(
            [sys.executable, "-m", "inspector.core.infer_process", str(Path(path))],
            lines.append,
            cancel,
            timeout,
            stderr=stderr,
        )
        stderr.seek(0)
        err = stderr.read().decode("utf-8", "replace")
    if returncode is None:
        return {}, f"shape inference took longer than {timeout:.0f} s and was stopped"
    if returncode != 0:
        last = err.strip().splitlines()[-1:] or [""]
        return {}, f"shape inference failed (exit code {returncode}) {last[0]}".strip()
    data = json.loads("".join(lines))
    types = {
        name: TensorType(dtype, tuple(shape) if shape is not None else None)
        for name, (dtype, shape) in data["types"].items()
    }
    return types, data["error"]


def _child(path: str) -> int:
    try:
        loaded = load_model_file(path)
    except ModelLoadError as e:
        json.dump({"types": {}, "error": str(e)}, sys.stdout)
        return 0
    types, error = infer_proto_types(loaded.proto)
    payload = {
        name: [t.dtype, list(t.shape) if t.shape is not None else None] for name, t in types.items()
    }
    json.dump({"types": payload, "error": error}, sys.stdout, separators=(",", ":"))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
