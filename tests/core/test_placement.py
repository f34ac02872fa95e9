"""The partition map: node placement along a provider order, partitions, copies, findings, and
`check --provider ... --json`'s placement object."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

import onnx
import pytest
from onnx import TensorProto, helper

from inspector.cli import main as cli_main
from inspector.core.checks import RuntimeTarget, run_checks
from inspector.core.graph import open_model
from inspector.core.providers.mobile import COREML, NNAPI
from inspector.core.providers.placement import CPU, full_order, place
from inspector.core.providers.placement_target import check_target, target_placement
from inspector.core.providers.tables import PROVIDERS

F = TensorProto.FLOAT
CUDA = "CUDAExecutionProvider"
TRT = "TensorrtExecutionProvider"


@dataclass(frozen=True)
class V:
    status: str
    reason: str = ""
    source: str = "test table"


def _save(tmp_path, nodes, inputs, outputs, inits=(), opset=17, name="m.onnx"):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / name
    onnx.save(model, path)
    return path


def _chain(tmp_path, ops, shape=(1, 4), opset=17):
    """x -> ops[0] -> ops[1] -> ... -> y"""
    names = ["x"] + [f"t{i}" for i in range(len(ops) - 1)] + ["y"]
    nodes = [helper.make_node(op, [names[i]], [names[i + 1]]) for i, op in enumerate(ops)]
    x = helper.make_tensor_value_info("x", F, list(shape))
    y = helper.make_tensor_value_info("y", F, list(shape))
    return _save(tmp_path, nodes, [x], [y], opset=opset)


def _by_op(table: dict[str, dict[str, str]]):
    """A verdict function from {provider: {op_type: status}} (missing: "no")."""

    def verdict(provider, node, graph):
        status = table.get(provider, {}).get(node.op_type, "no")
        return V(status, f"{node.op_type} is not in the {provider} table")

    return verdict


def _check_json(path, *args):
    """The real command line, in a child process (as a user runs it)."""
    return subprocess.run(
        [sys.executable, "-m", "inspector", "check", str(path), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _check_here(capsys, path, *args):
    """The same command in this process (faster): (exit code, stdout, stderr)."""
    code = cli_main(["check", str(path), *args])
    out, err = capsys.readouterr()
    return code, out, err


# --- the engine, over a verdict function -------------------------------------------------------


def test_order_is_walked_first_come_and_the_cpu_takes_the_rest(tmp_path):
    model = open_model(_chain(tmp_path, ["Relu", "Abs", "Neg", "Relu"]))
    table = {TRT: {"Relu": "yes"}, CUDA: {"Relu": "yes", "Abs": "restricted"}}
    placed = place(model, [TRT, CUDA], _by_op(table))
    assert placed.order == (TRT, CUDA, CPU)
    assert placed.provider_of == [TRT, CUDA, CPU, TRT]
    assert placed.node_counts() == {TRT: 2, CUDA: 1, CPU: 1}
    assert placed.partitions == {TRT: [1, 1], CUDA: [1]}
    # x in, and out of each device hop: TRT and CUDA share one device, so TRT -> CUDA is free
    assert placed.copies == 4
    assert placed.why[((), 1)] == [(TRT, "Abs is not in the TensorrtExecutionProvider table")]
    assert placed.reasons[((), 2)].startswith("not on TensorRT: Neg is not in the")
    assert "not on CUDA" in placed.reasons[((), 2)] and ((), 0) not in placed.reasons
    codes = [(f.code, f.node_index) for f in placed.findings(model)]
    assert codes == [
        ("provider-fallback", 1),
        ("provider-restricted", 1),
        ("provider-fallback", 2),
    ]


def test_full_order_drops_repeats_and_puts_the_cpu_last():
    assert full_order([CPU, CUDA, CUDA]) == (CUDA, CPU)
    assert full_order([]) == (CPU,)


def test_partitions_follow_ort_grouping(tmp_path):
    """a -> b(CPU) -> c, and a -> d: d joins a's group, c (after the CPU node) starts a second."""
    x = helper.make_tensor_value_info("x", F, [2])
    outs = [helper.make_tensor_value_info(n, F, [2]) for n in ("c", "d")]
    nodes = [
        helper.make_node("Relu", ["x"], ["a"]),
        helper.make_node("Neg", ["a"], ["b"]),
        helper.make_node("Relu", ["b"], ["c"]),
        helper.make_node("Relu", ["a"], ["d"]),
    ]
    model = open_model(_save(tmp_path, nodes, [x], outs))
    placed = place(model, [CUDA], _by_op({CUDA: {"Relu": "yes"}}))
    assert placed.partitions[CUDA] == [2, 1]
    assert placed.summary() == "3 of 4 nodes on CUDA, 2 partitions, 5 copies"


