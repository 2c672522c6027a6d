"""Tests for the MgNO model (pdebench_x/models/mgno.py) and its configs.

The V-cycle is checked against the algorithm written out by hand with functional convolutions,
against linearity, and against periodic-shift equivariance; the model against shapes, gradients,
the paper's parameter count and overfitting a tiny Poisson (Darcy with a = 1) batch.
"""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from conftest import CONF_DIR, compose_config
from pdebench_x.models.base import OperatorModel, count_parameters
from pdebench_x.models.mgno import MgNO, Prolongation, VCycle

MODEL_YAML = CONF_DIR / "model/mgno.yaml"
DARCY_YAML = CONF_DIR / "experiment/mgno_paper.yaml"
NS_YAML = CONF_DIR / "experiment/mgno_ns_paper.yaml"
SMOOTH_YAML = CONF_DIR / "experiment/mgno_smooth_paper.yaml"


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: the CI budget is one core, and two threads on a loaded machine spin."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def build(net_cfg, in_steps=1, in_channels=1, out_steps=1, out_channels=1, padding="zeros"):
    return instantiate(net_cfg, in_steps=in_steps, in_channels=in_channels, out_steps=out_steps,
                       out_channels=out_channels, padding=padding)


def small_net():
    return OmegaConf.load(MODEL_YAML).net


def paper_net(path):
    """The model.net an experiment run sees: the model yaml's net overridden by the experiment's."""
    return OmegaConf.merge(small_net(), OmegaConf.load(path).model.net)


