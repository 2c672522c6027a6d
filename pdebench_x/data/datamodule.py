"""LightningDataModule over the HDF5 splits: windows, splits and normalisation statistics.

Two kinds of problem, chosen by the data config's ``problem.kind``:

- ``steady`` (Darcy): x = channels ``inputs`` [1, C_in, X, Y] -> y = channels ``targets``.
- ``rollout`` (NS, SWE): channels ``fields``; frames before ``first_frame`` are never used.
  The train split yields every window of ``history`` input frames followed by
  ``train_target_steps`` target frames, from any start; validation and test yield one window
  per sample: the ``history`` context frames from ``first_frame`` and the whole remaining
  horizon as target (the context frames are never targets, so never scored).

Items hold fields in physical units; the task normalises (statistics from :attr:`stats`,
fitted on the train split only).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from pdebench_x.core.grid import cell_extent, domain_measure
from pdebench_x.core.plain import to_plain
from pdebench_x.data.build import ensure_dataset, plan_from_config
from pdebench_x.data.formats import DataFormatError, FieldSource, SubsetSource, open_source
from pdebench_x.data.generators.base import SPLITS
from pdebench_x.data.normalization import fit_channel_stats, fit_point_stats
from pdebench_x.data.loaders import make_loader

log = logging.getLogger(__name__)


@dataclass
class ProblemSpec:
    """Shapes and facts a model and the metrics need, derived from the data."""

    kind: str
    family: str
    input_channels: list[str]
    target_channels: list[str]
    in_steps: int
    out_steps: int
    horizon: int
    spatial_shape: tuple[int, int]
    padding: str
    domain_area: float
    spacing: tuple[float, float]
    primary_channels: list[str]
    first_target_frame: int = 0       # index of the first scored frame in the trajectory

    def model_kwargs(self) -> dict[str, Any]:
        return {"in_steps": self.in_steps, "in_channels": len(self.input_channels),
                "out_steps": self.out_steps, "out_channels": len(self.target_channels),
                "padding": self.padding}


class WindowDataset(Dataset):
    """(x, y, scalars) windows of one split."""

    def __init__(self, source: FieldSource, problem: Mapping[str, Any], train: bool,
                 target_steps: int | None = None) -> None:
        self.source = source
        self.kind = problem["kind"]
        self.train = train
        if self.kind == "steady":
            self.inputs, self.targets = list(problem["inputs"]), list(problem["targets"])
            source.check_channels(self.inputs + self.targets)
            self.windows = [(i, 0) for i in range(len(source))]
            return
        self.inputs = self.targets = list(problem["fields"])
        source.check_channels(self.inputs)
        self.history = int(problem["history"])
        first, last = frame_range(source, problem)
        self.first = first
        if train:
            self.target_steps = int(target_steps or problem.get("future", 1))
            span = self.history + self.target_steps
            starts = range(first, last + 2 - span)
        else:
            self.target_steps = last + 1 - first - self.history
            starts = [first]
        if self.target_steps < 1 or len(starts) == 0:
            raise DataFormatError(
                f"{source.info.path}: frames {first}..{last} cannot hold history {self.history} + "
                f"{self.target_steps} target steps; shorten problem.history/future or use longer trajectories")
        self.windows = [(i, s) for i in range(len(source)) for s in starts]

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, idx: int) -> dict[str, Any]:
        i, start = self.windows[idx]
        if self.kind == "steady":
            x = self.source.read(i, self.inputs)
            y = self.source.read(i, self.targets)
        else:
            frames = self.source.read(i, self.inputs, slice(start, start + self.history + self.target_steps))
            x, y = frames[:self.history], frames[self.history:]
        scalars = {k: np.float32(v) for k, v in self.source.read_scalars(i).items()}
        return {"x": torch.from_numpy(np.ascontiguousarray(x)), "y": torch.from_numpy(np.ascontiguousarray(y)),
                "scalars": scalars, "index": i, "start": start}


def frame_range(source: FieldSource, problem: Mapping[str, Any]) -> tuple[int, int]:
    """First and last (inclusive) frame of the trajectories that the problem uses."""
    n = source.info.n_times
    first = int(problem.get("first_frame", 0))
    last = problem.get("last_frame")
    last = n - 1 if last is None else int(last)
    if not 0 <= first <= last < n:
        raise DataFormatError(f"{source.info.path} has {n} frames; problem frames {first}..{last} do not fit")
    return first, last


def present_fields(problem: Mapping[str, Any], source: FieldSource) -> list[str]:
    """``problem.fields`` less the ``problem.optional_fields`` that ``source`` does not hold
    (PDEBench's radial dam break stores the depth h alone, not the velocities), said in the log."""
    optional = set(problem.get("optional_fields") or [])
    absent = [f for f in problem["fields"] if f in optional and f not in source.info.channels]
    if absent:
        log.warning("%s holds no %s: training on %s", source.info.path, absent,
                    [f for f in problem["fields"] if f not in absent])
    return [f for f in problem["fields"] if f not in absent]


def check_finite(split: str, source: FieldSource, channels: list[str]) -> None:
    """Refuse a split holding a NaN or an infinite value, naming the split, sample and field."""
    for i in range(len(source)):
        values = source.read(i, channels)
        bad = [name for c, name in enumerate(channels) if not np.isfinite(values[:, c]).all()]
        bad += [name for name, v in source.read_scalars(i).items() if not np.isfinite(v)]
        if bad:
            raise DataFormatError(
                f"{source.info.path}: the {split} split holds non-finite values (NaN or inf) in sample {i}, "
                f"field(s) {bad}. Nothing was trained. Repair or leave out that sample (data.splits).")


def split_single_file(source: FieldSource, splits: Mapping[str, Any] | None) -> dict[str, FieldSource]:
    """Split one file holding all samples: ``splits`` maps split -> [start, stop) sample indices
    (negative allowed), default 80/10/10 contiguous."""
    n = len(source)
    if not splits:
        a, b = int(0.8 * n), int(0.9 * n)
        splits = {"train": [0, a], "valid": [a, b], "test": [b, n]}
    out = {}
    for split in SPLITS:
        if split not in splits:
            raise ValueError(f"data.splits must give [start, stop) for {list(SPLITS)}; missing {split!r}")
        indices = np.arange(n)[slice(*splits[split])]
        if len(indices) == 0:
            raise ValueError(f"data.splits[{split!r}] = {splits[split]} selects no sample of the {n} in "
                             f"{source.info.path}")
        out[split] = SubsetSource(source, indices)
    return out


class PDEDataModule(L.LightningDataModule):
    """Generated (The Well schema) or external (any known layout) data, as windows."""

    def __init__(self, data: Mapping[str, Any], root: str | Path = "datasets", target_steps: int | None = None,
                 batch_size: int | None = None, steps_per_epoch: int | None = None,
                 splits: Sequence[str] = SPLITS) -> None:
        super().__init__()
        unknown = [s for s in splits if s not in SPLITS]
        if unknown or not splits:
            raise ValueError(f"splits must be a non-empty subset of {list(SPLITS)}, got {list(splits)}")
        # the generated splits this module needs (a per-instance fit reads the test split alone: the
        # others are neither generated nor opened, and no normalisation statistics are fitted)
        self.splits = [s for s in SPLITS if s in splits]
        self.cfg = to_plain(data)
        self.root = Path(root)
        self.problem = self.cfg["problem"]
        self.batch_size = int(batch_size or self.cfg.get("batch_size", 16))
        self.num_workers = int(self.cfg.get("num_workers", 0))
        self.target_steps = target_steps
        self.steps_per_epoch = steps_per_epoch   # train batches per epoch (None: one pass over the windows)
        self.sources: dict[str, FieldSource] = {}
        self.stats: tuple[np.ndarray, np.ndarray] | None = None
        self.spec: ProblemSpec | None = None

    # -- files -------------------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Generate the dataset if it is missing (runs once per node)."""
        if not self.cfg.get("path"):
            ensure_dataset(plan_from_config(self.cfg, self.root), workers=self.cfg.get("generation_workers"),
                           splits=self.splits)

    def split_paths(self) -> dict[str, Path] | None:
        if self.cfg.get("path"):
            return None
        plan = plan_from_config(self.cfg, self.root)
        return {s: plan.split_path(s) for s in self.splits}

    def _open_sources(self) -> dict[str, FieldSource]:
        fmt = self.cfg.get("format", "auto")
        path = self.cfg.get("path")
        if path:
            path = Path(path)
            if path.is_dir():
                files = {s: sorted((path / s).glob("*.h*5")) for s in SPLITS}
                missing = [s for s, f in files.items() if not f]
                if missing:
                    raise DataFormatError(f"{path}: no HDF5 file under {missing}; expected <dir>/{{train,valid,test}}/*.hdf5")
                return {s: open_source(f[0], fmt) for s, f in files.items()}
            return split_single_file(open_source(path, fmt), self.cfg.get("splits"))
        paths = self.split_paths()
        return {s: open_source(p, fmt) for s, p in paths.items()}

    # -- Lightning hooks ---------------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.spec is not None:
            return
        self.sources = self._open_sources()
        # the grid, frames and fields are read from the training split (the test split without one)
        train = self.sources["train"] if "train" in self.sources else self.sources["test"]
        info = train.info
        kind = self.problem["kind"]
        if kind not in ("steady", "rollout"):
            raise ValueError(f"problem.kind must be 'steady' or 'rollout', got {kind!r}")
        if kind == "rollout":
            self.problem["fields"] = present_fields(self.problem, train)
        max_train = self.cfg.get("max_train_samples")
        if max_train and "train" in self.sources:
            self.sources["train"] = SubsetSource(train, np.arange(min(int(max_train), len(train))))
        if kind == "steady":
            inputs, targets = list(self.problem["inputs"]), list(self.problem["targets"])
            channels, frames = list(dict.fromkeys(inputs + targets)), None
            in_steps = out_steps = horizon = 1
            first_target = 0
        else:
            inputs = targets = channels = list(self.problem["fields"])
            first, last = frame_range(train, self.problem)
            frames = slice(first, last + 1)
            in_steps = int(self.problem["history"])
            out_steps = int(self.problem.get("future", 1))
            horizon = last + 1 - first - in_steps
            first_target = first + in_steps
        train.check_channels(channels)
        for split, source in self.sources.items():
            if source.info.spatial_shape != info.spatial_shape:
                raise DataFormatError(f"split {split} has grid {source.info.spatial_shape}, train {info.spatial_shape}")
            if self.cfg.get("path"):
                # A user's file may hold NaN or inf anywhere: found now, not as a failed test after training.
                check_finite(split, source, channels)
        if "train" in self.sources:
            mean, std = fit_channel_stats(self.sources["train"], channels, frames,
                                          self.cfg.get("stats_max_samples", 256))
            self.stats = (dict(zip(channels, mean)), dict(zip(channels, std)))
            self._stats_channels, self._stats_frames = channels, frames
        lx, ly = cell_extent(info.x), cell_extent(info.y)
        self.spec = ProblemSpec(
            kind=kind, family=info.family, input_channels=inputs, target_channels=targets,
            in_steps=in_steps, out_steps=out_steps, horizon=horizon, spatial_shape=tuple(info.spatial_shape),
            padding="circular" if info.bc_type == "periodic" else "zeros", domain_area=domain_measure(info.x, info.y),
            spacing=(lx / len(info.x), ly / len(info.y)),
            primary_channels=list(self.problem.get("primary_channels") or targets),
            first_target_frame=first_target)

    def point_stats(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """({channel: mean [X, Y]}, {channel: std [X, Y]}) at each grid point over every train sample
        and the frames the statistics cover (the per-point normalisation some paper recipes use)."""
        if "train" not in self.sources:
            raise RuntimeError("per-point statistics need the train split: call setup() with one")
        mean, std = fit_point_stats(self.sources["train"], self._stats_channels, self._stats_frames)
        return dict(zip(self._stats_channels, mean)), dict(zip(self._stats_channels, std))

    def dataset(self, split: str) -> WindowDataset:
        self.setup()
        return WindowDataset(self.sources[split], self.problem, train=(split == "train"),
                             target_steps=self.target_steps)

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        # Samplers that split every split across DDP processes (one process: the whole split):
        # train shuffled per epoch and resumable mid-epoch, valid/test unpadded (see data/loaders.py).
        return make_loader(self.dataset(split), "train" if shuffle else split, self.batch_size, self.num_workers,
                           steps_per_epoch=self.steps_per_epoch if shuffle else None)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
