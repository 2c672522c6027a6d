"""Optimisers and learning-rate schedules named in a model's recipe.

The recipe's ``optimizer`` is a Hydra ``_target_`` dict (any torch optimiser); ``scheduler`` is
one of a few named schedules, stepped every optimisation step because the papers' schedules
(OneCycle, warm-up then cosine) are defined over steps or fractional epochs:

- ``none``: constant learning rate;
- ``cosine``: linear warm-up over ``warmup_epochs`` then cosine decay to ``eta_min`` (SineNet, PROSE);
- ``onecycle``: torch's OneCycleLR with ``pct_start`` (MgNO);
- ``step``: multiply by ``gamma`` every ``step_epochs`` epochs (FNO's StepLR).
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from hydra.utils import instantiate

SCHEDULERS = ("none", "cosine", "onecycle", "step")


def build_optimizer(cfg: Mapping[str, Any], params) -> torch.optim.Optimizer:
    return instantiate(dict(cfg), params=params)


def build_scheduler(cfg: Mapping[str, Any] | None, optimizer: torch.optim.Optimizer, total_steps: int,
                    steps_per_epoch: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    cfg = dict(cfg or {"name": "none"})
    name = cfg.pop("name", "none")
    total_steps = max(int(total_steps), 1)
    steps_per_epoch = max(int(steps_per_epoch), 1)
    if name == "none":
        return None
    if name == "cosine":
        warmup = int(cfg.get("warmup_epochs", 0) * steps_per_epoch)
        floor = float(cfg.get("eta_min_ratio", 0.0))

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = min((step - warmup) / max(total_steps - warmup, 1), 1.0)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
        return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    if name == "onecycle":
        max_lr = [g["lr"] for g in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total_steps,
                                                   pct_start=float(cfg.get("pct_start", 0.2)),
                                                   div_factor=float(cfg.get("div_factor", 25.0)),
                                                   final_div_factor=float(cfg.get("final_div_factor", 1e4)))
    if name == "step":
        every = max(int(cfg.get("step_epochs", 100) * steps_per_epoch), 1)
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=every, gamma=float(cfg.get("gamma", 0.5)))
    raise ValueError(f"unknown scheduler {name!r}; choose one of {SCHEDULERS}")
