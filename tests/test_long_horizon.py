"""Long-horizon scores on rollouts whose answers are known in closed form."""
from __future__ import annotations

import math

import pytest
import torch

from pdebench_x.evaluation.long_horizon import long_horizon_scores, nrmse_at_multiples

TIMES = [float(t) for t in range(1, 11)]     # frames after a context ending at t = 0


def _fields(seed=0, n=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.linspace(0, 2 * math.pi, 17)[:-1]
    base = torch.sin(x)[:, None] * torch.cos(2 * x)[None, :]
    truth = base * (1 + torch.rand(n, 1, 1, 1, 1, generator=g))         # [N, 1, 1, X, Y]
    return truth.expand(n, len(TIMES), 1, 16, 16).clone(), x


def test_error_growing_linearly_gives_the_valid_time_and_keeps_the_correlation():
    truth, _ = _fields()
    growth = torch.tensor([0.09 * t for t in TIMES]).view(1, -1, 1, 1, 1)
    out = long_horizon_scores(truth * (1 + growth), truth, TIMES, start=0.0)
    assert out["nrmse_vs_time"] == pytest.approx([0.09 * t for t in TIMES], rel=1e-6)   # float32 fields
    assert out["valid_time"] == 6.0                       # nRMSE 0.54 > 0.5 first at t = 6
    assert out["correlation_time"] == 10.0 and out["never_failed"] == 0   # a scaled field stays correlated


def test_rotation_away_from_the_truth_gives_the_correlation_time():
    truth, x = _fields()
    other = (torch.cos(x)[:, None] * torch.sin(3 * x)[None, :]).expand_as(truth[0, 0, 0])   # orthogonal, mean 0
    angle = torch.tensor([0.1 * t for t in TIMES]).view(1, -1, 1, 1, 1)
    scale = truth.flatten(2).norm(dim=2)[..., None, None, None] / other.norm()
    pred = torch.cos(angle) * truth + torch.sin(angle) * other * scale
    out = long_horizon_scores(pred, truth, TIMES, start=0.0)
    first = next(t for t in TIMES if math.cos(0.1 * t) < 0.8)    # cos 0.7 = 0.765
    assert out["correlation_time"] == pytest.approx(first)


def test_a_blown_up_rollout_is_scored_not_dropped():
    truth, _ = _fields()
    pred = truth.clone()
    pred[1, 3:] = float("nan")                                      # sample 1 diverges at t = 4
    out = long_horizon_scores(pred, truth, TIMES, start=0.0)
    assert out["blown_up"] == 1 and out["valid_time_per_sample"] == [10.0, 4.0, 10.0]
    assert out["nrmse_vs_time"][:3] == [0.0, 0.0, 0.0] and out["nrmse_vs_time"][3] is None
    assert out["never_failed"] == 2 and out["spectrum_ratio_last_frame"][0] is None


def test_spectrum_and_conserved_quantities_at_the_last_frame():
    truth, _ = _fields()
    out = long_horizon_scores(2 * truth, truth, TIMES, start=0.0,
                              conserved=lambda f: {"mass": f.mean(dim=(2, 3, 4)), "energy": f.square().mean(dim=(2, 3, 4))})
    assert all(r is None or r == pytest.approx(4.0) for r in out["spectrum_ratio_last_frame"])
    assert any(r is not None for r in out["spectrum_ratio_last_frame"])
    energy = out["conserved_last_frame"]["energy"]
    assert energy["prediction"] == pytest.approx(4 * energy["truth"])


def test_error_at_multiples_of_the_trained_horizon_reads_the_curve_there():
    """Trained to t = 1.5 with the error curve e(t) = 0.01 t on frames t = 1 .. 10: at 2x (t = 3) 0.03,
    at 5x (t = 7.5, read at the first frame reaching it, t = 8) 0.08; 10x (t = 15) lies past the last
    frame: not scored. A frame that blew up (None) reads as infinite, not as missing."""
    curve = [0.01 * t for t in TIMES]
    out = nrmse_at_multiples(TIMES, curve, 1.5)
    assert [m for m, _ in out] == [2, 5, 10]
    assert out[0][1] == pytest.approx(0.03) and out[1][1] == pytest.approx(0.08) and out[2][1] is None
    # times from a grid of steps of 0.05 (float rounding must not skip the frame at exactly 2x)
    times = [k * 0.05 for k in range(1, 201)]
    out = nrmse_at_multiples(times, [float(k) for k in range(1, 201)], 1.0)
    assert out == [(2, 40.0), (5, 100.0), (10, 200.0)]
    blown = [0.1] * 7 + [None] * 3
    assert nrmse_at_multiples(TIMES, blown, 1.0, multiples=(5, 9)) == [(5, 0.1), (9, math.inf)]


def test_ns_conserved_quantities_against_closed_forms():
    """NS on [0, 1)^2: w = c + sin(2 pi (x + 2 y)) has psi = sin(...) / (20 pi^2) (plus nothing for the
    mean c), so u = (psi_y, -psi_x) has mean |u|^2 = (2 pi)^2 5 / (20 pi^2)^2 / 2: kinetic energy
    1 / (80 pi^2); enstrophy (c^2 + 1/2) / 2; mean vorticity c."""
    from pdebench_x.pdes import get_family
    n, c = 32, 0.3
    x = torch.arange(n, dtype=torch.float64) / n
    X, Y = torch.meshgrid(x, x, indexing="ij")
    w = (c + torch.sin(2 * math.pi * (X + 2 * Y)))[None, None, None].expand(2, 3, 1, n, n)
    out = get_family("ns").conserved(w, ["vorticity"])
    assert out["energy"].shape == (2, 3)
    assert torch.allclose(out["energy"], torch.full((2, 3), 1 / (80 * math.pi ** 2), dtype=torch.float64), rtol=1e-12)
    assert torch.allclose(out["enstrophy"], torch.full((2, 3), (c ** 2 + 0.5) / 2, dtype=torch.float64), rtol=1e-12)
    assert torch.allclose(out["mean_vorticity"], torch.full((2, 3), c, dtype=torch.float64), rtol=1e-12)
