"""The export fixes' table (finding → fix → changed config), the before/after comparison, and the
CLI flags that apply the child-side casts. The table needs no torch; the CLI test runs one real
export in a child process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from inspector.__main__ import main
from inspector.core.export.adjust import (
    FIXES,
    NOT_RUN,
    CheckChange,
    compare_checklists,
    fixes_for,
    offered_fixes,
)
from inspector.core.export.config import DynamicDim, ExportConfig
from inspector.core.export.explain import CODES
from inspector.core.export.runner import export_model
from inspector.core.export.validate import write_script
from inspector.core.findings import Finding, Severity
from tests.model_zoo import torch_available

FIXABLE = Path(__file__).resolve().parent.parent / "export_cases" / "fixable.py"


def config(**changes) -> ExportConfig:
    return ExportConfig(source="net.py", output="net.onnx", factory="make", **changes)


def error(code: str, message: str = "", tensor: str | None = None) -> Finding:
    return Finding(Severity.ERROR, code, message, tensor=tensor)


def labels(f: Finding, cfg: ExportConfig, names=("x",), opset=None) -> list[str]:
    return [x.label for x in fixes_for(f, cfg, list(names), opset)]


def test_every_fixed_code_is_a_known_finding_code() -> None:
    # the export's codes (explain.CODES) and the static check that names a fixed batch
    assert set(FIXES) <= set(CODES) | {"fixed-batch-dim"}


def test_exporter_switch_keeps_what_the_other_exporter_can_write() -> None:
    cfg = config(opset=17)
    (fix,) = fixes_for(error("unsupported-aten-op"), config(), ["x"])
    assert (fix.label, fix.config.exporter) == (
        "Retry with the TorchScript exporter",
        "torchscript",
    )
    assert fix.cli == "--exporter torchscript"
    ts = config(exporter="torchscript", opset=17)
    (fix,) = fixes_for(error("unsupported-aten-op"), ts, ["x"])
    # dynamo writes 18 and newer: the retry takes the exporter's default
    assert (fix.config.exporter, fix.config.opset) == ("dynamo", None)
    assert fix.cli == "--exporter dynamo without --opset"
    assert cfg.opset == 17  # the original config is never changed
    # torch.export refuses a ScriptModule: no switch to dynamo for a TorchScript file
    scripted = config(exporter="torchscript", source_kind="torchscript")
    assert labels(error("export-failed"), scripted) == []


def test_opset_retries() -> None:
    # an op the TorchScript exporter has only at newer opsets
    ts10 = config(exporter="torchscript", opset=10)
    assert labels(error("export-failed"), ts10) == [
        "Retry with the dynamo exporter",
        "Retry with opset 17",
    ]
    # at the exporter's default opset, a newer one is no fix
    assert labels(error("unsupported-aten-op"), config()) == ["Retry with the TorchScript exporter"]
    # a file at another opset than asked: ask for the file's
    (fix,) = fixes_for(error("opset-not-honored"), config(opset=17), ["x"], 18)
    assert (fix.label, fix.config.opset) == ("Retry with opset 18", 18)
    assert labels(error("opset-unsupported"), config(exporter="torchscript", opset=25)) == [
        "Retry with opset 17",
        "Retry with the dynamo exporter",
    ]


def test_casts_are_offered_once_and_not_when_already_on() -> None:
    (fix,) = fixes_for(error("float64-input"), config(), ["x"])
    assert fix.config.cast_float64 and fix.label == "Cast float64 inputs to float32 and retry"
    assert labels(error("float64-input"), config(cast_float64=True)) == []
    (fix,) = fixes_for(error("fp16-on-cpu"), config(), ["x"])
    assert fix.config.float32_io
    assert labels(error("fp16-on-cpu"), config(float32_io=True)) == []
    # two fp16-on-cpu findings (an input, the weights): one button, beside the first
    findings = [error("fp16-on-cpu", "input 'x' is float16"), error("fp16-on-cpu", "weights")]
    offered = offered_fixes(findings, config(), ["x"], None)
    assert [[x.key for x in per] for per in offered] == [["float32-io"], []]


def test_dims_declared_dynamic_or_static() -> None:
    batch = Finding(Severity.INFO, "fixed-batch-dim", "fixed batch of 2", tensor="y")
    (fix,) = fixes_for(batch, config(), ["x", "y"])
    assert fix.label == "Declare batch dynamic on 'y'"
    assert fix.config.dynamic == [DynamicDim("y", 0, "batch")]
    assert labels(batch, config(dynamic_batch=True), ["x", "y"]) == []  # already dynamic

    # dynamic_batch is spelled out: only the specialized dim becomes static
    specialized = error("dynamic-dim-specialized", "dim 0 of 'x' ('batch') was marked", "x")
    (fix,) = fixes_for(specialized, config(dynamic_batch=True), ["x", "y"])
    assert fix.label == "Make dim 0 of 'x' static"
    assert (fix.config.dynamic, fix.config.dynamic_batch) == ([DynamicDim("y", 0, "batch")], False)
    assert fix.cli == "only --dynamic y:0:batch"
    # no input named: the model failed at another size of some dim; all become static
    anywhere = error("dynamic-dim-specialized", "the PyTorch model itself fails at batch=3")
    (fix,) = fixes_for(anywhere, config(dynamic=[DynamicDim("x", 1, "seq")]), ["x"])
    assert fix.label == "Make the dynamic dims static" and fix.config.dynamic == []
    assert fix.cli == "without --dynamic or --dynamic-batch"


def test_checklists_compare_before_and_after() -> None:
    before = [{"name": "onnx checker", "status": "passed", "detail": ""}]
    before += [{"name": "parity batch=3", "status": "failed", "detail": "PyTorch: size"}]
    after = [{"name": "ONNX Runtime session", "status": "passed", "detail": ""}]
    after += [{"name": "onnx checker", "status": "passed", "detail": ""}]
    assert compare_checklists(before, after) == [
        CheckChange("ONNX Runtime session", NOT_RUN, "passed", ""),
        CheckChange("onnx checker", "passed", "passed", ""),
        CheckChange("parity batch=3", "failed", NOT_RUN, "PyTorch: size"),
    ]
    assert compare_checklists([], []) == []


def test_config_round_trips_the_fix_fields() -> None:
    cfg = config(cast_float64=True, float32_io=True)
    assert ExportConfig.from_json(cfg.to_json()) == cfg


@pytest.mark.skipif(not torch_available(), reason="torch is not installed")
def test_cli_cast_float64_makes_a_float64_cnn_run(tmp_path, capsys) -> None:
    out = tmp_path / "cnn.onnx"
    argv = ["export", str(FIXABLE), "--factory", "float64_cnn", "--out", str(out)]
    assert main(argv) == 1  # ONNX Runtime's CPU has no float64 Conv
    said = capsys.readouterr().out
    assert "float64-input" in said and "    retry: --cast-float64" in said  # the wizard's fix
    assert main([*argv, "--force", "--json", "--cast-float64"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] and all(c["status"] == "passed" for c in data["checklist"])
    assert "float64-input" not in {f["code"] for f in data["findings"]}
    proto = onnx.load(str(out))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


@pytest.mark.slow
@pytest.mark.skipif(not torch_available(), reason="torch is not installed")
@pytest.mark.parametrize(
    ("factory", "option"), [("float64_cnn", "cast_float64"), ("half_weights", "float32_io")]
)
def test_saved_script_applies_the_casts_of_the_export(tmp_path, factory, option) -> None:
    # Without the cast the script exported another model, which ONNX Runtime refuses: a float64
    # Conv its CPU has no kernel for, or a Gemm fed float32 inputs and float16 weights.
    cfg = ExportConfig(
        str(FIXABLE), str(tmp_path / "wizard.onnx"), factory=factory, **{option: True}
    )
    result = export_model(cfg, timeout=300)
    assert result.ok and not result.has_errors, result.finding_dicts()
    # every parity check against PyTorch ran and passed
    parity = [c["status"] for c in result.checklist if c["name"].startswith("parity")]
    assert parity and set(parity) == {"passed"}, result.checklist
    again = ExportConfig.from_dict({**cfg.to_dict(), "output": str(tmp_path / "script.onnx")})
    script = write_script(again, tmp_path / "export_again.py", result.input_names)
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, check=False
    )
    assert run.returncode == 0, run.stderr[-3000:]
    # the same file as the export's, which matched PyTorch in its parity checks
    first = ort.InferenceSession(result.onnx, providers=["CPUExecutionProvider"])
    second = ort.InferenceSession(again.output, providers=["CPUExecutionProvider"])
    assert [i.type for i in second.get_inputs()] == ["tensor(float)"]
    assert [o.type for o in second.get_outputs()] == [o.type for o in first.get_outputs()]
    shape = [2, 3, 8, 8] if factory == "float64_cnn" else [2, 8]
    feed = {first.get_inputs()[0].name: np.random.default_rng(0).standard_normal(shape, np.float32)}
    np.testing.assert_allclose(first.run(None, feed)[0], second.run(None, feed)[0], rtol=1e-6)
    assert "[inspector] " in run.stdout  # the cast said what it did, as in the export's log
