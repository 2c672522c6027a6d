"""What the two training pipelines (operator learners, per-instance solvers) share: the data
module of a run, the provenance and dataset parts of its record, and the figures it ends with."""
from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any, Sequence

import torch
from omegaconf import DictConfig, OmegaConf

from pdebench_x.core.files import METRICS_FILE
from pdebench_x.core.machine import hardware
from pdebench_x.data.build import plan_from_config
from pdebench_x.data.datamodule import PDEDataModule
from pdebench_x.data.generators.base import SPLITS
from pdebench_x.evaluation.metrics import headline


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment() -> dict[str, Any]:
    import lightning
    import neuralop
    return {"python": platform.python_version(), "torch": torch.__version__, "lightning": lightning.__version__,
            "neuraloperator": getattr(neuralop, "__version__", "unknown"), "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def device_record(kind: str) -> dict[str, str | None]:
    """A budget's device: its kind (``cpu``, ``cuda``) and name (the GPU's, else the CPU model)."""
    machine = hardware()
    return {"device": kind, "hardware": machine["gpu"] if kind == "cuda" else machine["cpu"]}


def build_datamodule(cfg: DictConfig, splits: Sequence[str] = SPLITS) -> PDEDataModule:
    recipe = cfg.model.get("recipe", {}) or {}
    out_steps = int(cfg.data.problem.get("future", 1))
    target_steps = out_steps * int(recipe.get("unroll_steps") or 1) if recipe.get("train_mode") == "unroll" else None
    return PDEDataModule(cfg.data, root=cfg.paths.data_dir, target_steps=target_steps,
                         batch_size=recipe.get("batch_size") or cfg.data.batch_size,
                         steps_per_epoch=recipe.get("steps_per_epoch"), splits=splits)


def dataset_record(cfg: DictConfig, family: str) -> dict[str, Any]:
    """What a run record says of its data: a generated dataset by name, preset and fingerprint;
    a user's file by its path alone (no preset: ``data.preset`` does not apply to it)."""
    data_cfg = OmegaConf.to_container(cfg.data, resolve=True)
    if data_cfg.get("path"):
        return {"family": family, "preset": None, "path": str(data_cfg["path"])}
    plan = plan_from_config(data_cfg, cfg.paths.data_dir)
    return {"family": family, "preset": plan.preset, "path": None, "name": plan.name,
            "fingerprint": plan.fingerprint(), "seed": plan.seed, "sizes": plan.sizes}


def report_test_figures(record: dict[str, Any], run_dir: Path) -> None:
    """What a run ends with on the terminal: the headline test figures and where the rest is."""
    scope = "K = {} test instances".format(record["n_instances"]) if record.get("kind") == "per_instance" \
        else "test split"
    print(f"{record['model']} on {record['dataset'].get('name') or record['dataset'].get('path')} "
          f"({scope}):\n{headline(record['metrics'])}\nall metrics: {run_dir / METRICS_FILE}", flush=True)
