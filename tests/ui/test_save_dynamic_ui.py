"""File > Save with Dynamic Batch As… on a model whose fixed dim 0 is not a batch: the message bar
says why nothing was written, no tab opens, and the destination stays absent."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.ui.window_driving import open_and_wait


def test_save_with_dynamic_batch_says_why_nothing_was_written(qtbot, window, tmp_path):
    g = helper.make_graph(
        [helper.make_node("Reshape", ["x", "target"], ["y"], name="flatten_to_1")],
        "baked",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 12])],
        [numpy_helper.from_array(np.array([1, 12], np.int64), "target")],
    )
    path = tmp_path / "baked.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    view = open_and_wait(qtbot, window, path, checked=True)
    assert "fixed-batch-dim" not in [f.code for f in view.document.findings]
    out = tmp_path / "dynamic.onnx"
    window.make_dynamic_to(str(out))
    qtbot.waitUntil(lambda: "nothing written" in window.messages.text, timeout=60000)
    assert "Reshape 'flatten_to_1'" in window.messages.text
    assert window.tabs.count() == 1
    assert not out.exists()
