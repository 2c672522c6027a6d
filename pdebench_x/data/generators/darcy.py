"""Steady Darcy flow with a piecewise-constant random coefficient (the FNO paper's data).

PDE on the unit square, homogeneous Dirichlet boundary:

    -div(a(x) grad u(x)) = f(x)   in (0, 1)^2,      u = 0 on the boundary,

with the coefficient law of :mod:`pdebench_x.numerics.darcy.coefficient` and the
finite-volume solver of :mod:`pdebench_x.numerics.darcy.solver`, both on the grid of
:mod:`pdebench_x.numerics.darcy.grid`.
"""
from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from pdebench_x.data.generators.base import BoundaryInfo, DatasetDescription, FieldInfo, Generator, merged_settings
from pdebench_x.numerics.darcy.coefficient import sample_coefficient
from pdebench_x.numerics.coarsen import block_average
from pdebench_x.numerics.darcy.grid import GRIDS, grid_points
from pdebench_x.numerics.darcy.solver import solve

DEFAULTS: dict[str, Any] = {
    "grid": "cells",
    "resolution": 64,
    "solve_resolution": None,  # None: the stored resolution
    "alpha": 2.0,
    "tau": 3.0,
    "a_pos": 12.0,
    "a_neg": 3.0,
    "forcing": 1.0,
}


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return out


