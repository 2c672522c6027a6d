"""The training pipeline behind ``train.py``: data, model, trainer, test, metrics file.

Model selection uses the validation split only (the checkpoint callback monitors the
recipe's validation quantity); the test split is scored once, at the end, with the selected
checkpoint, and the result written to ``<run dir>/metrics.json``. Its ``metrics["instances"]``
holds the same metrics restricted to the K test instances the per-instance solvers are scored
on (K = ``data.n_instances``, seed ``data.instance_seed``; see :mod:`pdebench_x.evaluation.instances`).
"""
from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig, OmegaConf

from pdebench_x.core.files import METRICS_FILE
from pdebench_x.data.datamodule import PDEDataModule
from pdebench_x.data.formats import DataFormatError
from pdebench_x.data.loaders import LoaderPosition
from pdebench_x.evaluation.instances import instance_choice
from pdebench_x.training.budget import TrainingBudget
from pdebench_x.training.common import (build_datamodule, dataset_record, device_record, environment, git_commit,
                                        report_test_figures)
from pdebench_x.training.launch import check_launch, prepare_environment
from pdebench_x.training.per_instance import run_per_instance
from pdebench_x.training.preflight import SettingError, check_run_settings
from pdebench_x.training.resume import CheckpointError, check_checkpoint, resolve_resume, write_run_identity
from pdebench_x.training.task import OperatorTask

log = logging.getLogger(__name__)

#: Errors caused by the user's input (settings, files, checkpoints): train.py prints their
#: message, which says what to change, and exits with status 2 instead of a traceback.
USER_ERRORS = (SettingError, DataFormatError, CheckpointError)


def build_task(cfg: DictConfig, dm: PDEDataModule) -> OperatorTask:
    mean, std = dm.stats
    stats = {"mean": {k: float(v) for k, v in mean.items()}, "std": {k: float(v) for k, v in std.items()}}
    spec = dict(dm.spec.__dict__)
    task = OperatorTask(net=OmegaConf.to_container(cfg.model.net, resolve=True),
                        recipe=OmegaConf.to_container(cfg.model.recipe, resolve=True),
                        spec=spec, stats=stats, model_name=cfg.model.name)
    if task.needs_point_stats:
        task.fit_point_stats(*dm.point_stats())
    return task


def build_loggers(cfg: DictConfig, run_dir: Path) -> list:
    if cfg.get("logger") is None:
        return []
    # W&B is offline unless the user asked otherwise: never blocks for lack of network.
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    return [instantiate(cfg.logger, save_dir=str(run_dir))]


