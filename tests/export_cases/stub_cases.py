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


class Cdist(nn.Module):
    def forward(self, x, y):
        return torch.cdist(x, y)  # aten::_cdist_forward


def cdist():
    return Cdist(), (torch.randn(5, 4), torch.randn(3, 4))


class Three(nn.Module):
    def forward(self, x, y):
        a = torch.kthvalue(x, 3, dim=0)[0]
        b = torch.median(x, dim=1)[0]
        return torch.cdist(x, y, p=1.0).sum(0) + a.sum() + b.sum()


def three():
    return Three(), (torch.randn(5, 4), torch.randn(3, 4))


class Polygamma(nn.Module):
    def forward(self, x):
        return torch.polygamma(1, x.abs() + 1) + torch.kthvalue(x, 2)[0].unsqueeze(-1)


def polygamma():
    return Polygamma(), (torch.randn(4, 6),)


class Erfinv(nn.Module):
    def forward(self, x):
        return torch.erfinv(torch.tanh(x))  # decomposed by torch into prims::erf_inv


def erfinv():
    return Erfinv(), (torch.randn(4, 6),)
