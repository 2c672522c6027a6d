"""Error floors: the stored truth against the same problems solved on a finer grid.

Checked against mathematics: the Darcy floor falls with the grid at the scheme's order; a finer
shallow-water solve brought to the stored cells conserves the mass it had; the NS truth, solved
spectrally, has a floor at round-off level. Then the board: a solver below its dataset's floor is
marked on both pages, and the command refuses to overwrite a shipped floor.
"""
from __future__ import annotations

import copy
import math
import re

import numpy as np
import pytest

from conftest import compose_config
from pdebench_x.cli import main as cli
from pdebench_x.data.build import generator_class, plan_from_config
from pdebench_x.data.generators.base import sample_seed
from pdebench_x.evaluation.error_floor import measure_error_floor
from pdebench_x.leaderboard import board as board_mod
from pdebench_x.leaderboard import store


def _floor(family, overrides, n=2, factor=2):
    cfg = compose_config([f"data={family}", *overrides])
    from omegaconf import OmegaConf
    data = OmegaConf.to_container(cfg.data, resolve=True)
    return measure_error_floor(plan_from_config(data, "/nonexistent"), data["problem"], n_samples=n, factor=factor)


def test_darcy_floor_falls_with_the_grid():
    """Cells 16 -> 32: the truth's error against a 2x finer solve shrinks by about the scheme's order
    (second order away from the coefficient's jumps, first order at them: measured ratio ~2.3)."""
    coarse = _floor("darcy", ["data.generator.resolution=16"])["nrmse"]
    fine = _floor("darcy", ["data.generator.resolution=32"])["nrmse"]
    assert 0 < fine < coarse / 1.8, (coarse, fine)


def test_ns_floor_is_round_off_for_a_spectral_solve():
    floor = _floor("ns", ["data.generator.resolution=32", "data.generator.solve_resolution=32",
                          "data.generator.n_steps=11"], n=1)   # 10 history frames, then 1 scored
    assert 0 < floor["nrmse"] < 1e-4 and floor["channels"] == ["vorticity"]


def test_swe_finer_solve_keeps_the_mass_of_the_fine_cells():
    gen = generator_class("swe")(resolution=16, n_frames=3, dt_out=0.05)
    seeds = [sample_seed(0, "test", 0)]
    fine = generator_class("swe")(resolution=32, n_frames=3, dt_out=0.05).generate(seeds)["h"].astype(np.float64)
    coarse = gen.finer_solve(seeds)["h"]
    assert coarse.shape == (1, 3, 16, 16)
    np.testing.assert_allclose(coarse.sum(axis=(2, 3)) * 4, fine.sum(axis=(2, 3)), rtol=1e-12)
    floor = _floor("swe", ["data.generator.resolution=16", "data.generator.n_frames=3"], n=1)
    assert math.isfinite(floor["nrmse"]) and floor["nrmse"] > 0 and floor["channels"] == ["h", "velocity_x",
                                                                                        "velocity_y"]


def test_generators_without_a_finer_solve_say_so():
    gen = generator_class("burgers")(resolution=16, n_frames=2)
    with pytest.raises(NotImplementedError, match="burgers generator has no finer reference solve"):
        gen.finer_solve([sample_seed(0, "test", 0)])


def test_a_solver_below_the_floor_is_marked(tmp_path):
    """The shipped darcy_small records, against a made-up floor above and below their means."""
    import json
    from pathlib import Path
    record = json.loads((Path(__file__).parents[1] / "leaderboard/submissions/darcy_small__fno.json").read_text())
    mean = record["aggregate"]["overall"]["nrmse"]["mean"]
    above = {"darcy_small": {"nrmse": mean * 2, "method": "made up"}}
    md, page = board_mod.render([record], above)
    assert "**below the error floor**: " in md and ">below the error floor</span>: " in page
    assert "Error floor: nRMSE " in md and "(made up)" in md
    md, _ = board_mod.render([copy.deepcopy(record)], {"darcy_small": {"nrmse": mean / 2, "method": "made up"}})
    assert "**below the error floor**: " not in md


def test_the_command_refuses_to_overwrite_a_floor(tmp_path, capsys):
    board = tmp_path / "board"
    argv = ["error-floor", "data=darcy", "data.generator.resolution=16", "--samples", "1",
            "--board", str(board), "--data-root", str(tmp_path / "data")]
    assert cli(argv) == 0
    written = next((board / "error_floors").glob("*.json"))
    before = written.read_text()
    with pytest.raises(SystemExit, match="exists; pass --overwrite"):
        cli(argv)
    assert written.read_text() == before


def test_a_track_split_has_its_own_floor_shown_and_flagged(tmp_path, capsys):
    """`error-floor --track ood` measures the preset's OOD split as its board fingerprint states it and
    writes error_floors/ood/<dataset>.json; the board shows it beside the dataset's floor and flags an
    OOD nRMSE below it. Without the track's fingerprint the command says how to make it."""
    import json
    from pathlib import Path
    board, data = tmp_path / "board", tmp_path / "data"
    common = ["data=darcy", "data.generator.resolution=16", "data.sizes.test=2", "--board", str(board),
              "--data-root", str(data)]
    assert cli(["error-floor", *common, "--samples", "1", "--track", "ood"]) == 2
    assert re.search(r"no ood split on this board .*make it first with `pdebench-x fingerprint data=darcy .*--track ood`",
                     capsys.readouterr().err)
    assert cli(["fingerprint", *common, "--track", "ood"]) == 0
    assert cli(["error-floor", *common, "--samples", "1", "--track", "ood"]) == 0
    name = next((board / "fingerprints" / "ood").glob("*.json")).stem
    floor = json.loads((board / "error_floors" / "ood" / f"{name}.json").read_text())
    assert floor["track"]["kind"] == "ood" and floor["track"]["of"] == name and floor["nrmse"] > 0
    # the settings it measured are the OOD split's (the preset with the track's generator overrides)
    track = json.loads((board / "fingerprints" / "ood" / f"{name}.json").read_text())
    assert floor["dataset"] == track["dataset"] != name
    assert store.load_error_floors(board)[f"ood/{name}"] == floor
    # on the board: the shipped darcy record given an OOD score below and above a made-up OOD floor
    record = json.loads((Path(__file__).parents[1] / "leaderboard/submissions/darcy_small__fno.json").read_text())
    record["ood"] = {"shift": "made-up shift", "aggregate": {"overall": {"nrmse": {"mean": 0.1, "std": 0.0}}}}
    floors = {"ood/darcy_small": {"nrmse": 0.2, "method": "made-up OOD method"}}
    md, page = board_mod.render([record], floors)
    assert "Error floor of the out-of-distribution split: nRMSE 0.2 (made-up OOD method)." in md
    assert "**OOD below the error floor**: " in md and ">OOD below the error floor</span>: " in page
    md, _ = board_mod.render([record], {"ood/darcy_small": {"nrmse": 0.05, "method": "m"}})
    assert "**OOD below the error floor**: " not in md
