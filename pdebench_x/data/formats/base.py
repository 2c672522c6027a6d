"""A uniform, lazy view of one split of a dataset, whatever its on-disk layout.

Every reader (The Well schema, PDEBench's layouts, FNO's .mat files) exposes its samples as
named *channels*: a scalar field is one channel (``u``, ``vorticity``, ``h``), a vector field
contributes one channel per component (``velocity_x``, ``velocity_y``). A read returns
float32 [T, C, X, Y]; a field that does not vary in time (Darcy's ``a`` and ``u``) has T = 1.
Reads are per sample and never load a whole file.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np


class DataFormatError(ValueError):
    """A file that is not in a known schema, is truncated, or holds fields of the wrong shape."""


@dataclass
class ChannelInfo:
    name: str
    time_varying: bool


@dataclass
class SourceInfo:
    """What a split holds; shared by every reader."""

    path: str
    family: str
    channels: dict[str, ChannelInfo]
    n_samples: int
    spatial_shape: tuple[int, int]
    x: np.ndarray
    y: np.ndarray
    times: np.ndarray | None
    bc_type: str                      # periodic | wall | open | dirichlet
    scalars: dict[str, float] = field(default_factory=dict)
    per_sample_scalars: list[str] = field(default_factory=list)
    attrs: dict = field(default_factory=dict)

    @property
    def n_times(self) -> int:
        return 1 if self.times is None else len(self.times)


class FieldSource(ABC):
    """One split of a dataset. Subclasses implement :meth:`_read_channel` and :meth:`_read_scalar`."""

    info: SourceInfo

    def __len__(self) -> int:
        return self.info.n_samples

    def check_channels(self, names: list[str]) -> None:
        unknown = [n for n in names if n not in self.info.channels]
        if unknown:
            raise DataFormatError(
                f"{self.info.path}: no channel(s) {unknown}; this file has {sorted(self.info.channels)}. "
                "Fix the data config's fields/inputs/targets.")

    def read(self, index: int, names: list[str], times: slice | None = None) -> np.ndarray:
        """Channels ``names`` of sample ``index`` as float32 [T, C, X, Y].

        ``times`` selects frames of time-varying channels; static channels are returned with
        T = 1 and ``times`` must then be None.
        """
        self.check_channels(names)
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} out of range [0, {len(self)}) in {self.info.path}")
        arrays = []
        for name in names:
            arr = self._read_channel(index, name, times if self.info.channels[name].time_varying else None)
            if not self.info.channels[name].time_varying:
                if times is not None:
                    raise DataFormatError(f"channel {name!r} does not vary in time; no frames to select")
                arr = arr[None]
            arrays.append(np.asarray(arr, dtype=np.float32))
        out = np.stack(arrays, axis=1)
        expected = tuple(self.info.spatial_shape)
        if out.shape[2:] != expected:
            raise DataFormatError(
                f"{self.info.path}: sample {index} has spatial shape {out.shape[2:]}, expected {expected}")
        return out

    def read_scalars(self, index: int) -> dict[str, float]:
        """Every scalar of the sample: the split's constants and its per-sample values."""
        values = dict(self.info.scalars)
        for name in self.info.per_sample_scalars:
            values[name] = float(self._read_scalar(index, name))
        return values

    @abstractmethod
    def _read_channel(self, index: int, name: str, times: slice | None) -> np.ndarray:
        """[T, X, Y] for a time-varying channel (frames ``times``), [X, Y] for a static one."""

    def _read_scalar(self, index: int, name: str) -> float:
        raise KeyError(name)


class SubsetSource(FieldSource):
    """A view of some samples of another source (splitting a single-file dataset)."""

    def __init__(self, parent: FieldSource, indices: np.ndarray) -> None:
        self.parent = parent
        self.indices = np.asarray(indices, dtype=np.int64)
        info = parent.info
        self.info = SourceInfo(**{**info.__dict__, "n_samples": len(self.indices)})

    def _read_channel(self, index, name, times):
        return self.parent._read_channel(int(self.indices[index]), name, times)

    def _read_scalar(self, index, name):
        return self.parent._read_scalar(int(self.indices[index]), name)
