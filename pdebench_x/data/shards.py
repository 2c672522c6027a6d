"""Sharded generation: a dataset made by several processes or cluster jobs, read as one.

Shard i of n of a split holds its samples [floor(N i / n), floor(N (i + 1) / n)), each solved
from its own seed ``sample_seed(seed, split, index)`` exactly as the unsharded build solves it,
so the samples are bitwise those of ``ensure_dataset`` whatever n (the generators promise that a
sample does not depend on its batch; the tests check it). Files::

    <root>/<name>/shards/<split>/<name>_<split>.<i>-of-<n>.hdf5     one Well-schema file per shard
    <root>/<name>/data/<split>/<name>_<split>.hdf5                  HDF5 virtual datasets over them

The second file is where the unsharded build puts its split, so training, scoring and every
reader use it unchanged; its fields are h5py virtual datasets that map sample ranges onto the
shard files (relative paths: the dataset directory can be moved whole), nothing is copied. It is
written when the last shard finishes (under a file lock, whichever job that is), or by
``assemble=n``. Its attributes record the plan as a complete unsharded file would (the build's
integrity check applies), plus ``shards = n``.

Command line (Hydra-style overrides of pdebench_x/conf/train.yaml's data group)::

    pdebench-x generate data=ns shard=3/8              # shard 3 of 8 of every split
    pdebench-x generate data=ns data.preset=benchmark shard=3/8 split=train
    pdebench-x generate data=ns assemble=8             # only (re)write the virtual files

e.g. as a SLURM array: ``shard=${SLURM_ARRAY_TASK_ID}/${SLURM_ARRAY_TASK_COUNT}``.
"""
from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

from pdebench_x.data.build import DatasetPlan, _solve_chunk, file_lock, generator_class
from pdebench_x.data.formats.base import DataFormatError
from pdebench_x.data.formats.well import FIELD_GROUPS, WellWriter
from pdebench_x.data.generators.base import SPLITS

log = logging.getLogger(__name__)

SHARD_ATTRS = ("shard_index", "shard_count", "sample_start", "sample_stop")


def shard_range(n: int, index: int, count: int) -> tuple[int, int]:
    """Samples [start, stop) of shard ``index`` of ``count`` over ``n`` samples (sizes differ by <= 1)."""
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: need 0 <= index < count and count >= 1")
    return n * index // count, n * (index + 1) // count


