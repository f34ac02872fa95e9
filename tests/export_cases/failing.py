"""Models that fail to export or export degraded, one factory each (see tests/core/test_export.py
for the expected finding code of each). Factories return (model, example inputs)."""

import torch
from torch import nn


def _x(batch=2, features=8, dtype=torch.float32):
    return (torch.randn(batch, features, dtype=dtype),)


class Svd(nn.Module):
    def forward(self, x):
        return torch.linalg.svd(x)[0]  # aten::_linalg_svd has no ONNX translation


def svd():
    return Svd(), (torch.randn(4, 4),)


class Kth(nn.Module):
    def forward(self, x):
        return torch.kthvalue(x, 2)[0]  # no translation in either exporter


def kthvalue():
    return Kth(), (torch.randn(4, 4),)


@torch.library.custom_op("inspector_tests::twice", mutates_args=())
def twice(x: torch.Tensor) -> torch.Tensor:
    return x * 2


@twice.register_fake
def _(x):
    return torch.empty_like(x)


class CustomOp(nn.Module):
    def forward(self, x):
        return twice(x) + 1  # a library op with no ONNX translation


def custom_op():
    return CustomOp(), _x()


class NumpyClamp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = torch.from_numpy(x.detach().numpy().clip(0, 1))  # leaves torch: cannot be traced
        return y

    @staticmethod
    def backward(ctx, grad):
        return grad


class WithFunction(nn.Module):
    def forward(self, x):
        return NumpyClamp.apply(x) * 2


def autograd_function():
    return WithFunction(), _x()


class DataIf(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        if x.sum() > 0:  # a branch on a tensor's value
            return self.fc(x)
        return -self.fc(x)


def data_if():
    return DataIf(), _x()


class FixedBatch(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("offset", torch.ones(2, 8))  # only fits a batch of 2

    def forward(self, x):
        return x + self.offset


def fixed_batch():
    return FixedBatch(), _x()


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(x)


def batch_of_one():
    return Mlp(), _x(batch=1)  # torch.export specializes an example size of 1


def mlp():
    return Mlp(), _x()


class ShapeIf(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        if x.shape[0] > 4:  # baked at the example batch of 2
            return self.fc(x) * 2
        return self.fc(x) + 1


def shape_if():
    return ShapeIf(), _x()


def float64_cnn():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    return model.double(), (torch.randn(2, 3, 8, 8, dtype=torch.float64),)


def float64_mlp():
    return Mlp().double(), _x(dtype=torch.float64)


def fp16_mlp():
    return Mlp().half(), _x(dtype=torch.float16)


class Noisy(nn.Module):
    def forward(self, x):
        return x + torch.rand_like(x)  # random in PyTorch, other random numbers in ONNX Runtime


def noisy():
    return Noisy(), _x()


def broken():
    raise ValueError("checkpoint path not set")
