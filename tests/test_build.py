"""Building datasets from configs: naming, split independence, determinism across chunking and
workers, generation on first use, and the integrity rules (never rebuild or overwrite a
complete file, rebuild a half-written one, refuse a file that holds other data).
"""
from __future__ import annotations

import copy
import functools
import hashlib
import itertools
import re

import h5py
import numpy as np
import pytest
import yaml
from omegaconf import OmegaConf

from pdebench_x.data import build
from pdebench_x.pdes import family_names
from pdebench_x.data.build import DatasetPlan, ensure_dataset, generate_split, plan_from_config
from pdebench_x.data.formats import DataFormatError, open_source
from pdebench_x.data.generators.base import SPLITS, number_pair, range_setting, sample_seed
from pdebench_x.data.generators.darcy import DarcyGenerator

from conftest import compose_config, read_split

MICRO = {"grid": "cells", "resolution": 8}


def micro_plan(root, sizes=None, customised=False, **changes) -> DatasetPlan:
    """A Darcy plan at 8x8 (milliseconds per sample); not customised, so named ``darcy_small``."""
    fields = dict(family="darcy", preset="small", generator=dict(MICRO),
                  sizes=sizes or {"train": 3, "valid": 2, "test": 2}, seed=0, root=root, customised=customised)
    fields.update(changes)
    return DatasetPlan(**fields)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------
# Splits and determinism
# ---------------------------------------------------------------------------------------

def test_splits_never_overlap(tiny_darcy):
    coefficients = {s: read_split(tiny_darcy.paths[s], "a") for s in SPLITS}
    assert {s: len(c) for s, c in coefficients.items()} == tiny_darcy.plan.sizes
    everything = np.concatenate([coefficients[s] for s in SPLITS]).reshape(24, -1)
    # every pair of the 24 coefficient fields differs in some cell
    distinct = (everything[:, None, :] != everything[None, :, :]).any(-1)
    assert distinct[~np.eye(24, dtype=bool)].all()

    # the per-sample streams differ by split for the same index and seed
    for i in range(24):
        states = {tuple(sample_seed(0, s, i).generate_state(4)) for s in SPLITS}
        assert len(states) == 3
    for split, path in tiny_darcy.paths.items():
        with h5py.File(path, "r") as f:
            assert f.attrs["split"] == split


def test_stored_samples_are_a_function_of_seed_split_and_index(tiny_darcy):
    """What the file holds is exactly the generator's output for SeedSequence(seed, split, i)."""
    gen = DarcyGenerator(**tiny_darcy.plan.generator)
    out = gen.generate([sample_seed(tiny_darcy.plan.seed, "valid", i) for i in (1, 3)])
    stored = read_split(tiny_darcy.paths["valid"], "a")
    np.testing.assert_array_equal(out["a"], stored[[1, 3]])
    np.testing.assert_array_equal(out["u"], read_split(tiny_darcy.paths["valid"], "u")[[1, 3]])


def test_generation_is_independent_of_chunk_size_and_workers(tmp_path):
    sizes = {"train": 5, "valid": 1, "test": 1}
    serial = generate_split(micro_plan(tmp_path / "serial", sizes), "train", workers=1, chunk=2, progress=False)
    pooled = generate_split(micro_plan(tmp_path / "pooled", sizes), "train", workers=2, chunk=3, progress=False)
    for name in ("a", "u"):
        s, p = read_split(serial, name), read_split(pooled, name)
        assert s.shape == (5, 8, 8)
        assert s.tobytes() == p.tobytes()
        assert len({s[i].tobytes() for i in range(5)}) == 5      # and the samples differ from each other


# ---------------------------------------------------------------------------------------
# Generation on first use and integrity
# ---------------------------------------------------------------------------------------

def test_complete_dataset_is_never_rebuilt(tiny_darcy, monkeypatch):
    before = {s: (p.stat().st_mtime_ns, p.stat().st_ino, digest(p)) for s, p in tiny_darcy.paths.items()}

    def fail(*args, **kwargs):
        raise AssertionError("ensure_dataset regenerated a complete split")
    monkeypatch.setattr(build, "generate_split", fail)
    paths = ensure_dataset(tiny_darcy.plan, workers=1, progress=False)
    assert paths == tiny_darcy.paths
    after = {s: (p.stat().st_mtime_ns, p.stat().st_ino, digest(p)) for s, p in paths.items()}
    assert after == before