class DarcyGenerator(Generator):
    """Samples (a, u) of -div(a grad u) = forcing on the unit square, u = 0 on the boundary.

    Settings: grid ("cells" | "nodes"), resolution (stored points per side), solve_resolution
    (cells: an integer multiple of resolution, stored as block averages; nodes:
    (solve_resolution - 1) / (resolution - 1) must be an integer, stored as every
    subsample-th node), alpha, tau (GRF law), a_pos, a_neg (coefficient values), forcing.
    """

    family = "darcy"
    version = "1"
    parallelism = "processes"

    def __init__(self, **settings: Any) -> None:
        s = merged_settings("darcy", settings, DEFAULTS)
        grid = s["grid"]
        if grid not in GRIDS:
            raise ValueError(f"grid must be one of {GRIDS}, got {grid!r}")
        res = _as_int("resolution", s["resolution"])
        solve_res = res if s["solve_resolution"] is None else _as_int("solve_resolution",
                                                                      s["solve_resolution"])
        if grid == "cells":
            if res < 2 or solve_res < 2:
                raise ValueError(f"cells grid: resolution and solve_resolution must be >= 2, got "
                                 f"{res} and {solve_res}")
            if solve_res % res:
                raise ValueError(f"cells grid: solve_resolution ({solve_res}) must be an integer "
                                 f"multiple of resolution ({res}) (stored cells are block "
                                 f"averages); e.g. solve_resolution={res * max(1, solve_res // res)}")
            factor = solve_res // res
        else:
            if res < 3 or solve_res < 3:
                raise ValueError(f"nodes grid: resolution and solve_resolution count nodes "
                                 f"including the boundary and must be >= 3, got {res} and "
                                 f"{solve_res}")
            if (solve_res - 1) % (res - 1):
                raise ValueError(
                    f"nodes grid: subsample = (solve_resolution - 1) / (resolution - 1) = "
                    f"({solve_res} - 1) / ({res} - 1) is not an integer; choose resolution "
                    f"= (solve_resolution - 1) / k + 1 for an integer k (e.g. 421 -> 85 or 141)")
            factor = (solve_res - 1) // (res - 1)
        alpha = _as_float("alpha", s["alpha"])
        tau = _as_float("tau", s["tau"])
        a_pos = _as_float("a_pos", s["a_pos"])
        a_neg = _as_float("a_neg", s["a_neg"])
        forcing = _as_float("forcing", s["forcing"])
        if alpha <= 1.0:
            raise ValueError(f"alpha must be > 1 (= d/2) for the random field to exist in 2-D, "
                             f"got {alpha}")
        if tau <= 0.0:
            raise ValueError(f"tau must be > 0, got {tau}")
        if a_pos <= 0.0 or a_neg <= 0.0:
            raise ValueError(f"a_pos and a_neg must be > 0 (ellipticity), got {a_pos}, {a_neg}")
        super().__init__(grid=grid, resolution=res, solve_resolution=solve_res, alpha=alpha,
                         tau=tau, a_pos=a_pos, a_neg=a_neg, forcing=forcing)
        self._factor = factor

    def _coords(self) -> np.ndarray:
        return grid_points(self.settings["resolution"], self.settings["grid"])

    def describe(self) -> DatasetDescription:
        s = self.settings
        pts = self._coords()
        where = "cell centres" if s["grid"] == "cells" else "nodes"
        return DatasetDescription(
            family=self.family,
            x=pts.copy(),
            y=pts.copy(),
            times=None,
            fields=[
                FieldInfo("a", order=0, time_varying=False,
                          description=f"permeability at the {where}: a_pos where the Gaussian "
                                      "random field psi >= 0, else a_neg"),
                FieldInfo("u", order=0, time_varying=False,
                          description=f"pressure (solution) at the {where}"),
            ],
            boundary_conditions=[BoundaryInfo("dirichlet_zero", "dirichlet", ["x", "y"], ["u"])],
            scalars={"a_pos": s["a_pos"], "a_neg": s["a_neg"], "forcing": s["forcing"]},
            per_sample_scalars=[],
            equation=(f"-div(a(x) grad u) = {s['forcing']:g} on (0,1)^2, u = 0 on the boundary, "
                      f"a = {s['a_pos']:g} where psi >= 0 else {s['a_neg']:g}, "
                      f"psi ~ N(0, (-Laplacian + {s['tau']:g}^2)^-{s['alpha']:g})"),
        )

    def _coefficient(self, seed: np.random.SeedSequence) -> np.ndarray:
        """The sample's coefficient on the solve grid."""
        s = self.settings
        return sample_coefficient(np.random.default_rng(seed), s["solve_resolution"], s["grid"], alpha=s["alpha"],
                                  tau=s["tau"], a_pos=s["a_pos"], a_neg=s["a_neg"])

    def finer_solve(self, seeds: list[np.random.SeedSequence], factor: int = 2) -> dict[str, np.ndarray]:
        """Cells grid: the same piecewise-constant coefficient on cells split ``factor`` x ``factor``
        (the same problem), solved there and averaged back to the stored cells."""
        s = self.settings
        if s["grid"] != "cells":
            raise NotImplementedError("a finer reference solve is defined for the cells grid (a nodes grid would "
                                      "need the coefficient between its nodes)")
        n = s["resolution"]
        a_out, u_out = np.empty((len(seeds), n, n)), np.empty((len(seeds), n, n))
        for b, seed in enumerate(seeds):
            a = self._coefficient(seed)
            u = solve(np.kron(a, np.ones((factor, factor))), s["forcing"], "cells")
            a_out[b], u_out[b] = block_average(a, self._factor), block_average(u, self._factor * factor)
        return {"a": a_out, "u": u_out}

    def coarser_solve(self, seeds: list[np.random.SeedSequence], factor: int) -> dict[str, np.ndarray]:
        """Cells grid: the stored coefficient averaged over ``factor`` x ``factor`` blocks, solved on
        those coarser cells, each coarse cell's value repeated over its stored cells."""
        s = self.settings
        n = s["resolution"]
        if s["grid"] != "cells" or n % factor:
            raise NotImplementedError(f"a coarser solve is defined for a cells grid divisible by {factor} "
                                      f"(got {s['grid']}, {n})")
        a_out, u_out = np.empty((len(seeds), n, n)), np.empty((len(seeds), n, n))
        for b, seed in enumerate(seeds):
            a = block_average(self._coefficient(seed), self._factor)
            u = solve(block_average(a, factor), s["forcing"], "cells")
            a_out[b], u_out[b] = a, np.kron(u, np.ones((factor, factor)))
        return {"a": a_out, "u": u_out}

    def sample(self, seed: np.random.SeedSequence) -> tuple[np.ndarray, np.ndarray]:
        """One sample (a, u) at the stored resolution, float64."""
        s = self.settings
        a = self._coefficient(seed)
        u = solve(a, s["forcing"], s["grid"])
        if s["grid"] == "cells":
            return block_average(a, self._factor), block_average(u, self._factor)
        k = self._factor
        return a[::k, ::k], u[::k, ::k]

    def generate(self, seeds: list[np.random.SeedSequence]) -> dict[str, np.ndarray]:
        n = self.settings["resolution"]
        a_out = np.empty((len(seeds), n, n), dtype=np.float32)
        u_out = np.empty((len(seeds), n, n), dtype=np.float32)
        for b, seed in enumerate(seeds):
            a_out[b], u_out[b] = self.sample(seed)
        return {"a": a_out, "u": u_out}

