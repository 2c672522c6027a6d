"""The K test instances every solver kind is scored on, and the metrics on them.

Physics-informed solvers are fitted afresh per test instance, so they are scored on K
instances rather than the whole split; operator learners get the same K-instance section from
their full test, so both kinds can be tabled side by side. The choice of the K
(:func:`select_instances`) depends on the test-split size, K and a seed only, never on the
model; K and the seed are read from a run's configuration by :func:`instance_choice`, the one
place that rule lives (training, per-instance fitting and the scorer all use it).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np
import torch

from pdebench_x.evaluation.metrics import AGGREGATION, MetricAccumulator

#: K when neither the model's fit nor the data config says.
DEFAULT_INSTANCES = 2


def instance_choice(data: Mapping[str, Any], fit: Mapping[str, Any] | None = None,
                    fallback: Mapping[str, Any] | None = None) -> tuple[int, int | None]:
    """(K, seed) of a run: K = ``fit.instances`` if set (a per-instance solver's override), else
    ``data.n_instances``, else the ``fallback`` data config's (a record made before the key
    existed: the family's data yaml), else :data:`DEFAULT_INSTANCES`; the seed is
    ``data.instance_seed`` if given, else ``fit.instance_seed``, else the fallback's, else 0
    (None: the first K test samples)."""
    fit, fallback = fit or {}, fallback or {}
    k = fit.get("instances") or data.get("n_instances") or fallback.get("n_instances") or DEFAULT_INSTANCES
    if "instance_seed" in data:
        seed = data["instance_seed"]
    elif "instance_seed" in fit:
        seed = fit["instance_seed"]
    else:
        seed = fallback.get("instance_seed", 0)
    return int(k), (None if seed is None else int(seed))


def select_instances(n_test: int, k: int, seed: int | None) -> list[int]:
    """K distinct test indices: a seeded draw (sorted), or the first K when ``seed`` is None.

    Depends on (n_test, k, seed) only, never on the model, so every solver is scored on the
    same instances.
    """
    if int(k) != k or k < 1:
        raise ValueError(f"the number of instances must be a positive integer, got {k!r} "
                         "(set data.n_instances or model.fit.instances)")
    k = int(k)
    if k > n_test:
        raise ValueError(f"{k} instances requested but the test split has {n_test} samples; "
                         "lower data.n_instances / model.fit.instances or enlarge data.sizes.test")
    if seed is None:
        return list(range(k))
    return sorted(int(i) for i in np.random.default_rng(int(seed)).choice(n_test, size=k, replace=False))


def restrict_accumulator(acc: MetricAccumulator, positions: Sequence[int]) -> MetricAccumulator:
    """A new accumulator holding only the samples at ``positions`` (in that order) of ``acc``.

    The per-sample values are taken as they are (no fields are re-scored). A model's extra
    metrics are left out: the K-instance section has the metric set of
    :data:`pdebench_x.evaluation.metrics.AGGREGATION` only, the one every solver kind is scored with.
    """
    positions = [int(p) for p in positions]
    if not positions:
        raise ValueError("no positions given: a K-instance section needs K >= 1 samples")
    if min(positions) < 0 or max(positions) >= acc.n_samples:
        raise IndexError(f"positions {positions} outside the {acc.n_samples} samples held")
    state = acc.state_dict()
    rows = torch.as_tensor(positions, dtype=torch.long)
    sub = {**state, "values": {k: v[rows] for k, v in state["values"].items()}, "extra": {},
           "extra_names": None, "n": len(positions)}
    return MetricAccumulator.from_state_dicts([sub])


def per_sample_values(acc: MetricAccumulator) -> dict[str, list[float | None]]:
    """{metric: [each sample's own overall value]} (``MetricAccumulator.per_sample``); non-finite -> None."""
    out = {}
    for name in AGGREGATION:
        values = acc.per_sample(name).tolist()
        out[name] = [v if math.isfinite(v) else None for v in values]
    return out


def instance_section(acc: MetricAccumulator, positions: Sequence[int], indices: Sequence[int], k: int,
                     seed: int | None, kind: str, channels: Sequence[str], first_target_frame: int) -> dict[str, Any]:
    """The K-instance section: the metrics of the samples at ``positions`` of ``acc`` only.

    ``indices`` are their test-split indices (the choice of :func:`select_instances`), in the
    order of ``positions``. Returns ``{"k", "seed", "indices", "steady"|"rollout": summary,
    "per_instance": {metric: [K values]}}``: the summary aggregates exactly as the full test's
    (mean; max for max_error; rms over samples for crmse) over the K samples, so e.g. its
    nrmse is (1/K) sum_{i in indices} nrmse_i.
    """
    if len(positions) != len(indices) or len(indices) != k:
        raise ValueError(f"{len(positions)} positions and {len(indices)} indices for K = {k}: they must agree")
    sub = restrict_accumulator(acc, positions)
    section = "rollout" if kind == "rollout" else "steady"
    return {"k": int(k), "seed": seed, "indices": [int(i) for i in indices],
            section: sub.summary(list(channels), first_target_frame),
            "per_instance": per_sample_values(sub)}
