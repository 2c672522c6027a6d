"""The Well's own reader (``the_well.data.WellDataset``) opens our generated splits.

A tiny test split of each family is generated (milliseconds each), opened with WellDataset's
default boundary handling, and every sample it serves is compared, exactly, with what our
reader returns for the same trajectory and frames. The calls are those the data cards give.
Also: our reader still reads files in the previous layout (pdebench_x_format 1).
"""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from pdebench_x.data.build import DatasetPlan, generate_split
from pdebench_x.data.formats import open_source

well_data = pytest.importorskip("the_well.data")

#: Tiny settings per family: time-dependent ones store 4 frames (a window of 2 + 1 fits twice).
TINY = {
    "darcy": {"grid": "cells", "resolution": 8},
    "ns": {"resolution": 16, "solve_resolution": 16, "ic_resolution": 16, "n_steps": 3},
    "swe": {"resolution": 16, "n_frames": 4},
    "convection": {"resolution": 16, "n_frames": 4},
    "burgers": {"resolution": 16, "n_frames": 4},
}
N_SAMPLES = 2
#: The WellDataset window per family: a steady file holds one frame (see datasets/darcy.md).
WINDOWS = {"darcy": (1, 0)}
DEFAULT_WINDOW = (2, 1)
#: The Well's BoundaryCondition values: WALL 0, OPEN 1, PERIODIC 2; rows x, y; columns low, high.
EXPECTED_BCS = {"darcy": [[0, 0], [0, 0]], "ns": [[2, 2], [2, 2]], "swe": [[1, 1], [1, 1]],
                "convection": [[2, 2], [1, 1]], "burgers": [[2, 2], [1, 1]]}


@pytest.fixture(scope="module")
def splits(tmp_path_factory) -> dict:
    """family -> its tiny test split file."""
    root = tmp_path_factory.mktemp("well_reader")
    out = {}
    for family, generator in TINY.items():
        plan = DatasetPlan(family=family, preset="small", generator=dict(generator),
                           sizes={"train": 1, "valid": 1, "test": N_SAMPLES}, seed=0, root=root, customised=True)
        out[family] = generate_split(plan, "test", workers=1, progress=False)
    return out


def well_dataset(path, family):
    """The data cards' call: path = the dataset directory (<root>/<name>), the split by name."""
    n_in, n_out = WINDOWS.get(family, DEFAULT_WINDOW)
    dataset_dir, split = path.parents[2], path.parent.name
    return well_data.WellDataset(path=str(dataset_dir), well_split_name=split,
                                 n_steps_input=n_in, n_steps_output=n_out)


def channels_last(arr: np.ndarray) -> np.ndarray:
    """Our [T, C, X, Y] -> The Well's [T, X, Y, C]."""
    return np.moveaxis(arr, 1, -1)


def well_channels(ds, constant: bool) -> list[str]:
    names = ds.metadata.constant_field_names if constant else ds.metadata.field_names
    return [name for order in sorted(names) for name in names[order]]


@pytest.mark.parametrize("family", ["ns", "swe", "convection", "burgers"])
def test_well_reads_time_dependent_splits(splits, family):
    path = splits[family]
    ours = open_source(path)
    ds = well_dataset(path, family)
    names = well_channels(ds, constant=False)
    assert sorted(names) == sorted(ours.info.channels)
    n_in, n_out = DEFAULT_WINDOW
    windows = ours.info.n_times - (n_in + n_out) + 1
    assert len(ds) == N_SAMPLES * windows
    for index in range(len(ds)):
        sample = ds[index]
        trajectory, start = divmod(index, windows)
        frames = channels_last(ours.read(trajectory, names, slice(start, start + n_in + n_out)))
        np.testing.assert_array_equal(sample["input_fields"].numpy(), frames[:n_in])
        np.testing.assert_array_equal(sample["output_fields"].numpy(), frames[n_in:])
        np.testing.assert_array_equal(sample["boundary_conditions"].numpy(), EXPECTED_BCS[family])


def test_well_reads_the_steady_darcy_split(splits):
    path = splits["darcy"]
    ours = open_source(path)
    ds = well_dataset(path, "darcy")
    names = well_channels(ds, constant=True)
    assert names == ["a", "u"] and well_channels(ds, constant=False) == []
    assert len(ds) == N_SAMPLES
    for index in range(N_SAMPLES):
        sample = ds[index]
        assert "input_fields" not in sample and "output_fields" not in sample
        expected = channels_last(ours.read(index, names))[0]
        np.testing.assert_array_equal(sample["constant_fields"].numpy(), expected)
        np.testing.assert_array_equal(sample["boundary_conditions"].numpy(), EXPECTED_BCS["darcy"])
        scalars = ours.read_scalars(index)
        np.testing.assert_array_equal(sample["constant_scalars"].numpy(),
                                      [scalars[n] for n in ds.metadata.constant_scalar_names])


def test_the_well_default_window_needs_two_frames_for_darcy(splits):
    """What the data card says: the default window (1 input + 1 output frame) cannot fit a steady file."""
    with pytest.raises(AssertionError, match="not enough steps"):
        well_data.WellDataset(path=str(splits["darcy"].parents[2]), well_split_name="test")


# ---------------------------------------------------------------------------------------
# files in the previous layout (pdebench_x_format 1) still read in pdebench_x
# ---------------------------------------------------------------------------------------

def to_format_1(path) -> None:
    """Rewrite a file's metadata as format 1 wrote it: one boundary group for all axes with a
    1D mask and our bc_type, no time axis in steady data."""
    with h5py.File(path, "r+") as f:
        groups = f["boundary_conditions"]
        key = next(iter(groups))                      # "<axis>_<name>"
        first = groups[key]
        name, bc_type = key.split("_", 1)[1], str(first.attrs["pdebench_x_bc_type"])
        fields = list(first.attrs["associated_fields"])
        axes = [str(g.attrs["associated_dims"][0]) for g in groups.values()]
        mask = np.zeros(len(f["dimensions/x"]), dtype=bool)
        mask[[0, -1]] = True
        del f["boundary_conditions"]
        old = f.create_group("boundary_conditions").create_group(name)
        old.attrs.update({"associated_dims": axes, "associated_fields": fields, "bc_type": bc_type})
        old.create_dataset("mask", data=mask)
        old.create_dataset("values", data=np.zeros(0, dtype=np.float32))
        if not any(ds.attrs["time_varying"] for ds in f["t0_fields"].values()):
            del f["dimensions/time"]
        f.attrs["pdebench_x_format"] = 1


@pytest.mark.parametrize("family", ["darcy", "ns", "swe"])
def test_our_reader_reads_format_1_files(splits, family, tmp_path):
    path = splits[family]
    old = tmp_path / path.name
    old.write_bytes(path.read_bytes())
    to_format_1(old)
    new_src, old_src = open_source(path), open_source(old)
    assert old_src.info.bc_type == new_src.info.bc_type
    assert (old_src.info.times is None) == (new_src.info.times is None) == (family == "darcy")
    assert old_src.info.channels == new_src.info.channels
    names = list(new_src.info.channels)
    for index in range(N_SAMPLES):
        np.testing.assert_array_equal(old_src.read(index, names), new_src.read(index, names))
