"""The per-instance task: physics-informed solvers fitted afresh for each scored test instance.

``python train.py model=pig data=darcy`` (likewise ``lpinn``, ``pinn``) lands here through
:func:`pdebench_x.training.run_training` (``model.kind == "per_instance"``). For each of K
test instances (K = ``model.fit.instances`` if set, else ``data.n_instances``, else 2; the choice is
:func:`select_instances`: a seeded draw with ``data.instance_seed`` (default 0) that does not
depend on the model, so every model, the operator learners included, can be scored on the
same K), the task

1. reads what an operator learner is given and nothing more (:func:`read_instance`): the
   PDE family, its coefficients (``read_scalars``), the grid and boundary type, the times to
   predict, and as initial data the LAST CONTEXT FRAME only (rollout: frame
   ``first_target_frame - 1`` of the problem's fields; steady: the input channels, e.g.
   Darcy's coefficient a);
2. fits a fresh solver with its fixed iteration budget (no model selection: the last iterate);
3. predicts on the data grid at exactly the scored frames (``first_target_frame`` ..
   ``+ horizon``), then reads the reference (:func:`read_reference`) and accumulates the
   field metrics (:class:`pdebench_x.evaluation.metrics.MetricAccumulator`, physical units,
   [B, T, C, X, Y], the problem's target channels).

The scored frames are the operator learners' (see :func:`read_instance`): an operator
learner's test window (``WindowDataset(train=False)``) feeds frames [first_frame,
first_target_frame) and is scored on [first_target_frame, first_target_frame + horizon),
first_target_frame = first_frame + history; the per-instance solver starts from the last of
those context frames and is scored on the same frames, with the same metric code.

``metrics.json`` in the run directory has the top-level structure of the operator task's
record (model, paper, code, dataset, problem, metrics {"rollout"|"steady": summary},
n_parameters, seed, git_commit, environment, config) plus ``instances`` (the test indices),
``seconds_per_instance`` (fit + prediction, mean) and ``per_instance`` details (each with the
instance's own metric values). ``metrics["instances"]`` is the K-instance section
(:func:`instance_section`) that the operator learners' test also writes, on the same indices, so
both kinds can be tabled side by side. A solver
that does not apply to the PDE (LPINN on Darcy) raises
:class:`pdebench_x.models.pinn.NotApplicableError`; the task first writes a record with
``status: not_applicable`` and the reason, so the leaderboard can show N/A.
"""
from __future__ import annotations

import copy
import importlib
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from pdebench_x.data.formats.base import FieldSource
from pdebench_x.evaluation.metrics import AGGREGATION, MetricAccumulator, relative_l2_fno
from pdebench_x.models.pinn import Axis, NotApplicableError

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"
DEFAULT_INSTANCES = 2
ONE_D = ("convection", "burgers")


# --------------------------------------------------------------------------------------------
# the instance a solver is given
# --------------------------------------------------------------------------------------------
@dataclass
class PDEInstance:
    """Everything a per-instance solver may use: never the solution inside the domain.

    ``initial`` maps channel -> [X, Y] values of the last context frame (steady problems:
    the input channels); ``times`` are the physical times of the scored frames (None when
    steady) and ``t0`` the time of the initial data; ``channels`` the channels to predict.
    """

    family: str
    index: int
    kind: str
    channels: list[str]
    initial: dict[str, np.ndarray]
    scalars: dict[str, float]
    x: np.ndarray
    y: np.ndarray
    bc_type: str
    t0: float = 0.0
    times: np.ndarray | None = None
    equation: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def one_d(self) -> bool:
        """1D problems are stored as [X, 1] grids (y = [0])."""
        return self.y.size == 1

    def space_axes(self) -> list[Axis]:
        """The spatial input axes with their extent.

        Periodic: [x_0, x_0 + n dx) (the grid holds no end point). Darcy: the unit square (the
        family's domain; cell centres or nodes alike). Otherwise the cells' outer faces,
        [x_0 - dx/2, x_last + dx/2] (cell-centred data, as the shallow-water files).
        """
        periodic = self.bc_type == "periodic"
        axes = []
        for name, c in (("x", self.x), ("y", self.y))[:1 if self.one_d else 2]:
            c = np.asarray(c, dtype=np.float64)
            d = float(c[1] - c[0])
            if periodic:
                axes.append(Axis(name, float(c[0]), float(c[0] + d * len(c)), periodic=True))
            elif self.family == "darcy":
                axes.append(Axis(name, 0.0, 1.0))
            else:
                axes.append(Axis(name, float(c[0] - d / 2), float(c[-1] + d / 2)))
        return axes

    def grid_points(self) -> list[np.ndarray]:
        """Flattened coordinates of the grid points, one array per spatial axis (C order [X, Y])."""
        if self.one_d:
            return [np.asarray(self.x, dtype=np.float64)]
        gx, gy = np.meshgrid(self.x, self.y, indexing="ij")
        return [gx.ravel(), gy.ravel()]

    def stream_function(self, w: np.ndarray) -> np.ndarray:
        """psi with -Lap psi = w (zero mean) on the periodic grid, spectrally."""
        ax, ay = self.space_axes()
        nx, ny = w.shape
        kx = 2 * math.pi * np.fft.fftfreq(nx, d=ax.length / nx)
        ky = 2 * math.pi * np.fft.fftfreq(ny, d=ay.length / ny)
        k2 = kx[:, None] ** 2 + ky[None, :] ** 2
        k2[0, 0] = 1.0
        w_hat = np.fft.fft2(w)
        w_hat[0, 0] = 0.0
        return np.real(np.fft.ifft2(w_hat / k2))


