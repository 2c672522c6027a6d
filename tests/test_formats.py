"""On-disk formats: The Well schema (writer and reader), PDEBench's Darcy and shallow-water
layouts, FNO's Navier–Stokes .mat files, and the errors for files in none of them.

Every external layout is written here by the test itself with h5py, with values that encode
their own position (sample, frame, x index, y index), so a transposed or shifted read fails.
"""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from pdebench_x.data.datamodule import PDEDataModule
from pdebench_x.data.formats import DataFormatError, detect_format, open_source
from pdebench_x.data.formats.well import WellSource, WellWriter
from pdebench_x.data.generators.base import BoundaryInfo, DatasetDescription, FieldInfo

from conftest import compose_config, read_split

KNOWN_LAYOUT_WORDS = ("The Well", "PDEBench Darcy", "shallow water", "FNO")


# ---------------------------------------------------------------------------------------
# The Well schema
# ---------------------------------------------------------------------------------------

def test_generated_file_follows_the_well_schema(tiny_darcy):
    plan = tiny_darcy.plan
    for split, path in tiny_darcy.paths.items():
        # one file per split under <name>/data/<split>/
        assert path == tiny_darcy.root / plan.name / "data" / split / f"{plan.name}_{split}.hdf5"
        n = plan.sizes[split]
        with h5py.File(path, "r") as f:
            attrs = f.attrs
            for key in ("dataset_name", "grid_type", "n_spatial_dims", "n_trajectories",
                        "simulation_parameters", "generator", "generator_version", "seed", "settings"):
                assert key in attrs, f"root attr {key} missing"
            assert attrs["dataset_name"] == plan.name
            assert attrs["grid_type"] == "cartesian"
            assert int(attrs["n_spatial_dims"]) == 2
            assert int(attrs["n_trajectories"]) == n
            assert set(attrs["simulation_parameters"]) == {"a_pos", "a_neg", "forcing"}
            # each constant simulation parameter is also a root attr, as in The Well
            assert float(attrs["a_pos"]) == 12.0 and float(attrs["a_neg"]) == 3.0 and float(attrs["forcing"]) == 1.0
            assert attrs["generator"] == "pdebench_x.data.generators.darcy.DarcyGenerator"
            assert str(attrs["generator_version"]) == "1"
            assert int(attrs["seed"]) == plan.seed
            assert json.loads(attrs["settings"]) == plan.generator
            assert attrs["split"] == split and bool(attrs["complete"])

            res = plan.generator["resolution"]
            centres = (np.arange(res) + 0.5) / res
            assert list(f["dimensions"].attrs["spatial_dims"]) == ["x", "y"]
            np.testing.assert_allclose(f["dimensions/x"][()], centres, rtol=0, atol=1e-15)
            np.testing.assert_allclose(f["dimensions/y"][()], centres, rtol=0, atol=1e-15)

            # one boundary group per axis (what The Well's reader needs); Dirichlet is a Well "wall",
            # the exact type is kept in our own attr
            bcs = f["boundary_conditions"]
            assert sorted(bcs) == ["x_dirichlet_zero", "y_dirichlet_zero"]
            for axis in ("x", "y"):
                bc = bcs[f"{axis}_dirichlet_zero"]
                assert list(bc.attrs["associated_dims"]) == [axis] and list(bc.attrs["associated_fields"]) == ["u"]
                assert bc.attrs["bc_type"] == "wall" and bc.attrs["pdebench_x_bc_type"] == "dirichlet"
                assert bc["mask"].shape == (res,) and bc["mask"][()].sum() == 2
            # a steady dataset carries a one-frame time axis, as The Well's reader requires
            np.testing.assert_array_equal(f["dimensions/time"][()], [0.0])

            assert set(f["scalars"].attrs["field_names"]) == {"a_pos", "a_neg", "forcing"}
            assert float(f["scalars/forcing"][()]) == 1.0

            assert set(f["t0_fields"].keys()) == {"a", "u"}
            for name in ("a", "u"):
                ds = f["t0_fields"][name]
                assert ds.shape == (n, res, res)          # static field: [B, X, Y]
                assert ds.dtype == np.float32
                assert not ds.attrs["time_varying"] and ds.attrs["sample_varying"]
                assert ds.chunks == (1, res, res)           # one sample per chunk: lazy reads
            a = f["t0_fields/a"][()]
            assert set(np.unique(a)) <= {3.0, 12.0}
            assert len(f["t1_fields"]) == 0


