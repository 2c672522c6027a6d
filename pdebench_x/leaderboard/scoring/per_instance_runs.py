"""Per-instance solvers' runs (PINN, LPINN, PIG) into records: their own metrics on the K test instances.

A per-instance fit is the solver's whole "training" on that instance, so its run's own
K-instance metrics are taken as they are, after checking that the run was made on the official
test split and scored the official choice of instances.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from pdebench_x.core.files import METRICS_FILE
from pdebench_x.leaderboard.fingerprint import load_fingerprint, load_track, official_split, track_overrides
from pdebench_x.leaderboard.scoring.errors import ScoringError
from pdebench_x.leaderboard.scoring.records import (build_not_applicable_record, build_record, instances_block,
                                                    seed_instances)
from pdebench_x.leaderboard.scoring.runs import official_dataset, refuse_smoke_run

#: the tracks a per-instance solver is fitted on afresh, as on the official split (fingerprints/<kind>/)
TRACKS = ("ood", "long")


def _split_differences(run: Mapping[str, Any], fp: Mapping[str, Any], where: Path) -> list[str]:
    """How the run's own test split differs from the split of ``fp`` (empty: the same split)."""
    from pdebench_x.data.build import plan_from_config
    data = (run.get("config") or {}).get("data")
    if not data or data.get("path"):
        raise ScoringError(f"{where}: the run was not made on a generated dataset (data.path is set, or no config "
                           f"recorded); run it on the official split: data={fp['family']} data.preset={fp['preset']}")
    plan = plan_from_config(data, ".")
    official = fp["plan"]
    mine = {"family": plan.family, "generator": plan.generator, "seed": plan.seed, "test": plan.sizes["test"]}
    want = {"family": fp["family"], "generator": official["generator"], "seed": int(official["seed"]),
            "test": int(official["sizes"]["test"])}
    return [f"{k}: run {mine[k]!r}, official {want[k]!r}" for k in mine if mine[k] != want[k]]


def _track_of(run: Mapping[str, Any], fp: Mapping[str, Any], tracks: Mapping[str, Mapping[str, Any]],
              where: Path) -> str:
    """'main' when the run was made on the official test split, else the track ('ood', 'long') whose
    split it was made on; a run on any other split is refused with its differences to the official one."""
    diffs = _split_differences(run, fp, where)
    if not diffs:
        return "main"
    for kind, track in tracks.items():
        if not _split_differences(run, track, where):
            return kind
    named = "".join(f"; on its {kind} track, add {' '.join(track_overrides(t))}" for kind, t in tracks.items())
    raise ScoringError(f"{where} was run on another test split than the official {fp['dataset']}:\n"
                       + "\n".join(f"  - {d}" for d in diffs)
                       + f"\nRun it again with data={fp['family']} data.preset={fp['preset']} and no generator, "
                         f"seed or test-size overrides (data.n_instances may change){named}")


def _official_split_of(paths: Sequence[Path], records: Sequence[Mapping[str, Any]], dataset: str | None,
                       fingerprints_dir: str | Path):
    """(fingerprint, its tracks, each run's split: 'main' or a track kind) of the one official dataset
    whose split or track splits all the runs were made on (a track run names its own customised
    dataset, so the runs may name several; the official one is the dataset they all belong to)."""
    names = sorted({official_dataset(rec, dataset, fingerprints_dir) for rec in records})
    errors = []
    for name in names:
        try:
            fp = load_fingerprint(fingerprints_dir, name)
        except (FileNotFoundError, ValueError) as err:
            if len(names) == 1:
                raise
            errors.append(str(err))
            continue
        tracks = {kind: t for kind in TRACKS if (t := load_track(fingerprints_dir, fp["dataset"], kind)) is not None}
        try:
            return fp, tracks, [_track_of(rec, fp, tracks, p) for p, rec in zip(paths, records)]
        except ScoringError as err:
            errors.append(str(err))
    if len(names) == 1 and errors:
        raise ScoringError(errors[0])
    raise ScoringError(f"the runs belong to different datasets {names}; score one dataset at a time"
                       + "".join(f"\n  {e}" for e in errors))