def run_training(cfg: DictConfig, run_dir: str | Path) -> dict[str, Any]:
    """Train, select on validation, test once; returns (and writes) the metrics record."""
    # Every setting is checked before any data is generated or any training starts.
    check_run_settings(cfg)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.model.get("kind", "operator") == "per_instance":
        # Physics-informed solvers are fitted per test instance, not trained on a split.
        return run_per_instance(cfg, run_dir)
    prepare_environment(cfg.trainer)
    check_launch(cfg.trainer)
    # resume=auto may continue an interrupted run in its own directory (see resume.resolve_resume)
    run_dir, resume_from = resolve_resume(cfg, run_dir)
    L.seed_everything(int(cfg.seed), workers=True)
    dm = build_datamodule(cfg)
    dm.prepare_data()
    dm.setup()
    task = build_task(cfg, dm)
    if resume_from is not None:
        # refuse a truncated checkpoint or one of another model before Lightning loads any of it
        check_checkpoint(resume_from, task)
    if cfg.get("compile"):
        task.model.compile()  # compiles forward in place: parameter names (checkpoints) unchanged
    recipe = cfg.model.get("recipe", {}) or {}
    monitor = recipe.get("monitor", "val/loss")
    if monitor == "val/rollout_loss" and dm.spec.kind != "rollout":
        monitor = "val/loss"
    checkpoint = ModelCheckpoint(dirpath=run_dir / "checkpoints", monitor=monitor, mode="min",
                                 filename="best-{epoch:03d}", save_top_k=1)
    # last.ckpt = the end of the latest epoch (what resuming needs). Not save_last=True: Lightning
    # refreshes that copy only when a new best is saved, so it would lag behind after the best epoch.
    latest = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="last", monitor=None, save_top_k=1,
                             enable_version_counter=False)
    # CPU/wall seconds, epochs, steps and the validation curve of the run; `+budget.cpu_seconds=S`
    # ends training after S seconds of process CPU time in fit (equal-compute comparisons).
    budget = TrainingBudget(cpu_seconds=OmegaConf.select(cfg, "budget.cpu_seconds", default=None))
    callbacks = [checkpoint, latest, LoaderPosition(), budget]
    every = cfg.get("checkpoint_every_n_steps")
    if every:
        # Mid-epoch copies of last.ckpt, so that a killed run loses at most `every` steps.
        callbacks.append(ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="last", monitor=None,
                                         save_top_k=1, enable_version_counter=False,
                                         every_n_train_steps=int(every)))
    callbacks += [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    loggers = build_loggers(cfg, run_dir)
    trainer = instantiate(cfg.trainer, logger=loggers or False, callbacks=callbacks,
                          default_root_dir=str(run_dir),
                          gradient_clip_val=recipe.get("gradient_clip_val"))
    if trainer.is_global_zero:
        write_run_identity(cfg, run_dir)
    start = time.perf_counter()
    trainer.fit(task, datamodule=dm, ckpt_path=resume_from)
    train_seconds = time.perf_counter() - start
    # Read now: testing a checkpoint restores the callbacks' state saved with it (an earlier epoch).
    spent, curve = budget.report(trainer)
    # recipe.selection=last tests the final epoch (the FNO papers' protocol); the default, the
    # checkpoint best on the validation split.
    best = None if recipe.get("selection", "best") == "last" else checkpoint.best_model_path or None
    # The test also scores the per-instance solvers' K test instances (metrics["instances"]),
    # from the same per-sample values: the like-for-like rows of the board.
    task.instance_choice = instance_choice(cfg.data)
    trainer.test(task, datamodule=dm, ckpt_path=best or "last", verbose=False)
    record = metrics_record(cfg, dm, task, train_seconds, best, trainer, {**spent, **device_record(trainer.strategy.root_device.type)}, curve)
    if trainer.is_global_zero:
        (run_dir / METRICS_FILE).write_text(json.dumps(record, indent=2))
        figures = save_figures(task, record, run_dir)
        for lg in loggers:
            lg.log_metrics({f"final/{k}": v for k, v in flat_overall(record).items()})
            if figures and hasattr(lg, "log_image"):
                lg.log_image(key="test/figures", images=[str(p) for p in figures])
        report_test_figures(record, run_dir)
    for lg in loggers:
        if type(lg).__name__ == "WandbLogger":
            # One W&B run per training: Lightning's WandbLogger never finishes its run, and a
            # later WandbLogger in this process (a Hydra multirun) would log into this one.
            lg.experiment.finish()
    return record


def save_figures(task: OperatorTask, record: dict[str, Any], run_dir: Path) -> list[Path]:
    """Error vs rollout step and a frame strip of prediction vs reference (time-dependent data)."""
    from pdebench_x.training.plots import plot_error_vs_step, plot_frame_strip
    rollout = record["metrics"].get("rollout")
    if rollout is None or task.test_examples is None:
        return []
    figures = [plot_error_vs_step(rollout["per_step"], rollout["steps"], run_dir / "error_vs_step.png")]
    pred, target = task.test_examples
    channel = task.spec.primary_channels[0]
    c = task.spec.target_channels.index(channel)
    for i in range(pred.shape[0]):
        figures.append(plot_frame_strip(pred[i, :, c].numpy(), target[i, :, c].numpy(), rollout["steps"], channel,
                                        run_dir / f"frames_sample{i}.png"))
    return figures


def flat_overall(record: dict[str, Any]) -> dict[str, float]:
    section = record["metrics"].get("rollout") or record["metrics"].get("steady")
    # A metric can be undefined (None), e.g. fRMSE's high band [12, n/2) on grids n <= 24.
    return {k: float(v) for k, v in section["overall"].items() if v is not None}


def metrics_record(cfg: DictConfig, dm: PDEDataModule, task: OperatorTask, train_seconds: float,
                   checkpoint: str | None, trainer, budget: dict[str, Any], curve: dict[str, list]) -> dict[str, Any]:
    return {
        "model": cfg.model.name,
        "paper": cfg.model.get("paper"),
        "code": cfg.model.get("code"),
        "dataset": dataset_record(cfg, dm.spec.family),
        "problem": dict(dm.spec.__dict__),
        "metrics": task.test_summary,
        "n_parameters": task.n_parameters,
        "train_seconds": train_seconds,
        "epochs": trainer.current_epoch,
        "seconds_per_epoch": train_seconds / max(trainer.current_epoch, 1),
        "global_steps": trainer.global_step,
        "budget": budget,
        "learning_curve": curve,
        "inference_seconds_per_sample": task.test_summary.get("inference_seconds_per_sample"),
        "checkpoint": checkpoint,
        "seed": int(cfg.seed),
        "git_commit": git_commit(),
        "environment": environment(),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }
