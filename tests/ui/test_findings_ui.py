"""The window shows the same findings as `check --json`: Problems rows, graph outlines and badges,
hover text and the properties panel; switching the runtime target re-checks without a re-layout.

Models are built with onnx.helper so that each finding's place is known: an op no runtime has
(in the main graph, inside an If branch and inside a model-local function), and edge faults.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PySide6.QtWidgets import QTextBrowser

from inspector.core.findings import Finding
from tests.ui.window_driving import open_and_wait


def unsupported_everywhere(folder: Path) -> Path:
    """`Frobnicate` (domain com.example, no kernel anywhere) in the main graph, in an If's then
    branch, and in a model-local function's body."""
    frob = helper.make_node("Frobnicate", ["x"], ["f"], name="frob_main", domain="com.example")
    then_g = helper.make_graph(
        [helper.make_node("Frobnicate", ["x"], ["t"], name="frob_then", domain="com.example")],
        "then",
        [],
        [helper.make_tensor_value_info("t", TensorProto.FLOAT, [2])],
    )
    else_g = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["e"], name="neg_else")],
        "else",
        [],
        [helper.make_tensor_value_info("e", TensorProto.FLOAT, [2])],
    )
    cond = helper.make_node(
        "If", ["c"], ["i"], name="branch", then_branch=then_g, else_branch=else_g
    )
    fn = helper.make_function(
        "local",
        "Wrap",
        ["a"],
        ["b"],
        [helper.make_node("Frobnicate", ["a"], ["b"], name="frob_fn", domain="com.example")],
        [helper.make_opsetid("", 18), helper.make_opsetid("com.example", 1)],
    )
    call = helper.make_node("Wrap", ["x"], ["w"], name="wrap", domain="local")
    add = helper.make_node("Add", ["f", "i"], ["s"], name="add1")
    add2 = helper.make_node("Add", ["s", "w"], ["y"], name="add2")
    g = helper.make_graph(
        [frob, cond, call, add, add2],
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
            helper.make_tensor_value_info("c", TensorProto.BOOL, []),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    m = helper.make_model(
        g,
        functions=[fn],
        opset_imports=[
            helper.make_opsetid("", 18),
            helper.make_opsetid("com.example", 1),
            helper.make_opsetid("local", 1),
        ],
    )
    path = folder / "unsupported.onnx"
    onnx.save(m, path)
    return path


def dtype_fault(folder: Path) -> Path:
    """A float64 initializer meets a float32 input at an Add."""
    c = numpy_helper.from_array(np.ones(3, np.float64), "const_3")
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "const_3"], ["y"], name="add_7")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
        [c],
    )
    path = folder / "dtype.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def cli_findings(path: Path) -> list[dict]:
    r = subprocess.run(
        [sys.executable, "-m", "inspector", "check", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)["findings"]


def as_dicts(findings: list[Finding]) -> list[str]:
    return sorted(json.dumps(f.to_dict(), sort_keys=True) for f in findings)


def test_runtime_findings_everywhere(qtbot, window, tmp_path):
    path = unsupported_everywhere(tmp_path)
    expected = cli_findings(path)
    view = open_and_wait(qtbot, window, path, checked=True)
    doc = view.document
    assert as_dicts(doc.findings) == sorted(json.dumps(f, sort_keys=True) for f in expected)
    # the Problems panel lists exactly these
    assert as_dicts(window.problems.shown_findings()) == as_dicts(doc.findings)
    unsupported = [f for f in doc.findings if f.code == "unsupported-op"]
    assert {tuple(f.path) for f in unsupported} == {
        (),
        ("branch", "then_branch"),
        ("function", "local:Wrap"),
    }
    # outlined on the graph: the node itself, the If holding one, the call of the function
    graph = doc.graph
    boxes = view.scene.box_overlay
    by_name = {n.name: n.index for n in graph.nodes}
    for name in ("frob_main", "branch", "wrap"):
        box = int(doc.current.diagram.node_box[by_name[name]])
        assert box in boxes and boxes[box][0] == "error", name
    # hovering the node explains it
    rect = view.scene.box_rect(int(doc.current.diagram.node_box[by_name["frob_main"]]))
    assert "unsupported-op" in view.scene.tooltip_at(rect.center())
    # clicking the Problems row of the If-branch finding opens that subgraph and selects the node
    row = doc.findings.index(next(f for f in unsupported if f.path))
    window.problems.finding_activated.emit(row)
    qtbot.waitUntil(lambda: doc.graph_path == ("branch", "then_branch"), timeout=30000)
    assert doc.selection is not None and doc.selection.kind == "node"
    assert "unsupported-op" in window.properties.findChild(QTextBrowser).toPlainText()


def test_edge_finding_badge_and_hover(qtbot, window, tmp_path):
    path = dtype_fault(tmp_path)
    expected = cli_findings(path)
    view = open_and_wait(qtbot, window, path, checked=True)
    doc = view.document
    assert as_dicts(doc.findings) == sorted(json.dumps(f, sort_keys=True) for f in expected)
    mismatch = [f for f in doc.findings if f.code == "dtype-mismatch"]
    assert mismatch and mismatch[0].tensor in ("const_3", "x")
    edges = {e for f in mismatch for e in doc.current.diagram.edges_of_value(f.tensor)}
    if edges:  # the float32 input's edge carries it (an initializer has no edge of its own)
        edge = next(iter(edges))
        assert view.scene.edge_overlay[edge][0] == "error"
        assert "dtype-mismatch" in view.scene.tooltip_at(view.scene.edge_midpoint(edge))
    box = int(doc.current.diagram.node_box[mismatch[0].node_index])
    assert view.scene.box_overlay[box][0] == "error"


def test_switching_target_rechecks_without_relayout(qtbot, window, tmp_path):
    path = unsupported_everywhere(tmp_path)
    view = open_and_wait(qtbot, window, path, checked=True)
    layout_before = view.document.current.layout
    scene_before = view.scene
    from inspector.core.checks import RuntimeTarget

    window.session.set_target(RuntimeTarget(opset=17))
    qtbot.waitUntil(lambda: view.document.checked, timeout=120000)
    assert view.document.current.layout is layout_before
    assert view.scene is scene_before


def test_save_converted_writes_a_new_file(qtbot, window, tmp_path):
    from inspector.core.checks import RuntimeTarget

    path = dtype_fault(tmp_path)
    before = path.read_bytes()
    open_and_wait(qtbot, window, path, checked=True)
    window.session.set_target(RuntimeTarget(opset=18))
    out = tmp_path / "converted.onnx"
    window.save_converted_to(str(out))
    qtbot.waitUntil(out.exists, timeout=30000)
    assert window.runner.wait_idle(30000)
    assert [o.version for o in onnx.load(out).opset_import if o.domain == ""] == [18]
    window.save_converted_to(str(path))  # its own file: refused, said in the window
    qtbot.waitUntil(lambda: "overwrite" in window.messages.text, timeout=30000)
    assert path.read_bytes() == before


def _edge_fault_models(folder: Path) -> dict[str, Path]:
    """One small model per edge-check code; every faulty tensor is a real edge (not a weight)."""
    f32, f16 = TensorProto.FLOAT, TensorProto.FLOAT16
    vi = helper.make_tensor_value_info
    cases = {
        "dtype-mismatch": (
            [helper.make_node("Add", ["a", "b"], ["y"], name="add")],
            [vi("a", f32, [3]), vi("b", f16, [3])],
            [vi("y", f32, [3])],
            [],
        ),
        "shape-mismatch": (
            [helper.make_node("MatMul", ["a", "b"], ["y"], name="mm")],
            [vi("a", f32, ["n", 3]), vi("b", f32, [4, 5])],
            [vi("y", f32, ["n", 5])],
            [],
        ),
        "declared-type-conflict": (
            [
                helper.make_node("Relu", ["a"], ["t"], name="relu"),
                helper.make_node("Neg", ["t"], ["y"], name="neg"),
            ],
            [vi("a", f32, [3])],
            [vi("y", f32, [3])],
            [vi("t", f16, [3])],
        ),
        "declared-shape-conflict": (
            [
                helper.make_node("Relu", ["a"], ["t"], name="relu"),
                helper.make_node("Neg", ["t"], ["y"], name="neg"),
            ],
            [vi("a", f32, [3])],
            [vi("y", f32, [3])],
            [vi("t", f32, [5])],
        ),
        "fixed-batch-dim": (
            [helper.make_node("Relu", ["a"], ["y"], name="relu")],
            [vi("a", f32, [8, 3])],
            [vi("y", f32, [8, 3])],
            [],
        ),
    }
    out = {}
    for code, (nodes, inputs, outputs, infos) in cases.items():
        g = helper.make_graph(nodes, code, inputs, outputs, value_info=infos)
        path = folder / f"{code}.onnx"
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
        out[code] = path
    return out


@pytest.mark.parametrize(
    "code",
    [
        "dtype-mismatch",
        "shape-mismatch",
        "declared-type-conflict",
        "declared-shape-conflict",
        "fixed-batch-dim",
    ],
)
def test_edge_check_codes_badge_hover_and_row(qtbot, window, tmp_path, code):
    path = _edge_fault_models(tmp_path)[code]
    expected = cli_findings(path)
    view = open_and_wait(qtbot, window, path, checked=True)
    doc = view.document
    assert as_dicts(doc.findings) == sorted(json.dumps(f, sort_keys=True) for f in expected)
    found = [f for f in doc.findings if f.code == code]
    assert found, [f.code for f in doc.findings]
    f = found[0]
    # the Problems panel has its row
    assert any(r.code == code and r.message == f.message for r in window.problems.shown_findings())
    # the edge it sits on carries the badge, and hovering it shows the message
    edges = doc.current.diagram.edges_of_value(f.tensor)
    assert edges, f"no edge for tensor {f.tensor!r}"
    severity, text = view.scene.edge_overlay[edges[0]]
    assert severity == f.severity.value and f.message in text
    assert f.message in view.scene.tooltip_at(view.scene.edge_midpoint(edges[0]))


def test_make_dynamic_writes_a_new_file_and_opens_it(qtbot, window, tmp_path):
    path = _edge_fault_models(tmp_path)["fixed-batch-dim"]
    before = path.read_bytes()
    open_and_wait(qtbot, window, path, checked=True)
    out = tmp_path / "dynamic.onnx"
    window.make_dynamic_to(str(out))
    assert window.runner.is_running("make-dynamic")  # the proof runs in the background
    qtbot.waitUntil(lambda: window.tabs.count() == 2, timeout=120000)
    assert "ran at batch 8 and 3" in window.messages.text
    view = window.current_view()
    qtbot.waitUntil(lambda: view.document.checked, timeout=60000)
    assert path.read_bytes() == before
    assert view.document.graph.values["a"].declared.shape == ("batch", 3)
    assert "fixed-batch-dim" not in [f.code for f in view.document.findings]
