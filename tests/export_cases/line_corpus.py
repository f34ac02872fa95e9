"""Failing and degraded exports whose cause is one line of the model's code, for the line test
(tests/core/test_export_lines.py). Each cause line ends in ``# <- cause: TAG``; the test finds it
by its tag. Causes sit in forward, in nested submodules, in helper functions and in
line_helpers.py (another file than the factory). Factories return (model, example inputs)."""

import line_helpers as helpers
import torch
import torch.nn.functional as F
from torch import nn


def _x(batch=3, features=8, dtype=torch.float32):
    return (torch.randn(batch, features, dtype=dtype),)


# -- unsupported aten ops -----------------------------------------------------------------------


class Decompose(nn.Module):
    def forward(self, x):
        u = torch.linalg.svd(x @ x.T)[0]  # <- cause: svd_nested
        return u.sum(-1)


class WithDecompose(nn.Module):
    def __init__(self):
        super().__init__()
        self.pre = nn.Linear(8, 8)
        self.decompose = Decompose()

    def forward(self, x):
        return self.decompose(self.pre(x))


def svd_nested():
    return WithDecompose(), _x()


class Ranked(nn.Module):
    def forward(self, x):
        return helpers.second_smallest(torch.relu(x))


def kthvalue_helper():
    return Ranked(), _x()


class CumMax(nn.Module):
    def forward(self, x):
        y = x * 2
        running = torch.cummax(y, dim=1).values  # <- cause: cummax
        return running + y


def cummax():
    return CumMax(), _x()


class Special(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        z = self.fc(x)
        return torch.special.bessel_j0(z)  # <- cause: bessel


def bessel():
    return Special(), _x()


class LogGamma(nn.Module):
    def forward(self, x):
        return torch.lgamma(x.abs() + 1)  # <- cause: lgamma


def lgamma():
    return LogGamma(), _x()


class Histogram(nn.Module):
    def forward(self, x):
        return torch.histc(x, bins=4)  # <- cause: histc


def histc():
    return Histogram(), _x()


class RunningLogSum(nn.Module):
    def forward(self, x):
        return torch.logcumsumexp(x, dim=1)  # <- cause: logcumsumexp


def logcumsumexp():
    """The dynamo exporter translates it; the TorchScript exporter has no symbolic."""
    return RunningLogSum(), _x()


class Median(nn.Module):
    def forward(self, x):
        values = torch.median(x, dim=0).values  # <- cause: median
        return values * 2


def median():
    return Median(), _x()


# -- custom ops and autograd functions ----------------------------------------------------------


class Shifted(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return helpers.shifted(self.fc(x))


def custom_op_helper():
    return Shifted(), _x()


class Rounder(nn.Module):
    def forward(self, x):
        return helpers.ToNumpyRound.apply(x * 4) / 4


def function_helper():
    return Rounder(), _x()


class Quantize(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, levels):
        steps = int(levels.item())  # <- cause: function_item
        return torch.round(x * steps) / steps

    @staticmethod
    def backward(ctx, grad):
        return grad, None


class Quantized(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("levels", torch.tensor(8.0))

    def forward(self, x):
        return Quantize.apply(x, self.levels)


def function_item():
    return Quantized(), _x()


# -- control flow on values ---------------------------------------------------------------------


class Flip(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return helpers.flip_if_positive(self.fc(x))


def data_if_helper():
    return Flip(), _x()


class Halve(nn.Module):
    def forward(self, x):
        while x.abs().max() > 1:  # <- cause: data_while
            x = x / 2
        return x


def data_while():
    return Halve(), (torch.randn(3, 8) * 10,)


class Router(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 8)
        self.b = nn.Linear(8, 8)

    def route(self, x):
        use_a = bool((x > 0).any())  # <- cause: data_bool
        return self.a(x) if use_a else self.b(x)

    def forward(self, x):
        return self.route(x) * 2


def data_bool():
    return Router(), _x()


# -- dims a dynamic export fixes ----------------------------------------------------------------


class FlattenFixed(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        y = self.fc(x)
        return y.reshape(3, 2, 4)  # <- cause: reshape_const


def reshape_const():
    return FlattenFixed(), _x()


class Positional(nn.Module):
    def __init__(self):
        super().__init__()
        self.table = nn.Parameter(torch.randn(3, 8))

    def forward(self, x):
        h = torch.tanh(x)
        return h + self.table  # <- cause: param_broadcast


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.pos = Positional()
        self.out = nn.Linear(8, 4)

    def forward(self, x):
        return self.out(self.pos(x))


def param_broadcast():
    return Encoder(), _x()


class MaskFixed(nn.Module):
    def forward(self, x):
        mask = torch.ones(3, 1)
        return x * mask.expand(3, 8)  # <- cause: expand_const


def expand_const():
    return MaskFixed(), _x()


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(x)


def batch_one():
    return Mlp(), _x(batch=1)  # <- cause: batch_one


# -- branches on shapes -------------------------------------------------------------------------


class Gated(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate = helpers.Gate()

    def forward(self, x):
        return self.gate(x) * 3


def gate_shape_if():
    return Gated(), _x()


class Widen(nn.Module):
    def forward(self, x):
        return helpers.widen_if_large(x)


def shape_ifexp():
    return Widen(), _x()


class LenTest(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        y = self.fc(x)
        if len(y) >= 4:  # <- cause: len_if
            y = y * 0.5
        return y


def len_if():
    return LenTest(), _x()


# -- values turned into Python numbers ----------------------------------------------------------


class Normalize(nn.Module):
    def forward(self, x):
        return helpers.scale_by_max(x) + 1


def item_helper():
    return Normalize(), _x()


class ToList(nn.Module):
    def forward(self, x):
        first = x[0].tolist()  # <- cause: tolist
        return x * first[0]


def tolist():
    return ToList(), _x()


class NumpyMean(nn.Module):
    def forward(self, x):
        mean = x.detach().numpy().mean()  # <- cause: numpy_mean
        return x - float(mean)


def numpy_mean():
    return NumpyMean(), _x()


# -- dtypes ---------------------------------------------------------------------------------------


class PreciseHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return helpers.precise_mean(self.fc(x))


def double_in_forward():
    return PreciseHead(), _x()


class Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        scale = torch.tensor([2.0], dtype=torch.float64)  # <- cause: float64_const
        return self.fc(x) * scale


def float64_const():
    return Scaled(), _x()


def float64_inputs():
    model = Mlp().double()  # <- cause: float64_inputs
    return model, (torch.randn(3, 8, dtype=torch.float64),)


def half_model():
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU())
    model = model.half()  # <- cause: half_model
    return model, (torch.randn(3, 8).half(),)


class HalfOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = helpers.Half()

    def forward(self, x):
        return self.body(x).float().sum(-1)


def half_in_forward():
    return HalfOut(), _x()


# -- outputs that differ --------------------------------------------------------------------------


class Jittered(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return helpers.jitter(self.fc(x))


def randn_helper():
    return Jittered(), _x()


class AlwaysDrop(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        h = self.fc(x)
        return F.dropout(h, p=0.5, training=True)  # <- cause: dropout_train


class DropStack(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = AlwaysDrop()

    def forward(self, x):
        return self.inner(x) + x


def dropout_train():
    return DropStack(), _x()


def mlp():
    """A clean model, for the opset settings (causes that are no line of code)."""
    return Mlp(), _x()
