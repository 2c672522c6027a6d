"""PDEBench's radial dam break: its grid and its initial depth (``gen_radial_dam_break.py``).

Still water, ``h = h_in`` where the cell centre lies in the disc ``|x - center| <= r`` and
``h_out`` elsewhere, on the domain [-2.5, 2.5]^2 with values at cell centres.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

DOMAIN = (-2.5, 2.5)


def cell_centres(n: int, lo: float = DOMAIN[0], hi: float = DOMAIN[1]) -> np.ndarray:
    """Centres ``(lo + hi)/2 + (i + 1/2 - n/2) dx`` of ``n`` equal cells on [lo, hi].

    Written around the midpoint so that a symmetric interval gives centres that are exact
    negatives of each other (needed for the bitwise symmetry of a radial start).
    """
    dx = (hi - lo) / n
    return 0.5 * (lo + hi) + (np.arange(n) + 0.5 - 0.5 * n) * dx


def radial_dam_depth(x: np.ndarray, y: np.ndarray, radius: np.ndarray | float, h_in: np.ndarray | float,
                     h_out: float, center: Sequence[float] = (0.0, 0.0)) -> np.ndarray:
    """Depth ``h_in`` where ``(x - cx)^2 + (y - cy)^2 <= r^2`` (cell centres), ``h_out`` elsewhere.

    ``radius`` and ``h_in`` may be arrays [B]; returns [B, X, Y] (or [X, Y] for scalars).
    """
    radius = np.asarray(radius, dtype=np.float64)
    h_in = np.asarray(h_in, dtype=np.float64)
    dx2 = (np.asarray(x, dtype=np.float64) - center[0])[:, None] ** 2
    dy2 = (np.asarray(y, dtype=np.float64) - center[1])[None, :] ** 2
    r2 = dx2 + dy2
    inside = r2 <= (radius[..., None, None] ** 2)
    return np.where(inside, h_in[..., None, None], float(h_out))

