r"""2D shallow-water equations: PDEBench's radial dam break, solved by finite volumes.

PDE (flat bottom, gravity :math:`g`), conserved state :math:`q = (h, hu, hv)`::

    h_t  + (h u)_x             + (h v)_y             = 0
    (hu)_t + (h u^2 + g h^2/2)_x + (h u v)_y           = 0
    (hv)_t + (h u v)_x           + (h v^2 + g h^2/2)_y = 0

Initial state (PDEBench, ``gen_radial_dam_break.py``): still water, ``h = h_in`` where the cell
centre lies in the disc ``|x - center| <= r`` and ``h_out`` elsewhere; ``r ~ U(radius_range)``
per sample. Domain [-2.5, 2.5]^2 with ``resolution`` cells a side, values at cell centres.

Scheme (finite volume, Godunov type), one concern per function below:

* reconstruction: cell primitives (h, u_n, u_t) are extended to faces by a piecewise-linear
  MUSCL slope ``s = phi(q_i - q_{i-1}, q_{i+1} - q_i)`` with the MC limiter
  ``phi(a, b) = sign(a) min(2|a|, 2|b|, |a + b|/2)`` (or minmod ``sign(a) min(|a|, |b|)``),
  both zero when ``a b <= 0``. Limited face values lie between neighbouring cell values, so face
  depths are non-negative whenever cell depths are (depth-limiting positivity treatment); the
  face momentum is ``h_face * u_face``. With a flat bottom the hydrostatic reconstruction of
  Audusse et al. is the identity, and a lake at rest (h const, u = v = 0) gives equal fluxes on
  every face: the scheme is well balanced exactly.
* flux: HLL for (h, h u_n) with Davis wave speeds ``s_L = min(u_L - c_L, u_R - c_R)``,
  ``s_R = max(u_L + c_L, u_R + c_R)``, ``c = sqrt(g h)`` (dry side: ``s_L = u_R - 2 c_R`` /
  ``s_R = u_L + 2 c_L``), clipped to ``s_L <= 0 <= s_R`` so one formula covers every case::

      F = (s_R F(q_L) - s_L F(q_R) + s_L s_R (q_R - q_L)) / (s_R - s_L)

  The tangential momentum is carried by the mass flux from the upwind side,
  ``F_t = F_h * (u_t,L if F_h >= 0 else u_t,R)`` (the HLLC treatment of the shear wave).
* time: SSP-RK2 (Heun), ``q1 = q + dt L(q)``, ``q^{n+1} = (q + q1 + dt L(q1)) / 2``, with
  ``dt = cfl / (a_x/dx + a_y/dy)`` per sample, ``a_x, a_y`` the largest HLL speeds over the
  faces of the current state; the step is shortened to land exactly on every output time.
  ``cfl <= 1/2`` makes each Euler stage a convex combination of non-negative face depths, so
  depths stay non-negative (the tests check it, dry bed included).
* dry cells (``h <= h_dry``) have zero velocity and their momentum is set to zero after each
  stage (mass is untouched, so mass conservation is exact up to round-off).
* boundaries, by two ghost cells a side: ``extrapolation`` (zero gradient, PDEBench's outflow
  condition), ``wall`` (mirror, normal velocity reversed) and ``periodic``.

Every operation is elementwise or a per-sample reduction, so a sample's numbers do not depend on
the other samples of its batch; x and y are treated by the same code with sums taken in an
order-independent way, so mirror and transpose symmetries of the start are kept to the last bit.
Computation is float64 by default, storage float32.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch

from pdebench_x.data.generators.base import BoundaryInfo, DatasetDescription, FieldInfo, Generator

#: boundary option -> The Well's bc_type
BOUNDARIES = {"extrapolation": "open", "wall": "wall", "periodic": "periodic"}
LIMITERS = ("mc", "minmod")
DOMAIN = (-2.5, 2.5)


# --------------------------------------------------------------------------------------------
# grid and initial state
# --------------------------------------------------------------------------------------------

def cell_centres(n: int, lo: float = DOMAIN[0], hi: float = DOMAIN[1]) -> np.ndarray:
    """Centres ``(lo + hi)/2 + (i + 1/2 - n/2) dx`` of ``n`` equal cells on [lo, hi].

    Written around the midpoint so that a symmetric interval gives centres that are exact
    negatives of each other (needed for the bitwise symmetry of a radial start).
    """
    dx = (hi - lo) / n
    return 0.5 * (lo + hi) + (np.arange(n) + 0.5 - 0.5 * n) * dx


def radial_dam_depth(x: np.ndarray, y: np.ndarray, radius: np.ndarray | float, h_in: np.ndarray | float,
                     h_out: float, center: Sequence[float] = (0.0, 0.0)) -> np.ndarray:
    """Depth ``h_in`` where ``(x - cx)^2 + (y - cy)^2 <= r^2`` (cell centres), ``h_out`` elsewhere.

    ``radius`` and ``h_in`` may be arrays [B]; returns [B, X, Y] (or [X, Y] for scalars).
    """
    radius = np.asarray(radius, dtype=np.float64)
    h_in = np.asarray(h_in, dtype=np.float64)
    dx2 = (np.asarray(x, dtype=np.float64) - center[0])[:, None] ** 2
    dy2 = (np.asarray(y, dtype=np.float64) - center[1])[None, :] ** 2
    r2 = dx2 + dy2
    inside = r2 <= (radius[..., None, None] ** 2)
    return np.where(inside, h_in[..., None, None], float(h_out))


# --------------------------------------------------------------------------------------------
# spatial operator
# --------------------------------------------------------------------------------------------

def _pad(p: torch.Tensor, dim: int, boundary: str, parity: torch.Tensor) -> torch.Tensor:
    """Two ghost cells on each side of ``dim`` of stacked primitives [3, B, X, Y].

    ``parity`` [3, 1, 1, 1] is +1 for h and the tangential velocity, -1 for the normal velocity
    (reversed by a wall).
    """
    n = p.shape[dim]
    if boundary == "extrapolation":
        lo = p.narrow(dim, 0, 1).repeat_interleave(2, dim)
        hi = p.narrow(dim, n - 1, 1).repeat_interleave(2, dim)
    elif boundary == "wall":
        lo = p.narrow(dim, 0, 2).flip(dim) * parity
        hi = p.narrow(dim, n - 2, 2).flip(dim) * parity
    elif boundary == "periodic":
        lo, hi = p.narrow(dim, n - 2, 2), p.narrow(dim, 0, 2)
    else:  # pragma: no cover - validated by callers
        raise ValueError(f"unknown boundary {boundary!r}; choose one of {sorted(BOUNDARIES)}")
    return torch.cat([lo, p, hi], dim)


def limited_slope(dl: torch.Tensor, dr: torch.Tensor, limiter: str = "mc") -> torch.Tensor:
    """Limited slope from the one-sided differences ``dl = q_i - q_{i-1}``, ``dr = q_{i+1} - q_i``.

    MC: ``sign(dl) min(2|dl|, 2|dr|, |dl + dr|/2)``; minmod: ``sign(dl) min(|dl|, |dr|)``;
    zero at extrema (``dl dr <= 0``). Symmetric in (dl, dr) and odd, as the symmetry tests need.
    """
    mag = torch.minimum(dl.abs(), dr.abs())
    if limiter == "mc":
        torch.minimum(mag.mul_(2.0), (dl + dr).abs_().mul_(0.5), out=mag)
    elif limiter != "minmod":
        raise ValueError(f"unknown limiter {limiter!r}; choose one of {LIMITERS}")
    return mag.copysign_(dl).masked_fill_(dl * dr <= 0, 0.0)


def _faces(q: torch.Tensor, dim: int, limiter: str) -> torch.Tensor:
    """[2, ...] left/right states at the n + 1 faces of the n interior cells from a twice-padded ``q``."""
    m = q.shape[dim]  # n + 4
    d = q.narrow(dim, 1, m - 1) - q.narrow(dim, 0, m - 1)           # m - 1 differences
    half = limited_slope(d.narrow(dim, 0, m - 2), d.narrow(dim, 1, m - 2), limiter).mul_(0.5)  # cells 1..m-2
    # face j + 1/2 lies between padded cells j and j + 1, j = 1 .. n + 1
    faces = torch.empty((2,) + half.narrow(dim, 0, m - 3).shape, dtype=q.dtype, device=q.device)
    torch.add(q.narrow(dim, 1, m - 3), half.narrow(dim, 0, m - 3), out=faces[0])
    torch.sub(q.narrow(dim, 2, m - 3), half.narrow(dim, 1, m - 3), out=faces[1])
    return faces


def hll_flux(h: torch.Tensor, un: torch.Tensor, ut: torch.Tensor, g: torch.Tensor | float, h_dry: float
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """HLL flux of (h, h u_n) and upwinded flux of h u_t across faces, and the face speed.

    ``h, un, ut`` are [2, ...]: index 0 the left state, 1 the right state of each face.
    Returns ``(F_h, F_n, F_t, max(-s_L, s_R))``; formulas in the module docstring.
    """
    c = torch.sqrt(g * h)
    s_l = torch.minimum(un[0] - c[0], un[1] - c[1])
    s_r = torch.maximum(un[0] + c[0], un[1] + c[1])
    dry = h <= h_dry
    if bool(dry.any()):  # a dry neighbour: the wet side's rarefaction front moves at u -/+ 2c
        s_l = torch.where(dry[0], un[1] - 2.0 * c[1], s_l)
        s_r = torch.where(dry[1], un[0] + 2.0 * c[0], s_r)
    s_l = s_l.clamp(max=0.0)
    s_r = s_r.clamp(min=0.0)
    # both sides dry: span = 0 and every numerator is 0, so the fluxes come out 0
    span = (s_r - s_l).clamp(min=torch.finfo(h.dtype).tiny)
    prod = s_l * s_r
    m = h * un                                   # normal momentum = mass flux, per side
    p = m * un + (0.5 * g) * (h * h)             # normal momentum flux, per side
    f_h = (s_r * m[0] - s_l * m[1] + prod * (h[1] - h[0])) / span
    f_n = (s_r * p[0] - s_l * p[1] + prod * (m[1] - m[0])) / span
    f_t = f_h * torch.where(f_h >= 0, ut[0], ut[1])
    return f_h, f_n, f_t, torch.maximum(-s_l, s_r)


def _direction(prim: torch.Tensor, dim: int, g: torch.Tensor, boundary: str, limiter: str,
               h_dry: float, parity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Flux differences ``F_{i+1/2} - F_{i-1/2}`` [3, B, X, Y] of (h, h u_n, h u_t) along ``dim``
    from primitives (h, u_n, u_t) [3, B, X, Y], and the largest face speed per sample [B]."""
    faces = _faces(_pad(prim, dim, boundary, parity), dim, limiter)  # [2, 3, B, ...]
    f_h, f_n, f_t, speed = hll_flux(faces[:, 0], faces[:, 1], faces[:, 2], g, h_dry)
    flux = torch.stack([f_h, f_n, f_t])
    n = prim.shape[dim]
    return flux.narrow(dim, 1, n) - flux.narrow(dim, 0, n), speed.flatten(1).amax(1)


