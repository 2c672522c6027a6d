"""The FNO Navier–Stokes data set: 2D vorticity on the unit torus from random initial fields.

PDE, on (x, y) in [0, 1)^2 with periodic boundaries::

    w_t + u . grad w = nu Lap w + f,      u = (psi_y, -psi_x),      -Lap psi = w,
    f(x, y) = A (sin 2 pi (x + y) + cos 2 pi (x + y))

(A = ``forcing_amplitude``, 0.1 in the FNO data), from a Gaussian random initial vorticity
(:mod:`pdebench_x.numerics.ns.fields`), solved by :mod:`pdebench_x.numerics.ns.solver`.
The noise is always drawn on an ``ic_resolution`` grid (256, the FNO's) and the field is
spectrally truncated (or zero-padded) to the solve grid, so a seed gives the same initial
field, up to its band limit, whatever grid it is solved on.

``solve_resolution: auto`` reproduces the FNO protocol (draw and solve on the ``ic_resolution``
grid, store it subsampled) on a coarser grid where a convergence study showed the stored frames
agree with the protocol's to ``solve_tolerance``: the first :data:`STARTUP_FRAMES` time units
are solved on the ``ic_resolution`` grid (those frames, frame 0 included, are the protocol's
bit for bit), the rest on the coarse grid from the band-limited state. The choice is a table
(:data:`SOLVE_GRID_STUDY`, measured by ``benchmarks/ns_convergence.py``), never a measurement
made at generation time.
"""
from __future__ import annotations

import functools
import logging
import math
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from pdebench_x.data.generators.base import (
    BoundaryInfo,
    DatasetDescription,
    FieldInfo,
    Generator,
    merged_settings,
    range_setting,
)
from pdebench_x.numerics.ns.fields import forcing_pattern, gaussian_random_field, spectral_resample
from pdebench_x.numerics.ns.solver import DEFAULT_CFL, DEFAULT_MAX_DT, solve_vorticity

log = logging.getLogger(__name__)

#: Torch threads the generator's CPU FFTs run with at least (see :func:`_fft_threads`).
MIN_FFT_THREADS = 2


