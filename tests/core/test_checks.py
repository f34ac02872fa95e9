"""run_checks: one list from every family; a family that breaks costs only its own findings."""

from __future__ import annotations

import onnx
from onnx import TensorProto, helper

from inspector.core.checks import edges, run_checks
from inspector.core.findings import Severity
from inspector.core.graph import open_model


def unknown_op_model(tmp_path):
    g = helper.make_graph(
        [helper.make_node("Frobnicate", ["x"], ["y"], name="frob", domain="com.example")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
    )
    m = helper.make_model(
        g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)]
    )
    path = tmp_path / "m.onnx"
    onnx.save(m, path)
    return open_model(path)


def test_a_broken_family_does_not_hide_the_others(tmp_path, monkeypatch):
    model = unknown_op_model(tmp_path)
    codes = [f.code for f in run_checks(model)]
    assert "unsupported-op" in codes

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(edges, "check", broken)
    findings = run_checks(model)
    assert "unsupported-op" in [f.code for f in findings]
    failed = [f for f in findings if f.code == "check-failed"]
    assert len(failed) == 1 and failed[0].severity is Severity.WARNING
    assert "edges" in failed[0].message and "boom" in failed[0].message


def test_findings_are_sorted_errors_first(tmp_path):
    findings = run_checks(unknown_op_model(tmp_path))
    ranks = [Severity(f.severity).rank for f in findings]
    assert ranks == sorted(ranks)


def test_the_child_process_gives_the_same_findings(tmp_path):
    from inspector.core.checks import RuntimeTarget
    from inspector.core.checks.child import run_checks_in_child

    model = unknown_op_model(tmp_path)
    assert run_checks_in_child(model.path, RuntimeTarget()) == run_checks(model)
    stopped = run_checks_in_child(model.path, RuntimeTarget(), timeout=0.01)
    assert [f.code for f in stopped] == ["check-failed"] and "stopped" in stopped[0].message
    bad = tmp_path / "empty.onnx"
    bad.write_bytes(b"")
    unreadable = run_checks_in_child(bad, RuntimeTarget())
    assert [f.code for f in unreadable] == ["check-failed"] and "empty" in unreadable[0].message
