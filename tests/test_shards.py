"""Sharded generation: bitwise the unsharded dataset whatever the number of shards, read as one
file through HDF5 virtual datasets (no copy), movable, and strict about missing or foreign shards.

The data are a tiny parameter-varying Navier–Stokes set (per-sample viscosity: a per-sample
scalar as well as the fields), made by the batched torch generator, the one whose batches
differ most between shardings (a shard's samples are solved together).
"""
from __future__ import annotations

import shutil

import h5py
import numpy as np
import pytest

from conftest import compose_config
from pdebench_x.cli import main as cli_main
from pdebench_x.data.build import ensure_dataset, plan_from_config
from pdebench_x.data.datamodule import PDEDataModule
from pdebench_x.data.formats import DataFormatError
from pdebench_x.data.formats.well import WellSource
from pdebench_x.data.generators.base import SPLITS
from pdebench_x.data import shards

NS = ["data=ns", "data.generator.resolution=16", "data.generator.solve_resolution=16",
      "data.generator.ic_resolution=32", "data.generator.n_steps=1", "data.generator.viscosity_range=[1e-3,2e-3]",
      "data.sizes.train=6", "data.sizes.valid=3", "data.sizes.test=3"]
KEYS = ("t0_fields/vorticity", "t1_fields/velocity", "scalars/viscosity")


# Small FFTs on a shared, loaded machine: 2 torch threads wait on each other ~100x longer
# than one thread computes (measured 32 ms vs 0.1 ms per 16x16 irfft2).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def plan_at(root):
    return plan_from_config(compose_config(NS, data_dir=root).data, root)


def bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint8)


@pytest.fixture(scope="module")
def unsharded(tmp_path_factory):
    plan = plan_at(tmp_path_factory.mktemp("unsharded"))
    ensure_dataset(plan, workers=1, progress=False)
    return plan


@pytest.fixture(scope="module", params=[2, 3])
def sharded(request, tmp_path_factory):
    count = request.param
    plan = plan_at(tmp_path_factory.mktemp(f"sharded{count}"))
    # the last shard out writes the virtual files; run them out of order
    for index in reversed(range(count)):
        shards.run_shard(plan, index, count)
    return plan, count


def test_shards_are_bitwise_the_unsharded_dataset(unsharded, sharded):
    plan, count = sharded
    assert plan.name == unsharded.name
    for split in SPLITS:
        with h5py.File(unsharded.split_path(split), "r") as a, h5py.File(plan.split_path(split), "r") as b:
            assert b.attrs["shards"] == count and bool(b.attrs["complete"])
            for key in KEYS:
                assert b[key].is_virtual and not a[key].is_virtual
                assert a[key].shape == b[key].shape and a[key].dtype == b[key].dtype
                assert np.array_equal(bits(a[key][()]), bits(b[key][()])), (split, key)
            # the viscosity really varies per sample and the fields are not trivial
            assert np.unique(b["scalars/viscosity"][()]).size == plan.sizes[split]
            assert np.std(b["t0_fields/vorticity"][()]) > 1e-3
            for attr in ("settings", "seed", "generator_version", "n_trajectories", "family"):
                assert a.attrs[attr] == b.attrs[attr], attr


def test_nothing_is_copied(sharded):
    plan, count = sharded
    for split in SPLITS:
        with h5py.File(plan.split_path(split), "r") as f:
            for key in KEYS:
                assert f[key].id.get_storage_size() == 0, key       # no bytes of its own: all in the shards
                sources = {s.file_name for s in f[key].virtual_sources()}
                assert len(sources) == count and all(name.startswith("../../shards/") for name in sources)


def test_the_pipeline_reads_the_virtual_files(unsharded, sharded):
    plan, _ = sharded
    assert ensure_dataset(plan, progress=False)["train"] == plan.split_path("train")     # reused, not rebuilt
    windows = NS + ["data.problem.history=1", "data.problem.first_frame=0"]     # 2 frames: 1 in, 1 out
    dm_a = PDEDataModule(compose_config(windows).data, root=unsharded.root)
    dm_b = PDEDataModule(compose_config(windows).data, root=plan.root)
    dm_a.setup(), dm_b.setup()
    assert dm_a.stats[0] == dm_b.stats[0]
    for split in SPLITS:
        a, b = dm_a.dataset(split), dm_b.dataset(split)
        assert len(a) == len(b)
        for i in range(len(a)):
            assert np.array_equal(np.asarray(a[i]["x"]), np.asarray(b[i]["x"]))
            assert np.array_equal(np.asarray(a[i]["y"]), np.asarray(b[i]["y"]))


