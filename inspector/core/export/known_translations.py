"""Working onnxscript translations of aten ops the dynamo exporter cannot translate (torch 2.13,
onnxscript 0.7): the bodies :mod:`.translations` puts into the stubs it offers.

Each function is a real translation: ``torch.onnx.export(..., custom_translation_table={
torch.ops.aten.kthvalue.default: aten_kthvalue})`` exports with it. Its parameters carry the op
schema's names, in order, because :mod:`.translations` writes the signature from the schema and
takes only the body from here. The exporter calls it once per node at export time: tensors are
symbolic values, ints/floats/bools are plain Python values (so ``if keepdim:`` is fine).

Imported only in the export's child process (onnxscript comes with torch's exporter).

Known limitations: NaN inputs order as TopK orders them (torch's median and kthvalue treat NaN
as the largest value; ONNX TopK leaves their order unspecified).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from onnxscript import FLOAT, INT64
from onnxscript import opset18 as op


def aten_kthvalue(self: FLOAT, k: int, dim: int = -1, keepdim: bool = False) -> tuple[FLOAT, INT64]:
    """aten::kthvalue(Tensor self, SymInt k, int dim=-1, bool keepdim=False)"""
    # The k smallest along dim, ascending (TopK largest=0); the k-th is the last of them.
    values, indices = op.TopK(self, op.Constant(value_ints=[k]), axis=dim, largest=0, sorted=1)
    at = op.Constant(value_int=k - 1)
    values, indices = op.Gather(values, at, axis=dim), op.Gather(indices, at, axis=dim)
    if keepdim:
        values, indices = op.Unsqueeze(values, [dim]), op.Unsqueeze(indices, [dim])
    return values, indices


def aten_median_dim(self: FLOAT, dim: int, keepdim: bool = False) -> tuple[FLOAT, INT64]:
    """aten::median.dim(Tensor self, int dim, bool keepdim=False)"""
    # torch's median is the lower of the two middle values: the ((n - 1) // 2 + 1)-th smallest,
    # n read from the shape at run time (the dim may be dynamic).
    n = op.Gather(op.Shape(self), op.Constant(value_ints=[dim]))
    one = op.Constant(value_ints=[1])
    k = op.Add(op.Div(op.Sub(n, one), op.Constant(value_ints=[2])), one)
    values, indices = op.TopK(self, k, axis=dim, largest=0, sorted=1)
    at = op.Squeeze(op.Sub(k, one))
    values, indices = op.Gather(values, at, axis=dim), op.Gather(indices, at, axis=dim)
    if keepdim:
        values, indices = op.Unsqueeze(values, [dim]), op.Unsqueeze(indices, [dim])
    return values, indices


def aten_median(self: FLOAT) -> FLOAT:
    """aten::median(Tensor self)"""
    # The lower middle of all elements: sort the flattened tensor and take the
    # ((n - 1) // 2 + 1)-th smallest; a 0-d result, like torch's.
    flat = op.Reshape(self, op.Constant(value_ints=[-1]))
    one = op.Constant(value_ints=[1])
    k = op.Add(op.Div(op.Sub(op.Shape(flat), one), op.Constant(value_ints=[2])), one)
    values, _ = op.TopK(flat, k, axis=0, largest=0, sorted=1)
    return op.Gather(values, op.Squeeze(op.Sub(k, one)), axis=0)


def aten__cdist_forward(x1: FLOAT, x2: FLOAT, p: float, compute_mode: int | None) -> FLOAT:
    """aten::_cdist_forward(Tensor x1, Tensor x2, float p, int? compute_mode)"""
    # Every pair of rows: x1 [..., P, M] against x2 [..., R, M] gives [..., P, R, M] differences.
    # compute_mode only picks torch's algorithm (matrix products or not); the values agree.
    diff = op.Abs(op.Sub(op.Unsqueeze(x1, [-2]), op.Unsqueeze(x2, [-3])))
    last = op.Constant(value_ints=[-1])
    if p == 2.0:
        return op.Sqrt(op.ReduceSum(op.Mul(diff, diff), last, keepdims=0))
    if p == 1.0:
        return op.ReduceSum(diff, last, keepdims=0)
    if math.isinf(p):
        return op.ReduceMax(diff, last, keepdims=0)
    if p == 0.0:  # the count of coordinates that differ
        differs = op.Not(op.Equal(diff, op.CastLike(op.Constant(value_float=0.0), diff)))
        return op.ReduceSum(op.CastLike(differs, diff), last, keepdims=0)
    power = op.CastLike(op.Constant(value_float=p), diff)
    root = op.CastLike(op.Constant(value_float=1.0 / p), diff)
    return op.Pow(op.ReduceSum(op.Pow(diff, power), last, keepdims=0), root)


#: ``torch.ops.aten.NAME.OVERLOAD``'s name() ("aten::median.dim"; ".default" is left out by
#: torch) → its working translation.
KNOWN: dict[str, Callable[..., Any]] = {
    "aten::kthvalue": aten_kthvalue,
    "aten::median.dim": aten_median_dim,
    "aten::median": aten_median,
    "aten::_cdist_forward": aten__cdist_forward,
}
