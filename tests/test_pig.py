"""PIG: the Gaussian feature formula, gradients to means, scales and weights, chunked evaluation
(same numbers, bounded chunks), periodic wrapping, and a small Darcy fit against a finite-volume
solve."""
from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pdebench_x.models.pig import GaussianField, PIGSolver
from pdebench_x.numerics.darcy.solver import solve
from pdebench_x.pdes.instance import Axis, PDEInstance
from pdebench_x.pdes.calculus import laplacian


pytestmark = pytest.mark.usefixtures("one_torch_thread")


AXES = [Axis("x", -1.0, 1.0), Axis("y", -1.0, 1.0)]


def test_features_follow_the_formula():
    torch.manual_seed(0)
    f = GaussianField(AXES, 1, n_gaussians=5, channels=3)
    x, y = torch.rand(7) * 2 - 1, torch.rand(7) * 2 - 1
    feats = f.features(f.normalise([x, y]))
    mu, sig, w = f.mu.detach(), f.sigma.detach(), f.weight.detach()
    expected = torch.zeros(7, 3)
    for p in range(7):
        for k in range(3):
            for i in range(5):
                e = ((x[p] - mu[k, i, 0]) / sig[k, i, 0]) ** 2 + ((y[p] - mu[k, i, 1]) / sig[k, i, 1]) ** 2
                expected[p, k] += w[k, i] * torch.exp(-0.5 * e)
    torch.testing.assert_close(feats, expected, rtol=1e-5, atol=1e-7)
    # the official initialisation: means in the box, sigma_init, small weights
    assert f.mu.abs().max() <= 1 and torch.all(f.sigma == 0.1) and f.weight.std() < 0.05
    assert [m for m in f.mlp if isinstance(m, torch.nn.Linear)][0].in_features == 3


def test_gradients_reach_means_scales_and_weights_through_a_residual():
    torch.manual_seed(1)
    f = GaussianField(AXES, 1, n_gaussians=16)
    x = (torch.rand(64) * 2 - 1).requires_grad_(True)
    y = (torch.rand(64) * 2 - 1).requires_grad_(True)
    u = f(x, y)[:, 0]
    loss = ((laplacian(u, x, y) + u - 1.0) ** 2).mean()   # a Helmholtz-type residual
    loss.backward()
    for name in ("mu", "sigma", "weight"):
        g = getattr(f, name).grad
        assert g is not None and torch.isfinite(g).all() and g.abs().max() > 0, name
    assert all(p.grad is not None and p.grad.abs().max() > 0 for p in f.mlp.parameters())


