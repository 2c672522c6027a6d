"""The FNO Navier–Stokes data set: 2D vorticity on the unit torus from random initial fields.

PDE, on (x, y) in [0, 1)^2 with periodic boundaries::

    w_t + u . grad w = nu Lap w + f,      u = (psi_y, -psi_x),      -Lap psi = w,
    f(x, y) = A (sin 2 pi (x + y) + cos 2 pi (x + y))

(A = ``forcing_amplitude``, 0.1 in the FNO data), from a Gaussian random initial vorticity
(:mod:`pdebench_x.numerics.ns.fields`), solved by :mod:`pdebench_x.numerics.ns.solver`.
The noise is always drawn on an ``ic_resolution`` grid (256, the FNO's) and the field is
spectrally truncated (or zero-padded) to the solve grid, so a seed gives the same initial
field, up to its band limit, whatever grid it is solved on.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
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


class NavierStokesGenerator(Generator):
    """The FNO Navier–Stokes data: vorticity and velocity from a GRF initial vorticity.

    Settings (defaults): resolution=64 (stored grid), solve_resolution=64 (a multiple of
    resolution; stored by [::k] subsampling as the FNO files, 256 -> 64), ic_resolution=256
    (grid the GRF noise is drawn on), viscosity=1e-3, n_steps=20 (frames after t = 0),
    dt_out=1.0, forcing_amplitude=0.1, cfl=1.0, max_dt=0.1, viscosity_range=None ([lo, hi]:
    log-uniform per sample), forcing_range=None ([lo, hi]: uniform amplitude per sample),
    ic_alpha=2.5, ic_tau=7.0, dtype="float32" | "float64", device="cpu" | "cuda[:i]".

    Per sample, ``default_rng(seed)`` draws two uniforms first (used for viscosity and forcing
    amplitude when those vary, consumed either way so the initial field does not depend on the
    preset), then the GRF noise.
    """

    family = "ns"
    version = "1"
    parallelism = "threads"

    def __init__(self, **settings: Any) -> None:
        cfg = merged_settings("Navier-Stokes", settings, _DEFAULTS,
                              positive_ints=("resolution", "solve_resolution", "ic_resolution", "n_steps"))
        super().__init__(**settings)
        for key in ("resolution", "solve_resolution", "ic_resolution"):
            if cfg[key] % 2:
                raise ValueError(f"{key} must be even (FFT grid), got {cfg[key]}")
        if cfg["solve_resolution"] % cfg["resolution"]:
            raise ValueError(
                f"solve_resolution ({cfg['solve_resolution']}) must be a multiple of resolution "
                f"({cfg['resolution']}): the stored grid is the solve grid subsampled [::k]")
        for key in ("viscosity", "dt_out", "cfl", "max_dt", "ic_tau"):
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

    def draw(self, seed: np.random.SeedSequence) -> tuple[np.ndarray, float, float]:
        """The random inputs of one sample: w0 on the solve grid (float64), viscosity, amplitude."""
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
        field = gaussian_random_field(rng, c["ic_resolution"], c["ic_alpha"], c["ic_tau"])
        return spectral_resample(field, c["solve_resolution"]), nu, amp

    def generate(self, seeds: list[np.random.SeedSequence]) -> dict[str, np.ndarray]:
        c = self.cfg
        if len(seeds) == 0:
            raise ValueError("generate() needs at least one seed")
        S = c["solve_resolution"]
        draws = [self.draw(s) for s in seeds]
        w0 = np.stack([d[0] for d in draws])
        nu = np.array([d[1] for d in draws], dtype=np.float64)
        amp = np.array([d[2] for d in draws], dtype=np.float64)
        forcing = amp[:, None, None] * forcing_pattern(S)[None]
        times = np.arange(c["n_steps"] + 1, dtype=np.float64) * c["dt_out"]
        with _fft_threads(self.device):  # thread-count independent bits (fingerprinted inputs)
            sol = solve_vorticity(
                torch.as_tensor(w0, dtype=self.dtype, device=self.device),
                torch.as_tensor(forcing, dtype=self.dtype, device=self.device),
                torch.as_tensor(nu, dtype=self.dtype, device=self.device),
                times,
                cfl=c["cfl"],
                max_dt=c["max_dt"],
                subsample=S // c["resolution"],
                return_velocity=True,
            )
        out = {
            "vorticity": sol.vorticity.to(torch.float32).cpu().numpy(),
            "velocity": sol.velocity.to(torch.float32).cpu().numpy(),
        }
        varying = self._varying()
        if "viscosity" in varying:
            out["viscosity"] = nu
        if "forcing_amplitude" in varying:
            out["forcing_amplitude"] = amp
        return out