def _per_instance_entry(run: Mapping[str, Any], fp: Mapping[str, Any], where: Path) -> dict[str, Any]:
    from pdebench_x.evaluation.instances import select_instances
    refuse_smoke_run(run, where)
    section = (run.get("metrics") or {}).get("instances")
    if not section:
        raise ScoringError(f"{where}/{METRICS_FILE} has no K-instance section (metrics.instances): it was written by "
                           "an older pdebench_x; run the solver again")
    k, seed = int(section["k"]), section.get("seed")
    n_official = int(fp["test"]["n_samples"])
    want = select_instances(n_official, k, seed)
    if list(section["indices"]) != want or list(run.get("instances") or []) != want:
        raise ScoringError(f"{where}: instances {run.get('instances')} are not the choice of K = {k}, seed {seed} on "
                           f"the {n_official} official test samples ({want}); the metrics were made on other data")
    details = run.get("per_instance") or []
    config = run.get("config") or {}
    fit_seed = ((config.get("model") or {}).get("fit") or {}).get("seed", run.get("seed", 0))
    primary = {k_: v for k_, v in run["metrics"].items() if k_ in ("steady", "rollout")}
    entry = {
        "seed": int(fit_seed),
        "metrics": primary,
        "zero_shot": None,
        "n_parameters": run.get("n_parameters"),
        "train_seconds": run.get("train_seconds"),
        "budget": run.get("budget"),
        "inference_seconds_per_sample": run.get("seconds_per_instance"),
        "checkpoint": None,
        "git_commit": run.get("git_commit"),
        "training_environment": run.get("environment"),
        "training_dataset": run.get("dataset"),
        "config": config or None,
        "instances": seed_instances({**section, "seconds": [float(d["seconds"]) for d in details] or None}),
    }
    return entry


def score_per_instance_runs(runs: Sequence[str | Path], fingerprints_dir: str | Path, data_root: str | Path,
                            solver_name: str | None = None, dataset: str | None = None,
                            setting: str | None = None) -> dict[str, Any]:
    """Per-instance solvers' runs (one per fit seed, at least one) of one solver -> record.

    The runs' own K-instance metrics are taken (a per-instance fit is the solver's whole
    'training' on that instance; re-fitting here would only repeat it), after checking that
    each run was made on the official test split (generator, seed, test size), that the local
    split matches the fingerprint, and that its instances are the choice of (K, seed) on the
    official split. Runs made on one of the dataset's track splits (fingerprints/ood/,
    fingerprints/long/: the preset with the track's generator overrides) are the same solver
    fitted afresh there; they fill the record's ``ood`` and ``long_horizon`` sections for their fit
    seed. Runs that stopped with ``status: not_applicable`` give a record with that status and
    the reason (N/A on the board), no seeds.
    """
    paths = [Path(r) for r in runs]
    records = []
    for p in paths:
        if not (p / METRICS_FILE).exists():
            raise ScoringError(f"{p} has no {METRICS_FILE}: the per-instance run did not finish")
        records.append(json.loads((p / METRICS_FILE).read_text()))
    models = {rec.get("model") for rec in records}
    if len(models) > 1:
        raise ScoringError(f"the runs are of different models {sorted(map(str, models))}; one record is one solver")
    fp, tracks, kinds = _official_split_of(paths, records, dataset, fingerprints_dir)
    on_tracks = [(p, rec, kind) for p, rec, kind in zip(paths, records, kinds) if kind != "main"]
    paths = [p for p, kind in zip(paths, kinds) if kind == "main"]
    records = [rec for rec, kind in zip(records, kinds) if kind == "main"]
    if not records:
        raise ScoringError(f"no run on the official test split of {fp['dataset']}: the track runs "
                           f"({', '.join(str(p) for p, _, _ in on_tracks)}) complete a record, they do not make one")
    first = records[0]
    model = first.get("model") or "model"
    solver = {"name": solver_name or model, "model": model, "kind": "per_instance",
              "paper": first.get("paper"), "code": first.get("code"), "framework": "pdebench_x"}
    statuses = {rec.get("status", "ok") for rec in records}
    if len(statuses) > 1:
        raise ScoringError(f"the runs have different statuses {sorted(statuses)}; score them separately")
    if statuses == {"not_applicable"}:
        return build_not_applicable_record(fp, solver, first.get("reason") or "", setting)
    official_split(fp, data_root, "test")
    entries = [_per_instance_entry(rec, fp, p) for p, rec in zip(paths, records)]
    seeds = [e["seed"] for e in entries]
    if len(set(seeds)) != len(seeds):
        raise ScoringError(f"the runs' fit seeds {seeds} are not distinct (model.fit.seed): several runs of one "
                           "per-instance solver must differ in their fit seed")
    _attach_track_runs(entries, on_tracks, tracks, data_root)
    section = first["metrics"]["instances"]
    k = int(section["k"])
    seconds = [e["inference_seconds_per_sample"] for e in entries]
    block = instances_block(entries, fp, (k, section.get("seed")),
                            math.fsum(seconds) / len(seconds) if None not in seconds else None)
    default = f"{fp['preset']} preset, K = {k} test instances, each fitted afresh" + _fit_budget(first)
    return build_record(entries, fp, solver, setting or default, "run", block, min_seeds=1,
                        ood=tracks.get("ood"), long=tracks.get("long"))


