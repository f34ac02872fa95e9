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
import subprocess
import sys
import time
from pathlib import Path

from inspector.core.graph import TensorType, infer_proto_types
from inspector.core.loader import ModelLoadError, load_model_file
from inspector.core.tasks import Cancelled, CancelToken

POLL_S = 0.05


def infer_types_in_child(
    path: str | os.PathLike[str], cancel: CancelToken | None = None, timeout: float = 600.0
) -> tuple[dict[str, TensorType], str]:
    """(value name → inferred type, error text or "") for the model at ``path``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "inspector.core.infer_process", str(Path(path))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    started = time.monotonic()
    try:
        while True:
            try:
                out, err = proc.communicate(timeout=POLL_S)
                break
            except subprocess.TimeoutExpired:
                if cancel is not None and cancel.cancelled:
                    raise Cancelled() from None
                if time.monotonic() - started > timeout:
                    return {}, f"shape inference took longer than {timeout:.0f} s and was stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        return {}, f"shape inference failed (exit code {proc.returncode}) {last[0]}".strip()
    data = json.loads(out)
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
