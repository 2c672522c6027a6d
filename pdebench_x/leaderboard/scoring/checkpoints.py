"""Re-scoring trained checkpoints on the official test split (and the zero-shot split).

The model is rebuilt from the checkpoint and driven through its own test hooks, the code
training's final test runs, so a re-score reproduces it. :func:`score_runs` scores the
training runs of one solver (one per seed) into a record; per-instance solvers' runs go to
:func:`..per_instance_runs.score_per_instance_runs`.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping, Sequence

from pdebench_x.leaderboard.fingerprint import load_fingerprint, load_track, official_split
from pdebench_x.leaderboard.statistics import primary_section
from pdebench_x.leaderboard.scoring.errors import ScoringError
from pdebench_x.leaderboard.scoring.per_instance_runs import score_per_instance_runs
from pdebench_x.leaderboard.scoring.provenance import sha256_file
from pdebench_x.leaderboard.scoring.records import build_record, instances_block, require_seeds, seed_instances
from pdebench_x.leaderboard.scoring.runs import (default_setting, instance_choice, official_dataset, resolve_run,
                                                 run_kind, wandb_run_path)

log = logging.getLogger(__name__)

METRIC_SECTIONS = ("steady", "rollout", "one_step")


def read_checkpoint(checkpoint: str | Path) -> dict[str, Any]:
    """The checkpoint's contents, read with ``weights_only`` (tensors and plain values: a submitted
    file is never unpickled freely); ScoringError, in our words, when it cannot be read as one."""
    import torch
    try:
        ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 -- unpickling garbage raises anything (KeyError, EOFError, ...)
        raise ScoringError(f"{checkpoint} cannot be read as a checkpoint ({type(err).__name__}): it is not a "
                           "torch.save file of tensors and plain values, or it is truncated or corrupt; give a "
                           ".ckpt written by train.py, or submit predictions instead (--predictions)") from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ScoringError(f"{checkpoint} cannot be read as a checkpoint (no state_dict: not a Lightning "
                           "checkpoint); give a .ckpt written by train.py")
    return ckpt


def load_task(checkpoint: str | Path):
    from pdebench_x.training.task import OperatorTask
    read_checkpoint(checkpoint)
    try:
        return OperatorTask.load_from_checkpoint(str(checkpoint), map_location="cpu")
    except Exception as err:  # noqa: BLE001 -- any failure here means "not a checkpoint of ours"
        raise ScoringError(f"cannot load {checkpoint} as a pdebench_x OperatorTask checkpoint ({type(err).__name__}: "
                           f"{err}). Pass a checkpoint written by train.py, or submit predictions instead "
                           "(--predictions)") from err


def _check_compatible(task, fp: Mapping[str, Any]) -> None:
    problem = fp["problem"]
    spec = task.spec
    if spec.kind != problem["kind"]:
        raise ScoringError(f"the checkpoint solves a {spec.kind} problem, {fp['dataset']} is {problem['kind']}")
    if problem["kind"] == "steady":
        want_in, want_out = list(problem["inputs"]), list(problem["targets"])
    else:
        want_in = want_out = list(problem["fields"])
        if spec.in_steps != int(problem["history"]):
            raise ScoringError(f"the checkpoint reads {spec.in_steps} context frames, the official problem "
                               f"{problem['history']}: train with the official data.problem settings")
    if list(spec.input_channels) != want_in or list(spec.target_channels) != want_out:
        raise ScoringError(f"the checkpoint maps {spec.input_channels} -> {spec.target_channels}, the official "
                           f"{fp['dataset']} problem {want_in} -> {want_out}")


def score_task(task, fp: Mapping[str, Any], data_root: str | Path, split: str = "test",
               batch_size: int = 16, progress: bool = False,
               instances: tuple[int, int | None] | None = None) -> dict[str, Any]:
    """Run a loaded task on an official split through its own test hooks -> test summary.

    The task's ``on_test_epoch_start`` / ``test_step`` / ``on_test_epoch_end`` are the code
    training's final test runs, so a re-score reproduces it; they are driven here without a
    Trainer (whose start-up would dominate on small splits), on the GPU when there is one.
    ``instances`` = (K, seed): the summary then holds the K-instance section ``"instances"``.
    """
    import warnings

    import torch
    from torch.utils.data import DataLoader
    from tqdm.auto import tqdm

    from pdebench_x.data.datamodule import WindowDataset
    from pdebench_x.data.formats import open_source

    _check_compatible(task, fp)
    path = official_split(fp, data_root, split, progress)
    dataset = WindowDataset(open_source(path, "well"), fp["problem"], train=False)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    task = task.to(device).eval()
    task.instance_choice = instances

    def to_device(obj):
        if isinstance(obj, torch.Tensor):
            return obj.to(device)
        if isinstance(obj, dict):
            return {k: to_device(v) for k, v in obj.items()}
        return obj

    with warnings.catch_warnings(), torch.no_grad():
        # The hooks call self.log(), which without a Trainer only warns: nothing to log here.
        warnings.filterwarnings("ignore", message=".*self.log.*")
        task.on_test_epoch_start()
        for i, batch in enumerate(tqdm(loader, desc=f"scoring {fp['dataset']} {split}", disable=not progress)):
            task.test_step(to_device(batch), i)
        task.on_test_epoch_end()
    return dict(task.test_summary)


def long_horizon_seed(task, fp: Mapping[str, Any], data_root: str | Path, batch_size: int = 8) -> dict[str, Any]:
    """A loaded task rolled out over a long-horizon split (its own fingerprint) from the same context
    frames, scored by :func:`pdebench_x.evaluation.long_horizon.long_horizon_scores`."""
    import torch
    from torch.utils.data import DataLoader

    from pdebench_x.data.datamodule import WindowDataset
    from pdebench_x.data.formats import open_source
    from pdebench_x.evaluation.long_horizon import family_rollout_scores

    _check_compatible(task, fp)
    source = open_source(official_split(fp, data_root, "test"), "well")
    problem = fp["problem"]
    loader = DataLoader(WindowDataset(source, problem, train=False), batch_size=batch_size, shuffle=False)
    device = next(task.parameters()).device
    preds, truths = [], []
    with torch.no_grad():
        for batch in loader:
            x, y = batch["x"].to(device), batch["y"]
            cond = task.make_cond({k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()})
            preds.append(task.decode(task.rollout(x, y.shape[1], cond), x).cpu())
            truths.append(y)
    pred, truth = torch.cat(preds), torch.cat(truths)
    first = int(problem.get("first_frame") or 0) + int(problem["history"])
    scores = family_rollout_scores(pred, truth, source.info.times, first, fp["family"], fp["test"]["target_channels"])
    return {"fingerprint": fp["id"], **scores}


def _metrics_only(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {k: summary[k] for k in METRIC_SECTIONS if k in summary}


def score_checkpoint_seed(checkpoint: Path, run: Mapping[str, Any] | None, fp: Mapping[str, Any],
                          data_root: str | Path, zero_shot: bool = True, progress: bool = False,
                          run_dir: Path | None = None,
                          instances: tuple[int, int | None] | None = None,
                          ood: Mapping[str, Any] | None = None,
                          long: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One seed's entry: metrics on the official test split (and the zero-shot split, and the
    out-of-distribution split whose fingerprint ``ood`` is given) plus costs.

    ``instances`` (K, seed): the K-instance choice; default :func:`instance_choice` of the run.
    """
    task = load_task(checkpoint)
    task.eval()
    if instances is None:
        instances = instance_choice(fp, run)
    summary = score_task(task, fp, data_root, "test", progress=progress, instances=instances)
    zs = None
    if zero_shot and fp.get("zero_shot"):
        try:
            zsum = score_task(task, fp, data_root, "zero_shot", progress=progress)
            zs = {"overall": primary_section(zsum)["overall"], "n_samples": int(zsum["n_test_samples"])}
        except (RuntimeError, ValueError) as err:
            # A model tied to its training grid cannot be run at another resolution: N/A.
            log.warning("zero-shot scoring of %s failed (%s): recorded as N/A", checkpoint, err)
    ood_scores = None
    if ood is not None:
        osum = score_task(task, ood, data_root, "test", progress=progress)
        ood_section = primary_section(osum)
        ood_scores = {"overall": ood_section["overall"], "n_samples": int(osum["n_test_samples"]),
                      "per_sample": ood_section.get("per_sample")}
    long_scores = long_horizon_seed(task, long, data_root) if long is not None else None
    run = run or {}
    return {
        "seed": int(run.get("seed", (run.get("config") or {}).get("seed", 0))),
        "metrics": _metrics_only(summary),
        "zero_shot": zs,
        "ood": ood_scores,
        "long_horizon": long_scores,
        "n_parameters": int(task.n_parameters),
        "train_seconds": run.get("train_seconds"),
        "epochs": run.get("epochs"),
        "global_steps": run.get("global_steps"),
        "budget": run.get("budget"),
        "learning_curve": run.get("learning_curve"),
        "inference_seconds_per_sample": summary.get("inference_seconds_per_sample"),
        "inference_cpu_seconds_per_sample": summary.get("inference_cpu_seconds_per_sample"),
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": sha256_file(checkpoint),
        "wandb_run": wandb_run_path(run_dir, run),
        "git_commit": run.get("git_commit"),
        "training_environment": run.get("environment"),
        "training_dataset": run.get("dataset"),
        "config": run.get("config"),
        "instances": seed_instances(summary.get("instances")),
    }


