"""Numeric diff (issue 16): two models run on the same inputs in one child, every output compared."""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector.core.diff.numeric import NumericDiff, compare_many, compare_outputs, tensor_gap
from inspector.core.inference.inputs import FeedError
from inspector.core.tasks import Cancelled, CancelToken
from tests.core.divergence_corpus import DivergenceCase, build_corpus, spread
from tests.core.test_cli import run_cli
from tests.inference_models import endless_loop_model


def _mlp(
    path: Path, scale: float = 1.0, dtype: int = TensorProto.FLOAT, out_dim: int = 3, batch=1
) -> Path:
    """x[batch, 4] -> MatMul -> Add -> Relu -> y[batch, out_dim]; ``scale`` multiplies W."""
    np_dtype = helper.tensor_dtype_to_np_dtype(dtype)
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((4, out_dim)) * scale).astype(np_dtype)
    bias = rng.standard_normal(out_dim).astype(np_dtype)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "W"], ["h"], name="mm"),
            helper.make_node("Add", ["h", "bias"], ["z"], name="add"),
            helper.make_node("Relu", ["z"], ["y"], name="relu"),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", dtype, [batch, 4])],
        [helper.make_tensor_value_info("y", dtype, [batch, out_dim])],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(bias, "bias")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def test_a_model_against_itself_is_the_same(tmp_path):
    a = _mlp(tmp_path / "a.onnx")
    diff = compare_outputs(a, a)
    assert diff.same
    assert [(g.a_name, g.b_name, g.max_abs, g.ok) for g in diff.outputs] == [("y", "y", 0.0, True)]
    assert diff.findings == ()
    assert diff.to_dict()["same"] is True


def test_a_changed_weight_is_an_output_mismatch_on_the_producing_node(tmp_path):
    a, b = _mlp(tmp_path / "a.onnx"), _mlp(tmp_path / "b.onnx", scale=1.5)
    diff = compare_outputs(a, b, inputs={"x": -np.ones((1, 4), np.float32)})
    assert not diff.same
    (gap,) = diff.outputs
    assert not gap.ok and gap.max_abs > 0.01
    (f,) = diff.findings
    assert f.code == "diff-output-mismatch" and f.severity.value == "error"
    assert (f.node, f.node_index, f.other_node_index, f.tensor) == ("relu", 2, 2, "y")
    assert "max abs" in f.message


def test_a_float16_copy_is_fed_float16_and_compared_in_float64(tmp_path):
    a = _mlp(tmp_path / "a.onnx")
    b = _mlp(tmp_path / "b16.onnx", dtype=TensorProto.FLOAT16)
    diff = compare_outputs(a, b, rtol=1e-2, atol=1e-2)
    (gap,) = diff.outputs
    assert gap.note == "dtype float32 vs float16"
    assert 0 < gap.max_abs < 1e-2  # float16 rounding, measured, not hidden
    assert diff.same


def test_outputs_of_another_shape_never_match(tmp_path):
    a, b = _mlp(tmp_path / "a.onnx"), _mlp(tmp_path / "b.onnx", out_dim=5)
    diff = compare_outputs(a, b)
    (gap,) = diff.outputs
    assert (gap.ok, gap.max_abs, gap.note) == (False, math.inf, "shape (1, 3) vs (1, 5)")
    assert diff.to_dict()["outputs"][0]["max_abs"] == "inf"  # JSON has no inf


def test_loaded_inputs_are_given_to_both_models(tmp_path):
    a = _mlp(tmp_path / "a.onnx")
    zeros = tmp_path / "zeros.npz"
    np.savez(zeros, x=np.zeros((1, 4), np.float32))
    b = _mlp(tmp_path / "b.onnx", scale=3.0)  # W differs; on x = 0 only the bias counts
    assert compare_outputs(a, b, inputs=zeros).same


