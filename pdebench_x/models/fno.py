"""FNO baseline: the Fourier neural operator of the `neuraloperator` package (Li et al., ICLR 2021).

A thin adapter to the suite's contract: the input frames are flattened into channels
([B, T*C, X, Y]), the package's FNO (spectral convolutions with ``n_modes`` retained modes,
lifting and projection channel MLPs, a grid positional embedding) maps them to
``out_steps * out_channels`` channels. For non-periodic data the package's domain padding
(a fraction of the grid) plays the role of the original code's zero padding.
"""
from __future__ import annotations

from neuralop.models import FNO as _PackageFNO

from pdebench_x.models.base import OperatorModel


class FNO(OperatorModel):
    def __init__(self, in_steps: int, in_channels: int, out_steps: int, out_channels: int,
                 padding: str = "zeros", n_modes: tuple[int, int] | list[int] = (12, 12),
                 hidden_channels: int = 32, n_layers: int = 4, domain_padding: float | None = None,
                 **fno_kwargs) -> None:
        super().__init__(in_steps, in_channels, out_steps, out_channels, padding)
        if domain_padding is None:
            domain_padding = 0.0 if padding == "circular" else 0.125
        self.net = _PackageFNO(n_modes=tuple(n_modes), in_channels=self.flat_in_channels,
                               out_channels=self.flat_out_channels, hidden_channels=hidden_channels,
                               n_layers=n_layers, domain_padding=domain_padding or None, **fno_kwargs)

    def forward(self, x, cond=None):
        return self.unflatten_time(self.net(self.flatten_time(x)))
