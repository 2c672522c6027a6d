"""What a per-instance solver reads of a test sample (:func:`read_instance`: the coefficients,
the grid and the last context frame, never the solution inside the domain), and the reference
it is scored against afterwards (:func:`read_reference`).

The scored frames are the operator learners': an operator learner's test window
(``WindowDataset(train=False)``) feeds frames [first_frame, first_target_frame) and is scored on
[first_target_frame, first_target_frame + horizon), first_target_frame = first_frame + history;
the per-instance solver starts from the last of those context frames and is scored on the same
frames.
"""
from __future__ import annotations

import numpy as np

from pdebench_x.data.formats.base import FieldSource
from pdebench_x.pdes.instance import PDEInstance


def read_instance(source: FieldSource, index: int, spec, family: str | None = None) -> PDEInstance:
    """The solver's view of test sample ``index``: coefficients, grid, the last context frame.

    Reads only ``read_scalars(index)`` and, for a rollout, the single frame
    ``spec.first_target_frame - 1`` of the input channels (steady: the input channels).
    """
    info = source.info
    scalars = {k: float(v) for k, v in source.read_scalars(index).items()}
    if spec.kind == "steady":
        frame = source.read(index, list(spec.input_channels))
        t0, times = 0.0, None
    else:
        last = int(spec.first_target_frame) - 1
        if last < 0:
            raise ValueError("a rollout problem needs at least one context frame (history >= 1)")
        frame = source.read(index, list(spec.input_channels), slice(last, last + 1))
        all_times = np.asarray(info.times, dtype=np.float64)
        t0 = float(all_times[last])
        times = all_times[spec.first_target_frame:spec.first_target_frame + spec.horizon]
    initial = {ch: np.asarray(frame[0, k], dtype=np.float64) for k, ch in enumerate(spec.input_channels)}
    return PDEInstance(family=family or spec.family, index=int(index), kind=spec.kind,
                       channels=list(spec.target_channels), initial=initial, scalars=scalars,
                       x=np.asarray(info.x, dtype=np.float64), y=np.asarray(info.y, dtype=np.float64),
                       bc_type=str(info.bc_type), t0=t0, times=times,
                       equation=str(info.attrs.get("equation", "")))


def read_reference(source: FieldSource, index: int, spec) -> np.ndarray:
    """The scored frames of the reference, float32 [T, C, X, Y] (read only after the fit)."""
    if spec.kind == "steady":
        return source.read(index, list(spec.target_channels))
    first = int(spec.first_target_frame)
    return source.read(index, list(spec.target_channels), slice(first, first + int(spec.horizon)))
