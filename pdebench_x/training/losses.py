"""Training losses on [B, T, C, X, Y] fields, each returning a scalar (the mean over the batch).

Norms are discrete l2 sums over the grid points (no quadrature weight: it cancels in every
relative loss). ``eps`` (default 1e-7) is added to each denominator so an all-zero target gives
a large finite loss instead of inf/NaN; pass ``eps=0`` for the exact ratios.

Names for :func:`build_loss`: "rel_l2", "rel_h1", "rel_h1_mgno" (MgNO's official HsLoss weighting,
:meth:`RelativeH1Loss.mgno`), "mse", "rel_l2_per_field".
"""
from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

_SPACE = (-2, -1)


def _check_pair(pred: torch.Tensor, target: torch.Tensor, who: str) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"{who}: pred and target shapes differ: pred {list(pred.shape)} vs target "
            f"{list(target.shape)}; both must be [B, T, C, X, Y] with the same sizes")
    if pred.ndim != 5:
        raise ValueError(
            f"{who} expects [B, T, C, X, Y] tensors, got {pred.ndim} dims {list(pred.shape)}; "
            "for a steady problem insert the time axis with x.unsqueeze(1)")


def _pair(value: float | Sequence[float], name: str) -> tuple[float, float]:
    if isinstance(value, (int, float)):
        value = (value, value)
    value = tuple(float(v) for v in value)
    if len(value) != 2 or not all(v > 0 and math.isfinite(v) for v in value):
        raise ValueError(f"{name} must be a positive number or a pair (Lx, Ly) of them, got {value!r}")
    return value


class RelativeL2Loss(nn.Module):
    """FNO's LpLoss (p = 2): mean_b ||u_b - y_b||_2 / (||y_b||_2 + eps), norms over (T, C, X, Y)."""

    def __init__(self, eps: float = 1e-7) -> None:
        super().__init__()
        self.eps = float(eps)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_pair(pred, target, type(self).__name__)
        diff = torch.linalg.vector_norm((pred - target).flatten(1), dim=1)
        ref = torch.linalg.vector_norm(target.flatten(1), dim=1)
        return (diff / (ref + self.eps)).mean()


class RelativeL2PerFieldLoss(nn.Module):
    """SineNet's loss: relative L2 per (sample, step, channel), then the mean of all of them:

        mean_{b,t,c} ||u_btc - y_btc||_2 / (||y_btc||_2 + eps),   norms over (X, Y).

    Each field counts equally however different its scale (unlike :class:`RelativeL2Loss`,
    where the largest field dominates the norm).
    """

    def __init__(self, eps: float = 1e-7) -> None:
        super().__init__()
        self.eps = float(eps)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_pair(pred, target, type(self).__name__)
        diff = torch.linalg.vector_norm(pred - target, dim=_SPACE)
        ref = torch.linalg.vector_norm(target, dim=_SPACE)
        return (diff / (ref + self.eps)).mean()


