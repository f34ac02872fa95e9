"""The command line contract: `info --json` agrees with the protobuf; exit codes; no tracebacks."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import onnx
import pytest

from tests.bad_models import make_bad_files, small_model
from tests.model_zoo import shipped_models


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inspector", *args], capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    return make_bad_files(tmp_path_factory.mktemp("bad"))


def test_info_json_agrees_with_protobuf():
    path = next(p for p in shipped_models() if p.name == "light_resnet50.onnx")
    r = run_cli("info", str(path), "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    proto = onnx.load(path)
    for key in (
        "ir_version",
        "opset_imports",
        "producer",
        "inputs",
        "outputs",
        "node_count",
        "op_counts",
        "initializer_bytes",
        "functions",
        "subgraphs",
    ):
        assert key in data
    assert data["ir_version"] == proto.ir_version
    assert data["node_count"] == len(proto.graph.node)
    assert data["outputs"][0] == {
        "name": proto.graph.output[0].name,
        "dtype": "float32",
        "shape": [1, 1000],
    }


def test_info_human_output(tmp_path):
    path = tmp_path / "small.onnx"
    onnx.save(small_model(), path)
    r = run_cli("info", str(path))
    assert r.returncode == 0
    assert "x  float32[batch,3]" in r.stdout
    assert "MatMul" in r.stdout


@pytest.mark.parametrize(
    "kind", ["empty", "truncated", "not_onnx_text", "external_missing", "external_outside"]
)
def test_bad_input_exit_2_one_line(bad_files, kind):
    path = bad_files[kind]
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    for cmd in (["info", str(path), "--json"], ["render", str(path), "-o", str(path) + ".png"]):
        r = run_cli(*cmd)
        assert r.returncode == 2
        assert r.stdout == ""
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert "Traceback" not in r.stderr
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_wrong_arguments_exit_2(tmp_path):
    for args in (
        ["info"],
        ["render", "x.onnx"],
        ["info", "--bogus", "x.onnx"],
        ["render", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "out.jpg")],
    ):
        r = run_cli(*args)
        assert r.returncode == 2, args
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_bad_option_values_and_a_mistyped_command_exit_2_one_line(tmp_path):
    """Each is the user's mistake, said in one line: never "internal error", never the window
    opened on a mistyped command."""
    model = tmp_path / "m.onnx"
    onnx.save(small_model(), model)
    for args, says in (
        (["run", str(model), "--seed", "-1"], "a seed is 0 or more"),
        (["check", str(model), "--runtime-version", "abc"], "not an ONNX Runtime release"),
        (["chek", str(model)], "unknown command 'chek' (did you mean check?)"),
    ):
        r = run_cli(*args)
        assert r.returncode == 2, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and says in r.stderr, r.stderr


def test_a_whole_model_without_ir_version_or_opsets_is_not_called_truncated(tmp_path):
    """ir_version is written first and the opset imports last: a model with its graph and
    opsets but ir_version 0 was not cut short, and the message says what is missing."""
    no_ir = small_model()
    no_ir.ir_version = 0
    no_opset = small_model()
    del no_opset.opset_import[:]
    for proto, says in ((no_ir, "declares no IR version"), (no_opset, "imports no opset")):
        path = tmp_path / "m.onnx"
        path.write_bytes(proto.SerializeToString())
        r = run_cli("info", str(path))
        assert r.returncode == 2 and says in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr


@pytest.mark.parametrize("kind", ["sequence", "huge"])
def test_run_says_which_input_it_cannot_draw(tmp_path, kind):
    """A sequence input, or one too big to fill with random values: a usage error naming the
    input, not the Inspector's internal error."""
    from onnx import TensorProto, helper

    if kind == "sequence":
        x = helper.make_tensor_sequence_value_info("S", TensorProto.FLOAT, None)
        node = helper.make_node("SequenceLength", ["S"], ["y"])
        y = helper.make_tensor_value_info("y", TensorProto.INT64, [])
    else:
        x = helper.make_tensor_value_info("S", TensorProto.FLOAT, [2**40, 2**40])
        node = helper.make_node("Relu", ["S"], ["y"])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2**40, 2**40])
    path = tmp_path / f"{kind}.onnx"
    onnx.save(helper.make_model(helper.make_graph([node], "g", [x], [y])), path)
    r = run_cli("run", str(path))
    assert r.returncode == 2, r.stderr
    assert "input 'S'" in r.stderr and "internal error" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_render_writes_png_and_svg(tmp_path):
    path = tmp_path / "small.onnx"
    onnx.save(small_model(), path)
    png = tmp_path / "g.png"
    r = run_cli("render", str(path), "-o", str(png), "--width", "800")
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "g.svg"
    assert run_cli("render", str(path), "-o", str(svg)).returncode == 0
    assert "<svg" in svg.read_text()


def test_render_refuses_to_overwrite_the_model(tmp_path):
    path = tmp_path / "model.png"  # a model file that happens to end in .png
    onnx.save(small_model(), path)
    before = path.read_bytes()
    r = run_cli("render", str(path), "-o", str(path))
    assert r.returncode == 2
    assert path.read_bytes() == before


def test_check_save_converted_writes_a_new_file_only(tmp_path):
    path = tmp_path / "small.onnx"
    onnx.save(small_model(), path)
    before = path.read_bytes()
    out = tmp_path / "small_op18.onnx"
    r = run_cli("check", str(path), "--opset", "18", "--save-converted", str(out), "--json")
    assert r.returncode == 0, r.stderr
    assert [o.version for o in onnx.load(out).opset_import if o.domain in ("", "ai.onnx")] == [18]
    assert path.read_bytes() == before
    # onnx has no adapter to take Add from opset 14 down to 13: one clear line, nothing written
    down = tmp_path / "small_op13.onnx"
    r = run_cli("check", str(path), "--opset", "13", "--save-converted", str(down))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert not down.exists()
    r = run_cli("check", str(path), "--opset", "18", "--save-converted", str(path))
    assert r.returncode == 2 and "overwrite" in r.stderr
    assert path.read_bytes() == before
    r = run_cli("check", str(path), "--save-converted", str(out))
    assert r.returncode == 2 and "--opset" in r.stderr


def test_check_save_dynamic(tmp_path):
    from onnx import TensorProto, helper

    g = helper.make_graph(
        [helper.make_node("Relu", ["a"], ["y"], name="relu")],
        "g",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [8, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 3])],
    )
    path = tmp_path / "fixed.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    before = path.read_bytes()
    r = run_cli("check", str(path), "--json")
    assert "fixed-batch-dim" in [f["code"] for f in json.loads(r.stdout)["findings"]]
    out = tmp_path / "dynamic.onnx"
    r = run_cli("check", str(path), "--save-dynamic", str(out), "--json")
    assert r.returncode == 0, r.stderr
    dims = onnx.load(out).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 3
    assert path.read_bytes() == before
    assert run_cli("check", str(path), "--save-dynamic", str(path)).returncode == 2
    assert path.read_bytes() == before
