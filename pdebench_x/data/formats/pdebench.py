"""Readers for PDEBench's 2D layouts, loaded as they are.

Darcy (``2D_DarcyFlow_beta*.hdf5``): ``nu`` [N, X, Y] coefficient, ``tensor`` [N, 1, X, Y]
solution, ``x-coordinate`` [X], ``y-coordinate`` [Y], root attr ``beta`` (the forcing).

Radial dam break (``2D_rdb_NA_NA.h5``): one group per sample ``'0000'`` ... holding
``data`` [T, X, Y, 1] (the depth h), ``grid/x``, ``grid/y`` (cell centres), ``grid/t``.
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from pdebench_x.data.formats.base import ChannelInfo, DataFormatError, FieldSource, SourceInfo


class _H5Source(FieldSource):
    """Lazy h5py handle shared by the readers (reopened in each DataLoader worker)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._file: h5py.File | None = None

    def _open(self) -> h5py.File:
        if self._file is None:
            try:
                self._file = h5py.File(self.path, "r")
            except OSError as err:
                raise DataFormatError(f"cannot open {self.path} as HDF5 ({err}): corrupt or truncated file") from err
        return self._file

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_file"] = None
        return state


def is_pdebench_darcy(f: h5py.File) -> bool:
    return "nu" in f and "tensor" in f


def is_pdebench_swe(f: h5py.File) -> bool:
    keys = list(f.keys())
    return bool(keys) and all(k.isdigit() for k in keys) and "data" in f[keys[0]]


class PDEBenchDarcySource(_H5Source):
    """PDEBench's Darcy file as channels ``a`` (their ``nu``) and ``u`` (their ``tensor``)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        f = self._open()
        nu, tensor = f["nu"], f["tensor"]
        if nu.ndim != 3 or tensor.ndim != 4 or tensor.shape[1] != 1 or tensor.shape[0] != nu.shape[0] \
                or tensor.shape[2:] != nu.shape[1:]:
            raise DataFormatError(
                f"{path}: PDEBench Darcy layout expects nu [N, X, Y] and tensor [N, 1, X, Y]; "
                f"got nu {nu.shape}, tensor {tensor.shape}")
        n, nx, ny = nu.shape
        x = f["x-coordinate"][()] if "x-coordinate" in f else (np.arange(nx) + 0.5) / nx
        y = f["y-coordinate"][()] if "y-coordinate" in f else (np.arange(ny) + 0.5) / ny
        scalars = {"forcing": float(f.attrs["beta"])} if "beta" in f.attrs else {}
        self.info = SourceInfo(
            path=self.path, family="darcy",
            channels={"a": ChannelInfo("a", False), "u": ChannelInfo("u", False)},
            n_samples=n, spatial_shape=(nx, ny), x=x, y=y, times=None, bc_type="dirichlet",
            scalars=scalars, attrs={"layout": "pdebench_darcy"})

    def _read_channel(self, index, name, times):
        f = self._open()
        return f["nu"][index] if name == "a" else f["tensor"][index, 0]


class PDEBenchSWESource(_H5Source):
    """PDEBench's radial dam break: channel ``h``, one group per sample."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        f = self._open()
        self.keys = sorted(f.keys())
        first = f[self.keys[0]]
        if "data" not in first or "grid" not in first or not all(k in first["grid"] for k in ("x", "y", "t")):
            raise DataFormatError(
                f"{path}: PDEBench shallow-water layout expects <sample>/data and <sample>/grid/{{x,y,t}}; "
                f"sample {self.keys[0]!r} has {sorted(first.keys())}")
        data = first["data"]
        if data.ndim != 4 or data.shape[-1] != 1:
            raise DataFormatError(
                f"{path}: PDEBench shallow-water layout expects <sample>/data [T, X, Y, 1]; got {data.shape}")
        grid = first["grid"]
        self.info = SourceInfo(
            path=self.path, family="swe", channels={"h": ChannelInfo("h", True)},
            n_samples=len(self.keys), spatial_shape=tuple(data.shape[1:3]),
            x=grid["x"][()], y=grid["y"][()], times=grid["t"][()], bc_type="open",
            attrs={"layout": "pdebench_swe"})

    def _read_channel(self, index, name, times):
        data = self._open()[self.keys[index]]["data"]
        if data.shape[0] != self.info.n_times:
            raise DataFormatError(f"{self.path}: sample {self.keys[index]} has {data.shape[0]} frames, "
                                  f"expected {self.info.n_times}")
        return data[times if times is not None else slice(None), :, :, 0]