def read_instance(source: FieldSource, index: int, spec, family: str | None = None) -> PDEInstance:
    """The solver's view of test sample ``index``: coefficients, grid, the last context frame.

    Reads only ``read_scalars(index)`` and, for a rollout, the single frame
    ``spec.first_target_frame - 1`` of the input channels (steady: the input channels).
    """
    info = source.info
    scalars = {k: float(v) for k, v in source.read_scalars(index).items()}
    if spec.kind == "steady":
        frame = source.read(index, list(spec.input_channels))
        t0, times = 0.0, None
    else:
        last = int(spec.first_target_frame) - 1
        if last < 0:
            raise ValueError("a rollout problem needs at least one context frame (history >= 1)")
        frame = source.read(index, list(spec.input_channels), slice(last, last + 1))
        all_times = np.asarray(info.times, dtype=np.float64)
        t0 = float(all_times[last])
        times = all_times[spec.first_target_frame:spec.first_target_frame + spec.horizon]
    initial = {ch: np.asarray(frame[0, k], dtype=np.float64) for k, ch in enumerate(spec.input_channels)}
    return PDEInstance(family=family or spec.family, index=int(index), kind=spec.kind,
                       channels=list(spec.target_channels), initial=initial, scalars=scalars,
                       x=np.asarray(info.x, dtype=np.float64), y=np.asarray(info.y, dtype=np.float64),
                       bc_type=str(info.bc_type), t0=t0, times=times,
                       equation=str(info.attrs.get("equation", "")))


def read_reference(source: FieldSource, index: int, spec) -> np.ndarray:
    """The scored frames of the reference, float32 [T, C, X, Y] (read only after the fit)."""
    if spec.kind == "steady":
        return source.read(index, list(spec.target_channels))
    first = int(spec.first_target_frame)
    return source.read(index, list(spec.target_channels), slice(first, first + int(spec.horizon)))


def select_instances(n_test: int, k: int, seed: int | None) -> list[int]:
    """K distinct test indices: a seeded draw (sorted), or the first K when ``seed`` is None.

    Depends on (n_test, k, seed) only, never on the model, so every solver is scored on the
    same instances.
    """
    if int(k) != k or k < 1:
        raise ValueError(f"the number of instances must be a positive integer, got {k!r} "
                         "(set data.n_instances or model.fit.instances)")
    k = int(k)
    if k > n_test:
        raise ValueError(f"{k} instances requested but the test split has {n_test} samples; "
                         "lower data.n_instances / model.fit.instances or enlarge data.sizes.test")
    if seed is None:
        return list(range(k))
    return sorted(int(i) for i in np.random.default_rng(int(seed)).choice(n_test, size=k, replace=False))


