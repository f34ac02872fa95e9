"""NNAPI and CoreML partition maps against ONNX Runtime's own usability checker.

The checker (``onnxruntime/tools/mobile_helpers/usability_checker.py``, what
``python -m onnxruntime.tools.check_onnx_model_mobile_usability`` prints) is called in-process
through its Python API, exactly as its ``analyze_model`` calls it: the model optimized to ONNX
Runtime's basic level (``onnx_model_utils.optimize_model``), strict shape inference, then
``check_nnapi_partitions`` / ``check_coreml_partitions`` with fixed input sizes required (its
first pass). The Inspector's map is computed on the same optimized file, opened like any model.
Compared per provider and model format: the partition sizes (in order) and the supported-node
count. Every difference is explained node by node in the output (a reason the Inspector knowingly
differs, see :mod:`inspector.core.providers.mobile`) or the test fails.

The default run checks a sample; ``-m slow`` sweeps the onnx wheel's shipped models and a
deterministic sample of the runtime-support truth corpus (300+ models).
"""

from __future__ import annotations

import json
import pathlib
import time
from dataclasses import dataclass, field

import onnx
import pytest
from onnx import TensorProto, helper

from inspector.cli import main as cli_main
from inspector.core.graph import open_model
from inspector.core.providers.mobile import COREML, NNAPI
from inspector.core.providers.placement_optimized import OptimizeFailed, optimized_placement
from inspector.core.providers.placement_target import target_placement
from tests.core import runtime_corpus
from tests.core.mobile_checker import checker_available, graph_protos, run_checker
from tests.model_zoo import SHIPPED_SAMPLE, shipped_data_dir, shipped_model_id, shipped_models

pytestmark = pytest.mark.skipif(
    not checker_available(), reason="this onnxruntime ships no mobile usability checker"
)

# (label, provider, options): the checker's figures for each label come from its child
TARGETS = (
    ("NNAPI", NNAPI, {}),
    ("CoreML NeuralNetwork", COREML, {"ModelFormat": "NeuralNetwork"}),
    ("CoreML MLProgram", COREML, {"ModelFormat": "MLProgram"}),
)


@dataclass
class Outcome:
    model: str
    skipped: str = ""  # why the checker could not be run on it
    agreed: int = 0  # targets with equal sizes and counts
    explained: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    checker_s: float = 0.0
    ours_s: float = 0.0


def _why_checker_differs(node: onnx.NodeProto, graph: onnx.GraphProto, ours: str) -> str:
    """A known reason the checker judges ``node`` otherwise, or ""."""
    if ours != "CPUExecutionProvider" and "" in node.input:
        return f"{node.op_type}: the checker counts its omitted optional input as a dynamic shape"
    inits = {t.name: len(t.dims) for t in graph.initializer}
    if ours == "CPUExecutionProvider" and any(inits.get(i, 0) > 5 for i in node.input):
        return f"{node.op_type}: an initializer of rank > 5, which the checker does not rank-check"
    return ""


def compare_all(items: list[tuple[pathlib.Path, str]], folder: pathlib.Path) -> list[Outcome]:
    """Each model's partition map against the checker's figures (computed in one child)."""
    figures = run_checker([path for path, _ in items], folder)
    return [compare(name, found) for (_, name), found in zip(items, figures, strict=True)]


def compare(name: str, found: dict) -> Outcome:
    out = Outcome(name, skipped=found["skipped"], checker_s=found["checker_s"])
    if out.skipped:
        return out
    optimized = pathlib.Path(found["optimized"])
    model = open_model(optimized)
    protos = graph_protos(onnx.load(str(optimized)).graph)
    paths = [g.path for g in model.graph.iter_graphs()]
    for label, provider, options in TARGETS:
        theirs = found["targets"][label]
        started = time.perf_counter()
        placement = target_placement(model, [provider], options)
        out.ours_s += time.perf_counter() - started
        sizes = placement.partitions[provider]
        if (
            sizes == theirs["sizes"]
            and placement.node_counts().get(provider, 0) == (theirs["supported"])
        ):
            out.agreed += 1
            continue
        taken = {tuple(at) for at in theirs["taken"]}
        reasons, unknown = [], []
        for gi, (gp, path) in enumerate(zip(protos, paths, strict=True)):
            placed = placement.providers_by_graph[path]
            for i, node in enumerate(gp.node):
                if ((gi, i) in taken) == (placed[i] == provider) or not placed[i]:
                    continue
                why = _why_checker_differs(node, gp, placed[i])
                (reasons if why else unknown).append(why or f"#{i} {node.op_type}")
        text = f"{label}: ours {sizes} vs checker {theirs['sizes']}"
        if unknown or not reasons:
            out.unexplained.append(f"{text}; nodes judged otherwise: {unknown or 'none'}")
        else:
            out.explained.append(f"{text}; {sorted(set(reasons))}")
    return out


def _report(outcomes: list[Outcome]) -> str:
    ran = [o for o in outcomes if not o.skipped]
    lines = [
        f"{len(ran)} models compared ({len(outcomes) - len(ran)} the checker cannot run), "
        f"{len(ran) * len(TARGETS)} (model, provider) pairs: "
        f"{sum(o.agreed for o in ran)} equal, {sum(len(o.explained) for o in ran)} explained, "
        f"{sum(len(o.unexplained) for o in ran)} unexplained; checker "
        f"{sum(o.checker_s for o in ran):.1f} s, Inspector {sum(o.ours_s for o in ran):.2f} s"
    ]
    for o in outcomes:
        for text in o.explained:
            lines.append(f"  explained  {o.model}: {text}")
        for text in o.unexplained:
            lines.append(f"  DIFFERENT  {o.model}: {text}")
        if o.skipped:
            lines.append(f"  skipped    {o.model}: {o.skipped}")
    return "\n".join(lines)


