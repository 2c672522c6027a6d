"""Fields on the unit torus for Navier–Stokes: the FNO's random initial vorticity and forcing.

Arrays are indexed [x, y] on the grid ``linspace(0, 1, s + 1)[:-1]`` in both directions.

Initial vorticity (the 2020 FNO ``GaussianRF(2, s, alpha=2.5, tau=7)``)::

    c_k = s^2 sqrt(2) sigma (4 pi^2 |k|^2 + tau^2)^(-alpha/2) (a_k + i b_k),  a_k, b_k ~ N(0, 1),
    sigma = tau^(alpha - 1),  c_0 = 0,       w0 = Re(ifft2(c)),

with k in {-s/2, ..., s/2 - 1}^2. Its pointwise variance is
2 sigma^2 sum_{k != 0} (4 pi^2 |k|^2 + tau^2)^(-alpha), i.e. a standard deviation of about 0.27.
:func:`spectral_resample` moves a field drawn on one grid to another (truncation or exact
interpolation). Forcing: f(x, y) = A (sin 2 pi (x + y) + cos 2 pi (x + y)).
"""
from __future__ import annotations

import math

import numpy as np


def gaussian_random_field(
    rng: np.random.Generator, size: int, alpha: float = 2.5, tau: float = 7.0
) -> np.ndarray:
    """One sample of the 2020 FNO Gaussian random field on a ``size`` x ``size`` periodic grid.

    w = Re(ifft2(c)), c_k = size^2 sqrt(2) tau^(alpha-1) (4 pi^2 |k|^2 + tau^2)^(-alpha/2)
    (a_k + i b_k), a_k, b_k ~ N(0, 1) independent, c_0 = 0. Returns float64 [size, size].
    """
    if size < 2 or size % 2:
        raise ValueError(f"GRF size must be an even integer >= 2, got {size!r}")
    k = np.fft.fftfreq(size, d=1.0 / size)  # 0..size/2-1, -size/2..-1 (the reference's order)
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    sigma = tau ** (alpha - 1.0)  # tau^(0.5 (2 alpha - dim)) with dim = 2
    sqrt_eig = size**2 * math.sqrt(2.0) * sigma * (4.0 * math.pi**2 * k2 + tau**2) ** (-alpha / 2.0)
    sqrt_eig[0, 0] = 0.0
    z = rng.standard_normal((2, size, size))
    return np.fft.ifft2(sqrt_eig * (z[0] + 1j * z[1])).real


def spectral_resample(field: np.ndarray, n: int) -> np.ndarray:
    """Trigonometric interpolation of periodic ``field`` [..., S, S] onto an n x n grid.

    Keeps the Fourier modes with |k_x|, |k_y| < min(S, n) / 2 (Nyquist modes dropped so the
    result is an exact real trigonometric polynomial) and rescales by (n / S)^2. For n >= S this
    is exact interpolation of the band-limited field; for n < S it is spectral truncation.
    """
    field = np.asarray(field, dtype=np.float64)
    S = field.shape[-1]
    if field.shape[-2] != S or n < 2 or n % 2:
        raise ValueError(f"spectral_resample needs square [..., S, S] input and even n, got "
                         f"{field.shape} -> {n}")
    F = np.fft.rfft2(field)
    out = np.zeros(field.shape[:-2] + (n, n // 2 + 1), dtype=np.complex128)
    m = min(S, n) // 2  # modes 0..m-1 and -(m-1)..-1 are kept
    out[..., :m, :m] = F[..., :m, :m]
    if m > 1:
        out[..., -(m - 1):, :m] = F[..., -(m - 1):, :m]
    return np.fft.irfft2(out * (n / S) ** 2, s=(n, n))


def forcing_pattern(n: int, amplitude: float = 1.0) -> np.ndarray:
    """A (sin 2 pi (x + y) + cos 2 pi (x + y)) on the n x n grid, float64 [n, n] indexed [x, y]."""
    x = np.linspace(0.0, 1.0, n + 1)[:-1]
    s = 2.0 * math.pi * (x[:, None] + x[None, :])
    return amplitude * (np.sin(s) + np.cos(s))

