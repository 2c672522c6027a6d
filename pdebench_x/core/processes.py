"""Several processes (DDP): rank, gathering Python objects, and the strided split of samples.

Evaluation splits are dealt out rank r <- samples r, r + W, r + 2W, ... (no padding, see
:class:`pdebench_x.data.loaders.EvalSampler`); :func:`strided_order` puts gathered per-rank
lists back in sample order. With one process every function is the identity.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.distributed as dist


def rank_and_world() -> tuple[int, int]:
    """(global rank, number of processes) of the default process group; (0, 1) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_objects(obj: Any) -> list[Any]:
    """``obj`` of every process, in rank order (``all_gather_object``); ``[obj]`` alone."""
    rank, world = rank_and_world()
    if world == 1:
        return [obj]
    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out


def strided_order(counts: Sequence[int]) -> torch.Tensor:
    """Permutation that puts per-rank lists, concatenated in rank order, back in sample order.

    With :class:`EvalSampler`, rank r holds samples r, r + W, r + 2W, ... (``counts[r]`` of them).
    Returns ``order`` such that ``concatenated[order]`` lists samples 0, 1, 2, ...
    """
    world = len(counts)
    offsets = [sum(counts[:r]) for r in range(world)]
    total = sum(counts)
    order = torch.empty(total, dtype=torch.long)
    for i in range(total):
        r, j = i % world, i // world
        if j >= counts[r]:
            raise ValueError(f"per-rank counts {list(counts)} are not those of a strided split of {total} samples")
        order[i] = offsets[r] + j
    return order


def sum_over_processes(*values: float) -> list[float]:
    """Each value summed over the processes (itself alone)."""
    return [sum(v) for v in zip(*gather_objects([float(x) for x in values]))]