def velocities(h: torch.Tensor, hu: torch.Tensor, hv: torch.Tensor, h_dry: float
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(u, v) = (hu/h, hv/h)`` in wet cells, 0 where ``h <= h_dry``."""
    dry = h <= h_dry
    safe = h.masked_fill(dry, 1.0)
    return (hu / safe).masked_fill_(dry, 0.0), (hv / safe).masked_fill_(dry, 0.0)


_PARITY = (1.0, -1.0, 1.0)


def swe_rhs(q: torch.Tensor, dx: float, dy: float, g: torch.Tensor | float,
            boundary: str = "extrapolation", limiter: str = "mc", h_dry: float = 1e-10
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Semi-discrete right-hand side ``L(q) = -(dF/dx + dG/dy)`` of the state q = (h, hu, hv).

    ``q`` is [3, B, X, Y] (x along dim -2, y along dim -1). Returns ``(L(q), rate)`` with
    ``rate = a_x/dx + a_y/dy`` [B], the inverse of the largest stable step at unit CFL number.
    """
    h = q[0]
    g = _as_batch(g, h)
    u, v = velocities(h, q[1], q[2], h_dry)
    parity = torch.tensor(_PARITY, dtype=q.dtype, device=q.device).reshape(3, 1, 1, 1)
    fx, ax = _direction(torch.stack([h, u, v]), -2, g, boundary, limiter, h_dry, parity)  # (h, hu, hv)
    gy, ay = _direction(torch.stack([h, v, u]), -1, g, boundary, limiter, h_dry, parity)  # (h, hv, hu)
    gy = gy[[0, 2, 1]]
    # x and y terms are added (commutative), so the transpose symmetry holds to the last bit
    return -(fx / dx + gy / dy), ax / dx + ay / dy


def _as_batch(g: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    g = torch.as_tensor(g, dtype=like.dtype, device=like.device)
    if g.ndim == 0:
        g = g.expand(like.shape[0])
    return g.reshape(-1, 1, 1)


# --------------------------------------------------------------------------------------------
# time integration
# --------------------------------------------------------------------------------------------

def solve_swe(h0: Any, hu0: Any, hv0: Any, times: Sequence[float], dx: float, dy: float,
              g: Any = 1.0, boundary: str = "extrapolation", cfl: float = 0.4, limiter: str = "mc",
              h_dry: float = 1e-10, dtype: torch.dtype = torch.float64,
              device: str | torch.device = "cpu", max_steps: int = 1_000_000) -> dict[str, Any]:
    """Evolve states [B, X, Y] (or [X, Y]) from t = 0 and return them at ``times``.

    ``times``: non-decreasing output times >= 0 (0 returns the initial state); ``g`` a float or
    one value per sample. The CFL step ``dt = cfl / rate`` is taken per sample and shortened to
    land exactly on each output time; samples that have arrived wait with ``dt = 0`` (which
    leaves their state unchanged), so each sample's steps depend on itself only.

    Returns a dict with float tensors ``h, hu, hv`` [B, T, X, Y] in ``dtype``, ``n_steps`` [B]
    (int64) and ``min_depth`` (the smallest depth met after any stage, a float).
    """
    if boundary not in BOUNDARIES:
        raise ValueError(f"unknown boundary {boundary!r}; choose one of {sorted(BOUNDARIES)}")
    if limiter not in LIMITERS:
        raise ValueError(f"unknown limiter {limiter!r}; choose one of {LIMITERS}")
    if not 0 < cfl <= 0.5:
        raise ValueError(f"cfl={cfl} is outside (0, 0.5]: the positivity bound of the scheme is 0.5")
    state = [torch.as_tensor(q, dtype=dtype, device=device) for q in (h0, hu0, hv0)]
    if state[0].ndim == 2:
        state = [q.unsqueeze(0) for q in state]
    if state[0].ndim != 3 or any(q.shape != state[0].shape for q in state):
        raise ValueError(f"h, hu, hv must share one shape [B, X, Y] or [X, Y]; got "
                         f"{[tuple(q.shape) for q in state]}")
    if min(state[0].shape[1:]) < 2:
        raise ValueError(f"need at least 2 cells per direction; got {tuple(state[0].shape[1:])}")
    if not bool(torch.isfinite(torch.stack(state)).all()):
        raise ValueError("the initial state has non-finite values")
    if float(state[0].min()) < 0:
        raise ValueError(f"negative initial depth (min h = {float(state[0].min()):.3g}); depths must be >= 0")
    times = np.asarray(times, dtype=np.float64)
    if times.ndim != 1 or times.size == 0 or times[0] < 0 or np.any(np.diff(times) < 0):
        raise ValueError(f"times must be a non-empty non-decreasing 1D sequence of values >= 0; got {times}")
    q = torch.stack(state)
    b = q.shape[1]
    g = _as_batch(g, q[0])
    if g.shape[0] != b or bool((g <= 0).any()):
        raise ValueError(f"g must be positive, a float or one value per sample ({b}); got {g.flatten().tolist()}")

    def dry_fix(q: torch.Tensor) -> torch.Tensor:
        q[1:].masked_fill_((q[0] <= h_dry).unsqueeze(0), 0.0)
        return q

    q = dry_fix(q)
    t = torch.zeros(b, dtype=torch.float64, device=device)
    n_steps = torch.zeros(b, dtype=torch.int64, device=device)
    out = torch.empty((3, b, len(times)) + tuple(q.shape[2:]), dtype=dtype, device=device)
    min_depth = float(q[0].min())
    total = 0
    for k, t_out in enumerate(times):
        while True:
            active = t < t_out
            if not bool(active.any()):
                break
            total += 1
            if total > max_steps:
                raise RuntimeError(f"more than max_steps={max_steps} steps before t={t_out}: the CFL step "
                                   f"collapsed (check the state for huge velocities)")
            r, rate = swe_rhs(q, dx, dy, g, boundary, limiter, h_dry)
            rate = rate.to(torch.float64)
            dt_cfl = cfl / rate  # rate 0 (all dry and still): inf, one step to the output time
            remaining = t_out - t
            arrive = dt_cfl >= remaining
            dt = torch.where(arrive, remaining, dt_cfl).masked_fill_(~active, 0.0)
            dtb = dt.to(dtype).reshape(1, -1, 1, 1)
            q1 = dry_fix(q + dtb * r)
            r, _ = swe_rhs(q1, dx, dy, g, boundary, limiter, h_dry)
            q = dry_fix(0.5 * (q + (q1 + dtb * r)))
            min_depth = min(min_depth, float(q1[0].min()), float(q[0].min()))
            if not bool(torch.isfinite(q).all()):
                raise RuntimeError(f"non-finite state near t={float(t.max()):.4g}; lower cfl (now {cfl})")
            t = torch.where(active & arrive, torch.full_like(t, float(t_out)), t + dt)
            n_steps += active.to(torch.int64)
        out[:, :, k] = q
    return {"h": out[0], "hu": out[1], "hv": out[2], "n_steps": n_steps, "min_depth": min_depth}


# --------------------------------------------------------------------------------------------
# dataset generator
# --------------------------------------------------------------------------------------------

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
    "cfl": 0.4,
    "frame_stride": 1,
    "h_in_range": None,
    "g_range": None,
    "limiter": "mc",
    "h_dry": 1e-10,
    "dtype": "float64",
    "device": "cpu",
    "batch_size": 16,
    "num_threads": None,
}

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def _pair(name: str, value: Any, optional: bool = False) -> tuple[float, float] | None:
    if value is None and optional:
        return None
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair of numbers (lo, hi); got {value!r}") from None
    return lo, hi


class ShallowWaterGenerator(Generator):
    """PDEBench's radial dam break (2D shallow water), batched finite volumes in torch.

    Settings (keyword arguments, defaults in :data:`DEFAULTS`): ``resolution`` cells a side on
    [-2.5, 2.5]^2; ``n_frames`` output times ``k dt_out``; ``frame_stride`` stores every k-th
    of them (the solve still lands on all, so a strided set is an exact subset of the full one);
    ``g``, ``h_in``, ``h_out``; ``radius_range``; ``center``; ``boundary`` in
    {extrapolation, wall, periodic}; ``cfl`` (<= 0.5); ``h_in_range`` / ``g_range``: uniform
    per-sample draws replacing ``h_in`` / ``g`` (parameter-varying preset); ``limiter`` (mc or
    minmod); ``h_dry``; ``dtype`` of the computation (float64; storage is float32);
    ``device``; ``batch_size`` (samples solved together; memory only, never the numbers);
    ``num_threads`` (torch CPU threads during ``generate``; None keeps torch's setting; on a
    shared, loaded machine 1 is much faster than contending threads).

    Per sample, ``np.random.default_rng(seed)`` draws ``radius``, then ``h_in`` (if
    ``h_in_range``), then ``g`` (if ``g_range``), in that order.
    """

    family = "swe"
    version = "1"
    parallelism = "threads"

    def __init__(self, **settings: Any) -> None:
        unknown = sorted(set(settings) - set(DEFAULTS))
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown} for the swe generator; valid settings: "
                             f"{sorted(DEFAULTS)}")
        merged = {**DEFAULTS, **settings}
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
        lo, hi = _pair("radius_range", s["radius_range"])
        if not 0 < lo <= hi:
            raise ValueError(f"radius_range must satisfy 0 < lo <= hi; got {s['radius_range']!r}")
        _pair("center", s["center"])
        if s["boundary"] not in BOUNDARIES:
            raise ValueError(f"boundary={s['boundary']!r} is not supported; choose one of {sorted(BOUNDARIES)}")
        if s["limiter"] not in LIMITERS:
            raise ValueError(f"limiter={s['limiter']!r} is not supported; choose one of {LIMITERS}")
        if not 0 < float(s["cfl"]) <= 0.5:
            raise ValueError(f"cfl must be in (0, 0.5] (positivity bound); got {s['cfl']!r}")
        for name, minimum in (("h_in_range", 0.0), ("g_range", 0.0)):
            pair = _pair(name, s[name], optional=True)
            if pair is not None and not minimum < pair[0] <= pair[1]:
                raise ValueError(f"{name} must satisfy 0 < lo <= hi; got {s[name]!r}")
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
            boundary_conditions=[BoundaryInfo(bc, BOUNDARIES[bc], ["x", "y"], ["h", "velocity"])],
            times=self.output_times[self.stored_frames],
            scalars=scalars, per_sample_scalars=per_sample, equation=equation)

    # -- sampling and solving -------------------------------------------------------------------
    def draw(self, seeds: list[np.random.SeedSequence]) -> dict[str, np.ndarray]:
        """Per-sample parameters: radius, and h_in / g (drawn, or the constant settings)."""
        s = self.settings
        rlo, rhi = _pair("radius_range", s["radius_range"])
        hrange, grange = _pair("h_in_range", s["h_in_range"], True), _pair("g_range", s["g_range"], True)
        radius, h_in, g = [], [], []
        for seed in seeds:
            rng = np.random.default_rng(seed)
            radius.append(rng.uniform(rlo, rhi))
            h_in.append(rng.uniform(*hrange) if hrange else float(s["h_in"]))
            g.append(rng.uniform(*grange) if grange else float(s["g"]))
        return {"radius": np.array(radius), "h_in": np.array(h_in), "g": np.array(g)}

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
        h_all, vel_all = [], []
        bs = int(s["batch_size"])
        for start in range(0, len(seeds), bs):
            sl = slice(start, start + bs)
            h0 = radial_dam_depth(x, x, params["radius"][sl], params["h_in"][sl], float(s["h_out"]),
                                  _pair("center", s["center"]))
            zeros = np.zeros_like(h0)
            res = solve_swe(h0, zeros, zeros, self.output_times, dx, dx, g=params["g"][sl],
                            boundary=s["boundary"], cfl=float(s["cfl"]), limiter=s["limiter"],
                            h_dry=float(s["h_dry"]), dtype=_DTYPES[str(s["dtype"])], device=s["device"])
            h, hu, hv = (res[k][:, frames] for k in ("h", "hu", "hv"))
            u, v = velocities(h, hu, hv, float(s["h_dry"]))
            h_all.append(h.to(torch.float32).cpu().numpy())
            vel_all.append(torch.stack([u, v], -1).to(torch.float32).cpu().numpy())
        out = {"h": np.concatenate(h_all) if h_all else np.zeros((0, len(frames), n, n), np.float32),
               "velocity": np.concatenate(vel_all) if vel_all else np.zeros((0, len(frames), n, n, 2), np.float32)}
        for name in desc_scalars:
            out[name] = params[name]
        return out
