"""Models whose export one of the wizard's own fixes repairs (tests/ui/test_wizard_fixes.py).
Factories return (model, example inputs); each names the fix that repairs it."""

import torch
from torch import nn


class Distances(nn.Module):
    def forward(self, x):
        return torch.cdist(x, x)  # dynamo has no translation; the TorchScript exporter has


def cdist():
    """Fixed by the TorchScript exporter."""
    return Distances(), (torch.randn(4, 3),)


class Sinc(nn.Module):
    def forward(self, x):
        return torch.sinc(x)  # the TorchScript exporter has no symbolic; dynamo has


def sinc():
    """Fixed by the dynamo exporter (when exported with the TorchScript one)."""
    return Sinc(), (torch.randn(4, 4),)


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(x).relu()


def half_weights():
    """float16 weights fed float32: fixed by float32 inputs and outputs around them."""
    return Head().half(), (torch.randn(2, 8),)


def float64_cnn():
    """float64 Conv, which ONNX Runtime's CPU cannot run: fixed by casting to float32."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    return model.double(), (torch.randn(2, 3, 8, 8, dtype=torch.float64),)


def head():
    """A fixed batch of 2 (fixed-batch-dim): fixed by declaring the batch dynamic. Exported
    with the TorchScript exporter at opset 25, fixed by another opset."""
    return Head(), (torch.randn(2, 8),)


class BatchOfTwo(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("offset", torch.ones(2, 8))  # only fits a batch of 2

    def forward(self, x):
        return x + self.offset


def batch_of_two():
    """Exported with a dynamic batch, which the buffer fixes: fixed by making the dim static."""
    return BatchOfTwo(), (torch.randn(2, 8),)


class RunningSum(nn.Module):
    def forward(self, x):
        return torch.cumsum(x, dim=1)  # TorchScript exporter: CumSum needs opset 11 or newer


def running_sum():
    """Exported with the TorchScript exporter at opset 10: fixed by a newer opset."""
    return RunningSum(), (torch.randn(2, 8),)