@contextmanager
def _fft_threads(device: torch.device):
    """Run torch's CPU FFTs with at least :data:`MIN_FFT_THREADS` threads (MKL builds).

    MKL computes a batched complex-to-real transform of length <= 64 with another kernel when
    torch gives it a single thread (``torch.get_num_threads() == 1``: one-core machines, or
    OMP_NUM_THREADS=1) than with two or more: the last bits differ (up to ~2e-7 on a field of
    max 0.8 at 64^2). The stored initial frame passes through irfft2, so its bytes -- hashed by
    the official fingerprints, which were made with 2+ threads -- would depend on the thread
    count. Two or more threads give the same bits whatever the count (checked for 2, 3, 4, 16,
    also on a single core), so a one-thread process runs the generator with two. A no-op on
    GPU, on non-MKL builds and where torch already has 2+ threads (the bytes stay those of
    before).
    """
    previous = torch.get_num_threads()
    if device.type != "cpu" or previous >= MIN_FFT_THREADS or not torch.backends.mkl.is_available():
        yield
        return
    torch.set_num_threads(MIN_FFT_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


_DEFAULTS: dict[str, Any] = {
    "resolution": 64,
    "solve_resolution": 64,
    "solve_tolerance": 1e-6,
    "ic_resolution": 256,
    "viscosity": 1e-3,
    "n_steps": 20,
    "dt_out": 1.0,
    "forcing_amplitude": 0.1,
    "cfl": DEFAULT_CFL,
    "max_dt": DEFAULT_MAX_DT,
    "viscosity_range": None,
    "forcing_range": None,
    "ic_alpha": 2.5,
    "ic_tau": 7.0,
    "dtype": "float32",
    "device": "cpu",
}


@dataclass(frozen=True)
class GridStudy:
    """One row of the convergence study behind ``solve_resolution: auto``.

    At ``viscosity`` and the settings :data:`STUDY_SETTINGS`, over ``samples`` test samples (all
    frames on 6 of them, the peak frames on the rest: :data:`SOLVE_GRID_STUDY`'s note):
    ``max_difference[n]`` is the largest relative L2 difference, per stored frame t = 1, ...,
    ``horizon`` and field (vorticity, velocity), between the frames "auto" stores solving on the
    n x n grid (after :data:`STARTUP_FRAMES` on the reference grid) and those of the reference
    solve on the ``ic_resolution`` grid, both in float64 (the grids' discretisation errors, time
    step included; the float32 round-off of the data, the same on every grid, is stated in
    datasets/ns.md).
    """

    viscosity: float
    horizon: float
    samples: int
    max_difference: dict[int, float]


#: The settings every row of :data:`SOLVE_GRID_STUDY` was measured with (the FNO benchmark
#: presets' apart from viscosity and horizon); ``auto`` uses no row for other settings.
STUDY_SETTINGS: dict[str, Any] = {
    "resolution": 64, "ic_resolution": 256, "dt_out": 1.0, "forcing_amplitude": 0.1,
    "cfl": DEFAULT_CFL, "max_dt": DEFAULT_MAX_DT, "viscosity_range": None, "forcing_range": None,
    "ic_alpha": 2.5, "ic_tau": 7.0,
}

#: Stored frames after frame 0 that ``auto`` solves on the reference grid before the coarse one
#: takes over. The difference a coarse grid makes is injected early, while the initial field's
#: band above the coarse grid's dealiased modes still takes part in the advection (on the
#: reference grid only), and then decays about 2x per time unit: at nu = 1e-3 on 64, the worst
#: of the 200 test samples differs by 1.4e-6 (t = 1) solved coarse from t = 0, by 5.1e-7 after
#: one frame of start-up, by 2.7e-7 after two (datasets/ns.md, "Solve grid").
STARTUP_FRAMES = 2

#: Measured by ``python benchmarks/ns_convergence.py study`` (datasets/ns.md, "Solve grid"); at
#: nu = 1e-3 the larger of that (6 samples to t = 50: 1.2e-7, 1.2e-8) and of ``... early`` (all
#: 200 test samples to t = 3, where the difference peaks: 2.7e-7, 2.3e-8). Changing a row or
#: STARTUP_FRAMES can change what ``auto`` produces: bump :attr:`NavierStokesGenerator.version`.
SOLVE_GRID_STUDY: tuple[GridStudy, ...] = (
    GridStudy(viscosity=1e-3, horizon=50.0, samples=200, max_difference={64: 2.7e-7, 128: 2.3e-8}),
    GridStudy(viscosity=1e-4, horizon=30.0, samples=6, max_difference={64: 3.5e-2, 128: 1.2e-3}),
    GridStudy(viscosity=1e-5, horizon=20.0, samples=6, max_difference={64: 1.8e-1, 128: 5.9e-2}),
)


@functools.lru_cache(maxsize=None)
def _log_once(level: int, message: str) -> None:
    """Log a message once per process (the build driver makes a generator per chunk)."""
    log.log(level, message)


def auto_solve_resolution(cfg: dict[str, Any]) -> int:
    """The grid ``solve_resolution: auto`` solves on: the coarsest one whose row of
    :data:`SOLVE_GRID_STUDY` (same viscosity, horizon at least the requested n_steps * dt_out,
    settings :data:`STUDY_SETTINGS`) is within ``solve_tolerance``, else the reference grid
    ``ic_resolution`` itself, with a warning saying why (never silently coarser)."""
    reference, tolerance = cfg["ic_resolution"], cfg["solve_tolerance"]
    horizon = cfg["n_steps"] * cfg["dt_out"]
    unstudied = [f"{k}={cfg[k]!r} (study: {v!r})" for k, v in STUDY_SETTINGS.items() if cfg[k] != v]
    study = next((row for row in SOLVE_GRID_STUDY
                  if row.viscosity == cfg["viscosity"] and horizon <= row.horizon), None)
    if unstudied or study is None:
        why = ("settings " + ", ".join(unstudied) if unstudied else
               f"none at viscosity {cfg['viscosity']:g} up to t = {horizon:g} (rows: "
               + ", ".join(f"nu {r.viscosity:g} to t = {r.horizon:g}" for r in SOLVE_GRID_STUDY) + ")")
        _log_once(logging.WARNING, f"solve_resolution auto: no convergence study covers these settings ({why}); "
                                   f"solving on the reference grid {reference}")
        return reference
    passing = sorted(n for n, d in study.max_difference.items() if d <= tolerance and n < reference)
    if not passing:
        measured = ", ".join(f"{n}: {d:.1e}" for n, d in sorted(study.max_difference.items()))
        _log_once(logging.WARNING, f"solve_resolution auto: no grid coarser than {reference} meets solve_tolerance "
                                   f"{tolerance:g} at viscosity {cfg['viscosity']:g} up to t = {study.horizon:g} "
                                   f"(measured: {measured}); solving on the reference grid {reference}")
        return reference
    grid = passing[0]
    _log_once(logging.INFO, f"solve_resolution auto: {grid} (stored frames within "
                            f"{study.max_difference[grid]:.1e} of the {reference} grid's up to t = {study.horizon:g}, "
                            f"solve_tolerance {tolerance:g})")
    return grid


class NavierStokesGenerator(Generator):
    """The FNO Navier–Stokes data: vorticity and velocity from a GRF initial vorticity.

    Settings (defaults): resolution=64 (stored grid), solve_resolution=64 (a multiple of
    resolution; stored by [::k] subsampling as the FNO files, 256 -> 64; or "auto", see the
    module docstring and :func:`auto_solve_resolution`), solve_tolerance=1e-6 (read by "auto"),
    ic_resolution=256 (grid the GRF noise is drawn on; "auto"'s reference grid),
    viscosity=1e-3, n_steps=20 (frames after t = 0), dt_out=1.0, forcing_amplitude=0.1,
    cfl=1.0, max_dt=0.1, viscosity_range=None ([lo, hi]: log-uniform per sample),
    forcing_range=None ([lo, hi]: uniform amplitude per sample), ic_alpha=2.5, ic_tau=7.0,
    dtype="float32" | "float64", device="cpu" | "cuda[:i]".

    Per sample, ``default_rng(seed)`` draws two uniforms first (used for viscosity and forcing
    amplitude when those vary, consumed either way so the initial field does not depend on the
    preset), then the GRF noise.
    """

    family = "ns"
    version = "1"
    parallelism = "threads"           # _fft_threads: two threads a process, whatever the driver does

    @property
    def chunk_size(self) -> int:
        """About 16 x 64^2 grid points a chunk (batched FFTs; 64^2: one sample costs twice its
        share in a batch of 8), down to one sample a chunk at 256^2 (the bar moves every sample)."""
        return max(1, 16 * 64 * 64 // self.solve_grid ** 2)

    def __init__(self, **settings: Any) -> None:
        auto = settings.get("solve_resolution") == "auto"
        grids = ("resolution", "ic_resolution") if auto else ("resolution", "solve_resolution", "ic_resolution")
        cfg = merged_settings("Navier-Stokes", settings, _DEFAULTS, positive_ints=grids + ("n_steps",))
        super().__init__(**settings)
        for key in grids:
            if cfg[key] % 2:
                raise ValueError(f"{key} must be even (FFT grid), got {cfg[key]}")
        # "auto" stores frame 0 from the ic_resolution grid, subsampled [::k] like a solve grid
        fine = "ic_resolution" if auto else "solve_resolution"
        if cfg[fine] % cfg["resolution"]:
            raise ValueError(
                f"{fine} ({cfg[fine]}) must be a multiple of resolution ({cfg['resolution']}): the stored "
                "grid is the solve grid subsampled [::k]")
        for key in ("viscosity", "dt_out", "cfl", "max_dt", "ic_tau", "solve_tolerance"):
            if not float(cfg[key]) > 0:
                raise ValueError(f"{key} must be positive, got {cfg[key]!r}")
            cfg[key] = float(cfg[key])
        cfg["forcing_amplitude"] = float(cfg["forcing_amplitude"])
        cfg["ic_alpha"] = float(cfg["ic_alpha"])
        if cfg["ic_alpha"] <= 1.0:
            raise ValueError(f"ic_alpha must be > 1 (a finite-variance field in 2D), got {cfg['ic_alpha']}")
        cfg["viscosity_range"] = range_setting("viscosity_range", cfg["viscosity_range"], lower=0.0, strict=True)
        cfg["forcing_range"] = range_setting("forcing_range", cfg["forcing_range"], lower=0.0)
        if cfg["dtype"] not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {cfg['dtype']!r}")
        try:
            dev = torch.device(cfg["device"])
        except (RuntimeError, TypeError):
            raise ValueError(f"device must be 'cpu' or 'cuda[:i]', got {cfg['device']!r}") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device='cuda' requested but CUDA is not available; use device='cpu'")
        self.cfg = cfg
        self.device = dev
        self.dtype = torch.float32 if cfg["dtype"] == "float32" else torch.float64
        #: the grid solved on (under "auto", after the start-up on ic_resolution if it is coarser)
        self.auto = auto
        self.solve_grid = auto_solve_resolution(cfg) if auto else cfg["solve_resolution"]

    def solver_settings(self) -> dict[str, Any]:
        """All settings, defaults included, as plain Python values."""
        out = dict(self.cfg)
        for key in ("viscosity_range", "forcing_range"):
            if out[key] is not None:
                out[key] = list(out[key])
        return out

    def _varying(self) -> list[str]:
        return [name for name, key in (("viscosity", "viscosity_range"),
                                       ("forcing_amplitude", "forcing_range"))
                if self.cfg[key] is not None]

    def describe(self) -> DatasetDescription:
        c = self.cfg
        grid = np.linspace(0.0, 1.0, c["resolution"] + 1)[:-1]
        varying = self._varying()
        scalars = {name: c[name] for name in ("viscosity", "forcing_amplitude") if name not in varying}
        nu = "{viscosity}" if "viscosity" in varying else f"{c['viscosity']:g}"
        amp = "{forcing_amplitude}" if "forcing_amplitude" in varying else f"{c['forcing_amplitude']:g}"
        equation = (
            f"w_t + u . grad w = {nu} Lap w + f,  u = (psi_y, -psi_x),  -Lap psi = w,  "
            f"f = {amp} (sin 2pi(x+y) + cos 2pi(x+y)),  (x, y) in [0, 1)^2 periodic;  "
            f"w(0) ~ GRF(alpha={c['ic_alpha']:g}, tau={c['ic_tau']:g})")
        return DatasetDescription(
            family=self.family,
            x=grid.copy(),
            y=grid.copy(),
            times=np.arange(c["n_steps"] + 1, dtype=np.float64) * c["dt_out"],
            fields=[
                FieldInfo("vorticity", 0, True, "w = v_x - u_y"),
                FieldInfo("velocity", 1, True, "u = (psi_y, -psi_x), -Lap psi = w"),
            ],
            boundary_conditions=[BoundaryInfo("periodic", "periodic", ["x", "y"], ["vorticity", "velocity"])],
            scalars=scalars,
            per_sample_scalars=varying,
            equation=equation,
        )

    def draw_field(self, seed: np.random.SeedSequence) -> tuple[np.ndarray, float, float]:
        """The random inputs of one sample: w0 on the ic_resolution grid (float64), viscosity, amplitude."""
        c = self.cfg
        rng = np.random.default_rng(seed)
        u_nu, u_amp = rng.random(2)
        nu, amp = c["viscosity"], c["forcing_amplitude"]
        if c["viscosity_range"] is not None:
            lo, hi = c["viscosity_range"]
            nu = float(math.exp(math.log(lo) + u_nu * (math.log(hi) - math.log(lo))))
        if c["forcing_range"] is not None:
            lo, hi = c["forcing_range"]
            amp = float(lo + u_amp * (hi - lo))
        return gaussian_random_field(rng, c["ic_resolution"], c["ic_alpha"], c["ic_tau"]), nu, amp

    def draw(self, seed: np.random.SeedSequence) -> tuple[np.ndarray, float, float]:
        """The random inputs of one sample: w0 on the solve grid (float64), viscosity, amplitude."""
        field, nu, amp = self.draw_field(seed)
        return spectral_resample(field, self.solve_grid), nu, amp

    def trajectories(self, seeds: list[np.random.SeedSequence], solve_grid: int | None = None
                     ) -> dict[str, np.ndarray]:
        """What :meth:`generate` stores, in the solver's precision (``dtype``), before float32 storage.

        ``solve_grid``: solve on this grid instead of :attr:`solve_grid` (convergence studies: under
        "auto", the method stays, the grid the table would pick is replaced).
        """
        c = self.cfg
        if len(seeds) == 0:
            raise ValueError("generate() needs at least one seed")
        grid, reference, stored = solve_grid or self.solve_grid, c["ic_resolution"], c["resolution"]
        draws = [self.draw_field(s) for s in seeds]
        nu = np.array([d[1] for d in draws], dtype=np.float64)
        amp = np.array([d[2] for d in draws], dtype=np.float64)
        times = np.arange(c["n_steps"] + 1, dtype=np.float64) * c["dt_out"]
        tensor = functools.partial(torch.as_tensor, dtype=self.dtype, device=self.device)

        def solve(fields: list[np.ndarray], n: int, out_times: np.ndarray, subsample: int):
            w0 = np.stack([spectral_resample(f, n) for f in fields])
            forcing = tensor(amp[:, None, None] * forcing_pattern(n)[None])
            return solve_vorticity(tensor(w0), forcing, tensor(nu), out_times, cfl=c["cfl"], max_dt=c["max_dt"],
                                   subsample=subsample, return_velocity=True)

        with _fft_threads(self.device):  # thread-count independent bits (fingerprinted inputs)
            if not (self.auto and grid < reference):
                sol = solve([d[0] for d in draws], grid, times, grid // stored)
                w, u = sol.vorticity, sol.velocity
            else:
                # Start-up on the reference grid (frames 0 .. STARTUP_FRAMES are the reference
                # protocol's bit for bit), then the coarse grid from the truncated state.
                switch = min(STARTUP_FRAMES, c["n_steps"])
                head = solve([d[0] for d in draws], reference, times[:switch + 1], 1)
                k = reference // stored
                w, u = head.vorticity[:, :, ::k, ::k], head.velocity[:, :, ::k, ::k]
                if switch < c["n_steps"]:
                    state = list(head.vorticity[:, -1].to(torch.float64).cpu().numpy())
                    tail = solve(state, grid, times[switch:] - times[switch], grid // stored)
                    w, u = torch.cat((w, tail.vorticity[:, 1:]), dim=1), torch.cat((u, tail.velocity[:, 1:]), dim=1)
        out = {"vorticity": w.cpu().numpy(), "velocity": u.cpu().numpy()}
        varying = self._varying()
        if "viscosity" in varying:
            out["viscosity"] = nu
        if "forcing_amplitude" in varying:
            out["forcing_amplitude"] = amp
        return out

    def finer_solve(self, seeds: list[np.random.SeedSequence], factor: int = 2) -> dict[str, np.ndarray]:
        """The same initial fields (drawn on ``ic_resolution``) solved on a grid ``factor`` times finer
        than the one the data were solved on, in float64, sampled at the stored points."""
        precise = self if self.dtype == torch.float64 else type(self)(**{**self.settings, "dtype": "float64"})
        return precise.trajectories(seeds, solve_grid=self.solve_grid * factor)

    def coarser_solve(self, seeds: list[np.random.SeedSequence], factor: int) -> dict[str, np.ndarray]:
        """The same initial fields solved on a grid ``factor`` times coarser than the stored one,
        each frame interpolated spectrally to the stored grid (the solve is timed as it runs)."""
        coarse_grid = int(self.cfg["resolution"]) // factor
        coarse = type(self)(**{**self.settings, "resolution": coarse_grid, "solve_resolution": coarse_grid})
        out = coarse.trajectories(seeds)
        n = int(self.cfg["resolution"])
        out["vorticity"] = spectral_resample(out["vorticity"], n)
        out["velocity"] = np.moveaxis(spectral_resample(np.moveaxis(out["velocity"], -1, 2), n), 2, -1)
        return out

    def generate(self, seeds: list[np.random.SeedSequence]) -> dict[str, np.ndarray]:
        out = self.trajectories(seeds)
        for name in ("vorticity", "velocity"):
            out[name] = out[name].astype(np.float32)
        return out
