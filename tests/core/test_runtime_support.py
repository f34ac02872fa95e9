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
from inspector.core.checks.runtime_retarget import retarget_preview
from inspector.core.checks.runtime_support import check
from inspector.core.graph import Model, open_model
from inspector.core.rewrites.retarget import save_retargeted
from tests.bad_models import make_bad_files, small_model
from tests.core import runtime_corpus, runtime_truth
from tests.core.runtime_corpus import (
    cast_model,
    if_model,
    local_function_model,
    mixed_attention_model,
    node_testcase,
    rnn_model,
)
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


def test_retarget_preview_names_every_op_the_converter_refuses_once(tmp_path):
    """The converter stops at the first op it cannot convert; the preview finds each refused op
    type, one finding each with its count, not one row per node (or only the first op)."""
    nodes = [
        onnx.helper.make_node("Relu", ["x"], ["a"], name="r1"),
        onnx.helper.make_node("Relu", ["a"], ["b"], name="r2"),
        onnx.helper.make_node("Relu", ["b"], ["c"], name="r3"),
        onnx.helper.make_node("Shape", ["c"], ["s"], name="shape"),
    ]
    graph = onnx.helper.make_graph(
        nodes,
        "g",
        [onnx.helper.make_tensor_value_info("x", F, [2, 3])],
        [onnx.helper.make_tensor_value_info("s", onnx.TensorProto.INT64, [2])],
    )
    path = tmp_path / "relus.onnx"
    onnx.save(onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 15)]), path)
    failed = retarget_preview(open_model(path), RuntimeTarget(opset=9))
    assert failed.converted is None
    found = {(f.op_type, f.node) for f in failed.findings if f.code == "retarget-failed"}
    assert found == {("Relu", "r1"), ("Shape", "shape")}
    (relu,) = [f for f in failed.findings if f.op_type == "Relu"]
    assert "3 Relu nodes" in relu.message


def _session_error(proto: onnx.ModelProto) -> str:
    """What a real CPU session says about ``proto`` ("" when it is created)."""
    import onnxruntime

    try:
        onnxruntime.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as e:
        return str(e)
    return ""


def test_mixed_type_function_body_fails_on_the_calling_node(tmp_path):
    """float16 Q and K with a float V: no kernel, so the body is inlined and its MatMul meets
    float16 and float (onnxruntime: FAIL "bound to different types")."""
    proto = mixed_attention_model()
    assert "bound to different types" in _session_error(proto)
    (f,) = _errors(_open(tmp_path, proto))
    assert (f.code, f.node, f.op_type) == ("function-body-invalid", "the_node", "Attention")
    assert "MatMul" in f.message and "float16" in f.message and "float" in f.message


def test_bfloat16_function_body_with_an_omitted_input_fails_deeper(tmp_path):
    """A body built with an optional input left out (empty type, as onnxruntime passes it)."""
    proto = node_testcase("test_attention_4d_causal_padded_kv_bf16")
    assert "NOT_IMPLEMENTED" in _session_error(proto)
    (f,) = _errors(_open(tmp_path, proto))
    assert f.code == "unsupported-type" and "function body fails" in f.message


@pytest.mark.parametrize(
    ("proto", "refused"),
    [
        (rnn_model("LSTM", 1), "layout"),
        (rnn_model("GRU", 0), None),
        (cast_model(TensorProto.INT8, 0), "saturate"),
        (cast_model(TensorProto.FLOAT8E4M3FN, 0), None),
    ],
    ids=["lstm-layout1", "gru-layout0", "cast-saturate-int8", "cast-saturate-f8"],
)
def test_kernel_constructor_refusals(tmp_path, proto, refused):
    error = _session_error(proto)
    assert ("Exception during initialization" in error) == bool(refused), error
    found = _errors(_open(tmp_path, proto))
    if refused is None:
        assert found == []
        return
    (f,) = found
    assert (f.code, f.node) == ("kernel-refused", "the_node")
    assert refused in f.message and "onnxruntime/core/providers/cpu/" in f.message and f.hint


def test_string_normalizer_needs_its_locale_installed(tmp_path):
    def model(locale: str) -> onnx.ModelProto:
        node = onnx.helper.make_node(
            "StringNormalizer",
            ["x"],
            ["y"],
            name="the_node",
            case_change_action="LOWER",
            locale=locale,
        )
        g = onnx.helper.make_graph(
            [node],
            "g",
            [onnx.helper.make_tensor_value_info("x", TensorProto.STRING, [2])],
            [onnx.helper.make_tensor_value_info("y", TensorProto.STRING, None)],
        )
        return onnx.helper.make_model(g, opset_imports=[onnx.helper.make_opsetid("", 21)])

    assert _session_error(model("C")) == ""
    assert _errors(_open(tmp_path, model("C"))) == []
    missing = model("xx_NOWHERE.UTF-8")
    assert "Failed to construct locale" in _session_error(missing)
    (f,) = check(_open(tmp_path, missing, "missing.onnx"), RuntimeTarget())
    if sys.platform.startswith("linux"):
        assert (f.severity.value, f.code) == ("error", "kernel-refused")
    else:  # the C library cannot be asked: said, not guessed
        assert (f.severity.value, f.code) == ("warning", "runtime-unverified")
    assert "xx_NOWHERE.UTF-8" in f.message and "locale" in f.hint


