"""How a record's figures are summarised: the ranked section of a metrics dict, mean and spread
over seeds, spread over the K instances, and whether training had converged by the board's rule
(used by the scorer, the checks and the board)."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence


def primary_section(metrics: dict[str, Any]) -> dict[str, Any]:
    """The section scored for ranking: the full rollout for time-dependent data, else steady."""
    for key in ("rollout", "steady"):
        if key in metrics:
            return metrics[key]
    raise KeyError("metrics hold neither a 'rollout' nor a 'steady' section")


def mean_std(values: list[float | None]) -> dict[str, Any]:
    """{mean, std, min, max, n} over the non-null values; std is the sample std (ddof = 1)."""
    xs = [float(v) for v in values if v is not None]
    n = len(xs)
    if n == 0:
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0}
    mean = math.fsum(xs) / n
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    return {"mean": mean, "std": std, "min": min(xs), "max": max(xs), "n": n}


def instance_spread(seeds: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Spread over the K instances: per metric, each instance's value averaged over the seeds
    (None if any seed has none), then :func:`mean_std` over the instances.

    This is how the board reports a per-instance solver's spread (it has no training seeds):
    the std over its K instances; operator learners get the same, beside their std over seeds.
    """
    tables = [s["instances"]["per_instance"] for s in seeds]
    out = {}
    for name in tables[0] if tables else []:
        columns = [t.get(name) or [] for t in tables]
        k = len(columns[0])
        per_instance = []
        for j in range(k):
            values = [c[j] if j < len(c) else None for c in columns]
            per_instance.append(None if any(v is None for v in values) else math.fsum(values) / len(values))
        out[name] = mean_std(per_instance)
    return out


#: The board's convergence rule: a seed whose monitored validation loss still improved by more than
#: IMPROVEMENT over the last TAIL of its validations (best in that tail against the best before it).
TAIL, IMPROVEMENT = 0.2, 0.05
CONVERGENCE_RULE = (f"validation loss (the one that selects the checkpoint) still improved by more than "
                    f"{IMPROVEMENT:.0%} over the last {TAIL:.0%} of training (its best in the last fifth of the "
                    "validations against its best before)")


def monitored_curve(seed: Mapping[str, Any]) -> list[float] | None:
    """The validation quantity that selected the seed's checkpoint, epoch by epoch (None: no curve)."""
    curve = seed.get("learning_curve") or {}
    recipe = ((seed.get("config") or {}).get("model") or {}).get("recipe") or {}
    for key in (recipe.get("monitor"), "val/rollout_loss", "val/loss"):
        values = [v for v in curve.get(key) or [] if v is not None]
        if key and values:
            return values
    return None


def still_improving(values: Sequence[float] | None) -> bool | None:
    """The convergence rule (:data:`CONVERGENCE_RULE`) on one curve; None with fewer than 2 points."""
    if not values or len(values) < 2:
        return None
    tail = max(1, math.floor(len(values) * TAIL))
    before, last = min(values[:-tail]), min(values[-tail:])
    return last < (1.0 - IMPROVEMENT) * before


def not_converged_seeds(record: Mapping[str, Any]) -> list[int]:
    """The seeds of a record that the convergence rule flags (records without curves: none)."""
    return [s.get("seed") for s in record.get("seeds") or [] if still_improving(monitored_curve(s))]
