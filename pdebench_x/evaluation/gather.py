"""Metrics accumulated by several processes, gathered in sample order."""
from __future__ import annotations

from pdebench_x.core.processes import gather_objects, rank_and_world, strided_order
from pdebench_x.evaluation.metrics import MetricAccumulator


def gather_accumulator(acc):
    """A :class:`~pdebench_x.evaluation.metrics.MetricAccumulator` with the samples of every process, in
    sample order (each process having scored its :class:`~pdebench_x.data.loaders.EvalSampler` share); ``acc`` alone."""
    if rank_and_world()[1] == 1:
        return acc
    states = gather_objects(acc.state_dict())
    return MetricAccumulator.from_state_dicts(states, order=strided_order([s["n"] for s in states]))
