"""Training losses: exact values by hand and by analysis, invariances, gradients, the registry."""
from __future__ import annotations

import math

import pytest
import torch

from pdebench_x.training import losses as L

NAMES = ["rel_l2", "rel_h1", "mse", "rel_l2_per_field"]
RELATIVE = ["rel_l2", "rel_h1", "rel_l2_per_field"]


def grid(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.arange(n, dtype=torch.float64) / n
    return torch.meshgrid(x, x, indexing="ij")


def random_pair(shape=(3, 2, 2, 16, 16), seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randn(*shape, generator=g, dtype=torch.float64)
    return y + 0.1 * torch.randn(*shape, generator=g, dtype=torch.float64), y


@pytest.mark.parametrize("name", NAMES)
def test_zero_for_identical_inputs_with_finite_gradient(name):
    _, y = random_pair()
    u = y.clone().requires_grad_(True)
    loss = L.build_loss(name)(u, y)
    assert loss.ndim == 0 and loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(u.grad).all()


@pytest.mark.parametrize("name", RELATIVE)
@pytest.mark.parametrize("scale", [1e-3, 7.0, 1e4])
def test_relative_losses_are_scale_invariant(name, scale):
    u, y = random_pair()
    exact = L.build_loss(name, eps=0.0)
    assert float(exact(scale * u, scale * y)) == pytest.approx(float(exact(u, y)), rel=1e-12)
    default = L.build_loss(name)  # eps = 1e-7 in the denominator: invariant to ~eps / ||y||
    assert float(default(scale * u, scale * y)) == pytest.approx(float(default(u, y)), rel=1e-5)


def test_mse_scales_quadratically_and_matches_hand_value():
    y = torch.zeros(2, 1, 1, 4, 4)
    u = y + 0.5
    loss = L.build_loss("mse")
    assert float(loss(u, y)) == pytest.approx(0.25)
    assert float(loss(3 * u, 3 * y)) == pytest.approx(9 * 0.25)


def test_relative_l2_by_hand():
    # sample 0: ||y|| = 4, ||e|| = 1; sample 1: ||y|| = 5, ||e|| = 0.5 -> mean(0.25, 0.1)
    y = torch.tensor([[2.0, 2.0, 2.0, 2.0], [3.0, 4.0, 0.0, 0.0]], dtype=torch.float64)
    e = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.3, 0.4, 0.0, 0.0]], dtype=torch.float64)
    y5, u5 = y.reshape(2, 2, 1, 1, 2), (y + e).reshape(2, 2, 1, 1, 2)
    assert float(L.RelativeL2Loss(eps=0)(u5, y5)) == pytest.approx(0.175, rel=1e-12)


def test_per_field_loss_weights_fields_equally():
    # channel 0 of scale 100 with 1% error, channel 1 of scale 1 with 50% error (uniform fields)
    y = torch.ones(1, 1, 2, 4, 4, dtype=torch.float64)
    y[:, :, 0] = 100.0
    u = y.clone()
    u[:, :, 0] *= 1.01
    u[:, :, 1] *= 1.5
    per_field = float(L.RelativeL2PerFieldLoss(eps=0)(u, y))
    pooled = float(L.RelativeL2Loss(eps=0)(u, y))
    assert per_field == pytest.approx((0.01 + 0.5) / 2, rel=1e-12)
    assert pooled == pytest.approx(math.sqrt(1.0**2 + 0.5**2) / math.sqrt(100.0**2 + 1.0), rel=1e-12)


def test_h1_matches_the_analytic_norm_of_a_fourier_mode():
    # e = a sin(2 pi m x), y = b sin(2 pi x) + b cos(2 pi y) on [0, L]^2 with x in units of L
    n, m, a, b, length = 32, 5, 0.1, 2.0, 3.0
    x, y = grid(n)
    err = a * torch.sin(2 * math.pi * m * x)
    tgt = b * torch.sin(2 * math.pi * x) + b * torch.cos(2 * math.pi * y)
    k1 = 2 * math.pi / length
    # sum over the grid of sin^2 = n^2 / 2; d/dx multiplies the amplitude by 2 pi m / L
    expected = (a * math.sqrt(1 + (m * k1) ** 2)) / (b * math.sqrt(2 * (1 + k1**2)))
    loss = L.RelativeH1Loss(domain_size=length, eps=0)
    got = float(loss((tgt + err)[None, None, None], tgt[None, None, None]))
    assert got == pytest.approx(expected, rel=1e-12)