def _corpus_models(tmp: pathlib.Path, n: int | None) -> list[tuple[pathlib.Path, str]]:
    """A deterministic sample of ``n`` truth-corpus models (None: its hand-built ones only)."""
    if n is None:
        cases = runtime_corpus.hand_cases()
    else:
        every = runtime_corpus.build_corpus("tuned")
        cases = runtime_corpus.sample([c for c in every if not c.id.startswith("shipped/")], n)
    out = []
    for case in cases:
        path = tmp / f"{len(out)}.onnx"
        path.write_bytes(case.data())
        out.append((path, case.id))
    return out


def _shipped(name: str) -> pathlib.Path:
    return shipped_data_dir() / (
        f"{name}.onnx" if name.startswith("light/") else f"{name}/model.onnx"
    )


def test_resnet50_figures_equal_the_checker_s(tmp_path):
    """The issue's anchor: 17 partitions, 107 of 123 nodes, Sum unsupported."""
    (outcome,) = compare_all([(_shipped("light/light_resnet50"), "light_resnet50")], tmp_path)
    print(_report([outcome]))
    assert outcome.agreed == len(TARGETS)
    # The Inspector's own optimized map (`check --optimized`: a session in a child process)
    placement = optimized_placement(_shipped("light/light_resnet50"), [NNAPI])
    assert placement.graph == "optimized"
    assert placement.partitions[NNAPI] == [9, 6, 6, 7, 6, 6, 6, 7, 6, 6, 6, 6, 6, 7, 6, 6, 5]
    assert placement.node_counts() == {NNAPI: 107, "CPUExecutionProvider": 16}
    assert placement.summary().startswith("107 of 123 nodes on NNAPI, 17 partitions")


def test_a_model_onnx_runtime_cannot_load_keeps_the_saved_graph_s_map(capsys):
    path = _shipped("simple/test_gradient_of_add")
    with pytest.raises(OptimizeFailed, match="Gradient"):
        optimized_placement(path, [NNAPI])
    cli_main(["check", str(path), "--provider", NNAPI, "--optimized", "--json"])
    out, err = capsys.readouterr()
    assert json.loads(out)["placement"]["graph"] == "as saved"
    assert err.startswith("the partition map is of the graph as saved: ") and "Gradient" in err


def _built(tmp: pathlib.Path) -> list[tuple[pathlib.Path, str]]:
    """Models for the rules the shipped sample lacks: dynamic shapes, a subgraph, rank 6, an
    omitted optional input."""
    f = TensorProto.FLOAT
    models = {}
    x = helper.make_tensor_value_info("x", f, ["batch", 3, 8, 8])
    y = helper.make_tensor_value_info("y", f, None)
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Shape", ["a"], ["s"]),
        helper.make_node("Reshape", ["a", "s"], ["b"]),
        helper.make_node("Sigmoid", ["b"], ["y"]),
    ]
    models["dynamic-batch"] = helper.make_graph(nodes, "g", [x], [y])
    c = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    xf = helper.make_tensor_value_info("x", f, [2, 3])
    branch = [helper.make_node("Relu", ["x"], ["t"]), helper.make_node("Abs", ["t"], ["o"])]
    then = helper.make_graph(branch, "then", [], [helper.make_tensor_value_info("o", f, [2, 3])])
    other = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["e"])],
        "else",
        [],
        [helper.make_tensor_value_info("e", f, [2, 3])],
    )
    nodes = [
        helper.make_node("Relu", ["x"], ["x1"]),
        helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other),
    ]
    models["if"] = helper.make_graph(
        nodes, "g", [c, xf], [helper.make_tensor_value_info("y", f, [2, 3])]
    )
    x6 = helper.make_tensor_value_info("x", f, [1, 2, 1, 2, 1, 2])
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[5, 4, 3, 2, 1, 0]),
        helper.make_node("Relu", ["t"], ["y"]),
    ]
    models["rank6"] = helper.make_graph(
        nodes, "g", [x6], [helper.make_tensor_value_info("y", f, None)]
    )
    x4 = helper.make_tensor_value_info("x", f, [1, 1, 2, 2])
    scales = helper.make_tensor("scales", f, [4], [1, 1, 2, 2])
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("Resize", ["r", "", "scales"], ["z"], mode="nearest"),
        helper.make_node("Relu", ["z"], ["y"]),
    ]
    models["resize-no-roi"] = helper.make_graph(
        nodes, "g", [x4], [helper.make_tensor_value_info("y", f, [1, 1, 4, 4])], [scales]
    )
    out = []
    for name, graph in models.items():
        path = tmp / f"{name}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
        out.append((path, f"built/{name}"))
    return out


def test_sample_agrees_with_the_checker(tmp_path):
    sample = [p for p in shipped_models() if shipped_model_id(p) in SHIPPED_SAMPLE]
    items = [(p, shipped_model_id(p)) for p in sample] + _built(tmp_path)
    outcomes = {o.model: o for o in compare_all(items, tmp_path)}
    print(_report(list(outcomes.values())))
    assert not [o for o in outcomes.values() if o.unexplained]
    assert sum(1 for o in outcomes.values() if not o.skipped) >= 10
    # The one known difference: the checker takes "" (no roi) for a dynamic shape.
    assert outcomes["built/resize-no-roi"].explained


@pytest.mark.slow
def test_sweep_agrees_with_the_checker(tmp_path):
    items = [(p, shipped_model_id(p)) for p in shipped_models()] + _corpus_models(tmp_path, 160)
    outcomes = compare_all(items, tmp_path)
    print(_report(outcomes))
    assert sum(1 for o in outcomes if not o.skipped) >= 150
    assert not [o for o in outcomes if o.unexplained]
