"""Whose failure it is: the Inspector's own code in the child is never reported as ONNX Runtime's,
and a run failure on a node ONNX Runtime's optimizer renamed or fused lands on the original node.

Faults in the Inspector's code are injected with a ``sitecustomize`` module on the child's
``PYTHONPATH`` that replaces one of our functions (never onnx or ONNX Runtime); everything else
is a real run of a real model in the real child.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from inspector.core.graph import open_model
from inspector.core.inference.inputs import random_feeds
from inspector.core.inference.runner import RunOptions, error_finding, run_model
from tests.inference_models import nan_mid_graph_model, save_checked
from tests.model_zoo import shipped_data_dir

ONE_RUN = RunOptions(warmup=0, repeat=1)


# ------------------------------------------------------------------ our histogram, a real CNN


def test_capture_on_a_cnn_with_constant_outputs_runs():
    # light_inception_v1's weights are ConstantOfShape fills: its Softmax gives 8.32e20 in every
    # element, where np.histogram's range logic raised "Too many bins for data range" in the
    # child, which was then reported as an ONNX Runtime crash.
    path = shipped_data_dir() / "light" / "light_inception_v1.onnx"
    model = open_model(path, infer=False)
    options = RunOptions(warmup=0, repeat=1, capture=["*"], profile=True)
    r = run_model(path, random_feeds(model), options, model=model)
    assert r.status == "ok", r.findings
    (out,) = r.outputs
    h = out.stats["histogram"]
    assert h["counts"] == [1000] and h["edges"][0] == h["edges"][1] == out.stats["min"]
    assert len(r.intermediates) == len(model.graph.nodes)
    assert all(t.stats is not None for t in r.intermediates)
    assert r.profile is not None and r.profile.kept


# ----------------------------------------------------------------- our own faults are ours


def _inject(monkeypatch, folder: Path, code: str) -> None:
    """Run ``code`` at the start of every child Python process of this test."""
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(code, encoding="utf-8")
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join((str(folder), os.environ.get("PYTHONPATH", "")))
    )


def test_a_fault_in_our_statistics_is_an_inspector_error(tmp_path, monkeypatch):
    _inject(
        monkeypatch,
        tmp_path / "fault",
        "import inspector.core.tensor_stats as stats\n"
        "def broken(*args, **kwargs):\n"
        "    raise ArithmeticError('injected fault in the statistics')\n"
        "stats.tensor_stats = broken\n",
    )
    path = nan_mid_graph_model(tmp_path)
    r = run_model(path, {"x": np.ones(4, np.float32)}, ONE_RUN)
    assert r.status == "inspector-error"
    (f,) = r.findings
    assert f.code == "inspector-error"
    assert "while summarizing output 'y'" in f.message and "injected fault" in f.message
    assert "please report it to ONNX Inspector" in f.hint and "not in ONNX Runtime" in f.hint
    assert "Traceback" in r.error and "ArithmeticError" in r.error  # the details: our traceback
    assert len(r.latencies_ms) == 1  # ONNX Runtime ran fine before our code failed
    assert not r.ok


def test_a_result_the_child_cannot_write_is_an_inspector_error_not_a_crash(tmp_path, monkeypatch):
    # Neither the result nor the error line can be written: the child exits 1 with a Python
    # traceback.
    _inject(
        monkeypatch,
        tmp_path / "fault",
        "import inspector.core.child.protocol as protocol\n"
        "def broken(*args, **kwargs):\n"
        "    raise OSError('injected fault writing the result')\n"
        "protocol.Emitter.result = protocol.Emitter.error = broken\n",
    )
    path = nan_mid_graph_model(tmp_path)
    r = run_model(path, {"x": np.ones(4, np.float32)}, ONE_RUN)
    assert r.status == "inspector-error"
    (f,) = r.findings
    assert f.code == "inspector-error" and "injected fault writing the result" in f.message
    assert "crashed" not in f.message and "report it to ONNX Inspector" in f.hint
    assert "Traceback" in r.error


# --------------------------------------------------- failures on renamed and fused nodes


def _conv_chain(tmp_path: Path) -> Path:
    """conv1 → relu1 → conv2 → relu2 with 16 channels, but the input's channel dim symbolic: a
    feed with 8 channels fails in conv1, which ONNX Runtime 1.32 fuses with relu1 into an NCHWc
    Conv named after relu1's output ('r1_nchwc')."""
    rng = np.random.default_rng(0)

    def weight(name: str) -> TensorProto:
        return numpy_helper.from_array(rng.standard_normal((16, 16, 3, 3)).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["y"], name="relu2"),
    ]
    graph = helper.make_graph(
        nodes,
        "conv_chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "c", "h", "w"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 16, "h", "w"])],
        [weight("w1"), weight("w2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return save_checked(model, tmp_path / "conv_chain.onnx")


def test_a_failure_in_an_nchwc_fused_conv_lands_on_the_original_conv(tmp_path):
    path = _conv_chain(tmp_path)
    model = open_model(path, infer=False)
    feeds = {"x": np.ones((1, 8, 8, 8), np.float32)}
    r = run_model(path, feeds, ONE_RUN, model=model)
    assert r.status == "run-failed"
    assert "Name:'r1_nchwc'" in r.error  # ONNX Runtime names its optimized node
    (f,) = r.findings
    # The name alone points at relu1 (r1 is its output); the retry with optimizations off in the
    # same child names the node that really fails.
    assert (f.node, f.node_index, f.op_type) == ("conv1", 0, "Conv")
    assert "'r1_nchwc'" in f.message and "Input channels C" in f.message
    plain = run_model(
        path, feeds, RunOptions(warmup=0, repeat=1, graph_optimization_level="disable")
    )
    assert (plain.findings[0].node, plain.findings[0].node_index) == ("conv1", 0)


def test_a_failure_in_a_matmul_add_fusion_lands_on_the_matmul(tmp_path):
    weight = numpy_helper.from_array(np.ones((8, 4), np.float32), "w")
    bias = numpy_helper.from_array(np.ones(4, np.float32), "b")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["m"], name="mm"),
            helper.make_node("Add", ["m", "b"], ["y"], name="bias"),
        ],
        "fused",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", "k"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])],
        [weight, bias],
    )
    model_proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = save_checked(model_proto, tmp_path / "fused.onnx")
    model = open_model(path, infer=False)
    r = run_model(path, {"x": np.ones((2, 5), np.float32)}, ONE_RUN, model=model)
    assert r.status == "run-failed" and "Name:'mm/MatMulAddFusion'" in r.error
    (f,) = r.findings
    assert (f.node, f.node_index, f.op_type) == ("mm", 0, "MatMul")
    # The optimizer's naming alone (no retry) finds it too.
    alone = error_finding(model, "run-failed", r.error)
    assert (alone.node, alone.node_index) == ("mm", 0)


def test_optimizer_names_are_mapped_without_a_retry(tmp_path):
    # ONNX Runtime's message from the NCHWc test above, mapped without the retry's answer: the
    # NCHWc name gives the node producing 'r1' (the fused Conv+Relu's last node).
    model = open_model(_conv_chain(tmp_path), infer=False)
    raw = (
        "[ONNXRuntimeError] : 1 : FAIL : Non-zero status code returned while running Conv node. "
        "Name:'r1_nchwc_token_3' Status Message: Input channels C is not equal to kernel channels"
    )
    f = error_finding(model, "run-failed", raw)
    assert (f.node, f.node_index) == ("relu1", 1) and "'r1_nchwc_token_3'" in f.message
    # When the same run succeeds with optimizations off, the optimizer is at fault: say so.
    f = error_finding(model, "run-failed", raw, {"status": "ok", "error": ""})
    assert "succeeds with graph optimizations disabled" in f.message
    assert "'basic' or 'disable'" in f.hint and "report the model to ONNX Runtime" in f.hint