def test_subgraphs_are_placed_and_partitioned_on_their_own(tmp_path):
    c = helper.make_tensor_value_info("c", TensorProto.BOOL, [])
    x = helper.make_tensor_value_info("x", F, [2])
    out = helper.make_tensor_value_info("o", F, [2])
    then = helper.make_graph([helper.make_node("Relu", ["r"], ["o"])], "then", [], [out])
    other = helper.make_graph(
        [helper.make_node("Neg", ["r"], ["o2"])],
        "else",
        [],
        [helper.make_tensor_value_info("o2", F, [2])],
    )
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other),
    ]
    y = helper.make_tensor_value_info("y", F, [2])
    model = open_model(_save(tmp_path, nodes, [c, x], [y]))
    placed = place(model, [CUDA], _by_op({CUDA: {"Relu": "yes"}}))
    assert placed.provider_of == [CUDA, CPU]
    then_path = next(
        g.path for g in model.graph.iter_graphs() if g.path and g.path[-1] == "then_branch"
    )
    assert placed.providers_by_graph[then_path] == [CUDA]
    assert placed.partitions[CUDA] == [1, 1]  # the main graph's Relu, the then branch's
    assert placed.node_counts() == {CUDA: 2, CPU: 2}


def test_constant_nodes_are_not_placed(tmp_path):
    k = helper.make_tensor("k", F, [2], [1.0, 2.0])
    x = helper.make_tensor_value_info("x", F, [2])
    y = helper.make_tensor_value_info("y", F, [2])
    nodes = [
        helper.make_node("Constant", [], ["c"], value=k),
        helper.make_node("Add", ["x", "c"], ["y"]),
    ]
    model = open_model(_save(tmp_path, nodes, [x], [y]))
    placed = place(model, [CUDA], _by_op({CUDA: {"Add": "yes"}}))
    assert placed.provider_of == ["", CUDA]
    assert placed.to_dict()["nodes"] == {CUDA: 1}


# --- mobile providers ----------------------------------------------------------------------


def test_coreml_model_format_chooses_the_list(tmp_path):
    """Erf is in CoreML's MLProgram list, not in its NeuralNetwork list."""
    model = open_model(_chain(tmp_path, ["Relu", "Erf", "Relu"]))
    nn = target_placement(model, [COREML], {"ModelFormat": "NeuralNetwork"})
    ml = target_placement(model, [COREML], {"ModelFormat": "MLProgram"})
    assert nn.provider_of == [COREML, CPU, COREML]
    assert ml.provider_of == [COREML, COREML, COREML]
    assert "ai.onnx:Erf is not in CoreML (NeuralNetwork)'s support list" in nn.why[((), 1)][0][1]
    assert "mobile_helpers/coreml_supported_mlprogram_ops.md" in ml.sources[COREML]


def test_mobile_needs_fixed_shapes(tmp_path):
    model = open_model(_chain(tmp_path, ["Relu", "Relu"], shape=("batch", 4)))
    placed = target_placement(model, [NNAPI])
    assert placed.provider_of == [CPU, CPU]
    assert "dynamic shape [batch,4]" in placed.why[((), 0)][0][1]


# --- the check and the CLI -----------------------------------------------------------------


def _lp_norm(tmp_path):
    return _chain(tmp_path, ["Relu", "LpNormalization", "Relu"])


def _acos(tmp_path):
    return _chain(tmp_path, ["Relu", "Acos", "Relu"])


def test_lp_normalization_falls_back_to_cpu_before_1_27(tmp_path):
    """The issue's example: CUDA's kernel table lacks LpNormalization up to ONNX Runtime 1.26
    (1.27 added it), so at 1.26 exactly that node falls back and the Relus stay on CUDA."""
    model = open_model(_lp_norm(tmp_path))
    old = target_placement(model, [CUDA], release="1.26")
    assert old.provider_of == [CUDA, CPU, CUDA]
    assert "OperatorKernels.md (onnxruntime 1.26" in old.sources[CUDA]
    assert [f.node_index for f in old.findings(model) if f.code == "provider-fallback"] == [1]
    assert target_placement(model, [CUDA]).provider_of == [CUDA, CUDA, CUDA]


