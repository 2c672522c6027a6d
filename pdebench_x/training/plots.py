"""Figures saved in a run directory after testing: error vs rollout step, prediction vs reference."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # headless: never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_error_vs_step(per_step: dict[str, list[float | None]], steps: Sequence[int], path: Path,
                       metrics: Sequence[str] = ("nrmse", "relative_l2_fno", "vrmse")) -> Path:
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name in metrics:
        if name in per_step:
            values = np.array([np.nan if v is None else v for v in per_step[name]], dtype=float)
            ax.plot(list(steps)[:len(values)], values, marker="o", ms=3, label=name)
    ax.set_xlabel("frame index (context frames excluded)")
    ax.set_ylabel("error")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title("test error along the rollout")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_frame_strip(pred: np.ndarray, target: np.ndarray, steps: Sequence[int], channel: str, path: Path,
                     n_frames: int = 5) -> Path:
    """Reference, prediction and error for a few frames of one sample; pred/target [T, X, Y]."""
    t = pred.shape[0]
    picks = sorted(set(np.linspace(0, t - 1, min(n_frames, t)).round().astype(int).tolist()))
    fig, axes = plt.subplots(3, len(picks), figsize=(2.2 * len(picks), 6.4), squeeze=False)
    vmin, vmax = float(target.min()), float(target.max())
    err = np.abs(pred - target)
    for col, k in enumerate(picks):
        for row, (data, title, kw) in enumerate((
                (target[k], "reference", {"vmin": vmin, "vmax": vmax, "cmap": "RdBu_r"}),
                (pred[k], "prediction", {"vmin": vmin, "vmax": vmax, "cmap": "RdBu_r"}),
                (err[k], "|error|", {"vmin": 0.0, "vmax": float(err.max()) or 1.0, "cmap": "magma"}))):
            ax = axes[row, col]
            ax.imshow(data.T, origin="lower", **kw)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"frame {steps[k]}")
            if col == 0:
                ax.set_ylabel(title)
    fig.suptitle(f"{channel}: reference vs prediction")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