def _toy_description(nx=5, ny=4, times=(0.0, 0.5, 1.0)) -> DatasetDescription:
    return DatasetDescription(
        family="toy", x=(np.arange(nx) + 0.5) / nx, y=(np.arange(ny) + 0.5) / ny,
        times=np.asarray(times),
        fields=[FieldInfo("w", order=0, time_varying=True), FieldInfo("vel", order=1, time_varying=True),
                FieldInfo("k", order=0, time_varying=False)],
        boundary_conditions=[BoundaryInfo("periodic_xy", "periodic", ["x", "y"], ["w", "vel"])],
        scalars={"g": 9.81}, per_sample_scalars=["nu"], equation="toy")


def _toy_arrays(n, desc, seed=0):
    rng = np.random.default_rng(seed)
    t, nx, ny = len(desc.times), len(desc.x), len(desc.y)
    return {"w": rng.standard_normal((n, t, nx, ny)).astype(np.float32),
            "vel": rng.standard_normal((n, t, nx, ny, 2)).astype(np.float32),
            "k": rng.standard_normal((n, nx, ny)).astype(np.float32),
            "nu": rng.uniform(1e-3, 1e-2, n)}


def write_toy(path, n=5, finish=True, seed=0):
    desc = _toy_description()
    data = _toy_arrays(n, desc, seed)
    writer = WellWriter(path, desc, n, {"dataset_name": "toy_test", "seed": 7, "settings": {"dt": 0.1}})
    # two batches of uneven size, as the build driver writes chunks
    writer.write(0, {k: v[:3] for k, v in data.items()})
    writer.write(3, {k: v[3:] for k, v in data.items()})
    if finish:
        writer.finish()
    else:
        writer.abort()
    return desc, data


def test_well_writer_reader_round_trip(tmp_path):
    path = tmp_path / "toy.hdf5"
    desc, data = write_toy(path)
    with h5py.File(path, "r") as f:
        assert f["t0_fields/w"].shape == (5, 3, 5, 4)
        assert f["t1_fields/vel"].shape == (5, 3, 5, 4, 2)
        assert f["t0_fields/k"].shape == (5, 5, 4)
        np.testing.assert_array_equal(f["dimensions/time"][()], desc.times)
        assert json.loads(f.attrs["settings"]) == {"dt": 0.1} and int(f.attrs["seed"]) == 7

    assert detect_format(path) == "well"
    src = open_source(path)
    assert isinstance(src, WellSource)
    info = src.info
    assert len(src) == 5 and info.spatial_shape == (5, 4) and info.n_times == 3
    assert set(info.channels) == {"w", "vel_x", "vel_y", "k"}
    assert info.bc_type == "periodic"
    np.testing.assert_array_equal(info.x, desc.x)
    for i in range(5):
        got = src.read(i, ["w", "vel_x", "vel_y"])
        assert got.shape == (3, 3, 5, 4) and got.dtype == np.float32
        np.testing.assert_array_equal(got[:, 0], data["w"][i])
        np.testing.assert_array_equal(got[:, 1], data["vel"][i, ..., 0])
        np.testing.assert_array_equal(got[:, 2], data["vel"][i, ..., 1])
        np.testing.assert_array_equal(src.read(i, ["w"], slice(1, 3))[:, 0], data["w"][i, 1:3])
        static = src.read(i, ["k"])
        assert static.shape == (1, 1, 5, 4)
        np.testing.assert_array_equal(static[0, 0], data["k"][i])
        scalars = src.read_scalars(i)
        assert scalars["g"] == pytest.approx(9.81) and scalars["nu"] == data["nu"][i]
    with pytest.raises(DataFormatError, match="does not vary in time"):
        src.read(0, ["k"], slice(0, 1))
    with pytest.raises(IndexError, match="out of range"):
        src.read(5, ["w"])


def test_interrupted_well_file_is_refused(tmp_path):
    path = tmp_path / "toy.hdf5"
    write_toy(path, finish=False)
    with pytest.raises(DataFormatError, match="not completely written"):
        open_source(path)


def test_writer_rejects_wrong_field_shape(tmp_path):
    desc = _toy_description()
    data = _toy_arrays(2, desc)
    writer = WellWriter(tmp_path / "bad.hdf5", desc, 2, {})
    try:
        with pytest.raises(ValueError, match=r"field w: generator returned \(2, 3, 4, 5\), expected \(2, 3, 5, 4\)"):
            writer.write(0, {**data, "w": np.swapaxes(data["w"], 2, 3)})
    finally:
        writer.abort()


