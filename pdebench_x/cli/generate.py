"""``pdebench-x generate``: make a dataset without training.

    pdebench-x generate data=ns                                   # every split, on first use as train.py would
    pdebench-x generate data=ns data.preset=benchmark split=test  # one split
    pdebench-x generate data=ns shard=3/8                         # shard 3 of 8 of every split (SLURM arrays)
    pdebench-x generate data=ns assemble=8                        # write the virtual files over 8 shards

The settings are checked before anything is generated (as ``train.py`` does).
"""
from __future__ import annotations

from typing import Sequence

from pdebench_x.cli.grammar import CLIError, compose_data, split_own_keys
from pdebench_x.data.build import ensure_dataset, plan_from_config
from pdebench_x.data.generators.base import SPLITS
from pdebench_x.data.shards import assemble, parse_shard, run_shard
from pdebench_x.training.preflight import check_data_settings

OWN_KEYS = ("shard", "assemble", "split")


def generate(tokens: Sequence[str]) -> int:
    own, overrides = split_own_keys(tokens, OWN_KEYS)
    if "shard" in own and "assemble" in own:
        raise CLIError("give shard=i/n (generate shard i of n) or assemble=n (write the virtual files), not both")
    splits = [own["split"]] if "split" in own else list(SPLITS)
    if any(s not in SPLITS for s in splits):
        raise CLIError(f"split={own['split']!r}: one of {list(SPLITS)}")
    cfg = compose_data(overrides)
    check_data_settings(cfg)
    plan = plan_from_config(cfg.data, cfg.paths.data_dir)
    if "assemble" in own:
        paths = [assemble(plan, s, int(own["assemble"])) for s in splits]
    elif "shard" in own:
        index, count = parse_shard(own["shard"])
        paths = run_shard(plan, index, count, splits)
    else:
        paths = list(ensure_dataset(plan, splits=splits).values())
    for path in paths:
        print(path)
    return 0
