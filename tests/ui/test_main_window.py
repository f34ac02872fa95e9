"""The window end to end: every real model opens, is drawn whole, and clicks show what onnx says.

Models: every one the onnx wheel ships under backend/test/data/{light,pytorch-converted,
pytorch-operator,simple}, and torch exports made by the tests (CNN, transformer encoder layer,
LSTM, a model with If and Loop). Expected values come from onnx (protobuf, shape inference).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from onnx import shape_inference
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent

from inspector import resource_path
from inspector.ui.document_view import DocumentView
from inspector.ui.main_window import MainWindow
from inspector.ui.panels.search import SearchPanel
from tests.bad_models import make_bad_files, small_model
from tests.model_zoo import shipped_model_id, shipped_model_params
from tests.ui.panel_reading import declared_infos, tables_with_header, types_cell, value_infos
from tests.ui.window_driving import open_and_wait

ZOO = ["torch_cnn", "torch_transformer", "torch_lstm", "torch_if_loop", "helper_if_loop_function"]


def click_box(qtbot, view: DocumentView, box: int) -> None:
    view.view.zoom_to_box(box)
    centre = view.scene.box_rect(box).center()
    pos = view.view.mapFromScene(QPointF(centre.x(), centre.y()))
    qtbot.mouseClick(view.view.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def check_model_in_window(qtbot, window: MainWindow, path: Path) -> None:
    proto = onnx.load(path)
    view = open_and_wait(qtbot, window, path)
    diagram = view.document.current.diagram
    init_names = {t.name for t in proto.graph.initializer}
    real_inputs = [vi for vi in proto.graph.input if vi.name not in init_names]
    expected_boxes = len(proto.graph.node) + len(real_inputs) + len(proto.graph.output)
    assert diagram.box_count == expected_boxes

    # what the view drew, counted from its own record of the last paint, at fit-to-window
    view.view.fit_to_window()
    view.view.viewport().repaint()
    assert view.scene.painted_box_count == expected_boxes

    # clicking a node (one of each op type) shows each output's dtype/shape as onnx infers it
    inferred = value_infos(shape_inference.infer_shapes(proto).graph)
    declared = declared_infos(proto.graph)
    seen: set[str] = set()
    for i, node in enumerate(proto.graph.node):
        if node.op_type in seen:
            continue
        seen.add(node.op_type)
        click_box(qtbot, view, int(diagram.node_box[i]))
        sel = view.document.selection
        assert sel is not None and sel.kind == "node" and sel.ident == i
        outputs = tables_with_header(window.properties, "", "name", "type")[-1]
        for row, name in zip(outputs, node.output, strict=True):
            assert row[1] == name
            assert row[2] == types_cell(declared.get(name), inferred.get(name))

    # search finds a node by its name and by its op type
    search: SearchPanel = window.search
    named = [(i, n) for i, n in enumerate(proto.graph.node) if n.name]
    if named:
        i, node = named[len(named) // 2]
        with qtbot.waitSignal(search.matches_changed, timeout=5000) as found:
            search.set_query(node.name)
        assert i in found.args[0]
    op = proto.graph.node[-1].op_type
    with qtbot.waitSignal(search.matches_changed, timeout=5000) as found:
        search.set_query(op)
    assert {j for j, n in enumerate(proto.graph.node) if n.op_type == op} <= set(found.args[0])
    window._close_tab(window.tabs.currentIndex())


@pytest.mark.parametrize("path", shipped_model_params(), ids=shipped_model_id)
def test_shipped_model_in_window(qtbot, window, path):
    check_model_in_window(qtbot, window, path)


@pytest.mark.parametrize("fixture", ZOO)
def test_exported_model_in_window(qtbot, window, request, fixture):
    check_model_in_window(qtbot, window, request.getfixturevalue(fixture))


def test_sample_model_is_bundled_and_opens(qtbot, window):
    sample = resource_path("sample.onnx")
    assert sample.is_file() and sample.stat().st_size < 1_000_000
    view = open_and_wait(qtbot, window, sample)
    assert view.document.model.node_count > 50


def test_several_files_one_tab_each(qtbot, window, tmp_path):
    paths = []
    for i in range(3):
        p = tmp_path / f"m{i}.onnx"
        onnx.save(small_model(), p)
        paths.append(str(p))
    window.open_files(paths)
    qtbot.waitUntil(lambda: window.tabs.count() == 3 and not window.session.loading, timeout=30000)
    assert sorted(window.tabs.tabText(i) for i in range(3)) == ["m0.onnx", "m1.onnx", "m2.onnx"]
    assert window.settings.recent_files[:3] == list(reversed(paths)) or set(
        window.settings.recent_files[:3]
    ) == set(paths)


def test_bad_inputs_leave_other_tabs_alone(qtbot, window, tmp_path):
    good = tmp_path / "good.onnx"
    onnx.save(small_model(), good)
    view = open_and_wait(qtbot, window, good)
    doc_before = view.document
    for kind, path in make_bad_files(tmp_path / "bad").items():
        before = path.read_bytes()
        window.open_files([str(path)])
        qtbot.waitUntil(lambda: not window.session.loading, timeout=30000)
        qtbot.waitUntil(lambda p=path: p.name in window.messages.text, timeout=30000)
        text = window.messages.text
        assert "Traceback" not in text and "\n" not in text, (kind, text)
        assert window.tabs.count() == 1, kind
        assert window.current_view().document is doc_before
        assert path.read_bytes() == before
    # the window still works: select a node in the good model
    click_box(qtbot, view, 0)
    assert view.document.selection is not None


def test_drag_and_drop_opens(qtbot, window, tmp_path):
    p = tmp_path / "dropped.onnx"
    onnx.save(small_model(), p)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p))])
    event = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.tabs.count() == 1 and not window.session.loading, timeout=30000)
    assert window.tabs.tabText(0) == "dropped.onnx"


def test_open_recent(qtbot, window, tmp_path):
    p = tmp_path / "recent.onnx"
    onnx.save(small_model(), p)
    open_and_wait(qtbot, window, p)
    window._close_tab(0)
    assert window.settings.recent_files[0] == str(p)
    window.recent_menu.aboutToShow.emit()
    action = next(a for a in window.recent_menu.actions() if a.toolTip() == str(p))
    action.trigger()
    qtbot.waitUntil(lambda: window.tabs.count() == 1 and not window.session.loading, timeout=30000)


def test_loading_does_not_block_the_event_loop(qtbot, window, tmp_path):
    """A 20k-node model loads on a worker thread: a 10 ms timer keeps firing meanwhile."""
    from onnx import TensorProto, helper

    nodes = [
        helper.make_node("Relu", [f"t{i}"], [f"t{i + 1}"], name=f"relu_{i}") for i in range(20000)
    ]
    g = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("t0", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("t20000", TensorProto.FLOAT, [1])],
    )
    p = tmp_path / "chain.onnx"
    onnx.save(helper.make_model(g), p)
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(window.session.loading))
    timer.start(10)
    window.open_files([str(p)])
    assert window.session.loading
    qtbot.waitUntil(lambda: window.tabs.count() == 1, timeout=60000)
    timer.stop()
    assert sum(ticks) >= 3  # the GUI thread ran timers while the model was loading


def test_cancel_loading(qtbot, window, tmp_path):
    p = tmp_path / "m.onnx"
    onnx.save(small_model(), p)
    window.open_files([str(p)])
    window.cancel_button.click()
    qtbot.waitUntil(lambda: "cancelled" in window.messages.text, timeout=10000)
    assert window.runner.wait_idle(10000)
    qtbot.wait(50)  # let a late result arrive, if one (wrongly) would
    assert window.tabs.count() == 0


def test_subgraph_and_function_navigation(qtbot, window, helper_if_loop_function):
    view = open_and_wait(qtbot, window, helper_if_loop_function)
    graph = view.document.graph
    loop = next(n for n in graph.nodes if n.op_type == "Loop")
    box = int(view.document.current.diagram.node_box[loop.index])
    view.view.zoom_to_box(box)
    centre = view.view.mapFromScene(view.scene.box_rect(box).center())
    qtbot.mouseDClick(view.view.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.waitUntil(lambda: view.document.graph_path != (), timeout=30000)
    assert view.document.graph_path[-1] == "body"
    assert view.crumbs.isVisible()
    body = onnx.load(helper_if_loop_function).graph.node
    body_proto = next(a.g for n in body if n.op_type == "Loop" for a in n.attribute)
    assert view.document.current.diagram.box_count >= len(body_proto.node)
    view.session.go_to_level(view.doc_id, 0)
    assert view.document.graph_path == ()
    # a node calling a model-local function opens the function's body
    fn = onnx.load(helper_if_loop_function).functions[0]
    call = next(n for n in graph.nodes if n.op_type == fn.name and n.domain == fn.domain)
    box = int(view.document.current.diagram.node_box[call.index])
    view.view.zoom_to_box(box)
    centre = view.view.mapFromScene(view.scene.box_rect(box).center())
    qtbot.mouseDClick(view.view.viewport(), Qt.MouseButton.LeftButton, pos=centre + QPoint(0, 0))
    qtbot.waitUntil(lambda: view.document.graph_path[:1] == ("function",), timeout=30000)
    assert len(view.document.graph.nodes) == len(fn.node)


LAUNCH = """
import sys
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication
QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, sys.argv[1])
app = QApplication(sys.argv[:1])
from inspector.ui.app import run_app
from inspector.ui.main_window import MainWindow

def check():
    windows = [w for w in app.topLevelWidgets() if isinstance(w, MainWindow)]
    if windows and windows[0].tabs.count():
        print("TAB", windows[0].tabs.tabText(0))
        windows[0].close()
        app.quit()
    else:
        QTimer.singleShot(20, check)

QTimer.singleShot(20, check)
sys.exit(run_app(["--new-window"]))  # never hand off to a running instance
"""


def test_launch_with_no_file_opens_the_sample(tmp_path):
    """`onnx-inspector` with no file: the window opens on the bundled sample model."""
    r = subprocess.run(
        [sys.executable, "-c", LAUNCH, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    assert "TAB sample.onnx" in r.stdout


def test_about_names_the_versions(window):
    from importlib.metadata import version

    import onnxruntime
    from PySide6.QtCore import qVersion

    text = window.about_text()
    for part in (
        f"onnx {onnx.__version__}",
        f"onnxruntime {onnxruntime.__version__}",
        f"torch {version('torch')}",
        f"Qt {qVersion()}",
    ):
        assert part in text
