"""Optimisers and learning-rate schedules named in a model's recipe.

The recipe's ``optimizer`` is a Hydra ``_target_`` dict (any torch optimiser); ``scheduler`` is
one of a few named schedules:

- ``none``: constant learning rate;
- ``cosine``: linear warm-up over ``warmup_epochs`` then cosine decay to ``eta_min_ratio`` times
  the learning rate (SineNet, PROSE); the warm-up starts at ``warmup_start_ratio`` times the
  learning rate and reaches it on the last warm-up step (PDEArena's LinearWarmupCosineAnnealingLR,
  which SineNet uses), or without ``warmup_start_ratio`` climbs (step + 1) / warm-up steps;
- ``onecycle``: torch's OneCycleLR with ``pct_start``, ``div_factor`` and ``final_div_factor``
  (MgNO);
- ``step``: multiply by ``gamma`` every ``step_epochs`` epochs (FNO's StepLR).
- ``wsd``: warm-up, stable, decay (PROSE-FD's ``warmup_stable_decay``): a linear climb from 0 over
  ``warmup_epochs``, the learning rate held, then a cosine decay to ``min_lr_ratio`` times it over
  the last ``decay_epochs`` (see :func:`warmup_stable_decay`).

``interval`` (in the scheduler dict) says when the schedule advances: ``step`` (default: every
optimisation step, the schedule defined over fractional epochs) or ``epoch`` (once per epoch, as
the official MgNO and SineNet code step theirs: the schedule then has one step per epoch).
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import torch
from hydra.utils import instantiate

SCHEDULERS = ("none", "cosine", "onecycle", "step", "wsd")
INTERVALS = ("step", "epoch")


def build_optimizer(cfg: Mapping[str, Any], params) -> torch.optim.Optimizer:
    return instantiate(dict(cfg), params=params)


def scheduler_interval(cfg: Mapping[str, Any] | None) -> str:
    """When the schedule ``cfg`` advances: "step" (default) or "epoch"."""
    interval = (cfg or {}).get("interval", "step")
    if interval not in INTERVALS:
        raise ValueError(f"scheduler interval must be one of {INTERVALS}, got {interval!r}")
    return interval


def build_scheduler(cfg: Mapping[str, Any] | None, optimizer: torch.optim.Optimizer, total_steps: int,
                    steps_per_epoch: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The schedule ``cfg`` over ``total_steps`` scheduler steps, ``steps_per_epoch`` of them per
    epoch (for an epoch-wise schedule: the number of epochs, and 1)."""
    cfg = dict(cfg or {"name": "none"})
    name = cfg.pop("name", "none")
    total_steps = max(int(total_steps), 1)
    steps_per_epoch = max(int(steps_per_epoch), 1)
    if name == "none":
        return None
    if name == "cosine":
        warmup = int(cfg.get("warmup_epochs", 0) * steps_per_epoch)
        floor = float(cfg.get("eta_min_ratio", 0.0))
        start = None if cfg.get("warmup_start_ratio") is None else float(cfg["warmup_start_ratio"])

        def factor(step: int) -> float:
            if step < warmup:
                if start is None:
                    return (step + 1) / warmup
                return start + (1 - start) * step / max(warmup - 1, 1)
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
    if name == "wsd":
        return warmup_stable_decay(optimizer, total_steps, int(cfg.get("warmup_epochs", 0) * steps_per_epoch),
                                   int(cfg.get("decay_epochs", 0) * steps_per_epoch),
                                   float(cfg.get("min_lr_ratio", 0.0)))
    raise ValueError(f"unknown scheduler {name!r}; choose one of {SCHEDULERS}")


def warmup_stable_decay(optimizer: torch.optim.Optimizer, total_steps: int, warmup_steps: int,
                        decay_steps: int, min_lr_ratio: float = 0.0) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning-rate factor of PROSE-FD's run (its ``optim/wsd.yaml`` through
    ``transformers.get_scheduler("warmup_stable_decay")``, transformers 4.43) over ``total_steps``:
    W = max(1, warmup_steps) warm-up steps, D = decay_steps, S = total - W - D stable steps,

        step < W:            step / W                       (the first step has learning rate 0)
        step < W + S:        1
        step < W + S + D:    m + (1 - m) (1 + cos(pi (step - W - S) / D)) / 2,   m = min_lr_ratio
        afterwards:          m

    PROSE-FD's 10% warm-up and 20% decay of 40 epochs are 4 and 8 epochs.
    """
    warmup, decay = max(1, int(warmup_steps)), max(0, int(decay_steps))
    stable = total_steps - warmup - decay   # as PROSE-FD's trainer.py, negative in a run too short for both

    def factor(step: int) -> float:
        if step < warmup:
            return step / warmup
        if step < warmup + stable:
            return 1.0
        if step < warmup + stable + decay:
            progress = (step - warmup - stable) / max(decay, 1)
            return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
        return min_lr_ratio
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
