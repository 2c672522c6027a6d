r"""Periodic viscous Burgers from random initial fields: the FNO paper's 1D benchmark.

PDE on the periodic interval [0, L)::

    u_t + (u^2 / 2)_x = nu u_xx,      u(x, 0) = u0(x).

Initial law (the FNO repository's ``GRF1.m``, type "periodic", mean 0): with integer
wavenumbers k = 1..M and independent standard normals xi_k, eta_k,

    u0(x) = sum_k a_k (xi_k cos(2 pi k x / L) + eta_k sin(2 pi k x / L)),
    a_k = sqrt(2) sigma ((2 pi k)^2 + tau^2)^(-gamma / 2),

GRF1's ``my_eigs`` (its "periodic" branch uses 2 pi k whatever the length; the FNO data are on
[0, 1)). For sigma = 25, tau = 5, gamma = 2 this is the paper's N(0, 625 (-Laplacian + 25 I)^-2):
the Karhunen–Loeve expansion of that law in the orthonormal basis sqrt(2) cos, sqrt(2) sin has
coefficient standard deviations 25 / ((2 pi k)^2 + 25), times sqrt(2) for the basis' norm.
GRF1 keeps M = s / 2 modes for the s-point grid on which the solution is computed (4096 for
s = 8192) and evaluates the field at the s points; :func:`grf1_periodic` does the same with an
inverse real FFT (the last mode's sine vanishes at the grid points, exactly as in GRF1).

Solver (:func:`solve_burgers`): Fourier pseudo-spectral in space with the 2/3 dealiasing rule on
the nonlinear term, exponential time differencing RK4 in time (ETDRK4, Cox & Matthews 2002,
with the contour-integral coefficients of Kassam & Trefethen 2005), which treats the stiff
diffusion exactly; the step is the largest that divides each output interval into equal steps
no longer than ``dt``. Batched over samples, float64.
"""
from __future__ import annotations

import math

import numpy as np


def grf1_amplitudes(n_modes: int, sigma: float = 25.0, tau: float = 5.0, gamma: float = 2.0) -> np.ndarray:
    """GRF1's per-mode standard deviation a_k for k = 1..n_modes (float64 [n_modes])."""
    k = np.arange(1, int(n_modes) + 1, dtype=np.float64)
    return math.sqrt(2.0) * abs(sigma) * ((2.0 * math.pi * k) ** 2 + tau ** 2) ** (-gamma / 2.0)


def grf1_periodic(rng: np.random.Generator, n_points: int, sigma: float = 25.0, tau: float = 5.0,
                  gamma: float = 2.0) -> np.ndarray:
    """One draw of GRF1's periodic field with n_points / 2 modes at x_j = j L / n_points.

    Draws xi_k for k = 1..M, then eta_k for k = 1..M (M = n_points / 2), as GRF1 draws its
    cosine, then its sine coefficients. Returns float64 [n_points].
    """
    n = int(n_points)
    if n < 4 or n % 2:
        raise ValueError(f"the GRF grid needs an even number of points >= 4, got {n_points!r}")
    m = n // 2
    amp = grf1_amplitudes(m, sigma, tau, gamma)
    xi = rng.standard_normal(m)
    eta = rng.standard_normal(m)
    # irfft(c)[j] = (1/n) (c_0 + 2 Re sum_{0<k<n/2} c_k e^{2 pi i k j / n} + c_{n/2} (-1)^j)
    c = np.zeros(m + 1, dtype=np.complex128)
    c[1:m] = 0.5 * n * amp[:-1] * (xi[:-1] - 1j * eta[:-1])
    c[m] = n * amp[-1] * xi[-1]  # at the grid points the last sine is 0 and its cosine is (-1)^j
    return np.fft.irfft(c, n=n)


