r"""Vanilla PINN baseline, and the fitting machinery every per-instance solver shares.

A per-instance solver is optimised afresh for ONE problem instance (a
:class:`pdebench_x.pdes.instance.PDEInstance`: the PDE family, its coefficients, the domain and
boundary type, the initial data = the last context frame, and the times to predict) and never
sees the reference solution. Contract::

    solver = Solver(net={...}, fit={...})
    info = solver.fit(instance)          # optimise; returns {"iterations", "final_loss", ...}
    pred = solver.predict()              # float32 [T, C, X, Y] on the data grid, physical units

:class:`PhysicsInformedSolver` runs the optimiser sequence of ``fit.optimizers`` (Adam, then
L-BFGS, each with its iteration budget), resamples collocation points every iteration when
``fit.resample`` (for L-BFGS: every outer step, as the PIG code does), accumulates every loss
term in chunks of ``fit.chunk_size`` points with one backward pass per chunk (memory bounded
whatever the number of points; exact for the mean-square losses used here), and reports the
LAST iterate: there is no selection on the reference. If a step makes the loss non-finite
the parameters before that step are restored and training stops (a numerical safeguard,
recorded as ``diverged``).

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

import copy
import logging
import math
import time
from typing import Any, Callable, Iterator

import numpy as np
import torch
from torch import nn

from pdebench_x.core.errors import NotApplicableError
from pdebench_x.pdes import get_family
from pdebench_x.pdes.base import EulerianProblem
from pdebench_x.pdes.instance import Axis, PDEInstance

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# coordinates
# --------------------------------------------------------------------------------------------
def encode(axes: list[Axis], coords: list[torch.Tensor]) -> torch.Tensor:
    """[P, F] input features of the coordinates (one tensor [P] per axis)."""
    if len(axes) != len(coords):
        raise ValueError(f"{len(coords)} coordinate tensors for {len(axes)} axes {[a.name for a in axes]}")
    return torch.stack([f for a, c in zip(axes, coords) for f in a.features(c)], dim=-1)


class MLP(nn.Module):
    """tanh MLP: in -> width (x depth hidden layers) -> out; Xavier-normal weights, zero biases."""

    def __init__(self, n_in: int, n_out: int, width: int = 64, depth: int = 4) -> None:
        super().__init__()
        if depth < 1 or width < 1:
            raise ValueError(f"an MLP needs depth >= 1 hidden layers and width >= 1, got depth={depth}, width={width}")
        sizes = [n_in] + [width] * depth
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.Tanh()]
        layers.append(nn.Linear(sizes[-1], n_out))
        self.net = nn.Sequential(*layers)
        for m in self.net:
            if isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


class MLPField(nn.Module):
    """A coordinate network: (coordinates per axis) -> [P, n_out] through the axis encoding."""

    def __init__(self, axes: list[Axis], n_out: int, width: int = 64, depth: int = 4) -> None:
        super().__init__()
        self.axes = list(axes)
        self.mlp = MLP(sum(a.n_features for a in self.axes), n_out, width, depth)

    def forward(self, *coords: torch.Tensor) -> torch.Tensor:
        return self.mlp(encode(self.axes, list(coords)))


class Scaled(nn.Module):
    """offset + scale * field(coords), per output (offset, scale from the given data only)."""

    def __init__(self, field: nn.Module, offset: list[float], scale: list[float]) -> None:
        super().__init__()
        self.field = field
        self.register_buffer("offset", torch.tensor(offset, dtype=torch.float32))
        self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))

    def forward(self, *coords: torch.Tensor) -> torch.Tensor:
        return self.offset + self.scale * self.field(*coords)


def chunks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, max(int(size), 1)):
        yield slice(start, min(start + size, n))


# --------------------------------------------------------------------------------------------
# the fitting loop
# --------------------------------------------------------------------------------------------
FIT_DEFAULTS: dict[str, Any] = {
    "optimizers": [{"name": "adam", "iterations": 500, "lr": 1e-3}],
    "collocation": 2048,
    "initial_points": 2048,
    "boundary_points": 512,
    "resample": True,
    "weights": {"residual": 1.0, "initial": 100.0, "boundary": 10.0},
    "chunk_size": 8192,
    "darcy_form": "energy",
    "darcy_smoothing": 1.0,
    "seed": 0,
    "log_every": 0,
}


def merge_fit(defaults: dict[str, Any], fit: dict[str, Any] | None) -> dict[str, Any]:
    out = copy.deepcopy(defaults)
    for key, value in (fit or {}).items():
        if key in ("instances", "instance_seed"):
            continue  # read by the per-instance task, not by a solver
        if key not in out:
            raise ValueError(f"unknown fit setting {key!r}; valid settings: {sorted(out)}")
        if isinstance(out[key], dict) and isinstance(value, dict):
            unknown = set(value) - set(out[key])
            if unknown:
                raise ValueError(f"unknown fit.{key} entries {sorted(unknown)}; valid: {sorted(out[key])}")
            out[key].update(value)
        elif value is not None:
            out[key] = value
    stages = out["optimizers"]
    if not isinstance(stages, list) or not stages:
        raise ValueError("fit.optimizers must be a non-empty list of stages like "
                         "{name: adam, iterations: 1000, lr: 1.0e-3} or {name: lbfgs, iterations: 50}")
    for stage in stages:
        if stage.get("name") not in ("adam", "lbfgs"):
            raise ValueError(f"optimizer stage {stage} must have name 'adam' or 'lbfgs'")
        if int(stage.get("iterations", -1)) < 0:
            raise ValueError(f"optimizer stage {stage} needs iterations >= 0")
    return out


class PhysicsInformedSolver:
    """Base class: optimiser sequence, chunked loss accumulation, timing (see module docstring).

    Subclasses implement :meth:`setup` (build ``self.model``, an nn.Module holding every
    trainable parameter), :meth:`sample` (a batch of points) and :meth:`loss_terms` (the
    weighted terms of a batch), and :meth:`predict`.
    """

    name = "physics_informed"
    NET_DEFAULTS: dict[str, Any] = {}
    FIT_DEFAULTS: dict[str, Any] = FIT_DEFAULTS
    #: a loss term: (weight, function(chunk of points) -> SUM of per-point losses, points dict, reduce)
    #: reduce "mean": weight * sum / n (chunkable); "norm": weight * sqrt(sum) (unsquared L2, whole batch)

    def __init__(self, net: dict[str, Any] | None = None, fit: dict[str, Any] | None = None) -> None:
        net = dict(net or {})
        net.pop("_target_", None)
        unknown = set(net) - set(self.NET_DEFAULTS)
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown net setting(s) {sorted(unknown)}; "
                             f"valid: {sorted(self.NET_DEFAULTS)}")
        self.net_cfg = {**self.NET_DEFAULTS, **net}
        self.fit_cfg = merge_fit(self.FIT_DEFAULTS, fit)
        self.model: nn.Module | None = None
        self.instance: PDEInstance | None = None
        self.history: list[float] = []

    # -- hooks -----------------------------------------------------------------------------------
    def check_family(self, family: str) -> None:
        """Raise :class:`NotApplicableError` if the solver cannot treat this PDE family."""

    def check(self, instance: PDEInstance) -> None:
        self.check_family(instance.family)

    def setup(self, instance: PDEInstance) -> None:
        raise NotImplementedError

    def sample(self, gen: torch.Generator) -> dict[str, Any]:
        raise NotImplementedError

    def loss_terms(self, batch: dict[str, Any]) -> list[tuple[float, Callable, dict[str, torch.Tensor], str]]:
        raise NotImplementedError

    def predict(self) -> np.ndarray:
        raise NotImplementedError

    # -- fitting -----------------------------------------------------------------------------------
    @property
    def n_parameters(self) -> int:
        return 0 if self.model is None else sum(p.numel() for p in self.model.parameters())

    def fit(self, instance: PDEInstance) -> dict[str, Any]:
        self.check(instance)
        seed = int(self.fit_cfg["seed"])
        torch.manual_seed(seed)
        self.instance = instance
        self.setup(instance)
        gen = torch.Generator().manual_seed(seed + 1)
        params = [p for p in self.model.parameters() if p.requires_grad]
        start = time.perf_counter()
        self.history, diverged, iterations = [], False, 0
        for stage in self.fit_cfg["optimizers"]:
            done, diverged = self._run_stage(stage, params, gen)
            iterations += done
            if diverged:
                break
        return {"iterations": iterations, "final_loss": self.history[-1] if self.history else None,
                "diverged": diverged, "fit_seconds": time.perf_counter() - start,
                "n_parameters": self.n_parameters}

    def loss_backward(self, batch: dict[str, Any]) -> float:
        """Accumulate the gradient of the total loss of ``batch``; return its value."""
        total = 0.0
        for weight, fn, pts, reduce in self.loss_terms(batch):
            if weight == 0:
                continue
            n = len(next(iter(pts.values())))
            if reduce == "norm":  # unsquared L2 norm: not separable over chunks
                value = weight * torch.sqrt(fn(pts) + 1e-30)
                value.backward()
                total += float(value.detach())
                continue
            for sl in chunks(n, self.fit_cfg["chunk_size"]):
                value = weight * fn({k: v[sl] for k, v in pts.items()}) / n
                value.backward()
                total += float(value.detach())
        return total

    def _run_stage(self, stage: dict[str, Any], params: list[torch.Tensor], gen: torch.Generator
                   ) -> tuple[int, bool]:
        iters = int(stage.get("iterations", 0))
        if iters == 0:
            return 0, False
        scheduler = None
        if stage["name"] == "adam":
            opt = torch.optim.Adam(params, lr=float(stage.get("lr", 1e-3)), amsgrad=bool(stage.get("amsgrad", False)))
            if stage.get("gamma"):
                scheduler = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=float(stage["gamma"]))
        else:
            opt = torch.optim.LBFGS(params, lr=float(stage.get("lr", 1.0)), max_iter=int(stage.get("max_iter", 20)),
                                    history_size=int(stage.get("history_size", 50)),
                                    line_search_fn=stage.get("line_search", "strong_wolfe"),
                                    tolerance_grad=float(stage.get("tolerance_grad", 1e-9)),
                                    tolerance_change=float(stage.get("tolerance_change", 1e-12)))
        batch = self.sample(gen)
        every = int(self.fit_cfg.get("log_every") or 0)
        for it in range(iters):
            if it > 0 and self.fit_cfg["resample"]:
                batch = self.sample(gen)
            backup = nn.utils.parameters_to_vector(params).detach().clone()
            if stage["name"] == "adam":
                opt.zero_grad(set_to_none=True)
                loss = self.loss_backward(batch)
                if math.isfinite(loss):
                    opt.step()
                    if scheduler is not None:
                        scheduler.step()
            else:
                def closure():
                    opt.zero_grad(set_to_none=True)
                    return torch.tensor(self.loss_backward(batch))
                loss = float(opt.step(closure))
            finite = math.isfinite(loss) and all(bool(torch.isfinite(p).all()) for p in params)
            if not finite:
                nn.utils.vector_to_parameters(backup, params)
                log.warning("%s: non-finite loss at %s iteration %d; parameters restored, training stopped",
                            self.name, stage["name"], it)
                return it, True
            self.history.append(loss)
            if every and it % every == 0:
                log.info("%s %s it %d loss %.4e", self.name, stage["name"], it, loss)
        return iters, False


# --------------------------------------------------------------------------------------------
# Eulerian formulations
# --------------------------------------------------------------------------------------------
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
