"""benchmarks/reproduce.py: its targets name existing paper configurations, and its report puts our
figure beside the paper's and calls a target reproduced only when every seed is at or below it."""
from __future__ import annotations

import json
import sys

import pytest

from conftest import CONF_DIR, REPO, compose_config

sys.path.insert(0, str(REPO / "benchmarks"))
import reproduce  # noqa: E402  (the benchmark script, imported from its folder)


@pytest.mark.parametrize("target", sorted(reproduce.TARGETS))
def test_target_is_a_paper_configuration_with_its_papers_selection(target):
    spec = reproduce.TARGETS[target]
    assert (CONF_DIR / "experiment" / f"{spec.experiment}.yaml").exists()
    cfg = compose_config([f"experiment={spec.experiment}"])
    # the FNO paper reports the last epoch, MgNO the best validation epoch
    assert cfg.model.recipe.selection == ("last" if target.startswith("fno") else "best")
    assert 0 < spec.paper < 1 and spec.device in ("cpu", "gpu")


def _write_run(root, target, seed, value):
    run = root / target / f"seed{seed}"
    run.mkdir(parents=True)
    metrics = {"metrics": {"rollout": {"overall": {"relative_l2_fno": value}}}, "epochs": 500, "global_steps": 25000,
               "train_seconds": 3600.0, "checkpoint": None, "environment": {"gpu": None, "cpu_count": 2}}
    (run / "metrics.json").write_text(json.dumps(metrics))


def test_report_compares_every_seed_with_the_paper(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(reproduce, "OUT", tmp_path)
    for seed, value in enumerate((0.004, 0.005)):
        _write_run(tmp_path, "fno_burgers", seed, value)
    assert reproduce.report("fno_burgers", [0, 1, 2]) is False          # seed 2 missing: incomplete
    assert "incomplete" in capsys.readouterr().out
    _write_run(tmp_path, "fno_burgers", 2, 0.003)
    assert reproduce.report("fno_burgers", [0, 1, 2]) is True
    out = capsys.readouterr().out
    assert "ours: 0.004 ± 0.001 over 3 seed(s) vs paper 0.016: reproduced" in out
    _write_run(tmp_path, "fno_darcy", 0, 0.02)                            # above the paper's 0.0108
    assert reproduce.report("fno_darcy", [0]) is False and "not reproduced" in capsys.readouterr().out
