"""Cell averages on a coarser grid: how finite-volume and cell-centred fields are brought from a
fine grid to a stored one (Darcy's cells, the shallow-water generator's error-floor solve)."""
from __future__ import annotations

import numpy as np


def block_average(v: np.ndarray, factor: int) -> np.ndarray:
    """Mean over factor x factor blocks of the last two axes (cells -> coarser cells)."""
    if factor == 1:
        return v
    *lead, n1, n2 = v.shape
    return v.reshape(*lead, n1 // factor, factor, n2 // factor, factor).mean(axis=(-3, -1))
