"""Field metrics for scoring predictions against targets, and their aggregation.

Every metric takes ``pred`` (u) and ``target`` (y) of shape ``[B, T, C, X, Y]`` (batch, scored
time step, channel, space; a steady problem has T = 1), in physical units (decode any
normalisation first), works in float64, and reduces over SPACE ONLY: the result is a float64
tensor ``[B, T, C]`` (one value per sample, step and channel), except
:func:`relative_l2_fno`, which is ``[B]``. Sums and means run over the N = X * Y grid points;
``EPS = 1e-7`` is added to every denominator.

How the per-(sample, step, channel) values are reduced to one number differs between metrics
and is part of each definition (see ``AGGREGATION`` and :class:`MetricAccumulator`):

* ``"mean"``: arithmetic mean over samples, steps and channels (rmse, nrmse, vrmse, brmse,
  frmse_*, relative_l2_fno);
* ``"max"``: the global maximum (max_error) -- a mean of per-batch maxima is NOT a max error;
* ``"rms"``: sqrt(mean over samples of the value squared), then a mean over steps and
  channels (crmse, as PDEBench's cRMSE).

Only the scored frames may be passed in: context frames copied from the input would flatter
every metric (PDEBench issue 41).
"""
from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

EPS = 1e-7

#: Wavenumber shells [lo, hi) of each fRMSE band; ``None`` means n // 2 (n: :func:`resolved_size`).
FREQUENCY_BANDS: dict[str, tuple[int, int | None]] = {"low": (0, 4), "mid": (4, 12), "high": (12, None)}

#: How each metric of :func:`compute_all` is reduced over samples (then steps and channels).
AGGREGATION: dict[str, str] = {
    "rmse": "mean",
    "nrmse": "mean",
    "vrmse": "mean",
    "max_error": "max",
    "crmse": "rms",
    "brmse": "mean",
    "frmse_low": "mean",
    "frmse_mid": "mean",
    "frmse_high": "mean",
    "relative_l2_fno": "mean",
}

#: Metrics that are per sample only ([B]), not per step and channel.
PER_SAMPLE_ONLY = ("relative_l2_fno",)

_SPACE = (-2, -1)


