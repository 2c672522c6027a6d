"""1D periodic viscous Burgers: u_t + u u_x = nu u_xx (see datasets/burgers.md)."""
from __future__ import annotations

import numpy as np
import torch

from pdebench_x.pdes.base import ScalarSpec
from pdebench_x.pdes.calculus import grad
from pdebench_x.pdes.transport import TransportFamily


def burgers(u: torch.Tensor, x: torch.Tensor, t: torch.Tensor, viscosity: float) -> torch.Tensor:
    """r = u_t + u u_x - nu u_xx."""
    u_x = grad(u, x)
    return grad(u, t) + u * u_x - viscosity * grad(u_x, x)


class Burgers(TransportFamily):
    name = "burgers"
    generator = "pdebench_x.data.generators.burgers:BurgersGenerator"
    scalars = ScalarSpec(required=("nu",), aliases={"nu": ("viscosity",)})

    def equation(self, s, c):
        return ["eq", "add", "dt", "u", "mul", "u", "dx", "u", "mul", *c("nu"), "dx", "dx", "u"]

    def residual(self, u, x, t, s):
        return burgers(u, x, t, float(s["viscosity"]))

    def characteristic_speed(self, q, s):
        return q[:, 0]

    def speed_scale(self, u0, s):
        return float(np.abs(u0).max())


FAMILY = Burgers()