def score_runs(runs: Sequence[str | Path], fingerprints_dir: str | Path, data_root: str | Path,
               solver_name: str | None = None, dataset: str | None = None, setting: str | None = None,
               zero_shot: bool = True, progress: bool = False) -> dict[str, Any]:
    """Re-score >= MIN_SEEDS training runs (directories or checkpoints) of one solver -> record.

    Per-instance runs (``kind: per_instance`` in their metrics.json) go to
    :func:`score_per_instance_runs` instead (all runs must then be per-instance runs).
    """
    kinds = [run_kind(r) for r in runs]
    if "per_instance" in kinds:
        if set(kinds) != {"per_instance"}:
            raise ScoringError("per-instance runs and operator runs given together; one record is one solver")
        return score_per_instance_runs(runs, fingerprints_dir, data_root, solver_name, dataset, setting)
    resolved = [resolve_run(r) for r in runs]
    names = {official_dataset(rec, dataset, fingerprints_dir) for _, rec in resolved}
    if len(names) != 1:
        raise ScoringError(f"the runs belong to different datasets {sorted(names)}; score one dataset at a time")
    fp = load_fingerprint(fingerprints_dir, names.pop())
    models = {(rec or {}).get("model") for _, rec in resolved}
    if len(models) > 1:
        raise ScoringError(f"the runs are of different models {sorted(map(str, models))}; one record is one solver")
    require_seeds(len(resolved))
    ood = load_track(fingerprints_dir, fp["dataset"], "ood")
    long = load_track(fingerprints_dir, fp["dataset"], "long")
    entries = []
    for ckpt, rec in resolved:
        run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else None
        log.info("scoring %s on %s", ckpt, fp["dataset"])
        entries.append(score_checkpoint_seed(ckpt, rec, fp, data_root, zero_shot, progress, run_dir, ood=ood, long=long))
    first = next((rec for _, rec in resolved if rec), {}) or {}
    model = first.get("model") or "model"
    solver = {"name": solver_name or model, "model": model, "kind": "operator",
              "paper": first.get("paper"), "code": first.get("code"), "framework": "pdebench_x"}
    choice = instance_choice(fp, first)
    return build_record(entries, fp, solver, setting or default_setting(fp, [r for _, r in resolved]), "checkpoint",
                        instances_block(entries, fp, choice), ood=ood, long=long)
