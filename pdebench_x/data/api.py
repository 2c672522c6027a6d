"""The data of the benchmark for code that keeps its own training loop (another framework, JAX,
a notebook): :func:`load_dataset` gives the very windows the training pipeline uses, and
``pdebench_x.evaluate`` scores predictions of the test windows as the leaderboard does.

Units are physical. Nothing is normalised: :attr:`PDEDataset.mean` and :attr:`PDEDataset.std`
are the per-channel statistics the training pipeline fits on the train split (whatever split
is loaded) and normalises with, ``(x - mean) / std``; :meth:`PDEDataset.normalizer` is that
very normaliser (``encode`` applies it, ``decode`` undoes it: decode predictions made in
normalised units before scoring them).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from torch.utils.data import Dataset

from pdebench_x.core.config import compose_config
from pdebench_x.data.build import plan_from_config
from pdebench_x.data.datamodule import PDEDataModule, ProblemSpec
from pdebench_x.data.generators.base import SPLITS
from pdebench_x.data.normalization import ChannelNormalizer


class PDEDataset(Dataset):
    """One split as windows: item ``i`` is ``{"x": [history, C, X, Y], "y": [steps, C, X, Y],
    "scalars": {name: value}, "index": sample, "start": first frame}`` (torch float32, physical
    units; steady problems have one input and one target frame). The train split holds every
    window of ``history + future`` frames; valid and test one window per sample, the context
    frames and then the whole remaining horizon: the test windows' ``y`` are the targets
    ``pdebench_x.evaluate`` scores predictions against, in the same order.

    ``name``: the dataset's name (``"darcy_small"``; a hash suffix when settings differ from the
    preset's; None for an external file), what ``evaluate(..., dataset=)`` takes for an official one.
    """

    def __init__(self, module: PDEDataModule, split: str, name: str | None = None) -> None:
        self.windows = module.dataset(split)
        self.split = split
        self.name = name
        self.spec: ProblemSpec = module.spec
        mean, std = module.stats
        self.mean = {k: float(v) for k, v in mean.items()}
        self.std = {k: float(v) for k, v in std.items()}

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.windows[i]

    @property
    def input_channels(self) -> list[str]:
        """The channel names along axis C of ``x``, in order."""
        return list(self.spec.input_channels)

    @property
    def target_channels(self) -> list[str]:
        """The channel names along axis C of ``y``, in order."""
        return list(self.spec.target_channels)

    def normalizer(self, channels: Sequence[str] | None = None) -> ChannelNormalizer:
        """The training pipeline's normaliser of ``channels`` (default: the target channels):
        ``encode`` is ``(x - mean) / std`` per channel on [B, T, C, X, Y], ``decode`` its inverse."""
        names = list(channels or self.spec.target_channels)
        return ChannelNormalizer([self.mean[c] for c in names], [self.std[c] for c in names])

    def numpy(self) -> dict[str, Any]:
        """Every window stacked as numpy arrays: ``x`` [N, history, C, X, Y], ``y`` [N, steps, C, X, Y]
        (float32, physical units), ``index`` and ``start`` [N], ``scalars`` {name: [N]} (the train
        split stacks all its windows: mind the memory)."""
        items = [self.windows[i] for i in range(len(self.windows))]
        return {"x": np.stack([it["x"].numpy() for it in items]), "y": np.stack([it["y"].numpy() for it in items]),
                "index": np.array([it["index"] for it in items]), "start": np.array([it["start"] for it in items]),
                "scalars": {k: np.array([it["scalars"][k] for it in items]) for k in items[0]["scalars"]}}


def load_dataset(family: str, preset: str = "small", split: str = "train", root: str | Path | None = None,
                 overrides: Sequence[str] = ()) -> PDEDataset:
    """A split of a benchmark dataset, generated on first use (as ``train.py`` would).

    ``family``: darcy, ns, swe, convection, burgers; ``preset``: the data config's presets
    (small, benchmark, ...); ``root``: where datasets live (default: ``$PDEBENCH_X_DATA`` or
    ``datasets/``); ``overrides``: data settings as on the command line, e.g.
    ``["data.problem.history=4"]``.
    """
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: one of {list(SPLITS)}")
    cfg = compose_config([f"data={family}", f"data.preset={preset}", *overrides])
    module = PDEDataModule(cfg.data, root=root or cfg.paths.data_dir)
    module.prepare_data()
    module.setup()
    name = None if module.cfg.get("path") else plan_from_config(module.cfg, module.root).name
    return PDEDataset(module, split, name)
