"""Normalisation statistics, fitted on the train split only.

By default one scalar mean and standard deviation per channel: scalar (not per-pixel) statistics
keep a trained model usable on another grid. Per grid point (:class:`PointNormalizer`) only where
a paper's recipe uses them (FNO's and MgNO's ``UnitGaussianNormalizer``). Fitting on train alone
keeps validation and test data out of training. The statistics travel inside the checkpoint, so
scoring later needs no access to the train split.
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


def fit_point_stats(source: FieldSource, channels: list[str], frames: slice | None,
                    max_samples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each channel at each grid point ([C, X, Y] each), over the
    first ``max_samples`` samples (default all) and their frames: the statistics of the FNO and MgNO
    scripts' ``UnitGaussianNormalizer`` (``torch.mean(x, 0)``, ``torch.std(x, 0)``: the unbiased std
    over the training samples). Streamed in float64."""
    n = len(source) if max_samples is None else min(len(source), max_samples)
    total = total_sq = None
    count = 0
    for i in range(n):
        arr = source.read(i, channels, frames).astype(np.float64)  # [T, C, X, Y]
        total = arr.sum(axis=0) if total is None else total + arr.sum(axis=0)
        total_sq = (arr ** 2).sum(axis=0) if total_sq is None else total_sq + (arr ** 2).sum(axis=0)
        count += arr.shape[0]
    if count < 2:
        raise ValueError(f"cannot fit per-point statistics on {source.info.path}: {count} field(s), at least 2 needed")
    mean = total / count
    var = np.maximum(total_sq - count * mean ** 2, 0.0) / (count - 1)
    return mean, np.sqrt(var)


class PointNormalizer(nn.Module):
    """x -> (x - mean) / (std + 1e-5) at each grid point of each channel, on [B, T, C, X, Y] tensors: the
    FNO and MgNO scripts' ``UnitGaussianNormalizer`` (their eps added to the std). It ties a model to its
    training grid. Built empty with the grid's shape (so that a checkpoint's statistics load into it),
    then :meth:`fit` sets them; encoding before that is refused."""

    EPS = 1e-5

    def __init__(self, n_channels: int, spatial_shape: tuple[int, int]) -> None:
        super().__init__()
        shape = (1, 1, int(n_channels), *map(int, spatial_shape))
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("std", torch.ones(shape))
        self.register_buffer("fitted", torch.tensor(False))

    def fit(self, mean: np.ndarray, std: np.ndarray) -> None:
        """Set the statistics ([C, X, Y] each, as :func:`fit_point_stats` gives them)."""
        mean, std = (torch.as_tensor(np.asarray(a), dtype=torch.float32) for a in (mean, std))
        if tuple(mean.shape) != tuple(self.mean.shape[2:]) or tuple(std.shape) != tuple(self.std.shape[2:]):
            raise ValueError(f"per-point statistics of shape {tuple(mean.shape)} / {tuple(std.shape)} for a normaliser "
                             f"of {tuple(self.mean.shape[2:])} (channels, grid)")
        self.mean.copy_(mean.view_as(self.mean))
        self.std.copy_(std.view_as(self.std))
        self.fitted.fill_(True)

    def _check(self, x: torch.Tensor) -> None:
        if not bool(self.fitted):
            raise RuntimeError("a per-point normaliser was used before its statistics were fitted")
        if tuple(x.shape[-2:]) != tuple(self.mean.shape[-2:]):
            raise ValueError(f"per-point normalisation (recipe.normalization=per_point) was fitted on the "
                             f"{tuple(self.mean.shape[-2:])} grid and cannot be applied on {tuple(x.shape[-2:])}: "
                             "a model trained with it runs on its training grid only")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return (x - self.mean) / (self.std + self.EPS)

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        return x * (self.std + self.EPS) + self.mean
