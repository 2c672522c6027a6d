r"""2D Darcy flow: -div(a grad u) = f on the unit square, u = 0 on the boundary (FNO's setting;
see datasets/darcy.md).

The data's coefficient is piecewise constant (jumps 12 / 3), so the strong form's
div(a grad u) is a distribution on the jump curves. Two physics-informed forms:

- ``energy`` (the default of the solvers): the Ritz energy density e = a |grad u|^2 / 2 - f u,
  whose integral over the domain, with u = 0 on the boundary, is minimised exactly by the weak
  solution; only first derivatives of u appear and a is used as the data gives it (cell values,
  :class:`CellCoefficient`), jumps included;
- ``strong``: r = -(a u_x)_x - (a u_y)_y - f with a differentiable coefficient,
  :class:`SmoothedCoefficient` (Gaussian-blurred cell values, bilinear interpolant): this solves
  a nearby smoothed problem, an O(blur width) modelling error at the jumps.

The network's output is multiplied by the bubble 16 x (1 - x) y (1 - y) (u = 0 on the boundary
exactly). Darcy is elliptic and steady: no transport, so no Lagrangian form.
"""
from __future__ import annotations

import numpy as np
import torch

from pdebench_x.pdes.base import EulerianProblem, PDEFamily, ScalarSpec
from pdebench_x.pdes.calculus import grad

FORMS = ("energy", "strong")


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


class _DarcyEulerian(EulerianProblem):
    def __init__(self, inst, fit, space) -> None:
        super().__init__(inst, fit, space)
        form = fit["darcy_form"]
        if form not in FORMS:
            raise ValueError(f"fit.darcy_form must be 'energy' or 'strong', got {form!r}")
        a = inst.initial["a"]
        self.forcing = float(inst.scalars.get("forcing", 1.0))
        # -Lap u = 1 on the unit square peaks at 0.0737: scale by the harmonic-mean coefficient
        self.offsets, self.scales = [0.0], [0.1 * abs(self.forcing) / float(1.0 / np.mean(1.0 / a))]
        self.energy = form == "energy"
        self.coef = (CellCoefficient(a, inst.x, inst.y) if self.energy
                     else SmoothedCoefficient(a, inst.x, inst.y, float(fit["darcy_smoothing"])))

    def constrain(self, out, coords):
        (x0, x1), (y0, y1) = (self.space[0].lo, self.space[0].hi), (self.space[1].lo, self.space[1].hi)
        x, y = coords
        bubble = 16.0 * (x - x0) * (x1 - x) * (y - y0) * (y1 - y) / ((x1 - x0) ** 2 * (y1 - y0) ** 2)
        return bubble[:, None] * out

    def residuals(self, out, coords):
        return [darcy_strong(out[:, 0], coords[0], coords[1], self.coef(coords[0], coords[1]), self.forcing)]

    def energy_density(self, out, coords):
        return darcy_energy_density(out[:, 0], coords[0], coords[1], self.coef(coords[0], coords[1]), self.forcing)


class Darcy(PDEFamily):
    name = "darcy"
    kind = "steady"
    generator = "pdebench_x.data.generators.darcy:DarcyGenerator"
    scalars = ScalarSpec(required=("forcing",), optional=(("a_pos", "a_neg"),),
                         aliases={"forcing": ("f", "beta"), "a_pos": ("a_high", "a_max"), "a_neg": ("a_low", "a_min")})
    domain = ((0.0, 1.0), (0.0, 1.0))
    zero_shot = {"small": {"resolution": 128}, "benchmark": {"resolution": 141}}
    ood = {"small": ({"tau": 5.0, "a_pos": 16.0, "a_neg": 2.0},
                     "shorter correlation length (tau 3 -> 5) and twice the contrast (a_pos / a_neg 12/3 -> 16/2)")}
    no_lagrangian = (
        "LPINN needs a transport PDE: it solves along characteristics carried by a velocity "
        "(x_L' = velocity, state carried along x_L). Darcy flow -div(a grad u) = f is elliptic and "
        "steady: it has no velocity and no time, so LPINN does not apply (the leaderboard shows N/A "
        "for lpinn x darcy). Use model=pinn or model=pig for data=darcy.")

    def equation(self, s, c):
        out = ["eq", "neg", "div", "mul", "a", "grad", "u", *c("forcing")]
        if "a_pos" in s:
            out += ["eq", "a", "ifpos", "phi", *c("a_pos"), *c("a_neg")]
        return out

    def eulerian(self, inst, fit, space):
        return _DarcyEulerian(inst, fit, space)


FAMILY = Darcy()
