"""1D periodic viscous Burgers on [0, 2 pi): LPINN's moving-shock case, Cole–Hopf references.

PDE: u_t + u u_x = nu u_xx, periodic, t in [0, t_end], u0 = mean + A sin(x - x_s).
Defaults: nu = 0.01, A = 1, mean = 0, x_s = 0 — the classic benchmark (u0 = -sin(pi x) on
[-1, 1], nu = 0.01 / pi) in the variables x -> pi (x + 1), t -> pi t. Optional per-sample
draws: ``viscosity_range`` (log-uniform), ``amplitude_range`` (uniform), ``random_shift``
(x_s uniform in [0, 2 pi)).

Values are Cole–Hopf integrals evaluated by quadrature to rounding accuracy
(:func:`pdebench_x.numerics.transport1d.burgers_sine`). Storage as in the convection
generator: [T, X, Y] with Y = 1, x = 2 pi j / N.
"""
from __future__ import annotations

import math
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
from pdebench_x.numerics.transport1d import burgers_sine

DEFAULTS: dict[str, Any] = {
    "resolution": 256,
    "n_frames": 101,
    "t_end": 1.0,
    "viscosity": 0.01,
    "viscosity_range": None,
    "amplitude": 1.0,
    "amplitude_range": None,
    "mean": 0.0,
    "random_shift": False,
}


class BurgersGenerator(PeriodicLineGenerator):
    """Samples u(x, t) of 1D periodic viscous Burgers from sine initial fields.

    Per sample, ``default_rng(seed)`` draws three uniforms (viscosity, amplitude, shift), used
    only for the settings that vary, so a sample's draws do not depend on the preset.
    """

    family = "burgers"
    version = "1"
    parallelism = "processes"

    def __init__(self, **settings: Any) -> None:
        s = merged_settings("burgers", settings, DEFAULTS, positive_ints=("resolution", "n_frames"))
        if s["resolution"] < 4:
            raise ValueError(f"resolution must be >= 4 grid points, got {s['resolution']}")
        for key in ("t_end", "viscosity", "amplitude", "mean"):
            s[key] = float(s[key])
        if not s["t_end"] > 0:
            raise ValueError(f"t_end must be > 0, got {s['t_end']}")
        if not s["viscosity"] > 0:
            raise ValueError(f"viscosity must be > 0 (the inviscid limit has shocks Cole–Hopf cannot give), "
                             f"got {s['viscosity']}")
        vr = range_setting("viscosity_range", s["viscosity_range"], lower=0.0, strict=True)
        ar = range_setting("amplitude_range", s["amplitude_range"])
        s["viscosity_range"] = None if vr is None else list(vr)
        s["amplitude_range"] = None if ar is None else list(ar)
        s["random_shift"] = bool(s["random_shift"])
        super().__init__(**s)

    def _varying(self) -> list[str]:
        s = self.settings
        return [name for name, on in (("viscosity", s["viscosity_range"] is not None),
                                      ("amplitude", s["amplitude_range"] is not None),
                                      ("shift", s["random_shift"])) if on]

    def describe(self) -> DatasetDescription:
        s = self.settings
        varying = self._varying()
        scalars = {"mean": s["mean"]}
        for name in ("viscosity", "amplitude"):
            if name not in varying:
                scalars[name] = s[name]
        if "shift" not in varying:
            scalars["shift"] = 0.0
        fmt = {name: ("{" + name + "}" if name in varying else f"{scalars[name]:g}")
               for name in ("viscosity", "amplitude", "shift")}
        return DatasetDescription(
            family=self.family, x=self.x, y=np.zeros(1), times=self.times,
            fields=[FieldInfo("u", 0, True, "velocity")],
            boundary_conditions=[BoundaryInfo("periodic", "periodic", ["x"], ["u"])],
            scalars=scalars, per_sample_scalars=varying,
            equation=f"u_t + u u_x = {fmt['viscosity']} u_xx, x in [0, 2pi) periodic, t in [0, {s['t_end']:g}]; "
                     f"u(x, 0) = {s['mean']:g} + {fmt['amplitude']} sin(x - {fmt['shift']})")

    def draw(self, seed: np.random.SeedSequence) -> dict[str, float]:
        s = self.settings
        u_nu, u_amp, u_shift = np.random.default_rng(seed).random(3)
        nu, amp = s["viscosity"], s["amplitude"]
        if s["viscosity_range"] is not None:
            lo, hi = s["viscosity_range"]
            nu = math.exp(math.log(lo) + u_nu * (math.log(hi) - math.log(lo)))
        if s["amplitude_range"] is not None:
            lo, hi = s["amplitude_range"]
            amp = lo + u_amp * (hi - lo)
        shift = 2.0 * math.pi * u_shift if s["random_shift"] else 0.0
        return {"viscosity": nu, "amplitude": amp, "shift": shift}

    def generate(self, seeds: list[np.random.SeedSequence]) -> dict[str, np.ndarray]:
        s = self.settings
        draws = [self.draw(seed) for seed in seeds]
        u = [burgers_sine(self.x, self.times, d["viscosity"], d["amplitude"], s["mean"], d["shift"]) for d in draws]
        out = {"u": np.stack(u)[..., None].astype(np.float32)}  # [B, T, X, 1]
        for name in self._varying():
            out[name] = np.array([d[name] for d in draws])
        return out
