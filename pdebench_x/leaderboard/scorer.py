"""Re-scoring solvers on the official test splits, and building submission records.

Three ways onto the board, scored by the same metric code (:mod:`pdebench_x.evaluation.metrics`):

* a trained checkpoint of the suite (``python score.py run=<run dir or .ckpt> ...``): the
  model is rebuilt from the checkpoint and run on the official test split (and on the
  zero-shot split at the higher resolution), exactly as training's final test does;
* an HDF5 file of predictions from any framework (``--predictions``), checked for dataset,
  field names, shapes and sample order (layout: :data:`PREDICTIONS_LAYOUT`);
* a per-instance solver's run (``python score.py run=<run dir>``, PINN / LPINN / PIG): its
  own metrics on the K test instances, computed by :mod:`pdebench_x.per_instance` on the
  official split (checked here: the run's test split, its instance choice); a solver that
  does not apply (LPINN on Darcy) gives a ``not_applicable`` record, N/A on the board.

Checkpoints and predictions: each is one training seed; a record needs at least
:data:`MIN_SEEDS`. A per-instance run has no training seed (its entry is its fit seed, one
run is enough): its spread is reported over the K instances. The record holds every seed's
full metric set and the aggregate mean and sample standard deviation (ddof = 1) over seeds,
and (schema 1.1) the K-instance section: every solver's metrics on the per-instance solvers'
K test instances (K, seed from the run's ``data.n_instances`` / ``data.instance_seed``, else
the family's ``conf/data/<family>.yaml``), for the board's like-for-like table. Before
scoring, the local test split is checked against the shipped fingerprint.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import math
import os
import platform
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

import h5py
import numpy as np

from pdebench_x.leaderboard.fingerprint import (check_split, ensure_test_split, load_fingerprint, plan_of)
from pdebench_x.leaderboard.schema import (CURRENT_VERSION, MIN_SEEDS, PRIMARY_METRIC, instance_spread, mean_std,
                                           primary_section, validate_record)

log = logging.getLogger(__name__)

SCORER_VERSION = "1.1"
#: --verify: a record's metric must equal the re-score within rtol * |re-score| + atol
#: (re-scoring on other hardware changes the last digits: GPU kernels, TF32, batch order).
VERIFY_RTOL = 1e-3
VERIFY_ATOL = 1e-9
METRIC_SECTIONS = ("steady", "rollout", "one_step")

PREDICTIONS_LAYOUT = """\
HDF5 file, one per training seed:
  root attributes: dataset (str, e.g. "darcy_small"), solver (str), seed (int);
                   optional: model, paper, code, framework, kind ("operator" | "per_instance"),
                   n_parameters (int), train_seconds, inference_seconds_per_sample (float),
                   n_instances (int), instance_seed (int) (the K-instance section's choice;
                   default: the family's conf/data/<family>.yaml)
  /predictions/<channel>   float16/32/64 [N, T, X, Y]: one dataset per target channel, in
                           physical units; N = test samples, T = scored frames (1 for steady
                           problems; for rollouts every frame after the context frames)
  /sample_index            int [N]: the test-split index of each row, which must be 0..N-1
"""


class ScoringError(ValueError):
    """A run, checkpoint or predictions file that cannot be scored (the message says why)."""


class VerificationError(ValueError):
    """A record whose metrics differ from a re-score beyond tolerance."""


# ------------------------------------------------------------------------------------------
# where things are
# ------------------------------------------------------------------------------------------
def repo_root() -> Path:
    env = os.environ.get("PDEBENCH_X_ROOT")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parents[2]
    return here if (here / "leaderboard").is_dir() else Path.cwd()


def default_board_dir() -> Path:
    return Path(os.environ.get("PDEBENCH_X_BOARD") or repo_root() / "leaderboard")


def default_data_root() -> Path:
    return Path(os.environ.get("PDEBENCH_X_DATA") or repo_root() / "datasets")


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def hardware() -> dict[str, Any]:
    cpu = platform.processor() or None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = None
    try:
        import torch
        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # noqa: BLE001 -- hardware facts are best effort
        pass
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "gpu": gpu, "machine": platform.machine()}


def library_versions() -> dict[str, Any]:
    import h5py as _h5
    out = {"python": platform.python_version(), "numpy": np.__version__, "h5py": _h5.__version__,
           "platform": platform.platform()}
    try:
        from pdebench_x.training.run import environment
        out.update(environment())
    except ImportError:
        pass
    try:
        from importlib.metadata import version
        out["pdebench_x"] = version("pdebench_x")
    except Exception:  # noqa: BLE001
        pass
    return out


def git_commit() -> str | None:
    try:
        from pdebench_x.training.run import git_commit as _gc
        return _gc()
    except ImportError:
        return None


# ------------------------------------------------------------------------------------------
# runs and checkpoints
# ------------------------------------------------------------------------------------------
def refuse_smoke_run(record: Mapping[str, Any], where: Path) -> None:
    """A ``fast_dev_run`` (a batch or two, one instance) proves the pipeline runs; its figures mean nothing."""
    if ((record.get("config") or {}).get("trainer") or {}).get("fast_dev_run"):
        raise ScoringError(f"{where} is a fast_dev_run smoke run: its figures mean nothing. Run again without "
                           "+trainer.fast_dev_run and score that run")


def resolve_run(path: str | Path) -> tuple[Path, dict[str, Any] | None]:
    """(checkpoint, the run's metrics.json record or None) of a run directory or checkpoint."""
    path = Path(path)
    if not path.exists():
        raise ScoringError(f"run {path} does not exist; pass a run directory (outputs/<data>_<model>/<time>/) "
                           "or a .ckpt file")
    if path.is_dir():
        metrics = path / "metrics.json"
        if not metrics.exists():
            raise ScoringError(f"{path} has no metrics.json: the training run did not finish. Pass its "
                               "checkpoint (checkpoints/last.ckpt) instead, with dataset=<name>")
        record = json.loads(metrics.read_text())
        refuse_smoke_run(record, path)
        if record.get("kind") == "per_instance":
            raise ScoringError(f"{path} is a per-instance solver's run (fitted on test instances, no checkpoint): "
                               "score it on its own (score_runs routes such runs to score_per_instance_runs); "
                               "do not mix it with operator runs")
        ckpt = Path(record["checkpoint"]) if record.get("checkpoint") else None
        if ckpt is None or not ckpt.exists():
            candidates = sorted((path / "checkpoints").glob("best*.ckpt")) or sorted((path / "checkpoints").glob("*.ckpt"))
            if not candidates:
                raise ScoringError(f"{path}/checkpoints holds no .ckpt file")
            ckpt = candidates[-1]
        return ckpt, record
    run_dir = path.parent.parent if path.parent.name == "checkpoints" else None
    record = None
    if run_dir is not None and (run_dir / "metrics.json").exists():
        record = json.loads((run_dir / "metrics.json").read_text())
    return path, record


def wandb_run_path(run_dir: Path | None, record: Mapping[str, Any] | None) -> str | None:
    """'<project>/<run id>' when the run logged to W&B (its files are under <run dir>/wandb/)."""
    if run_dir is None or record is None:
        return None
    logger = (record.get("config") or {}).get("logger") or {}
    if "wandb" not in str(logger.get("_target_", "")).lower():
        return None
    runs = sorted((run_dir / "wandb").glob("*run-*"))
    if not runs:
        return None
    run_id = runs[-1].name.rsplit("-", 1)[-1]
    entity = logger.get("entity")
    return "/".join(p for p in (entity, logger.get("project", "pdebench_x"), run_id) if p)


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


def official_split(fp: Mapping[str, Any], data_root: str | Path, split: str = "test", progress: bool = False) -> Path:
    """The local file of an official split, generated if missing and checked against its fingerprint."""
    plan = plan_of(fp, data_root, split)
    path = ensure_test_split(plan, progress=progress)
    check_split(path, fp, split, data_root)
    return path


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


def _metrics_only(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {k: summary[k] for k in METRIC_SECTIONS if k in summary}


def score_checkpoint_seed(checkpoint: Path, run: Mapping[str, Any] | None, fp: Mapping[str, Any],
                          data_root: str | Path, zero_shot: bool = True, progress: bool = False,
                          run_dir: Path | None = None,
                          instances: tuple[int, int | None] | None = None) -> dict[str, Any]:
    """One seed's entry: metrics on the official test split (and zero-shot split) plus costs.

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
    run = run or {}
    return {
        "seed": int(run.get("seed", (run.get("config") or {}).get("seed", 0))),
        "metrics": _metrics_only(summary),
        "zero_shot": zs,
        "n_parameters": int(task.n_parameters),
        "train_seconds": run.get("train_seconds"),
        "epochs": run.get("epochs"),
        "global_steps": run.get("global_steps"),
        "inference_seconds_per_sample": summary.get("inference_seconds_per_sample"),
        "checkpoint": str(checkpoint),
        "checkpoint_sha256": sha256_file(checkpoint),
        "wandb_run": wandb_run_path(run_dir, run),
        "git_commit": run.get("git_commit"),
        "training_environment": run.get("environment"),
        "training_dataset": run.get("dataset"),
        "config": run.get("config"),
        "instances": seed_instances(summary.get("instances")),
    }


def instance_choice(fp: Mapping[str, Any], run: Mapping[str, Any] | None = None) -> tuple[int, int | None]:
    """(K, seed) of the K-instance section, key by key: the run's ``data.n_instances`` /
    ``data.instance_seed`` (what its own test used), else the defaults of
    ``conf/data/<family>.yaml`` (a run made before these keys existed), else (2, 0)."""
    from omegaconf import OmegaConf

    from pdebench_x.per_instance import DEFAULT_INSTANCES
    conf = repo_root() / "conf" / "data" / f"{fp['family']}.yaml"
    defaults = OmegaConf.to_container(OmegaConf.load(conf)) if conf.exists() else {}
    data = ((run or {}).get("config") or {}).get("data") or {}
    k = data.get("n_instances") or defaults.get("n_instances") or DEFAULT_INSTANCES
    seed = data["instance_seed"] if "instance_seed" in data else defaults.get("instance_seed", 0)
    return int(k), (None if seed is None else int(seed))


def seed_instances(section: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A seed entry's ``instances`` from a test summary's K-instance section (None: there is none)."""
    if not section:
        return None
    metrics = {k: section[k] for k in ("steady", "rollout") if k in section}
    return {"indices": list(section["indices"]), "metrics": metrics, "per_instance": dict(section["per_instance"]),
            "seconds": section.get("seconds")}


def official_dataset(run: Mapping[str, Any] | None, dataset: str | None, fingerprints_dir: str | Path) -> str:
    """The official dataset a run is scored on: ``dataset`` if given, else the run's own
    dataset when it has a fingerprint, else its family's preset (reduced training sizes or
    another seed rename the training set; the official test split stays the preset's)."""
    if dataset:
        return dataset
    info = (run or {}).get("dataset") or {}
    if not info.get("family") or not info.get("preset") or info.get("path"):
        raise ScoringError("cannot tell which official dataset this run belongs to (no metrics.json, or it was "
                           "trained on an external file): pass dataset=<family>_<preset>, e.g. dataset=darcy_small")
    own = info.get("name")
    if own and (Path(fingerprints_dir) / f"{own}.json").exists():
        return own
    return f"{info['family']}_{info['preset']}"


def default_setting(fp: Mapping[str, Any], runs: Sequence[Mapping[str, Any] | None]) -> str:
    """What the runs trained on and for how long, from what they did (the epochs and optimiser
    steps their records counted), not only from the configured maxima: a run cut short by
    ``limit_train_batches`` or ``max_steps`` says so."""
    run = next((r for r in runs if r), None)
    if not run:
        return f"{fp['preset']} preset"
    cfg = run.get("config") or {}
    trainer = cfg.get("trainer") or {}
    parts = [f"{fp['preset']} preset"]
    n_train = ((run.get("dataset") or {}).get("sizes") or {}).get("train")
    limit = (cfg.get("data") or {}).get("max_train_samples")
    if n_train:
        parts.append(f"{min(n_train, limit) if limit else n_train} training samples")
    epochs = run.get("epochs", trainer.get("max_epochs"))
    if epochs is not None:
        parts.append(f"{epochs} epoch(s)")
    if run.get("global_steps") is not None:
        parts.append(f"{run['global_steps']} optimiser steps")
    batches = trainer.get("limit_train_batches")
    if batches not in (None, 1.0):
        parts.append(f"limit_train_batches={batches}")
    return ", ".join(parts)


# ------------------------------------------------------------------------------------------
# records
# ------------------------------------------------------------------------------------------
def aggregate(entries: Sequence[Mapping[str, Any]], key: str = "metrics") -> dict[str, Any]:
    """Mean and sample std over seeds of every overall metric, and per step of the primary section."""
    if key == "zero_shot":
        sections = [e["zero_shot"] for e in entries]
    else:
        sections = [primary_section(e["metrics"]) for e in entries]
    names = list(dict.fromkeys(n for s in sections for n in s["overall"]))
    out: dict[str, Any] = {"overall": {n: mean_std([s["overall"].get(n) for s in sections]) for n in names},
                           "per_step": {}, "steps": []}
    if key != "zero_shot":
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


def build_record(entries: list[dict[str, Any]], fp: Mapping[str, Any], solver: Mapping[str, Any],
                 setting: str, source: str, instances: dict[str, Any] | None = None,
                 min_seeds: int = MIN_SEEDS) -> dict[str, Any]:
    """Assemble and validate a record from >= ``min_seeds`` seed entries (and the K-instance section)."""
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
        "n_parameters": next(iter(n_params)),
        "train_seconds": mean_of("train_seconds"),
        "inference_seconds_per_sample": mean_of("inference_seconds_per_sample"),
        "hardware": {"scoring": hardware(),
                     "training": entries[0].get("training_environment")},
        "environment": library_versions(),
        "git_commit": git_commit(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "scorer": {"version": SCORER_VERSION, "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:])},
    }
    return validate_record(record, f"the record of {solver.get('name')} on {fp['dataset']}")


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
    entries = []
    for ckpt, rec in resolved:
        run_dir = ckpt.parent.parent if ckpt.parent.name == "checkpoints" else None
        log.info("scoring %s on %s", ckpt, fp["dataset"])
        entries.append(score_checkpoint_seed(ckpt, rec, fp, data_root, zero_shot, progress, run_dir))
    first = next((rec for _, rec in resolved if rec), {}) or {}
    model = first.get("model") or "model"
    solver = {"name": solver_name or model, "model": model, "kind": "operator",
              "paper": first.get("paper"), "code": first.get("code"), "framework": "pdebench_x"}
    choice = instance_choice(fp, first)
    return build_record(entries, fp, solver, setting or default_setting(fp, [r for _, r in resolved]), "checkpoint",
                        instances_block(entries, fp, choice))


# ------------------------------------------------------------------------------------------
# per-instance solvers' runs
# ------------------------------------------------------------------------------------------
def run_kind(path: str | Path) -> str:
    """'per_instance' for a per-instance solver's run directory, else 'operator'."""
    metrics = Path(path) / "metrics.json"
    if Path(path).is_dir() and metrics.exists():
        try:
            return json.loads(metrics.read_text()).get("kind") or "operator"
        except json.JSONDecodeError as err:
            raise ScoringError(f"{metrics} is not valid JSON ({err})") from err
    return "operator"


def _check_official_test_split(run: Mapping[str, Any], fp: Mapping[str, Any], where: Path) -> None:
    """The run's own test split must be the official one: its metrics are taken as they are."""
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
    diffs = [f"{k}: run {mine[k]!r}, official {want[k]!r}" for k in mine if mine[k] != want[k]]
    if diffs:
        raise ScoringError(f"{where} was run on another test split than the official {fp['dataset']}:\n"
                           + "\n".join(f"  - {d}" for d in diffs)
                           + f"\nRun it again with data={fp['family']} data.preset={fp['preset']} and no generator, "
                             "seed or test-size overrides (data.n_instances may change)")


def _per_instance_entry(run: Mapping[str, Any], fp: Mapping[str, Any], where: Path) -> dict[str, Any]:
    from pdebench_x.per_instance import select_instances
    refuse_smoke_run(run, where)
    section = (run.get("metrics") or {}).get("instances")
    if not section:
        raise ScoringError(f"{where}/metrics.json has no K-instance section (metrics.instances): it was written by "
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
    official split. Runs that stopped with ``status: not_applicable`` give a record with
    that status and the reason (N/A on the board), no seeds.
    """
    paths = [Path(r) for r in runs]
    records = []
    for p in paths:
        if not (p / "metrics.json").exists():
            raise ScoringError(f"{p} has no metrics.json: the per-instance run did not finish")
        records.append(json.loads((p / "metrics.json").read_text()))
    names = {official_dataset(rec, dataset, fingerprints_dir) for rec in records}
    if len(names) != 1:
        raise ScoringError(f"the runs belong to different datasets {sorted(names)}; score one dataset at a time")
    fp = load_fingerprint(fingerprints_dir, names.pop())
    models = {rec.get("model") for rec in records}
    if len(models) > 1:
        raise ScoringError(f"the runs are of different models {sorted(map(str, models))}; one record is one solver")
    for p, rec in zip(paths, records):
        _check_official_test_split(rec, fp, p)
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
    section = first["metrics"]["instances"]
    k = int(section["k"])
    seconds = [e["inference_seconds_per_sample"] for e in entries]
    block = instances_block(entries, fp, (k, section.get("seed")),
                            math.fsum(seconds) / len(seconds) if None not in seconds else None)
    default = f"{fp['preset']} preset, K = {k} test instances, each fitted afresh" + _fit_budget(first)
    return build_record(entries, fp, solver, setting or default, "run", block, min_seeds=1)


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


def _fit_budget(run: Mapping[str, Any]) -> str:
    """' (adam x 300, lbfgs x 5)': the optimiser budget of a per-instance fit, from the run's config."""
    fit = (((run.get("config") or {}).get("model") or {}).get("fit") or {})
    steps = [f"{o.get('name')} x {o.get('iterations')}" for o in fit.get("optimizers") or [] if isinstance(o, dict)]
    return f" ({', '.join(steps)})" if steps else ""


def _dataset_entry(fp: Mapping[str, Any]) -> dict[str, Any]:
    """The record's description of the official split it was scored on."""
    return {"name": fp["dataset"], "family": fp["family"], "preset": fp["preset"], "fingerprint": fp["id"],
            "kind": fp["problem"]["kind"], "n_test_samples": int(fp["test"]["n_samples"]),
            "target_channels": list(fp["test"]["target_channels"])}


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
        "hardware": {"scoring": hardware()},
        "environment": library_versions(),
        "git_commit": git_commit(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "scorer": {"version": SCORER_VERSION, "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:])},
    }
    return validate_record(record, f"the record of {solver.get('name')} on {fp['dataset']}")


# ------------------------------------------------------------------------------------------
# bring your own predictions
# ------------------------------------------------------------------------------------------
def _attr(f: h5py.File, name: str, default=None):
    v = f.attrs.get(name, default)
    if isinstance(v, bytes):
        v = v.decode()
    if isinstance(v, np.generic):
        v = v.item()
    return v


def write_predictions(path: str | Path, dataset: str, solver: str, seed: int, predictions: Mapping[str, np.ndarray],
                      **attrs: Any) -> Path:
    """Write a predictions file in the layout :data:`PREDICTIONS_LAYOUT` describes."""
    path = Path(path)
    n = {np.asarray(v).shape[0] for v in predictions.values()}
    if len(n) != 1:
        raise ValueError(f"every channel needs the same number of samples, got {sorted(n)}")
    with h5py.File(path, "w") as f:
        f.attrs.update({"dataset": dataset, "solver": solver, "seed": int(seed),
                        **{k: v for k, v in attrs.items() if v is not None}})
        g = f.create_group("predictions")
        for name, arr in predictions.items():
            g.create_dataset(name, data=np.asarray(arr))
        f.create_dataset("sample_index", data=np.arange(n.pop()))
    return path


def _expected_targets(fp: Mapping[str, Any], data_root: str | Path):
    """The official test targets as WindowDataset items, the source and the scored-frame offset."""
    from pdebench_x.data.datamodule import WindowDataset, frame_range
    from pdebench_x.data.formats import open_source
    path = official_split(fp, data_root, "test")
    source = open_source(path, "well")
    problem = fp["problem"]
    dataset = WindowDataset(source, problem, train=False)
    offset = 0 if problem["kind"] == "steady" else frame_range(source, problem)[0] + int(problem["history"])
    return dataset, source, offset


def _domain_area(source) -> float:
    info = source.info
    lx = float(info.x[-1] - info.x[0]) * len(info.x) / max(len(info.x) - 1, 1)
    ly = float(info.y[-1] - info.y[0]) * len(info.y) / max(len(info.y) - 1, 1)
    return lx * ly


#: The dtypes a predictions array may have: real floating point (scored in float64).
PREDICTION_DTYPES = ("float16", "float32", "float64")


def _open_predictions(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as err:
        raise ScoringError(f"cannot open predictions {path} as HDF5 ({err})") from err


def check_prediction_dtypes(path: str | Path) -> None:
    """Refuse (ScoringError, one line) a file whose /predictions arrays are not real floating point:
    integers, booleans, complex numbers or strings would be cast into meaningless scores."""
    path = Path(path)
    with _open_predictions(path) as f:
        group = f.get("predictions")
        for name in sorted(group.keys()) if isinstance(group, h5py.Group) else []:
            if not isinstance(group[name], h5py.Dataset):
                raise ScoringError(f"{path}: /predictions/{name} is a group, not an array of predictions")
            dtype = group[name].dtype
            if dtype.name not in PREDICTION_DTYPES:
                raise ScoringError(f"{path}: /predictions/{name} has dtype {dtype}; predictions must be real "
                                   f"floating point ({', '.join(PREDICTION_DTYPES)}): write them as float32 or "
                                   "float64 in physical units")


def score_predictions_file(path: str | Path, fp: Mapping[str, Any], data_root: str | Path,
                           batch: int = 16) -> tuple[dict[str, Any], dict[str, Any]]:
    """(seed entry, file attributes) of one predictions file, every layout fact checked."""
    import torch

    from pdebench_x.evaluation.metrics import MetricAccumulator
    path = Path(path)
    check_prediction_dtypes(path)
    dataset, source, offset = _expected_targets(fp, data_root)
    channels = list(fp["test"]["target_channels"])
    n = len(dataset)
    first_y = dataset[0]["y"]
    t, xy = first_y.shape[0], tuple(first_y.shape[-2:])
    with _open_predictions(path) as f:
        attrs = {k: _attr(f, k) for k in f.attrs}
        problems = []
        if attrs.get("dataset") != fp["dataset"]:
            problems.append(f"attribute dataset is {attrs.get('dataset')!r}, expected {fp['dataset']!r}")
        for key in ("solver", "seed"):
            if attrs.get(key) is None:
                problems.append(f"root attribute {key!r} is missing")
        if "predictions" not in f:
            problems.append("group /predictions is missing")
            found = []
        else:
            found = sorted(f["predictions"].keys())
        missing = [c for c in channels if c not in found]
        extra = [c for c in found if c not in channels]
        if found and (missing or extra):
            problems.append(f"field names {found} do not match the targets {channels}"
                            + (f" (missing {missing})" if missing else "") + (f" (unexpected {extra})" if extra else ""))
        if not problems:
            for c in channels:
                shape = tuple(f["predictions"][c].shape)
                if shape != (n, t) + xy:
                    problems.append(f"/predictions/{c} has shape {list(shape)}, expected [N, T, X, Y] = "
                                    f"{[n, t, *xy]} ({n} test samples, {t} scored frame(s), grid {list(xy)})")
            if "sample_index" not in f:
                problems.append("/sample_index is missing: give the test-split index of each row (0..N-1)")
            else:
                idx = np.asarray(f["sample_index"][()])
                if idx.shape != (n,) or not np.array_equal(idx, np.arange(n)):
                    head = idx.reshape(-1)[:8].tolist()
                    problems.append(f"/sample_index must be 0..{n - 1} in order (rows in test-split order), "
                                    f"got {head}{'...' if idx.size > 8 else ''}: sort your predictions by sample index")
        if problems:
            raise ScoringError(f"{path} does not match the official test split of {fp['dataset']}:\n"
                               + "\n".join(f"  - {p}" for p in problems) + "\nExpected layout:\n" + PREDICTIONS_LAYOUT)
        acc = MetricAccumulator(domain_area=_domain_area(source))
        for start in range(0, n, batch):
            stop = min(start + batch, n)
            pred = np.stack([np.asarray(f["predictions"][c][start:stop], dtype=np.float64) for c in channels], axis=2)
            bad = ~np.isfinite(pred)
            if bad.any():
                rows = sorted(set((np.nonzero(bad)[0] + start).tolist()))[:5]
                raise ScoringError(f"{path}: predictions hold NaN or infinite values (samples {rows}...); a "
                                   "diverged solver cannot be ranked")
            y = torch.stack([dataset[i]["y"] for i in range(start, stop)])
            acc.update(torch.from_numpy(pred), y)
    summary = acc.summary(channels, offset)
    section = "steady" if fp["problem"]["kind"] == "steady" else "rollout"
    on_k = None
    k, k_seed = _predictions_instance_choice(attrs, fp)
    if k <= n:
        from pdebench_x.per_instance import instance_section, select_instances
        indices = select_instances(n, k, k_seed)
        # rows are in test-split order (sample_index checked above): row i is sample i
        on_k = instance_section(acc, indices, indices, k, k_seed, fp["problem"]["kind"], channels, offset)
    else:
        log.warning("K = %d instances but %s has %d test samples: no K-instance section", k, fp["dataset"], n)
    entry = {
        "seed": int(attrs["seed"]),
        "metrics": {section: summary},
        "zero_shot": None,
        "n_parameters": None if attrs.get("n_parameters") is None else int(attrs["n_parameters"]),
        "train_seconds": None if attrs.get("train_seconds") is None else float(attrs["train_seconds"]),
        "inference_seconds_per_sample": None if attrs.get("inference_seconds_per_sample") is None
        else float(attrs["inference_seconds_per_sample"]),
        "checkpoint": attrs.get("checkpoint"),
        "predictions_sha256": sha256_file(path),
        "config": None,
        "instances": seed_instances(on_k),
    }
    return entry, attrs


def _predictions_instance_choice(attrs: Mapping[str, Any], fp: Mapping[str, Any]) -> tuple[int, int | None]:
    """(K, seed) from the file's n_instances / instance_seed attributes, else the family default."""
    k, seed = instance_choice(fp)
    if attrs.get("n_instances") is not None:
        k = int(attrs["n_instances"])
    if attrs.get("instance_seed") is not None:
        seed = int(attrs["instance_seed"])
    return k, seed


def score_predictions(files: Sequence[str | Path], fingerprints_dir: str | Path, data_root: str | Path,
                      dataset: str | None = None, solver_name: str | None = None,
                      setting: str | None = None) -> dict[str, Any]:
    """Score >= MIN_SEEDS predictions files (one per training seed) of one solver -> record."""
    if not files:
        raise ScoringError("no predictions file given")
    if dataset is None:
        with h5py.File(files[0], "r") as f:
            dataset = _attr(f, "dataset")
        if not dataset:
            raise ScoringError(f"{files[0]} has no 'dataset' attribute; pass dataset=<name>")
    fp = load_fingerprint(fingerprints_dir, dataset)
    require_seeds(len(files))
    for p in files:  # every file, before any is scored
        check_prediction_dtypes(p)
    scored = [score_predictions_file(p, fp, data_root) for p in files]
    attrs = scored[0][1]
    solvers = {a.get("solver") for _, a in scored}
    if len(solvers) > 1:
        raise ScoringError(f"the files name different solvers {sorted(map(str, solvers))}; one record is one solver")
    kind = attrs.get("kind") or "external"
    if kind not in ("operator", "per_instance", "external"):
        raise ScoringError(f"attribute kind must be operator, per_instance or external, got {kind!r}")
    solver = {"name": solver_name or attrs["solver"], "model": attrs.get("model") or attrs["solver"], "kind": kind,
              "paper": attrs.get("paper"), "code": attrs.get("code"), "framework": attrs.get("framework")}
    entries = [e for e, _ in scored]
    return build_record(entries, fp, solver, setting or f"{fp['preset']} preset, own training", "predictions",
                        instances_block(entries, fp, _predictions_instance_choice(attrs, fp)))


# ------------------------------------------------------------------------------------------
# --verify
# ------------------------------------------------------------------------------------------
def _compare(recorded: Any, rescored: Any, path: str, out: list[str]) -> None:
    if isinstance(recorded, dict):
        for k, v in recorded.items():
            _compare(v, (rescored or {}).get(k) if isinstance(rescored, dict) else None, f"{path}.{k}", out)
    elif isinstance(recorded, list):
        other = rescored if isinstance(rescored, list) and len(rescored) == len(recorded) else [None] * len(recorded)
        for i, (a, b) in enumerate(zip(recorded, other)):
            _compare(a, b, f"{path}[{i}]", out)
    elif isinstance(recorded, (int, float)) and not isinstance(recorded, bool):
        if rescored is None or abs(recorded - rescored) > VERIFY_RTOL * abs(rescored) + VERIFY_ATOL:
            out.append(f"{path}: record {recorded!r}, re-score {rescored!r}")


def verify_record(record: Mapping[str, Any], fingerprints_dir: str | Path, data_root: str | Path,
                  artifacts: Sequence[str | Path] | None = None, progress: bool = False) -> None:
    """Re-score every seed of ``record`` and raise :class:`VerificationError` on any difference.

    ``artifacts`` gives the checkpoints (or predictions files) in seed order when the paths in
    the record are not on this machine (e.g. downloaded from the pull request's link).
    """
    validate_record(dict(record))
    fp = load_fingerprint(fingerprints_dir, record["dataset"]["name"])
    if record["dataset"]["fingerprint"] != fp["id"]:
        raise VerificationError(f"the record was scored on a different test split (fingerprint "
                                f"{record['dataset']['fingerprint'][:12]}, official {fp['id'][:12]})")
    if record["source"] == "run":
        raise VerificationError(
            f"{record['solver']['name']} is a per-instance solver's record (status {record.get('status', 'ok')}): "
            "there is no checkpoint to re-score, only the fit to repeat. Run it again, e.g. `python train.py "
            f"model={record['solver']['model']} data={record['dataset']['family']} "
            f"data.preset={record['dataset']['preset']}`, and compare its metrics.json with the record")
    seeds = record["seeds"]
    paths = list(artifacts) if artifacts else [s.get("checkpoint") for s in seeds]
    if len(paths) != len(seeds):
        raise VerificationError(f"{len(paths)} file(s) given for {len(seeds)} seeds; give one per seed, in order")
    problems: list[str] = []
    for i, (seed, p) in enumerate(zip(seeds, paths)):
        if not p or not Path(p).exists():
            raise VerificationError(f"seed {seed['seed']}: {'no file recorded' if not p else f'{p} not found'}; "
                                    "download the checkpoints (or predictions) and pass them with --files, in seed order")
        if record["source"] == "checkpoint":
            digest = seed.get("checkpoint_sha256")
            if digest and sha256_file(p) != digest:
                problems.append(f"seeds[{i}]: {p} is not the checkpoint that was scored (SHA-256 differs)")
                continue
            block = record.get("instances")
            again = score_checkpoint_seed(Path(p), None, fp, data_root, zero_shot=seed.get("zero_shot") is not None,
                                          progress=progress,
                                          instances=(block["k"], block["seed"]) if block else None)
        else:
            again, _ = score_predictions_file(p, fp, data_root)
        _compare(seed["metrics"], again["metrics"], f"seeds[{i}].metrics", problems)
        if seed.get("instances"):
            _compare(seed["instances"]["metrics"], (again.get("instances") or {}).get("metrics"),
                     f"seeds[{i}].instances.metrics", problems)
        if seed.get("zero_shot"):
            _compare(seed["zero_shot"]["overall"], (again.get("zero_shot") or {}).get("overall"),
                     f"seeds[{i}].zero_shot.overall", problems)
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise VerificationError(f"the record's metrics differ from a re-score beyond rtol {VERIFY_RTOL:g}:\n"
                                f"{shown}{more}\nNothing was written.")
