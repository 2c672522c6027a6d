"""DDP with 2 CPU processes (gloo), through `python train.py trainer=ddp`, against one process.

A callback (:class:`SampleProbe`) records, in every process, a digest of each sample of every
train / validation / test batch. With 16 train, 7 valid and 7 test samples:

- every epoch, the two processes train on disjoint halves of the 16 samples, and global step k
  (the union of both processes' batch k) holds the samples the single-process run with the same
  global batch (8) takes at step k;
- every validation and test sample is scored exactly once (7 on 2 processes: 4 + 3, no repeat),
  and metrics.json reports 7 test samples;
- the validation loss (reduced across processes) of each epoch, the test metrics (gathered per
  sample) and the final weights equal the single-process run's to float tolerance.

Also the samplers alone (no processes): shares for W = 1..4 and odd sizes, resuming mid-epoch.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from conftest import REPO, compose_config
from pdebench_x.core.files import METRICS_FILE
from pdebench_x.data.build import ensure_dataset, plan_from_config
from pdebench_x.data.loaders import EvalSampler, ResumableLoader, TrainSampler
from pdebench_x.core.processes import strided_order
from pdebench_x.evaluation.metrics import MetricAccumulator
from pdebench_x.training.run import build_datamodule, run_training

DATA = ["data.sizes.train=16", "data.sizes.valid=7", "data.sizes.test=7", "data.generator.resolution=16"]
TRAIN = ["model=fno", "model.net.n_modes=[4,4]", "model.net.hidden_channels=8", "model.net.n_layers=2",
         "trainer.max_epochs=2", "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1",
         "checkpoint_every_n_steps=null"]


def digest(x: torch.Tensor) -> str:
    return hashlib.sha1(x.detach().cpu().contiguous().numpy().tobytes()).hexdigest()[:16]


class SampleProbe(L.Callback):
    """Writes <out>/rank<r>.json: the digests of every sample each batch hook saw."""

    def __init__(self, out: str) -> None:
        self.out = Path(out)
        self.seen = {"train": [], "valid": [], "test": []}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.seen["train"].append([trainer.current_epoch, batch_idx, [digest(x) for x in batch["x"]]])

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        if not trainer.sanity_checking:
            self.seen["valid"].append([trainer.current_epoch, batch_idx, [digest(x) for x in batch["x"]]])

    def on_test_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        self.seen["test"].append([0, batch_idx, [digest(x) for x in batch["x"]]])

    def on_test_end(self, trainer, pl_module):
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / f"rank{trainer.global_rank}.json").write_text(json.dumps(self.seen))


def probe_overrides(out: Path) -> list[str]:
    return ["+callbacks.probe._target_=test_ddp.SampleProbe", f"+callbacks.probe.out={out}"]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ddp_data")
    cfg = compose_config(DATA, data_dir=root)
    ensure_dataset(plan_from_config(cfg.data, root), workers=1, progress=False)
    return root


@pytest.fixture(scope="module")
def runs(data_root, tmp_path_factory):
    """The DDP run (2 processes x batch 4) in a subprocess and the single-process one (batch 8)."""
    base = tmp_path_factory.mktemp("ddp_runs")
    ddp_dir, single_dir = base / "ddp", base / "single"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO)]),
           "PDEBENCH_X_DATA": str(data_root), "PDEBENCH_X_OUTPUTS": str(base), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(REPO / "train.py"), *DATA, *TRAIN, "data.batch_size=4", "trainer=ddp",
           "trainer.devices=2", "trainer.max_epochs=2", "trainer.enable_progress_bar=false",
           f"hydra.run.dir={ddp_dir}", *probe_overrides(base / "probe_ddp")]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    cfg = compose_config(DATA + TRAIN + ["data.batch_size=8", *probe_overrides(base / "probe_single")],
                         data_dir=data_root, output_dir=base)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_training(cfg, single_dir)
    finally:
        torch.set_num_threads(threads)
    ddp = [json.loads((base / "probe_ddp" / f"rank{r}.json").read_text()) for r in (0, 1)]
    single = json.loads((base / "probe_single" / "rank0.json").read_text())
    return {"ddp_dir": ddp_dir, "single_dir": single_dir, "ddp": ddp, "single": single, "cfg": cfg}


def sample_ids(cfg, split: str) -> dict[str, int]:
    dm = build_datamodule(cfg)
    dm.setup()
    ds = dm.dataset(split)
    return {digest(torch.as_tensor(ds[i]["x"])): i for i in range(len(ds))}


def by_step(events, epoch):
    return {step: ids for e, step, ids in events if e == epoch}


def test_processes_train_on_disjoint_shares_and_match_the_global_batch(runs):
    ids = sample_ids(runs["cfg"], "train")
    assert len(ids) == 16
    for epoch in (0, 1):
        shares = [[i for _, _, b in (ev for ev in rank["train"] if ev[0] == epoch) for i in b] for rank in runs["ddp"]]
        assert [len(s) for s in shares] == [8, 8]
        assert set(shares[0]).isdisjoint(shares[1])
        assert set(shares[0]) | set(shares[1]) == set(ids)
        ddp_steps = [by_step(rank["train"], epoch) for rank in runs["ddp"]]
        single_steps = by_step(runs["single"]["train"], epoch)
        assert sorted(single_steps) == [0, 1]
        for k, batch in single_steps.items():
            assert sorted(ddp_steps[0][k] + ddp_steps[1][k]) == sorted(batch)
    # a different order each epoch
    epochs = [[i for ep, _, b in runs["single"]["train"] if ep == e for i in b] for e in (0, 1)]
    assert epochs[0] != epochs[1]


@pytest.mark.parametrize("split", ["valid", "test"])
def test_each_evaluation_sample_is_scored_exactly_once(runs, split):
    ids = sample_ids(runs["cfg"], split)
    assert len(ids) == 7
    for epoch in ((0, 1) if split == "valid" else (0,)):
        seen = [i for rank in runs["ddp"] for e, _, b in rank[split] if e == epoch for i in b]
        assert sorted(seen) == sorted(ids), f"{split} epoch {epoch}: {len(seen)} scored for 7 samples"
        per_rank = [sum(len(b) for e, _, b in rank[split] if e == epoch) for rank in runs["ddp"]]
        assert per_rank == [4, 3]
    record = json.loads((runs["ddp_dir"] / METRICS_FILE).read_text())
    assert record["metrics"]["n_test_samples"] == 7
    assert record["metrics"]["steady"]["n_samples"] == 7


def val_losses(run_dir: Path) -> dict[int, float]:
    with open(next(run_dir.glob("csv/version_*/metrics.csv"))) as fh:
        return {int(r["epoch"]): float(r["val/loss"]) for r in csv.DictReader(fh) if r.get("val/loss")}


def test_metrics_and_weights_match_one_process(runs):
    ddp, single = val_losses(runs["ddp_dir"]), val_losses(runs["single_dir"])
    assert sorted(ddp) == sorted(single) == [0, 1]
    for epoch in ddp:
        assert ddp[epoch] == pytest.approx(single[epoch], rel=1e-5)
    rec_d = json.loads((runs["ddp_dir"] / METRICS_FILE).read_text())["metrics"]["steady"]["overall"]
    rec_s = json.loads((runs["single_dir"] / METRICS_FILE).read_text())["metrics"]["steady"]["overall"]
    for name in ("relative_l2_fno", "rmse", "nrmse", "max_error", "crmse"):
        assert rec_d[name] == pytest.approx(rec_s[name], rel=1e-4), name
    wd = torch.load(runs["ddp_dir"] / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    ws = torch.load(runs["single_dir"] / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert wd["global_step"] == ws["global_step"] == 4
    for k, v in ws["state_dict"].items():
        torch.testing.assert_close(wd["state_dict"][k], v, rtol=1e-4, atol=1e-6, msg=k)
    # and training moved them: the comparison is not of two untouched initialisations
    assert rec_s["relative_l2_fno"] < 0.999


# ---------------------------------------------------------------------------------------------
# samplers alone
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n,world", [(16, 1), (16, 2), (17, 2), (10, 3), (9, 4)])
def test_train_shares_are_disjoint_and_steps_match_one_process(n, world):
    data = list(range(n))
    batch = 2
    for epoch in (0, 3):
        shares = []
        for r in range(world):
            s = TrainSampler(data, seed=5, num_replicas=world, rank=r)
            s.set_epoch(epoch)
            shares.append(list(s))
        flat = [i for sh in shares for i in sh]
        assert len(flat) == len(set(flat)) == world * (n // world)
        one = TrainSampler(data, seed=5, num_replicas=1, rank=0)
        one.set_epoch(epoch)
        order = list(one)
        for k in range((n // world) // batch):
            step = sorted(i for sh in shares for i in sh[k * batch:(k + 1) * batch])
            assert step == sorted(order[k * world * batch:(k + 1) * world * batch])


@pytest.mark.parametrize("n,world", [(7, 2), (5, 3), (8, 4), (3, 3)])
def test_eval_shares_cover_each_sample_once_and_order_restores(n, world):
    shares = [list(EvalSampler(list(range(n)), num_replicas=world, rank=r)) for r in range(world)]
    assert sorted(i for sh in shares for i in sh) == list(range(n))
    order = strided_order([len(s) for s in shares])
    assert torch.equal(torch.tensor([i for sh in shares for i in sh])[order], torch.arange(n))


def test_too_many_processes_is_a_clear_error():
    with pytest.raises(ValueError, match="evaluation split has 2 samples for 3 processes.*at least one"):
        EvalSampler(list(range(2)), num_replicas=3, rank=0)
    with pytest.raises(ValueError, match="train split has 2 windows for 3 processes.*at least one"):
        TrainSampler(list(range(2)), num_replicas=3, rank=0)


def test_gathered_accumulator_equals_one_accumulator():
    torch.manual_seed(0)
    pred, target = torch.randn(7, 2, 1, 8, 8), torch.randn(7, 2, 1, 8, 8)
    whole = MetricAccumulator()
    whole.update(pred, target)
    parts = []
    for r in range(2):
        acc = MetricAccumulator()
        idx = list(range(r, 7, 2))
        acc.update(pred[idx], target[idx])
        parts.append(acc.state_dict())
    merged = MetricAccumulator.from_state_dicts(parts, order=strided_order([p["n"] for p in parts]))
    assert merged.summary(["u"]) == whole.summary(["u"])
    torch.testing.assert_close(merged.per_sample("rmse"), whole.per_sample("rmse"), rtol=0, atol=0)


def test_resumable_loader_skips_what_was_trained():
    data = [torch.tensor([i]) for i in range(12)]
    loader = ResumableLoader(data, TrainSampler(data, seed=1, num_replicas=1, rank=0), batch_size=2)
    loader.sampler.set_epoch(2)
    full = [b.flatten().tolist() for b in loader]
    it = iter(loader)
    [next(it) for _ in range(2)]
    state = loader.state_dict()
    assert state["batches"] == 2 and state["epoch"] == 2
    fresh = ResumableLoader(data, TrainSampler(data, seed=1, num_replicas=1, rank=0), batch_size=2)
    fresh.load_state_dict(state)
    assert [b.flatten().tolist() for b in fresh] == full[2:]
    assert [b.flatten().tolist() for b in fresh] == full               # the skip applies once
    other = ResumableLoader(data, TrainSampler(data, seed=1, num_replicas=1, rank=0), batch_size=3)
    with pytest.raises(ValueError, match="batch size"):
        other.load_state_dict(state)
    assert np.array_equal(sorted(i for b in full for i in b), np.arange(12))


# ---------------------------------------------------------------------------------------------
# GPU options: bf16 mixed precision and torch.compile keep accuracy
# ---------------------------------------------------------------------------------------------
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
GPU_RUN = ["trainer=gpu", "trainer.max_epochs=5", "trainer.enable_progress_bar=false", "model=fno",
           "model.net.n_modes=[4,4]", "model.net.hidden_channels=16", "model.net.n_layers=2",
           "checkpoint_every_n_steps=null"]


def _test_error(tiny_darcy, tmp_path, extra):
    record = run_training(tiny_darcy.config(GPU_RUN + extra, output_dir=tmp_path), tmp_path / "run")
    return record["metrics"]["steady"]["overall"]["relative_l2_fno"]


@pytest.mark.gpu
@needs_cuda
def test_bf16_mixed_precision_keeps_accuracy(tiny_darcy, tmp_path):
    if not torch.cuda.is_bf16_supported():
        pytest.skip("this GPU has no bf16")
    fp32 = _test_error(tiny_darcy, tmp_path / "fp32", [])
    bf16 = _test_error(tiny_darcy, tmp_path / "bf16", ["trainer.precision=bf16-mixed"])
    assert fp32 < 0.9                                   # it learned something
    assert abs(bf16 - fp32) <= 0.05 * fp32, (bf16, fp32)


@pytest.mark.gpu
@needs_cuda
def test_compile_gives_the_eager_predictions_and_accuracy(tiny_darcy, tmp_path):
    from pdebench_x.models.fno import FNO
    net = FNO(1, 1, 1, 1, n_modes=[4, 4], hidden_channels=16, n_layers=2).cuda().eval()
    x = torch.randn(4, 1, 1, 16, 16, device="cuda")
    with torch.no_grad():
        eager = net(x)
        net.compile()
        compiled = net(x)
    assert list(net.state_dict()) == list(FNO(1, 1, 1, 1, n_modes=[4, 4], hidden_channels=16,
                                              n_layers=2).state_dict())      # checkpoints keep their names
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-5)
    plain = _test_error(tiny_darcy, tmp_path / "eager", [])
    comp = _test_error(tiny_darcy, tmp_path / "compiled", ["compile=true"])
    assert comp == pytest.approx(plain, rel=1e-2)