def test_closed_form_laplacian_equals_autograd_and_its_parameter_gradients():
    torch.manual_seed(3)
    axes = [Axis("x", -1.0, 1.0), Axis("y", 0.0, 3.0, periodic=True)]   # unequal lengths, a wrapped axis
    f = GaussianField(axes, 2, n_gaussians=20, sigma_init=0.3, max_elements=4 * 20 * 9).double()
    x = (torch.rand(40, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    y = (torch.rand(40, dtype=torch.float64) * 3).requires_grad_(True)
    u = f(x, y)
    lap = torch.stack([laplacian(u[:, i], x, y) for i in range(2)], -1)
    u_closed, lap_closed = f.value_and_laplacian(x, y)
    torch.testing.assert_close(u_closed, u)
    torch.testing.assert_close(lap_closed, lap)
    assert lap.abs().max() > 1e-3                                    # a non-trivial Laplacian
    params = [p for name, p in f.named_parameters() if name != "mlp.2.bias"]   # the Laplacian ignores it
    auto = torch.autograd.grad((lap**2).sum(), params)
    closed = torch.autograd.grad((lap_closed**2).sum(), params)
    for a, c in zip(auto, closed):
        torch.testing.assert_close(c, a)


def test_chunked_evaluation_is_exact_and_bounded():
    torch.manual_seed(2)
    big = GaussianField(AXES, 2, n_gaussians=50, channels=4)
    small = GaussianField(AXES, 2, n_gaussians=50, channels=4, max_elements=4 * 50 * 7)
    small.load_state_dict(big.state_dict())
    assert small.chunk_points == 7 and big.chunk_points > 1000
    x, y = torch.rand(100) * 2 - 1, torch.rand(100) * 2 - 1
    torch.testing.assert_close(small(x, y), big(x, y), rtol=0, atol=1e-6)
    # the solver limits its loss chunks to the same bound
    solver = PIGSolver(net={"n_gaussians": 50, "max_elements": 4 * 50 * 7})
    solver.make_field(AXES, 1)
    assert solver.fit_cfg["chunk_size"] == 7


def test_periodic_axis_gives_a_periodic_field():
    torch.manual_seed(3)
    f = GaussianField([Axis("x", 0.0, 2 * math.pi, periodic=True), Axis("t", 0.0, 1.0)], 1, n_gaussians=20,
                      sigma_init=0.3)
    t = torch.rand(10)
    torch.testing.assert_close(f(torch.zeros(10), t), f(torch.full((10,), 2 * math.pi), t), atol=1e-6, rtol=0)
    aperiodic = GaussianField([Axis("x", 0.0, 2 * math.pi), Axis("t", 0.0, 1.0)], 1, n_gaussians=20, sigma_init=0.3)
    assert (aperiodic(torch.zeros(10), t) - aperiodic(torch.full((10,), 2 * math.pi), t)).abs().max() > 1e-4


def test_pig_solves_a_small_darcy_problem():
    # -div(a grad u) = 1 on the unit square with a two-valued coefficient, against the FV solver
    n = 16
    xc = (np.arange(n) + 0.5) / n
    a = np.where(np.add.outer(xc, 0 * xc) < 0.5, 3.0, 12.0)
    ref = solve(a, 1.0, "cells")
    inst = PDEInstance(family="darcy", index=0, kind="steady", channels=["u"], initial={"a": a},
                       scalars={"forcing": 1.0}, x=xc, y=xc, bc_type="dirichlet")
    solver = PIGSolver(net={"n_gaussians": 32},
                       fit={"optimizers": [{"name": "adam", "iterations": 250, "lr": 1e-2}], "collocation": 512})
    info = solver.fit(inst)
    pred = solver.predict()
    assert pred.shape == (1, 1, n, n) and not info["diverged"]
    rel = np.linalg.norm(pred[0, 0] - ref) / np.linalg.norm(ref)
    assert rel < 0.1, rel  # measured 0.04 (250 Adam steps, 32 Gaussians per channel)
    # the energy decreased and the prediction vanishes at the boundary faces (hard constraint)
    assert solver.history[-1] < solver.history[0]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="unknown net setting"):
        PIGSolver(net={"gaussians": 10})
    with pytest.raises(ValueError, match="sigma_init must be > 0"):
        GaussianField(AXES, 1, sigma_init=0.0)
    with pytest.raises(ValueError, match="must have name 'adam' or 'lbfgs'"):
        PIGSolver(fit={"optimizers": [{"name": "sgd", "iterations": 3}]})


def test_steady_problems_take_their_own_optimiser_sequence():
    """fit.steady_optimizers (the official steady script's L-BFGS) for a steady instance, fit.optimizers
    (the time-dependent scripts' Adam) otherwise; null: fit.optimizers for both."""
    adam = [{"name": "adam", "iterations": 3, "lr": 1e-2}]
    lbfgs = [{"name": "lbfgs", "iterations": 2, "lr": 1.0}]
    steady, rollout = SimpleNamespace(kind="steady"), SimpleNamespace(kind="rollout")
    solver = PIGSolver(fit={"optimizers": adam, "steady_optimizers": lbfgs})
    assert solver.optimizer_stages(steady) == lbfgs and solver.optimizer_stages(rollout) == adam
    plain = PIGSolver(fit={"optimizers": adam})
    assert plain.optimizer_stages(steady) == adam == plain.optimizer_stages(rollout)
    with pytest.raises(ValueError, match="fit.steady_optimizers must be a non-empty list"):
        PIGSolver(fit={"steady_optimizers": []})
