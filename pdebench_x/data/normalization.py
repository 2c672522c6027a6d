"""One scalar mean and standard deviation per channel, fitted on the train split only.

Scalar (not per-pixel) statistics keep a trained model usable on another grid; fitting on
train alone keeps validation and test data out of training. The statistics travel inside the
checkpoint, so scoring later needs no access to the train split.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from pdebench_x.data.formats.base import FieldSource


def fit_channel_stats(source: FieldSource, channels: list[str], frames: slice | None,
                      max_samples: int | None = 256) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of each channel over space, frames and the first ``max_samples`` samples.

    Accumulated in float64 (sum and sum of squares per channel) so that it streams.
    """
    n = len(source) if max_samples is None else min(len(source), max_samples)
    if n == 0:
        raise ValueError(f"cannot fit normalisation statistics: {source.info.path} has no samples")
    total = np.zeros(len(channels))
    total_sq = np.zeros(len(channels))
    count = 0
    for i in range(n):
        arr = source.read(i, channels, frames).astype(np.float64)  # [T, C, X, Y]
        total += arr.sum(axis=(0, 2, 3))
        total_sq += (arr ** 2).sum(axis=(0, 2, 3))
        count += arr.shape[0] * arr.shape[2] * arr.shape[3]
    mean = total / count
    var = np.maximum(total_sq / count - mean ** 2, 0.0)
    std = np.sqrt(var)
    # A constant channel (e.g. zero velocity everywhere) must not divide by zero.
    std = np.where(std > 1e-12 * np.maximum(1.0, np.abs(mean)), std, 1.0)
    return mean, std


class ChannelNormalizer(nn.Module):
    """x -> (x - mean) / std per channel on [B, T, C, X, Y] tensors; buffers saved in checkpoints."""

    def __init__(self, mean, std) -> None:
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean), dtype=torch.float32).view(1, 1, -1, 1, 1))
        self.register_buffer("std", torch.as_tensor(np.asarray(std), dtype=torch.float32).view(1, 1, -1, 1, 1))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean

    def select(self, index: list[int]) -> "ChannelNormalizer":
        """The normaliser of a subset of the channels (inputs and targets may differ)."""
        return ChannelNormalizer(self.mean.view(-1)[index].cpu().numpy(), self.std.view(-1)[index].cpu().numpy())
