"""The compare tab: two models side by side, coloured by the diff, panned, zoomed and selected
together (File > Compare With…, Shift+drop)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from inspector.core.diagram import BoxKind
from inspector.core.fixes import FixSpec
from inspector.ui.compare import CompareView
from inspector.ui.compare.comparison import ADDED, CHANGED, REMOVED, SAME
from inspector.ui.main_window import MainWindow

CHAIN = 40  # Neg/Abs links after the head: tall enough that a readable view scrolls


def chain_model(
    alpha: float = 0.1,
    bias: float = 0.5,
    head_op: str = "Relu",
    extra: bool = False,
    opset: int = 17,
    input_dim: int | str = 1,
) -> onnx.ModelProto:
    """x → MatMul(w) → Add(b) → <head_op> → LeakyRelu(alpha) → CHAIN links → y.

    Each knob changes one thing: ``alpha`` an attribute, ``bias`` an initializer's value,
    ``head_op`` a node's type, ``extra`` inserts one node (Abs) after the LeakyRelu, ``opset``
    the model's opset, ``input_dim`` the input's first dimension.
    """
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["mm"], name="matmul"),
        helper.make_node("Add", ["mm", "b"], ["added"], name="add"),
        helper.make_node(head_op, ["added"], ["act"], name="head"),
        helper.make_node("LeakyRelu", ["act"], ["leaky"], name="leaky", alpha=alpha),
    ]
    prev = "leaky"
    if extra:
        nodes.append(helper.make_node("Abs", [prev], ["abs"], name="abs"))
        prev = "abs"
    for i in range(CHAIN):
        op = "Abs" if i % 2 else "Neg"
        out = "y" if i == CHAIN - 1 else f"t{i}"
        nodes.append(helper.make_node(op, [prev], [out], name=f"link{i}"))
        prev = out
    w = numpy_helper.from_array(np.eye(4, dtype=np.float32), "w")
    b = numpy_helper.from_array(np.full(4, bias, np.float32), "b")
    graph = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [input_dim, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        [w, b],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    onnx.checker.check_model(model)
    return model


def save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, path)
    return path


def compare(qtbot, window: MainWindow, a: Path, b: Path, settled: bool = False) -> CompareView:
    """Compare ``a`` with ``b`` through the window; wait for the tab and its first diff (made
    on the types the files declare) or, with ``settled``, for the diff made once both models'
    shapes are inferred."""
    with qtbot.waitSignal(window.comparisons.diffed, timeout=60000):
        window.compare_files(str(a), str(b))
    view = window.current_compare_view()
    assert view is not None
    if settled:
        qtbot.waitUntil(lambda: window.comparisons.settled(view.comp_id), timeout=120000)
    assert not view.comparison.diffing and not view.comparison.error
    return view


def flagged_nodes(view: CompareView, which: str) -> dict[str, int]:
    """Node name → state of every node box that is not SAME on side ``which``."""
    side = view.comparison.side(which)
    d = side.diagram
    out = {}
    for box in np.flatnonzero(side.state != SAME).tolist():
        if d.kind[box] == BoxKind.NODE:
            out[d.graph.nodes[int(d.ref[box])].name] = int(side.state[box])
    return out


def box_of(view: CompareView, which: str, name: str) -> int:
    d = view.comparison.side(which).diagram
    (node,) = [n for n in d.graph.nodes if n.name == name]
    return int(d.node_box[node.index])


def view_centre(view) -> QPointF:
    return view.mapToScene(view.viewport().rect().center())


def test_a_model_against_itself_shows_no_colours(qtbot, window, tmp_path):
    p = save(chain_model(), tmp_path / "m.onnx")
    view = compare(qtbot, window, p, p)
    comp = view.comparison
    assert comp.diff.same
    assert not flagged_nodes(view, "a") and not flagged_nodes(view, "b")
    assert all(len(ids) == 0 for ids in view.scene_a.diff_layer.ids.values())
    assert (comp.a.match >= 0).all() and (comp.b.match >= 0).all()
    assert "the same" in view.summary.text()
    assert view.panel.list.count() == 0
    assert window.tabs.tabText(window.tabs.currentIndex()) == "m.onnx ↔ m.onnx"


def test_a_changed_copy_colours_the_right_nodes_on_both_sides(qtbot, window, tmp_path):
    a = save(chain_model(), tmp_path / "a.onnx")
    b = save(chain_model(alpha=0.2, bias=0.75, head_op="Sigmoid"), tmp_path / "b.onnx")
    view = compare(qtbot, window, a, b)
    on_a, on_b = flagged_nodes(view, "a"), flagged_nodes(view, "b")
    # the attribute and the initializer's value: the same node, changed, on both sides
    assert on_a["leaky"] == on_b["leaky"] == CHANGED
    assert on_a["add"] == on_b["add"] == CHANGED
    # the node type: changed in place, or Relu removed and Sigmoid added, as the diff pairs it
    assert on_a["head"] in (CHANGED, REMOVED) and on_b["head"] in (CHANGED, ADDED)
    assert set(on_a) == set(on_b) == {"add", "head", "leaky"}
    # what changed is listed, and the layer paints exactly the flagged boxes
    lines = view.comparison.a.changes[box_of(view, "a", "leaky")]
    assert any("alpha" in line for line in lines), lines
    painted = np.concatenate(list(view.scene_a.diff_layer.ids.values()))
    assert sorted(painted.tolist()) == sorted(box_of(view, "a", n) for n in on_a)
    assert view.panel.list.count() >= 3
    tip = view.scene_a.tooltip_at(view.scene_a.box_center(box_of(view, "a", "leaky")))
    assert "changed" in tip and "alpha" in tip


def test_an_inserted_node_is_added_and_the_rest_still_match(qtbot, window, tmp_path):
    a = save(chain_model(), tmp_path / "a.onnx")
    b = save(chain_model(extra=True), tmp_path / "b.onnx")
    view = compare(qtbot, window, a, b, settled=True)
    # both models' shapes were inferred in children and the diff made again with them
    comp = view.comparison
    assert comp.a.model.types_inferred and comp.b.model.types_inferred
    assert comp.b.model.graph.values["abs"].inferred is not None
    assert "float32[1,4]" in comp.a.diagram.edge_label
    assert flagged_nodes(view, "b").get("abs") == ADDED
    # links further down are the same nodes, though their position in the list moved by one
    link = box_of(view, "a", "link30")
    assert view.comparison.a.match[link] == box_of(view, "b", "link30")
    assert view.comparison.a.state[link] == SAME


def test_model_level_and_graph_input_changes_are_listed(qtbot, window, tmp_path):
    a = save(chain_model(), tmp_path / "a.onnx")
    b = save(chain_model(opset=18, input_dim="batch"), tmp_path / "b.onnx")
    view = compare(qtbot, window, a, b)
    comp = view.comparison
    assert not comp.diff.same
    x_a, x_b = comp.a.diagram.box_of_input(0), comp.b.diagram.box_of_input(0)
    assert comp.a.state[x_a] == comp.b.state[x_b] == CHANGED
    assert comp.a.match[x_a] == x_b
    rows = [view.panel.list.item(i).text() for i in range(view.panel.list.count())]
    assert any(r.startswith("model:") and "18" in r for r in rows), rows
    assert "in the model as a whole" in view.summary.text()


def test_selecting_a_node_selects_its_match_and_lists_its_changes(qtbot, window, tmp_path):
    a = save(chain_model(), tmp_path / "a.onnx")
    b = save(chain_model(alpha=0.2, extra=True), tmp_path / "b.onnx")
    view = compare(qtbot, window, a, b)
    box_a, box_b = box_of(view, "a", "leaky"), box_of(view, "b", "leaky")
    view.view_a.zoom_to_box(box_a)
    pos = view.view_a.mapFromScene(view.scene_a.box_center(box_a))
    with qtbot.waitSignal(window.comparisons.selection_changed):
        qtbot.mouseClick(view.view_a.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert view.comparison.selected == (box_a, box_b)
    assert view.scene_a.selected_box == box_a and view.scene_b.selected_box == box_b
    # the match sits where the selected box does in its view
    offset_a = view.view_a.mapFromScene(view.scene_a.box_center(box_a))
    offset_b = view.view_b.mapFromScene(view.scene_b.box_center(box_b))
    assert (offset_a - offset_b).manhattanLength() <= 2
    assert "alpha" in view.panel.details.toPlainText()
    # from B's side, and a box with no match (only in B)
    abs_box = box_of(view, "b", "abs")
    window.comparisons.select(view.comp_id, "b", abs_box)
    assert view.comparison.selected == (None, abs_box)
    assert view.scene_a.selected_box is None
    assert "no match" in view.panel.details.toPlainText()
    # the list of differences selects and reveals what it names
    rows = view.panel._rows
    view.panel.list.setCurrentRow(rows.index(("a", box_a)))
    assert view.comparison.selected == (box_a, box_b)


def test_pan_and_zoom_follow_from_either_side(qtbot, window, tmp_path):
    a = save(chain_model(), tmp_path / "a.onnx")
    b = save(chain_model(extra=True), tmp_path / "b.onnx")  # B's boxes below the insert shift
    view = compare(qtbot, window, a, b)
    va, vb = view.view_a, view.view_b
    va.set_zoom(1.0)
    assert vb.zoom == pytest.approx(1.0)
    for which, src, dst, name in (("a", va, vb, "link25"), ("b", vb, va, "link10")):
        other = "b" if which == "a" else "a"
        src.center_on_box(box_of(view, which, name))  # scrolls: the other view follows
        src_scene, dst_scene = src.graph_scene(), dst.graph_scene()
        here = src.mapFromScene(src_scene.box_center(box_of(view, which, name)))
        there = dst.mapFromScene(dst_scene.box_center(box_of(view, other, name)))
        assert (here - there).manhattanLength() <= 2, (which, here, there)
    vb.zoom_by(0.8)
    assert va.zoom == pytest.approx(vb.zoom)
    window._with_view(lambda v: v.zoom_by(1.25))  # View > Zoom In on a compare tab
    assert va.zoom == pytest.approx(vb.zoom) == pytest.approx(0.8 * 1.25)
    # panning by scroll bar (drag and wheel both move it) is followed too
    before = view_centre(vb)
    va.verticalScrollBar().setValue(va.verticalScrollBar().value() + 120)
    assert view_centre(vb).y() > before.y()


def test_compare_outputs_names_and_highlights_the_first_diverging_node(qtbot, window, tmp_path):
    a = save(chain_model(), tmp_path / "a.onnx")
    b = save(chain_model(bias=0.75), tmp_path / "b.onnx")  # Add's constant: outputs part there
    view = compare(qtbot, window, a, b)
    with qtbot.waitSignal(window.comparisons.numeric_changed, timeout=5000):
        view.run_button.click()
    assert not view.run_button.isEnabled()  # one run at a time
    with qtbot.waitSignal(window.comparisons.numeric_changed, timeout=120000):
        pass
    num = view.comparison.numeric
    assert num is not None and not num.same, view.comparison.numeric_error
    add_a, add_b = box_of(view, "a", "add"), box_of(view, "b", "add")
    assert list(view.scene_a.box_overlay) == [add_a] and list(view.scene_b.box_overlay) == [add_b]
    assert "first divergence" in view.scene_a.tooltip_at(view.scene_a.box_center(add_a))
    assert view.comparison.selected == (add_a, add_b)
    assert "Outputs differ" in view.summary.text() and "'add'" in view.summary.text()
    rows = [view.panel.list.item(i).text() for i in range(view.panel.list.count())]
    assert any(r.startswith("run:") for r in rows), rows
    assert view.run_button.isEnabled()


def test_shift_drop_compares_with_the_model_shown(qtbot, window, tmp_path):
    a = save(chain_model(), tmp_path / "a.onnx")
    b = save(chain_model(alpha=0.3), tmp_path / "b.onnx")
    window.open_files([str(a)])
    qtbot.waitUntil(lambda: window.current_view() is not None, timeout=30000)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(b))])
    event = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ShiftModifier,
    )
    with qtbot.waitSignal(window.comparisons.diffed, timeout=60000):
        window.dropEvent(event)
    view = window.current_compare_view()
    assert view is not None and flagged_nodes(view, "b") == {"leaky": CHANGED}
    assert window.tabs.count() == 2  # no tab of its own for B
    window._close_tab(window.tabs.currentIndex())
    assert window.tabs.count() == 1 and not window.comparisons.comparisons


def test_an_unreadable_file_says_so_and_opens_no_tab(qtbot, window, tmp_path):
    a = save(chain_model(), tmp_path / "a.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with qtbot.waitSignal(window.comparisons.open_failed, timeout=30000):
        window.compare_files(str(a), str(bad))
    assert window.tabs.count() == 0
    assert "bad.onnx" in window.messages.text


def test_restyling_keeps_the_colours_and_the_selection(qtbot, window, tmp_path):
    a = save(chain_model(), tmp_path / "a.onnx")
    b = save(chain_model(alpha=0.2), tmp_path / "b.onnx")
    view = compare(qtbot, window, a, b)
    leaky = box_of(view, "a", "leaky")
    window.comparisons.select(view.comp_id, "a", leaky)
    old = view.scene_a
    with qtbot.waitSignal(view.scenes_replaced, timeout=10000):
        window._restyle()  # what a theme change runs once the palette has changed
    assert view.scene_a is not old
    assert view.scene_a.diff_layer.ids[CHANGED].tolist() == [leaky]
    assert view.scene_a.selected_box == leaky


def test_a_kept_fix_opens_against_the_original_with_its_verdict(qtbot, window, tmp_path):
    src = save(chain_model(), tmp_path / "m.onnx")
    before = src.read_bytes()
    out = tmp_path / "m_opset18.onnx"
    with qtbot.waitSignal(window.comparisons.diffed, timeout=300000):
        window.run_fix(str(src), FixSpec("opset", opset=18), str(out))
    view = window.current_compare_view()
    assert view is not None and out.exists()
    assert view.comparison.a.path == src and view.comparison.b.path == out
    assert "--opset 18: verified" in view.summary.text()
    assert view.comparison.tolerance == FixSpec("opset", opset=18).tolerances()
    assert any("18" in line for line in view.comparison.model_lines)
    assert src.read_bytes() == before  # the original is never written


def test_a_fix_that_cannot_run_says_why_and_opens_nothing(qtbot, window, tmp_path):
    src = save(chain_model(), tmp_path / "m.onnx")
    window.run_fix(str(src), FixSpec("float16"), str(src))  # onto the model's own file
    qtbot.waitUntil(lambda: "m.onnx" in window.messages.text, timeout=30000)
    assert "model's own file" in window.messages.text
    assert window.tabs.count() == 0


def test_a_rejected_fix_writes_nothing_and_says_why(qtbot, window, tmp_path):
    src = save(chain_model(), tmp_path / "m.onnx")
    out = tmp_path / "m_dynamic.onnx"
    window.run_fix(str(src), FixSpec("dynamic", dynamic="nope:0:batch"), str(out))
    qtbot.waitUntil(lambda: "m.onnx" in window.messages.text, timeout=300000)
    assert "--dynamic nope:0:batch" in window.messages.text
    assert not out.exists() and window.tabs.count() == 0


def test_closing_the_tab_while_it_diffs_stops_its_work(qtbot, window, tmp_path):
    a = save(chain_model(), tmp_path / "a.onnx")
    b = save(chain_model(alpha=0.2), tmp_path / "b.onnx")
    with qtbot.waitSignal(window.comparisons.opened, timeout=60000) as opened:
        window.compare_files(str(a), str(b))
    (comp_id,) = opened.args
    window._close_tab(window.tabs.currentIndex())
    assert window.tabs.count() == 0 and not window.comparisons.comparisons
    assert not window.runner.is_running(f"compare-diff:{comp_id}")  # cancelled: result dropped
