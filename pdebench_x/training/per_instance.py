"""The per-instance task: physics-informed solvers fitted afresh for each scored test instance.

``python train.py model=pig data=darcy`` (likewise ``lpinn``, ``pinn``) lands here through
:func:`pdebench_x.training.run.run_training` (``model.kind == "per_instance"``). For each of K
test instances (K = ``model.fit.instances`` if set, else ``data.n_instances``, else 2; the choice is
:func:`pdebench_x.evaluation.instances.select_instances`: a seeded draw with ``data.instance_seed`` (default 0) that does not
depend on the model, so every model, the operator learners included, can be scored on the
same K), the task

1. reads what an operator learner is given and nothing more (:func:`pdebench_x.data.instances.read_instance`): the
   PDE family, its coefficients (``read_scalars``), the grid and boundary type, the times to
   predict, and as initial data the LAST CONTEXT FRAME only (rollout: frame
   ``first_target_frame - 1`` of the problem's fields; steady: the input channels, e.g.
   Darcy's coefficient a);
2. fits a fresh solver with its fixed iteration budget (no model selection: the last iterate);
3. predicts on the data grid at exactly the scored frames (``first_target_frame`` ..
   ``+ horizon``), then reads the reference (:func:`pdebench_x.data.instances.read_reference`) and accumulates the
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
instance's own metric values); a rollout's ``metrics["long_horizon"]`` holds the long-horizon scores
of the K fits (valid and correlation time, error against time: the long-horizon track's entry when
the run was made on that split). ``metrics["instances"]`` is the K-instance section
(:func:`pdebench_x.evaluation.instances.instance_section`) that the operator learners' test also writes, on the same indices, so
both kinds can be tabled side by side. A solver
that does not apply to the PDE (LPINN on Darcy) raises
:class:`pdebench_x.models.pinn.NotApplicableError`; the task first writes a record with
``status: not_applicable`` and the reason, so the leaderboard can show N/A.
"""
from __future__ import annotations

import copy
import json
import logging
import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from pdebench_x.core.errors import NotApplicableError
from pdebench_x.core.files import METRICS_FILE
from pdebench_x.data.formats.base import FieldSource
from pdebench_x.data.instances import read_instance, read_reference
from pdebench_x.evaluation.instances import instance_choice, instance_section, select_instances
from pdebench_x.evaluation.metrics import MetricAccumulator, relative_l2_fno
from pdebench_x.training.common import (build_datamodule, dataset_record, device_record, environment, git_commit,
                                        report_test_figures)

log = logging.getLogger(__name__)


def build_solver(cfg: DictConfig):
    """A fresh solver: ``model.solver`` (``{_target_: <class>}``) built with the model's ``net`` and
    ``fit`` as plain dicts, as an operator learner's ``model.net`` is built (``instantiate``)."""
    model = OmegaConf.to_container(cfg.model, resolve=True)
    return instantiate(model["solver"], net=model.get("net") or {}, fit=model.get("fit") or {}, _convert_="all")


def _base_record(cfg: DictConfig, family: str) -> dict[str, Any]:
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
        for stage in [*(cfg.model.fit.get("optimizers") or []), *(cfg.model.fit.get("steady_optimizers") or [])]:
            stage.iterations = min(int(stage.get("iterations", 0)), SMOKE_ITERATIONS)
    log.warning("fast_dev_run: a smoke run of %s on 1 instance, at most %d iterations per optimiser stage",
                cfg.model.name, SMOKE_ITERATIONS)
    return cfg


def run_per_instance(cfg: DictConfig, run_dir: str | Path,
                     wrap_source: Callable[[FieldSource], FieldSource] | None = None) -> dict[str, Any]:
    """Fit one solver per selected test instance, score, write ``metrics.json``; return the record.

    ``wrap_source`` (tests) wraps the test split's FieldSource, e.g. to spy on its reads.
    """
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

    dm = build_datamodule(cfg, splits=("test",))  # a fit reads its test instance alone: no other split is made
    dm.prepare_data()
    dm.setup()
    spec = dm.spec
    source = dm.sources["test"]
    if wrap_source is not None:
        source = wrap_source(source)
    k, seed = instance_choice(cfg.data, cfg.model.get("fit"))
    indices = select_instances(len(source), k, seed)
    log.info("%s on %s: fitting %d instances %s", cfg.model.name, family, len(indices), indices)

    acc = MetricAccumulator(domain_area=spec.domain_area)
    details, predictions, references = [], [], []
    n_params = 0
    for index in indices:
        instance = read_instance(source, index, spec, family)
        solver = build_solver(cfg)  # a fresh solver per instance
        start, cpu_start = time.perf_counter(), time.process_time()
        info = solver.fit(instance)
        pred = solver.predict()
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
        target = read_reference(source, index, spec)
        if pred.shape != target.shape:
            raise RuntimeError(f"{cfg.model.name} predicted {pred.shape} but the reference is {target.shape}")
        p, y = torch.from_numpy(np.ascontiguousarray(pred))[None], torch.from_numpy(target)[None]
        acc.update(p, y)
        predictions.append(p)
        references.append(y)
        rel = float(relative_l2_fno(p, y)[0])
        n_params = info.get("n_parameters", 0)
        details.append({"index": int(index), "seconds": seconds, "cpu_seconds": cpu_seconds,
                        "relative_l2": rel if math.isfinite(rel) else None,
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
        # what the K fits spent, stated as the operator learners' training budgets are
        "budget": {"cpu_seconds": float(sum(d["cpu_seconds"] for d in details)),
                   "wall_seconds": float(sum(d["seconds"] for d in details)),
                   # optimiser steps of the K fits together (an L-BFGS step counts once, whatever its
                   # inner iterations); epochs do not apply to a fit
                   "optimizer_steps": int(sum(d.get("iterations") or 0 for d in details)),
                   "threads": torch.get_num_threads(), **device_record("cpu")},  # the solvers fit on the CPU
    }
    if spec.kind == "rollout":
        # the long-horizon scores of the K fits (a run on the long-horizon split is that track's entry)
        record["metrics"]["long_horizon"] = _horizon_scores(torch.cat(predictions), torch.cat(references), source,
                                                            spec, family)
    (run_dir / METRICS_FILE).write_text(json.dumps(record, indent=2))
    report_test_figures(record, run_dir)
    return record


def _horizon_scores(pred: torch.Tensor, truth: torch.Tensor, source: FieldSource, spec, family: str) -> dict[str, Any]:
    """The long-horizon scores of the K instances' scored frames, with the family's conserved quantities."""
    from pdebench_x.evaluation.long_horizon import family_rollout_scores
    return family_rollout_scores(pred, truth, source.info.times, spec.first_target_frame, family,
                                 spec.target_channels)
