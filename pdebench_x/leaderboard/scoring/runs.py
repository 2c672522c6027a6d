"""Training runs as the scorer finds them: their checkpoint and metrics file, what they trained on.

A run directory (``outputs/<data>_<model>/<time>/``) holds its checkpoints and, once training
finished, its metrics file; from them come the checkpoint to score, the official dataset the
run belongs to, the board's Setting text and the K-instance choice (K, seed).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from pdebench_x.core.files import METRICS_FILE
from pdebench_x.leaderboard.scoring.errors import ScoringError


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
        metrics = path / METRICS_FILE
        if not metrics.exists():
            raise ScoringError(f"{path} has no {METRICS_FILE}: the training run did not finish. Pass its "
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
    if run_dir is not None and (run_dir / METRICS_FILE).exists():
        record = json.loads((run_dir / METRICS_FILE).read_text())
    return path, record


def run_kind(path: str | Path) -> str:
    """'per_instance' for a per-instance solver's run directory, else 'operator'."""
    metrics = Path(path) / METRICS_FILE
    if Path(path).is_dir() and metrics.exists():
        try:
            return json.loads(metrics.read_text()).get("kind") or "operator"
        except json.JSONDecodeError as err:
            raise ScoringError(f"{metrics} is not valid JSON ({err})") from err
    return "operator"


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


def official_dataset(run: Mapping[str, Any] | None, dataset: str | None, fingerprints_dir: str | Path) -> str:
    """The official dataset a run is scored on: ``dataset`` if given, else the run's own
    dataset when it has a fingerprint, else its family's preset (reduced training sizes or
    another seed rename the training set; the official test split stays the preset's)."""
    if dataset:
        return dataset
    info = (run or {}).get("dataset") or {}
    if not info.get("family") or not info.get("preset") or info.get("path"):
        raise ScoringError(f"cannot tell which official dataset this run belongs to (no {METRICS_FILE}, or it was "
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


def instance_choice(fp: Mapping[str, Any], run: Mapping[str, Any] | None = None) -> tuple[int, int | None]:
    """(K, seed) of the K-instance section, key by key: the run's ``data.n_instances`` /
    ``data.instance_seed`` (what its own test used), else the defaults of
    ``conf/data/<family>.yaml`` (a run made before these keys existed), else (2, 0)."""
    from omegaconf import OmegaConf

    from pdebench_x.core.config import config_dir
    from pdebench_x.evaluation.instances import instance_choice as run_instance_choice
    conf = config_dir() / "data" / f"{fp['family']}.yaml"
    defaults = OmegaConf.to_container(OmegaConf.load(conf)) if conf.exists() else {}
    data = ((run or {}).get("config") or {}).get("data") or {}
    return run_instance_choice(data, fallback=defaults)
