"""Collapsed layer groups (inspector.core.collapse): group boxes, their edges, folds of repeated
layers, finding tallies, the default depth, `render --depth`; on models built with onnx.helper
and on torch exports made in a child process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector.core.collapse import (
    AUTO_COLLAPSE_MIN_NODES,
    GROUP_TITLE_PX,
    MIN_LABEL_PX,
    Folding,
    default_expansion,
    draw_collapsible,
    fit_zoom,
    human_count,
    readable_at_fit,
)
from inspector.core.diagram import BoxKind, Diagram, build_diagram, layout_diagram
from inspector.core.findings import Finding, Severity
from inspector.core.graph import Model, open_model
from inspector.core.hierarchy import build_hierarchy
from tests.core.test_cli import run_cli
from tests.core.test_hierarchy import STACK_CODE, _export

D = 16


def layered_model(
    layers: int, custom_in: int | None = None, if_in: int | None = None
) -> onnx.ModelProto:
    """TorchScript-style names: ``/embed/MatMul``, then per layer ``/layers.i/attn/MatMul``,
    ``/layers.i/attn/Softmax``, ``/layers.i/mlp/Relu`` and the residual ``/layers.i/Add`` (which
    reads the layer's input a second time), then ``/head/MatMul``. Layer ``custom_in`` has an
    op of a custom domain instead of its Relu (a finding for the checks); layer ``if_in`` an If
    (on the graph input ``c``) whose branches apply Relu or Neg to the outer scope's value."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.random((D, D), np.float32), "We")]
    nodes = [helper.make_node("MatMul", ["x", "We"], ["h0"], name="/embed/MatMul")]
    for i in range(layers):
        inits.append(numpy_helper.from_array(rng.random((D, D), np.float32), f"W{i}"))
        act = ("Frob", "local.custom") if i == custom_in else ("Relu", "")
        if i == if_in:
            branches = {
                f"{b}_branch": helper.make_graph(
                    [helper.make_node(op, [f"s{i}"], [f"{b}_out"])],
                    b,
                    [],
                    [helper.make_tensor_value_info(f"{b}_out", TensorProto.FLOAT, [1, D])],
                )
                for b, op in (("then", "Relu"), ("else", "Neg"))
            }
            act = ("If", "")
        nodes += [
            helper.make_node("MatMul", [f"h{i}", f"W{i}"], [f"q{i}"], name=f"/layers.{i}/attn/MatMul"),
            helper.make_node("Softmax", [f"q{i}"], [f"s{i}"], name=f"/layers.{i}/attn/Softmax"),
            helper.make_node(
                act[0], ["c"] if i == if_in else [f"s{i}"], [f"m{i}"],
                name=f"/layers.{i}/mlp/{act[0]}", domain=act[1], **(branches if i == if_in else {}),
            ),
            helper.make_node("Add", [f"h{i}", f"m{i}"], [f"h{i + 1}"], name=f"/layers.{i}/Add"),
        ]  # fmt: skip
    nodes.append(helper.make_node("MatMul", [f"h{layers}", "We"], ["y"], name="/head/MatMul"))
    graph = helper.make_graph(
        nodes,
        "layered",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, D])]
        + ([helper.make_tensor_value_info("c", TensorProto.BOOL, [])] if if_in is not None else []),
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, D])],
        inits,
    )
    opsets = [helper.make_opsetid("", 17)]
    if custom_in is not None:
        opsets.append(helper.make_opsetid("local.custom", 1))
    return helper.make_model(graph, opset_imports=opsets)


def _open(tmp_path: Path, proto: onnx.ModelProto, name: str = "m.onnx") -> Model:
    path = tmp_path / name
    onnx.save(proto, path)
    return open_model(path, infer=False)


def _folding(model: Model) -> Folding:
    return Folding(build_hierarchy(model.graph), build_diagram(model, model.graph))


def _group_boxes(d: Diagram) -> dict[str, int]:
    """Group box title → box index."""
    return {d.lines[b][0]: b for b in np.flatnonzero(d.kind == BoxKind.GROUP).tolist()}


def _same(a: Diagram, b: Diagram) -> None:
    for f in ("kind", "ref", "category", "width", "height", "edge_src", "edge_dst", "node_box"):
        assert np.array_equal(getattr(a, f), getattr(b, f)), f
    assert a.lines == b.lines and a.edge_value == b.edge_value and a.edge_label == b.edge_label


# ------------------------------------------------------------------------ boxes and edges


def test_top_level_groups_are_boxes_and_layers_fold(tmp_path):
    model = _open(tmp_path, layered_model(6))
    f = _folding(model)
    assert [x.title for x in f.folds] == ["layers.1–5 ×5"]
    d = f.diagram(f.expanded_to_depth(0))
    boxes = _group_boxes(d)
    assert set(boxes) == {"embed", "layers.0", "layers.1–5 ×5", "head"}
    assert d.lines[boxes["layers.0"]] == ("layers.0", "4 ops · 256 params", "attn · mlp · 1 op")
    assert d.lines[boxes["layers.1–5 ×5"]][:2] == ("layers.1–5 ×5", "20 ops · 1.3k params")
    assert d.lines[boxes["layers.1–5 ×5"]][2].startswith("each: attn · mlp")
    assert d.lines[boxes["embed"]] == ("embed", "1 op · 256 params", "MatMul")
    # every node is drawn inside exactly one box; inputs and outputs stay boxes of their own
    assert d.box_count == 4 + 2
    assert d.box_of_input(0) == 4 and d.box_of_output(0) == 5
    assert set(d.node_box.tolist()) == set(boxes.values())
    # edges: the residual stream from box to box, one per value and end box (layers.0 reads h0
    # twice inside), none inside a group
    pairs = sorted(zip(d.edge_value, d.edge_src.tolist(), d.edge_dst.tolist(), strict=True))
    assert pairs == sorted(
        [
            ("x", 4, boxes["embed"]),
            ("h0", boxes["embed"], boxes["layers.0"]),
            ("h1", boxes["layers.0"], boxes["layers.1–5 ×5"]),
            ("h6", boxes["layers.1–5 ×5"], boxes["head"]),
            ("y", boxes["head"], 5),
        ]
    )


def test_opening_groups_and_the_fold(tmp_path):
    model = _open(tmp_path, layered_model(6))
    f = _folding(model)
    layer0 = f.hierarchy.group("layers.0").id
    opened = f.diagram(f.expanded_to_depth(0) | {layer0})
    assert {"attn", "mlp"} <= set(_group_boxes(opened))
    add = next(n.index for n in model.graph.nodes if n.name == "/layers.0/Add")
    assert opened.kind[opened.node_box[add]] == BoxKind.NODE  # a node directly in layers.0
    # h0 enters layers.0 twice now: into attn's box and into the residual Add
    assert sorted(opened.edge_dst[[i for i, v in enumerate(opened.edge_value) if v == "h0"]]) == sorted(
        [_group_boxes(opened)["attn"], int(opened.node_box[add])]
    )  # fmt: skip
    fold = f.folds[0].id
    unfolded = f.diagram(f.expanded_to_depth(0) | {fold})
    assert {f"layers.{i}" for i in range(6)} <= set(_group_boxes(unfolded))
    # everything open is the full diagram itself
    assert f.diagram(f.everything) is f.full


def test_collapse_then_expand_round_trips(tmp_path):
    model = _open(tmp_path, layered_model(6))
    f = _folding(model)
    start = f.expanded_to_depth(1)
    before = f.diagram(start)
    layout_before = layout_diagram(before)
    changed = 0
    for tid in sorted(start):  # close each open group, then open it again
        closed = f.diagram(start - {tid})
        assert f.box_count(start - {tid}) == closed.box_count
        changed += closed.lines != before.lines  # (one inside the closed fold changes nothing)
        again = f.diagram((start - {tid}) | {tid})
        _same(before, again)
        layout_again = layout_diagram(again)
        assert np.array_equal(layout_before.x, layout_again.x)
        assert np.array_equal(layout_before.edge_points, layout_again.edge_points)
    assert changed == 3  # embed, layers.0, head
    # the way to a node, and what "collapse" on it closes
    mm = next(n.index for n in model.graph.nodes if n.name == "/layers.3/attn/MatMul")
    path = f.path_to(mm)
    assert [f.name(t) for t in path] == ["layers.1–5 ×5", "layers.3", "attn"]
    opened = f.diagram(set(path))
    assert f.box_count(set(path)) == opened.box_count
    assert opened.kind[opened.node_box[mm]] == BoxKind.NODE
    assert f.innermost_open(mm, set(path)) == path[-1]


