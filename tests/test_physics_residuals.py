"""The PDE residuals against exact solutions, and the 1D reference solutions and generators.

Every residual is evaluated on a closed-form exact solution (it must vanish to rounding) and
on a perturbed one (it must not): Taylor–Green and the forced FNO mode for Navier–Stokes, the
lake at rest and a uniform stream for shallow water, a manufactured solution for Darcy (strong
and energy forms), travelling waves for convection and Burgers, and a steady shear flow
whose Lagrangian map is known for the Lagrangian forms. The references: exact convection, and
Cole–Hopf Burgers reproducing the classic maximum slope 152.00516 (Basdevant et al. 1986).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pdebench_x.data.generators.base import sample_seed
from pdebench_x.data.generators.burgers import BurgersGenerator
from pdebench_x.data.generators.convection import ConvectionGenerator
from pdebench_x.numerics.transport1d import burgers_sine, convection_diffusion, periodic_grid
from pdebench_x.pdes.burgers import burgers
from pdebench_x.pdes.calculus import LagrangianFrame, grad
from pdebench_x.pdes.convection import convection
from pdebench_x.pdes.darcy import CellCoefficient, SmoothedCoefficient, darcy_energy_density, darcy_strong
from pdebench_x.pdes.ns import fno_forcing, lagrangian_navier_stokes, navier_stokes_vorticity
from pdebench_x.pdes.swe import lagrangian_shallow_water, shallow_water
from pdebench_x.pdes.transport import lagrangian_transport_1d

PI = math.pi
TOL = 1e-9  # float64 rounding of residuals of O(1)-O(100) terms


@pytest.fixture(autouse=True)
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def points(n: int, dims: int, seed: int = 0, lo: float = 0.0, hi: float = 1.0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [(lo + (hi - lo) * torch.rand(n, generator=g)).requires_grad_(True) for _ in range(dims)]


def maxabs(*rs: torch.Tensor) -> float:
    return max(float(r.detach().abs().max()) for r in rs)


# --------------------------------------------------------------------------------------------
# 1D transport
# --------------------------------------------------------------------------------------------
def test_convection_residual_exact_and_perturbed():
    x, t = points(200, 2, hi=2 * PI)
    c = 50.0
    assert maxabs(convection(torch.sin(x - c * t), x, t, c)) < TOL
    # convection-diffusion: each mode decays as exp(-nu k^2 t)
    nu = 0.3
    u = torch.exp(-nu * 4 * t) * torch.sin(2 * (x - c * t))
    assert maxabs(convection(u, x, t, c, nu)) < TOL
    assert maxabs(convection(torch.sin(x - 0.9 * c * t), x, t, c)) > 1.0


def test_burgers_residual_viscous_shock():
    # u = U - A tanh(A (x - U t) / (2 nu)) is an exact travelling viscous shock
    x, t = points(200, 2, lo=-1.0)
    U, A, nu = 0.4, 1.0, 0.05
    u = U - A * torch.tanh(A * (x - U * t) / (2 * nu))
    assert maxabs(burgers(u, x, t, nu)) < 1e-8
    assert maxabs(burgers(u, x, t, 2 * nu)) > 1.0


def test_convection_reference_is_exact():
    x = periodic_grid(64)
    t = np.array([0.0, 0.3, 1.0])
    u = convection_diffusion(np.sin(x) + 0.5 * np.cos(3 * x), t, speed=50.0, viscosity=0.01)
    exact = np.exp(-0.01 * t[:, None]) * np.sin(x[None] - 50 * t[:, None]) \
        + 0.5 * np.exp(-0.09 * t[:, None]) * np.cos(3 * (x[None] - 50 * t[:, None]))
    assert np.abs(u - exact).max() < 1e-12


def test_cole_hopf_reproduces_the_classic_maximum_slope():
    # u0 = -sin(pi x) on [-1, 1], nu = 0.01/pi: max |u_x| = 152.00516 at t = 1.6037/pi, x = 0.
    # In our variables (x -> pi (x + 1), t -> pi t, nu -> 0.01): slope 152.00516 / pi at t = 1.6037.
    h = 1e-6
    u = burgers_sine(np.array([PI - h, PI + h]), [1.6037], viscosity=0.01)
    slope = -(u[0, 1] - u[0, 0]) / (2 * h) * PI
    assert slope == pytest.approx(152.00516, rel=2e-7)


def test_cole_hopf_satisfies_burgers_and_matches_the_initial_field():
    x = periodic_grid(32)
    assert np.abs(burgers_sine(x, [0.0], 0.02, amplitude=1.3, mean=0.5)[0] - (0.5 + 1.3 * np.sin(x))).max() < 1e-15
    assert np.abs(burgers_sine(x, [1e-9], 0.02, amplitude=1.3, mean=0.5)[0] - (0.5 + 1.3 * np.sin(x))).max() < 1e-7
    # finite-difference residual at smooth points and times, with a mean flow and a shift
    nu, e = 0.05, 1e-4
    xs = np.array([0.7 - e, 0.7, 0.7 + e, 4.0 - e, 4.0, 4.0 + e])
    u = burgers_sine(xs, [0.6 - e, 0.6, 0.6 + e], nu, amplitude=1.2, mean=0.3, shift=0.4)
    for k in (1, 4):
        ut = (u[2, k] - u[0, k]) / (2 * e)
        ux = (u[1, k + 1] - u[1, k - 1]) / (2 * e)
        uxx = (u[1, k + 1] - 2 * u[1, k] + u[1, k - 1]) / e**2
        assert abs(ut + u[1, k] * ux - nu * uxx) < 1e-5
    # periodicity and the Galilean shift
    assert np.abs(burgers_sine(x, [0.5], nu, mean=0.3) - burgers_sine(x + 2 * PI, [0.5], nu, mean=0.3)).max() < 1e-12


def test_1d_generators_store_exact_solutions_as_x_by_1_fields():
    conv = ConvectionGenerator(resolution=32, n_frames=5, speed=50.0)
    desc = conv.describe()
    assert desc.y.shape == (1,) and desc.boundary_conditions[0].bc_type == "periodic"
    u = conv.generate([sample_seed(0, "test", 0)])["u"]
    assert u.shape == (1, 5, 32, 1)
    exact = np.sin(desc.x[None] - 50.0 * desc.times[:, None])
    assert np.abs(u[0, ..., 0] - exact).max() < 1e-6
    rand = ConvectionGenerator(resolution=32, n_frames=3, initial="fourier", speed_range=[1, 50])
    out = rand.generate([sample_seed(0, "train", i) for i in range(2)])
    assert out["speed"].shape == (2,) and out["speed"][0] != out["speed"][1]
    assert not np.allclose(out["u"][0, 0], out["u"][1, 0])
    burg = BurgersGenerator(resolution=32, n_frames=4)
    u = burg.generate([sample_seed(0, "test", 0)])["u"]
    assert u.shape == (1, 4, 32, 1)
    assert np.abs(u[0, :, :, 0] - burgers_sine(burg.x, burg.times, 0.01)).max() < 1e-6
    with pytest.raises(ValueError, match="viscosity must be > 0"):
        BurgersGenerator(viscosity=0.0)
    with pytest.raises(ValueError, match="unknown convection setting"):
        ConvectionGenerator(sped=3)


# --------------------------------------------------------------------------------------------
# Navier–Stokes
# --------------------------------------------------------------------------------------------
def test_navier_stokes_taylor_green_decay():
    x, y, t = points(300, 3)
    nu = 1e-2
    lam = 8 * PI**2 * nu
    w = torch.sin(2 * PI * x) * torch.sin(2 * PI * y) * torch.exp(-lam * t)
    psi = w / (8 * PI**2)
    r_w, r_psi = navier_stokes_vorticity(w, psi, x, y, t, nu, forcing=None)
    assert maxabs(r_w, r_psi) < TOL
    # a second mode makes the nonlinear term non-zero: no longer a solution
    w2 = w + 0.3 * torch.sin(2 * PI * x)
    r_w, _ = navier_stokes_vorticity(w2, psi + 0.3 * torch.sin(2 * PI * x) / (4 * PI**2), x, y, t, nu)
    assert maxabs(r_w) > 0.1


def test_navier_stokes_with_the_data_sets_forcing():
    # w = f / (8 pi^2 nu) (1 - exp(-8 pi^2 nu t)) is exact with the FNO forcing (one Fourier shell)
    x, y, t = points(300, 3)
    nu, amp = 1e-3, 0.1
    lam = 8 * PI**2 * nu
    f = fno_forcing(x, y, amp)
    w = f / lam * (1 - torch.exp(-lam * t))
    psi = w / (8 * PI**2)
    r_w, r_psi = navier_stokes_vorticity(w, psi, x, y, t, nu, forcing=amp)
    assert maxabs(r_w, r_psi) < TOL
    r_w, r_psi = navier_stokes_vorticity(w, psi, x, y, t, nu, forcing=2 * amp)
    assert maxabs(r_w) > 0.05
    _, r_psi = navier_stokes_vorticity(w, 1.1 * psi, x, y, t, nu, forcing=amp)
    assert maxabs(r_psi) > 0.01


# --------------------------------------------------------------------------------------------
# shallow water
# --------------------------------------------------------------------------------------------
def test_shallow_water_lake_at_rest_and_uniform_stream():
    x, y, t = points(200, 3, lo=-2.5, hi=2.5)
    zero = 0.0 * (x + y + t)
    rs = shallow_water(1.3 + zero, zero, zero, x, y, t, g=9.81)
    assert maxabs(*rs) < TOL
    H, U, V = 2.0, 0.3, -0.7
    rs = shallow_water(H + zero, H * U + zero, H * V + zero, x, y, t, g=1.0)
    assert maxabs(*rs) < TOL
    # still water over a bump is not at rest: gravity pushes it
    h = 1.0 + 0.1 * torch.sin(x)
    r_h, r_hu, r_hv = shallow_water(h, zero, zero, x, y, t, g=1.0)
    assert maxabs(r_h, r_hv) < TOL and maxabs(r_hu) > 0.05


# --------------------------------------------------------------------------------------------
# Darcy
# --------------------------------------------------------------------------------------------
def manufactured(x, y):
    """u = sin(pi x) sin(pi y), a = 2 + sin(2 pi x) cos(2 pi y), f = -div(a grad u) by hand."""
    u = torch.sin(PI * x) * torch.sin(PI * y)
    a = 2 + torch.sin(2 * PI * x) * torch.cos(2 * PI * y)
    a_x = 2 * PI * torch.cos(2 * PI * x) * torch.cos(2 * PI * y)
    a_y = -2 * PI * torch.sin(2 * PI * x) * torch.sin(2 * PI * y)
    u_x = PI * torch.cos(PI * x) * torch.sin(PI * y)
    u_y = PI * torch.sin(PI * x) * torch.cos(PI * y)
    f = 2 * PI**2 * a * u - (a_x * u_x + a_y * u_y)
    return u, a, f


def test_darcy_strong_form_on_a_manufactured_solution():
    x, y = points(300, 2)
    u, a, f = manufactured(x, y)
    assert maxabs(darcy_strong(u, x, y, a, f.detach())) < TOL
    assert maxabs(darcy_strong(u * (1 + 0.1 * x), x, y, a, f.detach())) > 0.1


def gauss_grid(n: int):
    z, w = np.polynomial.legendre.leggauss(n)
    z, w = (z + 1) / 2, w / 2
    X, Y = np.meshgrid(z, z, indexing="ij")
    W = np.outer(w, w)
    return (torch.tensor(X.ravel(), requires_grad=True), torch.tensor(Y.ravel(), requires_grad=True),
            torch.tensor(W.ravel()))


def test_darcy_energy_is_stationary_at_the_solution():
    x, y, wq = gauss_grid(40)
    u, a, f = manufactured(x, y)
    phi = x * (1 - x) * y * (1 - y) * torch.cos(3 * x + y)   # a test function, zero on the boundary
    eps = torch.zeros((), requires_grad=True)

    def first_variation(u_field):
        energy = (wq * darcy_energy_density(u_field + eps * phi, x, y, a.detach(), f.detach())).sum()
        (d,) = torch.autograd.grad(energy, eps)
        return float(d)

    scale = float((wq * (a * (grad(u, x) ** 2 + grad(u, y) ** 2))).sum().detach())
    assert abs(first_variation(u)) < 1e-10 * scale
    assert abs(first_variation(u * (1 + 0.3 * x))) > 1e-3 * scale


def test_coefficients_cell_lookup_and_smoothing():
    n = 16
    xc = (np.arange(n) + 0.5) / n
    vals = np.where(np.add.outer(xc, 0 * xc) > 0.5, 12.0, 3.0)
    cell = CellCoefficient(vals, xc, xc)
    x = torch.tensor([0.1, 0.49, 0.51, 0.99, 1.0])
    assert cell(x, 0.5 + 0 * x).tolist() == [3.0, 3.0, 12.0, 12.0, 12.0]
    # no blur: bilinear interpolation reproduces a linear field exactly between the centres
    lin = SmoothedCoefficient(np.add.outer(2 * xc, 3 * xc), xc, xc, sigma=0.0)
    xs, ys = points(50, 2, lo=xc[0], hi=xc[-1])
    assert maxabs(lin(xs, ys) - (2 * xs + 3 * ys)) < 1e-12
    assert maxabs(grad(lin(xs, ys), xs) - 2.0) < 1e-12
    smooth = SmoothedCoefficient(vals, xc, xc, sigma=1.0)
    v = smooth(torch.tensor([0.05, 0.5, 0.95]), torch.tensor([0.5, 0.5, 0.5]))
    assert v[0] == pytest.approx(3.0, abs=1e-6) and v[2] == pytest.approx(12.0, abs=1e-6) and 3.5 < v[1] < 11.5


# --------------------------------------------------------------------------------------------
# Lagrangian forms
# --------------------------------------------------------------------------------------------
def test_lagrangian_1d_characteristics():
    x0, t = points(100, 2, hi=2 * PI)
    c = 50.0
    u = torch.sin(x0) + 0 * t
    r_x, r_u = lagrangian_transport_1d(x0 + c * t, u, x0, t, c)
    assert maxabs(r_x, r_u) < TOL
    r_x, _ = lagrangian_transport_1d(x0 + 0.9 * c * t, u, x0, t, c)
    assert maxabs(r_x) > 1.0
    # convection-diffusion: the state decays along the characteristic
    nu = 0.1
    r_x, r_u = lagrangian_transport_1d(x0 + c * t, torch.exp(-nu * t) * torch.sin(x0), x0, t, c, nu)
    assert maxabs(r_x, r_u) < TOL


def shear_flow(X0, Y0, t, W=1.3, nu=0.01, perturb=0.0):
    """Steady forced shear flow w = W sin(2 pi y), u = W cos(2 pi y) / (2 pi), v = 0, f = 4 pi^2 nu w:
    particles move along x, x_L = X0 + u(Y0) t, and keep their vorticity."""
    x_l = X0 + W * torch.cos(2 * PI * Y0) / (2 * PI) * t
    y_l = Y0 + 0 * t
    w = W * torch.sin(2 * PI * Y0) + perturb * torch.sin(2 * PI * X0) + 0 * t
    psi = W * torch.sin(2 * PI * y_l) / (4 * PI**2) + 0 * x_l

    def forcing(x, y):
        return 4 * PI**2 * nu * W * torch.sin(2 * PI * y)

    return lagrangian_navier_stokes(x_l, y_l, w, psi, X0, Y0, t, nu, forcing)


def test_lagrangian_navier_stokes_on_a_sheared_map():
    X0, Y0, t = points(200, 3)
    res = shear_flow(X0, Y0, t)
    assert maxabs(*res.values()) < TOL
    res = shear_flow(X0, Y0, t, perturb=0.2)
    assert maxabs(res["psi"]) > 0.1 and maxabs(res["w"]) > 1e-3


def test_lagrangian_frame_chain_rule():
    # an area-preserving stretch; f = F(x_L, y_L) for F = sin(x) y^2: grad and Laplacian are exact
    X0, Y0, t = points(100, 3)
    x_l, y_l = X0 * (1 + t) + 0.3 * Y0, Y0 / (1 + t)
    frame = LagrangianFrame(x_l, y_l, X0, Y0)
    f = torch.sin(x_l) * y_l**2
    f_x, f_y = frame.gradient(f)
    assert maxabs(f_x - torch.cos(x_l) * y_l**2, f_y - 2 * torch.sin(x_l) * y_l) < TOL
    assert maxabs(frame.laplacian(f) - (-torch.sin(x_l) * y_l**2 + 2 * torch.sin(x_l))) < TOL


def test_lagrangian_shallow_water():
    X0, Y0, t = points(100, 3, lo=-2.5, hi=2.5)
    zero = 0 * (X0 + Y0 + t)
    H, U, V = 1.5, 0.2, -0.1
    res = lagrangian_shallow_water(X0 + U * t, Y0 + V * t, H + zero, U + zero, V + zero, X0, Y0, t, g=1.0)
    assert maxabs(*res.values()) < TOL
    res = lagrangian_shallow_water(X0 + zero, Y0 + zero, 1 + 0.1 * torch.sin(X0), zero, zero, X0, Y0, t, g=1.0)
    assert maxabs(res["x"], res["y"], res["h"], res["v"]) < TOL and maxabs(res["u"]) > 0.05


def test_grad_needs_a_differentiable_coordinate():
    x = torch.linspace(0, 1, 5)
    with pytest.raises(ValueError, match="requires_grad=True"):
        grad(x**2, x)
