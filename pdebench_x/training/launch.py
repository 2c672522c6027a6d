"""Cluster runs: :func:`prepare_environment` turns the variables of submitit's local executor into
the ones Lightning reads, so ``tasks_per_node = trainer.devices`` processes form one DDP job
(SLURM's are read by Lightning itself); :func:`check_launch` refuses what cannot work.
"""
from __future__ import annotations

import hashlib
import os
from typing import Any, Mapping


def prepare_environment(trainer_cfg: Mapping[str, Any] | None = None) -> None:
    """Let a submitit-local job with several tasks run as one Lightning DDP job.

    submitit's local executor starts ``tasks_per_node`` processes and numbers them with
    ``SUBMITIT_LOCAL_*`` variables; Lightning instead reads ``LOCAL_RANK`` / ``NODE_RANK`` /
    ``MASTER_ADDR`` / ``MASTER_PORT`` (and then does not start processes itself). The port is a
    function of the job id so that every task of the job agrees on it. SLURM jobs need nothing
    (Lightning reads SLURM's variables).
    """
    ntasks = int(os.environ.get("SUBMITIT_LOCAL_NTASKS", "1") or 1)
    if ntasks <= 1 or "SLURM_NTASKS" in os.environ:
        return
    if trainer_cfg is not None:
        devices, nodes = trainer_cfg.get("devices", 1), int(trainer_cfg.get("num_nodes", 1) or 1)
        if not isinstance(devices, int) or devices * nodes != ntasks:
            raise ValueError(
                f"this submitit job has {ntasks} tasks but trainer.devices={devices}, trainer.num_nodes={nodes}: "
                "set hydra.launcher.tasks_per_node to trainer.devices (the launcher configs do) and use an integer "
                "trainer.devices")
    os.environ["LOCAL_RANK"] = os.environ["SUBMITIT_LOCAL_LOCALID"]
    os.environ["NODE_RANK"] = os.environ.get("SUBMITIT_LOCAL_NODEID", "0")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    job = os.environ.get("SUBMITIT_LOCAL_JOB_ID", "0")
    os.environ.setdefault("MASTER_PORT", str(20000 + int(hashlib.sha1(job.encode()).hexdigest(), 16) % 20000))


def _spawns_processes(trainer_cfg: Mapping[str, Any]) -> bool:
    """Would Lightning start processes itself (a DDP run whose processes nobody else started)?"""
    strategy = str(trainer_cfg.get("strategy", "auto"))
    devices = trainer_cfg.get("devices", 1)
    many = (isinstance(devices, int) and devices > 1) or int(trainer_cfg.get("num_nodes", 1) or 1) > 1 \
        or devices in ("auto", -1, "-1")
    external = "LOCAL_RANK" in os.environ or "SLURM_NTASKS" in os.environ
    return strategy.startswith("ddp") and many and not external


def check_launch(trainer_cfg: Mapping[str, Any]) -> None:
    """Refuse a DDP run inside a Hydra multirun on the basic launcher.

    Lightning starts the other processes by re-running the command line; in a multirun that
    command is the whole sweep, and the basic launcher runs its jobs one after another in
    one process. Each job of a submitit launcher is a process of its own, with its own tasks.
    """
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    if not HydraConfig.initialized():
        return
    hc = HydraConfig.get()
    launcher = str(hc.launcher.get("_target_", "")) if hc.get("launcher") else ""
    if hc.mode == RunMode.MULTIRUN and "BasicLauncher" in launcher and _spawns_processes(trainer_cfg):
        raise ValueError(
            "a DDP sweep cannot run on Hydra's basic launcher (it would re-run the whole sweep in every process). "
            "Add hydra/launcher=submitit_local (one machine) or hydra/launcher=submitit_slurm (a cluster): each job "
            "then gets trainer.devices tasks of its own.")
