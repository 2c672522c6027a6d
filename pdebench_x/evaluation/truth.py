"""A generator's output against the stored truth: the channels and frames the board scores.

Shared by the error floor (a finer solve) and the solver's accuracy-cost curve (coarser solves).
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import torch

from pdebench_x.evaluation.metrics import nrmse


def scored_channels(out: Mapping[str, np.ndarray], channels: list[str]) -> np.ndarray:
    """[B, T, C, X, Y] of the named channels from a generator's output dict (a vector field's
    components are ``<name>_x`` / ``<name>_y``; a steady field has no time axis: T = 1)."""
    stacked = []
    for name in channels:
        if name in out:
            field = np.asarray(out[name])
        else:
            base, _, axis = name.rpartition("_")
            field = np.asarray(out[base])[..., "xy".index(axis)]
        stacked.append(field if field.ndim == 4 else field[:, None])
    return np.stack(stacked, axis=2)


def scored_frames(problem: Mapping[str, Any], n_frames: int) -> slice:
    """The frames a rollout is scored on: after the first frame and the history, up to last_frame."""
    if problem.get("kind") != "rollout":
        return slice(None)
    start = int(problem.get("first_frame") or 0) + int(problem["history"])
    last = problem.get("last_frame")
    return slice(start, n_frames if last is None else int(last))


def scored_channel_names(problem: Mapping[str, Any]) -> list[str]:
    """The channels the board scores: a rollout's fields, a steady problem's targets."""
    return list(problem["fields"] if problem.get("kind") == "rollout" else problem["targets"])


def per_sample_nrmse(output: Mapping[str, np.ndarray], truth: Mapping[str, np.ndarray],
                     problem: Mapping[str, Any]) -> list[float]:
    """Each sample's nRMSE of ``output`` against ``truth`` (generator output dicts), averaged over the
    scored channels and frames as the board's per-sample nRMSE is."""
    channels = scored_channel_names(problem)
    got, want = scored_channels(output, channels), scored_channels(truth, channels)
    frames = scored_frames(problem, want.shape[1])
    return nrmse(torch.from_numpy(got[:, frames]), torch.from_numpy(want[:, frames])).mean(dim=(1, 2)).tolist()
