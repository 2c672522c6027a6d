"""The board's tables as data: ranked rows per dataset, the same-K groups, the cross-dataset summary.

Rows are plain dicts read from the records (no formatting): the templates and plots of
:mod:`.pages` and :mod:`.plots` render them. Ranking and ties are explained in
:mod:`pdebench_x.leaderboard.board`.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from pdebench_x.evaluation.long_horizon import nrmse_at_multiples
from pdebench_x.evaluation.metrics import PRIMARY_METRIC
from pdebench_x.leaderboard.checks import ARTIFACT_HASHES
from pdebench_x.leaderboard.costs import break_even, speedup
from pdebench_x.leaderboard.fingerprint import TRACK_SECTIONS
from pdebench_x.leaderboard.statistics import (ALPHA, bootstrap_interval, holm, monitored_curve, not_converged_seeds,
                                               paired_p_value, sample_matrix)

#: Columns of a dataset table after the primary metric: (metric key, header).
METRIC_COLUMNS = [
    ("rmse", "RMSE"), ("relative_l2_fno", "rel. L2"), ("vrmse", "VRMSE"), ("max_error", "max err"),
    ("crmse", "cRMSE"), ("brmse", "bRMSE"), ("frmse_low", "fRMSE low"), ("frmse_mid", "fRMSE mid"),
    ("frmse_high", "fRMSE high"),
]
#: Columns of a same-K table after nRMSE and its spreads.
SAME_K_METRICS = [("relative_l2_fno", "rel. L2"), ("rmse", "RMSE"), ("max_error", "max err")]


def _stat(agg: Mapping[str, Any] | None, metric: str) -> tuple[float | None, float | None]:
    s = (agg or {}).get("overall", {}).get(metric) or {}
    return s.get("mean"), s.get("std")


def on_full_split(rec: Mapping[str, Any]) -> bool:
    """A record ranked in the main table: scored on the whole official test split."""
    return rec.get("status", "ok") == "ok" and rec["source"] != "run"


def make_rows(records: Iterable[Mapping[str, Any]], error_floors: Mapping[str, Mapping[str, Any]] | None = None,
              solver_costs: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, list[dict[str, Any]]]:
    """dataset name -> rows (one per record scored on the full test split), ranked; a row whose mean
    nRMSE is below its dataset's error floor is marked ``below_floor``; where the dataset has the
    numerical solver's cost curve, each row's speed-up over it at equal accuracy and break-even count."""
    floors = {name: f["nrmse"] for name, f in (error_floors or {}).items()}
    solver_costs = solver_costs or {}
    by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        if not on_full_split(rec):
            continue
        mean, std = _stat(rec["aggregate"], PRIMARY_METRIC)
        matrix = sample_matrix(rec)
        zs = rec.get("zero_shot")
        ood = _stat(rec["ood"]["aggregate"], PRIMARY_METRIC) if rec.get("ood") else None
        agg = rec["aggregate"]
        by_dataset[rec["dataset"]["name"]].append({
            "solver": rec["solver"]["name"], "model": rec["solver"]["model"], "kind": rec["solver"]["kind"],
            "paper": rec["solver"].get("paper"), "code": rec["solver"].get("code"),
            "given_equation": given_equation(rec), "dataset": rec["dataset"], "setting": rec["setting"], "source": rec["source"],
            "unverified": unverified(rec), "not_converged": not_converged_seeds(rec),
            "below_floor": _below(mean, floors.get(rec["dataset"]["name"])),
            "curves": [(s.get("seed"), curve) for s in rec["seeds"] if (curve := monitored_curve(s))],
            "mean": mean, "std": std or 0.0,
            # each test sample's error averaged over the seeds (the unit of the paired tests), and
            # the two-level bootstrap interval of the mean (seeds, then samples)
            "sample_errors": None if matrix is None else matrix.mean(axis=0),
            "ci": None if matrix is None else bootstrap_interval(matrix),
            "metrics": {k: _stat(agg, k) for k, _ in METRIC_COLUMNS},
            "zero_shot": _stat(zs["aggregate"], PRIMARY_METRIC) if zs else None,
            "ood": ood,
            "ood_below_floor": _below(ood[0] if ood else None, floors.get(f"ood/{rec['dataset']['name']}")),
            "ood_shift": rec["ood"]["shift"] if rec.get("ood") else None,
            "valid_time": (rec["long_horizon"]["valid_time"]["mean"] if rec.get("long_horizon") else None),
            "correlation_time": (rec["long_horizon"]["correlation_time"]["mean"] if rec.get("long_horizon") else None),
            "long_shift": rec["long_horizon"]["shift"] if rec.get("long_horizon") else None,
            **_past_the_horizon(rec.get("long_horizon")),
            "drift": drift_at_the_end(rec) if rec.get("long_horizon") else None,
            "zero_shot_resolution": zs["resolution"] if zs else None,
            **_against_the_solver(rec, mean, solver_costs.get(rec["dataset"]["name"])),
            "n_parameters": rec.get("n_parameters"), "train_seconds": rec.get("train_seconds"),
            "inference_seconds_per_sample": rec.get("inference_seconds_per_sample"),
            "n_seeds": len(rec["seeds"]),
            "steps": agg.get("steps") or [],
            "per_step": [(s.get("mean"), s.get("std")) for s in agg.get("per_step", {}).get(PRIMARY_METRIC, [])],
        })
    return {name: rank_rows(rows) for name, rows in sorted(by_dataset.items())}


def _below(error: float | None, floor: float | None) -> bool:
    """Whether an error lies below its split's error floor (False where either is unknown)."""
    return error is not None and floor is not None and error < floor


