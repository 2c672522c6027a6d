"""Submission records from scored seeds: the aggregate over seeds, the K-instance section, provenance.

Every record the scorer writes is assembled here and validated (:mod:`..schema`) before it is
returned: :func:`build_record` from >= ``min_seeds`` seed entries, :func:`build_not_applicable_record`
for a solver that does not apply to the dataset (N/A on the board).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

from pdebench_x.evaluation.metrics import PRIMARY_METRIC
from pdebench_x.leaderboard.checks import MIN_SEEDS, TRANSFER_SPLITS
from pdebench_x.leaderboard.fingerprint import trained_horizon
from pdebench_x.leaderboard.schema import CURRENT_VERSION, validate_record
from pdebench_x.leaderboard.statistics import instance_spread, mean_std, primary_section
from pdebench_x.leaderboard.scoring.errors import ScoringError
from pdebench_x.leaderboard.scoring.provenance import provenance


def seed_instances(section: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A seed entry's ``instances`` from a test summary's K-instance section (None: there is none)."""
    if not section:
        return None
    metrics = {k: section[k] for k in ("steady", "rollout") if k in section}
    return {"indices": list(section["indices"]), "metrics": metrics, "per_instance": dict(section["per_instance"]),
            "seconds": section.get("seconds")}


def aggregate(entries: Sequence[Mapping[str, Any]], key: str = "metrics") -> dict[str, Any]:
    """Mean and sample std over seeds of every overall metric, and per step of the primary section."""
    if key in TRANSFER_SPLITS:
        sections = [e[key] for e in entries]
    else:
        sections = [primary_section(e["metrics"]) for e in entries]
    names = list(dict.fromkeys(n for s in sections for n in s["overall"]))
    out: dict[str, Any] = {"overall": {n: mean_std([s["overall"].get(n) for s in sections]) for n in names},
                           "per_step": {}, "steps": []}
    if key not in TRANSFER_SPLITS:
        steps = sections[0]["steps"]
        out["steps"] = list(steps)
        for n in sections[0]["per_step"]:
            out["per_step"][n] = [mean_std([s["per_step"][n][t] for s in sections]) for t in range(len(steps))]
    return out


def require_seeds(n: int, minimum: int = MIN_SEEDS) -> None:
    if n < minimum:
        raise ScoringError(
            f"{n} seed(s) given; the board shows mean ± std over at least {MIN_SEEDS} training seeds. "
            "Train again with other seeds (e.g. `python train.py -m seed=0,1,2 ...`) and score all runs together")


def instances_block(entries: Sequence[Mapping[str, Any]], fp: Mapping[str, Any],
                    choice: tuple[int, int | None], seconds_per_instance: float | None = None) -> dict[str, Any] | None:
    """The record's K-instance section from its seeds' (None when a seed has none, e.g. K > test split)."""
    if not entries or any(not e.get("instances") for e in entries):
        return None
    indices = {tuple(e["instances"]["indices"]) for e in entries}
    if len(indices) != 1:
        raise ScoringError(f"the seeds were scored on different K-instance sets {sorted(indices)}: use one "
                           "data.n_instances / data.instance_seed for every run")
    k, seed = choice
    return {"k": int(k), "seed": seed, "indices": list(indices.pop()), "n_test_split": int(fp["test"]["n_samples"]),
            "aggregate": aggregate([{"metrics": e["instances"]["metrics"]} for e in entries]),
            "spread": instance_spread(list(entries)), "seconds_per_instance": seconds_per_instance}


def _dataset_entry(fp: Mapping[str, Any]) -> dict[str, Any]:
    """The record's description of the official split it was scored on."""
    return {"name": fp["dataset"], "family": fp["family"], "preset": fp["preset"], "fingerprint": fp["id"],
            "kind": fp["problem"]["kind"], "n_test_samples": int(fp["test"]["n_samples"]),
            "target_channels": list(fp["test"]["target_channels"])}


