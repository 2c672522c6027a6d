r"""PDEBench's radial dam break (2D shallow water) as a data set, solved by finite volumes.

Initial state (PDEBench, ``gen_radial_dam_break.py``): still water, ``h = h_in`` where the cell
centre lies in the disc ``|x - center| <= r`` and ``h_out`` elsewhere; ``r ~ U(radius_range)``
per sample. Domain [-2.5, 2.5]^2 with ``resolution`` cells a side, values at cell centres.
The equations and the scheme are those of :mod:`pdebench_x.numerics.swe`; computation is
float64 by default, storage float32.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch

from pdebench_x.data.generators.base import (
    BoundaryInfo,
    DatasetDescription,
    FieldInfo,
    Generator,
    merged_settings,
    number_pair,
    range_setting,
)
from pdebench_x.numerics.swe.fluxes import LIMITERS
from pdebench_x.numerics.swe.operator import velocities
from pdebench_x.numerics.swe.radial_dam import DOMAIN, cell_centres, radial_dam_depth
from pdebench_x.numerics.coarsen import block_average
from pdebench_x.numerics.swe.scheme import MAX_CFL, SCHEMES, solve_swe

#: boundary option (those of the solver) -> The Well's bc_type
BC_TYPES = {"extrapolation": "open", "wall": "wall", "periodic": "periodic"}

DEFAULTS: dict[str, Any] = {
    "resolution": 128,
    "n_frames": 101,
    "dt_out": 0.01,
    "g": 1.0,
    "h_in": 2.0,
    "h_out": 1.0,
    "radius_range": (0.3, 0.7),
    "center": (0.0, 0.0),
    "boundary": "extrapolation",
    "cfl": None,
    "frame_stride": 1,
    "h_in_range": None,
    "g_range": None,
    "limiter": "mc",
    "h_dry": 1e-10,
    "dtype": "float64",
    "device": "cpu",
    "batch_size": 16,
    "num_threads": None,
    "scheme": "hancock",
}

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _repeat_cells(v: np.ndarray, factor: int) -> np.ndarray:
    """[B, T, X, Y, ...] with each cell repeated over factor x factor finer cells (axes 2 and 3)."""
    return np.repeat(np.repeat(v, factor, axis=2), factor, axis=3)


def _frame_store(slot: dict[int, int], h_dry: float, h: np.ndarray, velocity: np.ndarray
                 ) -> Callable[[int, torch.Tensor], None]:
    """The solver's ``on_frame``: output frame k, if stored (at ``slot[k]``), into the float32
    arrays ``h`` [B, T, X, Y] and ``velocity`` [B, T, X, Y, 2], a frame at a time (no float64
    copy of the whole trajectory)."""
    h, velocity = torch.from_numpy(h), torch.from_numpy(velocity)

    def store(k: int, q: torch.Tensor) -> None:
        if k in slot:
            u, v = velocities(*q, h_dry)
            h[:, slot[k]].copy_(q[0])
            velocity[:, slot[k], ..., 0].copy_(u)
            velocity[:, slot[k], ..., 1].copy_(v)
    return store


class ShallowWaterGenerator(Generator):
    """PDEBench's radial dam break (2D shallow water), batched finite volumes in torch.

    Settings (keyword arguments, defaults in :data:`DEFAULTS`): ``resolution`` cells a side on
    [-2.5, 2.5]^2; ``n_frames`` output times ``k dt_out``; ``frame_stride`` stores every k-th
    of them (the solve still lands on all, so a strided set is an exact subset of the full one);
    ``g``, ``h_in``, ``h_out``; ``radius_range``; ``center``; ``boundary`` in
    {extrapolation, wall, periodic}; ``scheme``: ``hancock`` (the default since
    version 2: unsplit MUSCL-Hancock, one flux evaluation a step at over twice SSP-RK2's step)
    or ``rk2`` (SSP-RK2, two a step, version 1's scheme; the same MUSCL + HLL in space, about 3x
    slower; see datasets/swe.md); ``cfl`` (None: the scheme's own, 0.4 for rk2, 0.9
    for hancock; at most 0.5 for rk2, 1 for hancock); ``h_in_range`` / ``g_range``: uniform
    per-sample draws replacing ``h_in`` / ``g`` (parameter-varying preset); ``limiter`` (mc or
    minmod); ``h_dry``; ``dtype`` of the computation (float64; storage is float32);
    ``device``; ``batch_size`` (samples solved together; memory only, never the numbers);
    ``num_threads`` (torch CPU threads during ``generate``; None keeps torch's setting; on a
    shared, loaded machine 1 is much faster than contending threads).

    Per sample, ``np.random.default_rng(seed)`` draws ``radius``, then ``h_in`` (if
    ``h_in_range``), then ``g`` (if ``g_range``), in that order.
    """

    family = "swe"
    #: 2: ``scheme`` defaults to ``hancock`` (version 1 was ``rk2``; its data: ``scheme=rk2``).
    version = "2"

    @property
    def parallelism(self) -> str:
        return "processes" if torch.device(self.settings["device"]).type == "cpu" else "threads"

    @property
    def chunk_size(self) -> int:
        return int(self.settings["batch_size"])

    def __init__(self, **settings: Any) -> None:
        merged = merged_settings("swe", settings, DEFAULTS)
        self._validate(merged)
        super().__init__(**merged)

    @staticmethod
    def _validate(s: dict[str, Any]) -> None:
        def positive_int(name, minimum=1):
            v = s[name]
            if isinstance(v, bool) or int(v) != v or int(v) < minimum:
                raise ValueError(f"{name} must be an integer >= {minimum}; got {v!r}")

        positive_int("resolution", 2)
        positive_int("n_frames")
        positive_int("frame_stride")
        positive_int("batch_size")
        if s["num_threads"] is not None:
            positive_int("num_threads")
        for name in ("dt_out", "g", "h_in"):
            if not float(s[name]) > 0:
                raise ValueError(f"{name} must be > 0; got {s[name]!r}")
        if not float(s["h_out"]) >= 0:
            raise ValueError(f"h_out must be >= 0 (0 is a dry bed); got {s['h_out']!r}")
        range_setting("radius_range", s["radius_range"], lower=0.0, strict=True, optional=False)
        number_pair("center", s["center"])
        if s["boundary"] not in BC_TYPES:
            raise ValueError(f"boundary={s['boundary']!r} is not supported; choose one of {sorted(BC_TYPES)}")
        if s["limiter"] not in LIMITERS:
            raise ValueError(f"limiter={s['limiter']!r} is not supported; choose one of {LIMITERS}")
        if s["scheme"] not in SCHEMES:
            raise ValueError(f"scheme={s['scheme']!r} is not supported; choose one of {SCHEMES}")
        if s["cfl"] is not None and not 0 < float(s["cfl"]) <= MAX_CFL[s["scheme"]]:
            raise ValueError(f"cfl must be in (0, {MAX_CFL[s['scheme']]}] for scheme {s['scheme']} "
                             f"(rk2: positivity bound, hancock: stability bound); got {s['cfl']!r}")
        for name in ("h_in_range", "g_range"):
            range_setting(name, s[name], lower=0.0, strict=True)
        if not 0 <= float(s["h_dry"]) < 1e-3:
            raise ValueError(f"h_dry must be in [0, 1e-3); got {s['h_dry']!r}")
        if str(s["dtype"]) not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}; got {s['dtype']!r}")
        try:
            torch.device(s["device"])
        except (RuntimeError, TypeError):
            raise ValueError(f"device={s['device']!r} is not a torch device (e.g. 'cpu', 'cuda')") from None

    # -- grid and times ----------------------------------------------------------------------
    @property
    def grid(self) -> np.ndarray:
        return cell_centres(int(self.settings["resolution"]))

    @property
    def output_times(self) -> np.ndarray:
        """All solver output times ``k dt_out``, k = 0 .. n_frames - 1."""
        return np.arange(int(self.settings["n_frames"])) * float(self.settings["dt_out"])

    @property
    def stored_frames(self) -> np.ndarray:
        return np.arange(0, int(self.settings["n_frames"]), int(self.settings["frame_stride"]))

    def describe(self) -> DatasetDescription:
        s = self.settings
        per_sample = ["radius"]
        scalars = {}
        for name, rng_name in (("h_in", "h_in_range"), ("g", "g_range")):
            if s[rng_name] is None:
                scalars[name] = float(s[name])
            else:
                per_sample.append(name)
        scalars["h_out"] = float(s["h_out"])
        g = "{g}" if "g" in per_sample else repr(float(s["g"]))
        h_in = "{h_in}" if "h_in" in per_sample else repr(float(s["h_in"]))
        cx, cy = (float(c) for c in s["center"])
        equation = (
            f"h_t + (h u)_x + (h v)_y = 0; "
            f"(h u)_t + (h u^2 + g h^2/2)_x + (h u v)_y = 0; "
            f"(h v)_t + (h u v)_x + (h v^2 + g h^2/2)_y = 0; g = {g}; flat bottom; "
            f"(x, y) in [-2.5, 2.5]^2; h(0) = {h_in} if (x - {cx!r})^2 + (y - {cy!r})^2 <= {{radius}}^2 "
            f"else {float(s['h_out'])!r}; u(0) = v(0) = 0")
        bc = s["boundary"]
        x = self.grid
        return DatasetDescription(
            family=self.family, x=x, y=x.copy(),
            fields=[FieldInfo("h", 0, True, "water depth"),
                    FieldInfo("velocity", 1, True, "depth-averaged velocity (u, v) = (hu, hv)/h, 0 where dry")],
            boundary_conditions=[BoundaryInfo(bc, BC_TYPES[bc], ["x", "y"], ["h", "velocity"])],
            times=self.output_times[self.stored_frames],
            scalars=scalars, per_sample_scalars=per_sample, equation=equation)

    # -- sampling and solving -------------------------------------------------------------------
    def draw(self, seeds: list[np.random.SeedSequence]) -> dict[str, np.ndarray]:
        """Per-sample parameters: radius, and h_in / g (drawn, or the constant settings)."""
        s = self.settings
        rlo, rhi = number_pair("radius_range", s["radius_range"])
        hrange, grange = number_pair("h_in_range", s["h_in_range"], True), number_pair("g_range", s["g_range"], True)
        radius, h_in, g = [], [], []
        for seed in seeds:
            rng = np.random.default_rng(seed)
            radius.append(rng.uniform(rlo, rhi))
            h_in.append(rng.uniform(*hrange) if hrange else float(s["h_in"]))
            g.append(rng.uniform(*grange) if grange else float(s["g"]))
        return {"radius": np.array(radius), "h_in": np.array(h_in), "g": np.array(g)}

    def finer_solve(self, seeds: list[np.random.SeedSequence], factor: int = 2) -> dict[str, np.ndarray]:
        """The same dam breaks on cells ``factor`` times smaller, brought back to the stored cells as
        the finite volumes hold them: cell averages of the conserved h and (hu, hv), velocity =
        average momentum / average depth (0 in a dry cell)."""
        fine = type(self)(**{**self.settings, "resolution": int(self.settings["resolution"]) * factor}).generate(seeds)
        h = fine["h"].astype(np.float64)
        depth = block_average(h, factor)
        momentum = np.stack([block_average(h * fine["velocity"][..., i], factor) for i in range(2)], axis=-1)
        wet = depth[..., None] > float(self.settings["h_dry"])
        velocity = np.where(wet, momentum / np.where(wet, depth[..., None], 1.0), 0.0)
        return {**fine, "h": depth, "velocity": velocity}

    def coarser_solve(self, seeds: list[np.random.SeedSequence], factor: int) -> dict[str, np.ndarray]:
        """The same dam breaks on cells ``factor`` times larger, each coarse cell's state repeated
        over the stored cells it covers."""
        n = int(self.settings["resolution"])
        if n % factor:
            raise ValueError(f"resolution {n} is not divisible by {factor}")
        coarse = type(self)(**{**self.settings, "resolution": n // factor}).generate(seeds)
        return {**coarse, "h": _repeat_cells(coarse["h"], factor), "velocity": _repeat_cells(coarse["velocity"], factor)}

    def generate(self, seeds: list[np.random.SeedSequence]) -> dict[str, np.ndarray]:
        threads = self.settings["num_threads"]
        if threads is None:
            return self._generate(seeds)
        previous = torch.get_num_threads()
        torch.set_num_threads(int(threads))
        try:
            return self._generate(seeds)
        finally:
            torch.set_num_threads(previous)

    def _generate(self, seeds: list[np.random.SeedSequence]) -> dict[str, np.ndarray]:
        params = self.draw(seeds)
        s = self.settings
        n = int(s["resolution"])
        dx = (DOMAIN[1] - DOMAIN[0]) / n
        x = self.grid
        frames = self.stored_frames
        desc_scalars = self.describe().per_sample_scalars
        h_all = np.empty((len(seeds), len(frames), n, n), np.float32)
        vel_all = np.empty((len(seeds), len(frames), n, n, 2), np.float32)
        slot = {int(k): i for i, k in enumerate(frames)}
        bs = int(s["batch_size"])
        for start in range(0, len(seeds), bs):
            sl = slice(start, start + bs)
            h0 = radial_dam_depth(x, x, params["radius"][sl], params["h_in"][sl], float(s["h_out"]),
                                  number_pair("center", s["center"]))
            zeros = np.zeros_like(h0)
            solve_swe(h0, zeros, zeros, self.output_times, dx, dx, g=params["g"][sl], boundary=s["boundary"],
                      cfl=s["cfl"], limiter=s["limiter"], h_dry=float(s["h_dry"]), dtype=_DTYPES[str(s["dtype"])],
                      device=s["device"], scheme=s["scheme"],
                      on_frame=_frame_store(slot, float(s["h_dry"]), h_all[sl], vel_all[sl]))
        out = {"h": h_all, "velocity": vel_all}
        for name in desc_scalars:
            out[name] = params[name]
        return out