def test_a_model_that_cannot_take_the_feeds_is_reported_not_compared(tmp_path):
    a, b = _mlp(tmp_path / "a.onnx"), _mlp(tmp_path / "b.onnx", batch=2)
    diff = compare_outputs(a, b)
    assert not diff.same and diff.outputs == ()
    (f,) = diff.findings
    assert f.code == "shape-mismatch" and f.message.startswith("model B: ")
    assert (f.node_index, f.other_node_index) == (None, 0)  # B's node, never read as A's


def test_gap_semantics():
    nan, inf = math.nan, math.inf
    same = tensor_gap("a", "b", np.array([1.0, nan, inf]), np.array([1.0, nan, inf]))
    assert (same.ok, same.max_abs) == (True, 0.0)
    one_sided = tensor_gap("a", "b", np.array([1.0, 2.0]), np.array([1.0, nan]))
    assert (one_sided.ok, one_sided.max_abs) == (False, inf)
    close = tensor_gap("a", "b", np.array([100.0]), np.array([100.05]), rtol=1e-3, atol=0)
    assert close.ok and math.isclose(close.max_rel, 5e-4)
    assert not tensor_gap("a", "b", np.array(["x"]), np.array([1.0])).ok
    assert tensor_gap("a", "b", np.array(["x"], dtype=object), np.array(["x"])).ok


# ------------------------------------------------------------- first divergence (acceptance 2)

DEFAULT_CASES = 10  # the default run; the whole corpus (151 cases) is marked slow
REQUIRED = 0.95


def _miss(case: DivergenceCase, diff: NumericDiff) -> str:
    """Why the first divergence does not name the changed node, in words ("" when it does)."""
    if diff.first_divergence is not None and diff.first_divergence[0] == case.expected:
        return ""
    run_failures = [f.message for f in diff.findings if f.severity.value == "error"]
    run_failures = [m for m in run_failures if m.startswith(("model A: ", "model B: "))]
    if run_failures:  # no run, no divergence to name
        why = "a run failed: " + "; ".join(run_failures)
    elif diff.first_divergence is None:
        why = (
            "no captured tensor differs beyond tolerance: the change does not show on these "
            f"inputs (outputs {'agree' if diff.same else 'differ'})"
        )
    else:
        named = next(f for f in diff.findings if f.code == "diff-first-divergence")
        why = f"named #{diff.first_divergence[0]} instead: {named.message}"
    return f"{case.name} ({case.change}; expected {case.expected_label}): {why}"


def _check_corpus(cases: list[DivergenceCase]) -> None:
    start = time.perf_counter()
    diffs = compare_many([(c.original, c.changed) for c in cases], intermediates=True)
    misses = [why for case, diff in zip(cases, diffs, strict=True) if (why := _miss(case, diff))]
    named = len(cases) - len(misses)
    print(
        f"\nfirst divergence named in {named} of {len(cases)} cases "
        f"({named / len(cases):.1%}) in {time.perf_counter() - start:.1f} s (one child)"
    )
    for why in misses:
        print("  not named:", why)
    assert named >= REQUIRED * len(cases), "\n".join(misses)


def test_first_divergence_names_the_changed_node(tmp_path):
    _check_corpus(spread(build_corpus(tmp_path), DEFAULT_CASES))


@pytest.mark.slow
def test_first_divergence_on_the_whole_corpus(tmp_path):
    cases = build_corpus(tmp_path)
    assert len(cases) >= 100
    _check_corpus(cases)


def test_first_divergence_sits_on_both_models_nodes(tmp_path):
    """The finding carries A's node and its matched node in B, which may sit elsewhere."""
    original = _mlp(tmp_path / "a.onnx")
    model = onnx.load(original)
    # B: the same network with an Identity first, so every node of B is one further on
    nodes = list(model.graph.node)
    nodes[0].input[0] = "x_copy"
    del model.graph.node[:]
    model.graph.node.extend([helper.make_node("Identity", ["x"], ["x_copy"], name="copy")])
    model.graph.node.extend(nodes)
    model.graph.initializer[1].CopyFrom(
        numpy_helper.from_array(numpy_helper.to_array(model.graph.initializer[1]) + 1.0, "bias")
    )
    changed = tmp_path / "b.onnx"
    onnx.save(model, changed)
    diff = compare_outputs(original, changed, intermediates=True, seed=1)
    assert diff.first_divergence == (1, 2)  # add in A, add in B
    f = diff.findings[0]
    assert (f.code, f.node, f.node_index, f.other_node_index) == (
        "diff-first-divergence",
        "add",
        1,
        2,
    )
    assert "while its inputs agree" in f.message


