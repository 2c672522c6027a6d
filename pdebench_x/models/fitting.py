"""The fitting loop every per-instance solver shares (:class:`PhysicsInformedSolver`): the
optimiser sequence of ``fit.optimizers`` (Adam, then L-BFGS, each with its iteration budget),
collocation points resampled every iteration when ``fit.resample`` (for L-BFGS: every outer
step, as the PIG code does), every loss term accumulated in chunks of ``fit.chunk_size`` points
with one backward pass per chunk (memory bounded whatever the number of points; exact for the
mean-square losses used here), and the LAST iterate reported: there is no selection on the
reference. If a step makes the loss non-finite the parameters before that step are restored
and training stops (a numerical safeguard, recorded as ``diverged``).
"""
from __future__ import annotations

import copy
import logging
import math
import time
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from pdebench_x.models.fields import chunks
from pdebench_x.pdes.instance import PDEInstance

log = logging.getLogger(__name__)


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
    check_stages(out["optimizers"], "fit.optimizers")
    return out


def check_stages(stages: Any, setting: str) -> None:
    """An optimiser sequence: a non-empty list of Adam / L-BFGS stages with an iteration budget."""
    if not isinstance(stages, list) or not stages:
        raise ValueError(f"{setting} must be a non-empty list of stages like "
                         "{name: adam, iterations: 1000, lr: 1.0e-3} or {name: lbfgs, iterations: 50}")
    for stage in stages:
        if stage.get("name") not in ("adam", "lbfgs"):
            raise ValueError(f"optimizer stage {stage} must have name 'adam' or 'lbfgs'")
        if int(stage.get("iterations", -1)) < 0:
            raise ValueError(f"optimizer stage {stage} needs iterations >= 0")


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

    def optimizer_stages(self, instance: PDEInstance) -> list[dict[str, Any]]:
        """The optimiser sequence fitting ``instance``: ``fit.optimizers``."""
        return self.fit_cfg["optimizers"]

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
        for stage in self.optimizer_stages(instance):
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
