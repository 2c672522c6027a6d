"""The error floor of a test split: how far its stored truth is from the PDE's solution.

The generator's :meth:`~pdebench_x.data.generators.base.Generator.finer_solve` solves the first
``n_samples`` test samples again on a grid ``factor`` times finer (the same problems: the same
initial fields, coefficients, dams) and brings the result to the stored grid. The nRMSE of the
stored truth against that reference, on the channels and frames the board scores, estimates the
truth's own discretisation error: a model whose error is below it is fitting the solver's error,
not the PDE (the board flags it).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from pdebench_x.data.build import DatasetPlan, generator_class
from pdebench_x.data.generators.base import sample_seed
from pdebench_x.evaluation.truth import per_sample_nrmse, scored_channel_names

FORMAT_VERSION = 1


def measure_error_floor(plan: DatasetPlan, problem: Mapping[str, Any], n_samples: int = 4,
                        factor: int = 2) -> dict[str, Any]:
    """The error floor of ``plan``'s test split (see the module docstring), JSON-ready."""
    if n_samples < 1 or factor < 2:
        raise ValueError(f"need n_samples >= 1 and factor >= 2, got {n_samples}, {factor}")
    generator = generator_class(plan.family)(**plan.generator)
    seeds = [sample_seed(plan.seed, "test", i) for i in range(min(n_samples, int(plan.sizes["test"])))]
    channels = scored_channel_names(problem)
    per_sample = per_sample_nrmse(generator.generate(seeds), generator.finer_solve(seeds, factor), problem)
    return {
        "format_version": FORMAT_VERSION,
        "dataset": plan.name,
        "metric": "nrmse",
        "nrmse": float(np.mean(per_sample)),
        "per_sample": per_sample,
        "samples": list(range(len(seeds))),
        "factor": int(factor),
        "channels": channels,
        "method": (f"nRMSE of the stored truth of test samples 0-{len(seeds) - 1} against the same problems "
                   f"solved on a grid {factor}x finer and brought to the stored grid (the {plan.family} generator's "
                   "finer_solve), over the channels and frames the board scores"),
    }
