"""The semi-discrete shallow-water operator ``L(q) = -(dF/dx + dG/dy)`` with its boundaries.

Boundaries, by two ghost cells a side: ``extrapolation`` (zero gradient, PDEBench's outflow
condition), ``wall`` (mirror, normal velocity reversed) and ``periodic``. Dry cells
(``h <= h_dry``) have zero velocity.

Layout (chosen for speed on small CPU arrays, where each torch call costs a few microseconds on
top of its arithmetic): both directions are swept by one code path with the normal direction
along dim -2. The y sweep works on the transposed fields; on a square grid the two sweeps are
stacked along the batch dim and done by the same calls (half the calls, same arithmetic).
Primitives are stored as (u_t, u_n, h); face values as in :mod:`pdebench_x.numerics.swe.fluxes`.
Scratch tensors are reused between calls.
"""
from __future__ import annotations

from typing import NamedTuple

import torch

from pdebench_x.numerics.swe.fluxes import half_slope, hll_faces
from pdebench_x.numerics.swe.workspace import Workspace

BOUNDARIES = ("extrapolation", "wall", "periodic")


def _fill_ghosts(p: torch.Tensor, boundary: str, lo: bool = True, hi: bool = True, normal: int = 1) -> None:
    """Two ghost cells at the low and/or high end of dim -2 of padded primitives [3, N, n + 4, m];
    ``lo``/``hi`` say which ends lie on the domain boundary (periodic needs both); ``normal`` is
    the component holding the velocity normal to that boundary (1 in the (u_t, u_n, h) layout)."""
    n = p.shape[-2] - 4
    if boundary == "extrapolation":
        if lo:
            p[:, :, :2] = p[:, :, 2:3]
        if hi:
            p[:, :, n + 2:] = p[:, :, n + 1:n + 2]
    elif boundary == "wall":  # mirror image, normal velocity reversed
        if lo:
            p[:, :, 0], p[:, :, 1] = p[:, :, 3], p[:, :, 2]
            p[normal, :, :2].neg_()
        if hi:
            p[:, :, n + 2], p[:, :, n + 3] = p[:, :, n + 1], p[:, :, n]
            p[normal, :, n + 2:].neg_()
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
    half = half_slope(d, -2, limiter, ws)                         # padded cells 1 .. n + 2
    # face j + 1/2 lies between padded cells j and j + 1, j = 1 .. n + 1
    z = ws("faces", (5, 2) + p[:, :, 1:k - 2].shape[1:], p)
    torch.add(p[:, :, 1:k - 2], half[:, :, :k - 3], out=z[:3, 0])
    torch.sub(p[:, :, 2:k - 1], half[:, :, 1:], out=z[:3, 1])
    flux = ws("flux", (3,) + z.shape[2:], p)
    s = hll_faces(z, g, h_dry, dry, flux, ws)
    diff = torch.sub(flux[:, :, 1:], flux[:, :, :-1], out=ws("flux_diff", p[:, :, 2:k - 2].shape, p))
    return diff, s.amax((0, -2, -1))


