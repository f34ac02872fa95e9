"""The deployment matrix: rows per op signature, counts over every graph, the CPU "no" vs another
provider's "fallback", the CSV and JSON of `check MODEL --matrix`."""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter

import onnx
import pytest
from onnx import TensorProto, helper

from inspector.cli import main as cli_main
from inspector.core.graph import open_model
from inspector.core.providers.matrix import deployment_matrix
from inspector.core.providers.mobile import NNAPI
from inspector.core.providers.tables import PROVIDERS
from tests.model_zoo import shipped_data_dir

F = TensorProto.FLOAT
CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"
FLOAT_TO_FLOAT = "tensor(float) -> tensor(float)"


def _save(tmp_path, nodes, inputs, outputs, opsets=(("", 17),), name="m.onnx"):
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    path = tmp_path / name
    onnx.save(model, path)
    return path


def _chain(tmp_path, ops, shape=(1, 4)):
    """x -> ops[0] -> ops[1] -> ... -> y; an op "custom.Foo" is in the custom domain."""
    names = ["x"] + [f"t{i}" for i in range(len(ops) - 1)] + ["y"]
    nodes = []
    for i, op in enumerate(ops):
        domain, _, op_type = op.rpartition(".")
        nodes.append(helper.make_node(op_type, [names[i]], [names[i + 1]], domain=domain))
    x = helper.make_tensor_value_info("x", F, list(shape))
    y = helper.make_tensor_value_info("y", F, list(shape))
    return _save(tmp_path, nodes, [x], [y], opsets=(("", 17), ("custom", 3)))


def _rows(matrix) -> dict[tuple, dict]:
    return {(r["domain"], r["op_type"]): r for r in matrix.to_dict()["ops"]}


def test_rows_counts_and_since_versions(tmp_path):
    model = open_model(_chain(tmp_path, ["Relu", "Acos", "Relu", "custom.Foo"]))
    matrix = deployment_matrix(model)
    assert matrix.providers == PROVIDERS
    rows = _rows(matrix)
    assert list(rows) == [("", "Acos"), ("", "Relu"), ("custom", "Foo")]  # sorted
    relu = rows[("", "Relu")]
    assert (relu["count"], relu["since_version"], relu["types"]) == (2, 14, FLOAT_TO_FLOAT)
    assert rows[("", "Acos")]["since_version"] == 7  # the schema in force at opset 17
    assert rows[("custom", "Foo")]["since_version"] == 3  # a custom domain: its imported opset
    assert set(relu["support"]) == set(PROVIDERS)
    assert relu["support"][CPU] == relu["support"][CUDA] == "yes"
    assert CPU not in relu["notes"]  # plain yes has no note


def test_cpu_no_versus_cuda_fallback(tmp_path):
    """The newest CUDA table lacks Acos, which the CPU runs: CUDA falls back. Nothing runs the
    custom op: the CPU says no, and so does CUDA (there is nothing to fall back to)."""
    model = open_model(_chain(tmp_path, ["Relu", "Acos", "Relu", "custom.Foo"]))
    rows = _rows(deployment_matrix(model, [CPU, CUDA]))
    acos, foo = rows[("", "Acos")], rows[("custom", "Foo")]
    assert acos["support"] == {CPU: "yes", CUDA: "fallback"}
    assert "next provider" in acos["notes"][CUDA]
    assert foo["support"] == {CPU: "no", CUDA: "no"}
    assert foo["notes"][CPU].startswith("unsupported-op")
    assert "the CPU cannot run it either" in foo["notes"][CUDA]


def test_older_release_table_falls_back_where_the_newest_does_not(tmp_path):
    """CUDA's table gained LpNormalization in ONNX Runtime 1.27: at 1.26 it falls back."""
    model = open_model(_chain(tmp_path, ["Relu", "LpNormalization", "Relu"]))
    old = _rows(deployment_matrix(model, [CUDA], release="1.26"))
    new = _rows(deployment_matrix(model, [CUDA]))
    assert old[("", "LpNormalization")]["support"] == {CUDA: "fallback"}
    assert new[("", "LpNormalization")]["support"] == {CUDA: "yes"}
    assert old[("", "Relu")]["support"] == {CUDA: "yes"}


def test_nodes_that_disagree_take_the_worst_and_say_so(tmp_path):
    """Two Relus of one signature; NNAPI takes the one of fixed shape, not the dynamic one."""
    nodes = [helper.make_node("Relu", ["a"], ["y1"]), helper.make_node("Relu", ["b"], ["y2"])]
    ins = [
        helper.make_tensor_value_info("a", F, [1, 4]),
        helper.make_tensor_value_info("b", F, ["n", 4]),
    ]
    outs = [
        helper.make_tensor_value_info("y1", F, [1, 4]),
        helper.make_tensor_value_info("y2", F, ["n", 4]),
    ]
    model = open_model(_save(tmp_path, nodes, ins, outs))
    (row,) = deployment_matrix(model, [CPU, NNAPI]).to_dict()["ops"]
    assert row["count"] == 2 and row["support"] == {CPU: "yes", NNAPI: "fallback"}
    assert row["notes"][NNAPI].startswith("the nodes differ (1 fallback, 1 yes)")
    assert "dynamic shape" in row["notes"][NNAPI]