def _past_the_horizon(block: Mapping[str, Any] | None) -> dict[str, Any]:
    """The long-horizon error curve (``long_curve``: [(time, nRMSE)], frames that blew up left out)
    and its value at 2, 5 and 10 times the trained horizon (``horizon_nrmse``: [(multiple, nRMSE or
    inf or None)]; None when the record does not say what it was trained to)."""
    if not block:
        return {"long_curve": None, "horizon_nrmse": None, "trained_until": None}
    until = block.get("trained_until")
    return {"long_curve": [(t, v) for t, v in zip(block["times"], block["nrmse_vs_time"]) if v is not None],
            "horizon_nrmse": nrmse_at_multiples(block["times"], block["nrmse_vs_time"], until) if until else None,
            "trained_until": until}


def drift_at_the_end(rec: Mapping[str, Any]) -> list[tuple[str, float | None, float | None]] | None:
    """What drifted by the last frame of the long-horizon rollouts, over the seeds: ``("high-k energy",
    ratio, None)``, the prediction's energy over the truth's in the upper half of the wavenumber
    shells (geometric mean over those shells, then over seeds; 1: no drift, below: smoothed, above:
    noise), then each conserved quantity as ``(name, prediction, truth)`` (means over seeds). None when
    no seed kept these scores (records scored before they were kept)."""
    scores = [s.get("long_horizon") or {} for s in rec["seeds"]]
    if not scores or not all("spectrum_ratio_last_frame" in h for h in scores):
        return None
    logs = []
    for h in scores:
        shells = h["spectrum_ratio_last_frame"]
        upper = [r for r in shells[len(shells) // 2:] if r is not None and r > 0]
        if not upper:  # a rollout that is no longer finite has no spectrum
            logs = None
            break
        logs.append(math.fsum(math.log(r) for r in upper) / len(upper))
    out: list[tuple[str, float | None, float | None]] = [
        ("high-k energy", math.exp(math.fsum(logs) / len(logs)) if logs else None, None)]
    names = [n for n in (scores[0].get("conserved_last_frame") or {}) if all(n in (h.get("conserved_last_frame") or {}) for h in scores)]
    for name in names:
        values = [h["conserved_last_frame"][name] for h in scores]
        out.append((name.replace("_", " "), math.fsum(v["prediction"] for v in values) / len(values),
                    math.fsum(v["truth"] for v in values) / len(values)))
    return out


def _against_the_solver(rec: Mapping[str, Any], mean: float | None,
                        curve: Mapping[str, Any] | None) -> dict[str, Any]:
    """The row's inference CPU time, speed-up over the numerical solver at equal accuracy and
    break-even count (None without the dataset's curve or the record's CPU times)."""
    cpu = rec.get("inference_cpu_seconds_per_sample")
    budgets = [s.get("budget") or {} for s in rec["seeds"]]
    train_cpu = (sum(b["cpu_seconds"] for b in budgets) / len(budgets)
                 if budgets and all(b.get("cpu_seconds") is not None for b in budgets) else None)
    n_train = (((rec["seeds"][0].get("training_dataset") or {}).get("sizes") or {}).get("train")
               if rec["seeds"] else None)
    return {"inference_cpu": cpu,
            "speedup": speedup(curve, mean, cpu) if curve else None,
            "break_even": break_even(curve, mean, cpu, train_cpu, n_train) if curve else None}


def rank_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sort by mean nRMSE and assign ranks with ties (see the module docstring): by paired tests
    between neighbours when every row has per-sample errors on the same samples, else by the
    one-standard-deviation rule."""
    rows = sorted(rows, key=lambda r: (r["mean"], r["solver"].lower()))
    errors = [r.get("sample_errors") for r in rows]
    if len(rows) > 1 and all(e is not None for e in errors) and len({len(e) for e in errors}) == 1:
        return _rank_by_paired_tests(rows)
    leader = None
    for position, row in enumerate(rows, start=1):
        row["tie_rule"], row["p_previous"] = "std", None
        if leader is not None and row["mean"] - leader["mean"] <= max(leader["std"], row["std"]):
            row["rank"], row["tied"] = leader["rank"], True
            leader["tied"] = True
        else:
            row["rank"], row["tied"], leader = position, False, row
    return rows


def _rank_by_paired_tests(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Neighbours in the ranking compared by a Wilcoxon signed-rank test paired by test sample,
    Holm-corrected over the dataset's neighbour pairs: a pair not different at ALPHA shares a rank
    (ties chain along the ranking)."""
    adjusted = holm([paired_p_value(a["sample_errors"], b["sample_errors"]) for a, b in zip(rows, rows[1:])])
    for position, row in enumerate(rows, start=1):
        row["tie_rule"], row["tied"] = "paired", False
        row["p_previous"] = adjusted[position - 2] if position > 1 else None
        if position > 1 and row["p_previous"] >= ALPHA:
            row["rank"], row["tied"] = rows[position - 2]["rank"], True
            rows[position - 2]["tied"] = True
        else:
            row["rank"] = position
    return rows


KIND_LABEL = {"per_instance": "per-instance", "operator": "operator", "external": "operator (external)"}


def _track_instances(group: Sequence[Mapping[str, Any]], official: Sequence[int]) -> dict[str, list[int]]:
    """{"ood": indices, "long": indices}: the K instances of each track split that the group's per-instance
    solvers were fitted on (a track split may hold fewer problems than the official one, so its K are
    drawn among its own); the official ``official`` where none says."""
    out = {}
    for track, section in TRACK_SECTIONS.items():
        fitted = [list(((r.get(section) or {}).get("instances") or {}).get("indices") or []) for r in group
                  if r["solver"]["kind"] == "per_instance"]
        out[track] = next((f for f in fitted if f), list(official))
    return out


def _track_on_k(rec: Mapping[str, Any], indices: Mapping[str, Sequence[int]]) -> dict[str, float | None]:
    """The OOD nRMSE and the long-horizon valid time on the K instances of the track splits (``indices``:
    per track, :func:`_track_instances`): a per-instance solver's own track sections (fitted there on
    those K), an operator learner's per-sample track scores at those indices averaged over its seeds
    (None where a record lacks them)."""
    out: dict[str, float | None] = {"ood_k": None, "valid_time_k": None}
    if rec.get("status", "ok") != "ok" or not indices:
        return out
    if rec["solver"]["kind"] == "per_instance":
        ood, long = rec.get("ood") or {}, rec.get("long_horizon") or {}
        if ood and list((ood.get("instances") or {}).get("indices") or []) == list(indices["ood"]):
            out["ood_k"] = _stat(ood["aggregate"], PRIMARY_METRIC)[0]
        if long and list((long.get("instances") or {}).get("indices") or []) == list(indices["long"]):
            out["valid_time_k"] = long["valid_time"]["mean"]
        return out

    def at_k(values: Sequence[float | None] | None, chosen: Sequence[int]) -> float | None:
        if not values or max(chosen, default=len(values)) >= len(values) or \
                any(values[i] is None for i in chosen):
            return None
        return math.fsum(values[i] for i in chosen) / len(chosen)

    for key, track, get in (
            ("ood_k", "ood", lambda s: ((s.get("ood") or {}).get("per_sample") or {}).get(PRIMARY_METRIC)),
            ("valid_time_k", "long", lambda s: (s.get("long_horizon") or {}).get("valid_time_per_sample"))):
        per_seed = [at_k(get(seed), indices[track]) for seed in rec["seeds"]]
        if per_seed and None not in per_seed:
            out[key] = math.fsum(per_seed) / len(per_seed)
    return out


def _instances_interval(rec: Mapping[str, Any]) -> tuple[float, float] | None:
    """The 95% interval of a same-K row's nRMSE: the two-level bootstrap of the ranked tables over the
    seeds' (training or fit seeds) values on the K instances; None without per-instance values."""
    rows = [((s.get("instances") or {}).get("per_instance") or {}).get(PRIMARY_METRIC) for s in rec["seeds"]]
    if not rows or any(not r or None in r for r in rows) or len({len(r) for r in rows}) != 1:
        return None
    return bootstrap_interval(np.asarray(rows, dtype=np.float64))


def _fit_cpu_per_instance(rec: Mapping[str, Any]) -> float | None:
    """A per-instance record's process CPU seconds per instance: each fit seed's budget (its K fits
    together) over K, averaged over the fit seeds; None without budgets."""
    k = int((rec.get("instances") or {}).get("k") or 0)
    cpu = [(s.get("budget") or {}).get("cpu_seconds") for s in rec["seeds"]]
    if not k or not cpu or None in cpu:
        return None
    return math.fsum(cpu) / len(cpu) / k


def _same_k_row(rec: Mapping[str, Any], track_indices: Mapping[str, Sequence[int]] | None = None) -> dict[str, Any]:
    block = rec.get("instances") or {}
    agg = block.get("aggregate")
    per_instance = rec["solver"]["kind"] == "per_instance" and rec["source"] == "run"
    applicable = rec.get("status", "ok") == "ok"
    mean, std_seeds = _stat(agg, PRIMARY_METRIC) if applicable else (None, None)
    spread = (block.get("spread") or {}).get(PRIMARY_METRIC) or {}
    return {
        "solver": rec["solver"]["name"], "model": rec["solver"]["model"], "kind": rec["solver"]["kind"],
        "kind_label": KIND_LABEL.get(rec["solver"]["kind"], rec["solver"]["kind"]),
        "paper": rec["solver"].get("paper"), "code": rec["solver"].get("code"), "dataset": rec["dataset"],
        "given_equation": given_equation(rec), "setting": rec["setting"], "applicable": applicable, "reason": rec.get("reason"),
        "unverified": unverified(rec),
        "mean": mean,
        "std_instances": spread.get("std") if applicable else None,
        # one fit per instance has no training seeds: its "over seeds" spread is only shown for
        # several fit seeds; for operator learners it is the std over training seeds
        "std_seeds": std_seeds if applicable and len(rec["seeds"]) > 1 else None,
        "ci": _instances_interval(rec) if applicable else None,
        "metrics": {k: _stat(agg, k) if applicable else (None, None) for k, _ in SAME_K_METRICS},
        # per instance: fit + prediction for a per-instance solver, inference for an operator learner
        "seconds_per_instance": (block.get("seconds_per_instance") if per_instance
                                 else rec.get("inference_seconds_per_sample")) if applicable else None,
        "train_seconds": rec.get("train_seconds") if applicable else None,
        # process CPU seconds of one fit + prediction (per-instance solvers), as the solver's cost curve is timed
        "cpu_seconds_per_instance": _fit_cpu_per_instance(rec) if per_instance and applicable else None,
        "n_seeds": len(rec["seeds"]),
        **_track_on_k(rec, track_indices or {}),
    }


def same_k_tables(records: Iterable[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """dataset name -> same-K groups: per-instance solvers and operator learners on one set of K test instances.

    A group {"k", "seed", "indices", "rows", "missing"} exists for each set of instances a
    per-instance solver was scored on (or, for a dataset whose per-instance solvers are all
    N/A, the operator learners' set); operator learners join the group of their K-instance
    section's indices; N/A records join every group of their dataset (a row of N/A).
    ``missing`` names the full-split solvers with no K-instance section on those indices
    (records of schema 1, or another K). Datasets without a per-instance record have none.
    """
    by_dataset: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for rec in records:
        by_dataset[rec["dataset"]["name"]].append(rec)
    out: dict[str, list[dict[str, Any]]] = {}
    for name, recs in sorted(by_dataset.items()):
        per_instance = [r for r in recs if r["source"] == "run" and r.get("status", "ok") == "ok"]
        na = [r for r in recs if r.get("status", "ok") == "not_applicable"]
        full = [r for r in recs if on_full_split(r)]
        if not per_instance and not na:
            continue
        keys = list(dict.fromkeys(tuple(r["instances"]["indices"]) for r in per_instance))
        if not keys:  # only N/A per-instance records: show the operator learners' instances beside them
            keys = list(dict.fromkeys(tuple(r["instances"]["indices"]) for r in full if r.get("instances")))[:1]
        groups = []
        for key in keys or [None]:
            members = [r for r in per_instance + full
                       if key is not None and r.get("instances") and tuple(r["instances"]["indices"]) == key]
            block = members[0]["instances"] if members else {}
            tracks = _track_instances(members, key or ())
            rows = sorted((_same_k_row(r, tracks) for r in members), key=lambda r: (r["mean"], r["solver"].lower()))
            rows += sorted((_same_k_row(r) for r in na), key=lambda r: r["solver"].lower())
            missing = sorted(r["solver"]["name"] for r in full if r not in members)
            groups.append({"k": block.get("k"), "seed": block.get("seed"), "indices": list(key or []),
                           "rows": rows, "missing": missing})
        out[name] = groups
    return out


def summary_rows(tables: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per solver name: its rank on each dataset (None: N/A) and the mean rank."""
    solvers: dict[str, dict[str, Any]] = {}
    for dataset, rows in tables.items():
        for row in rows:
            entry = solvers.setdefault(row["solver"].lower(), {"solver": row["solver"], "ranks": {}, "tied": {}})
            entry["ranks"][dataset] = row["rank"]
            entry["tied"][dataset] = row["tied"]
    for entry in solvers.values():
        ranks = list(entry["ranks"].values())
        entry["mean_rank"] = sum(ranks) / len(ranks)
        entry["n_datasets"] = len(ranks)
    return sorted(solvers.values(), key=lambda e: (e["mean_rank"], -e["n_datasets"], e["solver"].lower()))


def given_equation(rec: Mapping[str, Any]) -> bool:
    """Whether the solver read the symbolic equation with its coefficients (PROSE with its symbol
    branch on), beyond the fields every operator learner sees: the record's own flag if it has
    one, else the training config of its seeds (``model.net.use_symbols``)."""
    flag = rec["solver"].get("given_equation")
    if flag is not None:
        return bool(flag)
    for seed in rec.get("seeds") or []:
        net = (((seed.get("config") or {}).get("model") or {}).get("net") or {})
        if net.get("use_symbols"):
            return True
    return False


def _links_file(seed: Mapping[str, Any]) -> bool:
    return bool(seed.get("checkpoint") or any(seed.get(k) for k in ARTIFACT_HASHES))


def unverified(rec: Mapping[str, Any]) -> bool:
    """Whether a record with metrics fails to link, for some seed, the checkpoint or predictions
    file it was scored from: then nothing can re-score it (``--verify``), its figures are taken
    as written. A not-applicable record has no figures to verify."""
    seeds = rec.get("seeds") or []
    return rec.get("status", "ok") == "ok" and not (seeds and all(_links_file(s) for s in seeds))
