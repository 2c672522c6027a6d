"""The Well's HDF5 schema: writer and lazy reader.

Layout of one file (one split), after PolymathicAI/the_well's docs/data_format.md::

    /                      attrs: dataset_name, grid_type, n_spatial_dims, n_trajectories,
                                  simulation_parameters, <each constant parameter>,
                                  + ours: pdebench_x_format, family, generator, generator_version,
                                  seed, split, settings (JSON), equation, complete
    dimensions/            attrs: spatial_dims = [x, y]; datasets time [T], x [X], y [Y]
                           (a steady dataset stores time = [0.0]: one frame, no time-varying field)
    boundary_conditions/<axis>_<name>/  one group per axis, as The Well's reader expects:
                                 attrs associated_dims = [axis], associated_fields, bc_type
                                 (periodic | wall | open; Dirichlet is stored as wall),
                                 pdebench_x_bc_type (ours: the exact type, e.g. dirichlet);
                                 datasets mask bool [len(axis)] (True at both ends), values
                                 float32 [mask.sum()] (the boundary value: 0)
    scalars/               attrs: field_names; one dataset per scalar: () constant or [B] per sample
    t0_fields/<name>       [B, T, X, Y] (or [B, X, Y] when not time-varying)
    t1_fields/<name>       [B, T, X, Y, 2]
    t2_fields/             (empty: no tensor fields in this suite)

Each field dataset carries attrs dim_varying, sample_varying, time_varying. Datasets are
chunked one sample per chunk so that a per-sample read touches one chunk.

Format 1 files (root attr pdebench_x_format = 1) have one boundary group for all axes (associated_dims
[x, y] with a 1D mask) and no time axis in steady data: :class:`WellSource` still reads such files,
The Well's own reader does not (regenerate them to use ``the_well.data.WellDataset``).
"""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from pdebench_x.data.formats.base import ChannelInfo, DataFormatError, FieldSource, SourceInfo
from pdebench_x.data.generators.base import BoundaryInfo, DatasetDescription

FORMAT_VERSION = 2
FIELD_GROUPS = {0: "t0_fields", 1: "t1_fields"}
VECTOR_AXES = ("x", "y")
#: Our boundary types that The Well's reader does not know -> the Well type stored in bc_type
#: (u = 0 on a fixed boundary: a wall). The exact type is kept in attr pdebench_x_bc_type.
WELL_BC_TYPES = {"dirichlet": "wall"}
#: The time axis of a steady dataset: one frame, so that The Well's reader finds dimensions/time.
STEADY_TIMES = np.zeros(1)


def _field_shape(n: int, desc: DatasetDescription, order: int, time_varying: bool) -> tuple[int, ...]:
    shape = [n]
    if time_varying:
        shape.append(len(desc.times))
    shape += [len(desc.x), len(desc.y)]
    if order == 1:
        shape.append(2)
    return tuple(shape)


def _axis_coordinates(desc: DatasetDescription) -> dict[str, np.ndarray]:
    return {"x": np.asarray(desc.x), "y": np.asarray(desc.y)}


def _write_dimensions(f: h5py.File, desc: DatasetDescription) -> None:
    """x, y and time; a steady dataset gets the one-frame time axis :data:`STEADY_TIMES`."""
    dims = f.create_group("dimensions")
    dims.attrs["spatial_dims"] = list(VECTOR_AXES)
    times = desc.times if desc.times is not None else STEADY_TIMES
    for name, values in (*_axis_coordinates(desc).items(), ("time", times)):
        ds = dims.create_dataset(name, data=np.asarray(values, dtype=np.float64))
        ds.attrs["sample_varying"] = False
        ds.attrs["time_varying"] = False


def _write_boundary_conditions(f: h5py.File, desc: DatasetDescription) -> None:
    """One group ``<axis>_<name>`` per boundary condition and axis (The Well's layout)."""
    bcs = f.create_group("boundary_conditions")
    coords = _axis_coordinates(desc)
    for bc in desc.boundary_conditions:
        for axis in bc.associated_dims:
            _write_axis_boundary(bcs.create_group(f"{axis}_{bc.name}"), bc, axis, len(coords[axis]))


def _write_axis_boundary(g: h5py.Group, bc: BoundaryInfo, axis: str, size: int) -> None:
    g.attrs["associated_dims"] = [axis]
    g.attrs["associated_fields"] = bc.associated_fields
    g.attrs["bc_type"] = WELL_BC_TYPES.get(bc.bc_type, bc.bc_type)
    g.attrs["pdebench_x_bc_type"] = bc.bc_type
    g.attrs["sample_varying"] = False
    g.attrs["time_varying"] = False
    mask = np.zeros(size, dtype=bool)
    mask[[0, -1]] = True
    g.create_dataset("mask", data=mask)
    g.create_dataset("values", data=np.zeros(int(mask.sum()), dtype=np.float32))


