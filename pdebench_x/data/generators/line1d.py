"""What the 1D periodic generators (convection, Burgers) share: their grid and output times.

A 1D problem is stored as the 2D field [T, X, Y] with Y = 1 (``y = [0]``); x holds the N
points L j / N of [0, L) (no end point; L = 2 pi unless the generator has a ``length``
setting) and the frames are equally spaced on [0, t_end], from the settings ``resolution``,
``n_frames`` and ``t_end``.
"""
from __future__ import annotations

import numpy as np

from pdebench_x.data.generators.base import Generator
from pdebench_x.numerics.transport1d import TWO_PI, periodic_grid


class PeriodicLineGenerator(Generator):
    """A generator on the periodic line [0, 2 pi) with equally spaced output times."""

    @property
    def length(self) -> float:
        return float(self.settings.get("length", TWO_PI))

    @property
    def x(self) -> np.ndarray:
        return periodic_grid(self.settings["resolution"]) * (self.length / TWO_PI)

    @property
    def times(self) -> np.ndarray:
        return np.linspace(0.0, self.settings["t_end"], self.settings["n_frames"])