@pytest.mark.parametrize("shape, message", [
    ((5, 5, 4), r"t0_fields/w has shape \(5, 5, 4\); expected 4 dims"),           # the time axis is missing
    ((4, 3, 5, 4), r"t0_fields/w has shape \(4, 3, 5, 4\).*5 trajectories"),       # wrong sample count
    ((5, 3, 5, 6), r"t0_fields/w has grid \(5, 6\)"),                               # grid differs from the others
])
def test_well_file_with_wrong_field_shape_is_refused(tmp_path, shape, message):
    path = tmp_path / "toy.hdf5"
    write_toy(path)
    with h5py.File(path, "r+") as f:
        del f["t0_fields/w"]
        ds = f["t0_fields"].create_dataset("w", data=np.zeros(shape, dtype=np.float32))
        ds.attrs["time_varying"] = True
    with pytest.raises(DataFormatError, match=message):
        open_source(path)


def test_unknown_channel_names_the_available_ones(tiny_darcy):
    src = open_source(tiny_darcy.paths["train"])
    with pytest.raises(DataFormatError) as err:
        src.read(0, ["a", "pressure"])
    text = str(err.value)
    assert "['pressure']" in text and "['a', 'u']" in text and "data config" in text


# ---------------------------------------------------------------------------------------
# PDEBench layouts
# ---------------------------------------------------------------------------------------

def test_pdebench_darcy_layout_reads_and_splits_by_config(pdebench_darcy_file, tiny_darcy):
    assert detect_format(pdebench_darcy_file) == "pdebench_darcy"
    with h5py.File(pdebench_darcy_file, "r") as f:
        nu, tensor = f["nu"][()], f["tensor"][()]
    src = open_source(pdebench_darcy_file)
    assert len(src) == 24 and src.info.spatial_shape == (16, 16)
    assert src.info.scalars == {"forcing": 1.0} and src.info.bc_type == "dirichlet"
    got = src.read(17, ["a", "u"])
    assert got.shape == (1, 2, 16, 16)
    np.testing.assert_array_equal(got[0, 0], nu[17])
    np.testing.assert_array_equal(got[0, 1], tensor[17, 0])

    cfg = compose_config([f"data.path={pdebench_darcy_file}",
                          "data.splits={train:[0,14],valid:[14,19],test:[-5,null]}"])
    dm = PDEDataModule(cfg.data, root="/nonexistent")
    dm.prepare_data()   # an external file is never generated
    dm.setup()
    sizes = {s: len(dm.sources[s]) for s in ("train", "valid", "test")}
    assert sizes == {"train": 14, "valid": 5, "test": 5}
    np.testing.assert_array_equal(dm.sources["valid"].indices, np.arange(14, 19))
    np.testing.assert_array_equal(dm.sources["test"].indices, np.arange(19, 24))
    item = dm.dataset("valid")[2]
    np.testing.assert_array_equal(item["x"][0, 0].numpy(), nu[16])
    np.testing.assert_array_equal(item["y"][0, 0].numpy(), tensor[16, 0])
    # the file's last 5 samples are the tiny dataset's valid + test splits
    np.testing.assert_array_equal(dm.dataset("test")[4]["y"][0, 0].numpy(),
                                  read_split(tiny_darcy.paths["test"], "u")[3])


def test_pdebench_darcy_wrong_shapes_are_refused(tmp_path):
    path = tmp_path / "darcy.hdf5"
    with h5py.File(path, "w") as f:
        f["nu"] = np.zeros((4, 8, 8), np.float32)
        f["tensor"] = np.zeros((4, 8, 8), np.float32)       # missing the channel axis
    with pytest.raises(DataFormatError, match=r"tensor \[N, 1, X, Y\].*tensor \(4, 8, 8\)"):
        open_source(path)


def test_pdebench_swe_layout(tmp_path):
    path = tmp_path / "2D_rdb_NA_NA.h5"
    n, t, nx, ny = 3, 4, 6, 5
    x, y, times = (np.arange(nx) + 0.5) / nx * 5 - 2.5, (np.arange(ny) + 0.5) / ny * 5 - 2.5, np.linspace(0, 1, t)
    code = lambda i: (1000.0 * i + 100.0 * np.arange(t)[:, None, None] + 10.0 * np.arange(nx)[None, :, None]
                      + np.arange(ny)[None, None, :])
    with h5py.File(path, "w") as f:
        for i in range(n):
            g = f.create_group(f"{i:04d}")
            g["data"] = code(i)[..., None].astype(np.float32)
            g["grid/x"], g["grid/y"], g["grid/t"] = x, y, times
    assert detect_format(path) == "pdebench_swe"
    src = open_source(path)
    assert len(src) == n and src.info.spatial_shape == (nx, ny) and set(src.info.channels) == {"h"}
    np.testing.assert_array_equal(src.info.times, times)
    np.testing.assert_array_equal(src.info.x, x)
    for i in range(n):
        np.testing.assert_array_equal(src.read(i, ["h"])[:, 0], code(i))
    np.testing.assert_array_equal(src.read(2, ["h"], slice(1, 3))[:, 0], code(2)[1:3])


