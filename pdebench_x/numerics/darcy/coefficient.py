"""The Darcy coefficient: a thresholded Gaussian random field (the FNO paper's law).

FNO, neuraloperator @ 892e187c, ``data_generation/darcy/GRF.m``: psi is a Gaussian random
field ~ N(0, tau^(2 alpha - 2) (-Laplacian + tau^2 I)^(-alpha)) with the Neumann Laplacian,
drawn by its Karhunen-Loeve expansion in the cosine eigenbasis

    psi(x, y) = sum_{k1, k2 = 0}^{M-1} c_k xi_k cos(pi k1 x) cos(pi k2 y),
    c_k = tau^(alpha - 1) (pi^2 (k1^2 + k2^2) + tau^2)^(-alpha / 2),   c_0 = 0,   xi_k ~ N(0, 1),

with M = the number of solve points per side (as GRF.m), and a = a_pos where psi >= 0, else
a_neg. Only the sign of psi is used, so its overall scale is immaterial.
"""
from __future__ import annotations

import numpy as np

from pdebench_x.numerics.darcy.grid import grid_points


def kl_amplitudes(n_modes: int, alpha: float, tau: float) -> np.ndarray:
    """c[k1, k2] = tau^(alpha-1) (pi^2 (k1^2 + k2^2) + tau^2)^(-alpha/2), with c[0, 0] = 0."""
    k = np.arange(n_modes, dtype=np.float64)
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    c = tau ** (alpha - 1.0) * (np.pi**2 * k2 + tau**2) ** (-alpha / 2.0)
    c[0, 0] = 0.0  # zero-mean field: the constant mode is dropped
    return c


def gaussian_random_field(rng: np.random.Generator, x: np.ndarray, y: np.ndarray,
                          alpha: float, tau: float, n_modes: int) -> np.ndarray:
    """psi[i, j] = sum_k c_k xi_k cos(pi k1 x_i) cos(pi k2 y_j), xi ~ N(0, 1) drawn as [k1, k2].

    Evaluated as the matrix product Cx^T (c * xi) Cy with Cx[k, i] = cos(pi k x_i), which on
    cell centres with n_modes = n points is the inverse DCT-II (GRF.m's idct2) up to scale.
    """
    xi = rng.standard_normal((n_modes, n_modes))
    coef = kl_amplitudes(n_modes, alpha, tau) * xi
    k = np.arange(n_modes, dtype=np.float64)
    cx = np.cos(np.pi * k[:, None] * np.asarray(x, dtype=np.float64)[None, :])
    cy = np.cos(np.pi * k[:, None] * np.asarray(y, dtype=np.float64)[None, :])
    return cx.T @ coef @ cy


def threshold(psi: np.ndarray, a_pos: float, a_neg: float) -> np.ndarray:
    """a = a_pos where psi >= 0, a_neg elsewhere."""
    return np.where(psi >= 0.0, a_pos, a_neg).astype(np.float64)


def sample_coefficient(rng: np.random.Generator, n: int, grid: str = "cells", *,
                       alpha: float = 2.0, tau: float = 3.0, a_pos: float = 12.0,
                       a_neg: float = 3.0, n_modes: int | None = None) -> np.ndarray:
    """The piecewise-constant coefficient [n, n] (index order [x, y]) on the given grid.

    n_modes defaults to n, as in GRF.m (as many cosine modes per axis as points per side).
    """
    pts = grid_points(n, grid)
    psi = gaussian_random_field(rng, pts, pts, alpha, tau, n if n_modes is None else n_modes)
    return threshold(psi, a_pos, a_neg)

