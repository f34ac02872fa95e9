"""The reader of ONNX Runtime's "Node placements" log that the CUDA placement benchmark scores the
partition map against, checked here on a real CPU session (every node placed on the CPU) and on
the per-node form the session writes when more than one provider gets nodes."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

from tests.benchmarks.placement_truth import parse_placements, real_placement


def test_a_real_cpu_session_places_every_node_on_the_cpu(tmp_path) -> None:
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="r1"),
        helper.make_node("Acos", ["a"], ["b"], name="ac"),
        helper.make_node("Relu", ["b"], ["y"], name="r2"),
    ]
    info = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 4]) for n in ("x", "y")]
    graph = helper.make_graph(nodes, "g", info[:1], info[1:])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    assert real_placement(path, ["CPUExecutionProvider"]) == dict.fromkeys(
        ["r1", "ac", "r2"], "CPUExecutionProvider"
    )


def test_the_per_node_form_is_read_and_memcpy_left_out() -> None:
    prefix = "2026-12-03 10:00:00.0 [V:onnxruntime:, session_state.cc:1601 VerifyEachNodeIsAssignedToAnEp]"
    log = [
        f"{prefix} Node placements",
        f"{prefix}  Node(s) placed on [CUDAExecutionProvider]. Number of nodes: 3",
        f"{prefix}   Relu (r1)",
        f"{prefix}   Relu (r2)",
        f"{prefix}   MemcpyToHost (Memcpy)",
        f"{prefix}  Node(s) placed on [CPUExecutionProvider]. Number of nodes: 1",
        f"{prefix}   Acos (ac)",
        "2026-12-03 10:00:00.0 [V:onnxruntime:, session_state.cc:196 CreateGraphInfo] SaveMLValueNameIndexMapping",
    ]
    everything, named = parse_placements(log)
    assert everything is None
    assert named == {
        "r1": "CUDAExecutionProvider",
        "r2": "CUDAExecutionProvider",
        "ac": "CPUExecutionProvider",
    }
