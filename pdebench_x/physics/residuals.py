r"""PDE residuals by automatic differentiation, for physics-informed solvers.

Convention: coordinates are 1D tensors [P] (one entry per collocation point) that require
grad (leaves, or intermediate tensors such as a Lagrangian position); fields are tensors [P]
computed POINTWISE from them (point i depends only on coordinates i, as any coordinate
network does), so d(sum f)/dx is the pointwise derivative f_x. Every function returns the
residual(s) [P]; a residual is zero for an exact solution.

Eulerian residuals (x, y, t the physical coordinates):

- convection-diffusion: r = u_t + c u_x - nu u_xx
- viscous Burgers:      r = u_t + u u_x - nu u_xx
- 2D incompressible Navier–Stokes, vorticity / stream-function form (the NS data set; u =
  (psi_y, -psi_x), so div u = 0 exactly), two residuals:
      r_w   = w_t + u w_x + v w_y - nu (w_xx + w_yy) - f,
      r_psi = psi_xx + psi_yy + w                        (-Lap psi = w),
  with the data set's forcing f = A (sin 2 pi (x + y) + cos 2 pi (x + y)) by default.
  Only second derivatives appear (a network with outputs (w, psi)); periodicity is the
  network's business (periodic input features).
- 2D shallow water, conservative variables q = (h, hu, hv), flat bottom, gravity g:
      r_h  = h_t + (hu)_x + (hv)_y
      r_hu = (hu)_t + (hu^2 / h + g h^2 / 2)_x + (hu hv / h)_y
      r_hv = (hv)_t + (hu hv / h)_x + (hv^2 / h + g h^2 / 2)_y
  Boundary conditions (open = zero normal gradient, wall, periodic) are losses of the solver.
- Darcy -div(a grad u) = f. The data's coefficient is piecewise constant (jumps 12 / 3), so
  the strong form's div(a grad u) is a distribution on the jump curves. Two forms:
    * ``darcy_energy_density`` (the default of the solvers): the Ritz energy density
      e = a |grad u|^2 / 2 - f u, whose integral over the domain, with u = 0 on the boundary,
      is minimised exactly by the weak solution; only first derivatives of u appear and a
      is used as the data gives it (cell values, :class:`CellCoefficient`), jumps included;
    * ``darcy_strong``: r = -(a u_x)_x - (a u_y)_y - f with a differentiable coefficient,
      e.g. :class:`SmoothedCoefficient` (Gaussian-blurred cell values, bilinear interpolant):
      this solves a nearby smoothed problem, an O(blur width) modelling error at the jumps.

Lagrangian residuals (LPINN; X0 the label of a material point, (x_L, y_L)(X0, t) its position):

- 1D (the LPINN paper): r_x = d/dt x_L - s, r_u = d/dt u - nu u_{X0 X0}, with the
  characteristic speed s = c (convection) or u (Burgers); the diffusion term is taken in the
  label variable X0, as in the paper (exact for convection, where x_L - X0 is uniform).
- 2D: Eulerian derivatives of a field carried by the map are exact by the chain rule,
  grad_x f = J^-T grad_X0 f with J = d(x_L, y_L) / d(X0, Y0), so the 2D residuals below are
  exact (no approximation of the Laplacian, unlike the 1D paper form):
    NS:  r_x = d/dt x_L - u(x_L, t), r_y = d/dt y_L - v(x_L, t) with (u, v) from an Eulerian
         stream function psi evaluated at the particle, r_w = d/dt w - nu Lap_x w - f(x_L),
         r_psi = Lap psi(x_L, t) + w;
    SWE: the columns move with the fluid velocity carried by the state:
         r_x = d/dt x_L - u, r_y = d/dt y_L - v, r_h = d/dt h + h (u_x + v_y),
         r_u = d/dt u + g h_x, r_v = d/dt v + g h_y.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

Forcing = float | torch.Tensor | Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None


# --------------------------------------------------------------------------------------------
# derivatives
# --------------------------------------------------------------------------------------------
def grad(f: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Pointwise derivative df/dx [P] of a pointwise field f [P] (graph kept for higher orders).

    ``x`` must be part of f's graph (a leaf with requires_grad, or an intermediate tensor);
    a field that does not depend on x has derivative 0.
    """
    if not x.requires_grad:
        raise ValueError("the coordinate tensor does not require grad: create it with requires_grad=True "
                         "before evaluating the network, so that derivatives can be taken")
    if not f.requires_grad:
        return torch.zeros_like(x)
    (d,) = torch.autograd.grad(f, x, grad_outputs=torch.ones_like(f), create_graph=True, allow_unused=True)
    return torch.zeros_like(x) if d is None else d