def ood_block(entries: Sequence[Mapping[str, Any]], ood: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The record's out-of-distribution section: the split's fingerprint and what it shifts, and the
    aggregate of the seeds' scores there (None when the dataset has no such split or a seed lacks it)."""
    if ood is None or not all(e.get("ood") for e in entries):
        return None
    track = ood["track"]
    return {"dataset": ood["dataset"], "of": track["of"], "fingerprint": ood["id"], "shift": track["shift"],
            "aggregate": aggregate(entries, "ood"), "instances": _track_instances(entries, "ood")}


def _track_instances(entries: Sequence[Mapping[str, Any]], key: str) -> dict[str, Any] | None:
    """{k, indices} of a per-instance solver's track scores (fitted on K instances of the track's
    split); None for an operator learner, scored on the whole split."""
    indices = {tuple(e[key].get("indices") or ()) for e in entries}
    if indices == {()}:
        return None
    if len(indices) > 1:
        raise ScoringError(f"the seeds' {key} scores are on different instances {sorted(indices)}")
    chosen = list(indices.pop())
    return {"k": len(chosen), "indices": chosen}


def long_horizon_block(entries: Sequence[Mapping[str, Any]], long: Mapping[str, Any] | None,
                       trained_until: float | None) -> dict[str, Any] | None:
    """The record's long-horizon section: the split's fingerprint and horizon, the horizon the model
    was trained to (``trained_until``; None for a solver fitted over the long window itself), and
    over the seeds the valid and correlation times, the blown-up samples and the error against time."""
    if long is None or not all(e.get("long_horizon") for e in entries):
        return None
    scores = [e["long_horizon"] for e in entries]
    curves = [s["nrmse_vs_time"] for s in scores]
    return {"dataset": long["dataset"], "of": long["track"]["of"], "fingerprint": long["id"],
            "shift": long["track"]["shift"], "times": scores[0]["times"], "trained_until": trained_until,
            "instances": _track_instances(entries, "long_horizon"),
            "valid_time": mean_std([s["valid_time"] for s in scores]),
            "correlation_time": mean_std([s["correlation_time"] for s in scores]),
            "blown_up": sum(s["blown_up"] for s in scores),
            "nrmse_vs_time": [None if any(c[t] is None for c in curves) else math.fsum(c[t] for c in curves) / len(curves)
                              for t in range(len(curves[0]))]}


def build_record(entries: list[dict[str, Any]], fp: Mapping[str, Any], solver: Mapping[str, Any],
                 setting: str, source: str, instances: dict[str, Any] | None = None,
                 min_seeds: int = MIN_SEEDS, ood: Mapping[str, Any] | None = None,
                 long: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Assemble and validate a record from >= ``min_seeds`` seed entries (and the K-instance section,
    and the out-of-distribution section when ``ood``, that split's fingerprint, is given)."""
    require_seeds(len(entries), min_seeds)
    seeds = [e["seed"] for e in entries]
    if len(set(seeds)) != len(seeds):
        raise ScoringError(f"the runs' seeds {seeds} are not distinct: each run must be a different training seed")
    n_params = {e["n_parameters"] for e in entries}
    if len(n_params) > 1:
        raise ScoringError(f"the runs have different parameter counts {sorted(n_params, key=str)}: one record is "
                           "one solver configuration trained with several seeds")
    zero_shot = None
    if fp.get("zero_shot") and all(e.get("zero_shot") for e in entries):
        zero_shot = {"dataset": fp["zero_shot"]["dataset"], "fingerprint": fp["id"],
                     "resolution": int(fp["zero_shot"]["resolution"] or fp["zero_shot"]["spatial_shape"][0]),
                     "aggregate": aggregate(entries, "zero_shot")}

    def mean_of(key):
        values = [e.get(key) for e in entries if e.get(key) is not None]
        return math.fsum(values) / len(values) if len(values) == len(entries) else None

    record = {
        "schema_version": CURRENT_VERSION,
        "solver": dict(solver),
        "dataset": _dataset_entry(fp),
        "setting": setting,
        "source": source,
        "primary_metric": PRIMARY_METRIC,
        "status": "ok",
        "seeds": entries,
        "instances": instances,
        "aggregate": aggregate(entries),
        "zero_shot": zero_shot,
        "ood": ood_block(entries, ood),
        # a per-instance solver ("run") is fitted over the long window itself: nothing lies past its horizon
        "long_horizon": long_horizon_block(entries, long, None if long is None or source == "run" else trained_horizon(fp)),
        "n_parameters": next(iter(n_params)),
        "train_seconds": mean_of("train_seconds"),
        "inference_seconds_per_sample": mean_of("inference_seconds_per_sample"),
        "inference_cpu_seconds_per_sample": mean_of("inference_cpu_seconds_per_sample"),
        **provenance(training=entries[0].get("training_environment")),
    }
    return validate_record(record, f"the record of {solver.get('name')} on {fp['dataset']}")


def build_not_applicable_record(fp: Mapping[str, Any], solver: Mapping[str, Any], reason: str,
                                setting: str | None = None) -> dict[str, Any]:
    """A record saying the solver does not apply to the dataset (N/A on the board), and why."""
    record = {
        "schema_version": CURRENT_VERSION,
        "solver": dict(solver),
        "dataset": _dataset_entry(fp),
        "setting": setting or "not applicable",
        "source": "run",
        "primary_metric": PRIMARY_METRIC,
        "status": "not_applicable",
        "reason": reason,
        "seeds": [],
        "instances": None,
        "aggregate": {"overall": {}, "per_step": {}, "steps": []},
        "zero_shot": None,
        "n_parameters": None,
        "train_seconds": None,
        "inference_seconds_per_sample": None,
        **provenance(),  # nothing was trained: no training machine
    }
    return validate_record(record, f"the record of {solver.get('name')} on {fp['dataset']}")


def summary_line(record: Mapping[str, Any]) -> str:
    """One line saying what a record holds, for any kind of record (the command line prints it)."""
    name, dataset = record["solver"]["name"], record["dataset"]["name"]
    if record.get("status") == "not_applicable":
        return f"{name} on {dataset}: not applicable (N/A on the board): {record.get('reason')}"
    agg = record["aggregate"]["overall"][PRIMARY_METRIC]
    if record["source"] == "run":
        block = record["instances"]
        spread = block["spread"][PRIMARY_METRIC]
        return (f"{name} on {dataset}: nRMSE {agg['mean']:.4g} on K = {block['k']} test instances "
                f"(± {spread['std']:.2g} over the instances; {agg['n']} fit seed(s))")
    return f"{name} on {dataset}: nRMSE {agg['mean']:.4g} ± {agg['std']:.2g} over {agg['n']} seeds"