# ---------------------------------------------------------------------------------------
# FNO's Navier–Stokes .mat files
# ---------------------------------------------------------------------------------------

def _ns_arrays(n=3, nx=6, ny=5, nt=4):
    """a[n, i, j] and u[n, i, j, k] that encode their indices: 1000 n + 100 k + 10 i + j (+ 50 for u)."""
    i = np.arange(nx)[:, None]
    j = np.arange(ny)[None, :]
    a = np.stack([1000.0 * s + 10 * i + j for s in range(n)])
    u = np.stack([np.stack([1000.0 * s + 100 * (k + 1) + 10 * i + j + 50 for k in range(nt)], -1) for s in range(n)])
    return a, u, np.arange(1, nt + 1) * 0.5


def write_fno_mat(path, matlab: bool):
    a, u, t = _ns_arrays()
    if matlab:
        # MATLAB v7.3: HDF5 after a 512-byte user block, column-major arrays (axes reversed
        # as h5py sees them), a MATLAB_class attribute on each variable; t is a 1 x T row.
        with h5py.File(path, "w", userblock_size=512) as f:
            for name, arr in (("a", a), ("u", u), ("t", t[None, :])):
                ds = f.create_dataset(name, data=np.ascontiguousarray(arr.T))
                ds.attrs["MATLAB_class"] = np.bytes_(b"double")
        with open(path, "r+b") as fh:
            fh.write(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2020 HDF5 schema 1.00 .")
    else:
        with h5py.File(path, "w") as f:
            f["a"], f["u"], f["t"] = a, u, t
    return a, u, t


@pytest.mark.parametrize("matlab", [True, False], ids=["matlab_v73", "python_order"])
def test_fno_ns_orientation(tmp_path, matlab):
    path = tmp_path / "ns_V1e-3_N3_T4.mat"
    a, u, t = write_fno_mat(path, matlab)
    if matlab:
        with h5py.File(path, "r") as f:
            assert f["u"].shape == (4, 5, 6, 3)        # what h5py sees: [T, Y, X, N]
    assert detect_format(path) == "fno_ns"
    src = open_source(path)
    assert len(src) == 3 and src.info.spatial_shape == (6, 5)
    np.testing.assert_array_equal(src.info.times, np.concatenate([[0.0], t]))
    assert src.info.bc_type == "periodic"
    for s in range(3):
        frames = src.read(s, ["vorticity"])[:, 0]           # [T + 1, X, Y]
        assert frames.shape == (5, 6, 5)
        np.testing.assert_array_equal(frames[0], a[s])     # frame 0 is the initial vorticity a
        for k in range(4):
            np.testing.assert_array_equal(frames[k + 1], u[s, :, :, k])
        # the encoding, spelled out: value at (i=4, j=1) of frame 2 of sample s
        assert frames[2, 4, 1] == 1000 * s + 200 + 40 + 1 + 50
    np.testing.assert_array_equal(src.read(1, ["vorticity"], slice(2, 4))[:, 0],
                                  np.moveaxis(u[1, :, :, 1:3], -1, 0))


# ---------------------------------------------------------------------------------------
# Files in no known layout
# ---------------------------------------------------------------------------------------

def test_foreign_hdf5_names_the_known_layouts(tmp_path):
    path = tmp_path / "foreign.h5"
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        for name in ("fields", "meta", "run_7"):
            g = f.create_group(name)
            g["values"] = rng.standard_normal((3, 4))
    with pytest.raises(DataFormatError) as err:
        open_source(path)
    text = str(err.value)
    assert "no known schema" in text and "fields" in text
    for word in KNOWN_LAYOUT_WORDS:
        assert word in text


def test_truncated_file_gives_a_clear_error(tiny_darcy, tmp_path):
    raw = tiny_darcy.paths["valid"].read_bytes()
    path = tmp_path / "truncated.hdf5"
    path.write_bytes(raw[:len(raw) // 2])
    for fmt in ("auto", "well"):
        with pytest.raises(DataFormatError, match="truncated"):
            open_source(path, fmt)


def test_non_hdf5_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "notes.hdf5"
    path.write_text("a,u\n1,2\n")
    with pytest.raises(DataFormatError, match="not HDF5"):
        open_source(path)
    with pytest.raises(FileNotFoundError, match="no such data file"):
        open_source(tmp_path / "missing.hdf5")
    with pytest.raises(ValueError, match="unknown data format 'netcdf'"):
        open_source(path, "netcdf")