@pytest.mark.parametrize(
    ("op", "elem", "attrs", "needle"),
    [
        ("Inverse", BF, {}, "bfloat16"),
        ("BiasSoftmax", F, {}, "is_inner_broadcast"),
    ],
)
def test_contrib_schema_refusals(tmp_path, op, elem, attrs, needle):
    proto = _single(op, 2 if op == "BiasSoftmax" else 1, elem, domain="com.microsoft", **attrs)
    assert _session_error(proto)
    (f,) = _errors(_open(tmp_path, proto))
    assert (f.code, f.node) == ("schema-refused", "the_node") and needle in f.message


def test_contrib_function_bodies_the_bindings_do_not_expose(tmp_path):
    """FastGelu in double has no kernel, and runs by the body onnxruntime defines in C++;
    Gelu's body in double needs Erf, which has no double kernel."""
    fast = _single("FastGelu", 1, TensorProto.DOUBLE, domain="com.microsoft")
    assert _session_error(fast) == ""
    (f,) = check(_open(tmp_path, fast), RuntimeTarget())
    assert (f.severity.value, f.code) == ("info", "runtime-fallback")
    assert "bert_defs.cc" in f.message
    gelu = _single("Gelu", 1, TensorProto.DOUBLE, domain="com.microsoft")
    assert "Erf" in _session_error(gelu)
    (f,) = _errors(_open(tmp_path, gelu, "gelu.onnx"))
    assert "Erf" in f.message and f.node == "the_node"


def test_identity_without_kernel_removed_by_graph_optimization(tmp_path):
    """An Identity on int4 (no CPU kernel) between a graph input and another node is removed by
    the Identity elimination before kernels are looked up: no error, an info says why."""
    like = onnx.helper.make_tensor_value_info("like_raw", TensorProto.INT4, [2])
    x = onnx.helper.make_tensor_value_info("x", F, [2])
    nodes = [
        onnx.helper.make_node("Identity", ["like_raw"], ["like"], name="pre"),
        onnx.helper.make_node("CastLike", ["x", "like"], ["y"], name="cast"),
    ]
    y = onnx.helper.make_tensor_value_info("y", TensorProto.INT4, [2])
    proto = onnx.helper.make_model(
        onnx.helper.make_graph(nodes, "g", [x, like], [y]),
        opset_imports=[onnx.helper.make_opsetid("", 25)],
    )
    assert _session_error(proto) == ""
    found = check(_open(tmp_path, proto), RuntimeTarget())
    assert not [f for f in found if f.severity.value == "error"]
    assert any(f.node == "pre" and "removes the Identity" in f.message for f in found)


def test_unknown_type_is_said_not_guessed(tmp_path):
    """Relu after an op of an unknown domain: its input type is unknown, and the CPU kernels do
    not take every type the schema allows, so the check says it cannot tell."""
    nodes = [
        onnx.helper.make_node("Thing", ["x"], ["t"], name="custom", domain="example.custom"),
        onnx.helper.make_node("Relu", ["t"], ["y"], name="relu"),
    ]
    g = onnx.helper.make_graph(
        nodes,
        "g",
        [onnx.helper.make_tensor_value_info("x", F, [2])],
        [onnx.helper.make_tensor_value_info("y", F, [2])],
    )
    proto = onnx.helper.make_model(
        g,
        opset_imports=[
            onnx.helper.make_opsetid("", 21),
            onnx.helper.make_opsetid("example.custom", 1),
        ],
    )
    by_node = {f.node: f for f in check(_open(tmp_path, proto), RuntimeTarget())}
    assert by_node["custom"].code == "unsupported-op"
    assert (by_node["relu"].severity.value, by_node["relu"].code) == (
        "warning",
        "runtime-unverified",
    )
    assert "run `run`" in by_node["relu"].hint


def test_sampled_truth():
    """150 corpus models (the hand-built ones included) against real sessions in children."""
    cases = runtime_corpus.sample(runtime_corpus.build_corpus(), 150)
    labels = runtime_truth.label_cases(cases)
    s = runtime_truth.score(cases, labels)
    print(s.text())
    assert s.precision >= 0.99 and s.recall >= 0.99 and s.naming >= 0.99, s.misses


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