def laplacian(f: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """f_xx + f_yy."""
    return grad(grad(f, x), x) + grad(grad(f, y), y)


# --------------------------------------------------------------------------------------------
# 1D transport
# --------------------------------------------------------------------------------------------
def convection(u: torch.Tensor, x: torch.Tensor, t: torch.Tensor, speed: float,
               viscosity: float = 0.0) -> torch.Tensor:
    """r = u_t + c u_x - nu u_xx."""
    u_x = grad(u, x)
    r = grad(u, t) + speed * u_x
    if viscosity:
        r = r - viscosity * grad(u_x, x)
    return r


def burgers(u: torch.Tensor, x: torch.Tensor, t: torch.Tensor, viscosity: float) -> torch.Tensor:
    """r = u_t + u u_x - nu u_xx."""
    u_x = grad(u, x)
    return grad(u, t) + u * u_x - viscosity * grad(u_x, x)


# --------------------------------------------------------------------------------------------
# Navier–Stokes (vorticity / stream function)
# --------------------------------------------------------------------------------------------
def fno_forcing(x: torch.Tensor, y: torch.Tensor, amplitude: float) -> torch.Tensor:
    """The NS data set's forcing A (sin 2 pi (x + y) + cos 2 pi (x + y))."""
    s = 2.0 * math.pi * (x + y)
    return amplitude * (torch.sin(s) + torch.cos(s))


def _forcing_values(forcing: Forcing, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor | float:
    if forcing is None:
        return 0.0
    if callable(forcing):
        return forcing(x, y)
    if isinstance(forcing, torch.Tensor):
        return forcing
    return fno_forcing(x, y, float(forcing))


def stream_velocity(psi: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(u, v) = (psi_y, -psi_x)."""
    return grad(psi, y), -grad(psi, x)


def navier_stokes_vorticity(w: torch.Tensor, psi: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                            t: torch.Tensor, viscosity: float, forcing: Forcing = None
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """(r_w, r_psi) = (w_t + u w_x + v w_y - nu Lap w - f, Lap psi + w), u = psi_y, v = -psi_x.

    ``forcing``: None (0), a float A (the data set's pattern with amplitude A), a tensor [P]
    of values, or a callable f(x, y).
    """
    u, v = stream_velocity(psi, x, y)
    w_x, w_y = grad(w, x), grad(w, y)
    r_w = grad(w, t) + u * w_x + v * w_y - viscosity * (grad(w_x, x) + grad(w_y, y)) \
        - _forcing_values(forcing, x, y)
    return r_w, laplacian(psi, x, y) + w


# --------------------------------------------------------------------------------------------
# shallow water
# --------------------------------------------------------------------------------------------
def shallow_water(h: torch.Tensor, hu: torch.Tensor, hv: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                  t: torch.Tensor, g: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Conservative residuals (r_h, r_hu, r_hv) of the flat-bottom shallow-water equations."""
    u, v = hu / h, hv / h
    pressure = 0.5 * g * h * h
    r_h = grad(h, t) + grad(hu, x) + grad(hv, y)
    r_hu = grad(hu, t) + grad(hu * u + pressure, x) + grad(hu * v, y)
    r_hv = grad(hv, t) + grad(hv * u, x) + grad(hv * v + pressure, y)
    return r_h, r_hu, r_hv


# --------------------------------------------------------------------------------------------
# Darcy
# --------------------------------------------------------------------------------------------
def darcy_strong(u: torch.Tensor, x: torch.Tensor, y: torch.Tensor, a: torch.Tensor,
                 forcing: float | torch.Tensor) -> torch.Tensor:
    """r = -(a u_x)_x - (a u_y)_y - f; ``a`` [P] must be a differentiable function of (x, y)."""
    return -grad(a * grad(u, x), x) - grad(a * grad(u, y), y) - forcing


def darcy_energy_density(u: torch.Tensor, x: torch.Tensor, y: torch.Tensor, a: torch.Tensor,
                         forcing: float | torch.Tensor) -> torch.Tensor:
    """Ritz energy density e = a (u_x^2 + u_y^2) / 2 - f u; its domain mean times the area is
    the energy E(u), minimised over u = 0 on the boundary by the weak solution.

    Its first variation, int (a grad u . grad phi - f phi), is the weak residual tested
    against phi.
    """
    return 0.5 * a * (grad(u, x) ** 2 + grad(u, y) ** 2) - forcing * u


class CellCoefficient:
    """The coefficient as the data gives it: constant on each cell of an [X, Y] cell grid.

    ``x``, ``y`` are the cell-centre coordinates (uniform); a point takes the value of the cell
    that contains it (clamped at the domain edge). Not differentiable in the coordinates:
    for the energy form, which needs no derivative of a.
    """

    def __init__(self, values: np.ndarray, x: np.ndarray, y: np.ndarray) -> None:
        self.values = torch.as_tensor(np.asarray(values, dtype=np.float64))
        if self.values.ndim != 2 or self.values.shape != (len(x), len(y)):
            raise ValueError(f"coefficient values {tuple(self.values.shape)} do not match the grid "
                             f"({len(x)}, {len(y)})")
        self.x0, self.dx = float(x[0]), float(x[1] - x[0]) if len(x) > 1 else 1.0
        self.y0, self.dy = float(y[0]), float(y[1] - y[0]) if len(y) > 1 else 1.0

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        nx, ny = self.values.shape
        i = torch.round((x.detach() - self.x0) / self.dx).long().clamp(0, nx - 1)
        j = torch.round((y.detach() - self.y0) / self.dy).long().clamp(0, ny - 1)
        return self.values.to(x)[i, j]


class SmoothedCoefficient:
    """A differentiable coefficient from cell values: Gaussian blur, then bilinear interpolation.

    The blur (``sigma`` in cells, edges by reflection) widens each jump to a few cells; the
    bilinear interpolant through the blurred centre values is continuous with piecewise
    constant first derivatives, enough for the strong form's (a u_x)_x = a u_xx + a_x u_x.
    ``sigma = 0`` interpolates the raw values.
    """

    def __init__(self, values: np.ndarray, x: np.ndarray, y: np.ndarray, sigma: float = 1.0) -> None:
        from scipy.ndimage import gaussian_filter

        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape != (len(x), len(y)) or min(values.shape) < 2:
            raise ValueError(f"coefficient values {values.shape} do not match the grid ({len(x)}, {len(y)}) "
                             "or have fewer than 2 points a side")
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0 cells, got {sigma}")
        blurred = gaussian_filter(values, sigma, mode="reflect") if sigma > 0 else values
        self.values = torch.as_tensor(blurred)
        self.x0, self.dx = float(x[0]), float(x[1] - x[0])
        self.y0, self.dy = float(y[0]), float(y[1] - y[0])

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        nx, ny = self.values.shape
        v = self.values.to(x)
        # fractional index, clamped to the centre grid (constant extension beyond the last centres)
        fx = ((x - self.x0) / self.dx).clamp(0.0, nx - 1.0)
        fy = ((y - self.y0) / self.dy).clamp(0.0, ny - 1.0)
        i = fx.detach().floor().long().clamp(0, nx - 2)
        j = fy.detach().floor().long().clamp(0, ny - 2)
        sx, sy = fx - i, fy - j
        return ((1 - sx) * (1 - sy) * v[i, j] + sx * (1 - sy) * v[i + 1, j]
                + (1 - sx) * sy * v[i, j + 1] + sx * sy * v[i + 1, j + 1])


# --------------------------------------------------------------------------------------------
# Lagrangian forms (LPINN)
# --------------------------------------------------------------------------------------------
def lagrangian_transport_1d(x_l: torch.Tensor, u: torch.Tensor, x0: torch.Tensor, t: torch.Tensor,
                            speed: float | torch.Tensor, viscosity: float = 0.0
                            ) -> tuple[torch.Tensor, torch.Tensor]:
    """(r_x, r_u) = (d/dt x_L - s, d/dt u - nu u_{X0 X0}) (the LPINN paper's form).

    ``speed``: c for convection, the state u for Burgers.
    """
    r_x = grad(x_l, t) - speed
    r_u = grad(u, t)
    if viscosity:
        r_u = r_u - viscosity * grad(grad(u, x0), x0)
    return r_x, r_u


class LagrangianFrame:
    """Chain rule for fields carried by a 2D map (x_L, y_L)(X0, Y0, t).

    grad_x f = J^-T grad_X0 f with J = [[x_X, x_Y], [y_X, y_Y]] (derivatives of the map with
    respect to the labels at fixed t):
        f_x = (y_Y f_X - y_X f_Y) / det J,   f_y = (x_X f_Y - x_Y f_X) / det J.
    """

    def __init__(self, x_l: torch.Tensor, y_l: torch.Tensor, X0: torch.Tensor, Y0: torch.Tensor) -> None:
        self.X0, self.Y0 = X0, Y0
        self.x_X, self.x_Y = grad(x_l, X0), grad(x_l, Y0)
        self.y_X, self.y_Y = grad(y_l, X0), grad(y_l, Y0)
        self.det = self.x_X * self.y_Y - self.x_Y * self.y_X

    def gradient(self, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Eulerian (f_x, f_y) of a field given as a function of the labels."""
        f_X, f_Y = grad(f, self.X0), grad(f, self.Y0)
        return (self.y_Y * f_X - self.y_X * f_Y) / self.det, (self.x_X * f_Y - self.x_Y * f_X) / self.det

    def laplacian(self, f: torch.Tensor) -> torch.Tensor:
        """Eulerian f_xx + f_yy = d/dx (f_x) + d/dy (f_y), each by the same chain rule."""
        f_x, f_y = self.gradient(f)
        return self.gradient(f_x)[0] + self.gradient(f_y)[1]


def lagrangian_navier_stokes(x_l: torch.Tensor, y_l: torch.Tensor, w: torch.Tensor, psi: torch.Tensor,
                             X0: torch.Tensor, Y0: torch.Tensor, t: torch.Tensor, viscosity: float,
                             forcing: Forcing = None) -> dict[str, torch.Tensor]:
    """Residuals of NS vorticity carried by the flow (see the module docstring).

    ``w`` = w_L(X0, Y0, t) from the state branch; ``psi`` = psi(x_L, y_L, t) evaluated AT the
    particle positions (x_L, y_L) (intermediate tensors of the graph), so psi's derivatives
    with respect to x_L, y_L are its Eulerian derivatives there. Returns {"x", "y", "w", "psi"}.
    """
    frame = LagrangianFrame(x_l, y_l, X0, Y0)
    u, v = stream_velocity(psi, x_l, y_l)
    f = _forcing_values(forcing, x_l, y_l)
    return {
        "x": grad(x_l, t) - u,
        "y": grad(y_l, t) - v,
        "w": grad(w, t) - viscosity * frame.laplacian(w) - f,
        "psi": laplacian(psi, x_l, y_l) + w,
    }


def lagrangian_shallow_water(x_l: torch.Tensor, y_l: torch.Tensor, h: torch.Tensor, u: torch.Tensor,
                             v: torch.Tensor, X0: torch.Tensor, Y0: torch.Tensor, t: torch.Tensor,
                             g: float) -> dict[str, torch.Tensor]:
    """Residuals of shallow water on fluid columns: the map moves with (u, v); along it
    dh/dt = -h div u, du/dt = -g h_x, dv/dt = -g h_y. Returns {"x", "y", "h", "u", "v"}."""
    frame = LagrangianFrame(x_l, y_l, X0, Y0)
    h_x, h_y = frame.gradient(h)
    u_x, _ = frame.gradient(u)
    _, v_y = frame.gradient(v)
    return {
        "x": grad(x_l, t) - u,
        "y": grad(y_l, t) - v,
        "h": grad(h, t) + h * (u_x + v_y),
        "u": grad(u, t) + g * h_x,
        "v": grad(v, t) + g * h_y,
    }
