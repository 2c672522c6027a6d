"""The numerical solver's accuracy-cost curve on a test split: what a learned solver must beat.

The generator solves the first ``n_samples`` test samples on its stored grid (the truth itself,
timed) and on grids ``factor`` times coarser (:meth:`~pdebench_x.data.generators.base.Generator.coarser_solve`,
brought back to the stored grid; the time steps grow with the cells, as both the NS and the SWE
solvers take CFL-limited steps, and Darcy's is steady), each timed in process CPU seconds per sample in this process
(its torch threads stated), each compared with the truth by the board's per-sample nRMSE. A
learned solver's (CPU time per sample, nRMSE) point belongs on the same axes: where it lies below
the curve it is cheaper than the solver at equal accuracy.
"""
from __future__ import annotations

import os
import time
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from pdebench_x.core.machine import hardware
from pdebench_x.data.build import DatasetPlan, generator_class
from pdebench_x.data.generators.base import sample_seed
from pdebench_x.evaluation.truth import per_sample_nrmse

FORMAT_VERSION = 1


def _timed(solve, repeats: int) -> tuple[dict[str, np.ndarray], float]:
    """The solve's output and its least process CPU time over ``repeats`` runs: the other processes of
    a shared machine only ever add time (cache and memory-bus contention), so the minimum is the
    estimate least disturbed by them, as ``timeit`` advises."""
    best, out = float("inf"), None
    for _ in range(max(1, int(repeats))):
        start = time.process_time()
        out = solve()
        best = min(best, time.process_time() - start)
    return out, best


def solver_cost_curve(plan: DatasetPlan, problem: Mapping[str, Any], factors: Sequence[int] = (2, 4, 8),
                      n_samples: int = 4, repeats: int = 3) -> dict[str, Any]:
    """The curve (see the module docstring), JSON-ready: one point per grid, the stored one first;
    each time the least of ``repeats`` solves of the samples."""
    generator = generator_class(plan.family)(**plan.generator)
    seeds = [sample_seed(plan.seed, "test", i) for i in range(min(n_samples, int(plan.sizes["test"])))]
    truth, seconds = _timed(lambda: generator.generate(seeds), repeats)
    points = [{"factor": 1, "cpu_seconds_per_sample": seconds / len(seeds), "nrmse": 0.0}]
    for factor in factors:
        out, seconds = _timed(lambda: generator.coarser_solve(seeds, int(factor)), repeats)
        errors = per_sample_nrmse(out, truth, problem)
        points.append({"factor": int(factor), "cpu_seconds_per_sample": seconds / len(seeds),
                       "nrmse": float(np.mean(errors)), "per_sample": errors})
    return {
        "format_version": FORMAT_VERSION,
        "dataset": plan.name,
        "samples": list(range(len(seeds))),
        "threads": torch.get_num_threads(),
        "hardware": hardware()["cpu"],
        "repeats": int(repeats),
        # the 1-minute load average when measured: a busy machine inflates even CPU time
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "points": points,
        "method": (f"the {plan.family} generator on test samples 0-{len(seeds) - 1}: the stored grid (the truth) and "
                   f"grids {', '.join(str(f) for f in factors)}x coarser brought to it, process CPU seconds per "
                   f"sample (the least of {int(repeats)} solves), nRMSE against the truth over the channels and frames "
                   "the board scores"),
    }
