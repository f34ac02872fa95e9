"""`check --runtime-version`: models exported at opsets 17-22 and IR 8-11, judged as an older
ONNX Runtime release would, against ONNX Runtime's published compatibility table (the shipped
tables' ``compatibility`` rows, read by the generator from the onnxruntime docs) and, for the
installed release, against the installed runtime itself."""

from __future__ import annotations

import json
from collections import Counter

import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from inspector.cli import main as cli_main
from inspector.core.providers import releases
from inspector.core.providers.tables import CPU, data, doc_registry, installed_release

OPSETS = range(17, 23)
IRS = range(8, 12)


def _model(tmp_path, opset: int, ir: int):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r")], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir
    path = tmp_path / f"relu_opset{opset}_ir{ir}.onnx"
    onnx.save(model, path)
    return path


def _judged(capsys, path, release: str) -> dict:
    code = cli_main(["check", str(path), "--runtime-version", release, "--json"])
    out = json.loads(capsys.readouterr().out)
    report = out["runtime_version"]
    assert code == (0 if report["release"]["loads"] else 1)
    return report


@pytest.mark.parametrize("release", ["1.16", "1.18"])
def test_an_older_release_refuses_exactly_what_its_table_says(capsys, tmp_path, release) -> None:
    row = data()["compatibility"]["rows"][release]
    for opset in OPSETS:
        for ir in IRS:
            report = _judged(capsys, _model(tmp_path, opset, ir), release)
            expected = opset <= row["opset"] and ir <= row["ir"]
            assert report["release"]["loads"] == expected, (opset, ir, report)
            oldest = report["oldest"]["release"]
            assert oldest is not None, "a newer release loads every one of these"
            newest_row = data()["compatibility"]["rows"].get(oldest)
            if newest_row is not None:  # the release named can load it, per the table
                assert opset <= newest_row["opset"] and ir <= newest_row["ir"], (opset, ir, oldest)


def test_the_installed_release_agrees_with_the_installed_runtime(capsys, tmp_path) -> None:
    release = installed_release()
    for opset in OPSETS:
        for ir in IRS:
            path = _model(tmp_path, opset, ir)
            try:
                ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                loads = True
            except Exception:
                loads = False
            report = _judged(capsys, path, release)
            assert report["release"]["loads"] == loads, (opset, ir, report)


def test_the_oldest_release_and_its_reason_are_named(capsys, tmp_path) -> None:
    report = _judged(capsys, _model(tmp_path, 20, 10), "1.16")
    assert report["oldest"]["release"] == "1.18"
    assert report["oldest"]["summary"] == "needs 1.18: IR 10"
    code = cli_main(["check", str(_model(tmp_path, 20, 10)), "--runtime-version", "1.16"])
    assert code == 1
    assert "onnxruntime 1.16 cannot load it; needs 1.18: IR 10" in capsys.readouterr().out


def test_an_unknown_release_is_a_usage_error(capsys, tmp_path) -> None:
    assert cli_main(["check", str(_model(tmp_path, 17, 8)), "--runtime-version", "0.9"]) == 2
    assert "no tables for that release" in capsys.readouterr().err


def test_each_release_is_judged_once_and_the_report_is_unchanged(
    capsys, tmp_path, monkeypatch
) -> None:
    # The checks judge 1.16 for the findings, the report for its verdict, oldest_release on its
    # way to 1.18: one judgement serves all three. Counted by registry, through the real check.
    judged: Counter[int] = Counter()
    real = releases.check_registry

    def counted(model, registry, *rest):
        judged[id(registry)] += 1
        return real(model, registry, *rest)

    monkeypatch.setattr(releases, "check_registry", counted)
    path = _model(tmp_path, 20, 10)
    assert cli_main(["check", str(path), "--runtime-version", "1.16", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert judged[id(doc_registry(CPU, "1.16"))] == 1
    assert set(judged.values()) == {1}
    assert len(judged) == releases.known_releases().index("1.18") + 1  # 1.14 to 1.18

    ir = "IR version 10 is newer than onnxruntime 1.16.3 reads (up to IR 9)"
    opset = "the model imports ai.onnx opset 20; onnxruntime 1.16.3 knows up to 19"
    assert [(f["severity"], f["code"], f["node"], f["message"]) for f in report["findings"]] == [
        ("error", "unsupported-ir", "", ir),
        ("error", "unsupported-opset", "", opset),
        (
            "info",
            "fixed-batch-dim",
            "r",
            "input 'x' [1,4] has a fixed batch size of 1: its dim 0 behaves as a batch "
            "(it reaches dim 0 of 'y')",
        ),
    ]
    assert report["placement"] == {
        "order": ["CPUExecutionProvider"],
        "nodes": {"CPUExecutionProvider": 1},
        "partitions": {},
        "copies": 0,
        "graph": "as saved",
    }
    version = report["runtime_version"]
    assert version["oldest"] == {
        "release": "1.18",
        "reasons": ["IR 10"],
        "summary": "needs 1.18: IR 10",
    }
    judged_release = version["release"]
    assert (judged_release["release"], judged_release["ir"], judged_release["loads"]) == (
        "1.16",
        9,
        False,
    )
    assert judged_release["opset"][""] == 19
    assert judged_release["findings"] == report["findings"][:2]
