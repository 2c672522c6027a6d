"""Derivatives by automatic differentiation, for the families' residuals.

Convention: coordinates are 1D tensors [P] (one entry per collocation point) that require
grad (leaves, or intermediate tensors such as a Lagrangian position); fields are tensors [P]
computed POINTWISE from them (point i depends only on coordinates i, as any coordinate
network does), so d(sum f)/dx is the pointwise derivative f_x. A residual is zero for an
exact solution.

Fields carried by a 2D map (LPINN): Eulerian derivatives are exact by the chain rule,
grad_x f = J^-T grad_X0 f with J = d(x_L, y_L) / d(X0, Y0) (:class:`LagrangianFrame`).
"""
from __future__ import annotations

import torch


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


def stream_velocity(psi: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(u, v) = (psi_y, -psi_x)."""
    return grad(psi, y), -grad(psi, x)


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