def test_op_cuda_lacks_falls_back_to_cpu_alone(tmp_path):
    """Acceptance 1, with an op the newest CUDA table lacks (Acos): no runtime-unchecked, that
    node alone on the CPU, the Relus on CUDA."""
    run = _check_json(_acos(tmp_path), "--provider", CUDA, "--json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    codes = [f["code"] for f in report["findings"]]
    assert "runtime-unchecked" not in codes
    fallbacks = [f for f in report["findings"] if f["code"] == "provider-fallback"]
    assert [(f["node_index"], f["op_type"]) for f in fallbacks] == [(1, "Acos")]
    assert fallbacks[0]["message"].startswith("runs on CPU, not on CUDA: ")
    assert report["placement"] == {
        "order": [CUDA, CPU],
        "nodes": {CUDA: 2, CPU: 1},
        "partitions": {CUDA: [1, 1]},
        "copies": 4,
        "graph": "as saved",
    }


def test_human_output_has_the_summary_line(tmp_path, capsys):
    _, out, _ = _check_here(capsys, _acos(tmp_path), "--provider", CUDA)
    assert out.splitlines()[0] == "2 of 3 nodes on CUDA, 2 partitions, 4 copies"


def test_cpu_only_check_keeps_its_placement_object(tmp_path, capsys):
    _, out, _ = _check_here(capsys, _lp_norm(tmp_path), "--json")
    placement = json.loads(out)["placement"]
    assert placement["order"] == [CPU] and placement["nodes"] == {CPU: 3}
    assert placement["partitions"] == {} and placement["copies"] == 0


@pytest.mark.parametrize(
    "args, said",
    [
        (["--provider-option", "ModelFormat"], "is not KEY=VALUE"),
        (["--provider", COREML, "--provider-option", "ModelFormat=Bogus"], "ModelFormat=Bogus"),
    ],
)
def test_bad_provider_options_are_usage_errors(tmp_path, capsys, args, said):
    code, _, err = _check_here(capsys, _lp_norm(tmp_path), *args)
    assert code == 2 and said in err and "Traceback" not in err


def test_cpu_errors_stay_only_on_nodes_the_cpu_runs(tmp_path):
    """A bfloat16 Add has no CPU kernel: an error on the CPU alone, none when NNAPI takes it; with
    a provider there is no data for, it lands on the CPU (still an error) and that is said."""
    x = helper.make_tensor_value_info("x", TensorProto.BFLOAT16, [2])
    y = helper.make_tensor_value_info("y", TensorProto.BFLOAT16, [2])
    path = _save(tmp_path, [helper.make_node("Add", ["x", "x"], ["y"])], [x], [y])
    model = open_model(path)
    cpu_codes = {f.code for f in run_checks(model, RuntimeTarget())}
    assert "unsupported-type" in cpu_codes
    nnapi, _ = check_target(model, RuntimeTarget(provider=NNAPI))
    assert "unsupported-type" not in {f.code for f in nnapi}  # NNAPI takes Add with fixed shapes
    unknown, placed = check_target(model, RuntimeTarget(provider="NoSuchExecutionProvider"))
    assert placed.provider_of == [CPU]
    codes = {f.code for f in unknown}
    assert {"runtime-unchecked", "unsupported-type", "provider-fallback"} <= codes


@pytest.mark.parametrize("provider", [p for p in PROVIDERS if p != CPU])
def test_every_listed_provider_gets_a_map_and_no_runtime_unchecked(tmp_path, provider):
    model = open_model(_acos(tmp_path))
    findings, placed = check_target(model, RuntimeTarget(provider=provider))
    assert "runtime-unchecked" not in {f.code for f in findings}
    assert placed.order == (provider, CPU) and sum(placed.node_counts().values()) == 3
    for f in findings:
        if f.code == "provider-fallback":  # each with where it lands and a reason
            assert f.message.startswith(("runs on ", "counted on ")) and ": " in f.message


def test_tensorrt_judges_the_type_of_the_values_an_op_makes(tmp_path):
    """TensorRT's matrix lists one type set per op, for its data: ConstantOfShape's int64 shape
    input and Where's bool condition are not that data (the light ResNet-50, whose weights are
    ConstantOfShape nodes, had 239 of them wrongly falling back)."""
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [1, 4])
    nodes = [
        helper.make_node(
            "ConstantOfShape", ["shape"], ["c"], value=helper.make_tensor("v", F, [1], [1.0])
        ),
        helper.make_node("Greater", ["x", "c"], ["cond"]),
        helper.make_node("Where", ["cond", "x", "c"], ["y"]),
    ]
    x = helper.make_tensor_value_info("x", F, [1, 4])
    y = helper.make_tensor_value_info("y", F, [1, 4])
    model = open_model(_save(tmp_path, nodes, [x], [y], [shape]))
    placed = target_placement(model, [TRT])
    assert placed.provider_of == [TRT, TRT, TRT], placed.reasons
