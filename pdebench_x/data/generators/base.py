"""What every dataset generator provides, and how per-sample randomness is derived.

A generator turns settings and seeds into arrays: it validates its settings, draws each
sample's random inputs from the sample's seed and calls the solvers of
:mod:`pdebench_x.numerics`; it knows nothing about files, splits or processes. The build
driver (:mod:`pdebench_x.data.build`) asks it to describe its output once and to solve batches
of samples, each sample identified by its own ``numpy.random.SeedSequence`` so that a sample
never depends on its batch, shard, device or worker.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

SPLITS = ("train", "valid", "test")
SPLIT_IDS = {name: i for i, name in enumerate(SPLITS)}


def sample_seed(seed: int, split: str, index: int) -> np.random.SeedSequence:
    """The random stream of one sample: a function of (seed, split, index) alone.

    Splits get disjoint streams by construction (the split id is part of the entropy).
    """
    return np.random.SeedSequence([int(seed), SPLIT_IDS[split], int(index)])


@dataclass
class FieldInfo:
    """One stored field.

    order 0: scalar field, stored under ``t0_fields/<name>`` as [B, T, X, Y] (or [B, X, Y]
    when not time-varying); order 1: vector field under ``t1_fields/<name>`` as
    [B, T, X, Y, 2] (or [B, X, Y, 2]).
    """

    name: str
    order: int = 0
    time_varying: bool = True
    description: str = ""

    def channel_names(self) -> list[str]:
        """Names of the channels this field contributes when flattened (velocity -> velocity_x, velocity_y)."""
        if self.order == 0:
            return [self.name]
        return [f"{self.name}_{axis}" for axis in ("x", "y")]


@dataclass
class BoundaryInfo:
    """One boundary condition in The Well's terms: bc_type in {periodic, wall, open, dirichlet}."""

    name: str
    bc_type: str
    associated_dims: list[str]
    associated_fields: list[str]


@dataclass
class DatasetDescription:
    """Everything about a generated dataset that does not vary per sample (or says how it does).

    ``scalars`` are constants of the whole dataset (e.g. viscosity of a fixed-viscosity set);
    ``per_sample_scalars`` name the scalars the generator returns per sample (parameter-varying
    presets). ``equation`` is the governing equation as text, coefficients included, with
    ``{name}`` placeholders for per-sample scalars.
    """

    family: str
    x: np.ndarray
    y: np.ndarray
    fields: list[FieldInfo]
    boundary_conditions: list[BoundaryInfo]
    times: np.ndarray | None = None
    scalars: dict[str, float] = field(default_factory=dict)
    per_sample_scalars: list[str] = field(default_factory=list)
    equation: str = ""
    grid_type: str = "cartesian"


def merged_settings(family: str, settings: dict[str, Any], defaults: dict[str, Any],
                    positive_ints: tuple[str, ...] = ()) -> dict[str, Any]:
    """The defaults overridden by ``settings``, refusing misspelt names and non-integer counts.

    An unknown name is most often a typo in an override (``data.settings.resolutoin=64``), so
    the error lists the valid names; integral floats (``64.0`` from a YAML file) are accepted.
    """
    unknown = sorted(set(settings) - set(defaults))
    if unknown:
        raise ValueError(f"unknown {family} setting(s) {unknown}; valid settings are {sorted(defaults)}")
    merged = {**defaults, **settings}
    for key in positive_ints:
        value = merged[key]
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or int(value) != value or int(value) < 1:
            raise ValueError(f"{key} must be a positive integer, got {value!r}")
        merged[key] = int(value)
    return merged


def number_pair(name: str, value: Any, optional: bool = False) -> tuple[float, float] | None:
    """Two numbers given as a list (``center: [0, 0]``); None passes when ``optional``."""
    if value is None and optional:
        return None
    try:
        first, second = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {'null or ' if optional else ''}a pair of numbers [lo, hi], "
                         f"got {value!r}") from None
    return first, second


def range_setting(name: str, value: Any, lower: float | None = None, strict: bool = False,
                  optional: bool = True) -> tuple[float, float] | None:
    """A [lo, hi] range with lo <= hi and lo above ``lower`` (strictly when ``strict``).

    Ranges draw a per-sample value; None (the default of every optional range) means the
    scalar setting is used for all samples.
    """
    pair = number_pair(name, value, optional)
    if pair is None:
        return None
    lo, hi = pair
    below = lower is not None and (lo < lower or (strict and lo == lower))
    if not lo <= hi or below:
        bound = "" if lower is None else f"{lower:g} {'<' if strict else '<='} "
        raise ValueError(f"{name} must satisfy {bound}lo <= hi, got {value!r}")
    return pair


class Generator(ABC):
    """Base class of the per-family generators.

    Subclasses set ``family`` and ``version`` (bump the version whenever the numbers a given
    seed produces change) and take their settings as keyword arguments (the data config's
    preset, merged with the user's overrides).
    """

    family: str = ""
    version: str = "0"
    #: "processes": the driver spreads chunks over a pool of forked processes, torch at one
    #: thread in each (a forked child of a process that has used OpenMP threads hangs in its
    #: first parallel region: the solver must never need two); "threads": the driver solves
    #: every chunk in its own process, with torch's threads (a GPU; NS's FFTs, whose bits need
    #: two threads). Measured on CPUs: benchmarks/README.md.
    parallelism: str = "processes"
    #: samples per call of :meth:`generate` (one unit of work of a pool worker, one step of the
    #: progress bar): enough for a batched solver to be efficient, few enough for the bar to move.
    chunk_size: int = 4

    def __init__(self, **settings: Any) -> None:
        self.settings = dict(settings)

    @abstractmethod
    def describe(self) -> DatasetDescription:
        """Grid, time axis, fields, boundary conditions, constant scalars, equation."""

    @abstractmethod
    def generate(self, seeds: list[np.random.SeedSequence]) -> dict[str, np.ndarray]:
        """Solve one sample per seed.

        Returns a dict with one array per field of ``describe().fields`` (leading batch axis,
        shapes as in :class:`FieldInfo`, float32 or float64) and one array [B] per name in
        ``describe().per_sample_scalars``.
        """

    def finer_solve(self, seeds: list[np.random.SeedSequence], factor: int = 2) -> dict[str, np.ndarray]:
        """The samples of ``seeds`` solved ``factor`` times finer in space and brought to the stored
        grid, in :meth:`generate`'s layout: the reference that measures the stored truth's own
        discretisation error (the board's error floor). Families that can say so override it."""
        raise NotImplementedError(f"the {self.family} generator has no finer reference solve")

    def coarser_solve(self, seeds: list[np.random.SeedSequence], factor: int) -> dict[str, np.ndarray]:
        """The samples of ``seeds`` solved ``factor`` times coarser in space and brought to the stored
        grid, in :meth:`generate`'s layout: the numerical solver's cheaper, less accurate answers,
        against which a learned solver's speed is judged (the board's accuracy-cost curve)."""
        raise NotImplementedError(f"the {self.family} generator has no coarser solve")

    def solver_settings(self) -> dict[str, Any]:
        """Settings recorded in the file's attributes (defaults to all settings)."""
        return dict(self.settings)
