"""Tensor statistics agree with numpy on real initializers and on edge cases."""

from __future__ import annotations

from pathlib import Path

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from inspector.core import tensor_stats as ts_module
from inspector.core.tasks import Cancelled, CancelToken
from inspector.core.tensor_stats import tensor_stats

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
