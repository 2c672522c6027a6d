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

from pdebench_x.data.generators.base import (
    BoundaryInfo,
    DatasetDescription,
    FieldInfo,
    Generator,
    merged_settings,
    number_pair,
    range_setting,
)

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
#
# Layout (chosen for speed on small CPU arrays, where each torch call costs a few microseconds on
# top of its arithmetic): both directions are swept by one code path with the normal direction
# along dim -2. The y sweep works on the transposed fields; on a square grid the two sweeps are
# stacked along the batch dim and done by the same calls (half the calls, same arithmetic).
# Primitives are stored as (u_t, u_n, h) and face values as [5, 2, ...] = (u_t, u_n, h, m, p) x
# (left, right) so that (h, m) and (m, p) = (h u_n, h u_n^2 + g h^2/2) are adjacent and the HLL
# formula runs on both components at once. Scratch tensors are reused between calls.

class Workspace:
    """Scratch tensors by name, reused between calls (allocating a fresh 100 kB tensor costs about
    as much as the arithmetic on it). Each name keeps one flat buffer that grows when needed; a
    request returns a contiguous view of its first elements (views are cached by shape: the
    lookup is on the hot path)."""

    def __init__(self) -> None:
        self._flat: dict[str, torch.Tensor] = {}
        self._views: dict[tuple, torch.Tensor] = {}

    def __call__(self, name: str, shape: Sequence[int], like: torch.Tensor) -> torch.Tensor:
        key = (name, tuple(shape), like.dtype, like.device)
        view = self._views.get(key)
        if view is None:
            numel = math.prod(shape)
            flat = self._flat.get(name)
            if flat is None or flat.numel() < numel or flat.dtype != like.dtype or flat.device != like.device:
                flat = self._flat[name] = torch.empty(max(numel, 1), dtype=like.dtype, device=like.device)
                self._views = {k: v for k, v in self._views.items() if k[0] != name}
            view = self._views[key] = flat[:numel].view(tuple(shape))
        return view


def _half_slope(d: torch.Tensor, dim: int, limiter: str, ws: Workspace | None = None) -> torch.Tensor:
    """Half the limited slope, ``phi(dl, dr) / 2``, of the cells between consecutive differences.

    ``d`` holds the differences ``q_{j+1} - q_j`` along ``dim`` (k + 1 of them); returns k half
    slopes from ``dl = d_j``, ``dr = d_{j+1}`` as a three-way minmod (0 unless all arguments share
    a sign, else the one of least magnitude), ``minmod(a, ...) = max(min(a, ...), 0) + min(max(a, ...), 0)``::

        MC:     phi / 2 = minmod(dl, dr, (dl + dr)/4)     (= sign(dl) min(2|dl|, 2|dr|, |dl+dr|/2) / 2)
        minmod: phi / 2 = minmod(dl, dr) / 2
    """
    ws = ws or Workspace()
    k = d.shape[dim] - 1
    dl, dr = d.narrow(dim, 0, k), d.narrow(dim, 1, k)
    lo = torch.minimum(dl, dr, out=ws("slope_lo", dl.shape, d))
    hi = torch.maximum(dl, dr, out=ws("slope_hi", dl.shape, d))
    if limiter == "mc":
        centred = torch.add(dl, dr, out=ws("slope_c", dl.shape, d)).mul_(0.25)
        torch.minimum(lo, centred, out=lo)
        torch.maximum(hi, centred, out=hi)
    elif limiter != "minmod":
        raise ValueError(f"unknown limiter {limiter!r}; choose one of {LIMITERS}")
    half = lo.clamp_(min=0.0).add_(hi.clamp_(max=0.0))
    return half.mul_(0.5) if limiter == "minmod" else half


def limited_slope(dl: torch.Tensor, dr: torch.Tensor, limiter: str = "mc") -> torch.Tensor:
    """Limited slope from the one-sided differences ``dl = q_i - q_{i-1}``, ``dr = q_{i+1} - q_i``.

    MC: ``sign(dl) min(2|dl|, 2|dr|, |dl + dr|/2)``; minmod: ``sign(dl) min(|dl|, |dr|)``;
    zero at extrema (``dl dr <= 0``). Symmetric in (dl, dr) and odd, as the symmetry tests need.
    (The solver's own formula, :func:`_half_slope`, times 2.)
    """
    return 2.0 * _half_slope(torch.stack([dl, dr]), 0, limiter)[0]


