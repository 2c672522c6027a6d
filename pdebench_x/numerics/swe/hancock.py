r"""One step of the unsplit MUSCL-Hancock scheme: a half-step predictor, then one flux evaluation.

The MUSCL face values of the primitives ``w = (h, u, v)`` (limited slopes as in
:mod:`pdebench_x.numerics.swe.fluxes`) are advanced by half a step with the quasi-linear form
``w_t + A(w) w_x + B(w) w_y = 0`` evaluated in the cell::

    h* = h - dt/2 (u h_x + h u_x + v h_y + h v_y)
    u* = u - dt/2 (u u_x + g h_x + v u_y)
    v* = v - dt/2 (u v_x + v v_y + g h_y)

(both directions: the transverse terms are what keeps the unsplit scheme stable up to
``dt (a_x/dx + a_y/dy) <= 1`` for linear advection, against 1/2 without them). Every face of a
cell gets the same increment, ``face = w* +/- slope/2``; the HLL fluxes of these half-time face
states update the cell once: ``q^{n+1} = q^n - dt (dF/dx + dG/dy)``. Second order in space and
time with one flux evaluation a step (SSP-RK2 needs two, at under half the step).

The step is taken from the cell states before the step: ``a = max(|u_n| + c)`` per direction
(``|u_n| + 2c`` for a sample with a dry cell, the speed of a front running onto a dry bed). The
HLL speed estimates take each side's celerity ``c = sqrt(g h)`` from its cell (the face
celerities would cost a square root each, the dearest operation of the step, for a difference
of second order). The predictor needs no division, so it stays bounded next to dry cells; a
predicted face depth below zero is set to zero. Positivity of the cell depths is not guaranteed
by this step: the scheme checks each step and repeats it where a depth went negative
(:mod:`.scheme`).

Layout: the step works on one block of primitives (v, u, h) around the region; the x and y
faces are computed from it by the same elementwise formulas (which keeps a transposed start's
numbers transposed to the last bit) and their fluxes by one HLL call over both, laid end to end.
"""
from __future__ import annotations

from typing import Callable

import torch

from pdebench_x.numerics.swe.fluxes import half_slope, hll_faces
from pdebench_x.numerics.swe.operator import Region, flux_divergence, padded_block
from pdebench_x.numerics.swe.workspace import Workspace

