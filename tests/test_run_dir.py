"""Every run gets a directory of its own, even when two start in the same second.

Before, hydra.run.dir (and hydra.sweep.dir) were the start time alone: two runs started in the
same second shared one directory, one metrics.json overwritten and both exiting 0.
"""
from __future__ import annotations

import datetime as dt

import hydra.core.utils
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

import pdebench_x.training.run_dir  # noqa: F401  (registers ${run_suffix:}, as train.py does)

from conftest import CONF_DIR

START = dt.datetime(2026, 1, 2, 3, 4, 5)


class FrozenClock(dt.datetime):
    """Hydra's ``${now:...}`` reads ``datetime.now()``: every run starts in the same second."""

    @classmethod
    def now(cls, tz=None):
        return START


@pytest.fixture
def same_second(monkeypatch):
    monkeypatch.setattr(hydra.core.utils, "datetime", FrozenClock)


def composed(tmp_path):
    """train.yaml with its hydra node, as `python train.py` composes it."""
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="train", return_hydra_config=True,
                       overrides=[f"paths.output_dir={tmp_path}"])


def test_two_runs_started_in_the_same_second_get_their_own_directories(same_second, tmp_path):
    a, b = composed(tmp_path), composed(tmp_path)
    assert a.hydra.run.dir != b.hydra.run.dir
    assert a.hydra.sweep.dir != b.hydra.sweep.dir
    for cfg in (a, b):
        assert cfg.hydra.run.dir.startswith(f"{tmp_path}/darcy_fno/2026-01-02_03-04-05_")
        assert cfg.hydra.sweep.dir.startswith(f"{tmp_path}/multirun/2026-01-02_03-04-05_")


def test_one_run_resolves_to_one_directory(tmp_path):
    cfg = composed(tmp_path)
    first = cfg.hydra.run.dir
    assert cfg.hydra.run.dir == first
    # Lightning hands HydraConfig.get().run.dir to its DDP processes: it must be this run's directory
    try:
        HydraConfig.instance().set_config(cfg)
        assert HydraConfig.get().run.dir == first
    finally:
        HydraConfig.instance().cfg = None
    # the jobs of a sweep: Hydra copies the sweep config's resolver cache into each job's config
    job = composed(tmp_path)
    OmegaConf.copy_cache(from_config=cfg, to_config=job)
    assert job.hydra.sweep.dir == cfg.hydra.sweep.dir
