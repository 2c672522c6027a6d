"""1D periodic viscous Burgers: LPINN's moving shock (Cole–Hopf) and the FNO paper's benchmark.

PDE: u_t + u u_x = nu u_xx, periodic on [0, L), t in [0, t_end]. Two initial laws
(``initial``):

- ``sine`` (default): u0 = mean + A sin(2 pi x / L - x_s) with L = 2 pi by default, nu = 0.01,
  A = 1, mean = 0, x_s = 0 — the classic benchmark (u0 = -sin(pi x) on [-1, 1], nu = 0.01 / pi)
  in the variables x -> pi (x + 1), t -> pi t. Optional per-sample draws:
  ``viscosity_range`` (log-uniform), ``amplitude_range`` (uniform), ``random_shift`` (x_s
  uniform in [0, 2 pi)). Values are Cole–Hopf integrals evaluated by quadrature to rounding
  accuracy (:func:`pdebench_x.numerics.transport1d.burgers_sine`; another L maps onto 2 pi by
  x' = 2 pi x / L, t' = 2 pi t / L, nu' = 2 pi nu / L, which leaves u unchanged).
- ``grf1``: the FNO paper's law (the repository's ``GRF1.m``, periodic, with ``grf_sigma``,
  ``grf_tau``, ``grf_gamma``), drawn with ``draw_resolution`` / 2 modes at ``draw_resolution``
  points, as GRF1 draws for the grid the FNO data were solved on (8192); the stored frame 0 is
  that field sampled at the stored points ([::draw_resolution / resolution], as the FNO data
  subsample it), and the solve (:func:`pdebench_x.numerics.burgers.solve_burgers`, Fourier
  pseudo-spectral + ETDRK4 with steps <= ``time_step``) starts from its band-limited version
  on the ``resolution`` grid. Sample checks against the 8192-point solve:
  datasets/burgers.md and tests/test_burgers_fno.py.

Storage as in the convection generator: [T, X, Y] with Y = 1, x = L j / N.
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
from pdebench_x.numerics.burgers import grf1_periodic, solve_burgers
from pdebench_x.numerics.transport1d import TWO_PI, burgers_sine

INITIAL_LAWS = ("sine", "grf1")

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
    "length": TWO_PI,
    "initial": "sine",
    "grf_sigma": 25.0,
    "grf_tau": 5.0,
    "grf_gamma": 2.0,
    "draw_resolution": None,
    "time_step": 1e-3,
}


class BurgersGenerator(PeriodicLineGenerator):
    """Samples u(x, t) of 1D periodic viscous Burgers from sine or random (GRF1) initial fields.

    Per sample, ``default_rng(seed)`` draws three uniforms (viscosity, amplitude, shift), used
    only for the settings that vary, so a sample's draws do not depend on the preset; with
    ``initial: grf1`` the same generator then draws the field's normals.
    """

    family = "burgers"
    version = "1"  # the grf1 law came with new settings: a seed's sine data are unchanged
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
        if s["initial"] not in INITIAL_LAWS:
            raise ValueError(f"initial={s['initial']!r} is not an initial law; choose one of {INITIAL_LAWS}")
        for key in ("length", "grf_tau", "grf_gamma", "time_step"):
            s[key] = float(s[key])
            if not s[key] > 0:
                raise ValueError(f"{key} must be > 0, got {s[key]}")
        s["grf_sigma"] = float(s["grf_sigma"])
        if s["draw_resolution"] is None:
            s["draw_resolution"] = s["resolution"]
        draw = s["draw_resolution"]
        if isinstance(draw, bool) or int(draw) != draw or draw < s["resolution"] or draw % s["resolution"] \
                or draw % 2:
            raise ValueError(f"draw_resolution must be an even multiple of resolution={s['resolution']} "
                             f"(the stored points are every draw_resolution / resolution-th drawn point), "
                             f"got {draw!r}")
        s["draw_resolution"] = int(draw)
        if s["initial"] == "grf1":
            if s["resolution"] % 2:
                raise ValueError(f"initial=grf1 needs an even resolution (FFT grid), got {s['resolution']}")
            if s["amplitude_range"] is not None or s["random_shift"]:
                raise ValueError("amplitude_range and random_shift belong to initial=sine; initial=grf1 "
                                 "draws the whole field (set grf_sigma / grf_tau / grf_gamma instead)")
        super().__init__(**s)

    def _varying(self) -> list[str]:
        s = self.settings
        return [name for name, on in (("viscosity", s["viscosity_range"] is not None),
                                      ("amplitude", s["amplitude_range"] is not None),
                                      ("shift", s["random_shift"])) if on]

    def describe(self) -> DatasetDescription:
        s = self.settings
        varying = self._varying()
        grf = s["initial"] == "grf1"
        scalars = {"mean": s["mean"]}
        for name in ("viscosity",) if grf else ("viscosity", "amplitude"):
            if name not in varying:
                scalars[name] = s[name]
        if not grf and "shift" not in varying:
            scalars["shift"] = 0.0
        fmt = {name: ("{" + name + "}" if name in varying else f"{scalars.get(name, 0.0):g}")
               for name in ("viscosity", "amplitude", "shift")}
        two_pi = s["length"] == TWO_PI
        domain = "[0, 2pi)" if two_pi else f"[0, {s['length']:g})"
        if grf:
            initial = (f"u(x, 0) = {s['mean']:g} + GRF1 field ~ N(0, {s['grf_sigma'] ** 2:g} (-Laplacian + "
                       f"{s['grf_tau'] ** 2:g} I)^-{s['grf_gamma']:g}), {s['draw_resolution'] // 2} modes")
        else:
            arg = "x" if two_pi else f"2pi x / {s['length']:g}"
            initial = f"u(x, 0) = {s['mean']:g} + {fmt['amplitude']} sin({arg} - {fmt['shift']})"
        return DatasetDescription(
            family=self.family, x=self.x, y=np.zeros(1), times=self.times,
            fields=[FieldInfo("u", 0, True, "velocity")],
            boundary_conditions=[BoundaryInfo("periodic", "periodic", ["x"], ["u"])],
            scalars=scalars, per_sample_scalars=varying,
            equation=f"u_t + u u_x = {fmt['viscosity']} u_xx, x in {domain} periodic, t in [0, {s['t_end']:g}]; "
                     + initial)

    def _draw_scalars(self, rng: np.random.Generator) -> dict[str, float]:
        s = self.settings
        u_nu, u_amp, u_shift = rng.random(3)
        nu, amp = s["viscosity"], s["amplitude"]
        if s["viscosity_range"] is not None:
            lo, hi = s["viscosity_range"]
            nu = math.exp(math.log(lo) + u_nu * (math.log(hi) - math.log(lo)))
        if s["amplitude_range"] is not None:
            lo, hi = s["amplitude_range"]
            amp = lo + u_amp * (hi - lo)
        shift = 2.0 * math.pi * u_shift if s["random_shift"] else 0.0
        return {"viscosity": nu, "amplitude": amp, "shift": shift}

    def draw(self, seed: np.random.SeedSequence) -> dict[str, float]:
        """The sample's scalars (viscosity, amplitude, shift); the first draws of its stream."""
        return self._draw_scalars(np.random.default_rng(seed))

    def draw_initial(self, seed: np.random.SeedSequence) -> tuple[dict[str, float], np.ndarray]:
        """grf1: the scalars and the initial field at the ``draw_resolution`` points (float64)."""
        s = self.settings
        rng = np.random.default_rng(seed)
        scalars = self._draw_scalars(rng)
        field = s["mean"] + grf1_periodic(rng, s["draw_resolution"], s["grf_sigma"], s["grf_tau"], s["grf_gamma"])
        return scalars, field

    def _solve_grf(self, draws: list[dict[str, float]], fields: np.ndarray) -> np.ndarray:
        """Frame 0 sampled from the drawn fields, later frames solved from their band-limited versions."""
        s = self.settings
        n, drawn = s["resolution"], s["draw_resolution"]
        start = np.fft.rfft(fields, axis=-1)[:, : n // 2 + 1] * (n / drawn)
        out = np.empty((len(draws), self.times.size, n))
        for nu in sorted({d["viscosity"] for d in draws}):  # one batched solve per viscosity
            rows = [i for i, d in enumerate(draws) if d["viscosity"] == nu]
            out[rows], _ = solve_burgers(start[rows], n, self.times, nu, s["length"], s["time_step"])
        out[:, 0] = fields[:, :: drawn // n]
        return out

    def generate(self, seeds: list[np.random.SeedSequence]) -> dict[str, np.ndarray]:
        s = self.settings
        if s["initial"] == "grf1":
            pairs = [self.draw_initial(seed) for seed in seeds]
            draws = [d for d, _ in pairs]
            u = self._solve_grf(draws, np.stack([f for _, f in pairs]))
        else:
            draws = [self.draw(seed) for seed in seeds]
            scale = TWO_PI / s["length"]  # onto [0, 2pi): x' = scale x, t' = scale t, nu' = scale nu
            u = np.stack([burgers_sine(self.x * scale, self.times * scale, d["viscosity"] * scale, d["amplitude"],
                                       s["mean"], d["shift"]) for d in draws])
        out = {"u": u[..., None].astype(np.float32)}  # [B, T, X, 1]
        for name in self._varying():
            out[name] = np.array([d[name] for d in draws])
        return out
