"""What the 1D periodic transport families (convection, Burgers) share: u(x, t) carried along
characteristics, fitted from the initial frame, residuals by automatic differentiation.

Eulerian residual (PINN, PIG): r = u_t + s u_x - nu u_xx with s = c (convection) or u (Burgers).
Lagrangian (LPINN, the paper's form): r_x = d/dt x_L - s, r_u = d/dt u - nu u_{X0 X0}, the
diffusion taken in the label variable X0 (exact for convection, where x_L - X0 is uniform).
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import torch

from pdebench_x.pdes.base import EulerianProblem, LagrangianProblem, PDEFamily, spread
from pdebench_x.pdes.calculus import grad


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


class TransportFamily(PDEFamily):
    """Base of the 1D periodic transport families; subclasses give the residual and the speed."""

    kind = "rollout"

    def residual(self, u: torch.Tensor, x: torch.Tensor, t: torch.Tensor, s: Mapping[str, float]) -> torch.Tensor:
        raise NotImplementedError

    def characteristic_speed(self, q: torch.Tensor, s: Mapping[str, float]) -> float | torch.Tensor:
        """The speed the characteristics move with (a number, or the carried state)."""
        raise NotImplementedError

    def speed_scale(self, u0: np.ndarray, s: Mapping[str, float]) -> float:
        """How fast the characteristics move at most (sets the scale of the map's displacement)."""
        raise NotImplementedError

    def eulerian(self, inst, fit, space) -> EulerianProblem:
        return _TransportEulerian(self, inst, fit, space)

    def lagrangian(self, inst) -> LagrangianProblem:
        return _TransportLagrangian(self, inst)


class _TransportEulerian(EulerianProblem):
    def __init__(self, family: TransportFamily, inst, fit, space) -> None:
        super().__init__(inst, fit, space)
        self.family = family
        u0 = inst.initial["u"].ravel()
        self.offsets, self.scales = [float(np.mean(u0))], [spread(u0, 1e-3)]
        self.ic_target = torch.tensor(u0, dtype=torch.float32)[:, None]

    def residuals(self, out, coords):
        return [self.family.residual(out[:, 0], coords[0], coords[1], self.inst.scalars)]


class _TransportLagrangian(LagrangianProblem):
    carried = {"u": 0}

    def __init__(self, family: TransportFamily, inst) -> None:
        super().__init__(inst)
        self.family = family
        u0 = inst.initial["u"].ravel()
        self.speed = family.speed_scale(u0, inst.scalars)
        self.state0 = [u0]

    def residuals(self, solver, pos, q, labels, t):
        s = self.inst.scalars
        r_x, r_u = lagrangian_transport_1d(pos[0], q[:, 0], labels[0], t, self.family.characteristic_speed(q, s),
                                           float(s.get("viscosity", 0.0)))
        return [r_x], [r_u]