class WellWriter:
    """Creates a Well-schema file for ``n`` trajectories and fills it batch by batch.

    The file is marked ``complete = True`` only by :meth:`finish`; a reader refuses a file
    without that mark, so an interrupted generation is never mistaken for a dataset.
    """

    def __init__(self, path: str | Path, desc: DatasetDescription, n: int, attrs: dict) -> None:
        self.path = Path(path)
        self.desc = desc
        self.n = n
        self.file = h5py.File(self.path, "w")
        f = self.file
        constants = {k: float(v) for k, v in desc.scalars.items()}
        f.attrs.update({
            "dataset_name": attrs.get("dataset_name", desc.family),
            "grid_type": desc.grid_type,
            "n_spatial_dims": 2,
            "n_trajectories": n,
            "simulation_parameters": list(constants) + list(desc.per_sample_scalars),
            **constants,
            "pdebench_x_format": FORMAT_VERSION,
            "family": desc.family,
            "equation": desc.equation,
            "complete": False,
        })
        for key, value in attrs.items():
            f.attrs[key] = json.dumps(value) if isinstance(value, (dict, list)) else value

        _write_dimensions(f, desc)
        _write_boundary_conditions(f, desc)

        scalars = f.create_group("scalars")
        scalars.attrs["field_names"] = list(constants) + list(desc.per_sample_scalars)
        for name, value in constants.items():
            ds = scalars.create_dataset(name, data=value)
            ds.attrs["sample_varying"] = False
            ds.attrs["time_varying"] = False
        for name in desc.per_sample_scalars:
            ds = scalars.create_dataset(name, shape=(n,), dtype=np.float64)
            ds.attrs["sample_varying"] = True
            ds.attrs["time_varying"] = False

        groups = {order: f.create_group(name) for order, name in FIELD_GROUPS.items()}
        f.create_group("t2_fields").attrs["field_names"] = []
        for order, group in groups.items():
            group.attrs["field_names"] = [fi.name for fi in desc.fields if fi.order == order]
        for fi in desc.fields:
            if fi.order not in FIELD_GROUPS:
                raise ValueError(f"field {fi.name}: order {fi.order} not supported (0 or 1)")
            shape = _field_shape(n, desc, fi.order, fi.time_varying)
            ds = groups[fi.order].create_dataset(fi.name, shape=shape, dtype=np.float32,
                                                 chunks=(1,) + shape[1:])
            ds.attrs["dim_varying"] = [True, True]
            ds.attrs["sample_varying"] = True
            ds.attrs["time_varying"] = fi.time_varying
            ds.attrs["description"] = fi.description

    def write(self, start: int, batch: dict[str, np.ndarray]) -> None:
        """Write samples [start, start + B) from a generator's output dict."""
        b = None
        for fi in self.desc.fields:
            if fi.name not in batch:
                raise KeyError(f"generator output lacks field {fi.name!r}")
            arr = np.asarray(batch[fi.name])
            expected = _field_shape(arr.shape[0], self.desc, fi.order, fi.time_varying)
            if arr.shape != expected:
                raise ValueError(f"field {fi.name}: generator returned {arr.shape}, expected {expected}")
            b = arr.shape[0]
            self.file[FIELD_GROUPS[fi.order]][fi.name][start:start + b] = arr.astype(np.float32)
        for name in self.desc.per_sample_scalars:
            values = np.asarray(batch[name], dtype=np.float64)
            self.file["scalars"][name][start:start + len(values)] = values

    def finish(self) -> None:
        self.file.attrs["complete"] = True
        self.file.close()

    def abort(self) -> None:
        self.file.close()


def missing_virtual_sources(f: h5py.File, path: str | Path) -> list[str]:
    """Source files of the file's virtual datasets that do not exist (relative names are taken
    from the file's own directory, as HDF5 resolves them)."""
    missing: set[str] = set()

    def visit(_name, obj):
        if isinstance(obj, h5py.Dataset) and obj.is_virtual:
            for src in obj.virtual_sources():
                if src.file_name != "." and not (Path(path).parent / src.file_name).exists():
                    missing.add(src.file_name)

    f.visititems(visit)
    return sorted(missing)


def is_well_file(f: h5py.File) -> bool:
    return "n_spatial_dims" in f.attrs and ("t0_fields" in f or "t1_fields" in f)


