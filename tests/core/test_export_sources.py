"""Export from the other sources: a TorchScript file, a ``torch.export`` ``.pt2`` archive, a
state dict given as weights, and the ``.pt`` pickles that must be refused with an explanation.

One child process (real torch) builds every file once per module, with reference outputs
computed there; the exports then run through :func:`export_model` (and ``python -m inspector
export``), so the test process never imports torch. The exported files are checked against the
references in ONNX Runtime.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from inspector.core.child import child_env
from inspector.core.export import ExportConfig, ExportResult, InputSpec, export_model
from tests.model_zoo import torch_available

pytestmark = pytest.mark.skipif(not torch_available(), reason="torch is not installed")

TIMEOUT_S = 300

# The model's code, as a user would have it: the factory file of the "python" source.
MODEL_PY = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 4))

    def forward(self, x):
        return torch.tanh(self.body(x)) * 2


def make():
    """No example inputs: the tests describe them."""
    return Net()
'''

# Runs in the child with the tmp folder as argv[1]: writes every source file, the inputs and
# the reference outputs (.npy), so the parent needs no torch.
BUILD = """
import sys
import warnings

import numpy as np
import torch

warnings.filterwarnings("ignore")
out = sys.argv[1]
sys.path.insert(0, out)
from srcmodel import Net, make

torch.manual_seed(123)  # not the driver's seed 0: the weights differ from a fresh make()
net = Net().eval()
x2, x5 = torch.randn(2, 16), torch.randn(5, 16)
np.save(f"{out}/x5.npy", x5.numpy())
with torch.no_grad():
    np.save(f"{out}/ref5.npy", net(x5).numpy())
    torch.manual_seed(0)
    np.save(f"{out}/fresh5.npy", make().eval()(x5).numpy())

torch.jit.save(torch.jit.script(net), f"{out}/net_script.pt")
batch = torch.export.Dim("batch", min=1, max=1024)
program = torch.export.export(net, (x2,), dynamic_shapes=({0: batch},))
torch.export.save(program, f"{out}/net.pt2")
torch.save(net.state_dict(), f"{out}/net_state.pt")
torch.save(net, f"{out}/net_full.pt")  # a whole pickled model: must never be loaded
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sources")
    (out / "srcmodel.py").write_text(textwrap.dedent(MODEL_PY), encoding="utf-8")
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="")
    run = subprocess.run(
        [sys.executable, "-c", BUILD, str(out)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=env,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-4000:]
    return out


def _describe(result: ExportResult) -> str:
    return json.dumps(result.to_json(), indent=1)[:3000] + "\n" + result.log[-2000:]


def _export(files: Path, name: str, **kwargs) -> ExportResult:
    cfg = ExportConfig(output=str(files / f"{name}.onnx"), **kwargs)
    return export_model(cfg, timeout=TIMEOUT_S)


def _assert_clean(result: ExportResult) -> None:
    assert result.ok, _describe(result)
    assert not result.has_errors, _describe(result)
    failed = [row for row in result.checklist if row["status"] == "failed"]
    assert failed == [], _describe(result)
    assert any(row["name"] == "parity example inputs" for row in result.checklist)


def _run_onnx(path: str, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in session.get_inputs()]
    (y,) = session.run(None, {name: x})
    return y


def test_torchscript_source_exports_and_matches_the_module(files):
    result = _export(
        files,
        "from_script",
        source=str(files / "net_script.pt"),
        source_kind="torchscript",
        inputs=[InputSpec("x", "float32", [2, 16])],
        dynamic_batch=True,
    )
    _assert_clean(result)
    # torch.export refuses ScriptModules: the driver says it used the TorchScript exporter.
    assert "exporter-switched" in [f.code for f in result.findings]
    # The names come from the scripted forward's schema, so the dynamic dim lands on 'x'.
    assert result.input_names == ["x"]
    rows = {row["name"]: row["status"] for row in result.checklist}
    assert rows["x[0] dynamic"] == "passed" and rows["parity batch=7"] == "passed"
    x5 = np.load(files / "x5.npy")
    np.testing.assert_allclose(_run_onnx(result.onnx, x5), np.load(files / "ref5.npy"), atol=1e-5)


def test_torchscript_source_without_inputs_says_to_describe_them(files):
    result = _export(
        files, "script_no_inputs", source=str(files / "net_script.pt"), source_kind="torchscript"
    )
    assert not result.ok and result.onnx is None
    (f,) = result.findings
    assert f.code == "source-load-failed" and "no example inputs" in f.message
    assert "InputSpec" in f.hint


def test_pt2_source_exports_and_matches_the_program(files):
    # The archive's own example inputs are used (no InputSpec given); its batch dim is dynamic.
    result = _export(
        files,
        "from_pt2",
        source=str(files / "net.pt2"),
        source_kind="exported_program",
        dynamic_batch=True,
    )
    _assert_clean(result)
    assert result.input_names == ["x"]
    rows = {row["name"]: row["status"] for row in result.checklist}
    assert rows["x[0] dynamic"] == "passed" and rows["parity batch=7"] == "passed"
    x5 = np.load(files / "x5.npy")
    np.testing.assert_allclose(_run_onnx(result.onnx, x5), np.load(files / "ref5.npy"), atol=1e-5)


def test_state_dict_weights_are_loaded_into_the_factory_model(files):
    result = _export(
        files,
        "with_weights",
        source=str(files / "srcmodel.py"),
        factory="make",
        weights=str(files / "net_state.pt"),
        inputs=[InputSpec("x", "float32", [2, 16])],
        dynamic_batch=True,
    )
    _assert_clean(result)
    x5 = np.load(files / "x5.npy")
    got = _run_onnx(result.onnx, x5)
    np.testing.assert_allclose(got, np.load(files / "ref5.npy"), atol=1e-5)
    # ... and not the factory's own initialisation (the weights really were loaded).
    assert not np.allclose(got, np.load(files / "fresh5.npy"), atol=1e-3)


def test_full_model_pickle_as_weights_is_refused(files):
    result = _export(
        files,
        "full_weights",
        source=str(files / "srcmodel.py"),
        factory="make",
        weights=str(files / "net_full.pt"),
        inputs=[InputSpec("x", "float32", [2, 16])],
    )
    assert not result.ok and result.onnx is None, _describe(result)
    assert not (files / "full_weights.onnx").exists()
    (f,) = [f for f in result.findings if f.code == "weights-need-code"]
    assert f.severity.value == "error"
    assert "net_full.pt" in f.message and "srcmodel.Net" in f.message  # what the pickle needs
    assert "state_dict()" in f.hint and "weights" in f.hint  # what to do instead


@pytest.mark.parametrize(
    "source, kind, code, says",
    [
        # a whole pickled model as the source: never unpickled
        ("net_full.pt", "python", "weights-need-code", "never loaded"),
        ("net_full.pt", "torchscript", "weights-need-code", "never loaded"),
        # a state dict as the source: it has no code, say to pass it as the weights
        ("net_state.pt", "torchscript", "source-load-failed", "as the weights"),
        ("net_state.pt", "exported_program", "source-load-failed", "as the weights"),
        # a real TorchScript file under the wrong kind: name the right kind
        ("net_script.pt", "exported_program", "source-load-failed", "source kind torchscript"),
        ("net_script.pt", "python", "source-load-failed", "source kind torchscript"),
    ],
)
def test_pt_given_as_the_source_is_refused_with_an_explanation(files, source, kind, code, says):
    result = _export(
        files,
        f"refused_{kind}",
        source=str(files / source),
        source_kind=kind,
        factory="make" if kind == "python" else "",
        inputs=[InputSpec("x", "float32", [2, 16])],
    )
    assert not result.ok and result.onnx is None, _describe(result)
    (f,) = result.findings
    assert f.code == code and says in f.message, _describe(result)
    assert f.hint
    assert "export-crashed" not in result.log


# -- the command line -------------------------------------------------------------------------


def _cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inspector", "export", *argv],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=child_env(CUDA_VISIBLE_DEVICES=""),
        check=False,
    )


