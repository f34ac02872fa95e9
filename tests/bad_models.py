"""Files that are not valid models, built for the bad-input tests (core, CLI and window alike)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def small_model() -> onnx.ModelProto:
    """x[2,3] · W[3,4] + b → y: a valid model with two initializers."""
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(3, 4), "W")
    b = numpy_helper.from_array(np.ones(4, dtype=np.float32), "b")
    g = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["xw"], name="mm"),
            helper.make_node("Add", ["xw", "b"], ["y"], name="add"),
        ],
        "small",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [w, b],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def external_model(folder: Path) -> Path:
    """A valid model whose weights live in ``weights.bin`` beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    m = small_model()
    path = folder / "ext.onnx"
    onnx.save_model(
        m,
        path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    return path


def make_bad_files(folder: Path) -> dict[str, Path]:
    """name → path of each kind of bad input the loader must explain."""
    folder.mkdir(parents=True, exist_ok=True)
    good = small_model().SerializeToString()
    out: dict[str, Path] = {}

    out["empty"] = folder / "empty.onnx"
    out["empty"].write_bytes(b"")

    out["truncated"] = folder / "truncated.onnx"
    out["truncated"].write_bytes(good[: len(good) // 2])

    out["not_onnx_text"] = folder / "notes.onnx"
    out["not_onnx_text"].write_text("this is a text file, not a model\n" * 20)

    out["not_onnx_random"] = folder / "random.onnx"
    out["not_onnx_random"].write_bytes(np.random.default_rng(0).bytes(4096))

    out["zip"] = folder / "checkpoint.onnx"
    out["zip"].write_bytes(b"PK\x03\x04" + bytes(200))

    missing_dir = folder / "missing_ext"
    out["external_missing"] = external_model(missing_dir)
    (missing_dir / "weights.bin").unlink()

    short_dir = folder / "short_ext"
    out["external_truncated"] = external_model(short_dir)
    data = (short_dir / "weights.bin").read_bytes()
    (short_dir / "weights.bin").write_bytes(data[:10])

    outside_dir = folder / "outside_ext" / "model"
    path = external_model(outside_dir)
    m = onnx.load(path, load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../secret.bin"
    (outside_dir.parent / "secret.bin").write_bytes((outside_dir / "weights.bin").read_bytes())
    out["external_outside"] = outside_dir / "escape.onnx"
    out["external_outside"].write_bytes(m.SerializeToString())
    return out
