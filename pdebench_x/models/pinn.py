r"""Vanilla PINN baseline, and the fitting machinery every per-instance solver shares.

A per-instance solver is optimised afresh for ONE problem instance (a
:class:`pdebench_x.per_instance.PDEInstance`: the PDE family, its coefficients, the domain and
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

:class:`EulerianSolver` holds the Eulerian formulations, for any coordinate network:

- convection / burgers (x, t): loss = w_r mean r^2 + w_ic mean (u(x_j, t0) - u0_j)^2 on the grid;
- ns (x, y, t): outputs (w, psi); loss = w_r mean (r_w^2 + r_psi^2) + w_ic mean (w(., t0) - w0)^2;
- swe (x, y, t): outputs (h, hu, hv); loss = w_r mean (r_h^2 + r_hu^2 + r_hv^2) + w_ic (IC of h, hu, hv)
  + w_bc (boundary: ``open`` zero normal gradient of h, hu, hv; ``wall`` zero normal momentum
  and normal gradient of h; ``periodic`` by the encoding);
- darcy (x, y): u = B(x, y) N(x, y) with B = 16 x(1 - x) y(1 - y) on the unit square (u = 0 on
  the boundary exactly); ``fit.darcy_form = energy`` (default) minimises the mean Ritz
  energy a |grad u|^2 / 2 - f u over uniform points with a looked up cell-wise, jumps kept;
  ``strong`` minimises the squared strong residual with a Gaussian-smoothed coefficient
  (see :mod:`pdebench_x.physics.residuals` for why the energy form is the default).

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
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np
import torch
from torch import nn

from pdebench_x.physics import residuals as R

if TYPE_CHECKING:  # pragma: no cover
    from pdebench_x.per_instance import PDEInstance

log = logging.getLogger(__name__)

TRANSPORT_1D = ("convection", "burgers")


class NotApplicableError(ValueError):
    """The solver does not apply to this PDE (the leaderboard shows N/A for the pair)."""


# --------------------------------------------------------------------------------------------
# coordinates
# --------------------------------------------------------------------------------------------
@dataclass
class Axis:
    """One input coordinate: its range [lo, hi] and, for a periodic axis, period = hi - lo."""

    name: str
    lo: float
    hi: float
    periodic: bool = False

    @property
    def length(self) -> float:
        return self.hi - self.lo

    def features(self, v: torch.Tensor) -> list[torch.Tensor]:
        if self.periodic:
            theta = (2.0 * math.pi / self.length) * (v - self.lo)
            return [torch.cos(theta), torch.sin(theta)]
        return [2.0 * (v - self.lo) / self.length - 1.0]

    @property
    def n_features(self) -> int:
        return 2 if self.periodic else 1

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return self.lo + self.length * torch.rand(n, generator=gen)


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


def _spread(values: np.ndarray, floor: float) -> float:
    return float(max(np.std(values), floor))


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
    """Physics-informed fit of a coordinate network u(x, [y,] t) (see the module docstring).

    Subclasses provide :meth:`make_field` (the network from the input axes and the number of
    outputs).
    """

    FAMILIES = ("convection", "burgers", "ns", "swe", "darcy")

    def make_field(self, axes: list[Axis], n_out: int) -> nn.Module:
        raise NotImplementedError

    def check_family(self, family: str) -> None:
        if family not in self.FAMILIES:
            raise NotApplicableError(f"{self.name}: no physics-informed formulation for PDE family "
                                     f"{family!r}; known: {self.FAMILIES}")

    # -- setup ---------------------------------------------------------------------------------
    def setup(self, inst: PDEInstance) -> None:
        fam = inst.family
        self.space = inst.space_axes()
        self.time_axis = None if inst.kind == "steady" else Axis("t", inst.t0, float(inst.times[-1]))
        self.axes = self.space + ([self.time_axis] if self.time_axis else [])
        self.grid = [torch.tensor(g, dtype=torch.float32) for g in inst.grid_points()]  # flattened grid per axis
        if fam in TRANSPORT_1D:
            u0 = inst.initial["u"].ravel()
            offsets, scales = [float(np.mean(u0))], [_spread(u0, 1e-3)]
            self.ic_target = torch.tensor(u0, dtype=torch.float32)[:, None]
        elif fam == "ns":
            w0 = inst.initial["vorticity"]
            psi0 = inst.stream_function(w0)
            offsets, scales = [0.0, 0.0], [_spread(w0, 1e-3), _spread(psi0, 1e-5)]
            self.ic_target = torch.tensor(w0.ravel(), dtype=torch.float32)[:, None]
        elif fam == "swe":
            h0 = inst.initial["h"]
            hu0, hv0 = h0 * inst.initial["velocity_x"], h0 * inst.initial["velocity_y"]
            hbar, g = float(np.mean(h0)), float(inst.scalars["g"])
            mom = 0.1 * hbar * math.sqrt(g * hbar)
            offsets = [hbar, float(np.mean(hu0)), float(np.mean(hv0))]
            scales = [_spread(h0, 0.1 * hbar), _spread(hu0, mom), _spread(hv0, mom)]
            self.ic_target = torch.tensor(np.stack([h0.ravel(), hu0.ravel(), hv0.ravel()], -1), dtype=torch.float32)
        elif fam == "darcy":
            a = inst.initial["a"]
            f = float(inst.scalars.get("forcing", 1.0))
            # -Lap u = 1 on the unit square peaks at 0.0737: scale by the harmonic-mean coefficient
            offsets, scales = [0.0], [0.1 * abs(f) / float(1.0 / np.mean(1.0 / a))]
            self.forcing = f
            x, y = inst.x, inst.y
            self.coef = (R.CellCoefficient(a, x, y) if self.fit_cfg["darcy_form"] == "energy"
                         else R.SmoothedCoefficient(a, x, y, float(self.fit_cfg["darcy_smoothing"])))
            if self.fit_cfg["darcy_form"] not in ("energy", "strong"):
                raise ValueError(f"fit.darcy_form must be 'energy' or 'strong', got {self.fit_cfg['darcy_form']!r}")
        else:  # pragma: no cover - guarded by check()
            raise NotApplicableError(fam)
        self.model = Scaled(self.make_field(self.axes, len(offsets)), offsets, scales)

    # -- evaluation ------------------------------------------------------------------------------
    def field(self, *coords: torch.Tensor) -> torch.Tensor:
        out = self.model(*coords)
        if self.instance.family == "darcy":
            (x0, x1), (y0, y1) = (self.space[0].lo, self.space[0].hi), (self.space[1].lo, self.space[1].hi)
            x, y = coords
            bubble = 16.0 * (x - x0) * (x1 - x) * (y - y0) * (y1 - y) / ((x1 - x0) ** 2 * (y1 - y0) ** 2)
            out = bubble[:, None] * out
        return out

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
        if self.instance.family == "swe" and self.instance.bc_type in ("open", "wall"):
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
        fam = self.instance.family
        terms = []
        if fam == "darcy" and self.fit_cfg["darcy_form"] == "energy":
            terms.append((1.0, self._darcy_energy, batch["res"], "mean"))
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
        inst = self.instance
        s = inst.scalars
        c = self._coords(pts, True)
        out = self.field(*c)
        fam = inst.family
        if fam == "convection":
            rs = [R.convection(out[:, 0], c[0], c[1], float(s["speed"]), float(s.get("viscosity", 0.0)))]
        elif fam == "burgers":
            rs = [R.burgers(out[:, 0], c[0], c[1], float(s["viscosity"]))]
        elif fam == "ns":
            rs = list(R.navier_stokes_vorticity(out[:, 0], out[:, 1], c[0], c[1], c[2], float(s["viscosity"]),
                                                float(s.get("forcing_amplitude", 0.0))))
        elif fam == "swe":
            rs = list(R.shallow_water(out[:, 0], out[:, 1], out[:, 2], c[0], c[1], c[2], float(s["g"])))
        else:  # darcy, strong form
            rs = [R.darcy_strong(out[:, 0], c[0], c[1], self.coef(c[0], c[1]), self.forcing)]
        return sum((r**2).sum() for r in rs)

    def _darcy_energy(self, pts: dict[str, torch.Tensor]) -> torch.Tensor:
        c = self._coords(pts, True)
        u = self.field(*c)[:, 0]
        return R.darcy_energy_density(u, c[0], c[1], self.coef(c[0], c[1]), self.forcing).sum()

    def _initial_sq(self, pts: dict[str, torch.Tensor]) -> torch.Tensor:
        out = self.field(*self._coords(pts, False))
        return ((out[:, :pts["target"].shape[1]] - pts["target"]) ** 2).sum()

    def _boundary_sq(self, pts: dict[str, torch.Tensor]) -> torch.Tensor:
        c = self._coords(pts, True)
        out = self.field(*c)
        nx, ny = pts["nx"], pts["ny"]
        total = 0.0
        for k in range(out.shape[1]):
            dn = nx * R.grad(out[:, k], c[0]) + ny * R.grad(out[:, k], c[1])  # normal derivative
            total = total + (dn**2).sum()
        if self.instance.bc_type == "wall":
            total = total + ((nx * out[:, 1] + ny * out[:, 2]) ** 2).sum()
        return total

    # -- prediction -----------------------------------------------------------------------------
    def predict(self) -> np.ndarray:
        inst = self.instance
        grid = self.grid
        times = [None] if inst.kind == "steady" else list(inst.times)
        n = len(grid[0])
        nx, ny = inst.x.size, inst.y.size
        out = np.empty((len(times), len(inst.channels), n), dtype=np.float32)
        need_grad = inst.family == "ns" and any(ch.startswith("velocity") for ch in inst.channels)
        self.model.eval()
        for ti, t in enumerate(times):
            for sl in chunks(n, self.fit_cfg["chunk_size"]):
                coords = [g[sl] for g in grid] + ([] if t is None else [torch.full((sl.stop - sl.start,), float(t))])
                with torch.set_grad_enabled(need_grad):
                    coords = [c.clone().requires_grad_(need_grad) for c in coords]
                    values = self._channels(coords)
                out[ti, :, sl] = np.stack([v.detach().numpy() for v in values])
        self.model.train()
        return out.reshape(len(times), len(inst.channels), nx, ny)

    def _channels(self, coords: list[torch.Tensor]) -> list[torch.Tensor]:
        inst = self.instance
        out = self.field(*coords)
        fam = inst.family
        values = []
        for ch in inst.channels:
            if fam in TRANSPORT_1D or fam == "darcy":
                values.append(out[:, 0])
            elif fam == "ns":
                if ch == "vorticity":
                    values.append(out[:, 0])
                else:
                    u, v = R.stream_velocity(out[:, 1], coords[0], coords[1])
                    values.append(u if ch == "velocity_x" else v)
            elif fam == "swe":
                values.append({"h": out[:, 0], "velocity_x": out[:, 1] / out[:, 0],
                               "velocity_y": out[:, 2] / out[:, 0]}[ch])
        return values


class PINNSolver(EulerianSolver):
    """Vanilla PINN (Raissi, Perdikaris, Karniadakis, J. Comput. Phys. 2019): tanh MLP of the
    encoded coordinates, squared-residual loss with soft initial/boundary terms."""

    name = "pinn"
    NET_DEFAULTS = {"width": 64, "depth": 4}

    def make_field(self, axes: list[Axis], n_out: int) -> nn.Module:
        return MLPField(axes, n_out, int(self.net_cfg["width"]), int(self.net_cfg["depth"]))
