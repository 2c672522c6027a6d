"""What a run shows and records at its end, and the quick smoke runs: the findings of trying
the suite as a new user that were not errors.

- ``train.py`` ends by printing the headline test figures (nRMSE, FNO's relative L2; rollout
  and one-step where they apply) and the path of ``metrics.json``.
- ``+trainer.fast_dev_run=true`` shortens a per-instance run to one instance and a couple of
  iterations, as it does a Lightning training.
- A shallow-water file written by PDEBench's own generator (depth h only) trains without
  ``data.problem.fields=[h]``, and a run on a user's file does not claim a preset.
"""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from conftest import TINY_TRAIN, compose_config

from pdebench_x.core.files import METRICS_FILE
from pdebench_x.data.datamodule import PDEDataModule
from pdebench_x.training.per_instance import SMOKE_ITERATIONS
from pdebench_x.training.run import dataset_record, run_training

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_training_ends_with_the_headline_figures(tiny_darcy, tmp_path, capsys):
    record = run_training(tiny_darcy.config(TINY_TRAIN + ["~logger"], output_dir=tmp_path), tmp_path / "run")
    out = capsys.readouterr().out
    overall = record["metrics"]["steady"]["overall"]
    assert f"nRMSE {overall['nrmse']:.4g}" in out
    assert f"rel. L2 {overall['relative_l2_fno']:.4g}" in out
    assert f"all metrics: {tmp_path / 'run' / 'metrics.json'}" in out
    assert json.loads((tmp_path / "run" / METRICS_FILE).read_text())["metrics"]["steady"]["overall"] == overall


def test_fast_dev_run_makes_a_per_instance_run_a_smoke_run(tiny_darcy, tmp_path, capsys):
    cfg = tiny_darcy.config(["model=pinn", "model.net.width=8", "model.net.depth=1", "model.fit.collocation=32",
                             "+trainer.fast_dev_run=true", "~logger"], output_dir=tmp_path)
    assert cfg.data.n_instances == 4 and cfg.model.fit.optimizers[0].iterations == 300
    record = run_training(cfg, tmp_path / "run")
    assert record["n_instances"] == 1 and len(record["per_instance"]) == 1
    stages = record["config"]["model"]["fit"]["optimizers"]
    assert [s["iterations"] for s in stages] == [min(SMOKE_ITERATIONS, s) for s in (300, 5)]
    assert "nRMSE" in capsys.readouterr().out


def write_pdebench_swe(path, n=24, t=5, nx=16):
    """A file in the layout of PDEBench's radial dam break: <sample>/data [T, X, Y, 1] (h only)."""
    rng = np.random.default_rng(0)
    centres = (np.arange(nx) + 0.5) / nx * 5 - 2.5
    with h5py.File(path, "w") as f:
        for i in range(n):
            g = f.create_group(f"{i:04d}")
            g["data"] = (1.0 + rng.random((t, nx, nx, 1))).astype(np.float32)
            g["grid/x"], g["grid/y"], g["grid/t"] = centres, centres, np.linspace(0, 1, t)
    return path


def test_pdebench_shallow_water_file_trains_on_its_depth_alone(tmp_path):
    path = write_pdebench_swe(tmp_path / "2D_rdb_NA_NA.h5")
    cfg = compose_config(["data=swe", f"data.path={path}", "data.batch_size=4"], data_dir=tmp_path / "data")
    assert list(cfg.data.problem.fields) == ["h", "velocity_x", "velocity_y"]
    dm = PDEDataModule(cfg.data, root=cfg.paths.data_dir)
    dm.setup()
    assert dm.spec.input_channels == dm.spec.target_channels == ["h"]
    batch = next(iter(dm.train_dataloader()))
    assert tuple(batch["x"].shape[1:]) == (2, 1, 16, 16)
    assert dataset_record(cfg, "swe") == {"family": "swe", "preset": None, "path": str(path)}


def test_a_field_that_is_not_optional_is_still_required(tmp_path):
    path = write_pdebench_swe(tmp_path / "2D_rdb_NA_NA.h5")
    cfg = compose_config(["data=swe", f"data.path={path}", "data.problem.optional_fields=[]"],
                         data_dir=tmp_path / "data")
    with pytest.raises(ValueError, match=r"no channel\(s\) \['velocity_x', 'velocity_y'\]"):
        PDEDataModule(cfg.data, root=cfg.paths.data_dir).setup()


def test_a_records_setting_says_what_the_runs_actually_trained():
    from pdebench_x.leaderboard.scoring.runs import default_setting
    fp = {"preset": "small"}
    run = {"dataset": {"sizes": {"train": 400}}, "epochs": 1, "global_steps": 3,
           "config": {"trainer": {"max_epochs": 8, "limit_train_batches": 3}, "data": {"max_train_samples": None}}}
    assert default_setting(fp, [run]) == ("small preset, 400 training samples, 1 epoch(s), 3 optimiser steps, "
                                          "limit_train_batches=3")
    run["config"]["data"]["max_train_samples"] = 100
    run["config"]["trainer"]["limit_train_batches"] = None
    assert default_setting(fp, [run]) == "small preset, 100 training samples, 1 epoch(s), 3 optimiser steps"