#: the step size [B] (float64) from the largest speeds [B] along x and y
StepRule = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _largest_speeds(cells: torch.Tensor, c: torch.Tensor, h_dry: float, dry: bool, ws: Workspace
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The largest ``|u| + c`` over the cells whose x faces the step needs and the largest
    ``|v| + c`` over those whose y faces it needs, [B] each, from the cells (v, u, h)
    [3, B, lx + 2, ly + 2] (the region and one cell around it) and their celerities;
    ``2c`` in a sample with a dry cell (``dry=False`` promises none)."""
    v, u, h = cells
    if dry:
        c = c * ((h <= h_dry).flatten(1).any(1).reshape(-1, 1, 1) + 1.0)
    speed = ws("cell_speed", h.shape, h)
    ax = torch.abs(u, out=speed).add_(c)[:, :, 1:-1].amax((-2, -1))
    ay = torch.abs(v, out=speed).add_(c)[:, 1:-1].amax((-2, -1))
    return ax, ay


def _predicted(cells: torch.Tensor, sx: torch.Tensor, sy: torch.Tensor, g: torch.Tensor, mu_x: torch.Tensor,
               mu_y: torch.Tensor, ws: Workspace) -> torch.Tensor:
    """``w* = w - dt/2 (A w_x + B w_y)`` [3, B, n, m] of the cells (v, u, h) from their half
    slopes along x and y (``s = dx w_x / 2``) and ``mu = dt/dx``, ``dt/dy`` [B, 1, 1]."""
    v, u, h = cells
    # dt/2 A w_x = mu_x (u s_x + (h s_xu in the h row, g s_xh in the u row)) and
    # dt/2 B w_y = mu_y (v s_y + (h s_yv in the h row, g s_yh in the v row)): one formula, the
    # two axes' roles exchanged, so a transposed state gives the transposed result
    along = torch.mul(sx, torch.mul(u, mu_x, out=ws("mu_u", u.shape, u)), out=ws("along", sx.shape, sx))
    along[2].addcmul_(torch.mul(h, mu_x, out=ws("mu_h", h.shape, h)), sx[1])
    along[1].addcmul_(sx[2], g * mu_x)
    across = torch.mul(sy, torch.mul(v, mu_y, out=ws("mu_u", v.shape, v)), out=ws("across", sy.shape, sy))
    across[2].addcmul_(torch.mul(h, mu_y, out=ws("mu_h", h.shape, h)), sy[0])
    across[0].addcmul_(sy[2], g * mu_y)
    return torch.sub(cells, along.add_(across), out=along)


def hancock_on_region(q: torch.Tensor, dx: float, dy: float, g: torch.Tensor, boundary: str, limiter: str,
                      h_dry: float, dry: bool, host: bool, ws: Workspace, out: torch.Tensor, region: Region,
                      step: StepRule) -> torch.Tensor:
    """One MUSCL-Hancock step on the cells ``[a, b) x [c, d)`` of ``region``: writes the increment
    ``-dt (dF*/dx + dG*/dy)`` (the fluxes of the half-time face states) into
    ``out[:, :, a:b, c:d]``, so that ``q + out`` is the new state, and returns ``dt`` [B] as
    ``step`` chose it from the largest cell speeds of the region and the cell around it. ``g`` is
    [B, 1, 1]; ``dry=False`` promises no depth ``<= h_dry``; ``host``: reading a scalar back is
    free (CPU)."""
    nb = q.shape[1]
    lx, ly = region[1] - region[0], region[3] - region[2]
    p = padded_block(q, boundary, h_dry, dry, ws, region)         # (v, u, h), 2 cells around
    cells = p[:, :, 1:-1, 1:-1]                                    # the region and 1 cell around
    c = torch.mul(cells[2], g, out=ws("celerity", cells.shape[1:], p)).sqrt_()
    dt = step(*_largest_speeds(cells, c, h_dry, dry, ws))
    mu_x, mu_y = (dt.to(q.dtype) / dx).reshape(-1, 1, 1), (dt.to(q.dtype) / dy).reshape(-1, 1, 1)
    band_x, band_y = p[:, :, :, 1:-1], p[:, :, 1:-1]
    wx, wy = ws.scope("x"), ws.scope("y")
    sx = half_slope(torch.sub(band_x[:, :, 1:], band_x[:, :, :-1], out=wx("d", band_x[:, :, 1:].shape, p)),
                    -2, limiter, wx)
    sy = half_slope(torch.sub(band_y[..., 1:], band_y[..., :-1], out=wy("d", band_y[..., 1:].shape, p)),
                    -1, limiter, wy)
    centre = _predicted(cells, sx, sy, g, mu_x, mu_y, ws)
    # face states (u_t, u_n, h) x (left, right) of the x faces [.., lx + 1, ly] and the y faces
    # [.., lx, ly + 1], end to end along one axis, so that one HLL call does both
    kx, ky = (lx + 1) * ly, lx * (ly + 1)
    z = ws("faces", (5, 2, nb, kx + ky), p)
    zx, zy = z[..., :kx].unflatten(-1, (lx + 1, ly)), z[..., kx:].unflatten(-1, (lx, ly + 1))
    torch.add(centre[:, :, :-1, 1:-1], sx[:, :, :-1, 1:-1], out=zx[:3, 0])   # x: (v, u, h)
    torch.sub(centre[:, :, 1:, 1:-1], sx[:, :, 1:, 1:-1], out=zx[:3, 1])
    for row, comp in enumerate((1, 0, 2)):                                     # y: (u, v, h)
        torch.add(centre[comp, :, 1:-1, :-1], sy[comp, :, 1:-1, :-1], out=zy[row, 0])
        torch.sub(centre[comp, :, 1:-1, 1:], sy[comp, :, 1:-1, 1:], out=zy[row, 1])
    lowest = z[2].amin() if host else None
    if lowest is None or float(lowest) < 0:
        z[2].clamp_(min=0.0)
    # each side's celerity from its cell
    sides = ws("sides", (2, nb, kx + ky), p)
    cx, cy = sides[..., :kx].unflatten(-1, (lx + 1, ly)), sides[..., kx:].unflatten(-1, (lx, ly + 1))
    cx[0], cx[1] = c[:, :-1, 1:-1], c[:, 1:, 1:-1]
    cy[0], cy[1] = c[:, 1:-1, :-1], c[:, 1:-1, 1:]
    flux = ws("flux", (3, nb, kx + ky), p)
    hll_faces(z, g.reshape(-1, 1), h_dry, (float(lowest) <= h_dry) if host else True, flux, ws, c=sides)
    fx, fy = flux[..., :kx].unflatten(-1, (lx + 1, ly)), flux[..., kx:].unflatten(-1, (lx, ly + 1))
    diff_x = torch.sub(fx[:, :, 1:], fx[:, :, :-1], out=ws("diff_x", (3, nb, lx, ly), p))
    diff_y = torch.sub(fy[..., 1:], fy[..., :-1], out=ws("diff_y", (3, nb, lx, ly), p))
    flux_divergence(diff_x, diff_y.mT, (dx / dt.to(q.dtype)).reshape(-1, 1, 1),
                    (dy / dt.to(q.dtype)).reshape(-1, 1, 1), out, region)
    return dt
