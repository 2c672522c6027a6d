"""The numerical solver's accuracy-cost curve on a test split: what a learned solver must beat.

The generator solves the first ``n_samples`` test samples on its stored grid (the truth itself,
timed) and on grids ``factor`` times coarser (:meth:`~pdebench_x.data.generators.base.Generator.coarser_solve`,
brought back to the stored grid), each timed in process CPU seconds per sample in this process
(its torch threads stated), each compared with the truth by the board's per-sample nRMSE. A
learned solver's (CPU time per sample, nRMSE) point belongs on the same axes: where it lies below
the curve it is cheaper than the solver at equal accuracy.
"""
from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from pdebench_x.core.machine import hardware
from pdebench_x.data.build import DatasetPlan, generator_class
from pdebench_x.data.generators.base import sample_seed
from pdebench_x.evaluation.truth import per_sample_nrmse

FORMAT_VERSION = 1


def _timed(solve) -> tuple[dict[str, np.ndarray], float]:
    start = time.process_time()
    out = solve()
    return out, time.process_time() - start


def solver_cost_curve(plan: DatasetPlan, problem: Mapping[str, Any], factors: Sequence[int] = (2, 4, 8),
                      n_samples: int = 4) -> dict[str, Any]:
    """The curve (see the module docstring), JSON-ready: one point per grid, the stored one first."""
    generator = generator_class(plan.family)(**plan.generator)
    seeds = [sample_seed(plan.seed, "test", i) for i in range(min(n_samples, int(plan.sizes["test"])))]
    truth, seconds = _timed(lambda: generator.generate(seeds))
    points = [{"factor": 1, "cpu_seconds_per_sample": seconds / len(seeds), "nrmse": 0.0}]
    for factor in factors:
        out, seconds = _timed(lambda: generator.coarser_solve(seeds, int(factor)))
        errors = per_sample_nrmse(out, truth, problem)
        points.append({"factor": int(factor), "cpu_seconds_per_sample": seconds / len(seeds),
                       "nrmse": float(np.mean(errors)), "per_sample": errors})
    return {
        "format_version": FORMAT_VERSION,
        "dataset": plan.name,
        "samples": list(range(len(seeds))),
        "threads": torch.get_num_threads(),
        "hardware": hardware()["cpu"],
        "points": points,
        "method": (f"the {plan.family} generator on test samples 0-{len(seeds) - 1}: the stored grid (the truth) and "
                   f"grids {', '.join(str(f) for f in factors)}x coarser brought to it, process CPU seconds per "
                   "sample, nRMSE against the truth over the channels and frames the board scores"),
    }