def test_h1_exceeds_l2_for_an_oscillatory_error():
    x, y = grid(32)
    tgt = (torch.sin(2 * math.pi * x) * torch.sin(2 * math.pi * y))[None, None, None]
    smooth = 0.05 * tgt
    wiggle = 0.05 * torch.sin(2 * math.pi * 12 * x)[None, None, None]
    l2, h1 = L.RelativeL2Loss(eps=0), L.RelativeH1Loss(eps=0)
    # same L2 size (sum of sin^2 over the grid: n^2 / 4 for the product, n^2 / 2 for wiggle)
    assert float(l2(tgt + smooth, tgt)) == pytest.approx(0.05)
    assert float(h1(tgt + smooth, tgt)) == pytest.approx(0.05, rel=1e-12)  # error parallel to target
    assert float(h1(tgt + wiggle, tgt)) > 5 * float(l2(tgt + wiggle, tgt))


def test_h1_finite_differences_converge_at_second_order():
    # non-periodic fields, so the one-sided edge stencils are exercised too; the reference is
    # the same discrete norm built from the exact derivatives at the grid points. The edge rows
    # add an O(h^3) term of the opposite sign, so the order reaches 2 from n ~ 64 on
    # (measured: 1.62 for 32 -> 64, 1.84 for 64 -> 128, 1.93 for 128 -> 256).
    errors = []
    for n in (64, 128, 256):
        x = (torch.arange(n, dtype=torch.float64) + 0.5) / n  # cell centres of [0, 1]
        xx, yy = torch.meshgrid(x, x, indexing="ij")
        tgt = torch.exp(xx) * torch.cos(yy)
        err = 0.1 * torch.sin(3 * xx) * yy
        num = (err**2 + (0.3 * torch.cos(3 * xx) * yy) ** 2 + (0.1 * torch.sin(3 * xx)) ** 2).sum()
        den = (torch.exp(2 * xx) * (2 * torch.cos(yy) ** 2 + torch.sin(yy) ** 2)).sum()
        reference = float(num.sqrt() / den.sqrt())
        got = float(L.RelativeH1Loss(method="fd", eps=0)((tgt + err)[None, None, None], tgt[None, None, None]))
        errors.append(abs(got - reference) / reference)
    orders = [math.log2(errors[i] / errors[i + 1]) for i in range(2)]
    assert errors[-1] < 2e-5 and orders[0] > 1.75 and orders[1] > 1.85, (errors, orders)


def test_h1_truncation_reproduces_mgno_weighting():
    x, y = grid(64)
    tgt = torch.cos(2 * math.pi * x)[None, None, None]
    high = 0.01 * torch.cos(2 * math.pi * 25 * y)[None, None, None]  # |k| = 25 >= 20: no derivative weight
    low = 0.01 * torch.cos(2 * math.pi * 3 * y)[None, None, None]
    mgno = L.RelativeH1Loss.mgno(eps=0)
    # MgNO's weight is sqrt(1 + k^2) with integer k: target k = 1 -> sqrt(2)
    assert float(mgno(tgt + high, tgt)) == pytest.approx(0.01 / math.sqrt(2), rel=1e-12)
    assert float(mgno(tgt + low, tgt)) == pytest.approx(0.01 * math.sqrt(10) / math.sqrt(2), rel=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_flows_to_the_prediction(name):
    u, y = random_pair(shape=(2, 2, 1, 12, 12))
    u = u.float().requires_grad_(True)
    loss = L.build_loss(name)(u, y.float())
    loss.backward()
    assert u.grad is not None and torch.isfinite(u.grad).all() and u.grad.abs().sum() > 0
    # a small step against the gradient lowers the loss
    with torch.no_grad():
        lower = L.build_loss(name)(u - 1e-3 * u.grad / u.grad.norm(), y.float())
    assert lower.item() < loss.item()


@pytest.mark.parametrize("method", ["spectral", "fd"])
def test_h1_gradient_matches_finite_differences(method):
    u, y = random_pair(shape=(1, 1, 1, 6, 6))
    f = L.build_loss("rel_h1", method=method)
    assert torch.autograd.gradcheck(lambda p: f(p, y), (u.clone().requires_grad_(True),), fast_mode=True)


def test_unknown_name_and_bad_options_raise_clear_errors():
    with pytest.raises(ValueError, match="mse, rel_h1, rel_h1_mgno, rel_l2, rel_l2_per_field"):
        L.build_loss("l2")
    with pytest.raises(ValueError, match="domain_size"):
        L.build_loss("rel_l2", domain_size=1.0)
    with pytest.raises(ValueError, match="method"):
        L.build_loss("rel_h1", method="chebyshev")
    with pytest.raises(ValueError, match=r"\[2, 1, 1, 8, 8\].*\[2, 1, 1, 8, 9\]"):
        L.build_loss("rel_l2")(torch.zeros(2, 1, 1, 8, 8), torch.zeros(2, 1, 1, 8, 9))
    with pytest.raises(ValueError, match="unsqueeze"):
        L.build_loss("mse")(torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 8, 8))
