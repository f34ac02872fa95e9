"""Tensor statistics agree with numpy on real initializers, and with exact rational arithmetic
on edge ranges; the histogram never fails, whatever the range."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from inspector.core import tensor_stats as ts_module
from inspector.core.inference.protocol import histogram_to_json, stats_to_json
from inspector.core.tasks import Cancelled, CancelToken
from inspector.core.tensor_stats import HISTOGRAM_BINS, histogram, tensor_stats

DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"
MODELS = [
    DATA / "light" / "light_resnet50.onnx",
    DATA / "light" / "light_squeezenet.onnx",
    *(
        DATA / "pytorch-converted" / name / "model.onnx"
        for name in (
            "test_Conv2d",
            "test_BatchNorm2d_eval",
            "test_Linear",
            "test_Embedding",
            "test_PReLU_2d_multiparam",
            "test_ConvTranspose2d",
        )
    ),
]


def _check_against_numpy(arr: np.ndarray) -> None:
    s = tensor_stats(arr)
    ref = arr.astype(np.float64).ravel()
    finite = ref[np.isfinite(ref)]
    assert s.shape == arr.shape and s.size == arr.size and s.nbytes == arr.nbytes
    assert s.dtype == str(arr.dtype)
    assert s.nan_count == int(np.isnan(ref).sum())
    assert s.inf_count == int(np.isinf(ref).sum())
    assert s.zero_count == int((ref == 0).sum())
    if finite.size:
        assert s.min == finite.min() and s.max == finite.max()
        assert s.mean == pytest.approx(finite.mean(), rel=1e-9, abs=1e-12)
        assert s.std == pytest.approx(finite.std(), rel=1e-9, abs=1e-12)
    assert len(s.first_values) == min(arr.size, ts_module.FIRST_VALUES)


@pytest.mark.parametrize("path", MODELS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_real_initializers_match_numpy(path, monkeypatch):
    monkeypatch.setattr(ts_module, "CHUNK", 1000)  # many chunks even on small tensors
    proto = onnx.load(path)
    assert proto.graph.initializer
    for t in proto.graph.initializer:
        _check_against_numpy(numpy_helper.to_array(t))


def test_float_specials_are_counted_not_averaged():
    arr = np.array([[1.5, np.nan, np.inf], [-np.inf, 0.0, 2.5]], dtype=np.float32)
    s = tensor_stats(arr)
    assert (s.nan_count, s.inf_count, s.zero_count) == (1, 2, 1)
    assert (s.min, s.max, s.mean) == (0.0, 2.5, pytest.approx(4 / 3))
    assert s.first_values == ("1.5", "nan", "inf", "-inf", "0", "2.5")
    _check_against_numpy(arr)


def test_all_nan_has_no_mean():
    s = tensor_stats(np.full(5, np.nan, dtype=np.float16))
    assert s.nan_count == 5 and s.min is None and s.mean is None and not s.numeric


@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.int64, np.uint64, np.float16])
def test_numpy_dtypes(dtype):
    rng = np.random.default_rng(7)
    _check_against_numpy(rng.integers(0, 100, size=(3, 50)).astype(dtype))


def test_large_ints_are_exact():
    big = np.array([2**63 - 1, 2**63 - 2, -(2**63)], dtype=np.int64)
    s = tensor_stats(big)
    assert (s.min, s.max) == (-(2**63), 2**63 - 1)
    assert isinstance(s.min, int)


@pytest.mark.parametrize(
    "dtype", [ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2, ml_dtypes.int4]
)
def test_ml_dtypes(dtype):
    arr = np.array([1, -2, 0, 3, 0.5 if dtype is not ml_dtypes.int4 else 4], dtype=dtype)
    _check_against_numpy(arr)
    assert tensor_stats(arr).dtype == np.dtype(dtype).name


def test_bfloat16_initializer_round_trip():
    arr = np.linspace(-3, 3, 101).astype(ml_dtypes.bfloat16)
    back = numpy_helper.to_array(numpy_helper.from_array(arr, "w"))
    _check_against_numpy(back)


def test_bools():
    s = tensor_stats(np.array([True, False, True, True]))
    assert (s.min, s.max, s.mean, s.zero_count) == (0, 1, 0.75, 1)
    assert s.first_values == ("true", "false", "true", "true")


def test_strings_and_empty():
    s = tensor_stats(np.array(["cat", "dog" * 30], dtype=object))
    assert not s.numeric and s.size == 2 and s.first_values[0] == "'cat'"
    assert s.first_values[1].endswith("…'") and len(s.first_values[1]) < 50
    e = tensor_stats(np.zeros((0, 4), dtype=np.float32))
    assert e.size == 0 and e.shape == (0, 4) and e.first_values == () and not e.numeric
    scalar = tensor_stats(np.array(3.0))
    assert scalar.shape == () and scalar.size == 1 and scalar.std == 0.0


def test_complex_has_counts_only():
    s = tensor_stats(np.array([1 + 2j, 0, np.nan], dtype=np.complex64))
    assert not s.numeric and s.zero_count == 1 and s.nan_count == 1


def test_cancel_and_progress(monkeypatch):
    monkeypatch.setattr(ts_module, "CHUNK", 10)
    arr = np.arange(100, dtype=np.float32)
    seen: list[float] = []
    tensor_stats(arr, lambda f, _m: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) == 10
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        tensor_stats(arr, cancel=token)


# ------------------------------------------------------------- edge ranges, and the histogram

F64_MAX = float(np.finfo(np.float64).max)
I64 = np.iinfo(np.int64)
EDGE_CASES = {
    # The value a real CNN (light_inception_v1's last Softmax, weights from ConstantOfShape)
    # gives in every element: np.histogram's own range logic failed on it.
    "constant-large": np.full((1, 1000), 8.320439e20, np.float32),
    "constant-zero": np.zeros((2, 3), np.float32),
    "empty": np.zeros((0, 4), np.float32),
    "nan-only": np.full(5, np.nan, np.float32),
    "inf-only": np.array([np.inf, -np.inf], np.float32),
    "inf-and-values": np.array([np.inf, 1.0, -np.inf, 2.0, np.nan], np.float32),
    "huge-range-float32": np.array([1e-38, 3e38, -3e38, 0.0], np.float32),
    "float16-extremes": np.array([-65504, 65504, 6e-8, -6e-8, 0], np.float16),
    "float64-extremes": np.array([-F64_MAX, F64_MAX, 0.0]),
    "float64-near-max": np.array([F64_MAX, F64_MAX, 0.9 * F64_MAX]),
    "denormal-range": np.array([5e-324, 1e-320, 2e-320, 3e-320]),
    "one-ulp": np.array([1.0, np.nextafter(1.0, 2.0)]),
    "int64-extremes": np.array([I64.min, I64.max, 0], np.int64),
    "int64-close-large": np.array([2**62, 2**62 + 3, 2**62 + 1], np.int64),
    "uint64-max": np.array([0, 2**64 - 1], np.uint64),
    "uint8-all": np.arange(256, dtype=np.uint8).reshape(16, 16),
    "small-ints": np.array([0, 1, 1, 3], np.int32),
    "bool": np.array([True, False, True]),
    "0-d": np.array(3.5, np.float32),
    "bfloat16": np.array([1, -2, 3.5], ml_dtypes.bfloat16),
}


def _exact(arr: np.ndarray) -> tuple[Fraction, Fraction, Fraction] | None:
    """Mean, population variance and largest magnitude of the finite values, in exact rational
    arithmetic (no overflow, no rounding)."""
    if arr.dtype.kind in "biu":
        values = [Fraction(int(v)) for v in np.ravel(arr)]
    else:
        floats = np.ravel(arr).astype(np.float64)
        values = [Fraction(float(v)) for v in floats[np.isfinite(floats)]]
    if not values:
        return None
    mean = sum(values) / len(values)
    return mean, sum((v - mean) ** 2 for v in values) / len(values), max(abs(v) for v in values)


@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_stats_are_exact_and_finite_on_edge_ranges(name):
    arr = EDGE_CASES[name]
    s = tensor_stats(arr)
    exact = _exact(arr)
    if exact is None:
        assert s.mean is None and s.std is None and s.min is None
        return
    mean, var, peak = exact
    assert math.isfinite(s.mean) and math.isfinite(s.std)
    if peak == 0:
        assert s.mean == 0 and s.std == 0
        return
    # Relative to the largest magnitude: a mean that cancels (3e38 - 3e38 + 1e-38) is exact
    # only to float64's precision of the terms, and a denormal mean to the smallest denormal;
    # the spread is exact even a few ulps wide.
    tiny = Fraction(math.ulp(0.0))
    assert abs(Fraction(s.mean) - mean) <= peak / 10**12 + tiny
    assert float(Fraction(s.std) / peak) == pytest.approx(
        math.sqrt(float(var / peak**2)), rel=1e-9, abs=float(tiny / peak)
    )
    if arr.dtype.kind in "iu":  # exact, as Python ints, whatever their size
        assert (s.min, s.max) == (int(arr.min()), int(arr.max()))
    # What the child writes is strict JSON: no NaN or Infinity anywhere.
    json.dumps(stats_to_json(s), allow_nan=False)


@pytest.mark.parametrize("name", list(EDGE_CASES))
def test_histogram_on_edge_ranges(name):
    arr = EDGE_CASES[name]
    h = histogram(arr)
    values = np.ravel(arr).astype(np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        assert h is None and histogram_to_json(arr) is None
        return
    assert h is not None
    counts, edges = h
    assert len(counts) == len(edges) - 1 >= 1 and len(counts) <= HISTOGRAM_BINS
    assert counts.sum() == finite.size and (counts >= 0).all()
    assert np.isfinite(edges).all() and edges[0] == finite.min()
    if finite.min() == finite.max():
        assert list(counts) == [finite.size] and list(edges) == [finite.min()] * 2
    else:
        assert (np.diff(edges) > 0).all()
        assert edges[-1] in (finite.max(), finite.max() + 1)  # + 1: one bin per integer
    json.dumps(histogram_to_json(arr), allow_nan=False)


def test_histogram_bins_small_integers_one_per_value():
    counts, edges = histogram(EDGE_CASES["small-ints"])
    assert counts.tolist() == [1, 2, 0, 1] and edges.tolist() == [0, 1, 2, 3, 4]
    counts, edges = histogram(EDGE_CASES["bool"])
    assert counts.tolist() == [1, 2] and edges.tolist() == [0, 1, 2]
    counts, edges = histogram(EDGE_CASES["uint8-all"])
    assert counts.tolist() == [8] * 32 and (edges[0], edges[-1]) == (0, 255)


def test_histogram_is_none_for_strings_and_complex():
    assert histogram(np.array(["a", "b"], dtype=object)) is None
    assert histogram(np.array([1 + 1j], np.complex64)) is None


def test_histogram_samples_big_tensors(monkeypatch):
    monkeypatch.setattr(ts_module, "HISTOGRAM_SAMPLE", 1000)
    counts, _ = histogram(np.arange(10_000, dtype=np.float32))
    assert counts.sum() == 1000