def smooth_fields(n, size, modes=4, seed=0):
    """n random smooth fields sum_k c_k exp(2 pi i k.x) / (1 + |k|^2) on a size x size grid."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.arange(size, dtype=torch.float64) + 0.5) / size
    c = torch.randn(n, modes, modes, 2, generator=g, dtype=torch.float64)
    out = torch.zeros(n, size, size, dtype=torch.float64)
    for kx in range(modes):
        for ky in range(modes):
            ph = 2 * math.pi * (kx * x[:, None] + ky * x[None, :])
            out += (c[:, kx, ky, 0, None, None] * torch.cos(ph)
                    + c[:, kx, ky, 1, None, None] * torch.sin(ph)) / (1 + kx ** 2 + ky ** 2)
    return out


def poisson_dirichlet(f):
    """Exact solution of the 5-point -Lap u = f on the unit square, u = 0 on the boundary,
    by the discrete sine transform: eigenvalues (4/h^2)(sin^2(pi k h/2) + sin^2(pi l h/2))."""
    n = f.shape[-1]
    h = 1.0 / (n + 1)
    k = torch.arange(1, n + 1, dtype=torch.float64)
    S = math.sqrt(2 / (n + 1)) * torch.sin(math.pi * k[:, None] * k[None, :] * h)
    lam = 4 / h ** 2 * torch.sin(math.pi * k * h / 2) ** 2
    return S @ ((S @ f @ S) / (lam[:, None] + lam[None, :])) @ S


# ----------------------------------------------------------------------------- configs
def test_configs_are_complete_and_consistent():
    cfg = OmegaConf.load(MODEL_YAML)
    assert cfg.name == "mgno" and cfg.net._target_ == "pdebench_x.models.mgno.MgNO"
    assert cfg.recipe.loss == "rel_l2" and cfg.recipe.loss_space == "physical"
    # every value of the paper recipes against the official code: tests/test_recipes_mgno_sinenet.py
    for path, loss, family in ((DARCY_YAML, "rel_h1_mgno", "darcy"), (SMOOTH_YAML, "rel_h1_mgno", "darcy"),
                               (NS_YAML, "rel_l2", "ns")):
        assert path.read_text().splitlines()[0].strip() == "# @package _global_"
        exp = compose_config([f"experiment={path.stem}"])  # the experiment over the model yaml
        rec = exp.model.recipe
        assert rec.loss == loss and rec.loss_space == "physical" and exp.data.family == family
        assert rec.scheduler.name == "onecycle" and rec.scheduler.interval == "epoch"
        assert exp.trainer.max_epochs > 0


def test_output_shapes_at_two_resolutions():
    torch.manual_seed(0)
    for padding in ("zeros", "circular"):
        model = build(small_net(), in_steps=2, in_channels=3, out_steps=4, out_channels=3, padding=padding)
        assert isinstance(model, OperatorModel)
        for h, w in ((32, 32), (48, 64)):
            y = model(torch.randn(2, 2, 3, h, w))
            assert y.shape == (2, 4, 3, h, w) and torch.isfinite(y).all()


def test_bad_resolution_and_bad_hyperparameters_raise_clear_errors():
    model = build(small_net())  # 4 levels: grids divisible by 8
    with pytest.raises(ValueError, match="divisible by 2\\^\\(levels-1\\) = 8"):
        model(torch.randn(1, 1, 1, 36, 32))
    with pytest.raises(ValueError, match="expects input"):
        model(torch.randn(1, 1, 2, 32, 32))
    with pytest.raises(ValueError, match="restrict"):
        MgNO(1, 1, 1, 1, restrict="fine")
    with pytest.raises(ValueError, match="pre_smooth needs one entry per level"):
        MgNO(1, 1, 1, 1, levels=3, pre_smooth=[1, 2])
    with pytest.raises(ValueError, match="level 0 needs at least one pre-smoothing"):
        MgNO(1, 1, 1, 1, levels=2, pre_smooth=[0, 1])
    with pytest.raises(ValueError, match="residual=True .* in_channels == out_channels"):
        MgNO(1, 2, 1, 1, residual=True)
    with pytest.raises(ValueError, match="padding"):
        MgNO(1, 1, 1, 1, padding="reflect")


def test_padding_drives_every_convolution():
    for padding in ("zeros", "circular"):
        model = MgNO(1, 2, 1, 2, padding, width=4, layers=2, levels=3, post_smooth=1)
        convs = [m for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1)]
        assert convs and all(m.padding_mode == padding for m in convs)
        assert all(p.periodic == (padding == "circular") for p in model.modules() if isinstance(p, Prolongation))


# ----------------------------------------------------------------------------- the V-cycle itself
@pytest.mark.parametrize("restrict", ["residual", "source"])
def test_two_level_cycle_matches_the_algorithm_written_out(restrict):
    """L = 2, one pre-step per level, one post-step on level 0, by hand:
    u0 = S f;  u1 = Pi u0,  f1 = R (f - A^r u0) | R f;  u1 += S1 (f1 - A1 u1);
    u0 <- u0 + P u1;  u0 += S2 (f - A2 u0)."""
    torch.manual_seed(1)
    cyc = VCycle(3, 5, levels=2, pre_smooth=[1, 1], post_smooth=[1], restrict=restrict,
                 padding="zeros", norm="none", bias=False).double()
    f = torch.randn(2, 3, 8, 8, dtype=torch.float64)

    def c3(v, conv, stride=1):
        return F.conv2d(v, conv.weight, stride=stride, padding=1)

    s0 = cyc.pre[0][0]
    s1 = cyc.pre[1][0]
    s2 = cyc.post[0][0]
    u0 = c3(f, s0.S)
    r = f - c3(u0, cyc.A_res[0]) if restrict == "residual" else f
    u1 = c3(u0, cyc.Pi[0], 2)
    f1 = c3(r, cyc.R[0], 2)
    u1 = u1 + c3(f1 - c3(u1, s1.A), s1.S)
    u0 = u0 + F.conv_transpose2d(u1, cyc.P[0].conv.weight, stride=2, padding=1)
    u0 = u0 + c3(f - c3(u0, s2.A), s2.S)
    assert s0.A is None
    assert (cyc.A_res is None) == (restrict == "source")
    torch.testing.assert_close(cyc(f), u0, rtol=1e-12, atol=1e-12)


def test_single_level_smoothing_steps():
    """L = 1, three steps: u = S1 f, then u <- u + S_i (f - A_i u)."""
    torch.manual_seed(2)
    cyc = VCycle(2, 4, levels=1, pre_smooth=[3], post_smooth=[], restrict="residual",
                 padding="circular", norm="none", bias=True).double()
    f = torch.randn(1, 2, 6, 6, dtype=torch.float64)
    u = cyc.pre[0][0].S(f)
    for step in cyc.pre[0][1:]:
        u = u + step.S(f - step.A(u))
    torch.testing.assert_close(cyc(f), u)
    # the bias makes the step affine: S f has the bias in every cell for f = 0
    torch.testing.assert_close(cyc.pre[0][0].S(torch.zeros_like(f)),
                               cyc.pre[0][0].S.bias.view(1, -1, 1, 1).expand(1, 4, 6, 6))


def test_periodic_prolongation_wraps_around():
    """The circular prolongation equals the zero-padded transposed conv applied to the 3x3
    periodic tiling of the coarse field, cut back to the middle tile."""
    torch.manual_seed(3)
    P = Prolongation(3, "circular").double()
    v = torch.randn(2, 3, 5, 4, dtype=torch.float64)
    tiled = v.repeat(1, 1, 3, 3)
    ref = F.conv_transpose2d(tiled, P.conv.weight, stride=2, padding=1)[..., 10:20, 8:16]
    torch.testing.assert_close(P(v), ref)
    # zero padding drops the wrap-around terms: the two differ on the border
    Pz = Prolongation(3, "zeros").double()
    Pz.conv.weight.data.copy_(P.conv.weight.data)
    diff = (Pz(v) - P(v)).abs()
    assert diff[..., 1:-1, 1:-1].max() < 1e-12 and diff.max() > 1e-3


@pytest.mark.parametrize("n_coarse,n_fine", [(3, 5), (3, 6), (4, 7)])
@pytest.mark.parametrize("padding", ["zeros", "circular"])
def test_kernel3_prolongation_reaches_odd_and_even_grids(padding, n_coarse, n_fine):
    """(P v)[o] = sum_{2j + k - 1 = o} K[k] v[j] per direction, j taken modulo n with circular padding,
    for every fine index o < n_fine (2n - 1 or 2n): the 3x3 kernel of MgNO_DC_smooth."""
    torch.manual_seed(8)
    P = Prolongation(2, padding, kernel=3).double()
    K = P.conv.weight  # [C_in, C_out, 3, 3]
    v = torch.randn(1, 2, n_coarse, n_coarse, dtype=torch.float64)
    ref = torch.zeros(1, 2, n_fine, n_fine, dtype=torch.float64)
    for o1 in range(n_fine):
        for o2 in range(n_fine):
            for k1 in range(3):
                for k2 in range(3):
                    j1, j2 = (o1 + 1 - k1) / 2, (o2 + 1 - k2) / 2
                    if j1 != int(j1) or j2 != int(j2):
                        continue
                    j1, j2 = int(j1), int(j2)
                    if padding == "circular":
                        j1, j2 = j1 % n_coarse, j2 % n_coarse
                    elif not (0 <= j1 < n_coarse and 0 <= j2 < n_coarse):
                        continue
                    ref[0, :, o1, o2] += K[:, :, k1, k2].T @ v[0, :, j1, j2]
    torch.testing.assert_close(P(v, (n_fine, n_fine)), ref)


def test_smooth_paper_model_runs_on_its_odd_grid_only():
    """MgNO_DC_smooth's kernels (3, 4, 3, 3, 4) carry 211 -> 106 -> 53 -> 27 -> 14 -> 7 back up."""
    model = build(paper_net(SMOOTH_YAML)).eval()
    assert count_parameters(model) == 678_093  # the official MgNO_DC_smooth
    with torch.no_grad():
        assert model(torch.randn(1, 1, 1, 211, 211)).shape == (1, 1, 1, 211, 211)
    with pytest.raises(ValueError, match="even grid at the levels whose kernel is 4"):
        model.check_grid((213, 211))
    with pytest.raises(ValueError, match="entries must be 3 or 4"):
        MgNO(1, 1, 1, 1, levels=3, prolongation_kernel=[5, 4])


