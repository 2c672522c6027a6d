"""The FNO's spectral convolution is a convolution: it commutes with circular shifts of its input,
on odd grids too (neuraloperator 2.0.0's does not there: models/fno.py's CentredSpectralConv)."""
from __future__ import annotations

import pytest
import torch
from neuralop.layers.spectral_convolution import SpectralConv

from pdebench_x.models.fno import FNO, CentredSpectralConv


def _pair(modes=(6, 4)):
    torch.manual_seed(0)
    package, ours = SpectralConv(4, 5, modes), CentredSpectralConv(4, 5, modes)
    ours.load_state_dict(package.state_dict())
    return package, ours


def _shift_error(conv, n):
    x = torch.randn(2, 4, n, n, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return float((conv(torch.roll(x, (3, 5), dims=(2, 3))) - torch.roll(conv(x), (3, 5), dims=(2, 3))).abs().max())


@pytest.mark.parametrize("n", [15, 16, 85])
def test_spectral_convolution_commutes_with_shifts(n):
    _, ours = _pair()
    assert _shift_error(ours, n) < 1e-5


def test_the_package_alone_breaks_it_on_odd_grids_and_ours_is_its_computation_on_even_ones():
    package, ours = _pair()
    assert _shift_error(package, 15) > 1e-2                     # the bug this class corrects
    x = torch.randn(2, 4, 16, 16)
    with torch.no_grad():
        assert torch.equal(package(x), ours(x))                 # even grids: the package's forward, bit for bit


def test_the_adapter_builds_it():
    net = FNO(1, 1, 1, 1, n_modes=[8, 8], hidden_channels=8, n_layers=2)
    assert all(isinstance(conv, CentredSpectralConv) for conv in net.net.fno_blocks.convs)
    with torch.no_grad():
        assert net(torch.randn(2, 1, 1, 17, 17)).shape == (2, 1, 1, 17, 17)
