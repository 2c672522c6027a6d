"""FNO baseline: the Fourier neural operator of the `neuraloperator` package (Li et al., ICLR 2021).

A thin adapter to the suite's contract: the input frames are flattened into channels
([B, T*C, X, Y]), the package's FNO (spectral convolutions with ``n_modes`` retained modes,
lifting and projection channel MLPs, a grid positional embedding) maps them to
``out_steps * out_channels`` channels. For non-periodic data the package's domain padding
(a fraction of the grid) plays the role of the original code's zero padding.

One entry in ``n_modes`` makes the model one-dimensional (the FNO paper's Burgers network): the
data's 1D fields ([.., X, 1], Y = 1) are squeezed to [.., X] for the package's 1D FNO. Mode
counts are the package's: the last axis keeps ``n // 2 + 1`` real-FFT modes, the others ``n``
centred ones, so the original code's ``modes1 = 16`` (rfft modes 0..15) is ``n_modes: [30]``.

``activation``: ``gelu`` (the package's default) or ``relu`` (the FNO paper's scripts). Without the
package's channel MLP (``use_channel_mlp: false``) the package applies the activation twice in each
layer but the last: harmless for ReLU (idempotent), not for GELU. ``spectral_init: uniform``
draws the spectral weights as the original code does (real and imaginary parts
``U(0, 1) / (in_channels * out_channels)``) instead of the package's normal law (std
``sqrt(2 / (in + out))``, about 1000 times larger at width 64). ``block_norm: batch`` builds the
original 2D time-dependent script's layers, ``BatchNorm2d(K u + W u)`` then the activation
(:class:`SumThenBatchNorm`; the package's own norms sit before the sum).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from neuralop.layers.spectral_convolution import SpectralConv
from neuralop.models import FNO as _PackageFNO

from pdebench_x.models.base import OperatorModel


ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu}


class CentredSpectralConv(SpectralConv):
    """The package's spectral convolution with its inverse shift corrected on odd grids.

    neuraloperator 2.0.0 centres the kept modes of every axis but the last with ``fftshift`` and
    moves them back with ``fftshift`` again instead of ``ifftshift`` (corrected upstream after 2.0.0,
    commit dc4e3aeb): on an odd number of points (FNO's Darcy at 85, MgNO's at 211) every output
    mode lands one frequency off. The two shifts agree on even sizes, where the package's own
    forward runs unchanged (bit for bit); on odd sizes this forward does the same computation with
    the inverse shift, for the configuration the adapter builds (dense weights, not separable,
    full precision, real data, output on the input grid).
    """

    def forward(self, x: torch.Tensor, output_shape=None) -> torch.Tensor:
        leading = x.shape[2:-1]  # the shifted axes
        if all(n % 2 == 0 for n in leading) or output_shape is not None:
            return super().forward(x, output_shape=output_shape)
        if self.separable or self.complex_data or self.fno_block_precision != "full" \
                or self.resolution_scaling_factor is not None:
            raise NotImplementedError("CentredSpectralConv corrects only dense, full-precision real convolutions "
                                      "on the input grid")
        dims = tuple(range(-self.order, 0))
        spectrum = torch.fft.fftshift(torch.fft.rfftn(x, norm=self.fft_norm, dim=dims), dim=dims[:-1])
        weight = self.weight[(slice(None),) * (self.order + 2)]  # [in, out, kept modes ...]
        kept = weight.shape[2:]
        window = tuple(slice(n // 2 - m // 2, n // 2 - m // 2 + m) for n, m in zip(spectrum.shape[2:-1], kept[:-1]))
        window = (slice(None), slice(None), *window, slice(None, kept[-1]))
        out = torch.zeros(x.shape[0], self.out_channels, *spectrum.shape[2:], dtype=spectrum.dtype, device=x.device)
        out[window] = torch.einsum("bi...,io...->bo...", spectrum[window], weight)
        out = torch.fft.ifftshift(out, dim=dims[:-1])
        y = torch.fft.irfftn(out, s=x.shape[2:], dim=dims, norm=self.fft_norm)
        return y + self.bias if self.bias is not None else y


class SumThenBatchNorm(nn.Module):
    """The FNO blocks of the original 2D scripts (fourier_2d_time.py's SimpleBlock2d): each layer is
    ``BatchNorm2d(K u + W u)`` and then the activation (none after the last), where the package's
    FNOBlocks normalise ``K u`` alone before adding ``W u``. Wraps the package's blocks (their
    spectral convolutions and 1x1 skips), which need no channel MLP."""

    def __init__(self, blocks: nn.Module, channels: int) -> None:
        super().__init__()
        if blocks.use_channel_mlp or blocks.fno_skips is None or blocks.norm is not None:
            raise ValueError("block_norm='batch' builds the original scripts' layer K u + W u: set "
                             "use_channel_mlp=false, keep the linear skip and no package norm")
        self.blocks = blocks
        self.norms = nn.ModuleList(nn.BatchNorm2d(channels) for _ in range(blocks.n_layers))

    @property
    def n_modes(self):
        return self.blocks.n_modes

    @property
    def convs(self):
        return self.blocks.convs

    def forward(self, x: torch.Tensor, index: int = 0, output_shape=None) -> torch.Tensor:
        conv = self.blocks.convs[index]
        skip = conv.transform(self.blocks.fno_skips[index](x), output_shape=output_shape)
        x = self.norms[index](conv(x, output_shape=output_shape) + skip)
        return self.blocks.non_linearity(x) if index < self.blocks.n_layers - 1 else x


class FNO(OperatorModel):
    def __init__(self, in_steps: int, in_channels: int, out_steps: int, out_channels: int,
                 padding: str = "zeros", n_modes: tuple[int, int] | list[int] = (12, 12),
                 hidden_channels: int = 32, n_layers: int = 4, domain_padding: float | None = None,
                 activation: str = "gelu", spectral_init: str | None = None, block_norm: str | None = None,
                 **fno_kwargs) -> None:
        super().__init__(in_steps, in_channels, out_steps, out_channels, padding)
        if block_norm not in (None, "batch"):
            raise ValueError(f"block_norm={block_norm!r}: choose null (the package's blocks) or 'batch' (the original "
                             "2D scripts' BatchNorm2d of K u + W u)")
        if block_norm == "batch" and len(tuple(n_modes)) != 2:
            raise ValueError("block_norm='batch' is the 2D scripts' BatchNorm2d: give model.net.n_modes two entries")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation={activation!r}: choose one of {sorted(ACTIVATIONS)}")
        if spectral_init not in (None, "uniform"):
            raise ValueError(f"spectral_init={spectral_init!r}: choose null (the package's) or 'uniform' (the "
                             "original code's)")
        if domain_padding is None:
            domain_padding = 0.0 if padding == "circular" else 0.125
        self.net = _PackageFNO(n_modes=tuple(n_modes), in_channels=self.flat_in_channels,
                               out_channels=self.flat_out_channels, hidden_channels=hidden_channels,
                               n_layers=n_layers, domain_padding=domain_padding or None,
                               non_linearity=ACTIVATIONS[activation], conv_module=CentredSpectralConv,
                               **fno_kwargs)
        if spectral_init == "uniform":
            with torch.no_grad():
                for conv in self.net.fno_blocks.convs:
                    weight = conv.weight.tensor  # the package's dense (unfactorised) complex weight
                    scale = 1.0 / (weight.shape[0] * weight.shape[1])
                    weight.copy_(torch.complex(torch.rand(weight.shape), torch.rand(weight.shape)) * scale)
        if block_norm == "batch":
            self.net.fno_blocks = SumThenBatchNorm(self.net.fno_blocks, hidden_channels)

        self.one_dimensional = len(tuple(n_modes)) == 1

    def check_grid(self, shape: tuple[int, int]) -> None:
        if self.one_dimensional and shape[1] != 1:
            raise ValueError(f"a 1D FNO (one entry in model.net.n_modes) takes 1D data (grid [X, 1]), got grid "
                             f"{list(shape)}: give model.net.n_modes two entries for 2D data")

    def forward(self, x, cond=None):
        flat = self.flatten_time(x)
        if self.one_dimensional:
            self.check_grid(tuple(flat.shape[-2:]))
            return self.unflatten_time(self.net(flat[..., 0])[..., None])
        return self.unflatten_time(self.net(flat))
