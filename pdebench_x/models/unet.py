"""U-Net baseline (Ronneberger et al. 2015, in the form PDEArena and the FNO paper compare to).

``levels`` down-sampling stages (2x2 average pooling), widths ``width * 2**level``; each stage
is two [3x3 conv, GroupNorm, GELU] blocks; the decoder upsamples by 2 (transposed conv),
concatenates the skip and applies the same block. Input frames are flattened into channels
and the output is ``out_steps * out_channels`` channels. Padding follows the data's boundary
condition (circular for periodic fields). The grid must be divisible by 2**levels.
"""
from __future__ import annotations

import torch
from torch import nn

from pdebench_x.models.base import OperatorModel


def conv_block(cin: int, cout: int, padding_mode: str, groups: int = 8) -> nn.Sequential:
    def norm(c):
        return nn.GroupNorm(min(groups, c), c)
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, padding_mode=padding_mode), norm(cout), nn.GELU(),
        nn.Conv2d(cout, cout, 3, padding=1, padding_mode=padding_mode), norm(cout), nn.GELU())


class UNet(OperatorModel):
    def __init__(self, in_steps: int, in_channels: int, out_steps: int, out_channels: int,
                 padding: str = "zeros", width: int = 32, levels: int = 4) -> None:
        super().__init__(in_steps, in_channels, out_steps, out_channels, padding)
        self.levels = levels
        widths = [width * 2 ** i for i in range(levels + 1)]
        self.inc = conv_block(self.flat_in_channels, widths[0], padding)
        self.down = nn.ModuleList(conv_block(widths[i], widths[i + 1], padding) for i in range(levels))
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(levels))
        self.dec = nn.ModuleList(conv_block(2 * widths[i], widths[i], padding) for i in range(levels))
        self.out = nn.Conv2d(widths[0], self.flat_out_channels, 1)
        self.pool = nn.AvgPool2d(2)

    def check_grid(self, shape: tuple[int, int]) -> None:
        stride = 2 ** self.levels
        if shape[0] % stride or shape[1] % stride:
            raise ValueError(f"UNet with {self.levels} levels needs a grid divisible by {stride}; got "
                             f"{tuple(shape)}. Lower model.net.levels or change the resolution.")

    def forward(self, x, cond=None):
        h = self.flatten_time(x)
        self.check_grid(tuple(h.shape[-2:]))
        skips = [self.inc(h)]
        for block in self.down:
            skips.append(block(self.pool(skips[-1])))
        h = skips.pop()
        for i in reversed(range(self.levels)):
            h = self.dec[i](torch.cat([self.up[i](h), skips[i]], 1))
        return self.unflatten_time(self.out(h))
