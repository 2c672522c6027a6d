"""benchmarks/make_board.py trains every seed to the same CPU-time budget (or a fixed epoch count)
with overrides train.py accepts, and labels the records with that budget."""
from __future__ import annotations

import sys

from conftest import REPO, TINY_TRAIN, compose_config
from pdebench_x.training.preflight import check_run_settings

sys.path.insert(0, str(REPO / "benchmarks"))
import make_board  # noqa: E402  (the benchmark script, imported from its folder)


def test_the_cpu_budget_is_what_ends_training():
    overrides = make_board.budget_overrides(240.0, None)
    assert "+budget.cpu_seconds=240" in overrides
    cfg = compose_config(TINY_TRAIN + overrides)
    check_run_settings(cfg)
    assert cfg.budget.cpu_seconds == 240 and cfg.trainer.max_epochs >= 10_000  # the cap never binds first
    label = make_board.budget_label(240.0, None)
    assert label.startswith("240 s of process CPU time a seed (") and "cores)" in label


def test_the_old_epoch_setting_stays_available():
    assert make_board.budget_overrides(240.0, 2) == ["trainer.max_epochs=2"]
    assert make_board.budget_label(None, 2) == "2 epochs on CPU"
