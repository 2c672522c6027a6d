"""What the 1D periodic generators (convection, Burgers) share: their grid and output times.

A 1D problem is stored as the 2D field [T, X, Y] with Y = 1 (``y = [0]``); x holds the N
points 2 pi j / N of [0, 2 pi) (no end point) and the frames are equally spaced on
[0, t_end], both from the settings ``resolution``, ``n_frames`` and ``t_end``.
"""
from __future__ import annotations

import numpy as np

from pdebench_x.data.generators.base import Generator
from pdebench_x.numerics.transport1d import periodic_grid


class PeriodicLineGenerator(Generator):
    """A generator on the periodic line [0, 2 pi) with equally spaced output times."""

    @property
    def x(self) -> np.ndarray:
        return periodic_grid(self.settings["resolution"])

    @property
    def times(self) -> np.ndarray:
        return np.linspace(0.0, self.settings["t_end"], self.settings["n_frames"])