def velocities(h: torch.Tensor, hu: torch.Tensor, hv: torch.Tensor, h_dry: float
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(u, v) = (hu/h, hv/h)`` in wet cells, 0 where ``h <= h_dry``."""
    dry = h <= h_dry
    if not bool(dry.any()):  # the same numbers, without the masking
        return hu / h, hv / h
    safe = h.masked_fill(dry, 1.0)
    return (hu / safe).masked_fill_(dry, 0.0), (hv / safe).masked_fill_(dry, 0.0)


#: the cells [a, b) x [c, d) that an evaluation of L covers
Region = tuple[int, int, int, int]


class Sweeps(NamedTuple):
    """Padded primitives of the x and y sweeps of a region, normal direction along dim -2.

    ``x``: (v, u, h) [3, B, lx + 4, ly]; ``y``: (u, v, h) transposed [3, B, ly + 4, lx]. ``both``
    is the two stacked along the batch dim (x first) when the region is square, so that one set
    of calls sweeps both directions; else None.
    """

    x: torch.Tensor
    y: torch.Tensor
    both: torch.Tensor | None


def _widened(q: torch.Tensor, h_dry: float, dry: bool, ws: Workspace, region: Region
             ) -> tuple[torch.Tensor, torch.Tensor, Region]:
    """Velocities (v, u) [2, B, ...] and depth h [B, ...] on the region widened by 2 cells each way
    (the cells a sweep reads beyond it), cut to the domain, and that widened region."""
    _, nb, nx, ny = q.shape
    a, b, c, d = region
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
    return vel, h, (e0, e1, f0, f1)


def padded_primitives(q: torch.Tensor, boundary: str, h_dry: float, dry: bool, ws: Workspace,
                      region: Region) -> Sweeps:
    """The primitives the x and y sweeps of the cells ``[a, b) x [c, d)`` read: 2 cells beyond the
    region along the normal, from real cells where the region lies inside the domain and from
    ghost cells at its edges."""
    _, nb, nx, ny = q.shape
    a, b, c, d = region
    lx, ly = b - a, d - c
    vel, h, (e0, e1, f0, f1) = _widened(q, h_dry, dry, ws, region)
    # padded primitives (u_t, u_n, h), normal along dim -2: x sweep (v, u, h), y sweep (u, v, h)^T;
    # a square region stacks both sweeps along the batch dim, so one set of calls does both
    stacked = lx == ly
    if stacked:
        both = ws("prim", (3, 2 * nb, lx + 4, ly), q)
        px, py = both[:, :nb], both[:, nb:]
    else:
        both = None
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
    return Sweeps(px, py, both)


def padded_block(q: torch.Tensor, boundary: str, h_dry: float, dry: bool, ws: Workspace, region: Region
                 ) -> torch.Tensor:
    """The primitives (v, u, h) [3, B, lx + 4, ly + 4] of the cells ``[a, b) x [c, d)`` and of 2
    cells around them each way: real cells inside the domain, ghost cells beyond its edges (the
    y ghosts first, so that a corner ghost is the mirror image along both axes, which is also
    what filling the x ghosts first gives: the block of a transposed state is the transposed
    block)."""
    _, nb, nx, ny = q.shape
    a, b, c, d = region
    vel, h, (e0, e1, f0, f1) = _widened(q, h_dry, dry, ws, region)
    p = ws("block", (3, nb, b - a + 4, d - c + 4), q)
    r0, c0 = e0 - (a - 2), f0 - (c - 2)                           # 2 at a domain edge, else 0
    p[:2, :, r0:r0 + e1 - e0, c0:c0 + f1 - f0] = vel
    p[2, :, r0:r0 + e1 - e0, c0:c0 + f1 - f0] = h
    _fill_ghosts(p.mT, boundary, c == 0, d == ny, normal=0)       # along y the normal velocity is v
    _fill_ghosts(p, boundary, a == 0, b == nx)
    return p


def flux_divergence(fx: torch.Tensor, gy: torch.Tensor, dx: float | torch.Tensor, dy: float | torch.Tensor,
                    out: torch.Tensor, region: Region) -> None:
    """``-(F/dx + G/dy)`` into ``out[:, :, a:b, c:d]`` from the flux differences of the x sweep
    ``fx`` [3, B, lx, ly] and of the y sweep ``gy`` [3, B, ly, lx] (components (t, h, n));
    both are overwritten. ``dx, dy``: the spacings, or per-sample [B, 1, 1] (dx/dt and dy/dt
    give ``dt L(q)``)."""
    a, b, c, d = region
    # -(F/dx + G/dy) as F/(-dx) + G/(-dy) (negation is exact); x and y terms are added
    # (commutative), so the transpose symmetry holds to the last bit
    fx.div_(-dx)
    gy.div_(-dy)
    gy = gy.mT
    r = out[:, :, a:b, c:d]
    torch.add(fx[1], gy[1], out=r[0])
    torch.add(fx[2], gy[0], out=r[1])
    torch.add(fx[0], gy[2], out=r[2])


def rhs_on_region(q: torch.Tensor, dx: float, dy: float, g: torch.Tensor, boundary: str, limiter: str,
                  h_dry: float, dry: bool, ws: Workspace, out: torch.Tensor, region: Region
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """``L(q)`` on the cells ``[a, b) x [c, d)`` of ``region``, written into ``out[:, :, a:b, c:d]``
    (the rest of ``out`` is left alone); returns the largest speeds [B] over the x and y faces of
    those cells. ``g`` is [B, 1, 1]. A region edge is either a domain edge or at least 2 cells
    inside it (whole axis for periodic), so its ghost cells are real cells or boundary ghosts."""
    nb = q.shape[1]
    sweeps = padded_primitives(q, boundary, h_dry, dry, ws, region)
    if sweeps.both is not None:
        diff, speed = _sweep(sweeps.both, torch.cat([g, g]), limiter, h_dry, dry, ws)
        fx, gy, ax, ay = diff[:, :nb], diff[:, nb:], speed[:nb], speed[nb:]
    else:
        fx, ax = _sweep(sweeps.x, g, limiter, h_dry, dry, ws)
        fx = fx.clone()  # the y sweep reuses the scratch tensors
        gy, ay = _sweep(sweeps.y, g, limiter, h_dry, dry, ws)
    flux_divergence(fx, gy, dx, dy, out, region)
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
    ax, ay = rhs_on_region(q, dx, dy, gravity_per_sample(g, q[0]), boundary, limiter, h_dry, dry,
                           ws or Workspace(), out, (0, q.shape[2], 0, q.shape[3]))
    return out, ax / dx + ay / dy


def gravity_per_sample(g: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """``g`` (a float, or one value per sample of ``like`` [B, ...]) as [B, 1, 1] in its dtype and device."""
    g = torch.as_tensor(g, dtype=like.dtype, device=like.device)
    if g.ndim == 0:
        g = g.expand(like.shape[0])
    return g.reshape(-1, 1, 1)

