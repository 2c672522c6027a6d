r"""2D shallow water with a flat bottom: PDEBench's radial dam break (see datasets/swe.md).

Conservative variables q = (h, hu, hv), gravity g:

    r_h  = h_t + (hu)_x + (hv)_y
    r_hu = (hu)_t + (hu^2 / h + g h^2 / 2)_x + (hu hv / h)_y
    r_hv = (hv)_t + (hu hv / h)_x + (hv^2 / h + g h^2 / 2)_y

Boundary conditions are soft losses: ``open`` zero normal gradient of h, hu, hv; ``wall`` zero
normal momentum and normal gradient of h; ``periodic`` by the input encoding. Lagrangian (LPINN):
fluid columns carry (h, u, v) and move with (u, v): dh/dt = -h div u, du/dt = -g h_x,
dv/dt = -g h_y (exact chain rule).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from pdebench_x.pdes.base import EulerianProblem, LagrangianProblem, PDEFamily, ScalarSpec, spread
from pdebench_x.pdes.calculus import LagrangianFrame, grad


def shallow_water(h: torch.Tensor, hu: torch.Tensor, hv: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                  t: torch.Tensor, g: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Conservative residuals (r_h, r_hu, r_hv) of the flat-bottom shallow-water equations."""
    u, v = hu / h, hv / h
    pressure = 0.5 * g * h * h
    r_h = grad(h, t) + grad(hu, x) + grad(hv, y)
    r_hu = grad(hu, t) + grad(hu * u + pressure, x) + grad(hu * v, y)
    r_hv = grad(hv, t) + grad(hv * u, x) + grad(hv * v + pressure, y)
    return r_h, r_hu, r_hv


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


class _SWEEulerian(EulerianProblem):
    def __init__(self, inst, fit, space) -> None:
        super().__init__(inst, fit, space)
        h0 = inst.initial["h"]
        hu0, hv0 = h0 * inst.initial["velocity_x"], h0 * inst.initial["velocity_y"]
        hbar, g = float(np.mean(h0)), float(inst.scalars["g"])
        mom = 0.1 * hbar * math.sqrt(g * hbar)
        self.offsets = [hbar, float(np.mean(hu0)), float(np.mean(hv0))]
        self.scales = [spread(h0, 0.1 * hbar), spread(hu0, mom), spread(hv0, mom)]
        self.ic_target = torch.tensor(np.stack([h0.ravel(), hu0.ravel(), hv0.ravel()], -1), dtype=torch.float32)
        self.needs_boundary = inst.bc_type in ("open", "wall")

    def residuals(self, out, coords):
        return list(shallow_water(out[:, 0], out[:, 1], out[:, 2], coords[0], coords[1], coords[2],
                                  float(self.inst.scalars["g"])))

    def boundary_sq(self, out, coords, pts):
        nx, ny = pts["nx"], pts["ny"]
        total = 0.0
        for k in range(out.shape[1]):
            dn = nx * grad(out[:, k], coords[0]) + ny * grad(out[:, k], coords[1])  # normal derivative
            total = total + (dn**2).sum()
        if self.inst.bc_type == "wall":
            total = total + ((nx * out[:, 1] + ny * out[:, 2]) ** 2).sum()
        return total

    def channel(self, out, coords, name):
        return {"h": out[:, 0], "velocity_x": out[:, 1] / out[:, 0], "velocity_y": out[:, 2] / out[:, 0]}[name]


class _SWELagrangian(LagrangianProblem):
    carried = {"h": 0, "velocity_x": 1, "velocity_y": 2}

    def __init__(self, inst) -> None:
        super().__init__(inst)
        h0, u0, v0 = (inst.initial[k].ravel() for k in ("h", "velocity_x", "velocity_y"))
        self.speed = float(max(np.sqrt(u0**2 + v0**2).max(), 0.1 * math.sqrt(float(inst.scalars["g"]) * h0.mean())))
        self.state0 = [h0, u0, v0]

    def residuals(self, solver, pos, q, labels, t):
        r = lagrangian_shallow_water(pos[0], pos[1], q[:, 0], q[:, 1], q[:, 2], labels[0], labels[1], t,
                                     float(self.inst.scalars["g"]))
        return [r["x"], r["y"]], [r["h"], r["u"], r["v"]]


class ShallowWater(PDEFamily):
    name = "swe"
    kind = "rollout"
    generator = "pdebench_x.data.generators.swe:ShallowWaterGenerator"
    scalars = ScalarSpec(required=("g",), optional=(("h_in", "h_out", "radius"),),
                         aliases={"g": ("gravity",), "radius": ("R", "dam_radius")})
    # the same seeded dam radii at twice the resolution
    zero_shot = {"small": {"resolution": 128}}
    ood = {"small": ({"radius_range": [0.75, 0.95], "h_in": 2.5},
                     "larger dams (radius 0.75-0.95 vs 0.3-0.7) holding deeper water (h_in 2 -> 2.5)"),
           "varying": ({"h_in_range": [2.5, 3.0], "g_range": [1.5, 2.0], "radius_range": [0.75, 0.95]},
                       "dam height, gravity and radius above the trained ranges (h_in 2.5-3 vs 1.5-2.5, g 1.5-2 vs "
                       "0.5-1.5, radius 0.75-0.95 vs 0.3-0.7)")}

    long_horizon = {"small": ({"n_frames": 201}, "the dam breaks run to t = 10, 10x the trained t = 1")}

    def conserved(self, fields, channels):
        """Mass (the mean depth): conserved inside, but waves leave through the open boundaries,
        so it is compared with the truth's own mass, frame by frame."""
        return {"mass": fields[:, :, channels.index("h")].mean(dim=(-2, -1))}

    def equation(self, s, c):
        out = (["eq", "add", "dt", "h", "div", "mul", "h", "vel", "0"]
               + ["eq", "add", "dt", "mul", "h", "vel",
                  "div", "add", "mul", "h", "outer", "vel", "vel",
                  "mul", "mul", "divide", *c("g"), "2", "pow", "h", "2", "I", "0"])
        if "radius" in s:
            out += ["eq", "h0", "ifpos", "sub", *c("radius"), "r", *c("h_in"), *c("h_out")]
        return out

    def eulerian(self, inst, fit, space):
        return _SWEEulerian(inst, fit, space)

    def lagrangian(self, inst):
        return _SWELagrangian(inst)


FAMILY = ShallowWater()
