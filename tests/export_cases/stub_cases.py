"""Models whose aten ops the dynamo exporter cannot translate (torch 2.13, onnxscript 0.7), for
the translation stubs (tests/core/test_export_stubs.py). Factories return (model, inputs)."""

import torch
from torch import nn


class Kth(nn.Module):
    def forward(self, x):
        return torch.kthvalue(x, 2, dim=1)[0] + 1  # aten::kthvalue


def kthvalue():
    return Kth(), (torch.randn(4, 6),)


class Median(nn.Module):
    def forward(self, x):
        values, indices = torch.median(x, dim=-1, keepdim=True)  # aten::median.dim
        return values * 2, indices


def median_dim():
    return Median(), (torch.randn(3, 7),)


class MedianAll(nn.Module):
    def forward(self, x):
        return torch.median(x) - x  # aten::median (of every element)


def median_all():
    return MedianAll(), (torch.randn(3, 5),)


class Cdist(nn.Module):
    def forward(self, x, y):
        # aten::_cdist_forward, at every p its translation treats apart
        near = torch.cdist(x, y) + torch.cdist(x, y, p=3.0)
        return near + torch.cdist(x, y, p=float("inf")) + torch.cdist(x.round(), y.round(), p=0.0)


def cdist():
    return Cdist(), (torch.randn(5, 4), torch.randn(3, 4))


class Three(nn.Module):
    def forward(self, x, y):
        a = torch.kthvalue(x, 3, dim=0)[0]
        b = torch.median(x, dim=1)[0]
        return torch.cdist(x, y, p=1.0).sum(0) + a.sum() + b.sum()


def three():
    return Three(), (torch.randn(5, 4), torch.randn(3, 4))


class ToFillIn(nn.Module):
    def forward(self, x):
        a = torch.polygamma(1, x.abs() + 1)  # aten::polygamma: no translation, no decomposition
        b = torch.erfinv(torch.tanh(x))  # torch decomposes it into prims::erf_inv, untranslated
        return a + b + torch.kthvalue(x, 2)[0].unsqueeze(-1)  # aten::kthvalue: a working body


def to_fill_in():
    return ToFillIn(), (torch.randn(4, 6),)