def test_full_diagram_matches_build_diagram(tmp_path):
    model = _open(tmp_path, layered_model(3))
    f = _folding(model)
    assert f.folds == []  # three alike layers are not a run worth folding
    _same(f.diagram(f.everything), build_diagram(model, model.graph))


# ------------------------------------------------------------------------------ findings


def test_tallies_count_the_worst_finding_inside(tmp_path):
    model = _open(tmp_path, layered_model(6))
    f = _folding(model)
    index = {n.name: n.index for n in model.graph.nodes}

    def at(name: str, severity: Severity) -> Finding:
        return Finding(severity, "unsupported-op", "x", node_index=index[name])

    tallies = f.tallies(
        [
            at("/layers.2/attn/MatMul", Severity.ERROR),
            at("/layers.4/mlp/Relu", Severity.ERROR),
            at("/layers.4/Add", Severity.WARNING),
            at("/layers.0/Add", Severity.INFO),
        ]
    )
    fold = f.folds[0].id
    assert tallies[fold].text == "2 errors" and tallies[fold].total == 3
    assert tallies[f.hierarchy.group("layers.4").id].text == "1 error"
    assert tallies[f.hierarchy.group("layers.0").id].text == "1 info"
    assert f.hierarchy.group("head").id not in tallies


# ------------------------------------------------------------------------- default depth


def test_default_depth_follows_the_viewport(tmp_path):
    model = _open(tmp_path, layered_model(60))
    assert len(model.graph.nodes) >= AUTO_COLLAPSE_MIN_NODES
    f = _folding(model)
    small = (900.0, 600.0)
    state, diagram, layout = default_expansion(f, small)
    assert state != f.everything and (diagram.kind == BoxKind.GROUP).any()
    assert GROUP_TITLE_PX * fit_zoom(layout, small) >= MIN_LABEL_PX  # readable at fit
    # it is the deepest readable one
    chosen = next(d for d in range(f.max_depth + 1) if f.expanded_to_depth(d) == state)
    deeper = f.diagram(f.expanded_to_depth(chosen + 1))
    assert not readable_at_fit(deeper, layout_diagram(deeper), small)
    # a huge viewport shows everything; a small graph is never collapsed
    assert default_expansion(f, (1e6, 1e6))[0] == f.everything
    small_model = _open(tmp_path, layered_model(8), "small.onnx")
    f8 = _folding(small_model)
    assert default_expansion(f8, (100.0, 100.0))[0] == f8.everything


def test_human_count():
    assert [human_count(n) for n in (0, 999, 4096, 15_362_298, 7_000_000_000)] == [
        "0",
        "999",
        "4.1k",
        "15.4M",
        "7.0B",
    ]


