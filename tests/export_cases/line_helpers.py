"""Helpers and submodules that line_corpus.py's models call: causes that sit in another file than
the factory. Each cause line ends in ``# <- cause: TAG``; tests/core/test_export_lines.py finds
the line by its tag, so the expectation follows the code when it moves."""

import torch
from torch import nn


def second_smallest(x):
    return torch.kthvalue(x, 2, dim=-1)[0]  # <- cause: helper_kthvalue


def flip_if_positive(x):
    if x.mean() > 0:  # <- cause: helper_data_if
        return -x
    return x


def widen_if_large(x):
    return x * 2 if x.shape[0] > 6 else x + 1  # <- cause: helper_shape_ifexp


def scale_by_max(x):
    return x / x.abs().max().item()  # <- cause: helper_item


def jitter(x):
    return x + 0.1 * torch.randn_like(x)  # <- cause: helper_randn


def precise_mean(x):
    return x.double().mean(-1, keepdim=True)  # <- cause: helper_double


class Gate(nn.Module):
    """A submodule whose forward holds the cause, two levels below the model."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x):
        y = self.proj(x)
        if y.shape[0] < 5:  # <- cause: gate_shape_if
            return torch.sigmoid(y)
        return torch.relu(y)


class ToNumpyRound(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        rounded = torch.from_numpy(x.detach().cpu().numpy().round())  # <- cause: helper_function
        return rounded.to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        return grad


@torch.library.custom_op("line_corpus::shift", mutates_args=())
def shift(x: torch.Tensor) -> torch.Tensor:
    return x + 1


@shift.register_fake
def _(x):
    return torch.empty_like(x)


def shifted(x):
    return shift(x) * 2  # <- cause: helper_custom_op


class Half(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x):
        return self.fc(x).half()  # <- cause: helper_half