def _boundary_types(f: h5py.File) -> list[str]:
    """Each boundary group's exact type: ours (pdebench_x_bc_type) where the Well's bc_type maps
    it (dirichlet -> wall), else bc_type. Format 1 files (one group for all axes) read the same."""
    groups = f["boundary_conditions"].values() if "boundary_conditions" in f else []
    return [str(g.attrs.get("pdebench_x_bc_type", g.attrs["bc_type"])) for g in groups]


class WellSource(FieldSource):
    """Lazy reader of one Well-schema file (any producer, not only ours)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._file: h5py.File | None = None
        f = self._open()
        if not is_well_file(f):
            raise DataFormatError(f"{path} is not a Well-schema file (no n_spatial_dims attr / t0_fields group)")
        if "pdebench_x_format" in f.attrs and not bool(f.attrs.get("complete", False)):
            raise DataFormatError(
                f"{path} was not completely written (generation interrupted). Delete it and run again: "
                "a missing dataset is regenerated.")
        missing = missing_virtual_sources(f, self.path)
        if missing:
            raise DataFormatError(
                f"{path} maps its samples onto shard files (HDF5 virtual datasets) of which {len(missing)} are "
                f"missing, e.g. {missing[:2]}; their samples would read as fill values. Restore the shards, or "
                "regenerate them (pdebench-x generate data=<family> ...).")
        self._fields: dict[str, tuple[str, int | None]] = {}
        channels: dict[str, ChannelInfo] = {}
        n = int(f.attrs["n_trajectories"])
        spatial = None
        for group_name, order in (("t0_fields", 0), ("t1_fields", 1)):
            if group_name not in f:
                continue
            for name, ds in f[group_name].items():
                time_varying = bool(ds.attrs.get("time_varying", True))
                expected_ndim = 1 + int(time_varying) + 2 + order
                if ds.ndim != expected_ndim or ds.shape[0] != n:
                    raise DataFormatError(
                        f"{path}: {group_name}/{name} has shape {ds.shape}; expected {expected_ndim} dims "
                        f"with {n} trajectories first")
                xy = ds.shape[1 + int(time_varying):3 + int(time_varying)]
                if spatial is None:
                    spatial = tuple(xy)
                elif tuple(xy) != spatial:
                    raise DataFormatError(f"{path}: {group_name}/{name} has grid {xy}, others {spatial}")
                if order == 0:
                    self._fields[name] = (f"{group_name}/{name}", None)
                    channels[name] = ChannelInfo(name, time_varying)
                else:
                    for comp, axis in enumerate(VECTOR_AXES):
                        self._fields[f"{name}_{axis}"] = (f"{group_name}/{name}", comp)
                        channels[f"{name}_{axis}"] = ChannelInfo(f"{name}_{axis}", time_varying)
        if spatial is None:
            raise DataFormatError(f"{path}: the Well file has no fields")
        dims = f["dimensions"]
        steady = not any(c.time_varying for c in channels.values())
        # a steady file's one-frame time axis (format 2) is there for The Well's reader only
        times = dims["time"][()] if "time" in dims and not steady else None
        scalars, per_sample = {}, []
        if "scalars" in f:
            for name, ds in f["scalars"].items():
                if ds.attrs.get("sample_varying", False):
                    per_sample.append(name)
                else:
                    scalars[name] = float(ds[()])
        bc_types = _boundary_types(f)
        attrs = {k: (v.tolist() if isinstance(v, (np.ndarray, np.generic)) else v) for k, v in f.attrs.items()}
        self.info = SourceInfo(
            path=self.path, family=str(f.attrs.get("family", f.attrs.get("dataset_name", "unknown"))),
            channels=channels, n_samples=n, spatial_shape=spatial,
            x=dims["x"][()], y=dims["y"][()], times=times,
            bc_type=str(bc_types[0]) if bc_types else "open",
            scalars=scalars, per_sample_scalars=per_sample, attrs=attrs)

    def _open(self) -> h5py.File:
        if self._file is None:
            try:
                self._file = h5py.File(self.path, "r")
            except OSError as err:
                raise DataFormatError(
                    f"cannot open {self.path} as HDF5 ({err}); the file is corrupt or truncated. "
                    "Delete it to regenerate, or point the data config at a valid file.") from err
        return self._file

    def __getstate__(self):
        # h5py handles do not cross process boundaries: each DataLoader worker reopens the file.
        state = dict(self.__dict__)
        state["_file"] = None
        return state

    def _read_channel(self, index, name, times):
        dataset, comp = self._fields[name]
        ds = self._open()[dataset]
        key = (index,) + ((times if times is not None else slice(None),) if ds.attrs.get("time_varying", True) else ())
        arr = ds[key]
        return arr if comp is None else arr[..., comp]

    def _read_scalar(self, index, name):
        return self._open()["scalars"][name][index]