def test_render_depth(tmp_path):
    path = tmp_path / "layered.onnx"
    onnx.save(layered_model(60), path)
    png = tmp_path / "g.png"
    r = run_cli("render", str(path), "-o", str(png), "--depth", "0", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["collapsed_groups"] == 4 and out["boxes"] == 6
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = run_cli("render", str(path), "-o", str(png), "--depth", "9", "--json")
    assert json.loads(r.stdout)["collapsed_groups"] == 0  # deeper than the tree: everything
    r = run_cli("render", str(path), "-o", str(png), "--depth", "-1")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1


# -------------------------------------------------------------------------- torch exports


@pytest.fixture(scope="module", params=["dynamo", "torchscript"])
def stack5(request, tmp_path_factory) -> tuple[Model, dict]:
    """test_hierarchy's transformer stack with five layers, and torch's module names."""
    code = STACK_CODE.replace("DYNAMO", str(request.param == "dynamo"))
    path, names = _export(
        tmp_path_factory, f"stack5_{request.param}", code.replace("range(3)", "range(5)")
    )
    return open_model(path, infer=False), names


def test_stack_boxes_are_torch_modules(stack5):
    model, torch_names = stack5
    f = _folding(model)
    modules = set(torch_names["modules"])
    # the TorchScript exporter's first layer holds a few constants the others reuse, so its run
    # starts one layer later
    assert [x.title for x in f.folds] in (["layers.1–4 ×4"], ["layers.2–4 ×3"])
    for depth in range(f.max_depth):
        state = f.expanded_to_depth(depth)
        d = f.diagram(state)
        for b in np.flatnonzero(d.kind == BoxKind.GROUP).tolist():
            tid = int(d.ref[b])
            for g in f.members(tid):  # each box stands for modules torch names
                assert f.hierarchy.groups[g].key in modules
        for tid in state:
            _same(d, f.diagram((state - {tid}) | {tid}))
    top = _group_boxes(f.diagram(f.expanded_to_depth(0)))
    assert {"embed", "layers.0", f.folds[0].title, "head"} <= set(top)


@pytest.mark.parametrize("fixture", ["torch_transformer", "torch_cnn", "torch_lstm"])
def test_zoo_exports_collapse_to_module_boxes(request, fixture):
    """The model zoo's dynamo exports (shared with the window tests; test_hierarchy checks their
    groups against torch's module names): at depth 0 every node is drawn in the box of its
    top-level module, and the drawing round-trips."""
    model = open_model(request.getfixturevalue(fixture), infer=False)
    drawn = draw_collapsible(model, model.graph, depth=0)
    f = drawn.folding
    d = drawn.diagram
    assert (d.kind == BoxKind.GROUP).any()
    for n in model.graph.nodes:
        path_ids = f.path_to(n.index)
        if path_ids:
            assert d.kind[d.node_box[n.index]] == BoxKind.GROUP
            assert d.ref[d.node_box[n.index]] == path_ids[0]
        else:
            assert d.kind[d.node_box[n.index]] == BoxKind.NODE
    for tid in f.hierarchy.groups[0].children:  # opening a top-level group shows what it holds
        opened = f.diagram({tid})
        assert opened.box_count >= d.box_count
        assert tid not in opened.ref[opened.kind == BoxKind.GROUP].tolist()
    for tid in range(1, f.size):  # open any one group, close it again: the same drawing
        f.diagram({tid})
        _same(f.diagram(drawn.expanded), d)


def _shared_constant_chain(layers: int) -> onnx.ModelProto:
    """A Constant at the top scope (``/Constant``, as TorchScript names it) read by every layer:
    the diagram draws a copy of it beside each reader after the first."""
    half = numpy_helper.from_array(np.array(0.5, np.float32))
    nodes = [helper.make_node("Constant", [], ["c"], name="/Constant", value=half)]
    x = "x"
    for i in range(layers):
        nodes += [
            helper.make_node("Mul", [x, "c"], [f"m{i}"], name=f"/layers.{i}/Mul"),
            helper.make_node("Relu", [f"m{i}"], [f"r{i}"], name=f"/layers.{i}/Relu"),
            helper.make_node("Add", [f"r{i}", x], [f"y{i}"], name=f"/layers.{i}/Add"),
        ]
        x = f"y{i}"
    graph = helper.make_graph(
        nodes,
        "shared",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, D])],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, D])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_a_copy_of_a_shared_value_closes_with_its_readers_group(tmp_path):
    f = _folding(_open(tmp_path, _shared_constant_chain(40)))
    assert (f.full.copy_of >= 0).sum() == 39
    for depth in range(f.max_depth + 1):
        d = f.diagram(f.expanded_to_depth(depth))
        assert f.box_count(f.expanded_to_depth(depth)) == d.box_count
        ends = np.bincount(np.concatenate([d.edge_src, d.edge_dst]), minlength=d.box_count)
        assert ends.all(), f"depth {depth}: a box with no edge"  # no copy left behind, alone
        copies = int((d.copy_of >= 0).sum()) if len(d.copy_of) else 0
        open_layers = sum(
            1 for b in np.flatnonzero(d.kind == BoxKind.NODE) if d.lines[b][0] == "Mul"
        )
        assert copies == max(open_layers - 1, 0)  # one per layer drawn open, less the original's
    collapsed = f.diagram(f.expanded_to_depth(0))
    assert set(_group_boxes(collapsed)) == {"layers.0", "layers.1–39 ×39"}
