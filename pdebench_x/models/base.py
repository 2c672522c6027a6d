"""The contract between the training task and every operator-learning model.

Every model maps a window of input frames to a window of output frames:

    forward(x: [B, in_steps, in_channels, X, Y], cond: dict | None) -> [B, out_steps, out_channels, X, Y]

Steady problems (Darcy) use in_steps = out_steps = 1. ``cond`` carries optional
conditioning (per-sample scalars, equation tokens) for the models that use it; the others
ignore it. The task builds a model from its config with the data's shape information:
``in_steps, in_channels, out_steps, out_channels, padding`` (padding is "circular" for
periodic data and "zeros" otherwise), plus the model's own hyperparameters.

A model states what it needs from the task through class attributes rather than the task
growing model-specific branches: see :class:`OperatorModel`.
"""
from __future__ import annotations

import torch
from torch import nn


class OperatorModel(nn.Module):
    """Base class: stores the window shapes and offers the channel-flattening helpers.

    Class attributes a model may override:
      ``needs_cond``: the model reads ``cond``. The task then passes
        ``cond = {"family": str, "scalars": {name: Tensor[B]}}`` holding every scalar of the
        sample (the dataset's constants broadcast, and the per-sample ones), from which a
        model such as PROSE builds its equation tokens.
    """

    needs_cond: bool = False

    def forward_with_aux(self, x: torch.Tensor, cond: dict | None = None
                         ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Prediction plus extra, already weighted loss terms the task adds to its loss.

        Models with auxiliary objectives (PROSE's symbol cross-entropy) override this; the
        task logs each term under its key and adds them all to the data loss.
        """
        return self(x, cond), {}

    def extra_metrics(self, x: torch.Tensor, cond: dict | None = None) -> dict[str, torch.Tensor]:
        """Per-sample metrics beyond the field metrics (e.g. symbol accuracy), each [B]."""
        return {}

    def __init__(self, in_steps: int, in_channels: int, out_steps: int, out_channels: int,
                 padding: str = "zeros") -> None:
        super().__init__()
        if padding not in ("zeros", "circular"):
            raise ValueError(f"padding must be 'zeros' or 'circular', got {padding!r}")
        self.in_steps = int(in_steps)
        self.in_channels = int(in_channels)
        self.out_steps = int(out_steps)
        self.out_channels = int(out_channels)
        self.padding = padding

    def check_grid(self, shape: tuple[int, int]) -> None:
        """Raise ValueError, naming the setting to change, if this model cannot take a grid of
        ``shape`` (X, Y). Called by ``forward`` and, before any data is generated or training
        starts, by :mod:`pdebench_x.training.preflight`. Models without a constraint accept any grid."""

    def check_input(self, x: torch.Tensor) -> None:
        expected = (self.in_steps, self.in_channels)
        if x.ndim != 5 or tuple(x.shape[1:3]) != expected:
            raise ValueError(
                f"{type(self).__name__} expects input [B, {self.in_steps}, {self.in_channels}, X, Y], "
                f"got {list(x.shape)}: check the data config's history/fields against the model's")

    def flatten_time(self, x: torch.Tensor) -> torch.Tensor:
        """[B, T, C, X, Y] -> [B, T*C, X, Y] (time-major, as PDEArena does)."""
        self.check_input(x)
        b, t, c, h, w = x.shape
        return x.reshape(b, t * c, h, w)

    def unflatten_time(self, y: torch.Tensor) -> torch.Tensor:
        """[B, out_steps*out_channels, X, Y] -> [B, out_steps, out_channels, X, Y]."""
        b, _, h, w = y.shape
        return y.reshape(b, self.out_steps, self.out_channels, h, w)

    @property
    def flat_in_channels(self) -> int:
        return self.in_steps * self.in_channels

    @property
    def flat_out_channels(self) -> int:
        return self.out_steps * self.out_channels


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
