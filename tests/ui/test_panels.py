"""The properties and search panels show what onnx itself says about real models.

Expected values come from the protobuf, ``onnx.shape_inference`` and ``onnx.defs`` directly, never
from the core's own formatting; the panels are read back through their rich-text document (the
tables the user sees) and driven by real clicks and key presses.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QLabel, QLineEdit, QListView

from inspector.core.findings import Finding, Severity
from inspector.core.graph import Graph, Model, Node, Value, open_model
from inspector.ui.panels import properties as properties_module
from inspector.ui.panels.properties import PropertiesPanel
from inspector.ui.panels.search import MAX_RESULTS, SearchPanel
from inspector.ui.session import Session
from inspector.ui.tasks import TaskRunner
from tests.model_zoo import count_ops, shipped_data_dir
from tests.ui.panel_reading import (
    browser_of,
    click_link,
    declared_infos,
    key_values,
    sync_runner,
    tables_with_header,
    type_text,
    types_cell,
    value_infos,
)

DATA = shipped_data_dir()
RESNET = DATA / "light" / "light_resnet50.onnx"
CONV2D = DATA / "pytorch-converted" / "test_Conv2d" / "model.onnx"
BATCHNORM = DATA / "pytorch-converted" / "test_BatchNorm2d_eval" / "model.onnx"


@pytest.fixture(scope="module")
def small_model_path(tmp_path_factory) -> Path:
    """Gemm with every kind of attribute, an initializer input, a Constant tensor and symbolic
    dims: the declared output shape is less precise than what shape inference finds."""
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3) - 5.5, "W")
    nodes = [
        helper.make_node("Gemm", ["X", "W"], ["G"], name="gemm", alpha=0.5, transB=0),
        helper.make_node(
            "Constant",
            [],
            ["C"],
            name="const",
            value=helper.make_tensor("c", TensorProto.FLOAT, [3], [1.0, 2.0, 3.0]),
        ),
        helper.make_node("Add", ["G", "C"], ["S"], name="add"),
        helper.make_node("Softmax", ["S"], ["Y"], name="softmax", axis=-1),
        helper.make_node("Cast", ["Y"], ["Z"], name="cast", to=TensorProto.FLOAT16),
    ]
    graph = helper.make_graph(
        nodes,
        "small",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("Z", TensorProto.FLOAT16, ["batch", None])],
        initializer=[w],
        value_info=[helper.make_tensor_value_info("S", TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.metadata_props.add(key="author", value="tests")
    model.doc_string = "a small model"
    onnx.checker.check_model(model, full_check=True)
    path = tmp_path_factory.mktemp("panels") / "small.onnx"
    onnx.save(model, path)
    return path


@pytest.fixture
def session():
    """A session with nothing open: the panels here are driven through their drawing methods."""
    runner = TaskRunner()
    yield Session(runner)
    runner.cancel_all()
    assert runner.wait_idle(5000)


@pytest.fixture
def panel(qtbot, session) -> PropertiesPanel:
    p = PropertiesPanel(session, run_in_background=sync_runner)
    qtbot.addWidget(p)
    p.resize(700, 900)
    p.show()
    return p


# ---------------------------------------------------------------------------------- node view


def _sample_nodes(proto: onnx.ModelProto) -> list[int]:
    """One node of each op type (all of them for small models)."""
    seen: dict[str, int] = {}
    for i, n in enumerate(proto.graph.node):
        seen.setdefault(n.op_type, i)
    return sorted(seen.values())


@pytest.mark.parametrize("path_name", ["resnet", "conv2d", "small"])
def test_node_view_matches_schema_and_shape_inference(panel, path_name, small_model_path):
    path = {"resnet": RESNET, "conv2d": CONV2D, "small": small_model_path}[path_name]
    proto = onnx.load(path)
    model = open_model(path)
    inferred = value_infos(onnx.shape_inference.infer_shapes(proto).graph)
    declared = declared_infos(proto.graph)
    opset = {o.domain: o.version for o in proto.opset_import}[""]
    for i in _sample_nodes(proto):
        node = proto.graph.node[i]
        panel.show_node(model, model.graph, i)
        schema = onnx.defs.get_schema(node.op_type, max_inclusive_version=opset, domain="")
        kv = key_values(panel)
        assert kv["Opset"] == str(opset)
        assert (
            f"{node.op_type}-{schema.since_version} (since opset {schema.since_version})"
            in kv["Schema"]
        )
        text = browser_of(panel).toPlainText()
        assert text.startswith(node.op_type)
        edges = tables_with_header(panel, "", "name", "type")
        outputs = edges[-1]
        assert len(outputs) == len(node.output)
        for row, name in zip(outputs, node.output, strict=True):
            assert row[1] == name
            assert row[2] == types_cell(declared.get(name), inferred.get(name))
        if node.input:
            inputs = edges[0]
            for row, name in zip(inputs, node.input, strict=True):
                is_init = name in {t.name for t in proto.graph.initializer}
                assert row[1] == (f"{name} initializer" if is_init else name)
                assert row[2] == types_cell(declared.get(name), inferred.get(name))
            formal = [p.name for p in schema.inputs]  # only the last may be variadic
            assert [row[0] for row in inputs] == [
                formal[min(i, len(formal) - 1)] for i in range(len(inputs))
            ]


def test_node_view_attributes_and_docs(panel, small_model_path):
    model = open_model(small_model_path)
    g = model.graph
    panel.show_node(model, g, 0)  # Gemm
    attrs = {row[0]: row[1:] for row in tables_with_header(panel, "name", "value", "type")[0]}
    assert attrs["alpha"] == ["0.5", "float"]
    assert attrs["transB"] == ["0", "int"]
    assert attrs["beta"] == ["1 default", "float"]  # unset: the schema's default in force
    text = browser_of(panel).toPlainText()
    assert "General Matrix multiplication" in text  # the schema's summary
    (constraints,) = tables_with_header(panel, "type", "allowed")
    assert constraints[0][0] == "T" and "float32" in constraints[0][1]
    panel.show_node(model, g, 1)  # Constant with a tensor attribute
    attrs = {row[0]: row[1:] for row in tables_with_header(panel, "name", "value", "type")[0]}
    assert attrs["value"] == ["tensor float32[3] = [1, 2, 3]", "tensor"]
    panel.show_node(model, g, 4)  # Cast to float16
    assert "float16 [batch,?]" in browser_of(panel).toPlainText()


def test_findings_are_shown_first(panel, small_model_path):
    model = open_model(small_model_path)
    findings = [
        Finding(Severity.ERROR, "unsupported-op", "Gemm is not supported", hint="use MatMul"),
        Finding(Severity.INFO, "note", "just so you know"),
    ]
    panel.show_node(model, model.graph, 0, findings)
    text = browser_of(panel).toPlainText()
    assert text.startswith("PROBLEMS (2)")
    assert text.index("unsupported-op Gemm is not supported") < text.index("Gemm ai.onnx")
    assert "use MatMul" in text and "INFO" in text


def test_links_emit_ids(qtbot, panel, small_model_path):
    model = open_model(small_model_path)
    g = model.graph
    panel.show_node(model, g, 2)  # Add(G, C) -> S
    with qtbot.waitSignal(panel.value_requested) as sig:
        click_link(qtbot, panel, "C")
    assert sig.args == ["C"]
    panel.show_value(model, g, "S")
    with qtbot.waitSignal(panel.node_requested) as sig:
        click_link(qtbot, panel, "add")  # the producer
    assert sig.args == [2]
    with qtbot.waitSignal(panel.node_requested) as sig:
        click_link(qtbot, panel, "softmax")  # a consumer
    assert sig.args == [3]


def test_subgraph_and_function_links(qtbot, panel, helper_if_loop_function):
    model = open_model(helper_if_loop_function)
    g = model.graph
    gate = next(n for n in g.nodes if n.op_type == "If")
    panel.show_node(model, g, gate.index)
    names = [r[0] for r in tables_with_header(panel, "name", "value", "type")[0]]
    assert sorted(names) == ["else_branch", "then_branch"]
    for nth, name in enumerate(names):
        with qtbot.waitSignal(panel.subgraph_requested) as sig:
            click_link(qtbot, panel, "open subgraph", nth)
        assert sig.args == [dict(gate.subgraphs)[name].path]
    panel.show_model(model)
    with qtbot.waitSignal(panel.subgraph_requested) as sig:
        click_link(qtbot, panel, "inspector.test:ScaledAdd")
    assert sig.args == [model.functions[0].graph.path]
    assert model.find_graph(sig.args[0]) is model.functions[0].graph


# ---------------------------------------------------------------------------------- value view


def _stats_rows(panel: PropertiesPanel) -> dict[str, str]:
    kv = key_values(panel)
    return {k: kv[k] for k in ("min", "max", "mean", "std", "NaN", "Inf", "zeros", "first values")}


@pytest.mark.parametrize("path", [CONV2D, BATCHNORM], ids=lambda p: p.parent.name)
def test_initializer_stats_match_numpy(panel, path):
    proto = onnx.load(path)
    model = open_model(path)
    for t in proto.graph.initializer:
        arr = numpy_helper.to_array(t)
        panel.show_value(model, model.graph, t.name)
        kv = key_values(panel)
        assert kv["Type"] == np.dtype(arr.dtype).name
        assert kv["Shape"] == "[" + ",".join(str(d) for d in arr.shape) + "]"
        assert kv["Elements"] == f"{arr.size:,}"
        assert kv["Role"] == "initializer"
        stats = _stats_rows(panel)
        ref = arr.astype(np.float64)
        for key, expected in (
            ("min", ref.min()),
            ("max", ref.max()),
            ("mean", ref.mean()),
            ("std", ref.std()),
        ):
            assert float(stats[key]) == pytest.approx(expected, rel=1e-5, abs=1e-6), key
        assert stats["NaN"] == str(int(np.isnan(ref).sum()))
        assert stats["Inf"] == "0"
        assert stats["zeros"] == f"{int((ref == 0).sum()):,}"
        first = [float(v) for v in stats["first values"].split(", ")]
        assert first == pytest.approx(ref.ravel()[: len(first)].tolist(), rel=1e-5)


def test_value_view_types_and_roles(panel, small_model_path):
    model = open_model(small_model_path)
    panel.show_value(model, model.graph, "X")
    kv = key_values(panel)
    assert kv["Declared"] == "float32 [batch,4]" and kv["Role"] == "graph input"
    assert kv["Type from"] == "graph input" and kv["Consumers"] == "gemm Gemm"
    panel.show_value(model, model.graph, "Z")
    kv = key_values(panel)
    assert kv["Declared"] == "float16 [batch,?]" and kv["Inferred"] == "float16 [batch,3]"
    panel.show_value(model, model.graph, "nope")
    assert "no tensor named 'nope'" in browser_of(panel).toPlainText()


def test_big_initializer_goes_to_the_background_runner(
    qtbot, monkeypatch, session, small_model_path
):
    monkeypatch.setattr(properties_module, "INLINE_LIMIT", 4)  # W (12 values) counts as big
    pending = []
    panel = PropertiesPanel(session, run_in_background=lambda fn, done: pending.append((fn, done)))
    qtbot.addWidget(panel)
    model = open_model(small_model_path)
    panel.show_value(model, model.graph, "W")
    assert "computing statistics…" in browser_of(panel).toPlainText()
    assert len(pending) == 1
    fn, done = pending.pop()
    done(fn())
    assert key_values(panel)["max"] == "5.5"
    panel.show_value(model, model.graph, "X")
    panel.show_value(model, model.graph, "W")  # computed once: now from the cache
    assert not pending and key_values(panel)["min"] == "-5.5"

    panel.set_background_runner(None)
    panel.show_value(open_model(small_model_path), model.graph, "W")  # a new model: no cache
    assert "not computed" in browser_of(panel).toPlainText()


def test_stats_with_the_real_task_runner(qtbot, monkeypatch):
    monkeypatch.setattr(properties_module, "INLINE_LIMIT", 4)
    runner = TaskRunner()
    panel = PropertiesPanel(Session(runner))  # statistics go to the session's runner
    qtbot.addWidget(panel)
    model = open_model(CONV2D)
    name = model.graph.nodes[0].inputs[1]
    panel.show_value(model, model.graph, name)
    qtbot.waitUntil(lambda: "min" in key_values(panel), timeout=5000)
    arr = numpy_helper.to_array(next(t for t in model.proto.graph.initializer if t.name == name))
    assert float(key_values(panel)["min"]) == pytest.approx(float(arr.min()), rel=1e-5)
    panel.show_value(model, model.graph, model.graph.nodes[0].inputs[2])
    panel.clear()  # cancels the job it started, whose result is then dropped
    assert runner.wait_idle(5000)
    qtbot.waitUntil(lambda: not runner.is_running("stats"), timeout=5000)
    assert "Select a node" in browser_of(panel).toPlainText()


# ---------------------------------------------------------------------------------- model view


@pytest.mark.parametrize("path_name", ["resnet", "conv2d", "helper"])
def test_model_view_lists_inputs_outputs_and_op_counts(panel, path_name, helper_if_loop_function):
    path = {"resnet": RESNET, "conv2d": CONV2D, "helper": helper_if_loop_function}[path_name]
    proto = onnx.load(path)
    panel.show_model(open_model(path))
    kv = key_values(panel)
    assert kv["IR version"] == str(proto.ir_version)
    for o in proto.opset_import:
        assert f"{o.domain or 'ai.onnx'} {o.version}" in kv["Opsets"]
    io_tables = tables_with_header(panel, "name", "type", "shape")
    inits = {t.name for t in proto.graph.initializer}
    real_inputs = [vi for vi in proto.graph.input if vi.name not in inits]
    for rows, vis in zip(io_tables, (real_inputs, proto.graph.output), strict=True):
        assert [r[0] for r in rows] == [vi.name for vi in vis]
        assert [f"{r[1]} {r[2]}" for r in rows] == [type_text(vi) for vi in vis]
    (ops,) = tables_with_header(panel, "op", "count")
    assert {r[0]: int(r[1].replace(",", "")) for r in ops} == dict(count_ops(proto.graph))


def test_model_view_metadata_and_clear(panel, small_model_path):
    panel.show_model(open_model(small_model_path))
    text = browser_of(panel).toPlainText()
    assert "a small model" in text
    assert key_values(panel)["author"] == "tests"
    panel.clear()
    assert browser_of(panel).toPlainText().startswith("Select a node")


def test_follows_the_palette(panel, small_model_path):
    model = open_model(small_model_path)
    panel.show_node(model, model.graph, 0)
    palette = panel.palette()
    palette.setColor(QPalette.ColorRole.Link, QColor("#123456"))
    panel.setPalette(palette)
    assert "#123456" in browser_of(panel).document().defaultStyleSheet()
    assert browser_of(panel).toPlainText().startswith("Gemm")


# ---------------------------------------------------------------------------------- search


@pytest.fixture
def search(qtbot, session) -> SearchPanel:
    s = SearchPanel(session)
    qtbot.addWidget(s)
    s.show()
    return s


def _edit(search: SearchPanel) -> QLineEdit:
    edit = search.findChild(QLineEdit)
    assert edit is not None
    return edit


def test_search_by_name_and_op_type(qtbot, search):
    proto = onnx.load(RESNET)
    model = open_model(RESNET)
    search.set_graph(model, model.graph)
    search.focus_search()
    with qtbot.waitSignal(search.matches_changed) as sig:
        qtbot.keyClicks(_edit(search), "Conv")
    expected = [
        i for i, n in enumerate(proto.graph.node) if "conv" in f"{n.name} {n.op_type}".lower()
    ]
    assert sig.args[0] == expected and len(expected) >= 53

    named = [i for i, n in enumerate(proto.graph.node) if n.name]
    target = named[len(named) // 2]  # "n85": "n8" and "n850" would match too, if they existed
    _edit(search).clear()
    with qtbot.waitSignal(search.matches_changed):
        qtbot.keyClicks(_edit(search), proto.graph.node[target].name.upper())  # any case
    with qtbot.waitSignal(search.result_activated) as sig:
        qtbot.keyClick(_edit(search), Qt.Key.Key_Return)
    assert sig.args == ["node", target]


def test_search_tensor_and_arrow_keys(qtbot, search, small_model_path):
    model = open_model(small_model_path)
    search.set_graph(model, model.graph)
    with qtbot.waitSignal(search.matches_changed) as sig:
        qtbot.keyClicks(_edit(search), "s")  # softmax, S, const, cast: nodes and tensors
    assert sig.args[0] == [1, 3, 4]
    listed = search.findChild(QListView).model()
    rows = [listed.index(r, 0).data(Qt.ItemDataRole.UserRole) for r in range(listed.rowCount())]
    assert rows[0] == ("value", "S")  # the exact name comes first
    assert set(rows) == {("value", "S"), ("node", 1), ("node", 3), ("node", 4)}
    qtbot.keyClick(_edit(search), Qt.Key.Key_Down)
    search.set_graph(model, model.graph)  # the same graph again: no reset
    with qtbot.waitSignal(search.result_activated) as sig:
        qtbot.keyClick(_edit(search), Qt.Key.Key_Return)
    assert tuple(sig.args) == rows[1]
    view = search.findChild(QListView)
    with qtbot.waitSignal(search.result_activated) as sig:
        rect = view.visualRect(listed.index(2, 0))
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert tuple(sig.args) == rows[2]
    search.clear()
    assert _edit(search).text() == "" and listed.rowCount() == 0


def test_search_caps_the_list_on_big_graphs(qtbot, search):
    n = 30_000
    nodes = [Node(i, f"block{i}/relu", "Relu", "", [f"t{i}"], [f"t{i + 1}"], []) for i in range(n)]
    values = {f"t{i}": Value(f"t{i}") for i in range(n + 1)}
    graph = Graph("big", (), nodes, values, ["t0"], [f"t{n}"])
    model = Model(None, 0, 8, {"": 17}, "", "", "", 0, "", {}, graph, [], 0, onnx.ModelProto())
    search.set_graph(model, graph)
    with qtbot.waitSignal(search.matches_changed, timeout=2000) as sig:
        qtbot.keyClicks(_edit(search), "relu")  # debounced: one search at the end
    assert len(sig.args[0]) == n
    assert search.findChild(QListView).model().rowCount() == MAX_RESULTS
    assert any("more" in label.text() for label in search.findChildren(QLabel))
    with qtbot.waitSignal(search.result_activated) as sig:
        search.set_query("block29999/relu")
        qtbot.keyClick(_edit(search), Qt.Key.Key_Return)
    assert sig.args == ["node", n - 1]
    search.set_graph(None, None)
    assert search.findChild(QListView).model().rowCount() == 0


def test_contrib_op_docs_load_in_the_background(qtbot, monkeypatch, session, tmp_path):
    pytest.importorskip("onnxruntime")
    from inspector.core import opdocs

    monkeypatch.setattr(
        opdocs, "_runtime_schemas", functools.cache(opdocs._runtime_schemas.__wrapped__)
    )
    node = helper.make_node(
        "FusedConv", ["X", "W"], ["Y"], name="fused", domain="com.microsoft", activation="Relu"
    )
    graph = helper.make_graph(
        [node],
        "contrib",
        [
            helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 1, 5, 5]),
            helper.make_tensor_value_info("W", TensorProto.FLOAT, [1, 1, 3, 3]),
        ],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)],
    )
    proto = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    onnx.save(proto, tmp_path / "contrib.onnx")
    model = open_model(tmp_path / "contrib.onnx")
    pending = []
    panel = PropertiesPanel(session, run_in_background=lambda fn, done: pending.append((fn, done)))
    qtbot.addWidget(panel)
    panel.show_node(model, model.graph, 0)
    assert key_values(panel)["Schema"] == "loading operator documentation…"
    fn, done = pending.pop()
    done(fn())
    assert key_values(panel)["Schema"] == "FusedConv-1 (since opset 1) from onnxruntime"
    assert key_values(panel)["Opset"] == "1"
