"""Shape inference in a child process, for the window.

Why a child: ``onnx.shape_inference`` holds the GIL for its whole run, needs three or four copies
of the model in memory at its peak (about +0.9 GB for a 100k-node transformer), and can crash the
interpreter on malformed models. In a child it runs on the other core, its memory is returned when
it exits, a crash is reported as an error, and Cancel kills it.

Protocol: the child reads the model file itself and writes JSON lines to stdout, one per value,
``[name, dtype, shape or null]`` (shape: a list of int, str or null), then ``{"error": ""}``.
One small line at a time, decoded as it arrives: one 5 MB ``json.loads`` would hold the
interpreter lock for ~70 ms at 100k nodes, long enough to drop a frame in the window.
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
    types: dict[str, TensorType] = {}
    error = [""]

    def on_line(line: str) -> None:
        item = json.loads(line)
        if isinstance(item, dict):
            error[0] = item["error"]
        else:
            name, dtype, shape = item
            types[name] = TensorType(dtype, tuple(shape) if shape is not None else None)

    with tempfile.TemporaryFile() as stderr:
        returncode = run_streaming(
            [sys.executable, "-m", "inspector.core.infer_process", str(Path(path))],
            on_line,
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
    return types, error[0]


def _child(path: str) -> int:
    try:
        loaded = load_model_file(path)
    except ModelLoadError as e:
        print(json.dumps({"error": str(e)}))
        return 0
    types, error = infer_proto_types(loaded.proto)
    out = sys.stdout
    for name, t in types.items():
        shape = list(t.shape) if t.shape is not None else None
        out.write(json.dumps([name, t.dtype, shape], separators=(",", ":")) + "\n")
    out.write(json.dumps({"error": error}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
