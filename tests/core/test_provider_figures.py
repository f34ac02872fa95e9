"""The README's partition-map figures for five real models, computed here and compared with the
table the README prints (so the README says what the code computes, for the shipped tables).

The models: a CNN (the onnx wheel's ResNet-50), a transformer encoder layer and a 2-layer LSTM
(dynamo exports from the test fixtures), a dynamically quantized model (ONNX Runtime's own
``quantize_dynamic`` applied to the transformer export) and a model with If and Loop (the
TorchScript export of a scripted module). Each is mapped as saved, for each provider alone
(then the CPU). Slow: the fixtures export with torch. Run ``python -m pytest
tests/core/test_provider_figures.py -m slow -s`` and paste what it prints into the README when
the tables are regenerated.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from inspector.core.graph import Model, open_model
from inspector.core.providers.placement import short_name
from inspector.core.providers.placement_target import target_placement
from tests.model_zoo import shipped_data_dir

README = Path(__file__).resolve().parents[2] / "README.md"
ORDERS = (
    "CUDAExecutionProvider",
    "TensorrtExecutionProvider",
    "DmlExecutionProvider",
    "OpenVINOExecutionProvider",
    "CoreMLExecutionProvider",
    "NnapiExecutionProvider",
    "QNNExecutionProvider",
    "XnnpackExecutionProvider",
)
START, END = "<!-- provider figures: start -->", "<!-- provider figures: end -->"


def _quantized(source: Path, out: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(source), str(out), weight_type=QuantType.QInt8)
    return out


def _cell(model: Model, provider: str) -> str:
    placed = target_placement(model, [provider])
    counts = placed.node_counts()
    total = sum(counts.values())
    assert total == sum(1 for ps in placed.providers_by_graph.values() for p in ps if p)
    parts = len(placed.partitions.get(provider, []))
    return f"{counts.get(provider, 0)}/{total}, {parts} part., {placed.copies} cop."


@pytest.mark.slow
def test_readme_figures_are_what_the_tables_give(
    torch_transformer, torch_lstm, torch_if_loop, tmp_path
) -> None:
    models = {
        "CNN (onnx wheel light_resnet50)": shipped_data_dir() / "light" / "light_resnet50.onnx",
        "transformer layer (dynamo)": torch_transformer,
        "LSTM, 2 layers (dynamo)": torch_lstm,
        "quantized transformer (quantize_dynamic)": _quantized(
            torch_transformer, tmp_path / "quantized.onnx"
        ),
        "If + Loop (TorchScript)": torch_if_loop,
    }
    header = "| model | " + " | ".join(short_name(p) for p in ORDERS) + " |"
    rows = [header, "|---" * (len(ORDERS) + 1) + "|"]
    for name, path in models.items():
        model = open_model(Path(path))  # once: each provider's map reads the same model
        rows.append(f"| {name} | " + " | ".join(_cell(model, p) for p in ORDERS) + " |")
    table = "\n".join(rows)
    print("\n" + table)
    readme = README.read_text()
    shown = readme.split(START, 1)[1].split(END, 1)[0].strip()
    assert shown == table, "the README's provider figures are stale: paste the table printed above"
