"""The partition map in the window: the picker's provider order, the stripes on the graph, the
status bar's summary, the fallback in Problems, and re-colouring without a new layout."""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper
from PySide6.QtCore import QPointF, QSettings, Qt
from PySide6.QtGui import QImage, QPainter

from inspector.core.providers.tables import PROVIDERS
from inspector.scene.palette import provider_color
from inspector.ui.settings import Settings
from inspector.ui.target_picker import TargetPicker, provider_sources
from tests.ui.window_driving import open_and_wait

CPU, CUDA, TRT = "CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"


def _relu_acos_relu(folder: Path) -> Path:
    """Acos has no CUDA kernel in ONNX Runtime's table; Relu has."""
    f = TensorProto.FLOAT
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="relu_in"),
        helper.make_node("Acos", ["a"], ["b"], name="acos"),
        helper.make_node("Relu", ["b"], ["y"], name="relu_out"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", f, ["n", 4])],
        [helper.make_tensor_value_info("y", f, ["n", 4])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model, full_check=True)
    path = folder / "relu_acos_relu.onnx"
    onnx.save(model, path)
    return path


def _pixel_at_stripe(view, box: int):
    """The colour painted just inside a box's left edge, where the provider stripe sits."""
    scene = view.scene
    rect = scene.box_rect(box)
    image = QImage(int(rect.width()), int(rect.height()), QImage.Format.Format_RGB32)
    painter = QPainter(image)
    scene.render(painter, source=rect)
    painter.end()
    return image.pixelColor(2, image.height() // 2)


def test_picker_lists_every_provider_with_its_source_and_keeps_an_order(qtbot, tmp_path):
    import onnxruntime

    picker = TargetPicker(CPU, None)
    qtbot.addWidget(picker)
    sources = provider_sources(onnxruntime.__version__)
    picker.set_choices(onnxruntime.__version__, [CPU], 24, sources)
    listed = [picker.provider_box.itemData(i) for i in range(picker.provider_box.count())]
    assert listed == list(PROVIDERS)
    cuda = picker.provider_box.findData(CUDA)
    tip = picker.provider_box.itemData(cuda, Qt.ItemDataRole.ToolTipRole)
    assert "OperatorKernels.md (onnxruntime 1." in tip
    assert "installed" in picker.provider_box.itemData(
        picker.provider_box.findData(CPU), Qt.ItemDataRole.ToolTipRole
    )
    assert not picker.then_button.isVisible()  # the CPU alone: no fallbacks to choose

    with qtbot.waitSignal(picker.target_chosen) as chosen:
        picker.set_order([TRT, CUDA, CPU])
    assert chosen.args[0].order == (TRT, CUDA)
    assert picker.then_button.text() == "then CUDA → CPU"
    picker.then_menu.aboutToShow.emit()  # what opening the menu does
    checked = [a.text() for a in picker.then_menu.actions() if a.isChecked()]
    assert checked == ["CUDA"]
    dml = next(a for a in picker.then_menu.actions() if a.text() == "DirectML")
    with qtbot.waitSignal(picker.target_chosen) as chosen:
        dml.trigger()  # appended after CUDA, in the order clicked
    assert chosen.args[0].order == (TRT, CUDA, "DmlExecutionProvider")
    with qtbot.waitSignal(picker.target_chosen) as chosen:
        picker.toggle_fallback(CUDA)
    assert chosen.args[0].order == (TRT, "DmlExecutionProvider")

    settings = Settings(QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    settings.target_fallbacks = (CUDA,)
    assert settings.target_fallbacks == (CUDA,)


def test_cuda_then_cpu_tints_the_fallback_and_switching_back_keeps_the_layout(
    qtbot, window, tmp_path
):
    view = open_and_wait(qtbot, window, _relu_acos_relu(tmp_path), checked=True)
    layout_before = view.document.current.layout
    scene_before = view.scene
    assert scene_before.placement is None  # the CPU alone: nothing tinted
    assert not window.placement_label.isVisible()

    window.target_picker.set_order([CUDA, CPU])
    assert window.session.target.order == (CUDA,)
    assert window.settings.target_provider == CUDA
    qtbot.waitUntil(lambda: view.document.checked, timeout=120000)

    placement = view.document.placement
    assert placement is not None
    assert placement.providers_of(()) == [CUDA, CPU, CUDA]
    overlay = view.scene.placement
    diagram = view.document.current.diagram
    relu_in, acos, relu_out = (int(diagram.node_box[i]) for i in range(3))
    assert [overlay.order[overlay.slot[b]] for b in (relu_in, acos, relu_out)] == [CUDA, CPU, CUDA]
    # the data crosses devices on both sides of the Acos (and at the graph's ends)
    crossing = {diagram.edge_value[e] for e in overlay.crossing.tolist()}
    assert {"a", "b"} <= crossing
    assert "runs on CPU" in view.scene.tooltip_at(view.scene.box_center(acos))
    assert "CUDA → CPU" in view.scene.tooltip_at(
        view.scene.edge_midpoint(diagram.edges_of_value("a")[0])
    )

    assert window.placement_label.isVisible()
    assert "2 of 3 nodes on CUDA" in window.placement_label.text()
    fallback = [f for f in view.document.findings if f.code == "provider-fallback"]
    assert [(f.node_index, f.severity.value) for f in fallback] == [(1, "warning")]
    assert "runs on CPU" in fallback[0].message
    shown = window.problems.shown_findings()
    assert any(f.code == "provider-fallback" for f in shown)
    assert window.problems.summary.text() == "checked for CUDA → CPU"  # the whole order

    assert _pixel_at_stripe(view, relu_in) == provider_color(CUDA)
    assert _pixel_at_stripe(view, acos) == provider_color(CPU)

    window.target_picker.set_order([CPU])
    qtbot.waitUntil(lambda: view.document.checked, timeout=120000)
    assert view.document.placement is None
    assert view.scene.placement is None
    assert not window.placement_label.isVisible()
    assert not any(f.code == "provider-fallback" for f in view.document.findings)
    assert window.problems.summary.text() == "checked for CPU"
    assert _pixel_at_stripe(view, acos) != provider_color(CPU)
    # re-coloured over the same layout: no reload, no new layout, no new scene
    assert view.document.current.layout is layout_before
    assert view.scene is scene_before
    assert view.scene.tooltip_at(QPointF(-1e6, -1e6)) == ""