def test_dataset_directory_can_be_moved(sharded, tmp_path):
    plan, _ = sharded
    moved = tmp_path / "elsewhere"
    shutil.copytree(plan.root / plan.name, moved / plan.name)
    src = WellSource(moved / plan.name / "data" / "test" / plan.split_path("test").name)
    with h5py.File(plan.split_path("test"), "r") as f:
        assert np.array_equal(src.read(2, ["vorticity"]), f["t0_fields/vorticity"][2][:, None])


def test_a_missing_shard_is_refused(sharded, tmp_path):
    plan, count = sharded
    copy = tmp_path / "copy"
    shutil.copytree(plan.root / plan.name, copy / plan.name)
    (copy / plan.name / "shards" / "valid" / shards.shard_path(plan, "valid", count - 1, count).name).unlink()
    with pytest.raises(DataFormatError, match="missing"):
        WellSource(copy / plan.name / "data" / "valid" / plan.split_path("valid").name)
    moved_plan = plan_at(copy)
    with pytest.raises(DataFormatError, match=rf"shard\(s\) \[{count - 1}\] of {count} are missing"):
        shards.assemble(moved_plan, "valid", count)


def test_a_shard_of_other_settings_is_refused(sharded, tmp_path):
    plan, count = sharded
    copy = tmp_path / "copy"
    shutil.copytree(plan.root / plan.name, copy / plan.name)
    with h5py.File(copy / plan.name / "shards" / "test" / shards.shard_path(plan, "test", 0, count).name, "r+") as f:
        f.attrs["seed"] = 99
    with pytest.raises(DataFormatError, match="does not belong"):
        shards.assemble(plan_at(copy), "test", count)


def test_ranges_cover_every_sample_once():
    for n in (1, 5, 6, 17):
        for count in range(1, n + 1):
            ranges = [shards.shard_range(n, i, count) for i in range(count)]
            assert ranges[0][0] == 0 and ranges[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))
            sizes = [b - a for a, b in ranges]
            assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1


def test_bad_shard_arguments(tmp_path):
    for text in ("3", "1/0", "4/4", "-1/2", "a/b"):
        with pytest.raises(ValueError, match="shard"):
            shards.parse_shard(text)
    assert shards.parse_shard(" 2/5 ") == (2, 5)
    with pytest.raises(ValueError, match="at most 3 shards"):
        shards.run_shard(plan_at(tmp_path), 0, 4)


def test_command_line(tmp_path, capsys):
    """``pdebench-x generate``: a shard, the assembly, a whole split, and a contradictory request."""
    root = tmp_path / "cli"
    overrides = [o for o in NS if not o.startswith("data.sizes")] + [
        "data.sizes.train=2", "data.sizes.valid=1", "data.sizes.test=1", f"paths.data_dir={root}"]
    assert cli_main(["generate", *overrides, "shard=0/1", "split=test"]) == 0
    plan = plan_from_config(compose_config(overrides).data, root)
    assert shards.shard_path(plan, "test", 0, 1).exists() and not plan.split_path("test").exists()
    assert cli_main(["generate", *overrides, "assemble=1", "split=test"]) == 0
    assert plan.split_path("test").exists()
    assert cli_main(["generate", *overrides, "split=valid"]) == 0
    assert plan.split_path("valid").exists() and not plan.split_path("train").exists()
    capsys.readouterr()
    assert cli_main(["generate", *overrides, "shard=0/1", "assemble=1"]) == 2
    assert "not both" in capsys.readouterr().err
    assert cli_main(["generate", *overrides, "model.net.width=3"]) == 2
    assert "only data=<family>" in capsys.readouterr().err
