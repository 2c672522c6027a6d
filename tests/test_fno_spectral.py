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


def test_batch_norm_blocks_normalise_the_sum_then_activate():
    """block_norm='batch' (fourier_2d_time.py): each layer is BatchNorm2d(K u + W u), then ReLU, none
    after the last; 2 x width parameters a layer more than the package's blocks."""
    from pdebench_x.models.base import count_parameters
    kw = dict(n_modes=[8, 6], hidden_channels=6, lifting_channel_ratio=0, projection_channel_ratio=2,
              use_channel_mlp=False, activation="relu")
    torch.manual_seed(0)
    model = FNO(2, 1, 1, 1, "circular", block_norm="batch", **kw).train()
    assert count_parameters(model) == count_parameters(FNO(2, 1, 1, 1, "circular", **kw)) + 4 * 2 * 6
    blocks = model.net.fno_blocks
    seen = {}
    blocks.norms[0].register_forward_hook(lambda mod, inp, out: seen.update(inp=inp[0], out=out))
    lifted = {}
    model.net.lifting.register_forward_hook(lambda mod, inp, out: lifted.update(x=out))
    model(torch.randn(4, 2, 1, 16, 16))
    x = lifted["x"]
    torch.testing.assert_close(seen["inp"], blocks.convs[0](x) + blocks.blocks.fno_skips[0](x))
    out = seen["out"]   # batch statistics per channel: mean 0, variance 1 (biased) before the affine map
    torch.testing.assert_close(out.mean(dim=(0, 2, 3)), torch.zeros(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(dim=(0, 2, 3), unbiased=False), torch.ones(6), atol=1e-3, rtol=0)
    with pytest.raises(ValueError, match="use_channel_mlp=false"):
        FNO(2, 1, 1, 1, "circular", block_norm="batch", n_modes=[8, 6], hidden_channels=6)
