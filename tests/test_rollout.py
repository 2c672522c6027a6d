"""Rollout machinery end to end on a tiny generated Navier–Stokes dataset.

Checks what a time-dependent benchmark needs: autoregressive prediction equals repeated
one-call predictions fed back; unrolled (push-forward) training runs; the metrics file holds
per-step curves over exactly the non-context frames, with one-step metrics beside them; and
the figures are saved in the run directory.
"""
from __future__ import annotations

import json

import pytest
import torch

from pdebench_x.core.files import METRICS_FILE
from pdebench_x.training.run import build_datamodule, build_task, run_training
from conftest import compose_config

TINY_NS = ["data=ns", "data.generator.resolution=16", "data.generator.solve_resolution=16",
           "data.generator.ic_resolution=16", "data.generator.n_steps=6", "data.sizes.train=4",
           "data.sizes.valid=2", "data.sizes.test=2", "data.problem.history=2", "data.batch_size=4"]
TINY_FNO = ["model=fno", "model.net.n_modes=[4,4]", "model.net.hidden_channels=8", "model.net.n_layers=2",
            "trainer.max_epochs=1", "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1"]


@pytest.fixture(scope="module")
def ns_root(tmp_path_factory):
    return tmp_path_factory.mktemp("ns_data")


def test_rollout_feeds_predictions_back(ns_root):
    cfg = compose_config(TINY_NS + TINY_FNO, data_dir=ns_root)
    dm = build_datamodule(cfg)
    dm.prepare_data()
    dm.setup()
    task = build_task(cfg, dm).eval()
    batch = next(iter(dm.test_dataloader()))
    x = batch["x"]
    with torch.no_grad():
        full = task.rollout(x, 3)
        window = task.in_norm.encode(x)
        manual = []
        for _ in range(3):
            out = task.model(window)
            manual.append(out)
            window = torch.cat([window, out], 1)[:, -task.spec.in_steps:]
    torch.testing.assert_close(full, torch.cat(manual, 1))
    # The horizon is every frame after the context: frames 1..6 with 2 context frames -> 4 targets.
    assert batch["y"].shape[1] == 4 and task.spec.first_target_frame == 3


def test_unrolled_training_writes_per_step_metrics_and_figures(ns_root, tmp_path):
    cfg = compose_config(TINY_NS + TINY_FNO + ["model.recipe.train_mode=unroll", "model.recipe.unroll_steps=2",
                                               "model.recipe.pushforward=true"],
                         data_dir=ns_root, output_dir=tmp_path)
    record = run_training(cfg, tmp_path / "run")
    saved = json.loads((tmp_path / "run" / METRICS_FILE).read_text())
    assert saved["metrics"]["rollout"]["overall"] == record["metrics"]["rollout"]["overall"]
    rollout, one_step = saved["metrics"]["rollout"], saved["metrics"]["one_step"]
    assert rollout["steps"] == [3, 4, 5, 6]  # context frames 1, 2 are never scored
    assert len(rollout["per_step"]["nrmse"]) == 4
    assert one_step["steps"] == [3]
    # Errors grow (or at least do not vanish) along an untrained rollout, and are finite.
    assert all(v is not None and v > 0 for v in rollout["per_step"]["nrmse"])
    for name in ("error_vs_step.png", "frames_sample0.png"):
        assert (tmp_path / "run" / name).stat().st_size > 1000