# --------------------------------------------------------------------------------------------
# metrics on the K instances (per-instance solvers and operator learners alike)
# --------------------------------------------------------------------------------------------
def restrict_accumulator(acc: MetricAccumulator, positions: Sequence[int]) -> MetricAccumulator:
    """A new accumulator holding only the samples at ``positions`` (in that order) of ``acc``.

    The per-sample values are taken as they are (no fields are re-scored). A model's extra
    metrics are left out: the K-instance section has the metric set of
    :data:`pdebench_x.evaluation.metrics.AGGREGATION` only, the one every solver kind is scored with.
    """
    positions = [int(p) for p in positions]
    if not positions:
        raise ValueError("no positions given: a K-instance section needs K >= 1 samples")
    if min(positions) < 0 or max(positions) >= acc.n_samples:
        raise IndexError(f"positions {positions} outside the {acc.n_samples} samples held")
    state = acc.state_dict()
    rows = torch.as_tensor(positions, dtype=torch.long)
    sub = {**state, "values": {k: v[rows] for k, v in state["values"].items()}, "extra": {},
           "extra_names": None, "n": len(positions)}
    return MetricAccumulator.from_state_dicts([sub])


def per_sample_values(acc: MetricAccumulator) -> dict[str, list[float | None]]:
    """{metric: [each sample's own overall value]} (``MetricAccumulator.per_sample``); non-finite -> None."""
    out = {}
    for name in AGGREGATION:
        values = acc.per_sample(name).tolist()
        out[name] = [v if math.isfinite(v) else None for v in values]
    return out


def instance_section(acc: MetricAccumulator, positions: Sequence[int], indices: Sequence[int], k: int,
                     seed: int | None, kind: str, channels: Sequence[str], first_target_frame: int) -> dict[str, Any]:
    """The K-instance section: the metrics of the samples at ``positions`` of ``acc`` only.

    ``indices`` are their test-split indices (the choice of :func:`select_instances`), in the
    order of ``positions``. Returns ``{"k", "seed", "indices", "steady"|"rollout": summary,
    "per_instance": {metric: [K values]}}``: the summary aggregates exactly as the full test's
    (mean; max for max_error; rms over samples for crmse) over the K samples, so e.g. its
    nrmse is (1/K) sum_{i in indices} nrmse_i.
    """
    if len(positions) != len(indices) or len(indices) != k:
        raise ValueError(f"{len(positions)} positions and {len(indices)} indices for K = {k}: they must agree")
    sub = restrict_accumulator(acc, positions)
    section = "rollout" if kind == "rollout" else "steady"
    return {"k": int(k), "seed": seed, "indices": [int(i) for i in indices],
            section: sub.summary(list(channels), first_target_frame),
            "per_instance": per_sample_values(sub)}


# --------------------------------------------------------------------------------------------
# the task
# --------------------------------------------------------------------------------------------
def solver_class(path: str) -> type:
    """'package.module.Class' (or 'package.module:Class') -> the class."""
    module, _, name = path.replace(":", ".").rpartition(".")
    if not module:
        raise ValueError(f"model.solver must be a dotted class path like pdebench_x.models.pig.PIGSolver, got {path!r}")
    return getattr(importlib.import_module(module), name)


def build_solver(cfg: DictConfig):
    model = OmegaConf.to_container(cfg.model, resolve=True)
    if not model.get("solver"):
        raise ValueError(f"model {model.get('name')!r} has kind per_instance but no 'solver' class path")
    cls = solver_class(model["solver"])
    return cls(net=model.get("net") or {}, fit=model.get("fit") or {})


def n_instances(cfg: DictConfig) -> tuple[int, int | None]:
    """(K, seed): model.fit.instances if set (a user override), else data.n_instances, else 2;
    the seed is data.instance_seed (default 0; null: the first K)."""
    fit = cfg.model.get("fit") or {}
    k = fit.get("instances") or cfg.data.get("n_instances") or DEFAULT_INSTANCES
    seed = cfg.data.get("instance_seed", 0) if "instance_seed" in cfg.data else fit.get("instance_seed", 0)
    return int(k), (None if seed is None else int(seed))


def _base_record(cfg: DictConfig, family: str) -> dict[str, Any]:
    from pdebench_x.training.run import dataset_record, environment, git_commit
    return {"model": cfg.model.name, "paper": cfg.model.get("paper"), "code": cfg.model.get("code"),
            "kind": "per_instance", "dataset": dataset_record(cfg, family), "seed": int(cfg.seed),
            "git_commit": git_commit(), "environment": environment(),
            "config": OmegaConf.to_container(cfg, resolve=True)}


#: Optimiser iterations per stage in a smoke run (``+trainer.fast_dev_run=true``).
SMOKE_ITERATIONS = 2