class MSELoss(nn.Module):
    """Mean squared error over every element: mean_{b,t,c,x,y} (u - y)^2 (= the batch mean of the
    per-sample MSE, all samples having the same size)."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_pair(pred, target, type(self).__name__)
        return F.mse_loss(pred, target)


class RelativeH1Loss(nn.Module):
    """MgNO's relative H1 loss, per sample over (T, C, X, Y), then the batch mean:

        ||u - y||_H1 / (||y||_H1 + eps),   ||v||_H1^2 = ||v||^2 + ||d_x v||^2 + ||d_y v||^2.

    Derivatives (``method``):

    * "spectral" (default, as MgNO's HsLoss used for Darcy): with the orthonormal 2D FFT v_hat
      (Parseval: sum |v_hat|^2 = sum |v|^2) and angular wavenumbers kappa_i = 2 pi k_i / L_i,
      k_i integer (fftfreq * n; the Nyquist mode counts as |k| = n/2),

          ||v||_H1^2 = sum_k (1 + kappa_x^2 + kappa_y^2) |v_hat(k)|^2.

      This treats the field as L-periodic. ``max_wavenumber`` = K drops the derivative weight
      of an axis where |k_i| >= K (MgNO truncates at 20; None keeps every mode).
    * "fd": second-order central differences (one-sided second-order at the edges,
      ``torch.gradient(edge_order=2)``) with grid spacing h_i = L_i / n_i; no periodicity
      assumed. (MgNO's finite-difference H1, used for Helmholtz, is not relative.)

    ``domain_size`` = L or (Lx, Ly) for the axes X (dim -2) and Y (dim -1); the grid spacing is
    L / n (periodic or cell-centred grid). For a node grid holding both end points pass
    n * h. MgNO's own HsLoss uses kappa = k with no 2 pi, i.e. it matches
    ``RelativeH1Loss(domain_size=2 * math.pi, max_wavenumber=20)`` (see :meth:`mgno`); with
    ``domain_size=1`` the derivative terms are (2 pi)^2 times heavier.
    """

    def __init__(self, domain_size: float | Sequence[float] = 1.0, method: str = "spectral",
                 max_wavenumber: int | None = None, eps: float = 1e-7) -> None:
        super().__init__()
        if method not in ("spectral", "fd"):
            raise ValueError(f"method must be 'spectral' or 'fd', got {method!r}")
        if max_wavenumber is not None and (method != "spectral" or int(max_wavenumber) < 1):
            raise ValueError("max_wavenumber must be a positive integer and only applies to "
                             f"method='spectral' (got {max_wavenumber!r} with method={method!r})")
        self.domain_size = _pair(domain_size, "domain_size")
        self.method = method
        self.max_wavenumber = None if max_wavenumber is None else int(max_wavenumber)
        self.eps = float(eps)

    @classmethod
    def mgno(cls, eps: float = 1e-7) -> "RelativeH1Loss":
        """The weighting of MgNO's official HsLoss(k=1): integer wavenumbers, truncated at |k| < 20."""
        return cls(domain_size=2 * math.pi, method="spectral", max_wavenumber=20, eps=eps)

    def _weight(self, nx: int, ny: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
        """sqrt(1 + kappa_x^2 + kappa_y^2) on the FFT grid, [nx, ny]."""
        axes = []
        for n, length in zip((nx, ny), self.domain_size):
            k = torch.fft.fftfreq(n, d=1.0 / n, device=device, dtype=dtype).round()
            if self.max_wavenumber is not None:
                k = torch.where(k.abs() < self.max_wavenumber, k, torch.zeros_like(k))
            axes.append(2 * math.pi * k / length)
        return (1 + axes[0][:, None] ** 2 + axes[1][None, :] ** 2).sqrt()

    def h1_norm(self, v: torch.Tensor) -> torch.Tensor:
        """Per-sample discrete H1 norm of v [B, T, C, X, Y] -> [B]."""
        if self.method == "spectral":
            nx, ny = v.shape[-2:]
            real = v.real.dtype if v.is_complex() else v.dtype
            w = self._weight(nx, ny, v.device, real)
            v_hat = torch.fft.fft2(v, dim=_SPACE, norm="ortho") * w
            return torch.linalg.vector_norm(v_hat.flatten(1), dim=1)
        if min(v.shape[-2:]) < 3:
            raise ValueError(f"method='fd' needs at least 3 grid points per axis, got {list(v.shape[-2:])}")
        hx, hy = (length / n for length, n in zip(self.domain_size, v.shape[-2:]))
        dx, dy = torch.gradient(v, spacing=(hx, hy), dim=_SPACE, edge_order=2)
        # one norm of the stacked (v, dx v, dy v): its backward is safe at v = 0
        return torch.linalg.vector_norm(torch.cat([v.flatten(1), dx.flatten(1), dy.flatten(1)], 1), dim=1)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _check_pair(pred, target, type(self).__name__)
        return (self.h1_norm(pred - target) / (self.h1_norm(target) + self.eps)).mean()


#: name -> a class or factory whose keyword arguments are the loss's options
LOSSES: dict[str, Callable[..., nn.Module]] = {
    "rel_l2": RelativeL2Loss,
    "rel_h1": RelativeH1Loss,
    "rel_h1_mgno": RelativeH1Loss.mgno,
    "mse": MSELoss,
    "rel_l2_per_field": RelativeL2PerFieldLoss,
}


def build_loss(name: str, **kw) -> nn.Module:
    """The loss registered under ``name`` (see ``LOSSES``), built with keyword arguments ``kw``."""
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join(sorted(LOSSES))}")
    factory = LOSSES[name]
    accepted = list(inspect.signature(factory).parameters)
    unknown = sorted(set(kw) - set(accepted))
    if unknown:
        raise ValueError(f"loss {name!r} got unknown options {unknown}; it accepts {accepted or 'none'}")
    return factory(**kw)
