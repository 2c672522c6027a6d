"""SineNet: shapes, gradients, the paper's parameter budget, the dual-path wiring, periodic
upsampling (exactness and convergence), shift equivariance, overfitting, configs, bad input."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from conftest import CONF_DIR
from pdebench_x.models.base import count_parameters
from pdebench_x.models.sinenet import PAPER_MULT, SineNet, Upsample2, periodic_pad

# The official code's count for `sinenet8-dual` (registry comment, divelab/AIRS @ 4a16c68) in the
# PDEArena Navier-Stokes setting: history 4, fields smoke + 2 velocity components.
OFFICIAL_SINENET8_NS = 35_490_219


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(padding="circular", **kw):
    args = dict(hidden=8, num_waves=2, mult=1.5)
    args.update(kw)
    return SineNet(2, 1, 1, 1, padding, **args)


def smooth_fields(gen: torch.Generator, b: int, c: int, n: int, modes: int = 4) -> torch.Tensor:
    """Random periodic fields sum_k a_k/(1+|k|^2) cos(2 pi k.x + phi_k), |k_i| <= modes, unit std."""
    x = (torch.arange(n) + 0.5) / n
    out = torch.zeros(b, c, n, n)
    for kx in range(-modes, modes + 1):
        for ky in range(-modes, modes + 1):
            a = torch.randn(b, c, 1, 1, generator=gen)
            phi = 2 * math.pi * torch.rand(b, c, 1, 1, generator=gen)
            out += a / (1 + kx * kx + ky * ky) * torch.cos(2 * math.pi * (kx * x[:, None] + ky * x[None, :]) + phi)
    return out / out.flatten(1).std(1)[:, None, None, None]


def rel_l2(pred, target):
    return (pred - target).flatten(1).norm(dim=1) / target.flatten(1).norm(dim=1)


# ---------------------------------------------------------------- shapes and gradients
@pytest.mark.parametrize("padding", ["circular", "zeros"])
@pytest.mark.parametrize("hw", [(32, 32), (64, 48), (16, 16)])
def test_output_shapes(padding, hw):
    model = SineNet(3, 2, 2, 3, padding, hidden=8, num_waves=2, mult=1.5)
    y = model(torch.randn(2, 3, 2, *hw))
    assert y.shape == (2, 2, 3, *hw)
    assert torch.isfinite(y).all()


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    model = SineNet(2, 3, 1, 3, "circular", hidden=8, num_waves=2, mult=1.5, num_blocks=2)
    x = torch.randn(2, 2, 3, 32, 32)
    model(x).square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} has an all-zero gradient"


# ---------------------------------------------------------------- parameter budget and wiring
def _count(**kw) -> int:
    with torch.device("meta"):  # counts without allocating 35M weights
        return count_parameters(SineNet(**kw))


def test_paper_parameter_count_sinenet8_navier_stokes():
    n = _count(in_steps=4, in_channels=3, out_steps=1, out_channels=3, padding="circular",
               hidden=64, num_waves=8)
    assert abs(n - OFFICIAL_SINENET8_NS) / OFFICIAL_SINENET8_NS < 0.02
    assert n == OFFICIAL_SINENET8_NS  # the layers are those of the official code, so exactly


@pytest.mark.parametrize("k", sorted(PAPER_MULT))
def test_paper_multipliers_keep_the_budget(k):
    # The paper's table of m(K) keeps SineNet-K at ~35.5M parameters for every K.
    n = _count(in_steps=4, in_channels=3, out_steps=1, out_channels=3, padding="zeros",
               hidden=64, num_waves=k)
    assert abs(n - OFFICIAL_SINENET8_NS) / OFFICIAL_SINENET8_NS < 0.02


def test_dual_path_adds_the_pooled_wave_input_at_levels_2_to_L():
    # Disentangling concatenates c extra channels into the first 3x3 conv of down levels 2..L
    # of every wave: K * sum_{i=2..L} 9 c w_i extra weights, nothing else changes.
    kw = dict(in_steps=2, in_channels=1, out_steps=1, out_channels=1, padding="zeros",
              hidden=8, num_waves=3, mult=1.5, levels=4)
    with_dual, without = _count(**kw, disentangle=True), _count(**kw, disentangle=False)
    w = [int(8 * 1.5 ** i) for i in range(5)]
    assert with_dual - without == 3 * sum(9 * 8 * w[i] for i in range(2, 5))


def test_waves_are_residual_and_output_is_the_state():
    # With every wave's last layers zeroed, each wave returns 0 (the shortcut convs and the
    # second conv of each up block are zero), so the net is project(lift(x)): a check that
    # h <- h + wave(h) and that no input is added back to the output (it predicts the state).
    torch.manual_seed(0)
    model = tiny("circular").eval()
    with torch.no_grad():
        for wave in model.waves:
            for stack in wave.up:
                stack.shortcut.weight.zero_(); stack.shortcut.bias.zero_()
                for blk in stack.blocks:
                    blk.norm2.weight.zero_(); blk.norm2.bias.zero_()
        x = torch.randn(2, 2, 1, 32, 32)
        direct = model.project(model.lift(x.reshape(2, 2, 32, 32))).reshape(2, 1, 1, 32, 32)
        torch.testing.assert_close(model(x), direct, rtol=0, atol=1e-6)


# ---------------------------------------------------------------- periodic upsampling
def test_periodic_pad_wraps_indices():
    x = torch.arange(6.0).reshape(1, 1, 2, 3)
    p = periodic_pad(x, 2)
    assert p.shape == (1, 1, 6, 7)
    rows, cols = torch.meshgrid(torch.arange(-2, 4) % 2, torch.arange(-2, 5) % 3, indexing="ij")
    assert torch.equal(p[0, 0], x[0, 0][rows, cols])
    one = torch.tensor([[[[5.0]]]])  # a 1x1 grid (16x16 input, 4 levels) still pads
    assert torch.equal(periodic_pad(one, 2), torch.full((1, 1, 5, 5), 5.0))


def test_periodic_upsampling_is_upsampling_of_the_periodic_field():
    # Reference: tile the field 3x3, interpolate, keep the centre tile: no border effects left.
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 8, 12, generator=gen, dtype=torch.float64)
    ref = F.interpolate(x.repeat(1, 1, 3, 3), scale_factor=2, mode="bicubic", align_corners=False)
    ref = ref[..., 16:32, 24:48]
    torch.testing.assert_close(Upsample2("circular")(x), ref, rtol=0, atol=1e-12)
    # the plain (zeros-padding) path differs at the border, which is why circular needs its own
    assert (Upsample2("zeros")(x) - ref).abs().max() > 1e-2


def test_periodic_upsampling_shift_and_constants():
    x = torch.randn(1, 2, 8, 8, dtype=torch.float64)
    up = Upsample2("circular")
    # a shift by one coarse cell is a shift by two fine cells
    torch.testing.assert_close(up(torch.roll(x, (1, -3), (-2, -1))),
                               torch.roll(up(x), (2, -6), (-2, -1)), rtol=0, atol=1e-12)
    c = torch.full((1, 1, 4, 4), 2.5, dtype=torch.float64)
    torch.testing.assert_close(up(c), torch.full((1, 1, 8, 8), 2.5, dtype=torch.float64))


def test_periodic_upsampling_converges_at_first_order():
    # torch's bicubic kernel is Keys' with a = -0.75, which reproduces constants but not linear
    # functions: sampling a smooth periodic field at fine cell centres is O(h) accurate.
    f = lambda x, y: (torch.sin(2 * math.pi * x)[:, None] * torch.cos(4 * math.pi * y)[None, :]
                      + 0.3 * torch.cos(2 * math.pi * (x[:, None] + y[None, :])))
    errs = []
    for n in (16, 32, 64, 128):
        xc = (torch.arange(n, dtype=torch.float64) + 0.5) / n
        xf = (torch.arange(2 * n, dtype=torch.float64) + 0.5) / (2 * n)
        u = Upsample2("circular")(f(xc, xc)[None, None])[0, 0]
        errs.append((u - f(xf, xf)).abs().max().item())
    orders = [math.log2(a / b) for a, b in zip(errs, errs[1:])]
    assert errs[-1] < 1e-2
    assert all(0.85 < p < 1.2 for p in orders), orders


# ---------------------------------------------------------------- shift equivariance
def test_circular_model_commutes_with_shifts_by_the_coarsest_stride():
    torch.manual_seed(0)
    model = tiny("circular").eval()
    x = torch.randn(2, 2, 1, 64, 64)
    with torch.no_grad():
        y = model(x)
        for shift in [(16, 0), (16, 32), (-48, 16)]:
            ys = model(torch.roll(x, shift, dims=(-2, -1)))
            torch.testing.assert_close(ys, torch.roll(y, shift, dims=(-2, -1)), rtol=1e-5, atol=1e-5)
        # control: a one-cell shift is not a symmetry (pooling aliases), so the check can fail
        y1 = model(torch.roll(x, 1, dims=-1))
        assert (y1 - torch.roll(y, 1, dims=-1)).abs().max() > 1e-3


# ---------------------------------------------------------------- overfitting
def test_tiny_model_overfits_a_fixed_batch():
    gen = torch.Generator().manual_seed(0)
    x = smooth_fields(gen, 4, 2, 32).reshape(4, 2, 1, 32, 32)
    u0, u1 = x[:, 0, 0], x[:, 1, 0]
    # a fixed "linear-ish" step: transport by 3 cells, a linear mix and a weak quadratic term
    y = (0.7 * torch.roll(u1, 3, dims=-1) - 0.4 * u0 + 0.2 * u0 * u1).reshape(4, 1, 1, 32, 32)
    torch.manual_seed(0)
    model = tiny("circular")
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for step in range(300):
        opt.zero_grad()
        err = rel_l2(model(x), y)
        first = err.mean().item() if first is None else first
        if err.max().item() < 0.05:
            break
        err.mean().backward()
        opt.step()
    assert first > 0.5  # it had something to learn
    assert err.max().item() < 0.05, f"relative L2 {err.tolist()} after {step} Adam steps"


# ---------------------------------------------------------------- configs
def _load(name):
    omegaconf = pytest.importorskip("omegaconf")
    return omegaconf.OmegaConf.load(CONF_DIR / name)


def test_small_config_builds_and_runs():
    hydra_utils = pytest.importorskip("hydra.utils")
    cfg = _load("model/sinenet.yaml")
    assert cfg.name == "sinenet"
    assert cfg.recipe.loss == "rel_l2_per_field" and cfg.recipe.monitor == "val/rollout_loss"
    model = hydra_utils.instantiate(cfg.net, in_steps=10, in_channels=1, out_steps=1,
                                    out_channels=1, padding="circular")
    assert isinstance(model, SineNet)
    assert count_parameters(model) < 2_000_000
    assert model(torch.randn(1, 10, 1, 32, 32)).shape == (1, 1, 1, 32, 32)


def test_paper_experiment_is_sinenet8():
    omegaconf = pytest.importorskip("omegaconf")
    base, exp = _load("model/sinenet.yaml"), _load("experiment/sinenet_paper.yaml")
    assert {"override /model": "sinenet"} in list(exp.pop("defaults"))
    cfg = omegaconf.OmegaConf.merge({"model": base}, exp)
    net = omegaconf.OmegaConf.to_container(cfg.model.net)
    net.pop("_target_")
    n = _count(in_steps=4, in_channels=3, out_steps=1, out_channels=3, padding="circular", **net)
    assert n == OFFICIAL_SINENET8_NS
    assert cfg.model.recipe.optimizer.lr == pytest.approx(2e-4)
    assert cfg.model.recipe.optimizer.weight_decay == pytest.approx(1e-5)
    assert cfg.model.recipe.scheduler.warmup_epochs == 5
    assert cfg.data.batch_size == 32 and cfg.trainer.max_epochs == 50


# ---------------------------------------------------------------- bad input
def test_resolution_not_divisible_by_16_is_a_clear_error():
    model = tiny()
    with pytest.raises(ValueError, match="divisible by 2\\^levels = 16"):
        model(torch.randn(1, 2, 1, 40, 32))
    # fewer levels accept coarser multiples
    assert tiny(levels=3)(torch.randn(1, 2, 1, 40, 32)).shape == (1, 1, 1, 40, 32)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="expects input"):
        tiny()(torch.randn(1, 3, 1, 32, 32))  # wrong history length
    with pytest.raises(ValueError, match="set `mult` explicitly"):
        SineNet(2, 1, 1, 1, "zeros", hidden=8, num_waves=3)
    with pytest.raises(ValueError, match="padding"):
        SineNet(2, 1, 1, 1, "reflect", hidden=8, num_waves=2)
    with pytest.raises(ValueError, match=">= 1"):
        SineNet(2, 1, 1, 1, "zeros", hidden=8, num_waves=0, mult=1.5)
