"""A learned solver against the numerical one at equal accuracy: speed-up and break-even count.

The solver's curve (``leaderboard/solver_costs/<dataset>.json``, evaluation/solver_cost.py) holds,
per grid, its process CPU seconds per sample and its nRMSE against the stored truth. At a
model's error e the solver's cost is read off that curve by log-log interpolation between the
two grids whose errors bracket e. A model less accurate than the coarsest grid has no speed-up
(N/A: the solver is both cheaper and better there); one more accurate than the finest coarse grid
is compared with that grid, a lower bound of the solver's cost (shown as ">=").

Break-even: how many test-size solves the model must replace before its training and the solves
that made its training data are paid back: (training CPU seconds + training samples x the
solver's cost per sample at the stored grid) / (solver cost at equal accuracy - model cost).
"""
from __future__ import annotations

import math
from typing import Any, Mapping


def solver_seconds_at(curve: Mapping[str, Any], error: float) -> tuple[float, bool] | None:
    """(the solver's CPU seconds per sample at nRMSE ``error``, whether exact rather than a lower
    bound); None when ``error`` is worse than the coarsest grid's (the solver is cheaper and better)."""
    points = sorted((p for p in curve["points"] if p["factor"] > 1 and p["nrmse"] > 0), key=lambda p: p["nrmse"])
    if not points or error > points[-1]["nrmse"]:
        return None
    if error <= points[0]["nrmse"]:
        return points[0]["cpu_seconds_per_sample"], False
    for fine, coarse in zip(points, points[1:]):
        if fine["nrmse"] <= error <= coarse["nrmse"]:
            w = math.log(error / fine["nrmse"]) / math.log(coarse["nrmse"] / fine["nrmse"])
            log_t = (1 - w) * math.log(fine["cpu_seconds_per_sample"]) + w * math.log(coarse["cpu_seconds_per_sample"])
            return math.exp(log_t), True
    return None


def speedup(curve: Mapping[str, Any], error: float | None, model_seconds: float | None) -> tuple[float, bool] | None:
    """(solver cost at equal accuracy / model cost, exact); None where it does not apply."""
    if error is None or not model_seconds:
        return None
    at = solver_seconds_at(curve, error)
    return None if at is None else (at[0] / model_seconds, at[1])


def break_even(curve: Mapping[str, Any], error: float | None, model_seconds: float | None,
               train_cpu_seconds: float | None, n_train: int | None) -> float | None:
    """Solves to replace before training and its data are paid back; None where the model never pays
    (not cheaper at equal accuracy) or a cost is unknown."""
    at = solver_seconds_at(curve, error) if error is not None else None
    if at is None or not model_seconds or train_cpu_seconds is None or not n_train or at[0] <= model_seconds:
        return None
    stored = next(p["cpu_seconds_per_sample"] for p in curve["points"] if p["factor"] == 1)
    return (train_cpu_seconds + n_train * stored) / (at[0] - model_seconds)
