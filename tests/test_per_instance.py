"""The per-instance task: the solver never sees the reference before predicting (spy on the data
access), scoring is aligned with the operator learners' frames (an exact solver scores ~0),
the instance choice is model-independent, the record's structure, and LPINN's N/A on Darcy."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import compose_config

from pdebench_x.data.formats.base import FieldSource
from pdebench_x.models.pinn import NotApplicableError, PINNSolver
from pdebench_x.per_instance import run_per_instance, select_instances
from pdebench_x.physics.transport1d import convection_diffusion
from pdebench_x.training import run_training

TINY_CONVECTION = ["data=convection", "data.generator.resolution=32", "data.generator.n_frames=7",
                   "data.sizes.train=2", "data.sizes.valid=1", "data.sizes.test=4", "data.problem.history=3",
                   "data.n_instances=2"]
TINY_PINN = ["model=pinn", "model.net.width=8", "model.net.depth=1", "model.fit.collocation=64",
             "model.fit.optimizers=[{name: adam, iterations: 3, lr: 1.0e-3}]"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp("pi_data")


class SpySource(FieldSource):
    """Delegates to a source and records every read in a shared event log."""

    def __init__(self, parent: FieldSource, events: list) -> None:
        self.parent, self.events, self.info = parent, events, parent.info

    def read(self, index, names, times=None):
        self.events.append(("read", index, tuple(names), None if times is None else (times.start, times.stop)))
        return self.parent.read(index, names, times)

    def read_scalars(self, index):
        self.events.append(("scalars", index))
        return self.parent.read_scalars(index)

    def _read_channel(self, index, name, times):  # pragma: no cover - read() is overridden
        raise AssertionError("not used")


def spy_on_solver(monkeypatch, cls, events):
    fit, predict = cls.fit, cls.predict

    def spy_fit(self, instance):
        events.append(("fit", instance.index))
        return fit(self, instance)

    def spy_predict(self):
        out = predict(self)
        events.append(("predicted", self.instance.index))
        return out

    monkeypatch.setattr(cls, "fit", spy_fit)
    monkeypatch.setattr(cls, "predict", spy_predict)


def check_no_peeking(events, instances, before, after):
    """Per instance: only ``before`` reads until its prediction exists, then exactly ``after``."""
    for i in instances:
        mine = [e for e in events if e[1] == i]
        kinds = [e[0] for e in mine]
        assert kinds.count("fit") == 1 and kinds.count("predicted") == 1
        done = kinds.index("predicted")
        assert kinds.index("fit") < done
        reads_before = [e[2:] for e in mine[:done] if e[0] == "read"]
        reads_after = [e[2:] for e in mine[done:] if e[0] == "read"]
        assert reads_before == [before], (i, reads_before)
        assert reads_after == [after], (i, reads_after)


def test_rollout_run_never_reads_the_target_frames_before_predicting(tmp_path, data_root, monkeypatch):
    events: list = []
    spy_on_solver(monkeypatch, PINNSolver, events)
    cfg = compose_config(TINY_CONVECTION + TINY_PINN, data_dir=data_root, output_dir=tmp_path)
    record = run_per_instance(cfg, tmp_path, wrap_source=lambda s: SpySource(s, events))
    # history 3 from frame 0: the last context frame is 2; frames 3..6 are scored
    assert record["problem"]["first_target_frame"] == 3
    check_no_peeking(events, record["instances"], before=(("u",), (2, 3)), after=(("u",), (3, 7)))


def test_steady_run_reads_the_coefficient_only(tmp_path, tiny_darcy, monkeypatch):
    events: list = []
    spy_on_solver(monkeypatch, PINNSolver, events)
    cfg = tiny_darcy.config(TINY_PINN + ["model.fit.instances=2"], output_dir=tmp_path)
    record = run_per_instance(cfg, tmp_path, wrap_source=lambda s: SpySource(s, events))
    check_no_peeking(events, record["instances"], before=(("a",), None), after=(("u",), None))
    assert set(record["metrics"]) >= {"steady"} and record["metrics"]["steady"]["n_samples"] == 2


class ExactConvection(PINNSolver):
    """Test double: the exact solution from the given initial frame (checks frame alignment)."""

    def fit(self, instance):
        self.instance = instance
        return {"iterations": 0, "n_parameters": 0}

    def predict(self):
        inst = self.instance
        u = convection_diffusion(inst.initial["u"][:, 0], inst.times - inst.t0, inst.scalars["speed"])
        return u[:, None, :, None].astype(np.float32)


class ZeroConvection(ExactConvection):
    def predict(self):
        return np.zeros_like(super().predict())


def test_scoring_is_aligned_with_the_scored_frames(tmp_path, data_root):
    def run(solver, sub):
        cfg = compose_config(TINY_CONVECTION + ["model=pinn", f"model.solver=test_per_instance.{solver}"],
                             data_dir=data_root, output_dir=tmp_path / sub)
        return run_per_instance(cfg, tmp_path / sub)

    exact = run("ExactConvection", "a")
    overall = exact["metrics"]["rollout"]["overall"]
    assert overall["relative_l2_fno"] < 1e-5 and overall["rmse"] < 1e-5
    assert exact["metrics"]["rollout"]["steps"] == [3, 4, 5, 6]
    zero = run("ZeroConvection", "b")
    assert zero["metrics"]["rollout"]["overall"]["relative_l2_fno"] == pytest.approx(1.0, abs=1e-6)
    assert zero["instances"] == exact["instances"]


def test_train_py_path_writes_the_operator_record_structure(tmp_path, data_root):
    cfg = compose_config(TINY_CONVECTION + TINY_PINN, data_dir=data_root, output_dir=tmp_path)
    run_training(cfg, tmp_path)  # model.kind = per_instance dispatches here
    record = json.loads((tmp_path / "metrics.json").read_text())
    for key in ("model", "paper", "code", "dataset", "problem", "metrics", "n_parameters", "seed", "config",
                "instances", "seconds_per_instance", "git_commit", "environment"):
        assert key in record, key
    assert record["model"] == "pinn" and record["status"] == "ok" and record["n_parameters"] > 0
    assert len(record["instances"]) == 2 and record["seconds_per_instance"] > 0
    assert record["metrics"]["rollout"]["overall"]["relative_l2_fno"] is not None
    assert record["dataset"]["family"] == "convection" and len(record["per_instance"]) == 2


def test_instances_are_model_independent_and_seeded():
    a = select_instances(25, 3, seed=0)
    assert a == select_instances(25, 3, seed=0) and a == sorted(set(a)) and len(a) == 3
    assert select_instances(25, 3, seed=None) == [0, 1, 2]
    assert select_instances(25, 3, seed=1) != a or select_instances(25, 3, seed=2) != a
    with pytest.raises(ValueError, match="test split has 4 samples"):
        select_instances(4, 5, seed=0)


def test_lpinn_on_darcy_stops_with_a_clear_error_and_an_na_record(tmp_path, tiny_darcy):
    cfg = tiny_darcy.config(["model=lpinn"], output_dir=tmp_path)
    with pytest.raises(NotApplicableError, match="Darcy flow .* elliptic"):
        run_training(cfg, tmp_path)
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "not_applicable" and record["metrics"] is None and "transport" in record["reason"]