def smoke_run_config(cfg: DictConfig) -> DictConfig:
    """With ``trainer.fast_dev_run`` set, what Lightning's fast_dev_run is to the operator
    learners: one test instance and at most :data:`SMOKE_ITERATIONS` iterations per optimiser
    stage, so that the whole pipeline runs in seconds (its figures mean nothing)."""
    if not cfg.get("trainer", {}).get("fast_dev_run"):
        return cfg
    cfg = copy.deepcopy(cfg)
    with open_dict(cfg):
        cfg.model.fit.instances = 1
        for stage in cfg.model.fit.get("optimizers") or []:
            stage.iterations = min(int(stage.get("iterations", 0)), SMOKE_ITERATIONS)
    log.warning("fast_dev_run: a smoke run of %s on 1 instance, at most %d iterations per optimiser stage",
                cfg.model.name, SMOKE_ITERATIONS)
    return cfg


def run_per_instance(cfg: DictConfig, run_dir: str | Path,
                     wrap_source: Callable[[FieldSource], FieldSource] | None = None) -> dict[str, Any]:
    """Fit one solver per selected test instance, score, write ``metrics.json``; return the record.

    ``wrap_source`` (tests) wraps the test split's FieldSource, e.g. to spy on its reads.
    """
    from pdebench_x.training.run import build_datamodule

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cfg = smoke_run_config(cfg)
    family = str(cfg.data.family)
    solver = build_solver(cfg)
    try:
        solver.check_family(family)
    except NotApplicableError as err:
        record = {**_base_record(cfg, family), "status": "not_applicable", "reason": str(err), "metrics": None}
        (run_dir / METRICS_FILE).write_text(json.dumps(record, indent=2))
        raise

    dm = build_datamodule(cfg)
    dm.prepare_data()
    dm.setup()
    spec = dm.spec
    source = dm.sources["test"]
    if wrap_source is not None:
        source = wrap_source(source)
    k, seed = n_instances(cfg)
    indices = select_instances(len(source), k, seed)
    log.info("%s on %s: fitting %d instances %s", cfg.model.name, family, len(indices), indices)

    acc = MetricAccumulator(domain_area=spec.domain_area)
    details = []
    n_params = 0
    for index in indices:
        instance = read_instance(source, index, spec, family)
        solver = build_solver(cfg)  # a fresh solver per instance
        start = time.perf_counter()
        info = solver.fit(instance)
        pred = solver.predict()
        seconds = time.perf_counter() - start
        target = read_reference(source, index, spec)
        if pred.shape != target.shape:
            raise RuntimeError(f"{cfg.model.name} predicted {pred.shape} but the reference is {target.shape}")
        p, y = torch.from_numpy(np.ascontiguousarray(pred))[None], torch.from_numpy(target)[None]
        acc.update(p, y)
        rel = float(relative_l2_fno(p, y)[0])
        n_params = info.get("n_parameters", 0)
        details.append({"index": int(index), "seconds": seconds, "relative_l2": rel if math.isfinite(rel) else None,
                        **{k: v for k, v in info.items() if k != "n_parameters"}})
        log.info("instance %d: relative L2 %.4g, %.1f s (%s)", index, rel, seconds, info)

    section = "rollout" if spec.kind == "rollout" else "steady"
    seconds_per_instance = float(np.mean([d["seconds"] for d in details]))
    # the K-instance section in the operator learners' layout (the accumulator holds the
    # instances in the order of `indices`)
    on_k = instance_section(acc, range(len(indices)), indices, k, seed, spec.kind, spec.target_channels,
                            spec.first_target_frame)
    for i, d in enumerate(details):
        d["metrics"] = {name: values[i] for name, values in on_k["per_instance"].items()}
    record = {
        **_base_record(cfg, family),
        "status": "ok",
        "problem": dict(spec.__dict__),
        "metrics": {section: on_k[section],
                    "instances": on_k,
                    "n_test_samples": len(indices),
                    "inference_seconds_per_sample": seconds_per_instance},
        "instances": [int(i) for i in indices],
        "n_instances": int(k),
        "instance_seed": seed,
        "n_test_split": len(source),
        "per_instance": details,
        "n_parameters": n_params,
        "seconds_per_instance": seconds_per_instance,
        "train_seconds": float(sum(d["seconds"] for d in details)),
    }
    (run_dir / METRICS_FILE).write_text(json.dumps(record, indent=2))
    from pdebench_x.training.run import report_test_figures
    report_test_figures(record, run_dir)
    return record
