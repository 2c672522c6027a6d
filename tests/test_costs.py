"""A learned solver against the numerical one: the solver's cost at the model's error read off its
curve by log-log interpolation, the speed-up, the break-even count, and their place on the board."""
from __future__ import annotations

import math

import pytest

from pdebench_x.leaderboard.costs import break_even, solver_seconds_at, speedup

# errors 0.01 / 0.1 / 1 at 1e-2 / 1e-3 / 1e-4 CPU seconds: a power law, error ~ t^-1
CURVE = {"points": [{"factor": 1, "cpu_seconds_per_sample": 0.1, "nrmse": 0.0},
                    {"factor": 2, "cpu_seconds_per_sample": 1e-2, "nrmse": 0.01},
                    {"factor": 4, "cpu_seconds_per_sample": 1e-3, "nrmse": 0.1},
                    {"factor": 8, "cpu_seconds_per_sample": 1e-4, "nrmse": 1.0}]}


def test_the_solvers_cost_at_an_error_follows_its_curve():
    mid = math.sqrt(0.01 * 0.1)
    seconds, exact = solver_seconds_at(CURVE, mid)
    assert exact and seconds == pytest.approx(math.sqrt(1e-2 * 1e-3), rel=1e-12)   # log-log midpoint
    assert solver_seconds_at(CURVE, 0.001) == (1e-2, False)    # finer than the finest coarse grid: a lower bound
    assert solver_seconds_at(CURVE, 2.0) is None               # worse than the coarsest: the solver wins outright


def test_speedup_and_break_even():
    mid = math.sqrt(0.01 * 0.1)
    ratio, exact = speedup(CURVE, mid, 1e-4)
    assert exact and ratio == pytest.approx(math.sqrt(1e-5) / 1e-4)
    # training 100 CPU s + 10 training samples solved at the stored grid (0.1 s each), saved per solve:
    saved = math.sqrt(1e-5) - 1e-4
    assert break_even(CURVE, mid, 1e-4, 100.0, 10) == pytest.approx((100.0 + 10 * 0.1) / saved)
    assert break_even(CURVE, mid, 1.0, 100.0, 10) is None        # slower than the solver: never pays
    assert speedup(CURVE, 2.0, 1e-4) is None and speedup(CURVE, None, 1e-4) is None


def test_the_board_shows_them(tmp_path):
    import json
    from pathlib import Path
    from pdebench_x.leaderboard import board as board_mod
    record = json.loads((Path(__file__).parents[1] / "leaderboard/submissions/darcy_small__fno.json").read_text())
    record["schema_version"] = "2"
    for seed in record["seeds"]:
        seed["inference_cpu_seconds_per_sample"] = 1e-4
    record["inference_cpu_seconds_per_sample"] = 1e-4
    mean = record["aggregate"]["overall"]["nrmse"]["mean"]
    curve = {"points": [dict(p) for p in CURVE["points"]]}
    curve["points"][3]["nrmse"] = mean * 10                      # the coarsest grid is worse than the model
    md, page = board_mod.render([record], None, {"darcy_small": curve})
    assert "| speed-up vs solver | break-even solves |" in md and 'id="plot-solver-darcy_small"' in page
    assert "x |" in md.split("## darcy_small")[1]                  # a speed-up figure in the row


def test_per_instance_fits_join_the_cost_plot():
    """A per-instance solver's record (its K fits: 8 CPU s together) is a point at 8 / K CPU seconds per
    instance on the dataset's cost plot, named with its K; without a CPU budget it is left out."""
    import json
    import re
    from pathlib import Path
    from pdebench_x.leaderboard import board as board_mod
    shipped = Path(__file__).parents[1] / "leaderboard/submissions"
    operator = json.loads((shipped / "darcy_small__fno.json").read_text())
    fit = json.loads((shipped / "darcy_small__pinn.json").read_text())
    operator["inference_cpu_seconds_per_sample"] = 1e-4
    k = fit["instances"]["k"]
    fit["seeds"][0]["budget"] = {"cpu_seconds": 8.0}
    _, page = board_mod.render([operator, fit], None, {"darcy_small": CURVE})
    plot = re.search(r'<svg[^>]*id="plot-solver-darcy_small".*?</svg>', page, re.S).group(0)
    from pdebench_x.leaderboard.board.formatting import fmt
    mean = fit["instances"]["aggregate"]["overall"]["nrmse"]["mean"]
    # its tooltip: "name: nRMSE ± 0 at CPU seconds per instance"
    assert f"{fit['solver']['name']} (K = {k}, fit + prediction): {fmt(mean)} ± 0 at {fmt(8.0 / k)}" in plot
    fit["seeds"][0]["budget"] = None
    _, page = board_mod.render([operator, fit], None, {"darcy_small": CURVE})
    plot = re.search(r'<svg[^>]*id="plot-solver-darcy_small".*?</svg>', page, re.S).group(0)
    assert "fit + prediction" not in plot
