"""Models and helpers shared by the inference tests (core runner and the window's panel)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save_checked(model: onnx.ModelProto, path: Path) -> Path:
    """Save ``model`` (IR 8, which ONNX Runtime 1.32 reads) after onnx.checker accepts it."""
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def endless_loop_model(folder: Path) -> Path:
    """A Loop with no trip count whose condition stays true: ONNX Runtime spins forever."""
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["acc_in", "one"], ["acc_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [1]),
        ],
    )
    graph = helper.make_graph(
        [helper.make_node("Loop", ["", "keep_going", "x"], ["y"], body=body, name="forever")],
        "endless",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        [
            numpy_helper.from_array(np.array(True), "keep_going"),
            numpy_helper.from_array(np.array([1.0], np.float32), "one"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return save_checked(model, folder / "endless.onnx")


def nan_mid_graph_model(folder: Path) -> Path:
    """Sqrt of a negative at node 2 ('sqrt_of_negative', output 's'): NaN from there on."""
    graph = helper.make_graph(
        [
            helper.make_node("Relu", ["x"], ["r"], name="relu"),
            helper.make_node("Neg", ["r"], ["n"], name="neg"),
            helper.make_node("Sqrt", ["n"], ["s"], name="sqrt_of_negative"),
            helper.make_node("Add", ["s", "r"], ["a"], name="add"),
            helper.make_node("Mul", ["a", "a"], ["y"], name="mul"),
        ],
        "nan_mid_graph",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return save_checked(model, folder / "nan.onnx")


def dims_model(folder: Path) -> Path:
    """Inputs with -1 (as PaddlePaddle exports declare), 0, shared symbols and unnamed dims."""
    rng = np.random.default_rng(0)
    weight = numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w")
    nodes = [
        # A PaddlePaddle-style image input [-1, 3, -1, -1] into a Conv.
        helper.make_node("Conv", ["image", "w"], ["conv"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("GlobalAveragePool", ["conv"], ["pooled"], name="pool"),
        # Two inputs sharing symbols, and two sharing nothing but -1 dims: Add needs equal sizes.
        helper.make_node("Add", ["a", "b"], ["ab"], name="add_symbols"),
        helper.make_node("Add", ["p", "q"], ["pq"], name="add_unknown"),
        # A declared 0 dim: an empty tensor is a legal feed.
        helper.make_node("Relu", ["empty"], ["relu_empty"], name="relu_empty"),
    ]
    inputs = [
        helper.make_tensor_value_info("image", TensorProto.FLOAT, [-1, 3, -1, -1]),
        helper.make_tensor_value_info("a", TensorProto.FLOAT, ["n", "features", "seq_len"]),
        helper.make_tensor_value_info("b", TensorProto.FLOAT, ["n", "features", "seq_len"]),
        helper.make_tensor_value_info("p", TensorProto.FLOAT, [-1, -1]),
        helper.make_tensor_value_info("q", TensorProto.FLOAT, [-1, -1]),
        helper.make_tensor_value_info("empty", TensorProto.FLOAT, [0, 4]),
    ]
    outputs = [
        helper.make_tensor_value_info("pooled", TensorProto.FLOAT, [-1, 8, 1, 1]),
        helper.make_tensor_value_info("ab", TensorProto.FLOAT, ["n", "features", "seq_len"]),
        helper.make_tensor_value_info("pq", TensorProto.FLOAT, [-1, -1]),
        helper.make_tensor_value_info("relu_empty", TensorProto.FLOAT, [0, 4]),
    ]
    graph = helper.make_graph(nodes, "dims", inputs, outputs, [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return save_checked(model, folder / "dims.onnx")


def inference_children() -> list[int]:
    """Pids of this process's inference child processes, from /proc (Linux)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"inspector.core.inference.child" in cmdline:
            pids.append(int(stat.parent.name))
    return pids
