r"""Vanilla PINN baseline, and the fitting machinery every per-instance solver shares.

A per-instance solver is optimised afresh for ONE problem instance (a
:class:`pdebench_x.pdes.instance.PDEInstance`: the PDE family, its coefficients, the domain and
boundary type, the initial data = the last context frame, and the times to predict) and never
sees the reference solution. Contract::

    solver = Solver(net={...}, fit={...})
    info = solver.fit(instance)          # optimise; returns {"iterations", "final_loss", ...}
    pred = solver.predict()              # float32 [T, C, X, Y] on the data grid, physical units

:class:`~pdebench_x.models.fitting.PhysicsInformedSolver` (models/fitting.py) runs the optimiser
sequence and reports the last iterate; the coordinate networks are in models/fields.py.

:class:`EulerianSolver` fits any coordinate network with the Eulerian formulation of the
instance's PDE family (:meth:`pdebench_x.pdes.base.PDEFamily.eulerian`, in ``pdes/<family>.py``):
squared residuals (or Darcy's Ritz energy) at collocation points, the initial frame on the grid,
soft boundary terms where the family asks for them, hard constraints where it has them.

Inputs are encoded per axis: a periodic axis of length L by (cos 2 pi x / L, sin 2 pi x / L)
(exactly periodic fields), any other axis (time included) rescaled to [-1, 1]. Outputs are
``offset + scale * network`` with offsets and scales taken from the given data only (the
initial field's mean and spread, the coefficient and forcing for Darcy).

:class:`PINNSolver`: the coordinate network is a tanh MLP (Raissi et al. 2019), Xavier-normal
weights, zero biases.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from pdebench_x.core.errors import NotApplicableError
from pdebench_x.models.fields import MLPField, Scaled, chunks
from pdebench_x.models.fitting import PhysicsInformedSolver
from pdebench_x.pdes import get_family
from pdebench_x.pdes.base import EulerianProblem
from pdebench_x.pdes.instance import Axis, PDEInstance


class EulerianSolver(PhysicsInformedSolver):
    """Physics-informed fit of a coordinate network u(x, [y,] t) (see the module docstring); the
    PDE's formulation comes from its family (:meth:`pdebench_x.pdes.base.PDEFamily.eulerian`).

    Subclasses provide :meth:`make_field` (the network from the input axes and the number of
    outputs).
    """

    def make_field(self, axes: list[Axis], n_out: int) -> nn.Module:
        raise NotImplementedError

    def check_family(self, family: str) -> None:
        if not get_family(family).has_eulerian():
            raise NotApplicableError(f"{self.name}: no physics-informed formulation for PDE family {family!r}")

    # -- setup ---------------------------------------------------------------------------------
    def setup(self, inst: PDEInstance) -> None:
        self.space = inst.space_axes()
        self.time_axis = None if inst.kind == "steady" else Axis("t", inst.t0, float(inst.times[-1]))
        self.axes = self.space + ([self.time_axis] if self.time_axis else [])
        self.grid = [torch.tensor(g, dtype=torch.float32) for g in inst.grid_points()]  # flattened grid per axis
        self.problem: EulerianProblem = get_family(inst.family).eulerian(inst, self.fit_cfg, self.space)
        self.ic_target = self.problem.ic_target
        self.model = Scaled(self.make_field(self.axes, len(self.problem.offsets)), self.problem.offsets,
                            self.problem.scales)

    # -- evaluation ------------------------------------------------------------------------------
    def field(self, *coords: torch.Tensor) -> torch.Tensor:
        return self.problem.constrain(self.model(*coords), list(coords))

    # -- sampling --------------------------------------------------------------------------------
    def sample(self, gen: torch.Generator) -> dict[str, Any]:
        cfg = self.fit_cfg
        batch: dict[str, Any] = {"res": {a.name: a.sample(int(cfg["collocation"]), gen) for a in self.axes}}
        if self.time_axis is not None:
            n_grid = len(self.grid[0])
            k = int(cfg["initial_points"] or n_grid)
            idx = torch.arange(n_grid) if k >= n_grid else torch.randperm(n_grid, generator=gen)[:k]
            pts = {a.name: g[idx] for a, g in zip(self.space, self.grid)}
            pts["t"] = torch.full((len(idx),), self.time_axis.lo)
            pts["target"] = self.ic_target[idx]
            batch["ic"] = pts
        if self.problem.needs_boundary:
            batch["bc"] = self._boundary_points(int(cfg["boundary_points"]), gen)
        return batch

    def _boundary_points(self, n: int, gen: torch.Generator) -> dict[str, torch.Tensor]:
        """n points on each of the 4 sides: coordinates, time, and the outward normal (nx, ny)."""
        ax, ay = self.space
        sides = []
        for normal, (fixed_axis, value) in (((-1, 0), (0, ax.lo)), ((1, 0), (0, ax.hi)),
                                           ((0, -1), (1, ay.lo)), ((0, 1), (1, ay.hi))):
            free = ay if fixed_axis == 0 else ax
            s = free.sample(n, gen)
            xy = (torch.full((n,), value), s) if fixed_axis == 0 else (s, torch.full((n,), value))
            sides.append({"x": xy[0], "y": xy[1], "t": self.time_axis.sample(n, gen),
                          "nx": torch.full((n,), float(normal[0])), "ny": torch.full((n,), float(normal[1]))})
        return {k: torch.cat([s[k] for s in sides]) for k in sides[0]}

    # -- losses ----------------------------------------------------------------------------------
    def loss_terms(self, batch: dict[str, Any]):
        w = self.fit_cfg["weights"]
        terms = []
        if self.problem.energy:
            terms.append((1.0, self._energy, batch["res"], "mean"))
        else:
            terms.append((float(w["residual"]), self._residual_sq, batch["res"], "mean"))
        if "ic" in batch:
            terms.append((float(w["initial"]), self._initial_sq, batch["ic"], "mean"))
        if "bc" in batch:
            terms.append((float(w["boundary"]), self._boundary_sq, batch["bc"], "mean"))
        return terms

    def _coords(self, pts: dict[str, torch.Tensor], grad: bool) -> list[torch.Tensor]:
        return [pts[a.name].detach().clone().requires_grad_(grad) for a in self.axes]

    def _residual_sq(self, pts: dict[str, torch.Tensor]) -> torch.Tensor:
        c = self._coords(pts, True)
        return sum((r**2).sum() for r in self.problem.residuals(self.field(*c), c))

    def _energy(self, pts: dict[str, torch.Tensor]) -> torch.Tensor:
        c = self._coords(pts, True)
        return self.problem.energy_density(self.field(*c), c).sum()

    def _initial_sq(self, pts: dict[str, torch.Tensor]) -> torch.Tensor:
        out = self.field(*self._coords(pts, False))
        return ((out[:, :pts["target"].shape[1]] - pts["target"]) ** 2).sum()

    def _boundary_sq(self, pts: dict[str, torch.Tensor]) -> torch.Tensor:
        c = self._coords(pts, True)
        return self.problem.boundary_sq(self.field(*c), c, pts)

    # -- prediction -----------------------------------------------------------------------------
    def predict(self) -> np.ndarray:
        inst = self.instance
        grid = self.grid
        times = [None] if inst.kind == "steady" else list(inst.times)
        n = len(grid[0])
        nx, ny = inst.x.size, inst.y.size
        out = np.empty((len(times), len(inst.channels), n), dtype=np.float32)
        need_grad = self.problem.channels_need_grad(inst.channels)
        self.model.eval()
        for ti, t in enumerate(times):
            for sl in chunks(n, self.fit_cfg["chunk_size"]):
                coords = [g[sl] for g in grid] + ([] if t is None else [torch.full((sl.stop - sl.start,), float(t))])
                with torch.set_grad_enabled(need_grad):
                    coords = [c.clone().requires_grad_(need_grad) for c in coords]
                    field = self.field(*coords)
                    values = [self.problem.channel(field, coords, ch) for ch in inst.channels]
                out[ti, :, sl] = np.stack([v.detach().numpy() for v in values])
        self.model.train()
        return out.reshape(len(times), len(inst.channels), nx, ny)


class PINNSolver(EulerianSolver):
    """Vanilla PINN (Raissi, Perdikaris, Karniadakis, J. Comput. Phys. 2019): tanh MLP of the
    encoded coordinates, squared-residual loss with soft initial/boundary terms."""

    name = "pinn"
    NET_DEFAULTS = {"width": 64, "depth": 4}

    def make_field(self, axes: list[Axis], n_out: int) -> nn.Module:
        return MLPField(axes, n_out, int(self.net_cfg["width"]), int(self.net_cfg["depth"]))
