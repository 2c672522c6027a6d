"""Scoring for code that keeps its own training loop: :func:`evaluate` gives in-memory predictions
the metrics the scorer writes for a predictions file, on the same fingerprinted official split.

Units are physical: pass predictions as the targets are stored (undo any normalisation first,
e.g. ``PDEDataset.normalizer().decode``); the metrics are computed in float64.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from pdebench_x.leaderboard.fingerprint import load_fingerprint, load_track
from pdebench_x.core.paths import board_dir as default_board_dir, data_root as default_data_root
from pdebench_x.leaderboard.scoring.errors import ScoringError
from pdebench_x.leaderboard.scoring.predictions import score_prediction_arrays
from pdebench_x.leaderboard.store import fingerprints_dir

if TYPE_CHECKING:
    import numpy as np
    import torch

#: The splits :func:`evaluate` scores: those the board's fingerprints certify.
OFFICIAL_SPLITS = ("test", "zero_shot", "ood")


def evaluate(predictions: np.ndarray | torch.Tensor | Mapping[str, np.ndarray | torch.Tensor],
             dataset: str = "darcy_small", split: str = "test", data_root: str | Path | None = None,
             board: str | Path | None = None) -> dict[str, Any]:
    """The metrics of ``predictions`` on an official split, as the scorer writes them.

    ``predictions`` (numpy arrays or torch tensors, float16/32/64, physical units, rows in split
    order = ``load_dataset(..., split="test")`` item order): either ``{channel: [N, T, X, Y]}``
    for every target channel, as in a predictions file, or one array ``[N, T, C, X, Y]`` with the
    target channels in order (``PDEDataset.target_channels``, the ``y`` of the test windows). T is
    the number of scored frames: 1 for a steady problem, else every frame after the context frames.

    ``dataset``: an official dataset (a fingerprint in ``<board>/fingerprints/``, e.g.
    ``"darcy_small"``, ``"ns_small"``; ``PDEDataset.name``); ``split``: ``"test"`` (the board's
    split), ``"zero_shot"`` (the same problem at a higher resolution, where the dataset has one) or
    ``"ood"`` (physical parameters outside the trained range, where the dataset has such a split);
    ``data_root``: where datasets live (default ``$PDEBENCH_X_DATA`` or ``<repo>/datasets``): the
    split is generated there if missing and checked against its fingerprint; ``board``: the board
    directory (default ``$PDEBENCH_X_BOARD`` or ``<repo>/leaderboard``).

    Returns ``{"steady"|"rollout": {"overall": {metric: value}, "per_channel": {channel: {...}},
    "per_step": {metric: [value per frame]}, "steps": [frame index], "n_samples": N}}``: on the
    test split exactly a predictions file's ``seeds[i].metrics`` in a record (the board's record
    keeps only ``overall`` of the zero-shot split). A metric that is undefined is None.

    Raises :class:`~pdebench_x.leaderboard.scoring.errors.ScoringError` (a ValueError) on wrong
    names, shapes, dtypes or non-finite values, and the fingerprint module's errors for an
    unknown dataset or a local split that is not the official one.
    """
    if split not in OFFICIAL_SPLITS:
        raise ScoringError(f"split={split!r}: evaluate scores the official splits {list(OFFICIAL_SPLITS)} only "
                           "(the fingerprinted ones); score train or valid predictions with "
                           "pdebench_x.evaluation.metrics.MetricAccumulator")
    directory = fingerprints_dir(board or default_board_dir())
    fp = load_fingerprint(directory, dataset)
    if split == "ood":
        ood = load_track(directory, dataset, "ood")
        if ood is None:
            raise ScoringError(f"{dataset} has no out-of-distribution split (none in {directory / 'ood'}); "
                               "score split='test'")
        return score_prediction_arrays(predictions, ood, data_root or default_data_root(), "test")
    if split == "zero_shot" and not fp.get("zero_shot"):
        raise ScoringError(f"{dataset} has no zero-shot split; score split='test'")
    return score_prediction_arrays(predictions, fp, data_root or default_data_root(), split)