def test_cli_exports_a_pt2_archive(files, tmp_path):
    out = tmp_path / "cli.onnx"
    run = _cli(str(files / "net.pt2"), "--out", str(out), "--dynamic-batch", "--json")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    data = json.loads(run.stdout)
    assert data["ok"] and data["onnx"] == str(out.resolve())
    assert not [f for f in data["findings"] if f["severity"] == "error"]
    x5 = np.load(files / "x5.npy")
    np.testing.assert_allclose(_run_onnx(str(out), x5), np.load(files / "ref5.npy"), atol=1e-5)


def test_cli_refuses_a_pt_source_with_exit_2(files, tmp_path):
    run = _cli(str(files / "net_full.pt"), "--out", str(tmp_path / "x.onnx"), "--json")
    assert run.returncode == 2 and run.stdout == ""
    assert "pickle" in run.stderr and "--weights" in run.stderr
    # Named as a Python source: still refused before anything is loaded.
    run = _cli(
        str(files / "net_full.pt"),
        "--source-kind",
        "python",
        "--factory",
        "make",
        "--out",
        str(tmp_path / "x.onnx"),
    )
    assert run.returncode == 2 and "pickle" in run.stderr
    assert not (tmp_path / "x.onnx").exists()


def test_cli_full_pickle_as_weights_exits_1_with_weights_need_code(files, tmp_path):
    run = _cli(
        str(files / "srcmodel.py"),
        "--factory",
        "make",
        "--weights",
        str(files / "net_full.pt"),
        "--out",
        str(tmp_path / "w.onnx"),
        "--json",
    )
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    data = json.loads(run.stdout)
    assert data["ok"] is False and data["onnx"] is None
    (f,) = [f for f in data["findings"] if f["code"] == "weights-need-code"]
    assert f["severity"] == "error" and "state_dict()" in f["hint"]


def test_cli_pickle_named_as_torchscript_exits_1_with_the_reason(files, tmp_path):
    run = _cli(
        str(files / "net_full.pt"),
        "--source-kind",
        "torchscript",
        "--out",
        str(tmp_path / "t.onnx"),
        "--json",
    )
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    (f,) = json.loads(run.stdout)["findings"]
    assert f["code"] == "weights-need-code" and "never loaded" in f["message"]


def test_cli_exports_a_torchscript_file_with_described_inputs(files, tmp_path):
    out = tmp_path / "script.onnx"
    script = tmp_path / "repeat.py"
    run = _cli(
        str(files / "net_script.pt"),
        "--source-kind",
        "torchscript",
        "--out",
        str(out),
        "--input",
        "x:float32:2,16",
        "--dynamic-batch",
        "--script",
        str(script),
        "--json",
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    data = json.loads(run.stdout)
    assert data["ok"] and "exporter-switched" in [f["code"] for f in data["findings"]]
    x5 = np.load(files / "x5.npy")
    np.testing.assert_allclose(_run_onnx(str(out), x5), np.load(files / "ref5.npy"), atol=1e-5)
    # the saved script repeats it with the TorchScript exporter (torch.export refuses the file)
    assert "dynamo=False" in script.read_text()
    bad = _cli(
        str(files / "net_script.pt"),
        "--source-kind",
        "torchscript",
        "--out",
        str(tmp_path / "bad.onnx"),
        "--input",
        "x:float32:2,x",
    )
    assert bad.returncode == 2 and "NAME:DTYPE:SHAPE" in bad.stderr
