"""1D periodic convection(-diffusion) on [0, 2 pi): LPINN's showcase, with exact references.

PDE: u_t + c u_x = nu u_xx, periodic, t in [0, t_end]; nu = 0 by default (pure convection).
Initial field per sample:

- ``initial: sin`` (LPINN's case): u0 = amplitude sin x (every sample alike unless
  ``speed_range`` draws c per sample);
- ``initial: fourier``: u0 = amplitude sum_{k=1}^{n_modes} (a_k cos kx + b_k sin kx) / k with
  a_k, b_k ~ N(0, 1) per sample (varied data for operator learners).

The solution is exact (each Fourier mode is translated and damped in closed form,
:func:`pdebench_x.numerics.transport1d.convection_diffusion`).

Storage contract: a 1D problem is stored as the 2D field [T, X, Y] with Y = 1 (``y = [0]``),
so it reads as FieldSource's [T, C, X, 1]; x holds the N points 2 pi j / N (no end point).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from pdebench_x.data.generators.base import (
    BoundaryInfo,
    DatasetDescription,
    FieldInfo,
    merged_settings,
    range_setting,
)
from pdebench_x.data.generators.line1d import PeriodicLineGenerator
from pdebench_x.numerics.transport1d import convection_diffusion

INITIALS = ("sin", "fourier")
DEFAULTS: dict[str, Any] = {
    "resolution": 256,
    "n_frames": 101,
    "t_end": 1.0,
    "speed": 50.0,
    "speed_range": None,
    "viscosity": 0.0,
    "initial": "sin",
    "amplitude": 1.0,
    "n_modes": 4,
}


class ConvectionGenerator(PeriodicLineGenerator):
    """Samples u(x, t) of 1D periodic convection(-diffusion); settings in :data:`DEFAULTS`.

    Per sample, ``default_rng(seed)`` draws the speed first (uniform in ``speed_range`` if
    given, the draw is made either way), then the Fourier coefficients (``initial: fourier``).
    """

    family = "convection"
    version = "1"
    parallelism = "processes"

    def __init__(self, **settings: Any) -> None:
        s = merged_settings("convection", settings, DEFAULTS,
                            positive_ints=("resolution", "n_frames", "n_modes"))
        if s["resolution"] < 4:
            raise ValueError(f"resolution must be >= 4 grid points, got {s['resolution']}")
        if s["initial"] not in INITIALS:
            raise ValueError(f"initial must be one of {INITIALS}, got {s['initial']!r}")
        if s["initial"] == "fourier" and 2 * s["n_modes"] >= s["resolution"]:
            raise ValueError(f"n_modes = {s['n_modes']} needs resolution > {2 * s['n_modes']} points "
                             "to be represented exactly")
        for key in ("t_end", "speed", "viscosity", "amplitude"):
            s[key] = float(s[key])
        if not s["t_end"] > 0:
            raise ValueError(f"t_end must be > 0, got {s['t_end']}")
        if s["viscosity"] < 0:
            raise ValueError(f"viscosity must be >= 0, got {s['viscosity']}")
        rng = range_setting("speed_range", s["speed_range"])
        s["speed_range"] = None if rng is None else list(rng)
        super().__init__(**s)

    def describe(self) -> DatasetDescription:
        s = self.settings
        varying = s["speed_range"] is not None
        scalars = {"viscosity": s["viscosity"]}
        if not varying:
            scalars["speed"] = s["speed"]
        c = "{speed}" if varying else f"{s['speed']:g}"
        u0 = (f"{s['amplitude']:g} sin x" if s["initial"] == "sin" else
              f"{s['amplitude']:g} sum_(k=1..{s['n_modes']}) (a_k cos kx + b_k sin kx)/k, a, b ~ N(0, 1)")
        return DatasetDescription(
            family=self.family, x=self.x, y=np.zeros(1), times=self.times,
            fields=[FieldInfo("u", 0, True, "transported scalar")],
            boundary_conditions=[BoundaryInfo("periodic", "periodic", ["x"], ["u"])],
            scalars=scalars, per_sample_scalars=["speed"] if varying else [],
            equation=f"u_t + {c} u_x = {s['viscosity']:g} u_xx, x in [0, 2pi) periodic, "
                     f"t in [0, {s['t_end']:g}]; u(x, 0) = {u0}")

    def initial(self, rng: np.random.Generator) -> np.ndarray:
        s = self.settings
        x = self.x
        if s["initial"] == "sin":
            return s["amplitude"] * np.sin(x)
        k = np.arange(1, s["n_modes"] + 1)
        a, b = rng.standard_normal((2, s["n_modes"]))
        return s["amplitude"] * ((a / k) @ np.cos(np.outer(k, x)) + (b / k) @ np.sin(np.outer(k, x)))

    def generate(self, seeds: list[np.random.SeedSequence]) -> dict[str, np.ndarray]:
        s = self.settings
        u, speeds = [], []
        for seed in seeds:
            rng = np.random.default_rng(seed)
            draw = rng.random()
            speed = s["speed"] if s["speed_range"] is None else (
                s["speed_range"][0] + draw * (s["speed_range"][1] - s["speed_range"][0]))
            u.append(convection_diffusion(self.initial(rng), self.times, speed, s["viscosity"]))
            speeds.append(speed)
        out = {"u": np.stack(u)[..., None].astype(np.float32)}  # [B, T, X, 1]
        if s["speed_range"] is not None:
            out["speed"] = np.asarray(speeds)
        return out