def _hll(z: torch.Tensor, g: torch.Tensor | float, h_dry: float, dry: bool, flux: torch.Tensor,
         ws: Workspace | None = None) -> torch.Tensor:
    """HLL flux at faces (formulas in the module docstring), written into ``flux``.

    ``z`` [5, 2, N, ...]: rows 0-2 hold the face primitives (u_t, u_n, h), column 0 the left and 1
    the right state; rows 3-4 are overwritten with ``m = h u_n`` and ``p = m u_n + g h^2 / 2``.
    ``g`` broadcasts against [N, ...]. ``dry=False`` promises no face depth ``<= h_dry`` (skips
    the dry-front speeds, which would leave the numbers unchanged). Fills ``flux`` [3, N, ...] with
    (F_t, F_h, F_n) and returns the speeds [2, N, ...] ``(s_R, -s_L)``, both >= 0.
    """
    ws = ws or Workspace()
    ut, un, h, m, p = z
    c = torch.mul(h, g, out=ws("c", h.shape, h)).sqrt_()          # c = sqrt(g h), both sides
    torch.mul(h, un, out=m)
    torch.mul(m, un, out=p)
    tmp = torch.mul(h, h, out=ws("tmp", h.shape, h)).mul_(0.5 * g)
    p.add_(tmp)
    s = ws("speeds", (2,) + h.shape[1:], h)                       # (s_R, a_L = -s_L)
    torch.maximum(*torch.add(un, c, out=tmp), out=s[0])           # max(u_L + c_L, u_R + c_R)
    torch.maximum(*torch.sub(c, un, out=tmp), out=s[1])           # -min(u_L - c_L, u_R - c_R)
    if dry:  # a dry neighbour: the wet side's rarefaction front moves at u -/+ 2c
        wet_dry = h <= h_dry
        torch.where(wet_dry[0], 2.0 * c[1] - un[1], s[1], out=s[1])
        torch.where(wet_dry[1], un[0] + 2.0 * c[0], s[0], out=s[0])
    s.clamp_(min=0.0)                                             # s_L <= 0 <= s_R
    # both sides dry: span = 0 and every numerator is 0, so the fluxes come out 0
    span = torch.add(s[0], s[1], out=ws("span", s.shape[1:], h)).clamp_(min=torch.finfo(h.dtype).tiny)
    prod = torch.mul(s[0], s[1], out=ws("prod", s.shape[1:], h))  # -s_L s_R
    # (F_h, F_n) = (s_R F(q_L) - s_L F(q_R) - s_L s_R (q_L - q_R)) / (s_R - s_L), F(q) = (m, p), q = (h, m)
    f = flux[1:3]
    sf = torch.mul(z[3:5], s, out=ws("s_flux", z[3:5].shape, h))
    torch.add(sf[:, 0], sf[:, 1], out=f)
    jump = torch.sub(z[2:4, 0], z[2:4, 1], out=ws("jump", f.shape, h))
    f.add_(jump.mul_(prod)).div_(span)
    # F_t = F_h u_t from the upwind side
    torch.mul(flux[1], torch.where(flux[1] >= 0, ut[0], ut[1], out=tmp[0]), out=flux[0])
    return s


