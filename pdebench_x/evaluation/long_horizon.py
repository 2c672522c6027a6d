"""Scores of a rollout run far past the horizon a model was trained on.

Given predictions and truth [N, T, C, X, Y] over the frames after the context (times ``times``,
the last context frame at ``start``), per sample:

- **error vs time**: nRMSE per frame (mean over channels), and its mean over samples;
- **valid time**: the time until the nRMSE first exceeds :data:`VALID_NRMSE` (0.5);
- **correlation time**: the time until the Pearson correlation of prediction and truth (over
  channels and grid) first falls below :data:`MIN_CORRELATION` (0.8), as APEBench and the
  weather-forecasting literature measure it;
- **energy spectrum drift**: per wavenumber shell, the prediction's energy over the truth's at the
  last frame (1: no drift; mean over samples and channels);
- **conserved quantities** (the family's, e.g. NS mean vorticity and enstrophy, SWE mass): the
  prediction's value against the truth's own at the last frame;
- **error at multiples of the trained horizon** (:func:`nrmse_at_multiples`): the nRMSE at
  t = 2, 5 and 10 times the last time the model was trained on (the board's columns).

A prediction that turns non-finite is never dropped: from that frame on its error is infinite,
its correlation undefined (counted as below the threshold), and the sample counts as blown up.
A sample that never fails gets the whole horizon (reported with ``never_failed``).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import torch

from pdebench_x.evaluation.metrics import shell_energy

VALID_NRMSE = 0.5
MIN_CORRELATION = 0.8
#: the board reads the error at t = m x the trained horizon for these m
HORIZON_MULTIPLES = (2, 5, 10)


def _first_failure(failed: torch.Tensor) -> torch.Tensor:
    """[N, T] booleans -> [N] index of the first True frame (T when none)."""
    n_frames = failed.shape[1]
    index = torch.arange(n_frames).expand_as(failed)
    return torch.where(failed, index, torch.full_like(index, n_frames)).min(dim=1).values


def _times_until(first: torch.Tensor, times: torch.Tensor, start: float) -> list[float]:
    """Elapsed time from ``start`` until each sample's first failing frame (the whole horizon if none)."""
    horizon = float(times[-1]) - start
    return [horizon if int(k) == len(times) else float(times[int(k)]) - start for k in first]


def long_horizon_scores(pred: torch.Tensor, truth: torch.Tensor, times: Sequence[float], start: float,
                        conserved: Callable[[torch.Tensor], Mapping[str, torch.Tensor]] | None = None
                        ) -> dict[str, Any]:
    """The scores of the module docstring, JSON-ready. ``conserved`` maps a [N, T, C, X, Y] field
    to {name: [N, T]} (the family's conserved quantities)."""
    pred, truth = pred.double(), truth.double()
    times_t = torch.as_tensor(list(times), dtype=torch.float64)
    finite = torch.isfinite(pred).flatten(2).all(dim=2)                       # [N, T]
    safe = torch.where(torch.isfinite(pred), pred, torch.zeros_like(pred))
    err = (safe - truth).square().mean(dim=(-2, -1)).sqrt() / (truth.square().mean(dim=(-2, -1)).sqrt() + 1e-12)
    nrmse = torch.where(finite, err.mean(dim=2), torch.full_like(err[..., 0], math.inf))   # [N, T]
    p = safe.flatten(2) - safe.flatten(2).mean(dim=2, keepdim=True)
    q = truth.flatten(2) - truth.flatten(2).mean(dim=2, keepdim=True)
    corr = (p * q).sum(dim=2) / (p.norm(dim=2) * q.norm(dim=2) + 1e-300)
    corr = torch.where(finite, corr, torch.full_like(corr, -math.inf))
    valid_first = _first_failure(~(nrmse <= VALID_NRMSE))
    corr_first = _first_failure(~(corr >= MIN_CORRELATION))
    valid, correlated = _times_until(valid_first, times_t, start), _times_until(corr_first, times_t, start)
    last_pred, last_truth = safe[:, -1], truth[:, -1]
    e_pred, e_truth = shell_energy(last_pred).mean(dim=(0, 1)), shell_energy(last_truth).mean(dim=(0, 1))
    spectrum = [float(a / b) if b > 0 and bool(finite[:, -1].all()) else None for a, b in zip(e_pred, e_truth)]
    out = {
        "times": [float(t) for t in times],
        "nrmse_vs_time": [None if not math.isfinite(v) else v for v in nrmse.mean(dim=0).tolist()],
        "valid_time": sum(valid) / len(valid), "valid_time_per_sample": valid,
        "correlation_time": sum(correlated) / len(correlated), "correlation_time_per_sample": correlated,
        "never_failed": int((valid_first == len(times)).sum()),
        "blown_up": int((~finite).any(dim=1).sum()),
        "spectrum_ratio_last_frame": spectrum,
        "conserved_last_frame": {},
    }
    if conserved is not None:
        have, want = conserved(safe), conserved(truth)
        for name in have:
            a, b = float(have[name][:, -1].mean()), float(want[name][:, -1].mean())
            out["conserved_last_frame"][name] = {"prediction": a, "truth": b}
    return out


def rollout_horizon_scores(pred: torch.Tensor, truth: torch.Tensor, all_times: Sequence[float], first_target_frame: int,
                           conserved: Callable[[torch.Tensor], Mapping[str, torch.Tensor]] | None = None
                           ) -> dict[str, Any]:
    """:func:`long_horizon_scores` of a rollout scored from frame ``first_target_frame`` of a split whose
    frame times are ``all_times``: the scored frames' times, from the last context frame's time."""
    first = int(first_target_frame)
    times = [float(t) for t in all_times[first:first + truth.shape[1]]]
    return long_horizon_scores(pred, truth, times, float(all_times[first - 1]), conserved=conserved)


def family_rollout_scores(pred: torch.Tensor, truth: torch.Tensor, all_times: Sequence[float],
                          first_target_frame: int, family: str, channels: Sequence[str]) -> dict[str, Any]:
    """:func:`rollout_horizon_scores` with the conserved quantities of PDE family ``family`` (its
    ``conserved`` of the fields' ``channels``)."""
    from pdebench_x.pdes import get_family
    fam, names = get_family(family), list(channels)
    return rollout_horizon_scores(pred, truth, all_times, first_target_frame,
                                  conserved=lambda fields: fam.conserved(fields, names))


def nrmse_at_multiples(times: Sequence[float], nrmse_vs_time: Sequence[float | None], trained_until: float,
                       multiples: Sequence[int] = HORIZON_MULTIPLES) -> list[tuple[int, float | None]]:
    """The error curve read at t = m x ``trained_until`` for each m in ``multiples``: at the first frame
    whose time reaches it (times count from the data's t = 0, as the trained split's do). A frame whose
    error is None (the rollout turned non-finite) reads as infinity; a multiple past the last frame,
    as None (not scored)."""
    out = []
    for m in multiples:
        target = m * float(trained_until)
        frame = next((i for i, t in enumerate(times) if t >= target - 1e-9 * max(abs(target), 1.0)), None)
        if frame is None:
            out.append((m, None))
        else:
            value = nrmse_vs_time[frame]
            out.append((m, math.inf if value is None else float(value)))
    return out
