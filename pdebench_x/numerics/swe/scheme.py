"""Shallow-water time stepping: a per-sample CFL step, dry cells, quiet regions, two schemes.

* ``rk2`` (the default): SSP-RK2 (Heun), ``q1 = q + dt L(q)``, ``q^{n+1} = (q + q1 + dt L(q1)) / 2``,
  with ``dt = cfl / (a_x/dx + a_y/dy)`` per sample, ``a_x, a_y`` the largest HLL speeds over the
  faces of the current state, cfl = 0.4; the step is shortened to land exactly on every output
  time. ``cfl <= 1/2`` makes each Euler stage a convex combination of non-negative face depths,
  so depths stay non-negative (the tests check it, dry bed included).
* ``hancock``: unsplit MUSCL-Hancock (:mod:`.hancock`), one flux evaluation a step, with
  ``dt (a_x/dx + a_y/dy) <= cfl = 0.9`` from the cell speeds (its linear stability bound is 1);
  the time to each output is split into equal steps. Same reconstruction and flux, second order
  in space and time as well. It has no positivity proof: a sample whose depth would go negative
  repeats that step by SSP-RK2 (none of the tests' dry-bed starts needs it).
* dry cells (``h <= h_dry``) have zero velocity and their momentum is set to zero after each
  stage (mass is untouched, so mass conservation is exact up to round-off).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import torch

from pdebench_x.numerics.swe.fluxes import LIMITERS, hll_faces
from pdebench_x.numerics.swe.hancock import hancock_on_region
from pdebench_x.numerics.swe.operator import BOUNDARIES, Region, gravity_per_sample, rhs_on_region
from pdebench_x.numerics.swe.workspace import Workspace


# --------------------------------------------------------------------------------------------
# quiet region
# --------------------------------------------------------------------------------------------
#
# Where the state equals a still background (the corner cell's state, u = v = 0) over the whole
# stencil, every face sees two equal states with zero slopes: all fluxes there are equal, their
# differences exactly 0, and the update leaves those cells bit for bit as they are. A cell's
# update reads 2 cells along each axis (MUSCL-Hancock's also the 4 diagonal neighbours), so a
# stage can change only the cells within 2 of the bounding box of the cells that differ from the
# background, and an SSP-RK2 step (two stages) those within 4. The solver computes those cells
# only; the faces it skips all carry the background's speed, which enters the CFL rate as one
# more candidate (MUSCL-Hancock's rate is taken from cells, and the region's margin cells are
# background ones). The result is bitwise the full computation's. The next step's search for
# cells off the background looks only where this step could change cells.

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

class _Stepper:
    """One solve's steps: grid, scratch buffers, the dry-cell bookkeeping and the quiet region.

    ``rk2`` and ``hancock`` each advance the state ``q`` [3, B, X, Y] by one step, into ``nxt``
    or in place, and return ``(new state, dt, arrive)``: ``dt`` [B] the step taken (0 where
    ``active`` is False), ``arrive`` [B] whether it lands on the output time ``remaining`` ahead.
    """

    def __init__(self, q: torch.Tensor, dx: float, dy: float, g: torch.Tensor, boundary: str, limiter: str,
                 cfl: float, h_dry: float, skip_quiet: bool) -> None:
        self.dx, self.dy, self.g, self.boundary, self.limiter = dx, dy, g, boundary, limiter
        self.cfl, self.h_dry, self.skip_quiet = cfl, h_dry, skip_quiet
        _, self.b, self.nx, self.ny = q.shape
        # On the CPU reading a scalar back is free, so the smallest depth of each stage decides
        # whether the dry-cell work of the next one is needed (skipping it changes no number), and
        # the quiet region is found each step. On a GPU each read would stall the queue: the
        # dry-cell work always runs there, over the whole grid, and the smallest depth stays on the
        # device until the end.
        self.host = q.device.type == "cpu"
        self.full = (0, self.nx, 0, self.ny)
        self.ws = Workspace()
        self.r, self.q1 = torch.empty_like(q), torch.empty_like(q)
        self.background: dict[str, Any] = {"state": None}
        self.window = self.full  # the cells that may differ from the background
        self.min_depth: Any = math.inf if self.host else q[0].amin()
        self.dry = True
        self.repeated = 0  # MUSCL-Hancock steps repeated by SSP-RK2 for positivity
        self.after_stage(q)

    def after_stage(self, q: torch.Tensor) -> None:
        """Zero the momentum of dry cells; keep the running smallest depth, and whether the next
        stage may meet a dry cell."""
        low = q[0].amin()
        if self.host:
            low = float(low)
            if low > self.h_dry:
                self.min_depth, self.dry = min(self.min_depth, low), False
                return
        q[1:].masked_fill_((q[0] <= self.h_dry).unsqueeze(0), 0.0)
        self.min_depth = min(self.min_depth, low) if self.host else torch.minimum(self.min_depth, low)
        self.dry = True

    def regions(self, q: torch.Tensor, margins: Sequence[int]) -> tuple[list[Region], torch.Tensor | None]:
        """The cells that a step's stages can change, one region per margin (2 cells per stage),
        and the background's face speed [B] (None when the first region is the whole grid)."""
        if not self.skip_quiet:
            return [self.full] * len(margins), None
        corner = q[:, :, 0, 0]
        if bool((corner[1:] != 0).any()):  # a moving background: no quiet cells to rely on
            self.window = self.full
            return [self.full] * len(margins), None
        a, b, c, d = self.window
        off = (q[:, :, a:b, c:d] != corner[:, :, None, None]).flatten(0, 1).any(0)
        rows, cols = off.any(1).nonzero().flatten().tolist(), off.any(0).nonzero().flatten().tolist()
        box = (a + rows[0], a + rows[-1], c + cols[0], c + cols[-1]) if rows else (0, 0, 0, 0)
        found = [_region(box, self.nx, self.ny, m, self.boundary == "periodic") for m in margins]
        # the step changes only the last region's cells: the next search needs to look no further,
        # unless the step may change the corner cell, which defines the background
        self.window = found[-1] if found[-1][0] > 0 or found[-1][2] > 0 else self.full
        if found[0] == self.full:
            return found, None
        key = corner[0].tolist()
        if self.background["state"] != key:  # its speed, by the solver's own flux on a still face
            z = torch.zeros((5, 2, self.b, 1, 1), dtype=q.dtype, device=q.device)
            z[2] = corner[0].reshape(1, self.b, 1, 1)
            s = hll_faces(z, self.g, self.h_dry, True, torch.empty((3, self.b, 1, 1), dtype=q.dtype, device=q.device))
            self.background.update(state=key, speed=s.amax((0, -2, -1)))
        return found, self.background["speed"]

    def _views(self, dst: torch.Tensor, src: torch.Tensor, region: Region) -> tuple[torch.Tensor, torch.Tensor]:
        """``dst = src`` outside ``region``; returns the views (dst, src) inside it."""
        if region != self.full:
            dst.copy_(src)
        a, b, c, d = region
        return dst[:, :, a:b, c:d], src[:, :, a:b, c:d]

    def rk2(self, q: torch.Tensor, nxt: torch.Tensor, remaining: torch.Tensor, active: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """SSP-RK2 (Heun): ``q1 = q + dt L(q)``, ``nxt = (q + q1 + dt L(q1)) / 2``, with
        ``dt = cfl / (a_x/dx + a_y/dy)`` from the face speeds of the first stage, cut to land."""
        (first, second), still_speed = self.regions(q, (2, 4))
        r = self.r
        args = (self.dx, self.dy, self.g, self.boundary, self.limiter, self.h_dry)
        ax, ay = rhs_on_region(q, *args, self.dry, self.ws, r, first)
        if still_speed is not None:
            ax, ay = torch.maximum(ax, still_speed), torch.maximum(ay, still_speed)
        rate = (ax / self.dx + ay / self.dy).to(torch.float64)
        dt_cfl = self.cfl / rate  # rate 0 (all dry and still): inf, one step to the output time
        arrive = dt_cfl >= remaining
        dt = torch.where(arrive, remaining, dt_cfl).masked_fill_(~active, 0.0)
        dtb = dt.to(q.dtype).reshape(1, -1, 1, 1)
        stage, now = self._views(self.q1, q, first)
        a, b, c, d = first
        torch.add(r[:, :, a:b, c:d].mul_(dtb), now, out=stage)            # q1 = q + dt L(q)
        self.after_stage(self.q1)
        rhs_on_region(self.q1, *args, self.dry, self.ws, r, second)
        a, b, c, d = second
        step = r[:, :, a:b, c:d].mul_(dtb).add_(self.q1[:, :, a:b, c:d])
        new, now = self._views(nxt, q, second)
        torch.add(step, now, out=new).mul_(0.5)                             # (q + (q1 + dt L(q1))) / 2
        self.after_stage(nxt)
        return nxt, dt, arrive

    def hancock(self, q: torch.Tensor, nxt: torch.Tensor, remaining: torch.Tensor, active: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """MUSCL-Hancock (:mod:`.hancock`), in place: ``q += dt L*(q)``, ``dt`` from the cell
        speeds, ``dt (a_x/dx + a_y/dy) <= cfl``, the time to the output split into equal steps (no
        sliver of a last step). A sample whose depth went negative repeats the step by SSP-RK2."""
        (region,), _ = self.regions(q, (2,))  # the region's margin cells carry the background's speed
        landing: dict[str, torch.Tensor] = {}

        def step(ax: torch.Tensor, ay: torch.Tensor) -> torch.Tensor:
            dt_cfl = self.cfl / (ax / self.dx + ay / self.dy).to(torch.float64)
            count = torch.ceil(remaining / dt_cfl).clamp_(min=1.0)  # rate 0: inf, one step
            landing["arrive"] = count == 1
            return torch.where(landing["arrive"], remaining, remaining / count).masked_fill_(~active, 0.0)

        dt = hancock_on_region(q, self.dx, self.dy, self.g, self.boundary, self.limiter, self.h_dry, self.dry,
                               self.host, self.ws, self.r, region, step)
        a, b, c, d = region
        increment, now = self.r[:, :, a:b, c:d], q[:, :, a:b, c:d]
        depth = torch.add(now[0], increment[0], out=self.ws("depth", now.shape[1:], q))
        negative = ~(depth.amin((-2, -1)) >= 0)  # NaN included
        start = q.clone() if bool(negative.any()) else None
        now.add_(increment)
        if start is not None:
            self._repeat_by_rk2(start, q, torch.where(negative, dt, 0.0))
        self.after_stage(q)
        return q, dt, landing["arrive"]

    def _repeat_by_rk2(self, q: torch.Tensor, nxt: torch.Tensor, duration: torch.Tensor) -> None:
        """Replace the samples of ``nxt`` with ``duration > 0`` by SSP-RK2 steps from ``q`` over
        that time (its step keeps depths non-negative); the other samples are left as they are."""
        redo = duration > 0
        self.repeated += int(redo.sum())
        cur, spare = q, torch.empty_like(q)
        while True:
            active = duration > 0
            if not bool(active.any()):
                break
            new, dt, arrive = self.rk2(cur, spare, duration, active)
            cur, spare = new, cur
            duration = torch.where(arrive, torch.zeros_like(duration), duration - dt)
        torch.where(redo.reshape(1, -1, 1, 1), cur, nxt, out=nxt)
        self.window = self.full  # the two schemes' regions differ: look everywhere next time


SCHEMES = ("rk2", "hancock")  # the _Stepper methods
#: the CFL number of each scheme when none is given, and its bound: positivity of each SSP-RK2
#: stage; linear stability of the unsplit MUSCL-Hancock step (a larger one is refused)
DEFAULT_CFL = {"rk2": 0.4, "hancock": 0.9}
MAX_CFL = {"rk2": 0.5, "hancock": 1.0}


def solve_swe(h0: Any, hu0: Any, hv0: Any, times: Sequence[float], dx: float, dy: float,
              g: Any = 1.0, boundary: str = "extrapolation", cfl: float | None = None, limiter: str = "mc",
              h_dry: float = 1e-10, dtype: torch.dtype = torch.float64,
              device: str | torch.device = "cpu", max_steps: int = 1_000_000,
              skip_quiet: bool | None = None, scheme: str = "rk2",
              on_frame: Callable[[int, torch.Tensor], None] | None = None) -> dict[str, Any]:
    """Evolve states [B, X, Y] (or [X, Y]) from t = 0 and return them at ``times``.

    ``times``: non-decreasing output times >= 0 (0 returns the initial state); ``g`` a float or
    one value per sample. ``scheme``: ``rk2`` (MUSCL + HLL, SSP-RK2) or ``hancock`` (MUSCL +
    HLL, unsplit MUSCL-Hancock: one flux evaluation a step at over twice the step);
    ``cfl``: the CFL number (None: :data:`DEFAULT_CFL` of the scheme). The CFL step is taken
    per sample and shortened to land exactly on each output time; samples that have arrived
    wait with ``dt = 0`` (which leaves their state unchanged), so each sample's steps depend on
    itself only. ``skip_quiet``: compute only the cells that can change (see "quiet region"
    above; the numbers are the same bit for bit); default on for the CPU, off for a GPU, where
    finding the region each step would stall the queue. ``on_frame``: called with ``(k, q)``
    at each output time ``k``, ``q`` [3, B, X, Y] = (h, hu, hv) (valid during the call only);
    the frames are then not kept (``h, hu, hv`` are None), which saves their float64 copy.

    Returns a dict with float tensors ``h, hu, hv`` [B, T, X, Y] in ``dtype``, ``n_steps`` [B]
    (int64), ``min_depth`` (the smallest depth met after any stage, a float) and ``repeated``
    (the number of MUSCL-Hancock steps, counted per sample, repeated by SSP-RK2 because a depth
    went negative; 0 for ``rk2``).
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {SCHEMES}")
    if boundary not in BOUNDARIES:
        raise ValueError(f"unknown boundary {boundary!r}; choose one of {sorted(BOUNDARIES)}")
    if limiter not in LIMITERS:
        raise ValueError(f"unknown limiter {limiter!r}; choose one of {LIMITERS}")
    cfl = DEFAULT_CFL[scheme] if cfl is None else float(cfl)
    if not 0 < cfl <= MAX_CFL[scheme]:
        raise ValueError(f"cfl={cfl} is outside (0, {MAX_CFL[scheme]}]: the bound of the {scheme} scheme")
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

    skip_quiet = q.device.type == "cpu" if skip_quiet is None else bool(skip_quiet)
    stepper = _Stepper(q, dx, dy, g, boundary, limiter, cfl, h_dry, skip_quiet)
    step = getattr(stepper, scheme)
    nxt = torch.empty_like(q)
    t = torch.zeros(b, dtype=torch.float64, device=device)
    n_steps = torch.zeros(b, dtype=torch.int64, device=device)
    out = None if on_frame else torch.empty((3, b, len(times)) + tuple(q.shape[2:]), dtype=dtype, device=device)
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
            new, dt, arrive = step(q, nxt, t_out - t, active)
            q, nxt = (new, q) if new is nxt else (q, nxt)
            t = torch.where(active & arrive, torch.full_like(t, float(t_out)), t + dt)
            n_steps += active.to(torch.int64)
        # a non-finite state makes its rate NaN, hence its time NaN: it stops stepping and is caught
        # here (the extremes are NaN or infinite exactly when a value is; one pass, no mask)
        if not bool(torch.isfinite(torch.stack(torch.aminmax(q))).all()):
            raise RuntimeError(f"non-finite state before t={float(t_out):.4g}; lower cfl (now {cfl})")
        if on_frame:
            on_frame(k, q)
        else:
            out[:, :, k] = q
    h, hu, hv = (None,) * 3 if out is None else out
    return {"h": h, "hu": hu, "hv": hv, "n_steps": n_steps, "min_depth": float(stepper.min_depth),
            "repeated": stepper.repeated}