def hll_flux(h: torch.Tensor, un: torch.Tensor, ut: torch.Tensor, g: torch.Tensor | float, h_dry: float
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """HLL flux of (h, h u_n) and upwinded flux of h u_t across faces, and the face speed.

    ``h, un, ut`` are [2, ...]: index 0 the left state, 1 the right state of each face.
    Returns ``(F_h, F_n, F_t, max(-s_L, s_R))``; formulas in the module docstring.
    (A standalone entry to the solver's :func:`_hll`.)
    """
    z = torch.empty((5,) + h.shape, dtype=h.dtype, device=h.device)
    z[0], z[1], z[2] = ut, un, h
    flux = torch.empty((3,) + h.shape[1:], dtype=h.dtype, device=h.device)
    s = _hll(z, g, h_dry, True, flux)
    return flux[1], flux[2], flux[0], s.amax(0)


def _fill_ghosts(p: torch.Tensor, boundary: str, lo: bool = True, hi: bool = True) -> None:
    """Two ghost cells at the low and/or high end of dim -2 of padded primitives [3, N, n + 4, m],
    (u_t, u_n, h); ``lo``/``hi`` say which ends lie on the domain boundary (periodic needs both)."""
    n = p.shape[-2] - 4
    if boundary == "extrapolation":
        if lo:
            p[:, :, :2] = p[:, :, 2:3]
        if hi:
            p[:, :, n + 2:] = p[:, :, n + 1:n + 2]
    elif boundary == "wall":  # mirror image, normal velocity reversed
        if lo:
            p[:, :, 0], p[:, :, 1] = p[:, :, 3], p[:, :, 2]
            p[1, :, :2].neg_()
        if hi:
            p[:, :, n + 2], p[:, :, n + 3] = p[:, :, n + 1], p[:, :, n]
            p[1, :, n + 2:].neg_()
    elif boundary == "periodic":
        if lo != hi:  # pragma: no cover - regions are chosen to avoid it
            raise ValueError("a periodic boundary needs the whole axis")
        if lo:
            p[:, :, :2] = p[:, :, n:n + 2]
            p[:, :, n + 2:] = p[:, :, 2:4]
    else:  # pragma: no cover - validated by callers
        raise ValueError(f"unknown boundary {boundary!r}; choose one of {sorted(BOUNDARIES)}")


def _sweep(p: torch.Tensor, g: torch.Tensor, limiter: str, h_dry: float, dry: bool, ws: Workspace
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Flux differences ``F_{i+1/2} - F_{i-1/2}`` [3, N, n, m] of (h u_t, h, h u_n) along dim -2
    from padded primitives [3, N, n + 4, m] (u_t, u_n, h), and the largest face speed [N]."""
    k = p.shape[-2]                                               # n + 4
    d = torch.sub(p[:, :, 1:], p[:, :, :-1], out=ws("d", p[:, :, 1:].shape, p))
    half = _half_slope(d, -2, limiter, ws)                        # padded cells 1 .. n + 2
    # face j + 1/2 lies between padded cells j and j + 1, j = 1 .. n + 1
    z = ws("faces", (5, 2) + p[:, :, 1:k - 2].shape[1:], p)
    torch.add(p[:, :, 1:k - 2], half[:, :, :k - 3], out=z[:3, 0])
    torch.sub(p[:, :, 2:k - 1], half[:, :, 1:], out=z[:3, 1])
    flux = ws("flux", (3,) + z.shape[2:], p)
    s = _hll(z, g, h_dry, dry, flux, ws)
    diff = torch.sub(flux[:, :, 1:], flux[:, :, :-1], out=ws("flux_diff", p[:, :, 2:k - 2].shape, p))
    return diff, s.amax((0, -2, -1))


def velocities(h: torch.Tensor, hu: torch.Tensor, hv: torch.Tensor, h_dry: float
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(u, v) = (hu/h, hv/h)`` in wet cells, 0 where ``h <= h_dry``."""
    dry = h <= h_dry
    safe = h.masked_fill(dry, 1.0)
    return (hu / safe).masked_fill_(dry, 0.0), (hv / safe).masked_fill_(dry, 0.0)


Region = tuple[int, int, int, int]


def _rhs(q: torch.Tensor, dx: float, dy: float, g: torch.Tensor, boundary: str, limiter: str,
         h_dry: float, dry: bool, ws: Workspace, out: torch.Tensor, region: Region
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """``L(q)`` on the cells ``[a, b) x [c, d)`` of ``region``, written into ``out[:, :, a:b, c:d]``
    (the rest of ``out`` is left alone); returns the largest speeds [B] over the x and y faces of
    those cells. ``g`` is [B, 1, 1]. A region edge is either a domain edge or at least 2 cells
    inside it (whole axis for periodic), so its ghost cells are real cells or boundary ghosts."""
    _, nb, nx, ny = q.shape
    a, b, c, d = region
    lx, ly = b - a, d - c
    # primitives on the region widened by the 2 cells each sweep reads beyond it
    e0, e1, f0, f1 = max(a - 2, 0), min(b + 2, nx), max(c - 2, 0), min(d + 2, ny)
    h, hu, hv = q[:, :, e0:e1, f0:f1]
    vel = ws("vel", (2, nb, e1 - e0, f1 - f0), q)                 # (v, u)
    if dry:
        wet_dry = h <= h_dry
        safe = h.masked_fill(wet_dry, 1.0)
        torch.div(hu, safe, out=vel[1]).masked_fill_(wet_dry, 0.0)
        torch.div(hv, safe, out=vel[0]).masked_fill_(wet_dry, 0.0)
    else:
        torch.div(hu, h, out=vel[1])
        torch.div(hv, h, out=vel[0])
    # padded primitives (u_t, u_n, h), normal along dim -2: x sweep (v, u, h), y sweep (u, v, h)^T;
    # a square region stacks both sweeps along the batch dim, so one set of calls does both
    stacked = lx == ly
    if stacked:
        both = ws("prim", (3, 2 * nb, lx + 4, ly), q)
        px, py = both[:, :nb], both[:, nb:]
    else:
        px, py = ws("prim_x", (3, nb, lx + 4, ly), q), ws("prim_y", (3, nb, ly + 4, lx), q)
    r0, c0 = e0 - (a - 2), f0 - (c - 2)                           # 2 at a domain edge, else 0
    px[:2, :, r0:r0 + e1 - e0] = vel[:, :, :, c - f0:d - f0]
    px[2, :, r0:r0 + e1 - e0] = h[:, :, c - f0:d - f0]
    py[0, :, c0:c0 + f1 - f0] = vel[1, :, a - e0:b - e0].mT
    py[1, :, c0:c0 + f1 - f0] = vel[0, :, a - e0:b - e0].mT
    py[2, :, c0:c0 + f1 - f0] = h[:, a - e0:b - e0].mT
    if stacked and (a == 0) == (c == 0) and (b == nx) == (d == ny):
        _fill_ghosts(both, boundary, a == 0, b == nx)
    else:
        _fill_ghosts(px, boundary, a == 0, b == nx)
        _fill_ghosts(py, boundary, c == 0, d == ny)
    if stacked:
        diff, speed = _sweep(both, torch.cat([g, g]), limiter, h_dry, dry, ws)
        fx, gy, ax, ay = diff[:, :nb], diff[:, nb:], speed[:nb], speed[nb:]
    else:
        fx, ax = _sweep(px, g, limiter, h_dry, dry, ws)
        fx = fx.clone()  # the y sweep reuses the scratch tensors
        gy, ay = _sweep(py, g, limiter, h_dry, dry, ws)
    # -(F/dx + G/dy) as F/(-dx) + G/(-dy) (negation is exact); x and y terms are added
    # (commutative), so the transpose symmetry holds to the last bit
    fx.div_(-dx)
    gy.div_(-dy)
    gy = gy.mT
    r = out[:, :, a:b, c:d]
    torch.add(fx[1], gy[1], out=r[0])
    torch.add(fx[2], gy[0], out=r[1])
    torch.add(fx[0], gy[2], out=r[2])
    return ax, ay


def swe_rhs(q: torch.Tensor, dx: float, dy: float, g: torch.Tensor | float,
            boundary: str = "extrapolation", limiter: str = "mc", h_dry: float = 1e-10, *,
            dry: bool = True, ws: Workspace | None = None, out: torch.Tensor | None = None
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Semi-discrete right-hand side ``L(q) = -(dF/dx + dG/dy)`` of the state q = (h, hu, hv).

    ``q`` is [3, B, X, Y] (x along dim -2, y along dim -1). Returns ``(L(q), rate)`` with
    ``rate = a_x/dx + a_y/dy`` [B], the inverse of the largest stable step at unit CFL number.
    ``dry=False`` promises that no depth is ``<= h_dry`` (skips dry-cell work whose result would
    be the same); ``ws`` reuses scratch tensors between calls; ``out`` receives ``L(q)``.
    """
    out = out if out is not None else torch.empty_like(q)
    ax, ay = _rhs(q, dx, dy, _as_batch(g, q[0]), boundary, limiter, h_dry, dry, ws or Workspace(), out,
                  (0, q.shape[2], 0, q.shape[3]))
    return out, ax / dx + ay / dy


def _as_batch(g: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    g = torch.as_tensor(g, dtype=like.dtype, device=like.device)
    if g.ndim == 0:
        g = g.expand(like.shape[0])
    return g.reshape(-1, 1, 1)


# --------------------------------------------------------------------------------------------
# quiet region
# --------------------------------------------------------------------------------------------
#
# Where the state equals a still background (the corner cell's state, u = v = 0) over the whole
# stencil, every face sees two equal states with zero slopes: all fluxes there are equal, their
# differences exactly 0, and the update leaves those cells bit for bit as they are. A cell's
# update reads 2 cells along each axis, so a stage can change only the cells within 2 of the
# bounding box of the cells that differ from the background, and a step (two stages) those within
# 4. The solver computes those cells only; the faces it skips all carry the background's speed,
# which enters the CFL rate as one more candidate. The result is bitwise the full computation's.

def _span(lo: int, hi: int, n: int, margin: int, periodic: bool) -> tuple[int, int]:
    """Cells ``[a, b)`` covering ``lo .. hi`` widened by ``margin``, extended to the domain edge
    when within 2 cells of it (and to the whole axis for periodic, whose ghosts wrap around)."""
    a, b = lo - margin, hi + 1 + margin
    a = 0 if a < 2 else a
    b = n if b > n - 2 else b
    if periodic and (a == 0 or b == n):
        a, b = 0, n
    return a, b


def _region(box: Region, nx: int, ny: int, margin: int, periodic: bool) -> Region:
    """The computed region for the bounding box ``(r0, r1, c0, c1)`` (inclusive) of the cells off
    the background, widened by ``margin``; made square where it can be (one stacked sweep)."""
    a, b = _span(box[0], box[1], nx, margin, periodic)
    c, d = _span(box[2], box[3], ny, margin, periodic)
    for _ in range(3):
        if nx != ny or b - a == d - c:
            break
        size = max(b - a, d - c)

        def widen(a: int, b: int) -> tuple[int, int]:
            extra = size - (b - a)
            a, b = a - extra // 2, b + extra - extra // 2
            a, b = (0, b - a) if a < 0 else (a, b)
            a, b = (a - (b - nx), nx) if b > nx else (a, b)
            return _span(a, b - 1, nx, 0, periodic)

        (a, b), (c, d) = widen(a, b), widen(c, d)
    return a, b, c, d


# --------------------------------------------------------------------------------------------
# time integration
# --------------------------------------------------------------------------------------------

def solve_swe(h0: Any, hu0: Any, hv0: Any, times: Sequence[float], dx: float, dy: float,
              g: Any = 1.0, boundary: str = "extrapolation", cfl: float = 0.4, limiter: str = "mc",
              h_dry: float = 1e-10, dtype: torch.dtype = torch.float64,
              device: str | torch.device = "cpu", max_steps: int = 1_000_000,
              skip_quiet: bool | None = None) -> dict[str, Any]:
    """Evolve states [B, X, Y] (or [X, Y]) from t = 0 and return them at ``times``.

    ``times``: non-decreasing output times >= 0 (0 returns the initial state); ``g`` a float or
    one value per sample. The CFL step ``dt = cfl / rate`` is taken per sample and shortened to
    land exactly on each output time; samples that have arrived wait with ``dt = 0`` (which
    leaves their state unchanged), so each sample's steps depend on itself only.
    ``skip_quiet``: compute only the cells that can change (see "quiet region" above; the
    numbers are the same bit for bit); default on for the CPU, off for a GPU, where finding the
    region each step would stall the queue.

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
    _, b, nx, ny = q.shape
    g = _as_batch(g, q[0])
    if g.shape[0] != b or bool((g <= 0).any()):
        raise ValueError(f"g must be positive, a float or one value per sample ({b}); got {g.flatten().tolist()}")

    # On the CPU reading a scalar back is free, so the smallest depth of each stage decides
    # whether the dry-cell work of the next one is needed (skipping it changes no number), and
    # the quiet region is found each step. On a GPU each read would stall the queue: the
    # dry-cell work always runs there, over the whole grid, and the smallest depth stays on the
    # device until the end.
    host = q.device.type == "cpu"
    skip_quiet = host if skip_quiet is None else bool(skip_quiet)
    full = (0, nx, 0, ny)
    ws = Workspace()

    def after_stage(q: torch.Tensor, min_depth: Any) -> tuple[Any, bool]:
        """Zero the momentum of dry cells; returns the running smallest depth, and whether
        the next stage may meet a dry cell."""
        low = q[0].amin()
        if host:
            low = float(low)
            if low > h_dry:
                return min(min_depth, low), False
        q[1:].masked_fill_((q[0] <= h_dry).unsqueeze(0), 0.0)
        return (min(min_depth, low) if host else torch.minimum(min_depth, low)), True

    background: dict[str, Any] = {"state": None}

    def regions(q: torch.Tensor) -> tuple[Region, Region, torch.Tensor | None]:
        """Cells that stage 1 and stage 2 of the next step can change, and the background's face
        speed [B] (None when stage 1 computes every face)."""
        if not skip_quiet:
            return full, full, None
        corner = q[:, :, 0, 0]
        if bool((corner[1:] != 0).any()):  # a moving background: no quiet cells to rely on
            return full, full, None
        off = (q != corner[:, :, None, None]).flatten(0, 1).any(0)
        rows, cols = off.any(1).nonzero().flatten().tolist(), off.any(0).nonzero().flatten().tolist()
        box = (rows[0], rows[-1], cols[0], cols[-1]) if rows else (0, 0, 0, 0)
        first, second = (_region(box, nx, ny, m, boundary == "periodic") for m in (2, 4))
        if first == full:
            return first, second, None
        key = corner[0].tolist()
        if background["state"] != key:  # its speed, by the solver's own flux on a still face
            z = torch.zeros((5, 2, b, 1, 1), dtype=q.dtype, device=q.device)
            z[2] = corner[0].reshape(1, b, 1, 1)
            s = _hll(z, g, h_dry, True, torch.empty((3, b, 1, 1), dtype=q.dtype, device=q.device))
            background.update(state=key, speed=s.amax((0, -2, -1)))
        return first, second, background["speed"]

    def update(dst: torch.Tensor, src: torch.Tensor, region: Region) -> torch.Tensor:
        """``dst = src`` outside ``region``; returns the views (dst, src) inside it."""
        if region != full:
            dst.copy_(src)
        a, b_, c, d = region
        return dst[:, :, a:b_, c:d], src[:, :, a:b_, c:d]

    r = torch.empty_like(q)
    q, q1, q2 = q, torch.empty_like(q), torch.empty_like(q)  # state, stage, next state
    min_depth, dry = after_stage(q, math.inf if host else q[0].amin())
    t = torch.zeros(b, dtype=torch.float64, device=device)
    n_steps = torch.zeros(b, dtype=torch.int64, device=device)
    out = torch.empty((3, b, len(times)) + tuple(q.shape[2:]), dtype=dtype, device=device)
    total = 0
    for k, t_out in enumerate(times):
        while True:
            active = t < t_out
            if not bool(active.any()):  # the one host read per step on a GPU (loop control)
                break
            total += 1
            if total > max_steps:
                raise RuntimeError(f"more than max_steps={max_steps} steps before t={t_out}: the CFL step "
                                   f"collapsed (check the state for huge velocities)")
            first, second, still_speed = regions(q)
            ax, ay = _rhs(q, dx, dy, g, boundary, limiter, h_dry, dry, ws, r, first)
            if still_speed is not None:
                ax, ay = torch.maximum(ax, still_speed), torch.maximum(ay, still_speed)
            rate = (ax / dx + ay / dy).to(torch.float64)
            dt_cfl = cfl / rate  # rate 0 (all dry and still): inf, one step to the output time
            remaining = t_out - t
            arrive = dt_cfl >= remaining
            dt = torch.where(arrive, remaining, dt_cfl).masked_fill_(~active, 0.0)
            dtb = dt.to(dtype).reshape(1, -1, 1, 1)
            stage, now = update(q1, q, first)
            a, b_, c, d = first
            torch.add(r[:, :, a:b_, c:d].mul_(dtb), now, out=stage)         # q1 = q + dt L(q)
            min_depth, dry = after_stage(q1, min_depth)
            _rhs(q1, dx, dy, g, boundary, limiter, h_dry, dry, ws, r, second)
            a, b_, c, d = second
            step = r[:, :, a:b_, c:d].mul_(dtb).add_(q1[:, :, a:b_, c:d])
            nxt, now = update(q2, q, second)
            torch.add(step, now, out=nxt).mul_(0.5)                          # (q + (q1 + dt L(q1))) / 2
            min_depth, dry = after_stage(q2, min_depth)
            q, q2 = q2, q
            t = torch.where(active & arrive, torch.full_like(t, float(t_out)), t + dt)
            n_steps += active.to(torch.int64)
        # a non-finite state makes its rate NaN, hence its time NaN: it stops stepping and is caught here
        if not bool(torch.isfinite(q).all()):
            raise RuntimeError(f"non-finite state before t={float(t_out):.4g}; lower cfl (now {cfl})")
        out[:, :, k] = q
    return {"h": out[0], "hu": out[1], "hv": out[2], "n_steps": n_steps, "min_depth": float(min_depth)}


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
        if s["boundary"] not in BOUNDARIES:
            raise ValueError(f"boundary={s['boundary']!r} is not supported; choose one of {sorted(BOUNDARIES)}")
        if s["limiter"] not in LIMITERS:
            raise ValueError(f"limiter={s['limiter']!r} is not supported; choose one of {LIMITERS}")
        if not 0 < float(s["cfl"]) <= 0.5:
            raise ValueError(f"cfl must be in (0, 0.5] (positivity bound); got {s['cfl']!r}")
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
            boundary_conditions=[BoundaryInfo(bc, BOUNDARIES[bc], ["x", "y"], ["h", "velocity"])],
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
                                  number_pair("center", s["center"]))
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
