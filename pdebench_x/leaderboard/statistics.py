"""How a record's figures are summarised: the ranked section of a metrics dict, mean and spread
over seeds, spread over the K instances, and whether training had converged by the board's rule
(used by the scorer, the checks and the board)."""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np


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


# ------------------------------------------------------------------------------------------
# per-sample statistics: bootstrap intervals and paired comparisons (record version 2)
# ------------------------------------------------------------------------------------------
#: Family-wise significance level of a dataset's neighbour comparisons, after Holm's correction.
ALPHA = 0.05
#: Bootstrap replicates and the generator's seed (fixed: the board renders the same every time).
N_BOOTSTRAP, BOOTSTRAP_SEED = 2000, 0


def sample_matrix(record: Mapping[str, Any]) -> np.ndarray | None:
    """[seeds, test samples] of the primary metric, from each seed's per-sample values (record
    version 2); None when a seed has none or a value is undefined."""
    rows = []
    for seed in record.get("seeds") or []:
        values = (primary_section(seed["metrics"]).get("per_sample") or {}).get("nrmse")
        if not values or any(v is None for v in values):
            return None
        rows.append(values)
    if not rows or len({len(r) for r in rows}) != 1:
        return None
    return np.asarray(rows, dtype=np.float64)


def bootstrap_interval(matrix: np.ndarray, level: float = 0.95, n_boot: int = N_BOOTSTRAP,
                       seed: int = BOOTSTRAP_SEED) -> tuple[float, float]:
    """Percentile interval of the mean error from a two-level bootstrap: each replicate draws the
    training seeds with replacement, then the test samples with replacement (one draw of samples for
    all its seeds: the samples are shared by the seeds), and takes the mean of that sub-matrix."""
    rng = np.random.default_rng(seed)
    n_seeds, n_samples = matrix.shape
    seeds = rng.integers(0, n_seeds, size=(n_boot, n_seeds))
    samples = rng.integers(0, n_samples, size=(n_boot, n_samples))
    # mean of matrix[seeds_b][:, samples_b] = mean over the drawn seeds of each row's mean over the drawn samples
    per_seed = np.stack([matrix[:, s].mean(axis=1) for s in samples])       # [n_boot, n_seeds]
    means = np.take_along_axis(per_seed, seeds, axis=1).mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def paired_p_value(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank test of two solvers' errors on the same test samples (each
    sample's error averaged over the solver's seeds: the unit is the test sample). Identical errors: 1."""
    from scipy.stats import wilcoxon
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired errors must be on the same samples, got {a.shape} and {b.shape}")
    if np.all(a == b):
        return 1.0
    return float(wilcoxon(a, b, zero_method="wilcox", alternative="two-sided").pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (family-wise error rate control)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
