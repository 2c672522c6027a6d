r"""Reference solutions of the two 1D periodic transport problems (LPINN's setting).

Both live on x in [0, 2 pi) with periodic boundaries, sampled on the uniform grid
``x_j = 2 pi j / N`` (no duplicated end point).

Convection-diffusion ``u_t + c u_x = nu u_xx`` (pure convection for nu = 0). Each Fourier
mode evolves independently and exactly::

    u_hat_k(t) = u_hat_k(0) exp(-i k c t - nu k^2 t),

so for an initial field that is a trigonometric polynomial of degree < N/2 (sin x, or a few
random modes) the DFT of its samples holds it exactly and the result is exact to rounding at
any c and t. For u0 = sin x and nu = 0: u = sin(x - c t).

Viscous Burgers ``u_t + u u_x = nu u_xx`` with ``u0 = m + A sin(x - x_s)``. The mean m is
removed by the Galilean change of frame u(x, t) = m + v(x - m t - x_s, t), where v solves
Burgers from v0 = A sin x. Cole–Hopf, v = -2 nu phi_x / phi with phi_t = nu phi_xx and
phi(x, 0) = exp(-(1 / (2 nu)) int_0^x v0) = exp(-A (1 - cos x) / (2 nu)), and the heat kernel
on the line give, with s = sqrt(4 nu t) and y = x - s z::

    v(x, t) = (s / t) int z W(z) dz / int W(z) dz,
    W(z) = exp(-z^2 - A (1 - cos(x - s z)) / (2 nu)).

Quadrature: log W is shifted by its maximum at each (x, t) before exponentiating (no
overflow or underflow whatever nu), and both integrals use the trapezoidal rule on a
uniform z grid. W is analytic and decays like exp(-z^2); its narrowest feature has width
about 1 / sqrt(1 + 2 |A| t) in z (the curvature of the cosine term is 2 A t cos(.) in z),
and every z with z^2 > |A| / nu + 60 contributes less than e^-60 of the total (log W at
z = 0 is at least -|A| / nu). The step is ``dz = 0.2 / sqrt(1 + 2 |A| t)`` on
``|z| <= sqrt(|A| / nu + 60)``, for which the trapezoidal rule's error on such integrands
is far below rounding. Check: the classic benchmark (u0 = -sin(pi x) on [-1, 1],
nu = 0.01 / pi) maps to ours by x -> pi (x + 1), t -> pi t, nu -> 0.01, and its maximum
slope |u_x| = 152.00516 at t = 1.6037 / pi, x = 0 (Basdevant et al. 1986) becomes
152.00516 / pi at t = 1.6037, x = pi (reproduced to 8 digits, tests/test_physics_residuals.py).
"""
from __future__ import annotations

import math

import numpy as np

TWO_PI = 2.0 * math.pi


def periodic_grid(n: int) -> np.ndarray:
    """The n points 2 pi j / n, j = 0..n-1, of the periodic domain [0, 2 pi)."""
    if int(n) != n or n < 2:
        raise ValueError(f"the grid needs an integer number of points >= 2, got {n!r}")
    return TWO_PI * np.arange(int(n)) / int(n)


def _times(times) -> np.ndarray:
    t = np.atleast_1d(np.asarray(times, dtype=np.float64))
    if t.ndim != 1 or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise ValueError(f"times must be a 1D sequence of finite values >= 0, got {times!r}")
    return t


def convection_diffusion(u0: np.ndarray, times, speed: float, viscosity: float = 0.0) -> np.ndarray:
    """Exact solution of u_t + c u_x = nu u_xx on the periodic grid of ``u0``.

    u0: values [N] at x_j = 2 pi j / N (a trigonometric polynomial of degree < N / 2 is
    represented exactly). Returns float64 [len(times), N]: u_hat_k(t) = u_hat_k(0)
    exp(-i k c t - nu k^2 t).
    """
    u0 = np.asarray(u0, dtype=np.float64)
    if u0.ndim != 1 or u0.size < 2:
        raise ValueError(f"u0 must be a 1D array of grid values, got shape {u0.shape}")
    if viscosity < 0:
        raise ValueError(f"viscosity must be >= 0 (backward diffusion is ill posed), got {viscosity}")
    t = _times(times)
    n = u0.size
    k = np.fft.rfftfreq(n, d=1.0 / n)                      # integer wavenumbers 0..n/2
    u_hat = np.fft.rfft(u0)
    if n % 2 == 0:
        u_hat[-1] = 0.0  # the Nyquist mode has no real translate: drop it (absent for band-limited u0)
    factor = np.exp(-1j * k[None, :] * float(speed) * t[:, None] - float(viscosity) * k[None, :] ** 2 * t[:, None])
    return np.fft.irfft(u_hat[None, :] * factor, n=n, axis=-1)


def convection_sin(x, t, speed: float) -> np.ndarray:
    """u = sin(x - c t): the exact pure-convection solution from u0 = sin x (broadcasts x, t)."""
    return np.sin(np.asarray(x, dtype=np.float64) - float(speed) * np.asarray(t, dtype=np.float64))


def burgers_sine(x, times, viscosity: float, amplitude: float = 1.0, mean: float = 0.0,
                 shift: float = 0.0, chunk: int = 2048) -> np.ndarray:
    """Viscous Burgers from u0 = mean + amplitude sin(x - shift), by Cole–Hopf quadrature.

    x: points [N] (any real values; the solution is 2 pi periodic); times: [T] >= 0.
    Returns float64 [T, N]. See the module docstring for the formula and the quadrature.
    """
    if not viscosity > 0:
        raise ValueError(f"Cole–Hopf needs viscosity > 0, got {viscosity!r}")
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    t = _times(times)
    nu, amp = float(viscosity), float(amplitude)
    out = np.empty((t.size, x.size))
    for i, ti in enumerate(t):
        xi = x - float(mean) * ti - float(shift)  # the co-moving frame of the mean flow
        if ti == 0.0 or amp == 0.0:
            out[i] = float(mean) + amp * np.sin(xi)
            continue
        s = math.sqrt(4.0 * nu * ti)
        dz = 0.2 / math.sqrt(1.0 + 2.0 * abs(amp) * ti)
        zmax = math.sqrt(abs(amp) / nu + 60.0)
        z = np.arange(-math.ceil(zmax / dz), math.ceil(zmax / dz) + 1) * dz
        for j in range(0, x.size, chunk):
            xs = xi[j:j + chunk, None]
            log_w = -z[None, :] ** 2 - amp * (1.0 - np.cos(xs - s * z[None, :])) / (2.0 * nu)
            w = np.exp(log_w - log_w.max(axis=1, keepdims=True))
            # the uniform trapezoidal weights cancel in the ratio except at the (negligible) ends
            out[i, j:j + chunk] = float(mean) + (s / ti) * (w @ z) / w.sum(axis=1)
    return out
