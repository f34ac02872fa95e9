"""The runtime-support check: known answers on hand-built models, a sampled truth comparison
against real ONNX Runtime sessions, the retarget preview, and the ``check`` CLI contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto

from inspector.core.checks import RuntimeTarget, run_checks
from inspector.core.checks.runtime_retarget import retarget_preview, save_retargeted
from inspector.core.checks.runtime_support import check
from inspector.core.graph import Model, open_model
from tests.bad_models import make_bad_files, small_model
from tests.core import runtime_corpus, runtime_truth
from tests.core.runtime_corpus import if_model, local_function_model
from tests.core.runtime_corpus import single as _single

F, BF = TensorProto.FLOAT, TensorProto.BFLOAT16


def _open(tmp_path: Path, proto: onnx.ModelProto, name: str = "m.onnx") -> Model:
    path = tmp_path / name
    onnx.save(proto, path)
    return open_model(path)


def _errors(model: Model, target: RuntimeTarget | None = None) -> list:
    return [f for f in check(model, target or RuntimeTarget()) if f.severity.value == "error"]


def test_unknown_op(tmp_path):
    (f,) = _errors(_open(tmp_path, _single("NoSuchOp", 1, F)))
    assert (f.code, f.node, f.node_index, f.op_type) == (
        "unsupported-op",
        "the_node",
        0,
        "NoSuchOp",
    )


def test_bfloat16_add_has_no_cpu_kernel(tmp_path):
    (f,) = _errors(_open(tmp_path, _single("Add", 2, BF)))
    assert f.code == "unsupported-type" and f.tensor == "x0"
    assert "bfloat16" in f.message and "float" in f.message and "Cast(to=FLOAT)" in f.hint


def test_opset_too_new(tmp_path):
    newest = onnx.defs.onnx_opset_version()
    (f,) = _errors(_open(tmp_path, _single("Relu", 1, F, opset=newest + 1)))
    assert f.code == "unsupported-opset" and f.node_index is None


def test_opset_too_old_names_versions(tmp_path):
    (f,) = _errors(_open(tmp_path, _single("Add", 2, F, opset=6)))
    assert f.code == "unsupported-opset" and "7-12" in f.message and "opset 7" in f.message


def test_ir_too_new(tmp_path):
    m = _single("Relu", 1, F)
    m.ir_version = onnx.IR_VERSION + 1
    (f,) = _errors(_open(tmp_path, m))
    assert f.code == "unsupported-ir" and f.node_index is None


def test_node_inside_if_branch_carries_path(tmp_path):
    (f,) = _errors(_open(tmp_path, if_model(BF)))
    assert (f.node, f.node_index, f.path) == ("branch_add", 0, ("the_if", "then_branch"))
    assert f.to_dict()["path"] == ["the_if", "then_branch"]
    assert _errors(_open(tmp_path, if_model(F), "f.onnx")) == []


def test_node_inside_model_local_function(tmp_path):
    found = _errors(_open(tmp_path, local_function_model(BF)))
    assert [(f.node, f.path) for f in found] == [
        ("fn_add1", ("function", "custom:AddTwice")),
        ("fn_add2", ("function", "custom:AddTwice")),
    ]
    assert _errors(_open(tmp_path, local_function_model(F), "f.onnx")) == []


def test_several_unsupported_nodes_named_at_once(tmp_path):
    nodes = [
        onnx.helper.make_node("Add", ["x", "x"], ["a"], name="add_bf16"),
        onnx.helper.make_node("NoSuchOp", ["a"], ["b"], name="mystery"),
        onnx.helper.make_node("Relu", ["b"], ["y"], name="relu_bf16"),
    ]
    g = onnx.helper.make_graph(
        nodes,
        "g",
        [onnx.helper.make_tensor_value_info("x", BF, [2])],
        [onnx.helper.make_tensor_value_info("y", BF, [2])],
    )
    m = onnx.helper.make_model(g, opset_imports=[onnx.helper.make_opsetid("", 21)])
    found = _errors(_open(tmp_path, m))
    assert {(f.node, f.code) for f in found} >= {
        ("add_bf16", "unsupported-type"),
        ("mystery", "unsupported-op"),
    }


def test_float16_cpu_fallback_is_info(tmp_path):
    (f,) = check(_open(tmp_path, _single("Relu", 1, TensorProto.FLOAT16)), RuntimeTarget())
    assert (f.severity.value, f.code) == ("info", "runtime-fallback")


def test_check_never_creates_a_session(tmp_path, monkeypatch):
    import onnxruntime

    def refuse(*_a, **_k):
        raise AssertionError("the check created an InferenceSession")

    monkeypatch.setattr(onnxruntime, "InferenceSession", refuse)
    assert _errors(_open(tmp_path, _single("Add", 2, BF)))


def test_provider_without_kernels_is_said_plainly(tmp_path):
    (f,) = check(
        _open(tmp_path, _single("Add", 2, BF)), RuntimeTarget(provider="CUDAExecutionProvider")
    )
    assert f.code == "runtime-unchecked" and "CUDAExecutionProvider" in f.message


def test_run_checks_includes_the_family(tmp_path):
    codes = {f.code for f in run_checks(_open(tmp_path, _single("NoSuchOp", 1, F)))}
    assert "unsupported-op" in codes


def test_retarget_preview_and_save_as(tmp_path):
    model = _open(tmp_path, _single("Add", 2, BF))
    after = retarget_preview(model, RuntimeTarget(opset=25))
    assert after.converted is not None and [f.code for f in after.findings] == ["unsupported-type"]
    failed = retarget_preview(model, RuntimeTarget(opset=6))
    assert failed.converted is None and failed.findings[0].code == "retarget-failed"
    assert failed.findings[0].node == "the_node"
    with pytest.raises(ValueError):
        save_retargeted(model, 25, model.path)
    out = save_retargeted(model, 25, tmp_path / "converted.onnx")
    assert onnx.load(out).opset_import[0].version == 25


def test_sampled_truth():
    """150 corpus models (the hand-built ones included) against real sessions in children."""
    cases = runtime_corpus.sample(runtime_corpus.build_corpus(), 150)
    labels = runtime_truth.label_cases(cases)
    s = runtime_truth.score(cases, labels)
    print(s.text())
    assert s.precision >= 0.98 and s.recall >= 0.98 and s.naming >= 0.98, s.misses


# ---------------------------------------------------------------------------------------- CLI


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inspector", "check", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_json_contract_and_exit_1(tmp_path):
    path = tmp_path / "if.onnx"
    onnx.save(if_model(BF), path)
    r = run_cli(str(path), "--json")
    assert r.returncode == 1, r.stderr
    (f,) = [f for f in json.loads(r.stdout)["findings"] if f["code"] == "unsupported-type"]
    assert set(f) >= {
        "severity",
        "code",
        "node",
        "node_index",
        "op_type",
        "tensor",
        "message",
        "hint",
    }
    assert f["path"] == ["the_if", "then_branch"] and f["node_index"] == 0


def test_cli_exit_0_and_table(tmp_path):
    path = tmp_path / "small.onnx"
    onnx.save(small_model(), path)
    r = run_cli(str(path))
    assert r.returncode == 0, r.stderr
    path = tmp_path / "bad.onnx"
    onnx.save(_single("NoSuchOp", 1, F), path)
    r = run_cli(str(path))
    assert r.returncode == 1 and "unsupported-op" in r.stdout and "the_node" in r.stdout


@pytest.mark.parametrize("kind", ["truncated", "not_onnx_text"])
def test_cli_unreadable_model_is_exit_2_one_line(tmp_path, kind):
    path = make_bad_files(tmp_path)[kind]
    r = run_cli(str(path))
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_cli_bad_arguments_exit_2(tmp_path):
    path = tmp_path / "small.onnx"
    onnx.save(small_model(), path)
    for args in (["--runtime", "tensorrt"], ["--opset", "nine"], ["--opset", "3"]):
        r = run_cli(str(path), *args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
