"""The per-instance task: the solver never sees the reference before predicting (spy on the data
access), scoring is aligned with the operator learners' frames (an exact solver scores ~0),
the instance choice is model-independent, the record's structure, and LPINN's N/A on Darcy."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import assert_metrics_close, compose_config

from pdebench_x.core.files import METRICS_FILE
from pdebench_x.data.formats.base import FieldSource
from pdebench_x.core.errors import NotApplicableError
from pdebench_x.models.pinn import PINNSolver
from pdebench_x.numerics.transport1d import convection_diffusion
from pdebench_x.evaluation.instances import select_instances
from pdebench_x.training.per_instance import run_per_instance
from pdebench_x.training.run import run_training

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
        cfg = compose_config(TINY_CONVECTION + ["model=pinn", f"model.solver._target_=test_per_instance.{solver}"],
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
    record = json.loads((tmp_path / METRICS_FILE).read_text())
    for key in ("model", "paper", "code", "dataset", "problem", "metrics", "n_parameters", "seed", "config",
                "instances", "seconds_per_instance", "git_commit", "environment"):
        assert key in record, key
    assert record["model"] == "pinn" and record["status"] == "ok" and record["n_parameters"] > 0
    assert len(record["instances"]) == 2 and record["seconds_per_instance"] > 0
    assert record["metrics"]["rollout"]["overall"]["relative_l2_fno"] is not None
    assert record["dataset"]["family"] == "convection" and len(record["per_instance"]) == 2
    # the K fits' budget, stated as an operator learner's: CPU and wall time, and the optimiser steps the
    # config asks for (here no fit stops early), K x (Adam iterations + L-BFGS steps)
    stages = cfg.model.fit.optimizers
    budget = record["budget"]
    assert budget["optimizer_steps"] == 2 * sum(int(s.iterations) for s in stages) == sum(d["iterations"] for d in record["per_instance"])
    assert budget["cpu_seconds"] > 0 and budget["device"] == "cpu"


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
    record = json.loads((tmp_path / METRICS_FILE).read_text())
    assert record["status"] == "not_applicable" and record["metrics"] is None and "transport" in record["reason"]


# --------------------------------------------------------------------------------------------
# the K-instance section: per-instance solvers and operator learners on the same instances
# --------------------------------------------------------------------------------------------
def test_instance_section_is_the_mean_of_the_per_sample_values_at_those_rows():
    """Prediction s_i * y scores nRMSE |s_i - 1| (up to eps) on sample i: the section over rows
    [4, 1] is the mean of those two, max_error their max, crmse their rms; extras are left out."""
    from pdebench_x.evaluation.metrics import MetricAccumulator
    from pdebench_x.evaluation.instances import instance_section
    gen = torch.Generator().manual_seed(0)
    y = 1.0 + torch.rand(6, 3, 1, 8, 8, generator=gen, dtype=torch.float64)   # [B, T, C, X, Y]
    scales = torch.tensor([1.1, 0.7, 1.3, 0.95, 1.6, 1.02], dtype=torch.float64)
    pred = y * scales[:, None, None, None, None] + 0.01 * (scales[:, None, None, None, None] > 1.5)
    acc = MetricAccumulator()
    for sl in (slice(0, 4), slice(4, 6)):   # batching must not matter
        acc.update(pred[sl], y[sl], extra={"aux": torch.ones(sl.stop - sl.start)})
    section = instance_section(acc, [4, 1], [40, 10], 2, 0, "rollout", ["u"], 5)
    assert section["indices"] == [40, 10] and section["k"] == 2 and "steady" not in section
    overall = section["rollout"]["overall"]
    e = (pred - y)[[4, 1]]
    rms_y = y[[4, 1]].square().mean(dim=(-2, -1)).sqrt()
    nrmse = (e.square().mean(dim=(-2, -1)).sqrt() / (rms_y + 1e-7))                  # [2, T, C]
    assert overall["nrmse"] == pytest.approx(float(nrmse.mean()), rel=1e-12)
    assert overall["nrmse"] == pytest.approx((0.6 + 0.3) / 2, rel=2e-2)             # |1.6 - 1| and |0.7 - 1|
    assert overall["max_error"] == pytest.approx(float(e.abs().amax()), rel=1e-12)
    mean_err = e.mean(dim=(-2, -1))                                                  # crmse per (sample, t, c)
    assert overall["crmse"] == pytest.approx(float(mean_err.square().mean(0).sqrt().mean()), rel=1e-12)
    assert "aux" not in overall and section["rollout"]["n_samples"] == 2
    assert section["rollout"]["steps"] == [5, 6, 7]
    assert section["per_instance"]["nrmse"] == pytest.approx(nrmse.mean(dim=(1, 2)).tolist(), rel=1e-12)
    with pytest.raises(ValueError, match="must agree"):
        instance_section(acc, [4, 1], [40], 2, 0, "rollout", ["u"], 0)


def _task_and_batches(tiny_darcy, k: int):
    from pdebench_x.training.run import build_datamodule, build_task
    cfg = tiny_darcy.config(["model=fno", "model.net.n_modes=[4,4]", "model.net.hidden_channels=8",
                             "model.net.n_layers=2", f"data.n_instances={k}", "data.batch_size=2"])
    dm = build_datamodule(cfg)
    dm.prepare_data()
    dm.setup()
    torch.manual_seed(0)
    task = build_task(cfg, dm).eval()
    return task, list(dm.test_dataloader())


def _run_test(task, batches, instance_choice):
    import warnings
    task.instance_choice = instance_choice
    with warnings.catch_warnings(), torch.no_grad():
        warnings.filterwarnings("ignore", message=".*self.log.*")   # no Trainer: nothing to log to
        task.on_test_epoch_start()
        for i, batch in enumerate(batches):
            task.test_step(batch, i)
        task.on_test_epoch_end()
    return task.test_summary


def test_operator_test_k_section_uses_the_sample_indices_not_the_arrival_order(tiny_darcy):
    from pdebench_x.evaluation import metrics as M
    task, batches = _task_and_batches(tiny_darcy, k=2)
    summary = _run_test(task, batches, (2, 0))
    section = summary["instances"]
    want = select_instances(4, 2, 0)
    assert section["indices"] == want and section["k"] == 2 and section["seed"] == 0
    # per-sample nRMSE of this model, sample by sample, then the mean at the chosen indices
    per = {}
    with torch.no_grad():
        for batch in batches:
            pred = task.predict_physical(batch["x"])
            for j, index in enumerate(batch["index"].tolist()):
                per[index] = float(M.nrmse(pred[j:j + 1], batch["y"][j:j + 1]).mean())
    assert section["steady"]["overall"]["nrmse"] == pytest.approx(np.mean([per[i] for i in want]), rel=1e-6)
    assert summary["steady"]["overall"]["nrmse"] == pytest.approx(np.mean(list(per.values())), rel=1e-6)
    # batches arriving in another order (as under DDP before gathering): the same section
    reordered = _run_test(task, batches[::-1], (2, 0))["instances"]
    assert_metrics_close(reordered["steady"]["overall"], section["steady"]["overall"], rel=1e-12)
    assert_metrics_close(reordered["per_instance"]["nrmse"], section["per_instance"]["nrmse"], rel=1e-12)
    # no choice set: no section; K larger than the split: none, with a warning instead of an error
    assert "instances" not in _run_test(task, batches, None)
    assert "instances" not in _run_test(task, batches, (5, 0))


def test_training_metrics_json_has_the_k_section(tmp_path, tiny_darcy):
    from conftest import TINY_TRAIN
    cfg = tiny_darcy.config(TINY_TRAIN + ["~logger", "data.n_instances=3", "data.instance_seed=1"],
                            output_dir=tmp_path)
    run_training(cfg, tmp_path / "run")
    metrics = json.loads((tmp_path / "run" / METRICS_FILE).read_text())["metrics"]
    section = metrics["instances"]
    assert section["indices"] == select_instances(4, 3, 1) and section["seed"] == 1
    assert section["steady"]["n_samples"] == 3 and set(section["steady"]["overall"]) >= {"nrmse", "max_error"}
    # the K values are among the full test's per-sample values: their mean is the section's nRMSE
    assert section["steady"]["overall"]["nrmse"] == pytest.approx(np.mean(section["per_instance"]["nrmse"]),
                                                                  rel=1e-12)


def test_per_instance_record_has_the_same_k_section_layout(tmp_path, data_root):
    cfg = compose_config(TINY_CONVECTION + ["model=pinn", "model.solver._target_=test_per_instance.ExactConvection"],
                         data_dir=data_root, output_dir=tmp_path)
    record = run_per_instance(cfg, tmp_path)
    section = record["metrics"]["instances"]
    assert section["indices"] == record["instances"] == select_instances(4, 2, 0)
    assert section["k"] == record["n_instances"] == 2 and section["rollout"] == record["metrics"]["rollout"]
    assert [d["metrics"]["nrmse"] for d in record["per_instance"]] == section["per_instance"]["nrmse"]
    assert max(section["per_instance"]["nrmse"]) < 1e-5   # the exact solution, instance by instance


def test_operator_window_and_per_instance_view_are_the_same_frames(data_root):
    """The operator learner's test window and the per-instance solver's view of a sample:
    the target frames are identical arrays, and the initial frame is the window's last context frame."""
    from pdebench_x.data.instances import read_instance, read_reference
    from pdebench_x.training.run import build_datamodule
    cfg = compose_config(TINY_CONVECTION + TINY_PINN, data_dir=data_root)
    dm = build_datamodule(cfg)
    dm.prepare_data()
    dm.setup()
    data, source = dm.dataset("test"), dm.sources["test"]
    for i in range(len(data)):
        item = data[i]
        assert item["index"] == i
        np.testing.assert_array_equal(item["y"].numpy(), read_reference(source, i, dm.spec))
        inst = read_instance(source, i, dm.spec)
        np.testing.assert_array_equal(item["x"][-1, 0].numpy(), inst.initial["u"].astype(np.float32))
        assert len(inst.times) == item["y"].shape[0] == dm.spec.horizon


def test_sample_order_under_ddp_follows_the_gathered_rows(tiny_darcy, monkeypatch):
    """Two processes scored samples 0, 2, 4, 6 and 1, 3, 5 (EvalSampler): the gathered rows are in
    sample order, and so must be the indices the K-instance section maps them with."""
    import pdebench_x.training.task as op
    task, _ = _task_and_batches(tiny_darcy, k=2)
    task._test_indices, task._n_test = [0, 2, 4, 6], 7
    monkeypatch.setattr(op, "gather_objects", lambda obj: [[0, 2, 4, 6], [1, 3, 5]])
    assert task._sample_order() == list(range(7))
    monkeypatch.setattr(op, "gather_objects", lambda obj: [None, [1, 3, 5]])   # a rank without indices
    assert task._sample_order() == list(range(7))