@pytest.mark.parametrize("restrict", ["residual", "source"])
def test_vcycle_is_linear(restrict):
    """Without biases and norm, W is a linear operator: W(a f + b g) = a W f + b W g."""
    torch.manual_seed(4)
    cyc = VCycle(2, 6, levels=3, pre_smooth=[2, 1, 2], post_smooth=[1, 1], restrict=restrict,
                 padding="zeros", norm="none", bias=False).double()
    f, g = torch.randn(2, 1, 2, 16, 16, dtype=torch.float64)
    torch.testing.assert_close(cyc(2.5 * f - 0.7 * g), 2.5 * cyc(f) - 0.7 * cyc(g))


def test_source_and_residual_restriction_differ_only_by_the_residual_term():
    torch.manual_seed(5)
    kw = dict(width=6, layers=2, levels=3)
    src = MgNO(1, 1, 1, 1, restrict="source", **kw)
    res = MgNO(1, 1, 1, 1, restrict="residual", **kw)
    missing = res.load_state_dict(src.state_dict(), strict=False).missing_keys
    assert missing and all(".A_res." in k for k in missing)
    x = torch.randn(2, 1, 1, 16, 16)
    with torch.no_grad():
        assert (res(x) - src(x)).abs().max() > 1e-4  # the residual term is active
        for cyc in res.cycles:
            for conv in cyc.A_res:
                conv.weight.zero_()
        torch.testing.assert_close(res(x), src(x))


# ----------------------------------------------------------------------------- the model
def test_every_parameter_receives_a_gradient():
    torch.manual_seed(6)
    model = MgNO(2, 2, 3, 2, "circular", width=6, layers=3, levels=3, pre_smooth=[1, 2, 2],
                 post_smooth=[1, 1], restrict="residual", residual=True, norm="group", conv_bias=True)
    x = torch.randn(2, 2, 2, 16, 16)
    (model(x) ** 2).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"zero gradient for {name}"


