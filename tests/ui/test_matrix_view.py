"""The window's deployment matrix view shows the rows of `check MODEL --matrix`."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper
from PySide6.QtCore import Qt

from inspector.core.graph import open_model
from inspector.core.providers.matrix import deployment_matrix
from inspector.ui.panels.matrix import KEY_COLUMNS, STATUS_COLORS, MatrixModel
from tests.model_zoo import shipped_data_dir
from tests.ui.window_driving import open_and_wait

F = TensorProto.FLOAT
DISPLAY, TIP, BACKGROUND = (
    Qt.ItemDataRole.DisplayRole,
    Qt.ItemDataRole.ToolTipRole,
    Qt.ItemDataRole.BackgroundRole,
)


def _shown_rows(model: MatrixModel) -> list[dict]:
    """The rows as the view shows them: the cells' text, and the status cells' tooltips."""
    rows = []
    for r in range(model.rowCount()):
        cell = [model.index(r, c) for c in range(model.columnCount())]
        row = {k: model.data(cell[i], DISPLAY) for i, k in enumerate(KEY_COLUMNS)}
        row["since_version"] = row["since_version"] if row["since_version"] != "" else None
        support, notes = {}, {}
        for c in range(len(KEY_COLUMNS), model.columnCount()):
            provider = model.provider_at(c)
            support[provider] = model.data(cell[c], DISPLAY)
            assert model.data(cell[c], BACKGROUND).color() == STATUS_COLORS[support[provider]]
            tip = model.data(cell[c], TIP)
            if tip:
                notes[provider] = tip
        rows.append({**row, "support": support, "notes": notes})
    return rows


def _custom_op_model(tmp_path):
    """Relu, Acos (no CUDA kernel), Relu, and an op of a custom domain nothing runs."""
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Acos", ["a"], ["b"]),
        helper.make_node("Relu", ["b"], ["c"]),
        helper.make_node("Foo", ["c"], ["y"], domain="custom"),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", F, [1, 4])],
        [helper.make_tensor_value_info("y", F, [1, 4])],
    )
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("custom", 1)]
    path = tmp_path / "custom.onnx"
    onnx.save(helper.make_model(graph, opset_imports=opsets), path)
    return path


def _open_matrix(qtbot, window, path):
    """Open ``path``, choose View › Deployment Matrix…, wait for its rows."""
    open_and_wait(qtbot, window, path)
    action = next(
        a
        for m in window.menuBar().actions()
        if m.text() == "&View"
        for a in m.menu().actions()
        if a.text() == "Deployment &Matrix…"
    )
    action.trigger()
    # The rows arrive by a queued signal, delivered only once the event loop runs: inside the
    # wait below, so the emission cannot be missed.
    with qtbot.waitSignal(window.matrix_dialog.matrix_shown, timeout=60000):
        pass
    return window.matrix_dialog


def test_view_rows_equal_the_core_matrix(qtbot, window, tmp_path):
    for path in (
        _custom_op_model(tmp_path),
        shipped_data_dir() / "light" / "light_squeezenet.onnx",
    ):
        dialog = _open_matrix(qtbot, window, path)
        assert dialog.isVisible()
        expected = deployment_matrix(open_model(path)).to_dict()
        assert dialog.model.providers == expected["providers"]
        assert _shown_rows(dialog.model) == expected["ops"]
        assert path.name in dialog.summary.text()


def test_no_model_says_what_to_do(qtbot, window):
    window.show_matrix()
    assert window.matrix_dialog.model.rowCount() == 0
    assert "Open a model" in window.matrix_dialog.summary.text()
