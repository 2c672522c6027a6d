"""Reader for the FNO paper's Navier–Stokes files (``ns_V1e-3_N5000_T50.mat`` and kin).

They are MATLAB v7.3 files, i.e. HDF5: ``a`` [N, X, Y] is the initial vorticity w(0),
``u`` [N, X, Y, T] the vorticity at t = 1..T, ``t`` the times. MATLAB writes arrays in
column-major order, so h5py sees every dataset with its axes reversed (``u`` as [T, Y, X, N]);
such datasets carry a ``MATLAB_class`` attribute, which is how we tell the two apart. Files
written from Python in the logical order load too.

The source exposes one channel, ``vorticity``, with T + 1 frames: frame 0 is ``a`` = w(0),
frame k is u(t_k). The FNO protocol (frames 1..10 in, 11..20 out) is then
``first_frame: 1, history: 10``.
"""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from pdebench_x.data.formats.base import ChannelInfo, DataFormatError, SourceInfo
from pdebench_x.data.formats.pdebench import _H5Source


def is_fno_ns(f: h5py.File) -> bool:
    return "a" in f and "u" in f and isinstance(f["u"], h5py.Dataset) and f["u"].ndim == 4


class FNONavierStokesSource(_H5Source):
    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        f = self._open()
        self.matlab = "MATLAB_class" in f["u"].attrs
        a_shape, u_shape = f["a"].shape, f["u"].shape
        if self.matlab:
            a_shape, u_shape = a_shape[::-1], u_shape[::-1]
        if len(a_shape) != 3 or u_shape[:3] != a_shape:
            raise DataFormatError(
                f"{path}: FNO Navier–Stokes layout expects a [N, X, Y] and u [N, X, Y, T] "
                f"(axes reversed in MATLAB files); got a {a_shape}, u {u_shape}")
        n, nx, ny, nt = u_shape
        if "t" in f:
            t = np.asarray(f["t"][()], dtype=np.float64).ravel()
        else:
            t = np.arange(1, nt + 1, dtype=np.float64)
        if len(t) != nt:
            raise DataFormatError(f"{path}: t has {len(t)} entries but u has {nt} frames")
        grid = np.linspace(0.0, 1.0, nx + 1)[:-1]
        self.info = SourceInfo(
            path=self.path, family="ns", channels={"vorticity": ChannelInfo("vorticity", True)},
            n_samples=n, spatial_shape=(nx, ny), x=grid, y=np.linspace(0.0, 1.0, ny + 1)[:-1],
            times=np.concatenate([[0.0], t]), bc_type="periodic", attrs={"layout": "fno_ns"})

    def _frames(self, index: int) -> np.ndarray:
        f = self._open()
        if self.matlab:
            # [T, Y, X, N] on disk: take sample `index`, then reverse to [X, Y, T].
            a = f["a"][:, :, index].T
            u = np.transpose(f["u"][:, :, :, index], (2, 1, 0))
        else:
            a, u = f["a"][index], f["u"][index]
        return np.concatenate([a[None], np.moveaxis(u, -1, 0)], axis=0)

    def _read_channel(self, index, name, times):
        frames = self._frames(index)
        return frames[times] if times is not None else frames