# ------------------------------------------------------------------------------ diff --run


def test_cli_diff_run_exits_like_diff(tmp_path):
    """0 when both compute the same, 1 with the mismatch and the first divergence as findings
    carrying both sides' node index, 2 for inputs that cannot be read."""
    a, b = _mlp(tmp_path / "a.onnx"), _mlp(tmp_path / "b.onnx", scale=1.5)
    same = run_cli("diff", str(a), str(a), "--run")
    assert same.returncode == 0, same.stderr
    assert "output y: same" in same.stdout
    differ = run_cli("diff", str(a), str(b), "--run", "--seed", "3", "--json")
    assert differ.returncode == 1, differ.stderr
    report = json.loads(differ.stdout)
    assert report["same"] is False and report["numeric"]["outputs"][0]["ok"] is False
    by_code = {f["code"]: f for f in report["findings"]}
    assert (by_code["diff-first-divergence"]["node_index"], by_code["diff-first-divergence"]["other_node_index"]) == (0, 0)  # fmt: skip
    assert by_code["diff-output-mismatch"]["node"] == "relu"
    assert report["numeric"]["first_divergence"] == [0, 0]
    loose = run_cli("diff", str(a), str(b), "--run", "--inputs", str(tmp_path / "none.npz"))
    assert loose.returncode == 2 and len(loose.stderr.strip().splitlines()) == 1
    assert run_cli("diff", str(a), str(a), "--inputs", "x.npz").returncode == 2


def test_a_hang_is_a_finding_of_the_model_that_hung(tmp_path):
    endless = endless_loop_model(tmp_path)
    diff = compare_outputs(endless, endless, timeout=5)
    assert not diff.same and diff.outputs == ()
    (f,) = diff.findings  # B never started: the child was stopped in A's run
    assert f.code == "timed-out" and f.message.startswith(
        "model A: "
    )  # the leak guard: no child left


def test_cancel_kills_the_child_and_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the runs' folders go
    (tmp_path / "model").mkdir()
    endless = endless_loop_model(tmp_path / "model")
    cancel = CancelToken()

    def when_running(_fraction: float, message: str) -> None:
        if "timed run" in message:  # the child is inside session.run: cancel waits on it
            cancel.cancel()

    with pytest.raises(Cancelled):
        compare_outputs(endless, endless, cancel=cancel, progress=when_running)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


@pytest.mark.slow
def test_a_hang_in_a_batch_costs_only_its_pair(tmp_path):
    a, endless = _mlp(tmp_path / "a.onnx"), endless_loop_model(tmp_path)
    hung, after = compare_many([(endless, endless), (a, a)], timeout=15)
    assert [f.code for f in hung.findings] == ["timed-out"]
    assert after.same and after.findings == ()  # run again, in a child of its own


def test_an_input_no_value_can_be_drawn_for_is_a_feed_error(tmp_path):
    seq = helper.make_sequence_type_proto(helper.make_tensor_type_proto(TensorProto.FLOAT, [2]))
    graph = helper.make_graph(
        [helper.make_node("SequenceLength", ["s"], ["n"])],
        "seq",
        [helper.make_value_info("s", seq)],
        [helper.make_tensor_value_info("n", TensorProto.INT64, [])],
    )
    path = tmp_path / "seq.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(FeedError, match="input 's' is sequence"):
        compare_outputs(path, path)  # raised before any child starts (exit 2 in the CLI)