def _attach_track_runs(entries: list[dict[str, Any]], on_tracks, tracks: Mapping[str, Mapping[str, Any]],
                       data_root: str | Path) -> None:
    """Each track run's scores into the entry of its fit seed: on the OOD split its K-instance overall
    metrics (``ood``), on the long-horizon split its long-horizon scores (``long_horizon``). Every
    track run must be a fresh fit of the same solver and K on that track's official split; a track
    given for some fit seeds must be given for all of them (else the record's section would mix)."""
    by_seed = {e["seed"]: e for e in entries}
    given: dict[str, set[int]] = {}
    for path, rec, kind in on_tracks:
        track = tracks[kind]
        if rec.get("status", "ok") != "ok":
            raise ScoringError(f"{path}: a {kind}-track run with status {rec.get('status')!r}; only finished fits "
                               "complete a record")
        if kind not in given:  # the local track split against its fingerprint, once per track
            official_split(track, data_root, "test")
        entry = _per_instance_entry(rec, track, path)
        if entry["seed"] not in by_seed:
            raise ScoringError(f"{path}: a {kind}-track run of fit seed {entry['seed']}, but no run of that seed on "
                               f"the official split (seeds {sorted(by_seed)})")
        if entry["seed"] in given.setdefault(kind, set()):
            raise ScoringError(f"two {kind}-track runs of fit seed {entry['seed']}; give one")
        given[kind].add(entry["seed"])
        section = entry["instances"]
        if kind == "ood":
            primary = next(iter(entry["metrics"].values()))
            by_seed[entry["seed"]]["ood"] = {"overall": primary["overall"], "n_samples": int(primary["n_samples"]),
                                             "indices": section["indices"]}
        else:
            scores = (rec.get("metrics") or {}).get("long_horizon")
            if not scores:
                raise ScoringError(f"{path}/{METRICS_FILE} has no long-horizon scores (metrics.long_horizon): it was "
                                   "written by an older pdebench_x; run the solver again")
            by_seed[entry["seed"]]["long_horizon"] = {"fingerprint": track["id"], "indices": section["indices"],
                                                      **scores}
    for kind, seeds in given.items():
        if seeds != set(by_seed):
            raise ScoringError(f"{kind}-track runs for fit seed(s) {sorted(seeds)} but not {sorted(set(by_seed) - seeds)}: "
                               "give one per fit seed, or none")


def _fit_budget(run: Mapping[str, Any]) -> str:
    """' (adam x 300, lbfgs x 5)': the optimiser budget of a per-instance fit, from the run's config."""
    fit = (((run.get("config") or {}).get("model") or {}).get("fit") or {})
    steps = [f"{o.get('name')} x {o.get('iterations')}" for o in fit.get("optimizers") or [] if isinstance(o, dict)]
    return f" ({', '.join(steps)})" if steps else ""