def test_types_as_the_checks_see_them(tmp_path):
    """Inferred types (the Cast's output) and omitted optional inputs ("-") are in the row key;
    the same op with other types is another row."""
    nodes = [
        helper.make_node("Cast", ["x"], ["h"], to=TensorProto.FLOAT16),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Cast", ["r"], ["f"], to=F),
        helper.make_node("Relu", ["f"], ["c"]),
        helper.make_node("Clip", ["c", "", "hi"], ["y"]),
    ]
    ins = [
        helper.make_tensor_value_info("x", F, [1, 4]),
        helper.make_tensor_value_info("hi", F, []),
    ]
    model = open_model(
        _save(tmp_path, nodes, ins, [helper.make_tensor_value_info("y", F, [1, 4])]), infer=False
    )
    keys = [(r.op_type, r.types, r.count) for r in deployment_matrix(model, [CPU]).rows]
    assert keys == [
        ("Cast", "tensor(float) -> tensor(float16)", 1),
        ("Cast", "tensor(float16) -> tensor(float)", 1),
        ("Clip", "tensor(float), -, tensor(float) -> tensor(float)", 1),
        ("Relu", FLOAT_TO_FLOAT, 1),
        ("Relu", "tensor(float16) -> tensor(float16)", 1),
    ]


def test_subgraph_nodes_are_counted(tmp_path):
    then = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["t"])],
        "then",
        [],
        [helper.make_tensor_value_info("t", F, [1, 4])],
    )
    other = helper.make_graph(
        [helper.make_node("Neg", ["x"], ["e"]), helper.make_node("Relu", ["e"], ["e2"])],
        "else",
        [],
        [helper.make_tensor_value_info("e2", F, [1, 4])],
    )
    nodes = [
        helper.make_node("Relu", ["x"], ["r"]),
        helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other),
    ]
    ins = [
        helper.make_tensor_value_info("x", F, [1, 4]),
        helper.make_tensor_value_info("c", TensorProto.BOOL, []),
    ]
    model = open_model(_save(tmp_path, nodes, ins, [helper.make_tensor_value_info("y", F, [1, 4])]))
    counts = {r.op_type: r.count for r in deployment_matrix(model, [CPU, CUDA]).rows}
    assert counts == {"If": 1, "Neg": 1, "Relu": 3}


def test_shipped_model_rows_cover_every_node():
    path = shipped_data_dir() / "light" / "light_resnet50.onnx"
    model = open_model(path)
    rows = deployment_matrix(model).rows
    by_op: Counter[str] = Counter()
    for r in rows:
        by_op[r.op_type] += r.count
        assert set(r.support) == set(PROVIDERS)
        assert all(
            s in ("yes", "restricted", "fallback", "no", "unknown") for s in r.support.values()
        )
        assert set(r.notes) == {p for p, s in r.support.items() if s != "yes"}  # say why
    assert dict(by_op) == model.op_counts()
    sums = next(r for r in rows if r.op_type == "Sum")
    assert sums.support[NNAPI] == "fallback"  # the usability checker's "Sum unsupported"
    assert all(r.support[CPU] == "yes" for r in rows)


def _csv_rows(text: str) -> dict:
    """The CSV read back into the JSON form of the matrix."""
    reader = csv.DictReader(io.StringIO(text))
    providers = [c for c in reader.fieldnames[5:] if not c.endswith(" notes")]
    ops = []
    for line in reader:
        ops.append(
            {
                "domain": line["domain"],
                "op_type": line["op_type"],
                "since_version": int(line["since_version"]) if line["since_version"] else None,
                "types": line["types"],
                "count": int(line["count"]),
                "support": {p: line[p] for p in providers},
                "notes": {p: line[f"{p} notes"] for p in providers if line[f"{p} notes"]},
            }
        )
    return {"providers": providers, "ops": ops}


def test_csv_round_trips_to_the_same_rows(tmp_path):
    model = open_model(_chain(tmp_path, ["Relu", "Acos", "Relu", "custom.Foo"]))
    matrix = deployment_matrix(model)
    assert _csv_rows(matrix.to_csv()) == matrix.to_dict()


def test_cli_json_and_csv(tmp_path, capsys):
    path = _chain(tmp_path, ["Relu", "Acos", "Relu", "custom.Foo"])
    expected = deployment_matrix(open_model(path)).to_dict()
    assert cli_main(["check", str(path), "--matrix", "--json"]) == 0  # exit 0 despite the "no"
    assert json.loads(capsys.readouterr().out) == expected
    assert cli_main(["check", str(path), "--matrix", "--csv"]) == 0
    assert _csv_rows(capsys.readouterr().out) == expected
    assert cli_main(["check", str(path), "--matrix", "--provider", CUDA, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["providers"] == [CUDA]
    assert cli_main(["check", str(path), "--matrix"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:6] == ["op", "since", "types", "count", "CPU", "CUDA"]
    assert lines[1].split()[0] == "Acos" and len(lines) == 4


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--csv"], "add --matrix"),
        (["--matrix", "--csv", "--json"], "give one of them"),
        (["--matrix", "--provider", "FooExecutionProvider"], "no support data for Foo"),
        (["--matrix", "--opset", "13"], "drop --opset"),
    ],
)
def test_cli_usage_errors(tmp_path, capsys, args, message):
    path = _chain(tmp_path, ["Relu"])
    assert cli_main(["check", str(path), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_ten_thousand_nodes_under_a_second_once_verdicts_are_cached(tmp_path):
    """The verdicts are computed once per model (tables.py's cache); the matrix over them takes
    under a second of this process's CPU time for 10k nodes (CPU time: the machine is shared)."""
    ops = ["Relu", "Sigmoid", "Tanh", "Abs", "Neg", "Exp", "Acos", "LpNormalization"]
    model = open_model(_chain(tmp_path, [ops[i % len(ops)] for i in range(10_000)]))
    first = deployment_matrix(model)
    start = time.process_time()
    again = deployment_matrix(model)
    took = time.process_time() - start
    assert again.to_dict() == first.to_dict()
    assert sum(r.count for r in again.rows) == 10_000 and len(again.rows) == len(ops)
    assert took < 1.0, f"{took:.2f} s"
