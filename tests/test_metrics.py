"""Metrics against hand-computed cases, and aggregation independent of batching."""
from __future__ import annotations

import json
import math

import pytest
import torch

from conftest import assert_metrics_close
from pdebench_x.evaluation import metrics as M

EPS = M.EPS


def grid(nx: int, ny: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Periodic unit-square grid linspace(0, 1, n+1)[:-1], float64, indexing 'ij' (X first)."""
    x = torch.arange(nx, dtype=torch.float64) / nx
    y = torch.arange(ny, dtype=torch.float64) / ny
    return torch.meshgrid(x, y, indexing="ij")


def as5d(field: torch.Tensor) -> torch.Tensor:
    return field[None, None, None]


# ------------------------------------------------------------------------------------------
# pointwise metrics
# ------------------------------------------------------------------------------------------
def test_constant_error_on_constant_field():
    c, e = 3.0, 0.25
    y = torch.full((2, 3, 2, 16, 12), c, dtype=torch.float64)
    u = y + e
    out = M.compute_all(u, y)
    for name, v in out.items():
        expected_shape = (2,) if name == "relative_l2_fno" else (2, 3, 2)
        assert v.shape == expected_shape, name
        assert v.dtype == torch.float64
    torch.testing.assert_close(out["rmse"], torch.full((2, 3, 2), e, dtype=torch.float64))
    torch.testing.assert_close(out["nrmse"], torch.full((2, 3, 2), e / (c + EPS), dtype=torch.float64))
    # var(y) = 0: vrmse = e / sqrt(eps), large but finite
    torch.testing.assert_close(out["vrmse"], torch.full((2, 3, 2), e / math.sqrt(EPS), dtype=torch.float64))
    assert torch.isfinite(out["vrmse"]).all()
    torch.testing.assert_close(out["max_error"], torch.full((2, 3, 2), e, dtype=torch.float64))
    torch.testing.assert_close(out["crmse"], torch.full((2, 3, 2), e, dtype=torch.float64))
    torch.testing.assert_close(out["brmse"], torch.full((2, 3, 2), e, dtype=torch.float64))
    # ||e|| / (||y|| + eps) = e sqrt(N) / (c sqrt(N) + eps) over the N = 3 * 2 * 16 * 12 values of a sample
    n = 3 * 2 * 16 * 12
    expected_rel = e * math.sqrt(n) / (c * math.sqrt(n) + EPS)
    torch.testing.assert_close(out["relative_l2_fno"], torch.full((2,), expected_rel, dtype=torch.float64))
    # a constant error is the k = 0 mode only, all in the low band [0, 4): sqrt(e^2 / 4 shells);
    # on this 16 x 12 grid the shells stop at min(16, 12) // 2 = 6: mid = [4, 6), no high band
    torch.testing.assert_close(out["frmse_low"], torch.full((2, 3, 2), e / 2, dtype=torch.float64))
    assert out["frmse_mid"].abs().max() < 1e-15
    assert torch.isnan(out["frmse_high"]).all()


def test_predicting_the_spatial_mean_gives_vrmse_one():
    torch.manual_seed(0)
    y = torch.randn(3, 2, 2, 16, 16, dtype=torch.float64) * 5 + 2
    u = y.mean(dim=(-2, -1), keepdim=True).expand_as(y)
    v = M.vrmse(u, y)
    torch.testing.assert_close(v, torch.ones_like(v), rtol=1e-7, atol=0)
    # nrmse of the same prediction is not 1: it depends on the mean (2) of the target
    assert (M.nrmse(u, y) < 0.99).all()


def test_rmse_and_nrmse_by_hand():
    y = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    u = torch.tensor([[1.0, 2.0], [3.0, 6.0]], dtype=torch.float64)
    assert float(M.rmse(as5d(u), as5d(y))) == pytest.approx(1.0)  # sqrt(4 / 4)
    assert float(M.nrmse(as5d(u), as5d(y))) == pytest.approx(1.0 / (math.sqrt(30 / 4) + EPS))
    assert float(M.max_error(as5d(u), as5d(y))) == pytest.approx(2.0)
    assert float(M.crmse(as5d(u), as5d(y))) == pytest.approx(0.5)


def test_boundary_error_is_seen_by_brmse_and_interior_error_is_not():
    nx, ny, d = 10, 7, 0.3
    y = torch.zeros(1, 1, 1, nx, ny, dtype=torch.float64)
    edge = torch.zeros(nx, ny, dtype=torch.float64)
    edge[0, :] = edge[-1, :] = edge[:, 0] = edge[:, -1] = d
    interior = torch.zeros(nx, ny, dtype=torch.float64)
    interior[1:-1, 1:-1] = d
    assert float(M.brmse(as5d(edge), y)) == pytest.approx(d)
    assert float(M.brmse(as5d(interior), y)) == 0.0
    assert float(M.rmse(as5d(interior), y)) > 0.1
    # corners counted once: 4 cells of error d among 2X + 2Y - 4 boundary cells
    corners = torch.zeros(nx, ny, dtype=torch.float64)
    corners[0, 0] = corners[0, -1] = corners[-1, 0] = corners[-1, -1] = d
    expected = math.sqrt(4 * d**2 / (2 * nx + 2 * ny - 4))
    assert float(M.brmse(as5d(corners), y)) == pytest.approx(expected)


@pytest.mark.parametrize(
    "kx, ky, band, n_shells_in_band",
    [(2, 0, "low", 4), (0, 6, "mid", 8), (12, -16, "high", 20), (-1, 1, "low", 4)],
)
def test_single_fourier_mode_lands_in_its_band(kx, ky, band, n_shells_in_band):
    a, area = 0.7, 2.5 * 2.0
    x, y = grid(64, 64)  # high band = shells [12, 32): 20 shells
    err = a * torch.cos(2 * math.pi * (kx * x + ky * y) + 0.3)
    out = M.frmse(as5d(err), torch.zeros(1, 1, 1, 64, 64, dtype=torch.float64), domain_area=area)
    # a real mode of amplitude a holds a^2/2 in its shell; the band value is the RMS over its shells
    expected = area * math.sqrt(a**2 / 2 / n_shells_in_band)
    for name, value in out.items():
        assert value.shape == (1, 1, 1)
        if name == band:
            assert float(value) == pytest.approx(expected, rel=1e-12)
        else:
            assert float(value) < 1e-14


def test_frmse_on_a_rectangular_grid_and_domain_area_scaling():
    x, y = grid(64, 48)  # n = 48: high band is shells [12, 24)
    err = torch.sin(2 * math.pi * 20 * y)  # |k| = 20 along Y
    zero = torch.zeros(1, 1, 1, 64, 48, dtype=torch.float64)
    high1 = float(M.frmse(as5d(err), zero)["high"])
    high4 = float(M.frmse(as5d(err), zero, domain_area=4.0)["high"])
    assert high1 == pytest.approx(math.sqrt(0.5 / 12), rel=1e-12)
    assert high4 == pytest.approx(4 * high1, rel=1e-12)


@pytest.mark.parametrize("k, band, n_shells_in_band", [(2, "low", 4), (7, "mid", 8), (20, "high", 20)])
def test_frmse_of_1d_data_counts_shells_along_its_axis(k, band, n_shells_in_band):
    """1D problems are stored as X x 1 grids: the bands run over the X // 2 shells of x."""
    a, length = 0.7, 2 * math.pi
    x = torch.arange(64, dtype=torch.float64) / 64
    err = (a * torch.cos(2 * math.pi * k * x + 0.3))[:, None]          # [64, 1]
    out = M.frmse(as5d(err), torch.zeros(1, 1, 1, 64, 1, dtype=torch.float64), domain_area=length)
    assert float(out[band]) == pytest.approx(length * math.sqrt(a**2 / 2 / n_shells_in_band), rel=1e-12)
    assert all(float(v) < 1e-14 for name, v in out.items() if name != band)


def test_frmse_band_a_coarse_grid_cannot_hold_is_nan():
    torch.manual_seed(1)
    u, y = torch.randn(2, 1, 1, 16, 16), torch.randn(2, 1, 1, 16, 16)
    out = M.frmse(u, y)  # 16 points: shells 0..7, no high band
    assert torch.isnan(out["high"]).all()
    assert torch.isfinite(out["mid"]).all() and (out["mid"] > 0).all()


def test_frmse_energy_is_the_mean_square_error_parseval():
    torch.manual_seed(2)
    e = torch.randn(2, 2, 1, 24, 24, dtype=torch.float64)
    # a band that covers every shell would be RMS over shells; check the shells' total instead
    energy = M.shell_energy(e)
    amp2 = (torch.fft.fft2(e) / e[0, 0, 0].numel()).abs().square()
    corner = M._shell_index(24, 24) >= 12
    torch.testing.assert_close(energy.sum(-1) + amp2[..., corner].sum(-1), e.square().mean(dim=(-2, -1)))


def test_relative_l2_fno_by_hand():
    # sample 0: y = 2 everywhere (4 values, ||y|| = 4), error 1 at one point -> 1/4
    # sample 1: y = (3, 4, 0, 0) (||y|| = 5), error (0.3, 0.4, 0, 0) -> 0.5 / 5 = 0.1
    y = torch.tensor([[2.0, 2.0, 2.0, 2.0], [3.0, 4.0, 0.0, 0.0]], dtype=torch.float64)
    e = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.3, 0.4, 0.0, 0.0]], dtype=torch.float64)
    # spread each sample over 2 steps x 1 channel x 1 x 2 grid: the norm covers steps too
    y5, u5 = y.reshape(2, 2, 1, 1, 2), (y + e).reshape(2, 2, 1, 1, 2)
    r = M.relative_l2_fno(u5, y5)
    assert r.shape == (2,)
    torch.testing.assert_close(r, torch.tensor([1 / (4 + EPS), 0.5 / (5 + EPS)], dtype=torch.float64))


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\[2, 1, 1, 8, 8\].*\[2, 1, 1, 8, 9\]"):
        M.rmse(torch.zeros(2, 1, 1, 8, 8), torch.zeros(2, 1, 1, 8, 9))
    with pytest.raises(ValueError, match="unsqueeze"):
        M.compute_all(torch.zeros(2, 1, 8, 8), torch.zeros(2, 1, 8, 8))


