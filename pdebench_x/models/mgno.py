"""MgNO: multigrid neural operator.

J. He, X. Liu, J. Xu, "MgNO: Efficient Parameterization of Linear Operators via Multigrid",
ICLR 2024 (arXiv:2310.19809). Official code: https://github.com/xlliu2017/MgNO @ 3a68a90
(models.py: ``MgConv_DC``/``MgNO_DC`` for Darcy rough, ``MgConv_DC_smooth``/``MgNO_DC_smooth``
for Darcy smooth, ``MgConv``/``MgNO_NS`` for Navier-Stokes; darcy.py and navier.py train them).

Architecture
------------
A layer is a "neuron layer" whose linear operator is one multigrid V-cycle,

    u_{k+1} = sigma( W_k u_k + B_k u_k ),        k = 0, ..., layers - 1,   u_0 = f,

with ``W_k`` a V-cycle (below) mapping the layer input (the right-hand side f, c_f channels) to
``width`` channels, ``B_k`` a 1x1 convolution with bias and sigma = GELU. There is no lifting:
the first layer's f is the data itself, ``in_steps * in_channels`` channels (time-major
flattening). As in the official code the network ends with one 1x1 convolution without bias,
``width -> out_steps * out_channels`` (``MgNO_DC.linear``, ``MgNO_NS.last_layer``): this is how
the output channel count is met. Optionally (``residual=True``, the official NS model's
``u + u_0``) the last input frame is added to every output frame.

V-cycle ``W`` on levels l = 0 (finest) ... L-1 (coarsest), level l on a grid coarsened 2^l times;
every 3x3 convolution uses the data's padding mode ("zeros" = homogeneous Dirichlet-like,
"circular" = periodic):

    smoothing step   u <- u + S (f - A u)        A: 3x3 conv u -> f channels,
                                                 S: 3x3 conv f -> u channels, no bias;
                     the very first step (level 0) is u = S f  (u starts from 0);
    down, l -> l+1   u_{l+1} = Pi_l u_l                       (3x3 conv, stride 2)
                     f_{l+1} = R_l (f_l - A^r_l u_l)          ``restrict="residual"`` (textbook)
                     f_{l+1} = R_l f_l                        ``restrict="source"`` (official code)
    coarse solve     the pre-smoothing steps of level L-1
    up, l+1 -> l     u_l <- N_l( u_l + P_l u_{l+1} ),  P_l a learnable 4x4 (or 3x3) stride-2
                     transposed conv (periodic wrap-around for circular padding), N_l a norm
                     (identity by default), followed by the post-smoothing steps of level l with f_l.

Every smoothing step has its own A and S (as in the official code); the residual restriction
uses a separate A^r_l per level (the official ``Restrict(Pi, R, A)`` of ``use_res=True``).
A stride-2 restriction maps n points to ceil(n / 2); the 4x4 prolongation maps n back to 2n, so
with the default kernels the grid size must be divisible by 2^(L-1) in each direction. A 3x3
prolongation maps n to 2n - 1 (or 2n): ``prolongation_kernel`` 3 at the levels whose grid is odd
runs odd grids, as the official ``MgConv_DC_smooth`` does for Darcy smooth (211 -> 106 -> 53 ->
27 -> 14 -> 7 with kernels 3, 4, 3, 3, 4: conf/experiment/mgno_smooth_paper.yaml, 678,093
parameters, the official count).

Paper vs official code, and what is chosen here
------------------------------------------------
* Restriction of f. Textbook multigrid restricts the residual f - A u; the official models
  restrict f itself (``use_res=False`` is what MgNO_DC/MgNO_NS
  build). Default here: ``restrict="residual"``; ``restrict="source"`` reproduces the code.
  The paper's reported parameter count (Darcy 0.57M = 572,661 with 4 layers, 24 channels,
  6 levels) is that of the source form; the residual form adds (L-1) 3x3 convs u -> f per
  layer (651,501 for the same sizes). The paper configurations (conf/experiment/mgno_*paper.yaml)
  therefore use ``restrict: source``.
* Norm layer. The official NS model applies ``LayerNorm([C, 64/2^l, 64/2^l])`` after each
  coarse-grid correction, which ties it to 64x64 inputs and holds 1.74M of its 2.89M parameters
  (per-pixel affine maps): ``norm="layer"`` with ``norm_grid=[64, 64]`` builds it (the NS paper
  configuration). ``norm="group"`` uses ``GroupNorm(1, C)`` instead: the same statistics
  (mean/variance over channels and space per sample) with a per-channel affine map, so the model
  runs at any resolution. Darcy (``MgConv_DC``) uses no norm: ``norm="none"`` (default).
* The 1x1 branch B: the paper's layer sigma(W u + B) and the official Darcy model have it; the
  official NS model has it commented out: ``branch=False`` (the NS paper configuration).
* Smoother biases: the official NS run uses ``--bias`` (biases in A and S); option
  ``conv_bias`` (default False, as in Darcy). Pi, R and P never have biases.
* Smoothing counts: per level, ``pre_smooth`` (default 1 per level, 2 on the coarsest, the
  official Darcy ``--num_iteration 10 10 10 10 10 20``) and ``post_smooth`` (default 0, as in
  every official run; given for levels 0..L-2, the coarsest level has no post-smoothing).
* Transposed conv with circular padding: ``nn.ConvTranspose2d`` only zero-pads, so the official
  NS prolongation drops the wrap-around contributions at the edges; here the coarse field is
  padded periodically first, which makes the whole model commute with periodic shifts by
  multiples of 2^(L-1).

Training recipes (conf/experiment/mgno_paper.yaml, mgno_smooth_paper.yaml, mgno_ns_paper.yaml;
tests/test_recipes_mgno_sinenet.py holds the official value and line of each setting)
-----------------------------------------------------------------------------------------
Followed: Adam with OneCycleLR (div_factor 2; Darcy pct_start 0.2, final_div_factor 100; NS
pct_start 0.1, final_div_factor 50) stepped once per epoch, the loss (Darcy: the official HsLoss
weighting, ``rel_h1_mgno``; NS: relative L2) on outputs decoded to physical units, batch, epochs,
the data (Darcy rough / smooth presets, NS nu = 1e-5 with one input frame), Darcy checkpoint
selection on the validation relative L2 (darcy.py keeps the epoch of the best validation L2).
Restated, same update: the official losses are sums over the batch (``size_average=False``)
and its Adam adds the weight decay to the gradient, so with our batch-mean loss the same Adam
step needs weight_decay / batch and eps / batch (the step is invariant to a common scale of
gradient, decay and eps). Normalisation as each official run (``recipe.normalization`` /
``input_normalization``): Darcy rough feeds the raw coefficient and decodes the output with one
scalar mean and std of the train targets; Darcy smooth encodes the coefficient and decodes the
output per pixel (``per_point``, tied to its grid); NS normalises nothing. NS: the official
navier.py has no validation split and keeps the last epoch (``selection: last``).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from pdebench_x.models.base import OperatorModel

_ACTIVATIONS = {"gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh, "silu": nn.SiLU}
_RESTRICT = ("residual", "source")
_NORMS = ("none", "group", "layer")


def _conv3x3(c_in: int, c_out: int, padding: str, stride: int = 1, bias: bool = False) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=bias,
                     padding_mode=padding)


class Prolongation(nn.Module):
    """Learnable prolongation P: [B, C, n, m] -> [B, C, N, M] onto the finer grid (N = 2n or 2n - 1),
    a ``kernel`` x ``kernel`` stride-2 transposed conv (kernel 4: N = 2n; kernel 3: either).

    (P v)[o] = sum_{j, k: 2j + k - 1 = o} K[k] v[j]  (per direction), i.e. ConvTranspose2d with
    padding 1, cut to the fine grid's size. With zero padding the terms with j outside the grid
    are dropped; with circular padding j is taken modulo n (the coarse field is wrapped by one
    cell, and the padding of the transposed conv grows by 2 to crop the same window).
    """

    def __init__(self, channels: int, padding: str, kernel: int = 4) -> None:
        super().__init__()
        self.periodic = padding == "circular"
        self.conv = nn.ConvTranspose2d(channels, channels, kernel_size=kernel, stride=2,
                                       padding=3 if self.periodic else 1, bias=False)

    def forward(self, v: torch.Tensor, size: Sequence[int] | None = None) -> torch.Tensor:
        """P v on the fine grid of ``size`` (X, Y); None: the smallest the kernel gives."""
        if self.periodic:
            v = F.pad(v, (1, 1, 1, 1), mode="circular")
        return self.conv(v, output_size=None if size is None else list(size))


class SmoothingStep(nn.Module):
    """u <- u + S (f - A u); with ``first=True`` (no A): u = S f."""

    def __init__(self, u_channels: int, f_channels: int, padding: str, bias: bool,
                 first: bool = False) -> None:
        super().__init__()
        self.S = _conv3x3(f_channels, u_channels, padding, bias=bias)
        self.A = None if first else _conv3x3(u_channels, f_channels, padding, bias=bias)

    def forward(self, u: torch.Tensor | None, f: torch.Tensor) -> torch.Tensor:
        if self.A is None:
            return self.S(f)
        return u + self.S(f - self.A(u))


class VCycle(nn.Module):
    """One multigrid V-cycle W: f [B, f_channels, X, Y] -> u [B, u_channels, X, Y] (see module doc)."""

    def __init__(self, f_channels: int, u_channels: int, levels: int, pre_smooth: Sequence[int],
                 post_smooth: Sequence[int], restrict: str, padding: str, norm: str,
                 bias: bool, prolongation_kernel: Sequence[int] | None = None,
                 norm_grid: Sequence[int] | None = None) -> None:
        super().__init__()
        self.levels = levels
        self.restrict = restrict
        self.pre = nn.ModuleList(
            nn.ModuleList(SmoothingStep(u_channels, f_channels, padding, bias, first=(l == 0 and i == 0))
                          for i in range(pre_smooth[l]))
            for l in range(levels))
        self.post = nn.ModuleList(
            nn.ModuleList(SmoothingStep(u_channels, f_channels, padding, bias)
                          for _ in range(post_smooth[l]))
            for l in range(levels - 1))
        self.Pi = nn.ModuleList(_conv3x3(u_channels, u_channels, padding, stride=2)
                                for _ in range(levels - 1))
        self.R = nn.ModuleList(_conv3x3(f_channels, f_channels, padding, stride=2)
                               for _ in range(levels - 1))
        # A^r_l of the residual f_l - A^r_l u_l that is restricted (textbook form only)
        self.A_res = (nn.ModuleList(_conv3x3(u_channels, f_channels, padding, bias=bias)
                                    for _ in range(levels - 1))
                      if restrict == "residual" else None)
        kernels = prolongation_kernel or [4] * (levels - 1)
        self.P = nn.ModuleList(Prolongation(u_channels, padding, kernels[l]) for l in range(levels - 1))
        self.norms = nn.ModuleList(_norm(norm, u_channels, norm_grid, l) for l in range(levels - 1))

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        us: list[torch.Tensor] = []
        fs: list[torch.Tensor] = []
        u: torch.Tensor | None = None
        for l in range(self.levels):
            if l > 0:  # restrict (u, f) from level l-1
                u_fine, f_fine = us[-1], fs[-1]
                r = f_fine - self.A_res[l - 1](u_fine) if self.A_res is not None else f_fine
                u, f = self.Pi[l - 1](u_fine), self.R[l - 1](r)
            for step in self.pre[l]:
                u = step(u, f)
            us.append(u)
            fs.append(f)
        u = us[-1]
        for l in range(self.levels - 2, -1, -1):
            u = self.norms[l](us[l] + self.P[l](u, us[l].shape[-2:]))
            for step in self.post[l]:
                u = step(u, fs[l])
        return u


def _norm(kind: str, channels: int, grid: Sequence[int] | None, level: int) -> nn.Module:
    """The norm after the coarse correction of ``level``: GroupNorm(1, C), the official NS model's
    LayerNorm([C, X / 2^l, Y / 2^l]) of the grid ``grid`` (a per-point affine map), or none."""
    if kind == "group":
        return nn.GroupNorm(1, channels)
    if kind == "layer":
        return nn.LayerNorm([channels, *(-(-int(n) // 2 ** level) for n in grid)])
    return nn.Identity()


def _per_level(value: int | Sequence[int] | None, n: int, default: list[int], name: str) -> list[int]:
    if value is None:
        return default
    if isinstance(value, int):
        return [value] * n
    value = [int(v) for v in value]
    if len(value) != n:
        raise ValueError(f"MgNO: {name} needs one entry per level ({n}), got {value}: "
                         f"give an int (same count on every level) or a list of length {n}")
    return value


class MgNO(OperatorModel):
    """Multigrid neural operator (He, Liu, Xu, ICLR 2024); see the module docstring.

    Hyperparameters: ``width`` (u channels per layer), ``layers`` (V-cycle layers), ``levels``
    (grids per V-cycle, L), ``pre_smooth`` (int or list of L; default [1]*(L-1) + [2]),
    ``post_smooth`` (int or list of L-1; default 0), ``restrict`` ("residual" | "source"),
    ``residual`` (add the last input frame to every output frame), ``norm`` ("none" | "group" |
    "layer", the last with ``norm_grid``, the [X, Y] grid it is tied to), ``branch`` (the 1x1 branch B
    of each layer), ``activation`` (gelu | relu | tanh | silu), ``conv_bias`` (biases in A and S),
    ``prolongation_kernel`` (3 or 4, or a list of L-1 of them: the transposed-conv kernel of the
    prolongation onto level l; default 4; 3 also reaches odd grids).
    """

    def __init__(self, in_steps: int, in_channels: int, out_steps: int, out_channels: int,
                 padding: str = "zeros", *, width: int = 24, layers: int = 4, levels: int = 6,
                 pre_smooth: int | Sequence[int] | None = None,
                 post_smooth: int | Sequence[int] | None = None, restrict: str = "residual",
                 residual: bool = False, norm: str = "none", activation: str = "gelu",
                 conv_bias: bool = False, prolongation_kernel: int | Sequence[int] | None = None,
                 norm_grid: Sequence[int] | None = None, branch: bool = True) -> None:
        super().__init__(in_steps, in_channels, out_steps, out_channels, padding)
        if width < 1 or layers < 1 or levels < 1:
            raise ValueError(f"MgNO: width, layers and levels must be >= 1, got "
                             f"width={width}, layers={layers}, levels={levels}")
        if restrict not in _RESTRICT:
            raise ValueError(f"MgNO: restrict must be one of {_RESTRICT}, got {restrict!r}")
        if norm not in _NORMS:
            raise ValueError(f"MgNO: norm must be one of {_NORMS}, got {norm!r}")
        if (norm == "layer") != (norm_grid is not None) or (norm_grid is not None and len(norm_grid) != 2):
            raise ValueError(f"MgNO: norm='layer' needs norm_grid=[X, Y] (the grid its LayerNorms are tied to), "
                             f"and norm_grid is read only then; got norm={norm!r}, norm_grid={norm_grid!r}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"MgNO: activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        if residual and in_channels != out_channels:
            raise ValueError(
                f"MgNO: residual=True adds the last input frame to each output frame, which needs "
                f"in_channels == out_channels (got {in_channels} and {out_channels}): set "
                f"model.net.residual=false for this dataset")
        pre = _per_level(pre_smooth, levels, [1] * (levels - 1) + [2], "pre_smooth")
        post = _per_level(post_smooth, levels - 1, [0] * (levels - 1), "post_smooth")
        if pre[0] < 1:
            raise ValueError(f"MgNO: level 0 needs at least one pre-smoothing step (the first step "
                             f"u = S f starts the cycle), got pre_smooth={pre}")
        if min(pre) < 0 or min(post, default=0) < 0:
            raise ValueError(f"MgNO: smoothing counts must be >= 0, got pre={pre}, post={post}")
        kernels = _per_level(prolongation_kernel, levels - 1, [4] * (levels - 1), "prolongation_kernel")
        if not set(kernels) <= {3, 4}:
            raise ValueError(f"MgNO: prolongation_kernel entries must be 3 or 4, got {kernels}")
        self.levels = int(levels)
        self.prolongation_kernel = kernels
        self.residual = bool(residual)
        self.pre_smooth, self.post_smooth = pre, post
        self.norm_grid = None if norm_grid is None else tuple(int(n) for n in norm_grid)

        f_channels = [self.flat_in_channels] + [width] * (layers - 1)
        self.cycles = nn.ModuleList(
            VCycle(c_f, width, levels, pre, post, restrict, padding, norm, conv_bias, kernels, norm_grid)
            for c_f in f_channels)
        self.B = (nn.ModuleList(nn.Conv2d(c_f, width, kernel_size=1, bias=True) for c_f in f_channels)
                  if branch else None)
        self.act = _ACTIVATIONS[activation]()
        self.out = nn.Conv2d(width, self.flat_out_channels, kernel_size=1, bias=False)

    @property
    def coarsest_stride(self) -> int:
        return 2 ** (self.levels - 1)

    def check_grid(self, shape: tuple[int, int]) -> None:
        h, w = shape
        if self.norm_grid is not None and tuple(shape) != self.norm_grid:
            raise ValueError(f"MgNO with norm='layer' is tied to the {self.norm_grid[0]}x{self.norm_grid[1]} grid "
                             f"(model.net.norm_grid), got {h}x{w}: use norm='group' to run at any resolution")
        s = self.coarsest_stride
        if 3 in self.prolongation_kernel:
            self._check_odd_grid(shape)
        elif h % s or w % s:
            raise ValueError(
                f"MgNO with levels={self.levels} needs a grid divisible by 2^(levels-1) = {s} in "
                f"each direction, got {h}x{w}: resample/crop the data to a multiple of {s} (e.g. "
                f"{max(s, h - h % s)}x{max(s, w - w % s)}) or lower model.net.levels")

    def _check_odd_grid(self, shape: tuple[int, int]) -> None:
        """Each stride-2 restriction maps n points to ceil(n / 2); a kernel-4 prolongation only
        reaches an even finer grid, a kernel-3 one either."""
        for n in shape:
            sizes = [n]
            for _ in range(self.levels - 1):
                sizes.append(-(-sizes[-1] // 2))
            odd = [l for l, k in enumerate(self.prolongation_kernel) if k == 4 and sizes[l] % 2]
            if odd:
                raise ValueError(
                    f"MgNO with prolongation_kernel={self.prolongation_kernel} needs an even grid at "
                    f"the levels whose kernel is 4, got {shape[0]}x{shape[1]} (level sizes of {n}: {sizes}; "
                    f"odd at level(s) {odd}): set those levels' kernel to 3 or resample the data")

    def forward(self, x: torch.Tensor, cond: dict | None = None) -> torch.Tensor:
        u = self.flatten_time(x)
        self.check_grid(tuple(u.shape[-2:]))
        for i, W in enumerate(self.cycles):
            u = self.act(W(u) + self.B[i](u) if self.B is not None else W(u))
        y = self.unflatten_time(self.out(u))
        if self.residual:
            y = y + x[:, -1:]
        return y