def test_darcy_paper_parameter_count():
    """Paper (Darcy, 4 layers, 24 channels, 6 levels): 0.57M parameters."""
    net = paper_net(DARCY_YAML)
    model = build(net)
    n = count_parameters(model)
    assert abs(n - 0.57e6) / 0.57e6 < 0.02, n
    # the residual restriction adds one 3x3 conv u -> f per restriction and layer
    width, levels = net.width, net.levels
    extra = 9 * width * (levels - 1) * (1 + width * (net.layers - 1))
    net.restrict = "residual"
    assert count_parameters(build(net)) == n + extra


def test_ns_paper_config_is_the_official_network_tied_to_its_grid():
    """MgNO_NS as released: LayerNorm([C, 64/2^l, 64/2^l]) after each coarse correction, no 1x1 branch,
    the global residual; 2,885,194 parameters, the official count. The LayerNorms tie it to 64x64 (a
    clear refusal elsewhere); norm=group, the same statistics per sample, runs at any resolution."""
    net = paper_net(NS_YAML)
    model = build(net, padding="circular").eval()
    norms = [m for m in model.modules() if isinstance(m, nn.LayerNorm)]
    assert [tuple(m.normalized_shape) for m in norms[:4]] == [(32, 64, 64), (32, 32, 32), (32, 16, 16), (32, 8, 8)]
    assert len(norms) == 4 * 5 and model.B is None and count_parameters(model) == 2_885_194
    with torch.no_grad():
        x = torch.randn(1, 1, 1, 64, 64)
        assert model(x).shape == (1, 1, 1, 64, 64)
        with pytest.raises(ValueError, match="tied to the 64x64 grid"):
            model(torch.randn(1, 1, 1, 32, 32))
        # global residual: with the final 1x1 map zeroed the output is the input frame
        model.out.weight.zero_()
        torch.testing.assert_close(model(x), x)
    net.norm, net.norm_grid = "group", None
    free = build(net, padding="circular").eval()
    with torch.no_grad():
        assert free(torch.randn(1, 1, 1, 32, 32)).shape == (1, 1, 1, 32, 32)
    with pytest.raises(ValueError, match="norm='layer' needs norm_grid"):
        MgNO(1, 1, 1, 1, "circular", width=4, layers=1, levels=2, norm="layer")


def test_residual_adds_the_last_input_frame_to_every_output_frame():
    model = MgNO(3, 2, 2, 2, "circular", width=4, layers=1, levels=2, residual=True)
    x = torch.randn(2, 3, 2, 8, 8)
    with torch.no_grad():
        base = model.unflatten_time(model.out(model.act(model.cycles[0](model.flatten_time(x))
                                                        + model.B[0](model.flatten_time(x)))))
        torch.testing.assert_close(model(x), base + x[:, 2:3])


def test_commutes_with_periodic_shifts_by_the_coarsest_stride():
    torch.manual_seed(7)
    model = MgNO(2, 1, 2, 1, "circular", width=6, layers=2, levels=4, post_smooth=1,
                 restrict="residual", residual=True, norm="group", conv_bias=True).eval()
    x = torch.randn(2, 2, 1, 32, 32)
    with torch.no_grad():
        y = model(x)
        scale = y.abs().max()
        for sx, sy in ((8, 16), (-24, 8)):  # multiples of 2^(levels-1) = 8
            y_shift = model(torch.roll(x, (sx, sy), dims=(-2, -1)))
            err = (y_shift - torch.roll(y, (sx, sy), dims=(-2, -1))).abs().max() / scale
            assert err < 1e-5, err
        # control: a one-cell shift breaks the stride-2 alignment, so the check can fail
        y_one = model(torch.roll(x, 1, dims=-1))
        assert (y_one - torch.roll(y, 1, dims=-1)).abs().max() / scale > 1e-3


def test_small_config_overfits_a_poisson_batch():
    """Four smooth sources f, targets u = (-Lap_h)^{-1} f (zero Dirichlet), 32x32: the small
    config (narrowed to 12 channels, 2 layers) reaches relative L2 < 5% within 300 Adam steps."""
    torch.manual_seed(0)
    f = smooth_fields(4, 32)
    u = poisson_dirichlet(f)
    x = (f / f.std()).float()[:, None, None]
    y = (u / u.std()).float()[:, None, None]
    net = small_net()
    net.width, net.layers = 12, 2
    model = build(net)

    def rel_l2():
        return ((model(x) - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)).mean()

    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    with torch.no_grad():
        start = rel_l2().item()
    for _ in range(300):
        opt.zero_grad()
        loss = rel_l2()
        if loss.item() < 0.03:
            break
        loss.backward()
        opt.step()
    with torch.no_grad():
        final = rel_l2().item()
    assert start > 0.5 and final < 0.05, (start, final)