def test_float32_inputs_are_scored_in_float64():
    y = torch.full((1, 1, 1, 4, 4), 1.0e4, dtype=torch.float32)
    u = y + 1.0  # exact in float32
    out = M.compute_all(u, y)
    assert out["nrmse"].dtype == torch.float64
    assert float(out["nrmse"]) == pytest.approx(1.0e-4, rel=1e-12)


# ------------------------------------------------------------------------------------------
# aggregation
# ------------------------------------------------------------------------------------------
def random_set(n=7, t=3, c=2, nx=12, ny=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randn(n, t, c, nx, ny, generator=g, dtype=torch.float64) + 1.0
    u = y + 0.1 * torch.randn(n, t, c, nx, ny, generator=g, dtype=torch.float64) \
        * torch.arange(1, n + 1, dtype=torch.float64)[:, None, None, None, None]
    return u, y


@pytest.mark.parametrize("splits", [[3, 4], [1, 1, 5], [2, 2, 2, 1]])
def test_accumulator_is_independent_of_batching(splits):
    u, y = random_set()
    whole = M.MetricAccumulator()
    whole.update(u, y)
    parts = M.MetricAccumulator()
    for uu, yy in zip(u.split(splits), y.split(splits)):
        parts.update(uu, yy)
    s_whole, s_parts = whole.summary(["a", "b"]), parts.summary(["a", "b"])
    assert s_parts["n_samples"] == s_whole["n_samples"] == 7
    assert s_parts["overall"].keys() == set(M.AGGREGATION)
    # Some metrics are undefined (None) on this small grid, e.g. fRMSE's high band: None on both sides.
    for key in ("overall", "per_channel", "per_step"):
        assert_metrics_close(s_parts[key], s_whole[key], rel=1e-12)
    torch.testing.assert_close(parts.per_sample("rmse"), whole.per_sample("rmse"))


def test_overall_values_follow_their_aggregation_rules():
    u, y = random_set(n=5)
    acc = M.MetricAccumulator()
    acc.update(u[:2], y[:2])
    acc.update(u[2:], y[2:])
    s = acc.summary(["a", "b"])
    vals = M.compute_all(u, y)
    assert s["overall"]["rmse"] == pytest.approx(float(vals["rmse"].mean()))
    assert s["overall"]["max_error"] == pytest.approx(float((u - y).abs().max()))
    assert s["overall"]["crmse"] == pytest.approx(float(vals["crmse"].square().mean(0).sqrt().mean()))
    assert s["overall"]["relative_l2_fno"] == pytest.approx(float(vals["relative_l2_fno"].mean()))
    assert s["per_channel"]["b"]["rmse"] == pytest.approx(float(vals["rmse"][:, :, 1].mean()))
    assert s["per_step"]["max_error"][2] == pytest.approx(float((u - y)[:, 2].abs().max()))


def test_max_error_is_a_global_max_over_batches():
    y = torch.zeros(4, 1, 1, 5, 5, dtype=torch.float64)
    u = y.clone()
    u[0, 0, 0, 2, 2] = 10.0  # one large error in the first batch
    u[1:, 0, 0, 1, 1] = 1.0  # small errors elsewhere
    acc = M.MetricAccumulator()
    acc.update(u[:1], y[:1])
    acc.update(u[1:], y[1:])
    s = acc.summary(["h"])
    assert s["overall"]["max_error"] == 10.0  # a mean of batch maxima would give 5.5
    assert s["per_channel"]["h"]["max_error"] == 10.0
    assert acc.per_sample("max_error").tolist() == [10.0, 1.0, 1.0, 1.0]


def test_crmse_aggregates_as_root_mean_square_over_samples():
    y = torch.zeros(2, 1, 1, 4, 4, dtype=torch.float64)
    u = y.clone()
    u[0] += 3.0
    u[1] += 4.0
    acc = M.MetricAccumulator()
    acc.update(u[:1], y[:1])
    acc.update(u[1:], y[1:])
    assert acc.summary(["h"])["overall"]["crmse"] == pytest.approx(math.sqrt(12.5))
    assert acc.per_sample("crmse").tolist() == [3.0, 4.0]


def test_per_step_lists_and_step_labels():
    y = torch.ones(3, 4, 2, 6, 6, dtype=torch.float64)
    err = torch.arange(1, 5, dtype=torch.float64)[None, :, None, None, None]  # error t+1 at step t
    acc = M.MetricAccumulator()
    acc.update(y + err, y)
    s = acc.summary(["u", "v"], step_offset=10)
    assert s["steps"] == [10, 11, 12, 13]
    assert s["per_step"]["rmse"] == pytest.approx([1.0, 2.0, 3.0, 4.0])
    assert s["overall"]["rmse"] == pytest.approx(2.5)
    assert acc.per_sample("rmse", reduce=False).shape == (3, 4, 2)


def test_summary_is_strict_json_with_nan_as_null_and_keeps_no_fields():
    u, y = random_set(n=3, nx=16, ny=16)  # 16 points: the high band does not exist
    u = u.clone().requires_grad_(True)
    acc = M.MetricAccumulator()
    acc.update(u, y, extra={"symbol_accuracy": torch.tensor([1.0, 0.5, 0.0])})
    s = acc.summary(["a", "b"])
    text = json.dumps(s, allow_nan=False)
    assert json.loads(text)["overall"]["frmse_high"] is None
    assert s["overall"]["symbol_accuracy"] == pytest.approx(0.5)
    # only per-sample values are kept: N*T*C per field metric plus N per per-sample metric
    stored = [v for lists in (acc._values, acc._extra) for vs in lists.values() for v in vs]
    assert all(not v.requires_grad and v.device.type == "cpu" for v in stored)
    n_field_metrics = len(M.AGGREGATION) - len(M.PER_SAMPLE_ONLY)
    assert sum(v.numel() for v in stored) == 3 * 3 * 2 * n_field_metrics + 3 + 3


def test_accumulator_errors_are_clear():
    acc = M.MetricAccumulator()
    with pytest.raises(ValueError, match="no samples"):
        acc.summary(["a"])
    u, y = random_set(n=2)
    acc.update(u, y)
    with pytest.raises(ValueError, match="channel names"):
        acc.summary(["a"])
    with pytest.raises(ValueError, match="steps x"):
        acc.update(u[:, :2], y[:, :2])
    with pytest.raises(KeyError, match="known"):
        acc.per_sample("nope")
