"""Hydra sweeps through hydra-submitit-launcher's local executor, and the launch guards.

The sweep test runs `python train.py -m hydra/launcher=submitit_local ...` over two values of
the FNO width on the tiny Darcy data (1 epoch each): two submitit jobs, each a process of its
own, each writing its own run directory with metrics.json and the width it was given.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from conftest import CONF_DIR, REPO, TINY_TRAIN
from pdebench_x.core.files import METRICS_FILE
from pdebench_x.training.launch import _spawns_processes, check_launch, prepare_environment

needs_submitit = pytest.mark.skipif(importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None,
                                    reason="hydra-submitit-launcher not installed (pip install -e '.[cluster]')")


@needs_submitit
def test_two_job_sweep_through_submitit_local(tiny_darcy, tmp_path):
    sweep_dir = tmp_path / "sweep"
    env = {**os.environ, "PDEBENCH_X_DATA": str(tiny_darcy.root), "PDEBENCH_X_OUTPUTS": str(tmp_path),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(REPO / "train.py"), "-m", "hydra/launcher=submitit_local",
           *tiny_darcy.overrides, *[o for o in TINY_TRAIN if "hidden_channels" not in o],
           "model.net.hidden_channels=4,8", f"hydra.sweep.dir={sweep_dir}", "hydra.launcher.timeout_min=10"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = sorted(p.parent for p in sweep_dir.glob("*/metrics.json"))
    assert [p.name for p in runs] == ["0_darcy_fno", "1_darcy_fno"], list(sweep_dir.iterdir())
    widths = []
    for run in runs:
        record = json.loads((run / METRICS_FILE).read_text())
        widths.append(record["config"]["model"]["net"]["hidden_channels"])
        assert record["metrics"]["n_test_samples"] == 4 and record["epochs"] == 1
    assert widths == [4, 8]
    logs = list((sweep_dir / ".submitit").glob("*/*_log.out"))
    assert len(logs) == 2, "expected one submitit job log per sweep point"


def test_launcher_configs_name_every_key_of_the_plugins_schema():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf, SlurmQueueConf
    for name, schema in (("submitit_local", LocalQueueConf), ("submitit_slurm", SlurmQueueConf)):
        ours = OmegaConf.load(CONF_DIR / "hydra" / "launcher" / f"{name}.yaml")
        theirs = OmegaConf.structured(schema)
        assert set(ours) == set(theirs), (name, set(ours) ^ set(theirs))


def test_slurm_tasks_follow_the_trainer():
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    from hydra import compose, initialize_config_dir
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="train", return_hydra_config=True,
                      overrides=["trainer=ddp", "trainer.devices=4", "trainer.num_nodes=2",
                                 "hydra/launcher=submitit_slurm"])
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.tasks_per_node, launcher.nodes, launcher.gpus_per_node) == (4, 2, 4)


def test_ddp_sweep_on_the_basic_launcher_is_refused(monkeypatch):
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    for key in ("LOCAL_RANK", "SLURM_NTASKS"):
        monkeypatch.delenv(key, raising=False)

    def as_hydra_would(mode: str):
        with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
            cfg = compose(config_name="train", return_hydra_config=True,
                          overrides=["trainer=ddp", f"hydra.mode={mode}"])
        HydraConfig.instance().set_config(cfg)
        return cfg

    try:
        cfg = as_hydra_would("MULTIRUN")
        with pytest.raises(ValueError, match="hydra/launcher=submitit_local"):
            check_launch(cfg.trainer)
        check_launch({**cfg.trainer, "devices": 1})                # one process: nothing to refuse
        cfg = as_hydra_would("RUN")
        check_launch(cfg.trainer)                                   # a single run may spawn its processes
    finally:
        HydraConfig.instance().cfg = None


def test_spawn_detection():
    ddp = {"strategy": "ddp", "devices": 2, "num_nodes": 1}
    assert _spawns_processes(ddp) or "LOCAL_RANK" in os.environ
    assert not _spawns_processes({"strategy": "auto", "devices": 1})
    assert not _spawns_processes({**ddp, "devices": 1})


def test_submitit_local_tasks_become_lightning_ranks(monkeypatch):
    for key in ("LOCAL_RANK", "NODE_RANK", "MASTER_PORT", "MASTER_ADDR", "SLURM_NTASKS"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("SUBMITIT_LOCAL_NTASKS", "2")
    monkeypatch.setenv("SUBMITIT_LOCAL_LOCALID", "1")
    monkeypatch.setenv("SUBMITIT_LOCAL_NODEID", "0")
    monkeypatch.setenv("SUBMITIT_LOCAL_JOB_ID", "4242")
    prepare_environment({"devices": 2, "num_nodes": 1})
    assert os.environ["LOCAL_RANK"] == "1" and os.environ["NODE_RANK"] == "0"
    port = int(os.environ["MASTER_PORT"])
    assert 20000 <= port < 40000
    monkeypatch.delenv("MASTER_PORT")
    prepare_environment({"devices": 2, "num_nodes": 1})
    assert int(os.environ["MASTER_PORT"]) == port            # every task of the job agrees
    with pytest.raises(ValueError, match="tasks_per_node"):
        prepare_environment({"devices": 4, "num_nodes": 1})
