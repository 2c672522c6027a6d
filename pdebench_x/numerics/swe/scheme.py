"""Shallow-water time stepping: SSP-RK2 with a per-sample CFL step, dry cells, quiet regions.

* time: SSP-RK2 (Heun), ``q1 = q + dt L(q)``, ``q^{n+1} = (q + q1 + dt L(q1)) / 2``, with
  ``dt = cfl / (a_x/dx + a_y/dy)`` per sample, ``a_x, a_y`` the largest HLL speeds over the
  faces of the current state; the step is shortened to land exactly on every output time.
  ``cfl <= 1/2`` makes each Euler stage a convex combination of non-negative face depths, so
  depths stay non-negative (the tests check it, dry bed included).
* dry cells (``h <= h_dry``) have zero velocity and their momentum is set to zero after each
  stage (mass is untouched, so mass conservation is exact up to round-off).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch

from pdebench_x.numerics.swe.fluxes import LIMITERS, hll_faces
from pdebench_x.numerics.swe.operator import BOUNDARIES, Region, gravity_per_sample, rhs_on_region
from pdebench_x.numerics.swe.workspace import Workspace


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
    g = gravity_per_sample(g, q[0])
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
            s = hll_faces(z, g, h_dry, True, torch.empty((3, b, 1, 1), dtype=q.dtype, device=q.device))
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
            ax, ay = rhs_on_region(q, dx, dy, g, boundary, limiter, h_dry, dry, ws, r, first)
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
            rhs_on_region(q1, dx, dy, g, boundary, limiter, h_dry, dry, ws, r, second)
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