def test_missing_split_is_generated_and_the_others_kept(tmp_path):
    plan = micro_plan(tmp_path)
    paths = ensure_dataset(plan, workers=1, progress=False)
    kept = {s: paths[s].stat().st_mtime_ns for s in ("train", "test")}
    paths["valid"].unlink()
    ensure_dataset(plan, workers=1, progress=False)
    assert paths["valid"].exists()
    assert {s: paths[s].stat().st_mtime_ns for s in ("train", "test")} == kept


def test_interrupted_generation_is_detected_and_rebuilt(tmp_path, monkeypatch):
    plan = micro_plan(tmp_path, sizes={"train": 6, "valid": 2, "test": 2})
    real = build._solve_chunk

    def dies_on_second_chunk(family, settings, seed, split, start, stop):
        if start > 0:
            raise KeyboardInterrupt("killed mid-way")
        return real(family, settings, seed, split, start, stop)
    monkeypatch.setattr(build, "_solve_chunk", dies_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        generate_split(plan, "train", workers=1, chunk=2, progress=False)
    final = plan.split_path("train")
    partial = final.with_name(final.name + ".partial")
    assert partial.exists() and not final.exists()
    with pytest.raises(DataFormatError, match="not completely written"):
        open_source(partial)

    monkeypatch.setattr(build, "_solve_chunk", real)
    ensure_dataset(plan, workers=1, progress=False)
    assert final.exists() and not partial.exists()
    expected = DarcyGenerator(**plan.generator).generate([sample_seed(0, "train", i) for i in range(6)])
    np.testing.assert_array_equal(read_split(final, "a"), expected["a"].astype(np.float32))
    assert len(open_source(final)) == 6


def test_garbage_partial_file_is_deleted_and_rebuilt(tmp_path):
    plan = micro_plan(tmp_path)
    final = plan.split_path("test")
    final.parent.mkdir(parents=True)
    partial = final.with_name(final.name + ".partial")
    partial.write_bytes(b"\x89HDF\r\n half a file")
    ensure_dataset(plan, workers=1, progress=False)
    assert not partial.exists()
    assert len(open_source(final)) == 2


@pytest.mark.parametrize("change", [
    {"generator": {**MICRO, "forcing": 2.0}},
    {"seed": 1},
    {"sizes": {"train": 4, "valid": 2, "test": 2}},
])
def test_complete_file_with_other_settings_is_refused_and_untouched(tmp_path, change):
    paths = ensure_dataset(micro_plan(tmp_path), workers=1, progress=False)
    before = {s: (p.stat().st_mtime_ns, digest(p)) for s, p in paths.items()}
    other = micro_plan(tmp_path, **change)
    assert other.split_path("train") == paths["train"]        # same name: the clash this rule guards
    with pytest.raises(DataFormatError, match="different data than the config asks for") as err:
        ensure_dataset(other, workers=1, progress=False)
    assert "Nothing was overwritten" in str(err.value)
    assert {s: (p.stat().st_mtime_ns, digest(p)) for s, p in paths.items()} == before


def test_unreadable_complete_file_is_refused_and_untouched(tmp_path):
    plan = micro_plan(tmp_path)
    paths = ensure_dataset(plan, workers=1, progress=False)
    raw = paths["train"].read_bytes()
    paths["train"].write_bytes(raw[:len(raw) // 2])
    with pytest.raises(DataFormatError, match="cannot be read"):
        ensure_dataset(plan, workers=1, progress=False)
    assert paths["train"].read_bytes() == raw[:len(raw) // 2]


# ---------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _default_data_config():
    return compose_config([]).data        # composing costs ~1 s on a loaded machine: once


def _name(overrides, root="/data"):
    """The plan of conf/data/darcy.yaml with ``data.key=value`` overrides applied."""
    data = copy.deepcopy(_default_data_config())
    for item in overrides:
        key, value = item.split("=", 1)
        OmegaConf.update(data, key.removeprefix("data."), yaml.safe_load(value), merge=False)
    return plan_from_config(data, root)


def test_overrides_give_new_dataset_names():
    base = _name([])
    assert base.name == "darcy_small" and not base.customised
    assert base.generator == {"grid": "cells", "resolution": 64}          # null overrides = the preset's values
    assert base.split_path("train").as_posix() == "/data/darcy_small/data/train/darcy_small_train.hdf5"
    assert _name(["data.preset=benchmark"]).name == "darcy_benchmark"

    variants = [["data.generator.forcing=2.0"], ["data.generator.forcing=3.0"], ["data.generator.resolution=32"],
                ["data.sizes.train=10"], ["data.seed=1"]]
    names = [_name(v).name for v in variants]
    for name in names:
        assert name.startswith("darcy_small_") and len(name) == len("darcy_small_") + 8
    assert len(set(names)) == len(names)
    for a, b in itertools.combinations(names, 2):
        assert a != b
    # the name is a function of the settings alone
    assert _name(["data.generator.forcing=2.0"]).name == names[0]
    plan = _name(["data.generator.forcing=2.0"])
    assert plan.generator == {"grid": "cells", "resolution": 64, "forcing": 2.0}


def test_unknown_preset_and_family_are_clear_errors():
    with pytest.raises(ValueError, match=r"unknown preset 'huge'.*\['benchmark', 'fno', 'rough', 'small', 'smooth'\]"):
        _name(["data.preset=huge"])
    with pytest.raises(ValueError, match=r"unknown PDE family 'maxwell'; known families: \['burgers', 'convection'"):
        build.generator_class("maxwell")


@pytest.mark.parametrize("family", family_names())
def test_every_generator_names_its_valid_settings_on_a_typo(family):
    with pytest.raises(ValueError, match=r"unknown .*setting\(s\) \['resolutoin'\]; valid settings are .*'resolution'"):
        build.generator_class(family)(resolutoin=64)


@pytest.mark.parametrize("family", family_names())
@pytest.mark.parametrize("resolution", [True, 32.5, "64", 0])
def test_every_generator_refuses_a_resolution_that_is_not_a_positive_integer(family, resolution):
    with pytest.raises((ValueError, TypeError), match="resolution must be"):
        build.generator_class(family)(resolution=resolution)


def test_range_settings_are_checked_for_shape_order_and_bound():
    assert range_setting("r", None) is None
    assert range_setting("r", [1, 2], lower=0.0, strict=True) == (1.0, 2.0)
    assert range_setting("r", (0, 0), lower=0.0) == (0.0, 0.0)
    with pytest.raises(ValueError, match=r"r must satisfy 0 < lo <= hi"):
        range_setting("r", [0, 1], lower=0.0, strict=True)
    with pytest.raises(ValueError, match=r"r must satisfy lo <= hi, got \[2, 1\]"):
        range_setting("r", [2, 1])
    with pytest.raises(ValueError, match=r"r must be a pair of numbers"):
        range_setting("r", None, optional=False)
    with pytest.raises(ValueError, match=r"c must be a pair of numbers \[lo, hi\], got 'ab'"):
        number_pair("c", "ab")


@pytest.mark.parametrize("family, setting, value, message", [
    ("convection", "speed_range", [50, 10], "speed_range must satisfy lo <= hi"),
    ("burgers", "viscosity_range", [0.0, 0.1], "viscosity_range must satisfy 0 < lo <= hi"),
    ("ns", "forcing_range", [-1.0, 1.0], "forcing_range must satisfy 0 <= lo <= hi"),
    ("swe", "g_range", [2.0], "g_range must be null or a pair of numbers"),
    ("swe", "radius_range", [0.5, 0.3], "radius_range must satisfy 0 < lo <= hi"),
])
def test_each_generator_refuses_a_bad_range_naming_it(family, setting, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        build.generator_class(family)(**{setting: value})