# --------------------------------------------------------------------------------------------
# input checking
# --------------------------------------------------------------------------------------------
def _as_float64_pair(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate the pair and return (u, y) as float64 (gradients, if any, still flow)."""
    for name, t in (("pred", pred), ("target", target)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.is_complex():
            raise TypeError(f"{name} is complex ({t.dtype}); metrics expect real fields")
    if pred.shape != target.shape:
        raise ValueError(
            f"pred and target shapes differ: pred {list(pred.shape)} vs target {list(target.shape)}; "
            "both must be [B, T, C, X, Y] with the same sizes (decode/crop the prediction to the "
            "target's frames and grid)")
    if pred.ndim != 5:
        raise ValueError(
            f"metrics expect [B, T, C, X, Y] tensors, got {pred.ndim} dims {list(pred.shape)}; "
            "for a steady problem insert the time axis with x.unsqueeze(1)")
    if pred.numel() == 0:
        raise ValueError(f"empty tensors {list(pred.shape)}: nothing to score")
    return pred.to(torch.float64), target.to(torch.float64)


# --------------------------------------------------------------------------------------------
# metrics on float64 error e = u - y and target y (no checks)
# --------------------------------------------------------------------------------------------
def _rmse(e: torch.Tensor) -> torch.Tensor:
    return e.square().mean(dim=_SPACE).sqrt()


def _nrmse(e: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return _rmse(e) / (y.square().mean(dim=_SPACE).sqrt() + EPS)


def _vrmse(e: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    var = y.var(dim=_SPACE, correction=0)
    return (e.square().mean(dim=_SPACE) / (var + EPS)).sqrt()


def _max_error(e: torch.Tensor) -> torch.Tensor:
    return e.abs().amax(dim=_SPACE)


def _crmse(e: torch.Tensor) -> torch.Tensor:
    return e.mean(dim=_SPACE).abs()


@functools.lru_cache(maxsize=32)
def _boundary_mask(nx: int, ny: int) -> torch.Tensor:
    mask = torch.zeros(nx, ny, dtype=torch.bool)
    mask[0, :] = mask[-1, :] = True
    mask[:, 0] = mask[:, -1] = True
    return mask


def _brmse(e: torch.Tensor) -> torch.Tensor:
    mask = _boundary_mask(e.shape[-2], e.shape[-1]).to(e.device)
    return e[..., mask].square().mean(dim=-1).sqrt()


@functools.lru_cache(maxsize=32)
def _shell_index(nx: int, ny: int) -> torch.Tensor:
    """floor(|k|) for every FFT coefficient of an nx x ny grid, integer wavenumbers (fftfreq * n)."""
    kx = torch.fft.fftfreq(nx, d=1.0 / nx).round().long()
    ky = torch.fft.fftfreq(ny, d=1.0 / ny).round().long()
    k2 = kx[:, None] ** 2 + ky[None, :] ** 2
    k = k2.double().sqrt().floor().long()
    # exact integer square root: fix any floating-point rounding of sqrt
    k = k + ((k + 1) ** 2 <= k2).long() - (k ** 2 > k2).long()
    return k


def resolved_size(nx: int, ny: int) -> int:
    """n of the fRMSE bands: the smaller side of the grid among the axes it resolves (a 1D problem
    is stored as an X x 1 grid: n = X, its shells lie along x)."""
    return min((d for d in (nx, ny) if d > 1), default=1)


def shell_energy(e: torch.Tensor) -> torch.Tensor:
    """E[..., k] = sum over the modes with floor(|k|) = k of |FFT(e) / (X*Y)|^2, k < n // 2 (:func:`resolved_size`)."""
    nx, ny = e.shape[-2:]
    n_shells = resolved_size(nx, ny) // 2
    amp2 = (torch.fft.fft2(e, dim=_SPACE) / (nx * ny)).abs().square().flatten(-2)
    shell = _shell_index(nx, ny).flatten().to(e.device)
    keep = shell < n_shells  # the corner modes beyond n/2 belong to no band
    out = torch.zeros(*e.shape[:-2], n_shells, dtype=e.dtype, device=e.device)
    return out.index_add(-1, shell[keep], amp2[..., keep])


def _frmse(e: torch.Tensor, domain_area: float) -> dict[str, torch.Tensor]:
    energy = shell_energy(e)
    n_shells = energy.shape[-1]
    out = {}
    for name, (lo, hi) in FREQUENCY_BANDS.items():
        hi = n_shells if hi is None else min(hi, n_shells)
        if lo >= hi:  # the grid is too coarse to hold this band
            out[name] = torch.full(energy.shape[:-1], math.nan, dtype=e.dtype, device=e.device)
        else:
            out[name] = domain_area * energy[..., lo:hi].mean(dim=-1).sqrt()
    return out


def _relative_l2_fno(e: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return e.flatten(1).norm(dim=1) / (y.flatten(1).norm(dim=1) + EPS)


# --------------------------------------------------------------------------------------------
# public metrics
# --------------------------------------------------------------------------------------------
def rmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Root-mean-square error over space: sqrt(mean_xy (u - y)^2) -> [B, T, C]. Aggregate: mean."""
    u, y = _as_float64_pair(pred, target)
    return _rmse(u - y)


def nrmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Normalised RMSE (PDEBench): sqrt(mean_xy (u-y)^2) / (sqrt(mean_xy y^2) + eps) -> [B, T, C].

    Per sample, step and channel; aggregate: mean.
    """
    u, y = _as_float64_pair(pred, target)
    return _nrmse(u - y, y)


def vrmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Variance-scaled RMSE (The Well): sqrt(mean_xy (u-y)^2 / (var_xy(y) + eps)) -> [B, T, C].

    var_xy is the population variance over space (mean of (y - mean y)^2), so predicting the
    spatial mean scores exactly 1 / sqrt(1 + eps / var) ~ 1. (The Well uses torch.std with
    Bessel's correction, which makes that score sqrt((N-1)/N): a 1/(2N) relative difference.)
    A spatially constant target has var = 0: the value is then rmse / sqrt(eps), finite but
    huge, as in The Well. Aggregate: mean.
    """
    u, y = _as_float64_pair(pred, target)
    return _vrmse(u - y, y)


def max_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Maximum absolute error over space: max_xy |u - y| -> [B, T, C].

    Aggregate: the global max over samples, steps and channels, never a mean of maxima.
    """
    u, y = _as_float64_pair(pred, target)
    return _max_error(u - y)


def crmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Error of the spatial mean (conserved quantity): |mean_xy u - mean_xy y| -> [B, T, C].

    Aggregate over samples: sqrt(mean_B (...)^2), then mean over steps and channels. This is
    PDEBench's cRMSE, sqrt(mean_B (sum u - sum y)^2) / N.
    """
    u, y = _as_float64_pair(pred, target)
    return _crmse(u - y)


def brmse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """RMS error over the boundary cells: sqrt(sum_{boundary} (u-y)^2 / (2X + 2Y - 4)) -> [B, T, C].

    The boundary is the first and last row and column of the grid, each cell counted once
    (2X + 2Y - 4 cells). PDEBench counts the four corners twice and divides by 2X + 2Y.
    Aggregate: mean.
    """
    u, y = _as_float64_pair(pred, target)
    return _brmse(u - y)


def frmse(pred: torch.Tensor, target: torch.Tensor, domain_area: float = 1.0) -> dict[str, torch.Tensor]:
    """Error in Fourier bands: {"low", "mid", "high"} -> [B, T, C] each.

    With E_hat = FFT2(u - y) / (X * Y) (numpy's unnormalised FFT over the grid divided by the
    number of points, as PDEBench) and integer wavenumbers kx, ky (fftfreq * n, negative ones
    included), the shell energy is

        S_k = sum_{floor(sqrt(kx^2 + ky^2)) = k} |E_hat(kx, ky)|^2,   k = 0 .. n//2 - 1,  n = min(X, Y)

    over the axes longer than one point (1D data, stored X x 1: n = X),

    and a band [lo, hi) scores

        frmse_band = domain_area * sqrt(mean_{k in band} S_k)

    with bands low [0, 4), mid [4, 12), high [12, n//2). Modes with |k| >= n//2 (the corners
    of the spectrum) are in no band. By Parseval, S summed over all modes is mean_xy (u-y)^2,
    so a single real mode a cos(2 pi k.x) puts a^2 / 2 into its shell. ``domain_area`` = Lx * Ly
    is PDEBench's final scale factor. A band that the grid cannot hold (n//2 <= lo) is NaN.

    Differences from PDEBench's metric_func (2D): it sums only the quadrant kx, ky >= 0 (half
    of each mode's energy, none of the modes with kx * ky < 0), averages the squared
    amplitude over the batch inside the root, and takes the band mean of the per-shell roots,
    mean_k sqrt(S_k), instead of the root of the mean. Aggregate: mean.
    """
    u, y = _as_float64_pair(pred, target)
    return _frmse(u - y, float(domain_area))


def relative_l2_fno(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """FNO's relative L2 error: ||u - y||_2 / (||y||_2 + eps) per sample -> [B].

    The norms run over ALL scored frames, channels and grid points of the sample together
    (FNO's LpLoss.rel); the literature quotes the mean over samples (aggregate: mean).
    """
    u, y = _as_float64_pair(pred, target)
    return _relative_l2_fno(u - y, y)


def compute_all(pred: torch.Tensor, target: torch.Tensor, domain_area: float = 1.0) -> dict[str, torch.Tensor]:
    """Every metric per sample: {name: [B, T, C]} and relative_l2_fno: [B].

    Keys are those of ``AGGREGATION``; fRMSE is expanded as frmse_low / frmse_mid / frmse_high.
    """
    u, y = _as_float64_pair(pred, target)
    e = u - y
    out = {
        "rmse": _rmse(e),
        "nrmse": _nrmse(e, y),
        "vrmse": _vrmse(e, y),
        "max_error": _max_error(e),
        "crmse": _crmse(e),
        "brmse": _brmse(e),
    }
    for band, value in _frmse(e, float(domain_area)).items():
        out[f"frmse_{band}"] = value
    out["relative_l2_fno"] = _relative_l2_fno(e, y)
    return out


# --------------------------------------------------------------------------------------------
# aggregation
# --------------------------------------------------------------------------------------------
def _reduce(values: torch.Tensor, how: str, dims: tuple[int, ...]) -> torch.Tensor:
    """Reduce [N, T, C] values over ``dims`` (which always include the sample axis 0)."""
    if how == "mean":
        return values.mean(dim=dims)
    if how == "max":
        return values.amax(dim=dims)
    if how == "rms":
        # root-mean-square over samples first, then the mean over the other reduced axes
        r = values.square().mean(dim=0, keepdim=True).sqrt()
        return r.mean(dim=dims)
    raise ValueError(f"unknown aggregation {how!r}")


def _to_json_number(x: torch.Tensor) -> float | None:
    v = float(x)
    return v if math.isfinite(v) else None


class MetricAccumulator:
    """Collects per-sample metric values over evaluation batches and aggregates them.

    ``update`` computes :func:`compute_all` on each batch and keeps only the detached
    per-sample values on the CPU ([b, T, C] per metric, [b] for relative_l2_fno and the
    extras), never the fields, so the result is independent of how samples are batched.
    ``summary`` reduces them according to ``AGGREGATION``:

    * overall: mean over samples, steps and channels; max_error: global max; crmse:
      mean over steps and channels of sqrt(mean over samples of crmse^2);
    * per_channel[name]: the same with the channel fixed (reduced over samples and steps);
    * per_step[metric][t]: the same with the step fixed (reduced over samples and channels).

    Non-finite results (a diverged prediction, a band the grid cannot hold) become None so
    the summary is strict JSON.
    """

    def __init__(self, domain_area: float = 1.0) -> None:
        self.domain_area = float(domain_area)
        self.reset()

    def reset(self) -> None:
        self._values: dict[str, list[torch.Tensor]] = {name: [] for name in AGGREGATION}
        self._extra: dict[str, list[torch.Tensor]] | None = None
        self._tc: tuple[int, int] | None = None
        self._n = 0

    @property
    def n_samples(self) -> int:
        return self._n

    @torch.no_grad()
    def update(self, pred: torch.Tensor, target: torch.Tensor,
               extra: Mapping[str, torch.Tensor] | None = None) -> None:
        """Add a batch. ``extra``: optional per-sample values {name: [B]} (e.g. a model's
        ``extra_metrics``), averaged over samples in the summary; the same names every batch."""
        values = compute_all(pred.detach(), target.detach(), self.domain_area)
        b, t, c = pred.shape[:3]
        if self._tc is None:
            self._tc = (t, c)
        elif self._tc != (t, c):
            raise ValueError(
                f"batch has {t} steps x {c} channels but earlier batches had "
                f"{self._tc[0]} x {self._tc[1]}; use one accumulator per output layout")
        extra = dict(extra or {})
        if self._extra is None:
            self._extra = {name: [] for name in extra}
        if set(extra) != set(self._extra):
            raise ValueError(f"extra metrics {sorted(extra)} differ from the first batch's "
                             f"{sorted(self._extra)}; pass the same names every batch")
        for name, v in extra.items():
            v = torch.as_tensor(v).detach().to("cpu", torch.float64).reshape(-1)
            if v.numel() != b:
                raise ValueError(f"extra metric {name!r} has {v.numel()} values for a batch of {b}; "
                                 "it must be one value per sample ([B])")
            self._extra[name].append(v)
        for name, v in values.items():
            self._values[name].append(v.to("cpu").clone())  # own storage: no view of a field
        self._n += b

    def state_dict(self) -> dict:
        """The per-sample values held ({metric: [n, T, C] or [n]}, extras), e.g. to send to another process."""
        return {"values": {k: torch.cat(v) for k, v in self._values.items() if v},
                "extra": {k: torch.cat(v) for k, v in (self._extra or {}).items() if v},
                "extra_names": None if self._extra is None else list(self._extra),
                "tc": self._tc, "n": self._n, "domain_area": self.domain_area}

    @classmethod
    def from_state_dicts(cls, states: Sequence[Mapping], order: torch.Tensor | None = None) -> "MetricAccumulator":
        """One accumulator holding the samples of several (e.g. one per process), concatenated in
        the given order and then permuted by ``order`` (``values = cat(...)[order]``)."""
        states = [s for s in states if s["n"] > 0]
        out = cls(domain_area=states[0]["domain_area"] if states else 1.0)
        if not states:
            return out
        layouts = {tuple(s["tc"]) for s in states}
        names = {tuple(s["extra_names"] or ()) for s in states}
        if len(layouts) > 1 or len(names) > 1:
            raise ValueError(f"cannot merge accumulators with different layouts {layouts} or extras {names}")
        for key in ("values", "extra"):
            merged = {k: torch.cat([s[key][k] for s in states]) for k in states[0][key]}
            if order is not None:
                merged = {k: v[order] for k, v in merged.items()}
            if key == "values":
                out._values.update({k: [v] for k, v in merged.items()})
            else:
                out._extra = {k: [v] for k, v in merged.items()}
        if out._extra is None and states[0]["extra_names"] is not None:
            out._extra = {}
        out._tc = tuple(states[0]["tc"])
        out._n = sum(s["n"] for s in states)
        return out

    def _stacked(self, metric: str) -> torch.Tensor:
        if self._n == 0:
            raise ValueError("no samples accumulated: call update(pred, target) first")
        if metric in self._values:
            return torch.cat(self._values[metric])
        if self._extra and metric in self._extra:
            return torch.cat(self._extra[metric])
        known = list(self._values) + list(self._extra or {})
        raise KeyError(f"unknown metric {metric!r}; known: {known}")

    def per_sample(self, metric: str, reduce: bool = True) -> torch.Tensor:
        """Per-sample values of ``metric`` in arrival order, for spread statistics.

        ``reduce=False``: [N, T, C] (or [N] for per-sample-only metrics). ``reduce=True``: [N],
        each sample's value reduced over steps and channels as its own overall score would be
        (mean; max for max_error; for crmse the mean over steps and channels of |.|, which is
        crmse's overall value for that sample alone).
        """
        v = self._stacked(metric)
        if not reduce or v.ndim == 1:
            return v
        how = AGGREGATION.get(metric, "mean")
        if how == "max":
            return v.amax(dim=(1, 2))
        return v.abs().mean(dim=(1, 2)) if how == "rms" else v.mean(dim=(1, 2))

    def summary(self, channel_names: Sequence[str], step_offset: int = 0) -> dict:
        """JSON-ready aggregate: {"overall", "per_channel", "per_step", "steps", "n_samples",
        "per_sample"} (per_sample: the values of :data:`RECORDED_PER_SAMPLE`, one per sample).

        ``steps`` lists the frame index of each entry of the per_step lists: step_offset,
        step_offset + 1, ... (pass the index of the first scored frame).
        """
        if self._n == 0:
            raise ValueError("no samples accumulated: call update(pred, target) first")
        t, c = self._tc
        channel_names = list(channel_names)
        if len(channel_names) != c:
            raise ValueError(f"{len(channel_names)} channel names {channel_names} for {c} channels; "
                             "give one name per output channel, in order")
        overall, per_channel, per_step = {}, {name: {} for name in channel_names}, {}
        for metric, how in AGGREGATION.items():
            v = self._stacked(metric)
            if metric in PER_SAMPLE_ONLY:
                overall[metric] = _to_json_number(_reduce(v, how, (0,)))
                continue
            overall[metric] = _to_json_number(_reduce(v, how, (0, 1, 2)))
            by_channel = _reduce(v, how, (0, 1)).reshape(c)
            for i, name in enumerate(channel_names):
                per_channel[name][metric] = _to_json_number(by_channel[i])
            per_step[metric] = [_to_json_number(x) for x in _reduce(v, how, (0, 2)).reshape(t)]
        for name in self._extra or {}:
            overall[name] = _to_json_number(self._stacked(name).mean())
        return {
            "overall": overall,
            "per_channel": per_channel,
            "per_step": per_step,
            "steps": list(range(int(step_offset), int(step_offset) + t)),
            "n_samples": self._n,
            # each test sample's own value, in test order: the unit of the board's paired
            # comparisons and bootstrap intervals
            "per_sample": {m: [_to_json_number(x) for x in self.per_sample(m)] for m in RECORDED_PER_SAMPLE},
        }


#: The metric that ranks solvers on the board (PDEBench's nRMSE).
PRIMARY_METRIC = "nrmse"
#: The metrics whose per-sample values a summary keeps (``summary()["per_sample"]``).
RECORDED_PER_SAMPLE = (PRIMARY_METRIC, "relative_l2_fno")


def _figure(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4g}"


def headline(summary: Mapping[str, Any]) -> str:
    """The test figures a run ends with, one line per scored section (a test summary of
    :class:`OperatorTask` or a per-instance run): nRMSE (the board's primary metric) and
    FNO's relative L2, for the rollout (or steady solve) and, where it applies, one step."""
    lines = []
    for key, label in (("rollout", "rollout"), ("steady", "steady"), ("one_step", "one-step")):
        section = summary.get(key)
        if not section:
            continue
        overall = section["overall"]
        where = f"{section.get('n_samples', '?')} samples"
        if key == "rollout":
            where += f", {len(section.get('steps', []))} steps"
        lines.append(f"  {label:<8} nRMSE {_figure(overall.get(PRIMARY_METRIC))}   "
                     f"rel. L2 {_figure(overall.get('relative_l2_fno'))}   ({where})")
    return "\n".join(lines)
