"""SineNet: a sequence of U-shaped "waves" for time-dependent PDEs.

Paper: X. Zhang, J. Helwig, Y. Lin, Y. Xie, C. Fu, S. Wojtowytsch, S. Ji, "SineNet: Learning
Temporal Dynamics in Time-Dependent Partial Differential Equations", ICLR 2024.
Official code: github.com/divelab/AIRS @ 4a16c68, OpenPDE/SineNet/pdearena/modules/sinenet_dual.py
(the ``sinenet*-dual[-circ]`` entries of its model registry). This module is written from the
paper and from reading that code; it reproduces the official architecture exactly (same layers,
same wiring, same parameter count: 35,490,219 for SineNet-8 in the PDEArena Navier-Stokes setting).

Architecture, with hidden width ``c`` and width multiplier ``m`` (level i has ``c_i = int(c m^i)``
channels, i = 0..L, L = ``levels`` = 4)::

    x: [B, T, C, H, W] -> [B, T*C, H, W]                (time-major flattening, as PDEArena)
    h = Conv3x3(T*C -> c)(x)
    for k = 1..K:                                       (K = num_waves, in sequence)
        h = h + Wave_k(h)
    y = Conv3x3(c -> out_steps*out_channels)(h)         (the next state itself, not a delta)

    Wave(v):  s_0 = v, d_0 = v
      down, level i = 1..L:   d_i = AvgPool2(d_{i-1})                      (the wave input, pooled)
                              p   = AvgPool2(s_{i-1})
                              s_i = ConvBlock([p, d_i] if i >= 2 else p) + Conv1x1(p)
      up, level i = L-1..0:   u   = Up2(z_{i+1})   (z_L = s_L)
                              z_i = ConvBlock([s_i, u]) + Conv1x1(u)
      return z_0

    ConvBlock = [Conv3x3, GroupNorm(1 group), GELU] x 2

The "dual"/"disentangled" path is the concatenation of d_i, the wave's *own input* average-pooled
to level i (``c`` channels), into the down blocks of levels 2..L; level 1 sees only the pooled
features (in level 1 the two coincide). The 1x1 residual shortcut reads the pooled features p
(without d_i) on the way down and the upsampled features u (without the skip) on the way up,
as in the official code.

Up2 is bicubic x2 interpolation (align_corners=False). With ``padding="circular"`` the field is
first padded periodically by 2 coarse cells, interpolated and cropped by 4 fine cells, so the
upsampling is that of the periodic field: the whole network then commutes exactly with periodic
shifts by multiples of its coarsest stride 2^L (AvgPool2 commutes with even shifts, circular
convolutions and the per-sample GroupNorm with every shift). With ``padding="zeros"`` Up2 is
plain ``interpolate`` (which clamps at the border), as in the official code. The 2-cell pad is
what bicubic needs: fine cell j sits at coarse coordinate j/2 - 1/4 and uses coarse cells
floor(.)-1 .. floor(.)+2. (torch's bicubic is Keys' kernel with a = -0.75: it reproduces
constants, not linear functions, so as an interpolant of a smooth field it is first order.)

Width multiplier: the paper keeps the budget at ~35.5M parameters (hidden 64) as K varies, with
m = 1.8075 (K=2), 1.611 (K=4), 1.5 (K=6), 1.425 (K=8); ``mult=None`` picks m from this table and
any other K needs an explicit ``mult``.

Paper vs official code, and what is chosen here:
  * The parameter count "35.5M" is that of the official ``sinenet8-dual`` registry entry
    (35,490,219) built for PDEArena incompressible Navier-Stokes: history 4, three fields (smoke
    density + 2 velocity components), i.e. 12 input and 3 output channels, hidden 64, K=8,
    m=1.425. Shallow water (history 2) has 3,456 fewer (the input convolution).
  * The paper's figure shows generic down/up blocks; the code's exact wiring (pooled wave input
    concatenated only at levels >= 2, shortcut 1x1 convolutions around each block, bicubic
    upsampling, skip concatenated before the upsampled features) is followed here.
  * The official code pads circularly with ``F.pad(mode="circular")``, which fails when the
    coarsest grid is smaller than the 2-cell pad (e.g. 16x16 inputs); this module builds the
    periodic pad by index wrapping, which gives the same numbers and works at any size.
  * Options of the official class kept as hyperparameters: ``num_blocks`` (ConvBlocks per level,
    1), ``disentangle`` (the dual path, True), ``levels`` (4). Its unused branches (max pooling,
    strided-conv downsampling, transposed-conv upsampling, which raise NotImplemented there, and
    switching off the residuals or the norms) are not reproduced.

Training recipes (conf/experiment/sinenet_paper.yaml for Navier-Stokes, sinenet_swe_paper.yaml for
shallow water; tests/test_recipes_mgno_sinenet.py holds the official value and line of each
setting). Followed: AdamW (lr 2e-4 NS, 1e-3 SWE; weight decay 1e-5), PDEArena's
LinearWarmupCosineAnnealingLR stepped once per epoch (5 warm-up epochs from 1e-7, cosine to 1e-7
at epoch 50), 50 epochs, batch 32, history 4 (NS) / 2 (SWE) with one frame per call, the relative
L2 per (sample, step, field) on normalised fields as the loss, and checkpoint selection on the
validation rollout loss as the official ``unrolled_loss``: the relative L2 per (sample, step,
field) of the whole rollout, in physical units, averaged (``recipe.rollout_loss:
rel_l2_per_field``). Kept, on purpose: the data are ours (FNO-protocol Navier-Stokes vorticity and
PDEBench's dam break, generated here), not PDEArena's smoke-buoyancy and global shallow-water
sets, which are not generated here; and an epoch visits every training window once, where
PDEArena draws ``trajlen`` random windows per trajectory (on its 14-frame NS trajectories with
history 4, 1.4 times as many steps per epoch; 11/9 on SWE).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import OperatorModel

# Width multipliers of the paper's SineNet-K (hidden 64, ~35.5M parameters).
PAPER_MULT: dict[int, float] = {2: 1.8075, 4: 1.611, 6: 1.5, 8: 1.425}


def periodic_pad(x: torch.Tensor, p: int) -> torch.Tensor:
    """Pad the last two dims of ``x`` periodically by ``p`` cells on each side (any size >= 1)."""
    h, w = x.shape[-2:]
    rows = torch.arange(-p, h + p, device=x.device) % h
    cols = torch.arange(-p, w + p, device=x.device) % w
    return x.index_select(-2, rows).index_select(-1, cols)


class Upsample2(nn.Module):
    """Bicubic x2 upsampling; for periodic fields, of the periodic extension (pad 2, crop 4)."""

    _PAD = 2  # coarse cells of context the bicubic stencil needs at the border

    def __init__(self, padding: str) -> None:
        super().__init__()
        self.periodic = padding == "circular"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.periodic:
            return F.interpolate(x, scale_factor=2, mode="bicubic", align_corners=False)
        p = self._PAD
        y = F.interpolate(periodic_pad(x, p), scale_factor=2, mode="bicubic", align_corners=False)
        return y[..., 2 * p:-2 * p, 2 * p:-2 * p]


class ConvBlock(nn.Module):
    """[Conv3x3 -> GroupNorm(1) -> GELU] x 2 (the residual shortcut lives in the level block)."""

    def __init__(self, cin: int, cout: int, padding: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1, padding_mode=padding)
        self.norm1 = nn.GroupNorm(1, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, padding_mode=padding)
        self.norm2 = nn.GroupNorm(1, cout)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.norm1(self.conv1(x)))
        return self.act(self.norm2(self.conv2(x)))


class ResidualStack(nn.Module):
    """``num_blocks`` ConvBlocks; block 1: f(a) + Conv1x1(r), block j>1: f(h) + h.

    ``a`` is the block's full input (with concatenated skip / wave input), ``r`` the part the
    1x1 shortcut sees (``cres`` channels).
    """

    def __init__(self, cin: int, cres: int, cout: int, padding: str, num_blocks: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            ConvBlock(cin if j == 0 else cout, cout, padding) for j in range(num_blocks))
        self.shortcut = nn.Conv2d(cres, cout, 1)

    def forward(self, a: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        h = self.blocks[0](a) + self.shortcut(r)
        for block in self.blocks[1:]:
            h = block(h) + h
        return h


class Wave(nn.Module):
    """One U-shaped wave (no outer residual): see the module docstring for the formulas."""

    def __init__(self, widths: list[int], padding: str, num_blocks: int, disentangle: bool) -> None:
        super().__init__()
        self.disentangle = disentangle
        c0 = widths[0]
        levels = len(widths) - 1
        self.down = nn.ModuleList()
        for i in range(1, levels + 1):
            extra = c0 if (disentangle and i >= 2) else 0
            self.down.append(ResidualStack(widths[i - 1] + extra, widths[i - 1], widths[i],
                                           padding, num_blocks))
        self.up = nn.ModuleList()
        for i in range(levels - 1, -1, -1):
            self.up.append(ResidualStack(widths[i] + widths[i + 1], widths[i + 1], widths[i],
                                         padding, num_blocks))
        self.upsample = Upsample2(padding)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        skips = [v]
        d = v
        for i, block in enumerate(self.down, start=1):
            p = F.avg_pool2d(skips[-1], 2)
            a = p
            if self.disentangle:
                d = F.avg_pool2d(d, 2)  # d_i: the wave input at level i's resolution
                if i >= 2:  # at level 1, d_1 = p: nothing to add
                    a = torch.cat([p, d], dim=1)
            skips.append(block(a, p))
        z = skips.pop()
        for block in self.up:
            u = self.upsample(z)
            z = block(torch.cat([skips.pop(), u], dim=1), u)
        return z


class SineNet(OperatorModel):
    """SineNet-K (Zhang et al., ICLR 2024): K sequential residual U-Net waves.

    Hyperparameters: ``hidden`` (c, 64 in the paper), ``num_waves`` (K, 8), ``mult`` (m; None:
    the paper's value for K), ``levels`` (L, 4: inputs must be divisible by 2^L), ``num_blocks``
    (1), ``disentangle`` (the dual path, True). Formulas in the module docstring.
    """

    def __init__(self, in_steps: int, in_channels: int, out_steps: int, out_channels: int,
                 padding: str = "zeros", hidden: int = 64, num_waves: int = 8,
                 mult: float | None = None, levels: int = 4, num_blocks: int = 1,
                 disentangle: bool = True) -> None:
        super().__init__(in_steps, in_channels, out_steps, out_channels, padding)
        if int(hidden) < 1 or int(num_waves) < 1 or int(levels) < 1 or int(num_blocks) < 1:
            raise ValueError(
                f"SineNet needs hidden, num_waves, levels, num_blocks >= 1, got hidden={hidden}, "
                f"num_waves={num_waves}, levels={levels}, num_blocks={num_blocks}")
        if mult is None:
            if int(num_waves) not in PAPER_MULT:
                raise ValueError(
                    f"SineNet: no paper width multiplier for num_waves={num_waves} (known: "
                    f"{sorted(PAPER_MULT)}); set `mult` explicitly, e.g. mult=1.5")
            mult = PAPER_MULT[int(num_waves)]
        if mult <= 0:
            raise ValueError(f"SineNet: mult must be > 0, got {mult}")
        self.hidden, self.num_waves, self.mult = int(hidden), int(num_waves), float(mult)
        self.levels = int(levels)
        self.widths = [int(self.hidden * self.mult ** i) for i in range(self.levels + 1)]
        if min(self.widths) < 1:
            raise ValueError(f"SineNet: level widths {self.widths} must all be >= 1; raise hidden or mult")

        self.lift = nn.Conv2d(self.flat_in_channels, self.hidden, 3, padding=1, padding_mode=padding)
        self.waves = nn.ModuleList(
            Wave(self.widths, padding, int(num_blocks), bool(disentangle)) for _ in range(self.num_waves))
        self.project = nn.Conv2d(self.hidden, self.flat_out_channels, 3, padding=1, padding_mode=padding)

    def check_grid(self, shape: tuple[int, int]) -> None:
        stride = 2 ** self.levels
        if shape[0] % stride or shape[1] % stride:
            raise ValueError(
                f"SineNet with levels={self.levels} needs a grid divisible by 2^levels = {stride}, "
                f"got {tuple(shape)}: resample the data to a multiple of {stride} "
                f"(e.g. {stride * max(1, round(shape[0] / stride))}) or lower `levels`")

    def forward(self, x: torch.Tensor, cond: dict | None = None) -> torch.Tensor:
        if x.ndim == 5:
            self.check_grid(tuple(x.shape[-2:]))
        h = self.lift(self.flatten_time(x))
        for wave in self.waves:
            h = h + wave(h)
        return self.unflatten_time(self.project(h))