def _etdrk4_coefficients(linear: np.ndarray, dt: float, n_contour: int = 32):
    """Kassam & Trefethen's ETDRK4 coefficients for the diagonal linear operator ``linear``."""
    lin = linear * dt
    roots = np.exp(1j * math.pi * (np.arange(1, n_contour + 1) - 0.5) / n_contour)
    lr = lin[:, None] + roots[None, :]  # contour points around each eigenvalue
    e, e2 = np.exp(lin), np.exp(lin / 2)
    q = dt * np.real(np.mean((np.exp(lr / 2) - 1) / lr, axis=1))
    f1 = dt * np.real(np.mean((-4 - lr + np.exp(lr) * (4 - 3 * lr + lr ** 2)) / lr ** 3, axis=1))
    f2 = dt * np.real(np.mean((2 + lr + np.exp(lr) * (-2 + lr)) / lr ** 3, axis=1))
    f3 = dt * np.real(np.mean((-4 - 3 * lr - lr ** 2 + np.exp(lr) * (4 - lr)) / lr ** 3, axis=1))
    return e, e2, q, f1, f2, f3


def solve_burgers(u0_hat: np.ndarray, n_points: int, times, viscosity: float, length: float = 1.0,
                  dt: float = 1e-3) -> tuple[np.ndarray, int]:
    """u at ``times`` on the ``n_points`` grid x_j = j L / n, from the Fourier coefficients u0_hat.

    u0_hat: complex [B, n_points // 2 + 1], ``np.fft.rfft`` of the initial field on that grid
    (so a band-limited start is given by truncating a finer field's coefficients, rescaled by the
    ratio of the grid sizes). times: increasing, starting at 0. Returns (float64 [B, T, n_points],
    the number of ETDRK4 steps taken).
    """
    n = int(n_points)
    t = np.asarray(times, dtype=np.float64)
    if t.ndim != 1 or t[0] != 0.0 or np.any(np.diff(t) <= 0):
        raise ValueError(f"times must increase from 0, got {times!r}")
    if not viscosity > 0 or not dt > 0 or not length > 0:
        raise ValueError(f"viscosity, dt and length must be > 0, got {viscosity!r}, {dt!r}, {length!r}")
    v = np.array(u0_hat, dtype=np.complex128, copy=True)
    if v.ndim != 2 or v.shape[1] != n // 2 + 1:
        raise ValueError(f"u0_hat must be [B, {n // 2 + 1}] for {n} points, got {v.shape}")
    k = 2.0 * math.pi / length * np.arange(n // 2 + 1)
    if n % 2 == 0:
        v[:, -1] = 0.0                           # the Nyquist mode has no real derivative
    keep = np.arange(n // 2 + 1) < (n / 3.0)    # 2/3 rule for the quadratic term
    g = -0.5j * k * keep                         # N(v) = g * fft(u^2)
    linear = -viscosity * k ** 2

    def nonlinear(vh):
        return g * np.fft.rfft(np.fft.irfft(vh, n=n) ** 2)

    out = np.empty((v.shape[0], t.size, n))
    out[:, 0] = np.fft.irfft(v, n=n)
    steps = 0
    cache: dict[float, tuple] = {}
    for i in range(1, t.size):
        interval = t[i] - t[i - 1]
        n_steps = max(1, math.ceil(interval / dt - 1e-9))
        h = interval / n_steps
        key = round(h, 15)
        if key not in cache:
            cache[key] = _etdrk4_coefficients(linear, h)
        e, e2, q, f1, f2, f3 = cache[key]
        for _ in range(n_steps):
            nv = nonlinear(v)
            a = e2 * v + q * nv
            na = nonlinear(a)
            b = e2 * v + q * na
            nb = nonlinear(b)
            c = e2 * a + q * (2 * nb - nv)
            nc = nonlinear(c)
            v = e * v + nv * f1 + 2 * (na + nb) * f2 + nc * f3
        steps += n_steps
        out[:, i] = np.fft.irfft(v, n=n)
    return out, steps
