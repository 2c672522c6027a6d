"""On-disk formats. :func:`open_source` picks the reader from the file's content, never its name."""
from __future__ import annotations

from pathlib import Path

import h5py

from pdebench_x.data.formats.base import DataFormatError, FieldSource, SubsetSource
from pdebench_x.data.formats.fno import FNONavierStokesSource, is_fno_ns
from pdebench_x.data.formats.pdebench import (PDEBenchDarcySource, PDEBenchSWESource, is_pdebench_darcy,
                                              is_pdebench_swe)
from pdebench_x.data.formats.well import WellSource, is_well_file

READERS = {
    "well": (is_well_file, WellSource),
    "pdebench_darcy": (is_pdebench_darcy, PDEBenchDarcySource),
    "pdebench_swe": (is_pdebench_swe, PDEBenchSWESource),
    "fno_ns": (is_fno_ns, FNONavierStokesSource),
}

__all__ = ["DataFormatError", "FieldSource", "SubsetSource", "open_source", "detect_format", "READERS"]


def detect_format(path: str | Path) -> str:
    """Name of the layout of an HDF5 file, from its groups and attributes."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such data file: {path}")
    try:
        with h5py.File(path, "r") as f:
            for name, (matches, _) in READERS.items():
                if matches(f):
                    return name
            top = sorted(f.keys())[:10]
    except OSError as err:
        raise DataFormatError(
            f"cannot open {path} as HDF5 ({err}): the file is corrupt, truncated or not HDF5") from err
    raise DataFormatError(
        f"{path} is in no known schema (top-level keys {top}). Known layouts: The Well "
        "(t0_fields/, dimensions/), PDEBench Darcy (nu, tensor), PDEBench shallow water "
        "('0000'/data), FNO Navier–Stokes .mat (a, u).")


def open_source(path: str | Path, fmt: str = "auto") -> FieldSource:
    """Open one file as a :class:`FieldSource`; ``fmt`` forces a layout (one of READERS)."""
    if fmt == "auto":
        fmt = detect_format(path)
    if fmt not in READERS:
        raise ValueError(f"unknown data format {fmt!r}; choose one of {['auto', *READERS]}")
    return READERS[fmt][1](path)
