"""pdebench_x: a benchmark suite for neural PDE solvers.

For code that keeps its own training loop (another framework, JAX, a notebook):

* :func:`load_dataset` (``pdebench_x.data.api``): a split as a torch ``Dataset`` of the windows
  the training pipeline uses (:class:`PDEDataset`; ``.numpy()`` for plain arrays), in physical
  units; the training pipeline's normalisation is ``PDEDataset.normalizer()``, not applied;
* :func:`evaluate` (``pdebench_x.leaderboard.api``): predictions of an official test split, in
  physical units, -> the metrics the scorer writes for a predictions file.

They are imported on first use: ``import pdebench_x`` stays instant (torch and Hydra load then).
"""
import os
from typing import TYPE_CHECKING, Any

# Set before torch loads OpenMP (see train.py): passive waiting keeps torch's threads from
# spinning against other busy processes on small machines.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

if TYPE_CHECKING:
    from pdebench_x.data.api import PDEDataset, load_dataset
    from pdebench_x.leaderboard.api import evaluate

__all__ = ["PDEDataset", "evaluate", "load_dataset"]

_EXPORTS = {"PDEDataset": "pdebench_x.data.api", "load_dataset": "pdebench_x.data.api",
            "evaluate": "pdebench_x.leaderboard.api"}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'pdebench_x' has no attribute {name!r}")
    import importlib
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
