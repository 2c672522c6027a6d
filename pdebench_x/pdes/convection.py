"""1D periodic convection(-diffusion): u_t + c u_x = nu u_xx (nu = 0 by default), u(x, 0) = sin x
(the LPINN paper's benchmark; see datasets/convection.md)."""
from __future__ import annotations

import torch

from pdebench_x.pdes.base import ScalarSpec
from pdebench_x.pdes.calculus import grad
from pdebench_x.pdes.transport import TransportFamily


def convection(u: torch.Tensor, x: torch.Tensor, t: torch.Tensor, speed: float,
               viscosity: float = 0.0) -> torch.Tensor:
    """r = u_t + c u_x - nu u_xx."""
    u_x = grad(u, x)
    r = grad(u, t) + speed * u_x
    if viscosity:
        r = r - viscosity * grad(u_x, x)
    return r


class Convection(TransportFamily):
    name = "convection"
    generator = "pdebench_x.data.generators.convection:ConvectionGenerator"
    scalars = ScalarSpec(required=("c",), optional=(("viscosity",),),
                         aliases={"c": ("beta", "speed", "velocity"), "viscosity": ("nu",)})

    def equation(self, s, c):
        rhs = ["mul", *c("viscosity"), "dx", "dx", "u"] if "viscosity" in s else ["0"]
        return ["eq", "add", "dt", "u", "mul", *c("c"), "dx", "u", *rhs]

    def residual(self, u, x, t, s):
        return convection(u, x, t, float(s["speed"]), float(s.get("viscosity", 0.0)))

    def characteristic_speed(self, q, s):
        return float(s["speed"])

    def speed_scale(self, u0, s):
        return abs(float(s["speed"]))


FAMILY = Convection()
