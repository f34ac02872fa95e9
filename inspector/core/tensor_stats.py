"""Summary statistics of a tensor's values: what the properties panel shows for an initializer.

``tensor_stats(arr)`` works on any array the loader gives: floats (float16, bfloat16 and the
float8/float4 types of ``ml_dtypes`` included), ints (int4/uint4 too), bools, strings and empty
arrays. Values are read in chunks converted to float64 one at a time, so the extra memory is
bounded (a few MB) whatever the tensor's size, and the work can be cancelled between chunks.

Conventions: min, max, mean and std are over the finite values (NaN and ±Inf are counted
instead, so one NaN does not hide the rest); std is the population std (numpy's default,
``ddof=0``); for ints, min and max are exact, mean and std are computed in float64; a bool
tensor's mean is the fraction of True. Mean and std are accumulated on values scaled by a power
of two (exact), so float64 tensors near the overflow limit or in the denormal range get finite,
non-zero figures instead of inf or 0.

:func:`histogram` bins the finite values of any numeric tensor (whatever its range: constant,
one ulp wide, ±1.8e308, denormal, int64 extremes) for the inference results' chart.

Known limitations: complex and string tensors get counts and first values only; a non-contiguous
array is copied once to flatten it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from inspector.core.tasks import CancelToken, ProgressFn, no_progress
from inspector.core.text import format_float

CHUNK = 1 << 18  # elements per float64 chunk: 2 MB of scratch memory
FIRST_VALUES = 8  # how many leading values are kept, formatted
HISTOGRAM_BINS = 32
HISTOGRAM_SAMPLE = 1 << 22  # values a histogram looks at: bounded time whatever the tensor's size
_EXACT_INT = 2**53  # past this, float64 cannot tell consecutive integers apart
_SAFE_EXP = 400  # |values| within 2**±400: float64 squares and their sums stay finite and normal
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
    """Running min, max, mean and M2 (Chan et al.'s parallel variance) over finite values.

    Mean and M2 are kept in working units, so float64 neither overflows nor rounds the spread
    away: values are taken relative to an ``offset`` (the first value seen), so a spread of a few
    ulps or, for int64 near ±9.2e18, of a few units survives; floats past 2**±400 are also scaled
    by ``2**-exp``, the power of two just above the largest magnitude seen (exact), because
    squares past ~1e154 overflow and those of denormals underflow to 0.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.count = 0  # finite values seen
        self.offset: float | int = 0  # working units: (value - offset), floats * 2**-exp
        self.exp = 0
        self.mean = 0.0  # in working units
        self.m2 = 0.0  # in working units squared
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
            if self.count == 0:
                self.offset = float(values[0])
            self._rescale(max(abs(lo), abs(hi)))
            if self.exp:  # both terms at most 1 in magnitude: no overflow, exact when close
                units = np.ldexp(values, -self.exp) - math.ldexp(self.offset, -self.exp)
            else:
                units = values - self.offset
        else:
            # Ints keep their own dtype for min/max, which float64 cannot hold exactly past 2**53.
            lo, hi = int(chunk.min()), int(chunk.max())
            if self.count == 0:
                self.offset = lo
            units = _minus(chunk, lo) + float(lo - self.offset)
        self.lo = lo if self.lo is None else min(self.lo, lo)
        self.hi = hi if self.hi is None else max(self.hi, hi)
        n = units.size
        mean = float(units.mean())
        m2 = float(np.square(units - mean).sum())
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += m2 + delta * delta * self.count * n / total
        self.count = total

    def _rescale(self, peak: float) -> None:
        """Raise the scale (never lower it) so that ``peak`` is below 1 in working units, where
        its square could overflow or underflow; values in between are left unscaled (faster)."""
        if peak == 0.0:
            return
        exp = math.frexp(peak)[1]  # peak < 2**exp
        if -_SAFE_EXP < exp < _SAFE_EXP:
            exp = 0
        if self.count == 0:
            self.exp = exp
        elif exp > self.exp:
            self.mean = math.ldexp(self.mean, self.exp - exp)
            self.m2 = math.ldexp(self.m2, 2 * (self.exp - exp))
            self.exp = exp

    def result(self) -> dict[str, object]:
        if self.count == 0:
            mean = std = None
        elif self.kind == "float":
            mean = math.ldexp(math.ldexp(self.offset, -self.exp) + self.mean, self.exp)
            std = math.ldexp(math.sqrt(self.m2 / self.count), self.exp)
        else:
            mean = self.offset + self.mean
            std = math.sqrt(self.m2 / self.count)
        return {
            "min": self.lo,
            "max": self.hi,
            "mean": mean,
            "std": std,
            "nan_count": self.nans,
            "inf_count": self.infs,
            "zero_count": self.zeros,
        }


def _minus(chunk: np.ndarray, lo: int) -> np.ndarray:
    """``chunk - lo`` as float64 for an integer chunk whose minimum is ``lo``: the difference is
    taken in uint64, which wraps, so it is exact for any pair of 64-bit integers."""
    as_u64 = chunk.astype(np.uint64) if chunk.dtype == np.uint64 else chunk.astype(np.int64)
    return (as_u64.view(np.uint64) - np.uint64(lo % 2**64)).astype(np.float64)


def histogram(arr: np.ndarray, bins: int = HISTOGRAM_BINS) -> tuple[np.ndarray, np.ndarray] | None:
    """``(counts, edges)`` of the finite values of a numeric tensor; None when it has none
    (empty, all NaN/Inf, or not numeric: strings, complex).

    A tensor bigger than ``HISTOGRAM_SAMPLE`` values is sampled with an even stride. Edges are
    float64 and strictly increasing, except for a constant tensor: one bin with both edges at its
    value. Integers (and bools) spanning fewer than ``bins`` values get one bin per value,
    ``[k, k + 1)``. Bins are computed here, not by ``np.histogram``'s range logic, which fails
    ("Too many bins for data range") on constant tensors of large magnitude, on ranges a few ulps
    wide, and on ranges wider than the float64 maximum.
    """
    flat = np.ravel(arr)
    kind = _kind(flat.dtype)
    if kind not in ("float", "int", "bool") or flat.size == 0:
        return None
    if flat.size > HISTOGRAM_SAMPLE:
        flat = flat[:: -(-flat.size // HISTOGRAM_SAMPLE)]
    values = flat.astype(np.float64)
    if kind == "float":
        values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    lo, hi = float(values.min()), float(values.max())
    if lo == hi:
        return np.array([values.size]), np.array([lo, hi])
    if kind != "float" and hi - lo < bins and max(-lo, hi + 1) <= _EXACT_INT:
        edges = np.arange(lo, hi + 2)  # one bin per integer value
    else:
        # A convex combination of the two ends never overflows (hi - lo can: -1e308 .. 1e308);
        # np.unique drops edges that rounding made equal when the range is a few ulps wide.
        t = np.linspace(0.0, 1.0, bins + 1)
        edges = np.unique(np.concatenate(([lo], lo * (1.0 - t[1:-1]) + hi * t[1:-1], [hi])))
    counts, _ = np.histogram(values, bins=edges)
    return counts, edges


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
