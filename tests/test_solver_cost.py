"""The numerical solver's accuracy-cost curve: coarser grids cost less and err more, against the
stored truth, on the channels and frames the board scores."""
from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from conftest import compose_config
from pdebench_x.cli import main as cli
from pdebench_x.data.build import plan_from_config
from pdebench_x.evaluation.solver_cost import solver_cost_curve

SMALL = {"darcy": ["data.generator.resolution=32"],
         "ns": ["data.generator.resolution=32", "data.generator.solve_resolution=32", "data.generator.n_steps=11"],
         "swe": ["data.generator.resolution=32", "data.generator.n_frames=4"]}


@pytest.mark.parametrize("family", sorted(SMALL))
def test_coarser_grids_err_more(family):
    cfg = compose_config([f"data={family}", *SMALL[family]])
    data = OmegaConf.to_container(cfg.data, resolve=True)
    curve = solver_cost_curve(plan_from_config(data, "/nonexistent"), data["problem"], factors=(2, 4), n_samples=1)
    truth, half, quarter = curve["points"]
    assert truth["factor"] == 1 and truth["nrmse"] == 0.0 and truth["cpu_seconds_per_sample"] > 0
    assert 0 < half["nrmse"] < quarter["nrmse"], curve["points"]
    assert all(p["cpu_seconds_per_sample"] > 0 for p in curve["points"]) and curve["threads"] >= 1


def test_the_command_writes_the_curve_once(tmp_path):
    argv = ["solver-cost", "data=darcy", "data.generator.resolution=16", "--samples", "1", "--factors", "2",
            "--board", str(tmp_path / "board"), "--data-root", str(tmp_path / "data")]
    assert cli(argv) == 0
    written = next((tmp_path / "board" / "solver_costs").glob("*.json"))
    assert [p["factor"] for p in json.loads(written.read_text())["points"]] == [1, 2]
    with pytest.raises(SystemExit, match="exists; pass --overwrite"):
        cli(argv)