def parse_shard(text: str) -> tuple[int, int]:
    """'i/n' -> (i, n)."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if not m:
        raise ValueError(f"shard={text!r}: write shard=i/n, e.g. shard=0/4 (shard 0 of 4; i from 0 to n-1)")
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1 or index >= count:
        raise ValueError(f"shard={text!r}: the index must be in 0..n-1 and n >= 1")
    return index, count


def shard_path(plan: DatasetPlan, split: str, index: int, count: int) -> Path:
    width = max(4, len(str(count)))
    return plan.root / plan.name / "shards" / split / f"{plan.name}_{split}.{index:0{width}d}-of-{count:0{width}d}.hdf5"


def generate_shard(plan: DatasetPlan, split: str, index: int, count: int, chunk: int | None = None) -> Path:
    """Solve and write the samples of shard ``index`` of ``count`` of one split (reused if complete)."""
    path = shard_path(plan, split, index, count)
    if path.exists():
        _check_shard(path, plan, split, index, count)
        return path
    start, stop = shard_range(plan.sizes[split], index, count)
    gen = generator_class(plan.family)(**plan.generator)
    chunk = chunk or gen.chunk_size
    partial = path.with_name(path.name + ".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    attrs = {**plan.attrs(split), "shard_index": index, "shard_count": count, "sample_start": start,
             "sample_stop": stop}
    writer = WellWriter(partial, gen.describe(), stop - start, attrs)
    try:
        for s in range(start, stop, chunk):
            _, batch = _solve_chunk(plan.family, plan.generator, plan.seed, split, s, min(s + chunk, stop))
            writer.write(s - start, batch)
        writer.finish()
    except BaseException:
        writer.abort()
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)
    return path


def _check_shard(path: Path, plan: DatasetPlan, split: str, index: int, count: int) -> None:
    start, stop = shard_range(plan.sizes[split], index, count)
    try:
        with h5py.File(path, "r") as f:
            a = dict(f.attrs)
    except OSError as err:
        raise DataFormatError(f"shard {path} cannot be read ({err}); delete it and generate it again") from err
    expected = {"complete": True, "seed": plan.seed, "generator_version": generator_class(plan.family).version,
                "settings": plan.generator, "sample_start": start, "sample_stop": stop, "split": split}
    found = {"complete": bool(a.get("complete", False)), "seed": int(a.get("seed", -1)),
             "generator_version": str(a.get("generator_version", "")),
             "settings": json.loads(a.get("settings", "{}")), "sample_start": int(a.get("sample_start", -1)),
             "sample_stop": int(a.get("sample_stop", -1)), "split": str(a.get("split", ""))}
    if found != expected:
        diff = {k: (found[k], expected[k]) for k in expected if found[k] != expected[k]}
        raise DataFormatError(f"shard {path} does not belong to this dataset (found, expected): {diff}. "
                              "Delete it and generate it again.")


def _virtual(dst: h5py.Group, name: str, sources: Sequence[tuple[Path, int, int]], key: str, vds_dir: Path) -> None:
    """dst[name] = the concatenation along axis 0 of dataset ``key`` of each (file, start, stop)."""
    with h5py.File(sources[0][0], "r") as f:
        proto = f[key]
        shape, dtype, attrs = proto.shape, proto.dtype, dict(proto.attrs)
    n = sources[-1][2]
    layout = h5py.VirtualLayout(shape=(n,) + shape[1:], dtype=dtype)
    for path, start, stop in sources:
        rel = os.path.relpath(path, vds_dir)
        layout[start:stop] = h5py.VirtualSource(rel, key, shape=(stop - start,) + shape[1:])
    ds = dst.create_virtual_dataset(name, layout, fillvalue=np.nan if dtype.kind == "f" else 0)
    ds.attrs.update(attrs)


def assemble(plan: DatasetPlan, split: str, count: int) -> Path:
    """Write the split's file as virtual datasets over its ``count`` shards (all must be complete)."""
    paths = [shard_path(plan, split, i, count) for i in range(count)]
    missing = [i for i, p in enumerate(paths) if not p.exists()]
    if missing:
        raise DataFormatError(
            f"{plan.name}/{split}: shard(s) {missing} of {count} are missing; generate them with "
            f"`pdebench-x generate data={plan.family} shard=<i>/{count}` (same data overrides)")
    for i, p in enumerate(paths):
        _check_shard(p, plan, split, i, count)
    out = plan.split_path(split)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    ranges = [(p, *shard_range(plan.sizes[split], i, count)) for i, p in enumerate(paths)]
    ranges = [r for r in ranges if r[2] > r[1]]          # more shards than samples: empty shards
    with h5py.File(paths[0], "r") as first, h5py.File(partial, "w") as f:
        for key, value in first.attrs.items():
            if key not in SHARD_ATTRS:
                f.attrs[key] = value
        f.attrs["n_trajectories"] = plan.sizes[split]
        f.attrs["shards"] = count
        f.attrs["complete"] = False
        for group in ("dimensions", "boundary_conditions"):
            if group in first:
                first.copy(first[group], f, name=group)
        scalars = f.create_group("scalars")
        scalars.attrs.update(dict(first["scalars"].attrs))
        for name, ds in first["scalars"].items():
            if ds.attrs.get("sample_varying", False):
                _virtual(scalars, name, ranges, f"scalars/{name}", out.parent)
            else:
                first.copy(ds, scalars, name=name)
        for group_name in (*FIELD_GROUPS.values(), "t2_fields"):
            if group_name not in first:
                continue
            group = f.create_group(group_name)
            group.attrs.update(dict(first[group_name].attrs))
            for name in first[group_name]:
                _virtual(group, name, ranges, f"{group_name}/{name}", out.parent)
        f.attrs["complete"] = True
    os.replace(partial, out)
    return out


def shards_complete(plan: DatasetPlan, count: int) -> bool:
    return all(shard_path(plan, s, i, count).exists() for s in SPLITS for i in range(count))


def run_shard(plan: DatasetPlan, index: int, count: int, splits: Sequence[str] = SPLITS,
              auto_assemble: bool = True) -> list[Path]:
    """Generate shard ``index`` of ``count`` of ``splits``; the job that completes the set assembles it."""
    smallest = min(SPLITS, key=lambda s: plan.sizes[s])
    if count > plan.sizes[smallest]:
        raise ValueError(f"{count} shards for a {smallest} split of {plan.sizes[smallest]} samples: every shard needs "
                         f"at least one sample of every split; use at most {plan.sizes[smallest]} shards")
    done = [generate_shard(plan, s, index, count) for s in splits]
    if auto_assemble:
        with file_lock(plan.root / plan.name / "shards" / ".lock", f"assembling the shards of {plan.name}"):
            if shards_complete(plan, count):
                for s in SPLITS:
                    if not plan.split_path(s).exists():
                        log.info("all %d shards present: writing %s", count, plan.split_path(s))
                        assemble(plan, s, count)
    return done
