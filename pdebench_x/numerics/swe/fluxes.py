r"""Shallow-water face fluxes: limited reconstruction and the HLL flux.

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

Face values are stored as [5, 2, ...] = (u_t, u_n, h, m, p) x (left, right) so that (h, m) and
(m, p) = (h u_n, h u_n^2 + g h^2/2) are adjacent and the HLL formula runs on both components
at once.
"""
from __future__ import annotations

import torch

from pdebench_x.numerics.swe.workspace import Workspace

LIMITERS = ("mc", "minmod")


def half_slope(d: torch.Tensor, dim: int, limiter: str, ws: Workspace | None = None) -> torch.Tensor:
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
        # minmod(dl, dr, c) with c = (dl + dr)/4: c clamped to [min(max(dl, dr), 0), max(min(dl, dr), 0)]
        # (the same numbers as the minmod formula, in fewer passes)
        centred = torch.add(dl, dr, out=ws("slope_c", dl.shape, d)).mul_(0.25)
        return torch.clamp(centred, min=hi.clamp_(max=0.0), max=lo.clamp_(min=0.0), out=centred)
    if limiter != "minmod":
        raise ValueError(f"unknown limiter {limiter!r}; choose one of {LIMITERS}")
    return lo.clamp_(min=0.0).add_(hi.clamp_(max=0.0)).mul_(0.5)


def limited_slope(dl: torch.Tensor, dr: torch.Tensor, limiter: str = "mc") -> torch.Tensor:
    """Limited slope from the one-sided differences ``dl = q_i - q_{i-1}``, ``dr = q_{i+1} - q_i``.

    MC: ``sign(dl) min(2|dl|, 2|dr|, |dl + dr|/2)``; minmod: ``sign(dl) min(|dl|, |dr|)``;
    zero at extrema (``dl dr <= 0``). Symmetric in (dl, dr) and odd, as the symmetry tests need.
    (The solver's own formula, :func:`half_slope`, times 2.)
    """
    return 2.0 * half_slope(torch.stack([dl, dr]), 0, limiter)[0]


def hll_faces(z: torch.Tensor, g: torch.Tensor | float, h_dry: float, dry: bool, flux: torch.Tensor,
              ws: Workspace | None = None, c: torch.Tensor | None = None) -> torch.Tensor:
    """HLL flux at faces (formulas in the module docstring), written into ``flux``.

    ``z`` [5, 2, N, ...]: rows 0-2 hold the face primitives (u_t, u_n, h), column 0 the left and 1
    the right state; rows 3-4 are overwritten with ``m = h u_n`` and ``p = m u_n + g h^2 / 2``.
    ``g`` broadcasts against [N, ...]. ``dry=False`` promises no face depth ``<= h_dry`` (skips
    the dry-front speeds, which would leave the numbers unchanged). ``c`` [2, N, ...]: the wave
    celerities that the speed estimates use on each side (default ``sqrt(g h)`` of the face
    depths). Fills ``flux`` [3, N, ...] with (F_t, F_h, F_n) and returns the speeds [2, N, ...]
    ``(s_R, -s_L)``, both >= 0.
    """
    ws = ws or Workspace()
    ut, un, h, m, p = z
    if c is None:
        c = torch.mul(h, g, out=ws("c", h.shape, h)).sqrt_()      # c = sqrt(g h), both sides
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
    (A standalone entry to the solver's :func:`hll_faces`.)
    """
    z = torch.empty((5,) + h.shape, dtype=h.dtype, device=h.device)
    z[0], z[1], z[2] = ut, un, h
    flux = torch.empty((3,) + h.shape[1:], dtype=h.dtype, device=h.device)
    s = hll_faces(z, g, h_dry, True, flux)
    return flux[1], flux[2], flux[0], s.amax(0)

