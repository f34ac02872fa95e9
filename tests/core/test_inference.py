"""The inference core and `run`: feeds, the child runner, error mapping, killing, NaN locator,
profile mapping, and the onnx wheel's shipped test data run through the child.

The shipped corpus (140 test_data_set folders over 136 models) runs through ``run_model`` two
children at a time. By default a fixed sample of every 6th case runs; the whole corpus is marked
``slow`` (``pytest -m slow tests/core/test_inference.py``, about 40 s on 2 cores).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from inspector.core.feeds import cast_feed, check_feeds
from inspector.core.graph import open_model
from inspector.core.inference.inputs import (
    build_feeds,
    input_specs,
    load_feeds,
    random_feeds,
    symbol_sizes,
)
from inspector.core.inference.runner import RunOptions, compare, run_model
from inspector.core.tasks import Cancelled, CancelToken
from tests.inference_models import (
    dims_model,
    endless_loop_model,
    inference_children,
    nan_mid_graph_model,
    save_checked,
)
from tests.model_zoo import shipped_model_id, shipped_models, shipped_test_data

FAST = RunOptions(warmup=0, repeat=1)

# Models ONNX Runtime 1.32 cannot load (measured): opset-6 era kernels it dropped, the training
# domain's Gradient op, and StringNormalizer, which needs the en_US.UTF-8 locale installed.
_NOT_LOADABLE_BECAUSE = ("Could not find an implementation", "Gradient", "locale")


def _cases() -> list[tuple[Path, Path]]:
    return [(m, d) for m in shipped_models() for d in shipped_test_data(m)]


def _run_shipped(case: tuple[Path, Path]) -> tuple[str, str, str]:
    model_path, dataset = case
    model = open_model(model_path, infer=False)
    loaded = load_feeds(model, dataset)
    r = run_model(model_path, loaded.feeds, FAST, expected=loaded.expected, model=model)
    verdict = "match" if r.ok and r.match and r.match.ok else r.status
    r.close()
    return f"{shipped_model_id(model_path)}/{dataset.name}", verdict, r.error


def _check_corpus(cases: list[tuple[Path, Path]]) -> dict[str, list[str]]:
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(_run_shipped, cases))
    by: dict[str, list[str]] = {}
    for case, verdict, error in results:
        by.setdefault(verdict, []).append(case)
        if verdict == "session-failed":
            assert any(why in error for why in _NOT_LOADABLE_BECAUSE), (case, error)
    assert set(by) <= {"match", "session-failed"}, {k: v for k, v in by.items() if k != "match"}
    return by


def test_shipped_test_data_matches_sample():
    by = _check_corpus(_cases()[::6])
    assert len(by["match"]) >= 15


@pytest.mark.slow
def test_shipped_test_data_matches_all():
    by = _check_corpus(_cases())
    print(f"\nmatched {len(by['match'])}, not loadable {len(by.get('session-failed', []))}")
    assert len(by["match"]) == 100


# Random values cannot satisfy these (measured): SplitToSequence's split sizes must sum to the
# length of the split axis, which an input-only rule cannot know.
KNOWN_RANDOM_FAILURES = {"simple/test_sequence_model8": "SplitToSequence split sizes"}


def _run_random(model_path: Path) -> tuple[str, str, str]:
    model = open_model(model_path, infer=False)
    r = run_model(model_path, random_feeds(model, seed=1), FAST, model=model)
    r.close()
    return shipped_model_id(model_path), r.status, r.error


@pytest.mark.slow
def test_random_inputs_run_on_every_loadable_shipped_model():
    models = [m for m in shipped_models() if shipped_test_data(m)]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(_run_random, models))
    ok = [m for m, status, _ in results if status == "ok"]
    failed = {
        m: e.splitlines()[0][:160] for m, s, e in results if s not in ("ok", "session-failed")
    }
    print(
        f"\nrandom inputs: {len(ok)} ran of {len(results)}; failures: {json.dumps(failed, indent=1)}"
    )
    assert set(failed) == set(KNOWN_RANDOM_FAILURES)


def test_random_inputs_on_shipped_models_with_index_and_position_inputs():
    wanted = ("test_Embedding", "test_sequence_model1", "test_expand_shape_model1")
    models = [m for m in shipped_models() if m.parent.name in wanted]
    assert len(models) == 3
    for m in models:
        assert _run_random(m)[1] == "ok", m


# ------------------------------------------------------------------------------------- inputs


def _gather_model(tmp_path: Path) -> Path:
    table = numpy_helper.from_array(np.arange(15, dtype=np.float32).reshape(5, 3), "table")
    nodes = [
        helper.make_node("Cast", ["ids"], ["ids64"], to=TensorProto.INT64, name="cast"),
        helper.make_node("Gather", ["table", "ids64"], ["emb"], name="emb_gather"),
        helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT, name="mcast"),
        helper.make_node("Unsqueeze", ["m", "axes"], ["m3"], name="unsq"),
        helper.make_node("Mul", ["emb", "m3"], ["y"], name="mul"),
    ]
    axes = numpy_helper.from_array(np.array([-1], dtype=np.int64), "axes")
    graph = helper.make_graph(
        nodes,
        "gather",
        [
            helper.make_tensor_value_info("ids", TensorProto.INT32, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "seq", 3])],
        [table, axes],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return save_checked(model, tmp_path / "gather.onnx")


def test_random_feeds_respect_index_ranges_and_masks(tmp_path):
    model = open_model(_gather_model(tmp_path), infer=False)
    specs = {s.name: s for s in input_specs(model)}
    assert specs["ids"].role == "index" and specs["ids"].high == 5
    assert specs["attention_mask"].role == "mask"
    feeds = random_feeds(model, seed=3, dims={"seq": 50})
    assert feeds["ids"].dtype == np.int32 and feeds["ids"].shape == (1, 50)
    assert feeds["ids"].min() >= 0 and feeds["ids"].max() == 4
    assert set(np.unique(feeds["attention_mask"])) == {0, 1}
    assert np.array_equal(random_feeds(model, seed=3, dims={"seq": 50})["ids"], feeds["ids"])


def test_feed_checks_and_cast(tmp_path):
    model = open_model(_gather_model(tmp_path), infer=False)
    feeds = random_feeds(model)
    feeds["ids"] = feeds["ids"].astype(np.float64)
    feeds["extra"] = np.zeros(1)
    del feeds["attention_mask"]
    by_code = {(f.code, f.tensor): f for f in check_feeds(model, feeds)}
    assert by_code[("dtype-mismatch", "ids")].hint == "cast to int32"
    assert ("missing-feed", "attention_mask") in by_code
    assert ("unknown-feed", "extra") in by_code
    fixed = {
        "ids": cast_feed(model, "ids", feeds["ids"]),
        "attention_mask": np.ones((1, 3, 2), np.int64),
    }
    codes = [(f.code, f.tensor) for f in check_feeds(model, fixed)]
    assert codes == [("shape-mismatch", "attention_mask")]


def test_float64_feed_for_float32_is_not_run(torch_cnn):
    model = open_model(torch_cnn, infer=False)
    feeds = {"image": np.zeros((1, 3, 32, 32))}
    r = run_model(torch_cnn, feeds, FAST, model=model)
    assert r.status == "invalid-feeds"
    assert [(f.code, f.tensor, f.hint) for f in r.findings] == [
        ("dtype-mismatch", "image", "cast to float32")
    ]


def test_load_feeds_from_each_format(tmp_path):
    model = open_model(_gather_model(tmp_path), infer=False)
    feeds = random_feeds(model)
    np.savez(tmp_path / "feeds.npz", **feeds)
    assert load_feeds(model, tmp_path / "feeds.npz").feeds.keys() == feeds.keys()
    folder = tmp_path / "test_data_set_0"
    folder.mkdir()
    for i, name in enumerate(["ids", "attention_mask"]):
        tensor = numpy_helper.from_array(feeds[name])  # no name: matched by position
        (folder / f"input_{i}.pb").write_bytes(tensor.SerializeToString())
    y = numpy_helper.from_array(np.ones((1, 1, 3), np.float32), "y")
    (folder / "output_0.pb").write_bytes(y.SerializeToString())
    loaded = load_feeds(model, folder)
    assert np.array_equal(loaded.feeds["attention_mask"], feeds["attention_mask"])
    assert list(loaded.expected) == ["y"]


def test_random_feeds_size_negative_zero_and_symbolic_dims_and_run(tmp_path):
    path = dims_model(tmp_path)
    model = open_model(path, infer=False)
    specs = input_specs(model)
    assert symbol_sizes(specs) == {"n": 1, "features": 16, "seq_len": 16}
    feeds = random_feeds(model, seed=2)
    shapes = {name: a.shape for name, a in feeds.items()}
    assert shapes == {
        "image": (1, 3, 224, 224),  # batch 1, an image's height and width
        "a": (1, 16, 16),
        "b": (1, 16, 16),  # the same size for each symbol in every input
        "p": (1, 16),
        "q": (1, 16),
        "empty": (0, 4),  # 0 as declared
    }
    assert check_feeds(model, feeds) == []  # a -1 dim accepts any size
    r = run_model(path, feeds, RunOptions(warmup=0, repeat=1, capture=["*"]), model=model)
    assert r.ok, r.findings
    out = {t.name: t.stats for t in r.outputs}
    assert out["pooled"]["shape"] == [1, 8, 1, 1] and out["ab"]["shape"] == [1, 16, 16]
    assert out["relu_empty"]["shape"] == [0, 4] and out["relu_empty"]["histogram"] is None
    # An override changes the symbol in every input that has it.
    bigger = random_feeds(model, seed=2, dims={"features": 5})
    assert bigger["a"].shape == bigger["b"].shape == (1, 5, 16)
    assert run_model(path, bigger, FAST, model=model).ok


def test_cli_and_panel_builder_give_the_same_random_feeds(tmp_path):
    # One builder: given arrays replace an input, and the others keep their random values.
    model = open_model(dims_model(tmp_path), infer=False)
    specs = input_specs(model)
    all_random = build_feeds(specs, seed=5)
    mine = np.zeros((1, 3, 8, 8), np.float32)
    mixed = build_feeds(specs, seed=5, given={"image": mine}, constants={"p": 2.0})
    assert mixed["image"] is mine and (mixed["p"] == 2.0).all() and mixed["p"].shape == (1, 16)
    for name in ("a", "b", "q", "empty"):
        assert np.array_equal(mixed[name], all_random[name])


def test_cli_run_random_on_negative_dims_runs(tmp_path):
    path = dims_model(tmp_path)
    r = run_cli("run", str(path), "--random", "--json", "--repeat", "1")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    shapes = {o["name"]: o["shape"] for o in json.loads(r.stdout)["outputs"]}
    assert shapes["pq"] == [1, 16] and shapes["relu_empty"] == [0, 4]


# ----------------------------------------------------------------------------- runs and errors


def test_run_gives_outputs_stats_latency_and_never_writes_the_model(tmp_path):
    path = _gather_model(tmp_path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    model = open_model(path, infer=False)
    feeds = random_feeds(model)
    r = run_model(path, feeds, RunOptions(repeat=5, capture=["*"]), model=model)
    assert r.ok, r.findings
    assert len(r.latencies_ms) == 5 and set(r.latency_ms) == {"mean", "median", "p90", "min"}
    (out,) = r.outputs
    assert out.stats["shape"] == [1, 16, 3] and out.stats["nan"] == 0
    assert {t.name for t in r.intermediates} == {"ids64", "emb", "m", "m3"}
    want = (
        np.arange(15, dtype=np.float32).reshape(5, 3)[feeds["ids"]]
        * feeds["attention_mask"][..., None]
    )
    assert np.array_equal(r.arrays()["y"], want)
    workdir = r.workdir
    r.close()
    assert not workdir.exists()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


@pytest.mark.parametrize(
    ("elem", "name"),
    [
        (TensorProto.BFLOAT16, "bfloat16"),
        (TensorProto.FLOAT8E4M3FN, "float8_e4m3fn"),
        (TensorProto.FLOAT8E5M2, "float8_e5m2"),
        (TensorProto.INT4, "int4"),
        (TensorProto.UINT4, "uint4"),
    ],
)
def test_types_without_a_numpy_type_go_in_and_come_out(tmp_path, elem, name):
    """bfloat16, float8 and 4-bit tensors (ml_dtypes arrays, which ONNX Runtime's Python API
    refuses): fed to a model that casts them to float and back, the run is ok, the float output
    holds the fed values and the round-tripped output comes back as the same ml_dtypes array."""
    import ml_dtypes

    dtype = np.dtype(getattr(ml_dtypes, name))
    values = np.array([[0, 1, -2, 3, 4], [5, -6, 7, 1, 0.5]], np.float32)
    if name == "uint4":
        values = np.abs(np.trunc(values))
    elif name == "int4":
        values = np.trunc(values)
    x = values.astype(dtype)
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["x"], ["f"], to=TensorProto.FLOAT),
            helper.make_node("Cast", ["f"], ["back"], to=elem),
        ],
        "ml_types",
        [helper.make_tensor_value_info("x", elem, [2, 5])],
        [
            helper.make_tensor_value_info("f", TensorProto.FLOAT, [2, 5]),
            helper.make_tensor_value_info("back", elem, [2, 5]),
        ],
    )
    path = tmp_path / f"{name}.onnx"
    path.write_bytes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]).SerializeToString()
    )
    r = run_model(path, {"x": x}, FAST)
    assert r.status == "ok", r.error
    out = r.arrays()
    np.testing.assert_array_equal(out["f"], x.astype(np.float32))
    assert out["back"].dtype == dtype and out["back"].tobytes() == x.tobytes()


def test_runtime_error_is_mapped_to_the_named_node(tmp_path):
    path = _gather_model(tmp_path)
    model = open_model(path, infer=False)
    feeds = {"ids": np.array([[7]], np.int32), "attention_mask": np.ones((1, 1), np.int64)}
    r = run_model(path, feeds, FAST, model=model)
    assert r.status == "run-failed"
    (f,) = r.findings
    assert (f.code, f.node, f.node_index, f.op_type) == ("run-failed", "emb_gather", 1, "Gather")
    assert "emb_gather" in r.error and "out of data bounds" in f.message


def test_unavailable_provider_is_a_session_failure(tmp_path):
    path = _gather_model(tmp_path)
    model = open_model(path, infer=False)
    r = run_model(path, random_feeds(model), RunOptions(provider="NoSuchProvider"), model=model)
    assert r.status == "session-failed" and "NoSuchProvider" in r.findings[0].message


def test_compare_reports_errors_and_tolerances():
    m = compare({"y": np.array([1.0, 2.0, np.nan])}, {"y": np.array([1.0, 2.1, np.nan])})
    assert not m.ok and m.outputs[0].max_abs == pytest.approx(0.1)
    assert "rtol 0.001" in m.outputs[0].message
    assert compare({"s": np.array(["a"], object)}, {"s": np.array(["a"])}).ok


def test_the_child_starts_without_importing_onnx():
    # onnx takes seconds to import, and a run without capture does not need it.
    code = (
        "import sys, inspector.core.inference.child; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('onnx', 'PySide6', 'torch')))"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


# ------------------------------------------------------------------------- hangs and crashes


class _WhenRunning:
    """A progress callback that acts once the child says it has started its timed runs.

    The child prints its "warm-up"/"timed run" line right before ``session.run``, so acting on
    that line waits on the child itself, not on a guess at how long its start-up takes.
    """

    def __init__(self, action) -> None:
        self._action = action
        self._done = False

    def __call__(self, fraction: float, message: str) -> None:
        if not self._done and ("warm-up" in message or "timed run" in message):
            self._done = True
            self._action()


def test_cancel_kills_a_hung_run(tmp_path):
    path = endless_loop_model(tmp_path)
    cancel = CancelToken()
    start = time.monotonic()
    with pytest.raises(Cancelled):
        run_model(
            path,
            {"x": np.zeros(1, np.float32)},
            FAST,
            progress=_WhenRunning(cancel.cancel),
            cancel=cancel,
        )
    assert time.monotonic() - start < 60
    assert inference_children() == []


def test_timeout_stops_a_hung_run(tmp_path):
    path = endless_loop_model(tmp_path)
    r = run_model(path, {"x": np.zeros(1, np.float32)}, FAST, timeout=2.0)
    assert r.status == "timed-out" and r.findings[0].code == "timed-out"
    assert inference_children() == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the child in /proc")
def test_native_crash_is_reported_as_a_crash(tmp_path):
    # A segfault delivered to the child while ONNX Runtime runs: what a native crash looks like.
    path = endless_loop_model(tmp_path)
    crash = _WhenRunning(lambda: [os.kill(p, signal.SIGSEGV) for p in inference_children()])
    r = run_model(path, {"x": np.zeros(1, np.float32)}, FAST, progress=crash, timeout=120)
    assert r.status == "crashed"
    (f,) = r.findings
    assert f.code == "crashed" and "SIGSEGV" in f.message
    assert "Segmentation fault" in f.message  # faulthandler's line, from the child's stderr


def test_huge_allocation_is_a_run_failure_not_a_crash(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Expand", ["x", "shape"], ["y"], name="blow_up")],
        "huge",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["a", "b", "c"])],
        [numpy_helper.from_array(np.array([1 << 20, 1 << 20, 1 << 10], np.int64), "shape")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = save_checked(model, tmp_path / "huge.onnx")
    r = run_model(path, {"x": np.ones(1, np.float32)}, FAST, timeout=120)
    assert r.status in ("run-failed", "crashed"), r.status
    assert r.findings[0].node_index == 0 or r.status == "crashed"


# ------------------------------------------------------------------ NaN locator and profiling


def test_first_nan_node_is_located(tmp_path):
    path = nan_mid_graph_model(tmp_path)
    feeds = {"x": np.array([1, 2, 3, 4], np.float32)}
    plain = run_model(path, feeds, FAST)
    assert [f.code for f in plain.findings] == ["non-finite-output"]
    assert plain.first_nonfinite is None
    r = run_model(path, feeds, RunOptions(warmup=0, repeat=1, capture=["*"]))
    assert r.first_nonfinite == (2, "s")
    f = next(f for f in r.findings if f.code == "first-non-finite")
    assert (f.node, f.node_index, f.tensor) == ("sqrt_of_negative", 2, "s")
    captured = {t.name: t for t in r.intermediates}
    assert captured["n"].stats["nan"] == 0 and np.isnan(captured["s"].array()).all()


def test_profile_gives_a_time_to_every_node_that_ran(torch_cnn):
    model = open_model(torch_cnn, infer=False)
    r = run_model(torch_cnn, random_feeds(model), RunOptions(repeat=3, profile=True), model=model)
    assert r.ok, r.findings
    p = r.profile
    assert p is not None and p.kept
    timed = {model.graph.nodes[i].name for i, nt in p.node_times.items() if nt.us > 0}
    # Every original node the optimized graph kept (that is, ran) has a time ...
    assert p.kept <= timed
    # ... and so do the BatchNormalizations fused into their Conv, as part of the fused group.
    bn = [nt for nt in p.node_times.values() if nt.op_type == "BatchNormalization"]
    assert len(bn) == 2 and all(nt.source == "fused" and nt.us > 0 for nt in bn)
    # Every kernel event is on an original node, or explained (the NCHWc layout reorders).
    mapped = {nt.event for nt in p.node_times.values()}
    unmapped = {u["name"] for u in p.unmapped}
    assert all(e["name"] in mapped | unmapped for e in p.events)
    assert all(u["op_type"].startswith("Reorder") for u in p.unmapped)
    # The only nodes without a time are the constant-folded shape computation.
    assert all(model.graph.nodes[i].op_type in ("Constant", "Reshape") for i in p.not_run)


# ---------------------------------------------------------------------------------------- CLI


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inspector", *args], capture_output=True, text=True, timeout=300
    )


def _embedding() -> tuple[Path, Path]:
    m = next(m for m in shipped_models() if m.parent.name == "test_Embedding")
    return m, shipped_test_data(m)[0]


def test_cli_run_inputs_match_json():
    model, dataset = _embedding()
    r = run_cli("run", str(model), "--inputs", str(dataset), "--json", "--repeat", "3")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["match"]["ok"] and data["findings"] == []
    assert set(data["outputs"][0]) >= {
        "name",
        "dtype",
        "shape",
        "min",
        "max",
        "mean",
        "std",
        "nan",
        "inf",
    }
    assert set(data["latency_ms"]) == {"mean", "median", "p90", "min"}


def test_cli_run_disagreeing_expected_exits_1(tmp_path):
    model, dataset = _embedding()
    expected = tmp_path / "wrong.npz"
    np.savez(expected, **{"2": np.zeros((1, 4, 3), np.float32)})
    r = run_cli("run", str(model), "--inputs", str(dataset), "--expected", str(expected))
    assert r.returncode == 1
    assert "output-mismatch" in r.stdout and "DIFFER" in r.stdout


def test_cli_run_random_saves_outputs(tmp_path):
    model, _ = _embedding()
    out = tmp_path / "out.npz"
    r = run_cli("run", str(model), "--random", "--seed", "4", "--save-outputs", str(out))
    assert r.returncode == 0, r.stderr
    with np.load(out) as npz:
        assert npz["2"].shape == (1, 4, 3)


def test_cli_run_bad_arguments_exit_2_with_one_line(tmp_path):
    model, _ = _embedding()
    cases = [
        ("run", str(tmp_path / "missing.onnx")),
        ("run", str(model), "--save-outputs", str(model)),
        ("run", str(model), "--input", "0=" + str(tmp_path / "nope.npy")),
        ("run", str(model), "--input", "nonsense"),
        ("run", str(model), "--repeat", "0"),
    ]
    for args in cases:
        r = run_cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_cli_run_failure_exits_1_with_node():
    m = next(m for m in shipped_models() if m.parent.name == "test_Linear")
    r = run_cli("run", str(m), "--json")
    assert r.returncode == 1
    (f,) = json.loads(r.stdout)["findings"]
    assert f["code"] == "session-failed" and f["node_index"] == 0 and f["op_type"] == "Gemm"
