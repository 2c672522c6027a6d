"""A toy solver written only to try the submission steps as a new user would.

It ignores its input and predicts one learned value per output channel and step, in the
task's normalised units: at initialisation (zero) that is exactly the train split's mean
field value, decoded by the task. Its module + yaml are what SUBMITTING.md asks a
contributor to add.
"""
from __future__ import annotations

import torch
from torch import nn

from pdebench_x.models.base import OperatorModel


class TrainMean(OperatorModel):
    """u(x) = c_k for every point: the constant that minimises the training loss."""

    def __init__(self, in_steps: int, in_channels: int, out_steps: int, out_channels: int,
                 padding: str = "zeros") -> None:
        super().__init__(in_steps, in_channels, out_steps, out_channels, padding)
        self.value = nn.Parameter(torch.zeros(out_steps, out_channels))

    def forward(self, x: torch.Tensor, cond=None) -> torch.Tensor:
        self.check_input(x)
        b, _, _, h, w = x.shape
        return self.value[None, :, :, None, None].expand(b, -1, -1, h, w)


#: The model yaml a contributor adds as pdebench_x/conf/model/<name>.yaml.
MODEL_YAML = """\
# Toy solver: predicts a constant per channel (the train mean at initialisation).
defaults:
  - /schema/model/operator@_here_
  - _self_

name: train_mean
paper: null
code: null
supports: [darcy]
net:
  _target_: toy_mean_solver.TrainMean
recipe:
  loss: rel_l2
  loss_space: physical
  optimizer: {_target_: torch.optim.Adam, lr: 1.0e-3}
  scheduler: null
  train_mode: one_step
  monitor: val/loss
  gradient_clip_val: null
"""
