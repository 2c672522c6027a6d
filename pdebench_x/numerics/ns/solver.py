"""2D incompressible Navier–Stokes in vorticity form on the unit torus: a pseudo-spectral solver.

PDE, on (x, y) in [0, 1)^2 with periodic boundaries::

    w_t + u . grad w = nu Lap w + f,      u = (psi_y, -psi_x),      -Lap psi = w,

with a time-independent forcing f. Arrays are indexed [x, y] on the grid
``linspace(0, 1, s + 1)[:-1]`` in both directions.

Scheme: Fourier pseudo-spectral in space with the 2/3 rule (the nonlinear term is formed from
the modes |k_x|, |k_y| < s/3 and projected back onto them, so it is free of aliasing); in time,
the viscous term and the constant forcing are integrated exactly (integrating factor
exp(-nu |K|^2 t), K = 2 pi k) and the advection N(w) = -div(u w) by the classical RK4 on the
transformed variable (Lawson's IF-RK4, fourth order). With L = -nu |K|^2, z = L h / 2,
E = e^z, F = h/2 phi1(z) f, phi1(z) = (e^z - 1)/z, F2 = (E + 1) F (the exact integrals of the
forcing over h/2 and h), one step is::

    k1 = N(w),  k2 = N(E (w + h/2 k1) + F),  k3 = N(E w + F + h/2 k2),  k4 = N(E^2 w + F2 + h E k3),
    w <- E^2 w + F2 + h/6 (E^2 k1 + 2 E (k2 + k3) + k4).

Where N vanishes (a single Fourier shell, e.g. Taylor–Green or the flow forced from rest) the
step is exact for any h.

The step is chosen per sample from its own CFL number, h <= cfl dx / max(|u| + |v|) and
h <= max_dt, and shortened evenly so each sample lands exactly on every output time; samples
of a batch with different steps advance together through a per-sample step tensor, so a sample
does not depend on its batch. The advection term is evaluated in the conservative form
div(u w) (equal to u . grad w as div u = 0 spectrally), which keeps the mean vorticity exactly
zero.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

#: Default CFL number, dt * max(|u| + |v|) / dx. Measured (datasets/ns.md): temporal error
#: 1.5e-6 relative at nu = 1e-3 (64^2, t = 1) and 9e-5 at nu = 1e-5 (128^2), 20x or more below
#: the spatial error of those grids; 0.5 costs twice as much for 16x less. Blow-up was seen
#: from 2.0 on under-resolved flows (nu = 1e-5 on 64^2).
DEFAULT_CFL = 1.0
#: Default largest step (binds only while the flow is slow, early on): fixed dt = 0.1 gives
#: 5e-8 relative error at nu = 1e-3.
DEFAULT_MAX_DT = 0.1


class _Spectral:
    """Wavenumber operators for the rfft2 layout [..., n (x), n/2 + 1 (y)]."""

    def __init__(self, n: int, device: torch.device, dtype: torch.dtype) -> None:
        kx = torch.fft.fftfreq(n, d=1.0 / n, dtype=torch.float64, device=device)
        ky = torch.fft.rfftfreq(n, d=1.0 / n, dtype=torch.float64, device=device)
        kx2, ky2 = torch.meshgrid(kx, ky, indexing="ij")
        nyq = (kx2.abs() == n // 2) | (ky2 == n // 2)
        cdtype = torch.complex64 if dtype == torch.float32 else torch.complex128
        k2 = 4.0 * math.pi**2 * (kx2**2 + ky2**2)
        inv_k2 = torch.where(k2 > 0, 1.0 / torch.where(k2 > 0, k2, 1.0), 0.0)  # -Lap^{-1}, mean 0
        # i K for derivatives; Nyquist modes get 0 (their derivative is not real-representable)
        dx = 2j * math.pi * torch.where(nyq, 0.0, kx2)
        dy = 2j * math.pi * torch.where(nyq, 0.0, ky2)
        # 2/3 rule: modes with 3|k| < n are free of aliasing in a quadratic product
        dealias = ((3 * kx2.abs() < n) & (3 * ky2 < n)).to(torch.float64)
        self.n = n
        self.k2 = k2.to(dtype)  # |K|^2 = 4 pi^2 |k|^2, the symbol of -Lap
        self.keep = (~nyq).to(dtype)  # zeroes the Nyquist modes of the state
        # full-state maps w_hat -> (u_hat, v_hat), u = psi_y, v = -psi_x
        self.to_u = (dy * inv_k2).to(cdtype)
        self.to_v = (-dx * inv_k2).to(cdtype)
        # the same restricted to the dealiased modes (inputs of the nonlinear product)
        self.dealias = dealias.to(dtype)
        self.to_u_d = (dy * inv_k2 * dealias).to(cdtype)
        self.to_v_d = (-dx * inv_k2 * dealias).to(cdtype)
        # divergence of the flux (u w, v w), projected onto the dealiased modes
        self.div_x = (dx * dealias).to(cdtype)
        self.div_y = (dy * dealias).to(cdtype)


@dataclass
class NSSolution:
    """Output of :func:`solve_vorticity`.

    vorticity [B, T, m, m], velocity [B, T, m, m, 2] (None unless asked), with m = n // subsample;
    steps [B]: number of IF-RK4 steps each sample took.
    """

    vorticity: torch.Tensor
    velocity: torch.Tensor | None
    steps: torch.Tensor


def _as_batch(a: Any, name: str, dtype: torch.dtype | None, device: torch.device | None) -> torch.Tensor:
    t = torch.as_tensor(a, dtype=dtype, device=device)
    if t.dim() == 2:
        t = t.unsqueeze(0)
    if t.dim() != 3 or t.shape[-1] != t.shape[-2]:
        raise ValueError(f"{name} must be [n, n] or [B, n, n] (square periodic grid), got {tuple(t.shape)}")
    return t


def _to_spectral(w: torch.Tensor, name: str, sp: _Spectral) -> torch.Tensor:
    """rfft2 of a zero-mean field with the mean and Nyquist modes removed."""
    scale = w.abs().amax(dim=(-2, -1)).clamp_min(torch.finfo(w.dtype).tiny)
    mean = w.mean(dim=(-2, -1))
    if bool((mean.abs() > 1e-5 * scale).any()):
        raise ValueError(
            f"{name} has a nonzero mean (max |mean|/max|field| = "
            f"{(mean.abs() / scale).max().item():.2e}); on the torus the vorticity and the forcing "
            "must have zero mean: subtract the mean first")
    if w.shape[0] == 1:
        # a lone transform takes another FFT code path (last-bit differences): pad to two so a
        # sample gives the same bits alone as in a batch
        w_hat = torch.fft.rfft2(torch.cat((w, w)))[:1]
    else:
        w_hat = torch.fft.rfft2(w)
    w_hat = w_hat * sp.keep
    w_hat[..., 0, 0] = 0
    return w_hat


def _physical(w_hat: torch.Tensor, sp: _Spectral, masked: bool) -> torch.Tensor:
    """[w, u, v] in physical space, [B, 3, n, n], u = psi_y, v = -psi_x, psi_hat = w_hat / |K|^2.

    ``masked``: from the 2/3-dealiased modes only. One irfft2 over a stacked batch of 3B
    transforms (this also keeps the FFT on its batched code path when B = 1, which makes the
    result bitwise independent of the batch size).
    """
    buf = torch.empty((w_hat.shape[0], 3) + tuple(w_hat.shape[1:]), dtype=w_hat.dtype, device=w_hat.device)
    if masked:
        torch.mul(w_hat, sp.dealias, out=buf[:, 0])
        torch.mul(w_hat, sp.to_u_d, out=buf[:, 1])
        torch.mul(w_hat, sp.to_v_d, out=buf[:, 2])
    else:
        buf[:, 0] = w_hat
        torch.mul(w_hat, sp.to_u, out=buf[:, 1])
        torch.mul(w_hat, sp.to_v, out=buf[:, 2])
    return torch.fft.irfft2(buf, s=(sp.n, sp.n))


def _advection(w_hat: torch.Tensor, sp: _Spectral, speed: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """N(w_hat) = -P div(u w) (P: 2/3 projection) and, if asked, max(|u| + |v|) per sample."""
    wuv = _physical(w_hat, sp, masked=True)
    flux = torch.empty((wuv.shape[0], 2) + tuple(wuv.shape[2:]), dtype=wuv.dtype, device=wuv.device)
    torch.mul(wuv[:, 1], wuv[:, 0], out=flux[:, 0])
    torch.mul(wuv[:, 2], wuv[:, 0], out=flux[:, 1])
    flux_hat = torch.fft.rfft2(flux)
    g = sp.div_x * flux_hat[:, 0]
    g += sp.div_y * flux_hat[:, 1]
    vmax = (wuv[:, 1].abs() + wuv[:, 2].abs()).amax(dim=(-2, -1)) if speed else None
    return g.neg_(), vmax


def solve_vorticity(
    w0: Any,
    forcing: Any | None,
    viscosity: float | Sequence[float] | torch.Tensor,
    times: Sequence[float],
    *,
    cfl: float = DEFAULT_CFL,
    max_dt: float = DEFAULT_MAX_DT,
    dt: float | None = None,
    subsample: int = 1,
    return_velocity: bool = False,
) -> NSSolution:
    """Solve w_t + u . grad w = nu Lap w + f from w(0) = w0 and return w at ``times``.

    w0: [n, n] or [B, n, n] zero-mean vorticity on the grid linspace(0, 1, n+1)[:-1] (torch or
    numpy; its dtype, float32 or float64, and device are the solver's). forcing: None, [n, n]
    or [B, n, n] zero-mean, time-independent. viscosity: scalar or [B]. times: nondecreasing
    output times >= 0 (a time 0 returns w0 itself, projected). Step per sample:
    min(max_dt, cfl dx / max|u|+|v|) — or the fixed ``dt`` if given (for convergence studies) —
    shortened to land on each output time. ``subsample``: store every k-th grid point ([::k]).
    """
    w0 = _as_batch(w0, "w0", None, None)
    if w0.dtype not in (torch.float32, torch.float64):
        w0 = w0.to(torch.float64) if w0.dtype != torch.float16 else w0.float()
    dtype, device = w0.dtype, w0.device
    B, n = w0.shape[0], w0.shape[-1]
    if n % 2:
        raise ValueError(f"grid size must be even, got {n}")
    if subsample < 1 or n % subsample:
        raise ValueError(f"subsample must be a positive divisor of the grid size {n}, got {subsample}")
    if cfl <= 0 or max_dt <= 0 or (dt is not None and dt <= 0):
        raise ValueError(f"cfl, max_dt and dt must be positive, got {cfl}, {max_dt}, {dt}")
    times_np = np.asarray(times, dtype=np.float64).reshape(-1)
    if times_np.size == 0 or times_np[0] < 0 or np.any(np.diff(times_np) < 0) or not np.all(np.isfinite(times_np)):
        raise ValueError(f"times must be a nonempty nondecreasing sequence of finite values >= 0, got {times}")

    sp = _Spectral(n, device, dtype)
    w_hat = _to_spectral(w0, "w0", sp)
    forced = forcing is not None
    if not forced:
        f_hat = torch.zeros_like(w_hat)
    else:
        f = _as_batch(forcing, "forcing", dtype, device)
        if f.shape[-1] != n or f.shape[0] not in (1, B):
            raise ValueError(f"forcing must be [n, n] or [B, n, n] with n={n}, B={B}; got {tuple(f.shape)}")
        f_hat = _to_spectral(f, "forcing", sp).expand(B, -1, -1).contiguous()
    nu = torch.as_tensor(viscosity, dtype=dtype, device=device).reshape(-1)
    if nu.numel() == 1:
        nu = nu.expand(B)
    if nu.numel() != B or bool((nu < 0).any()):
        raise ValueError(f"viscosity must be a nonnegative scalar or one value per sample ({B}), got {viscosity}")
    lin = -nu[:, None, None] * sp.k2  # L = -nu |K|^2, [B, n, n/2+1]

    h_grid = 1.0 / n
    steps = torch.zeros(B, dtype=torch.int64, device=device)
    frames_w, frames_u = [], []
    t_now = 0.0
    for t_out in times_np:
        remaining = torch.full((B,), float(t_out) - t_now, dtype=torch.float64, device=device)
        while True:
            active = remaining > 0
            idx = active.nonzero().squeeze(1)
            if idx.numel() == 0:
                break
            whole = idx.numel() == B
            w = w_hat if whole else w_hat[idx]
            fh = f_hat if whole else f_hat[idx]
            L = lin if whole else lin[idx]
            rem = remaining[idx]

            k1, speed = _advection(w, sp, speed=True)
            if not bool(torch.isfinite(speed).all()):
                raise FloatingPointError(
                    "Navier-Stokes solution blew up (non-finite velocity): lower cfl / max_dt or "
                    "raise solve_resolution")
            if dt is None:
                target = torch.clamp(cfl * h_grid / speed.to(torch.float64), max=max_dt)
            else:
                target = torch.full_like(rem, dt)
            # the tolerance keeps e.g. 1.0 / 0.1 = 10.000000000000002 from taking 11 steps
            n_left = torch.ceil(rem / target - 1e-9).clamp_min(1)
            h64 = rem / n_left
            h = h64.to(dtype)[:, None, None]
            z = L * (0.5 * h)
            E = torch.exp(z)
            E2 = E * E
            if forced:
                # exact integral of the constant forcing over h/2 and h:
                # int_0^{h/2} e^{L s} ds f = h/2 phi1(z) f, phi1(z) = expm1(z)/z; over h: that * (E + 1)
                zs = torch.where(z == 0, torch.ones_like(z), z)
                phi = torch.where(z == 0, torch.ones_like(z), torch.expm1(zs) / zs)
                f_half = (0.5 * h * phi) * fh
                f_full = f_half * (E + 1.0)
            else:
                f_half = f_full = 0.0
            k2, _ = _advection(E * (w + 0.5 * h * k1) + f_half, sp)
            k3, _ = _advection(E * w + f_half + 0.5 * h * k2, sp)
            k4, _ = _advection(E2 * w + f_full + h * (E * k3), sp)
            w_new = E2 * w + f_full + (h / 6.0) * (E2 * k1 + 2.0 * E * (k2 + k3) + k4)
            new_rem = torch.where(n_left == 1, torch.zeros_like(rem), rem - h64)
            if whole:
                w_hat, remaining = w_new, new_rem
            else:
                w_hat = w_hat.index_copy(0, idx, w_new)
                remaining = remaining.index_copy(0, idx, new_rem)
            steps = steps.index_add(0, idx, torch.ones_like(idx))
        t_now = float(t_out)
        wuv = _physical(w_hat, sp, masked=False)[..., ::subsample, ::subsample]
        frames_w.append(wuv[:, 0])
        if return_velocity:
            frames_u.append(wuv[:, 1:].movedim(1, -1))
    vort = torch.stack(frames_w, dim=1)
    vel = torch.stack(frames_u, dim=1) if return_velocity else None
    return NSSolution(vorticity=vort, velocity=vel, steps=steps)


def velocity_from_vorticity(w: Any) -> torch.Tensor:
    """u = (psi_y, -psi_x) with -Lap psi = w, spectrally. w [..., n, n] -> [..., n, n, 2]."""
    w = torch.as_tensor(w)
    lead = w.shape[:-2]
    n = w.shape[-1]
    wb = w.reshape(-1, n, n)
    sp = _Spectral(n, wb.device, wb.dtype)
    w_hat = torch.fft.rfft2(wb) * sp.keep
    w_hat[..., 0, 0] = 0
    uv = _physical(w_hat, sp, masked=False)[:, 1:]
    return uv.movedim(1, -1).reshape(*lead, n, n, 2)


def vorticity_tendency(w: Any, forcing: Any | None, viscosity: float | Sequence[float] | torch.Tensor) -> torch.Tensor:
    """The solver's right-hand side dw/dt = -u . grad w + nu Lap w + f, spectrally (2/3 rule).

    w: [n, n] or [B, n, n] zero-mean; forcing: None, [n, n] or [B, n, n]; viscosity: scalar or
    [B]. Returns [B, n, n] (exact for fields band-limited to |k_x|, |k_y| < n/3).
    """
    w = _as_batch(w, "w", None, None)
    B, n = w.shape[0], w.shape[-1]
    sp = _Spectral(n, w.device, w.dtype)
    w_hat = _to_spectral(w, "w", sp)
    f_hat = torch.zeros_like(w_hat) if forcing is None else _to_spectral(
        _as_batch(forcing, "forcing", w.dtype, w.device), "forcing", sp).expand(B, -1, -1)
    nu = torch.as_tensor(viscosity, dtype=w.dtype, device=w.device).reshape(-1, 1, 1)
    g, _ = _advection(w_hat, sp)
    return torch.fft.irfft2(g + f_hat - nu * sp.k2 * w_hat, s=(n, n))

