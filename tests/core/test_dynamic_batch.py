"""`fixed-batch-dim` fires only where dim 0 behaves as a batch, and Save with Dynamic Batch keeps
a copy only once ONNX Runtime ran it at two batch sizes.

Models: built with onnx.helper where the point is one op's rule (a MatMul weight input, a Concat
along dim 0, a recurrent state, a Reshape baking the size, the dynamic ``view(x.size(0), -1)``
pattern), the onnx wheel's ``light/`` CNNs, and small torch models exported in a child process
(a CNN with a fixed batch from both exporters, a GRU with a ``state`` input).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector.core.checks import edges
from inspector.core.checks.batch_flow import BatchFlow, analyse_batch
from inspector.core.graph import open_model
from inspector.core.rewrites.dynamic_batch import CODE, save_dynamic_batch
from inspector.core.tasks import Cancelled, CancelToken
from tests.model_zoo import TORCH_CNN_CODE, export_in_child, shipped_data_dir, torch_available

F = TensorProto.FLOAT
LIGHT = shipped_data_dir() / "light"
LIGHT_BATCH = {"light_densenet121", "light_squeezenet"}  # the others Reshape to [1, N]


def vi(name: str, shape: list | None, elem: int = F) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


def ints(name: str, values: int | list[int]) -> TensorProto:
    return numpy_helper.from_array(np.array(values, np.int64), name)


def weights(name: str, shape: list[int]) -> TensorProto:
    rng = np.random.default_rng(len(name))
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.3, name)


def save(folder: Path, name: str, nodes, inputs, outputs, inits=(), opset: int = 17) -> Path:
    g = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    path = folder / f"{name}.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]), path)
    return path


def flow(path: Path) -> BatchFlow:
    return analyse_batch(open_model(path))


def fired(path: Path) -> list[str]:
    """The tensors `fixed-batch-dim` sits on, as the edges check reports them."""
    return [f.tensor for f in edges.check(open_model(path)) if f.code == "fixed-batch-dim"]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inspector", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


# --------------------------------------------------------------------------- helper-built models


def lstm_model(folder: Path, with_state: bool) -> Path:
    """x [1, 5, 8] (batch first) → Transpose → bidirectional LSTM (hidden 4) → Transpose →
    y [1, 5, 2, 4]; with ``with_state`` the initial hidden state is the input ``state`` [2, 1, 4],
    whose dim 0 counts directions."""
    nodes = [
        helper.make_node("Transpose", ["x"], ["xt"], name="to_seq_first", perm=[1, 0, 2]),
        helper.make_node(
            "LSTM",
            ["xt", "W", "R", "", "", "state" if with_state else ""],
            ["Y", "Y_h"],
            name="lstm",
            hidden_size=4,
            direction="bidirectional",
        ),
        helper.make_node("Transpose", ["Y"], ["y"], name="to_batch_first", perm=[2, 0, 1, 3]),
    ]
    inputs = [vi("x", [1, 5, 8])] + ([vi("state", [2, 1, 4])] if with_state else [])
    return save(
        folder,
        "lstm_state" if with_state else "lstm",
        nodes,
        inputs,
        [vi("y", [1, 5, 2, 4]), vi("Y_h", [2, 1, 4])],
        [weights("W", [2, 16, 8]), weights("R", [2, 16, 4])],
    )


def reshape_baked(folder: Path, target: list[int]) -> Path:
    """x [1, 3, 4] → Reshape to the constant ``target`` ([1, -1] or [1, 12]) → Relu → y [1, 12]."""
    return save(
        folder,
        "reshape_baked",
        [
            helper.make_node("Reshape", ["x", "target"], ["flat"], name="flatten_to_1"),
            helper.make_node("Relu", ["flat"], ["y"], name="relu"),
        ],
        [vi("x", [1, 3, 4])],
        [vi("y", [1, 12])],
        [ints("target", target)],
    )


def test_a_matmul_weight_input_is_not_a_batch(tmp_path: Path) -> None:
    # Both inputs are [4, 4]: judged together first, then the weight is dropped and x alone is
    # followed again (its batch reaches y's dim 0 as MatMul's rows).
    path = save(
        tmp_path,
        "matmul",
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")],
        [vi("x", [4, 4]), vi("w", [4, 4])],
        [vi("y", [4, 4])],
    )
    result = flow(path)
    assert list(result.batch) == ["x"]
    assert "MatMul 'mm'" in result.not_batch["w"] and "second operand" in result.not_batch["w"]
    assert fired(path) == ["x"]


def test_concat_along_dim_0_is_not_a_batch_but_along_dim_1_is(tmp_path: Path) -> None:
    def concat(axis: int) -> Path:
        return save(
            tmp_path,
            f"concat{axis}",
            [helper.make_node("Concat", ["a", "b"], ["y"], name="cat", axis=axis)],
            [vi("a", [2, 3]), vi("b", [2, 3])],
            [vi("y", [4, 3] if axis == 0 else [2, 6])],
        )

    along0 = flow(concat(0))
    assert not along0.batch
    assert all("concatenates along it" in r for r in along0.not_batch.values())
    assert sorted(flow(concat(1)).batch) == ["a", "b"]


def test_a_recurrent_state_input_is_not_a_batch(tmp_path: Path) -> None:
    with_state = flow(lstm_model(tmp_path, with_state=True))
    assert not with_state.batch  # x's batch would meet the state's fixed one: neither qualifies
    assert "initial state" in with_state.not_batch["state"]
    assert "num_directions" in with_state.not_batch["state"]
    assert "'state'" in with_state.not_batch["x"]
    # without a state input, x's dim 0 is LSTM's batch axis (1 after the Transpose) and comes
    # back to dim 0 of y
    alone = flow(lstm_model(tmp_path, with_state=False))
    assert alone.batch["x"].outputs == (("y", 0), ("Y_h", 1))


def test_a_sequence_first_input_dim_0_is_the_sequence(tmp_path: Path) -> None:
    path = save(
        tmp_path,
        "seq_first",
        [helper.make_node("RNN", ["x", "W", "R"], ["Y"], name="rnn", hidden_size=4)],
        [vi("x", [5, 1, 8])],
        [vi("Y", [5, 1, 1, 4])],
        [weights("W", [1, 4, 8]), weights("R", [1, 4, 4])],
    )
    assert "X's dim 0, not the batch" in flow(path).not_batch["x"]


def test_the_dynamic_view_pattern_keeps_the_batch_and_arithmetic_on_it_does_not(
    tmp_path: Path,
) -> None:
    size = [
        helper.make_node("Shape", ["x"], ["shape"], name="shape"),
        helper.make_node("Gather", ["shape", "zero"], ["n"], name="dim0", axis=0),
    ]
    view = save(
        tmp_path,
        "view",
        [
            *size,
            helper.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="unsqueeze"),
            helper.make_node("Concat", ["n1", "minus1"], ["target"], name="target", axis=0),
            helper.make_node("Reshape", ["x", "target"], ["y"], name="view"),
        ],
        [vi("x", [2, 3, 4])],
        [vi("y", [2, 12])],
        [ints("zero", 0), ints("axes", [0]), ints("minus1", [-1])],
    )
    assert list(flow(view).batch) == ["x"]
    scaled = save(
        tmp_path,
        "scaled",
        [
            *size,
            helper.make_node("Cast", ["n"], ["nf"], name="as_float", to=F),
            helper.make_node("Mul", ["x", "nf"], ["y"], name="times_batch"),
        ],
        [vi("x", [2, 3, 4])],
        [vi("y", [2, 3, 4])],
        [ints("zero", 0)],
    )
    assert "uses its size as a value" in flow(scaled).not_batch["x"]


def test_a_constant_with_the_batch_size_baked_in(tmp_path: Path) -> None:
    def add(rows: int) -> Path:
        return save(
            tmp_path,
            f"add{rows}",
            [helper.make_node("Add", ["x", "c"], ["y"], name="add")],
            [vi("x", [8, 3])],
            [vi("y", [8, 3])],
            [weights("c", [rows, 3])],
        )

    assert "whose dim 0 (8) would not follow" in flow(add(8)).not_batch["x"]
    assert list(flow(add(1)).batch) == ["x"]


def test_reshape_baking_the_batch_is_not_reported_and_save_refuses(tmp_path: Path) -> None:
    path = reshape_baked(tmp_path, [1, -1])
    assert "Reshape 'flatten_to_1'" in flow(path).not_batch["x"]
    assert fired(path) == []
    out = tmp_path / "out" / "dynamic.onnx"
    result = save_dynamic_batch(path, out)
    assert not result.ok and result.path is None
    assert "baked into its target shape [1, -1]" in result.message
    (finding,) = result.findings  # on the node that stopped the batch, for the graph's badge
    assert (finding.code, finding.node, finding.tensor) == (CODE, "flatten_to_1", "x")
    assert not out.parent.exists()


def test_a_failed_proof_names_the_node_and_leaves_the_destination_alone(tmp_path: Path) -> None:
    path = reshape_baked(tmp_path, [1, 12])
    out = tmp_path / "dynamic.onnx"
    out.write_bytes(b"the user's older file")
    # renaming x on request anyway: the proof runs it at batch 3, where the Reshape fails
    result = save_dynamic_batch(path, out, inputs=["x"])
    assert not result.ok
    assert "fails at batch 3" in result.message
    (finding,) = result.findings
    assert (finding.code, finding.node, finding.op_type) == (CODE, "flatten_to_1", "Reshape")
    assert out.read_bytes() == b"the user's older file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dynamic.onnx", "reshape_baked.onnx"]


@pytest.mark.slow
def test_a_proof_also_catches_outputs_that_do_not_follow_the_batch(tmp_path: Path) -> None:
    # Reshape to [1, -1] runs at batch 3 too: [1, 36] instead of [3, 12]
    path = reshape_baked(tmp_path, [1, -1])
    result = save_dynamic_batch(path, tmp_path / "dynamic.onnx", inputs=["x"])
    assert not result.ok
    assert "output 'y' is [1, 36] at batch 3" in result.message
    assert not (tmp_path / "dynamic.onnx").exists()
    # x[0:1] runs at batch 3 too, and gives sample 0's output: no output follows the batch
    first = save(
        tmp_path,
        "first_sample",
        [helper.make_node("Slice", ["x", "zero", "one", "zero"], ["y"], name="first")],
        [vi("x", [1, 3])],
        [vi("y", [1, 3])],
        [ints("zero", [0]), ints("one", [1])],
    )
    assert "slices it ([0:1:1])" in flow(first).not_batch["x"]
    result = save_dynamic_batch(first, tmp_path / "dynamic.onnx", inputs=["x"])
    assert not result.ok and "no output follows the batch" in result.message


def test_save_proves_a_recurrent_model_and_keeps_the_user_file(tmp_path: Path) -> None:
    path = lstm_model(tmp_path, with_state=False)
    before = path.read_bytes()
    out = tmp_path / "dynamic.onnx"
    steps: list[str] = []
    result = save_dynamic_batch(path, out, progress=lambda _f, msg: steps.append(msg))
    assert result.ok, result.message
    assert result.path == out and result.batches == (1, 3)
    assert "ran at batch 1 and 3" in result.message
    assert any("running the copy at batch 3" in s for s in steps)
    new = onnx.load(out)
    assert new.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    y = next(o for o in new.graph.output if o.name == "y")
    assert y.type.tensor_type.shape.dim[0].dim_param == "batch"
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dynamic.onnx", "lstm.onnx"]
    with pytest.raises(ValueError, match="overwrite"):
        save_dynamic_batch(path, path)


def test_cancel_leaves_nothing(tmp_path: Path) -> None:
    path = lstm_model(tmp_path, with_state=False)
    token = CancelToken()

    def progress(_fraction: float, message: str) -> None:
        if message.startswith("running the original"):
            token.cancel()  # the run's child is killed at its next poll

    with pytest.raises(Cancelled):
        save_dynamic_batch(path, tmp_path / "dynamic.onnx", progress=progress, cancel=token)
    assert [p.name for p in tmp_path.iterdir()] == ["lstm.onnx"]


# ------------------------------------------------------------------------ the onnx wheel's light/


@pytest.mark.parametrize("name", sorted(p.stem for p in LIGHT.glob("*.onnx")))
def test_light_models(name: str) -> None:
    result = flow(LIGHT / f"{name}.onnx")
    if name in LIGHT_BATCH:
        assert [b.outputs[0][1] for b in result.batch.values()] == [0]
    else:
        assert not result.batch
        (reason,) = result.not_batch.values()
        assert "Reshape" in reason and "baked into its target shape [1, " in reason


@pytest.mark.slow
def test_light_models_that_fire_save_proven_and_resnet_is_refused(tmp_path: Path) -> None:
    for name in sorted(LIGHT_BATCH):
        result = save_dynamic_batch(LIGHT / f"{name}.onnx", tmp_path / f"{name}.onnx")
        assert result.ok and result.batches == (1, 3), result.message
    forced = save_dynamic_batch(
        LIGHT / "light_resnet50.onnx", tmp_path / "r.onnx", inputs=["gpu_0/data_0"]
    )
    assert not forced.ok and forced.findings[0].op_type == "Reshape"
    assert "Input shape:{3,2048,1,1}" in forced.message
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.onnx" for n in LIGHT_BATCH)


# --------------------------------------------------------------------------------- torch models

FIXED_CNN = TORCH_CNN_CODE + (
    "\nexport_kwargs = {'dynamo': False, 'input_names': ['image'], 'output_names': ['logits']}\n"
)
# The dynamo exporter writes torch.flatten with a fixed batch as Reshape to [2, 1024].
FIXED_CNN_DYNAMO = TORCH_CNN_CODE + (
    "\nexport_kwargs = {'optimize': False, 'input_names': ['image'], 'output_names': ['logits']}\n"
)
GRU_WITH_STATE = """
class WithState(nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nn.GRU(8, 16, num_layers=2, batch_first=True)
        self.head = nn.Linear(16, 4)

    def forward(self, x, state):
        y, h = self.gru(x, state)
        return self.head(y[:, -1]), h

model = WithState()
args = (torch.randn(1, 5, 8), torch.zeros(2, 1, 16))
export_kwargs = {"dynamo": False, "input_names": ["x", "state"],
                 "output_names": ["scores", "state_out"]}
"""


@pytest.fixture(scope="module")
def fixed_cnn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not torch_available():
        pytest.skip("torch is not installed")
    return export_in_child(FIXED_CNN, tmp_path_factory.mktemp("cnn") / "cnn.onnx")


def test_torch_cnn_with_a_fixed_batch_fires_and_saves_proven(
    fixed_cnn: Path, tmp_path: Path
) -> None:
    assert fired(fixed_cnn) == ["image"]
    out = tmp_path / "cnn_dynamic.onnx"
    r = run_cli("check", str(fixed_cnn), "--save-dynamic", str(out), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)["save_dynamic"]
    assert report["ok"] and report["batches"] == [2, 3] and report["inputs"] == {"image": 2}
    assert "ran at batch 2 and 3" in r.stderr
    model = open_model(out)
    assert model.graph.values["image"].declared.shape[0] == "batch"
    assert model.graph.values["logits"].declared.shape[0] == "batch"


@pytest.mark.slow
def test_torch_models_that_are_not_batch_like(tmp_path: Path) -> None:
    if not torch_available():
        pytest.skip("torch is not installed")
    gru = export_in_child(GRU_WITH_STATE, tmp_path / "gru.onnx")
    assert "state" in flow(gru).not_batch and fired(gru) == []
    dynamo = export_in_child(FIXED_CNN_DYNAMO, tmp_path / "cnn_dynamo.onnx")
    assert "baked into its target shape [2, " in flow(dynamo).not_batch["image"]
    out = tmp_path / "cnn_dynamo_dynamic.onnx"
    r = run_cli("check", str(dynamo), "--save-dynamic", str(out), "--json")
    assert r.returncode == 1
    data = json.loads(r.stdout)
    assert not data["save_dynamic"]["ok"] and CODE in [f["code"] for f in data["findings"]]
    assert not out.exists()
