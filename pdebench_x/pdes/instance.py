"""What a per-instance solver is given: one test instance of a PDE, and its coordinate axes."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch


@dataclass
class Axis:
    """One input coordinate: its range [lo, hi] and, for a periodic axis, period = hi - lo."""

    name: str
    lo: float
    hi: float
    periodic: bool = False

    @property
    def length(self) -> float:
        return self.hi - self.lo

    def features(self, v: torch.Tensor) -> list[torch.Tensor]:
        if self.periodic:
            theta = (2.0 * math.pi / self.length) * (v - self.lo)
            return [torch.cos(theta), torch.sin(theta)]
        return [2.0 * (v - self.lo) / self.length - 1.0]

    @property
    def n_features(self) -> int:
        return 2 if self.periodic else 1

    def sample(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return self.lo + self.length * torch.rand(n, generator=gen)


@dataclass
class PDEInstance:
    """Everything a per-instance solver may use: never the solution inside the domain.

    ``initial`` maps channel -> [X, Y] values of the last context frame (steady problems:
    the input channels); ``times`` are the physical times of the scored frames (None when
    steady) and ``t0`` the time of the initial data; ``channels`` the channels to predict.
    """

    family: str
    index: int
    kind: str
    channels: list[str]
    initial: dict[str, np.ndarray]
    scalars: dict[str, float]
    x: np.ndarray
    y: np.ndarray
    bc_type: str
    t0: float = 0.0
    times: np.ndarray | None = None
    equation: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def one_d(self) -> bool:
        """1D problems are stored as [X, 1] grids (y = [0])."""
        return self.y.size == 1

    def space_axes(self) -> list[Axis]:
        """The spatial input axes with their extent.

        Periodic: [x_0, x_0 + n dx) (the grid holds no end point). A family with a fixed domain
        (Darcy: the unit square, cell centres or nodes alike): that domain. Otherwise the cells'
        outer faces, [x_0 - dx/2, x_last + dx/2] (cell-centred data, as the shallow-water files).
        """
        from pdebench_x.pdes import get_family
        periodic = self.bc_type == "periodic"
        domain = get_family(self.family).domain
        axes = []
        for i, (name, c) in enumerate((("x", self.x), ("y", self.y))[:1 if self.one_d else 2]):
            c = np.asarray(c, dtype=np.float64)
            d = float(c[1] - c[0])
            if periodic:
                axes.append(Axis(name, float(c[0]), float(c[0] + d * len(c)), periodic=True))
            elif domain is not None:
                axes.append(Axis(name, float(domain[i][0]), float(domain[i][1])))
            else:
                axes.append(Axis(name, float(c[0] - d / 2), float(c[-1] + d / 2)))
        return axes

    def grid_points(self) -> list[np.ndarray]:
        """Flattened coordinates of the grid points, one array per spatial axis (C order [X, Y])."""
        if self.one_d:
            return [np.asarray(self.x, dtype=np.float64)]
        gx, gy = np.meshgrid(self.x, self.y, indexing="ij")
        return [gx.ravel(), gy.ravel()]
