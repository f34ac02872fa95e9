"""Summary statistics of a tensor's values: what the properties panel shows for an initializer.

``tensor_stats(arr)`` works on any array the loader gives: floats (float16, bfloat16 and the
float8/float4 types of ``ml_dtypes`` included), ints (int4/uint4 too), bools, strings and empty
arrays. Values are read in chunks converted to float64 one at a time, so the extra memory is
bounded (a few MB) whatever the tensor's size, and the work can be cancelled between chunks.

Conventions: min, max, mean and std are over the finite values (NaN and ±Inf are counted
instead, so one NaN does not hide the rest); std is the population std (numpy's default,
``ddof=0``); for ints, min and max are exact, mean and std are computed in float64; a bool
tensor's mean is the fraction of True. Known limitations: complex and string tensors get counts
and first values only; a non-contiguous array is copied once to flatten it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from inspector.core.graph import format_float
from inspector.core.tasks import CancelToken, ProgressFn, no_progress

CHUNK = 1 << 18  # elements per float64 chunk: 2 MB of scratch memory
FIRST_VALUES = 8  # how many leading values are kept, formatted
_MAX_TEXT = 40  # a string value longer than this is shortened


@dataclass(frozen=True)
class TensorStats:
    """Statistics of one tensor. Numeric fields are None where they do not apply (no values)."""

    dtype: str  # numpy's name: "float32", "bfloat16", "<U5"-style names become "str"
    shape: tuple[int, ...]
    size: int  # element count
    nbytes: int  # in memory, as numpy holds it
    min: float | int | None  # over finite values; an int for integer and bool tensors
    max: float | int | None
    mean: float | None
    std: float | None
    nan_count: int
    inf_count: int
    zero_count: int
    first_values: tuple[str, ...]  # the first FIRST_VALUES values in row-major order, formatted

    @property
    def numeric(self) -> bool:
        """Whether min/max/mean/std were computed (not for strings, complex or empty tensors)."""
        return self.mean is not None


def tensor_stats(
    arr: np.ndarray,
    progress: ProgressFn = no_progress,
    cancel: CancelToken | None = None,
) -> TensorStats:
    """Statistics of ``arr`` (raises ``Cancelled`` if ``cancel`` is set while it works)."""
    flat = np.ravel(arr)
    kind = _kind(flat.dtype)
    head = tuple(_format(v, kind) for v in flat[:FIRST_VALUES])
    common = {
        "dtype": _dtype_name(flat.dtype),
        "shape": tuple(int(d) for d in arr.shape),
        "size": int(flat.size),
        "nbytes": int(arr.nbytes),
        "first_values": head,
    }
    if kind in ("float", "int", "bool"):
        acc = _Accumulator(kind)
        for start in range(0, flat.size, CHUNK):
            if cancel is not None:
                cancel.check()
            acc.add(flat[start : start + CHUNK])
            progress(min(1.0, (start + CHUNK) / flat.size), "computing statistics")
        return TensorStats(**common, **acc.result())
    zeros = nans = infs = 0
    if kind == "complex":
        for start in range(0, flat.size, CHUNK):
            if cancel is not None:
                cancel.check()
            chunk = flat[start : start + CHUNK]
            zeros += int(np.count_nonzero(chunk == 0))
            nans += int(np.count_nonzero(np.isnan(chunk)))
            infs += int(np.count_nonzero(np.isinf(chunk)))
    return TensorStats(
        **common,
        min=None,
        max=None,
        mean=None,
        std=None,
        nan_count=nans,
        inf_count=infs,
        zero_count=zeros,
    )


class _Accumulator:
    """Running min, max, mean and M2 (Chan et al.'s parallel variance) over finite values."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.count = 0  # finite values seen
        self.mean = 0.0
        self.m2 = 0.0
        self.lo: float | int | None = None
        self.hi: float | int | None = None
        self.nans = self.infs = self.zeros = 0

    def add(self, chunk: np.ndarray) -> None:
        values = chunk.astype(np.float64)  # ml_dtypes' types count and compare only this way
        self.zeros += int(np.count_nonzero(values == 0))
        if self.kind == "float":
            finite_mask = np.isfinite(values)
            n_finite = int(np.count_nonzero(finite_mask))
            if n_finite < values.size:
                n_nan = int(np.count_nonzero(np.isnan(values)))
                self.nans += n_nan
                self.infs += values.size - n_finite - n_nan
                values = values[finite_mask]
            if values.size == 0:
                return
            lo, hi = float(values.min()), float(values.max())
        else:
            # Ints keep their own dtype for min/max, which float64 cannot hold exactly past 2**53.
            lo, hi = int(chunk.min()), int(chunk.max())
        self.lo = lo if self.lo is None else min(self.lo, lo)
        self.hi = hi if self.hi is None else max(self.hi, hi)
        n = values.size
        mean = float(values.mean())
        m2 = float(np.square(values - mean).sum())
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.count * n / total
        self.count = total

    def result(self) -> dict[str, object]:
        has = self.count > 0
        return {
            "min": self.lo,
            "max": self.hi,
            "mean": self.mean if has else None,
            "std": math.sqrt(self.m2 / self.count) if has else None,
            "nan_count": self.nans,
            "inf_count": self.infs,
            "zero_count": self.zeros,
        }


def _kind(dtype: np.dtype) -> str:
    """ "float", "int", "bool", "complex" or "other" (strings, objects); ml_dtypes types included."""
    if dtype == np.bool_:
        return "bool"
    if np.issubdtype(dtype, np.complexfloating):
        return "complex"
    if np.issubdtype(dtype, np.floating):
        return "float"
    if np.issubdtype(dtype, np.integer):
        return "int"
    try:  # ml_dtypes' types (bfloat16, float8*, int4 ...) are not numpy subtypes
        import ml_dtypes
    except ImportError:
        return "other"
    for info, kind in ((ml_dtypes.finfo, "float"), (ml_dtypes.iinfo, "int")):
        try:
            info(dtype)
        except (TypeError, ValueError):
            continue
        return kind
    return "other"


def _dtype_name(dtype: np.dtype) -> str:
    if dtype.kind in "USO":
        return "str" if dtype.kind == "U" else "bytes" if dtype.kind == "S" else "object"
    return str(dtype)


def _format(value: object, kind: str) -> str:
    """One value as the panel shows it: floats to 6 significant digits, strings quoted."""
    if kind == "float":
        return format_float(float(value))  # type: ignore[arg-type]
    if kind == "int":
        return str(int(value))  # type: ignore[call-overload]
    if kind == "bool":
        return "true" if value else "false"
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value)
    if len(text) > _MAX_TEXT:
        text = text[: _MAX_TEXT - 1] + "…"
    return repr(text) if isinstance(value, str) else text
