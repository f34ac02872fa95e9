"""Clean models: each exports with no error finding. Factories return (model, example inputs)."""

import torch
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2)
        )
        self.head = nn.Linear(8 * 8 * 8, 10)

    def forward(self, image):
        return self.head(torch.flatten(self.features(image), 1))


def cnn():
    return SmallCNN(), (torch.randn(2, 3, 16, 16),)


class SequenceClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(input_size=8, hidden_size=16, num_layers=2, batch_first=True)
        self.head = nn.Linear(16, 4)

    def forward(self, sequence):
        hidden, _ = self.lstm(sequence)
        return self.head(hidden[:, -1])


def lstm():
    return SequenceClassifier(), (torch.randn(2, 5, 8),)


def transformer():
    layer = nn.TransformerEncoderLayer(
        d_model=32, nhead=4, dim_feedforward=64, dropout=0.0, batch_first=True
    )
    return layer, (torch.randn(2, 10, 32),)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 4))

    def forward(self, x):
        return self.net(x)


def mlp():
    """No example inputs: the test gives an input spec."""
    return MLP()


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(8, 16)
        self.b = nn.Linear(4, 16)

    def forward(self, left, right):
        return torch.relu(self.a(left) + self.b(right)).sum(-1, keepdim=True)


def two_inputs():
    return TwoInputs(), (torch.randn(2, 8), torch.randn(2, 4))
