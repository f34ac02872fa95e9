"""What the export pipeline adds to a plain ``torch.onnx.export`` of a ResNet-18-sized model.

Both sides run as a fresh Python process, as a user would run them: the baseline is a script
that imports torch, builds the model and calls ``torch.onnx.export(..., dynamo=True)``; the
pipeline is :func:`export_model` with validation off (config JSON, child process, the driver's
own checks, log streaming, result JSON). Goal: under 10 % added.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inspector.core.export import ExportConfig, export_model
from tests.model_zoo import torch_available

RESNET = Path(__file__).resolve().parent.parent / "export_cases" / "resnet.py"
ROUNDS = 3

pytestmark = [
    pytest.mark.benchmark,
    pytest.mark.skipif(not torch_available(), reason="torch is not installed"),
]

_PLAIN = """
import importlib.util, sys, warnings
warnings.filterwarnings("ignore")
import torch
spec = importlib.util.spec_from_file_location("resnet", sys.argv[1])
module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)
model, args = module.resnet18()
with torch.no_grad():
    torch.onnx.export(model, args, sys.argv[2], dynamo=True, input_names=["image"],
                      dynamic_shapes=({0: torch.export.Dim.AUTO},))
"""


def _plain(out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", _PLAIN, str(RESNET), str(out)], check=True, capture_output=True
    )
    return time.perf_counter() - start


def _pipeline(out: Path) -> float:
    cfg = ExportConfig(
        str(RESNET), str(out), factory="resnet18", dynamic_batch=True, validate=False
    )
    start = time.perf_counter()
    result = export_model(cfg)
    elapsed = time.perf_counter() - start
    assert result.ok and not result.has_errors, result.to_json()
    return elapsed


def test_pipeline_adds_under_ten_percent_to_a_plain_export(tmp_path):
    plain, pipeline = [], []
    for i in range(ROUNDS):  # interleaved, so drift in machine load hits both sides alike
        plain.append(_plain(tmp_path / f"plain{i}.onnx"))
        pipeline.append(_pipeline(tmp_path / f"pipeline{i}.onnx"))
    base, ours = statistics.median(plain), statistics.median(pipeline)
    added = (ours - base) / base
    print(f"\nplain {base:.2f} s, pipeline {ours:.2f} s, added {100 * added:+.1f} %")
    assert added < 0.10
