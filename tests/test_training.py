"""Training end to end on the tiny Darcy dataset: the metrics file, checkpoint selection on
validation, the test split touched once, external PDEBench files, the W&B logger offline,
a NaN loss, and the command line's errors for unknown config names.
"""
from __future__ import annotations

import csv
import glob
import hashlib
import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch

from pdebench_x.core.files import METRICS_FILE
from pdebench_x.data.formats.well import WellSource
from pdebench_x.evaluation.metrics import relative_l2_fno
from pdebench_x.models.fno import FNO
from pdebench_x.training.task import NonFiniteLossError, OperatorTask
from pdebench_x.training.run import build_datamodule, run_training

from conftest import REPO, TINY_TRAIN, compose_config

# Gradient ascent (Adam with maximize) makes every epoch worse than the one before, so the
# checkpoint chosen on validation must be the first epoch's, not the last one.
ASCENT = ["trainer.max_epochs=2", "model.recipe.optimizer.lr=0.01", "+model.recipe.optimizer.maximize=true"]


@pytest.fixture(scope="module")
def ascent_run(tiny_darcy, tmp_path_factory):
    """One 2-epoch run of a tiny FNO, with every split read and the call to Trainer.test logged."""
    run_dir = tmp_path_factory.mktemp("run_ascent")
    cfg = tiny_darcy.config(TINY_TRAIN + ASCENT, output_dir=run_dir.parent)
    events: list[tuple[str, int]] = []
    real_read, real_test = WellSource._read_channel, L.Trainer.test

    def read_spy(self, index, name, times):
        events.append((self.path.rsplit("_", 1)[-1].split(".")[0], index))
        return real_read(self, index, name, times)

    def test_spy(self, *args, **kwargs):
        events.append(("TRAINER.TEST", -1))
        return real_test(self, *args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(WellSource, "_read_channel", read_spy)
    mp.setattr(L.Trainer, "test", test_spy)
    try:
        record = run_training(cfg, run_dir)
    finally:
        mp.undo()
    return cfg, run_dir, record, events


def test_metrics_file(ascent_run):
    cfg, run_dir, record, _ = ascent_run
    on_disk = json.loads((run_dir / METRICS_FILE).read_text())
    assert on_disk["metrics"] == json.loads(json.dumps(record["metrics"]))
    overall = on_disk["metrics"]["steady"]["overall"]
    for name in ("relative_l2_fno", "rmse", "nrmse", "vrmse", "max_error", "crmse", "brmse", "frmse_low", "frmse_mid"):
        assert math.isfinite(overall[name]) and overall[name] > 0, name
    assert overall["frmse_high"] is None                    # band [12, 8) is empty on a 16x16 grid
    assert on_disk["metrics"]["n_test_samples"] == 4
    reference = FNO(1, 1, 1, 1, n_modes=[4, 4], hidden_channels=8, n_layers=2)
    expected_params = sum(p.numel() for p in reference.parameters())
    assert on_disk["n_parameters"] == expected_params > 0
    assert on_disk["model"] == "fno" and on_disk["dataset"]["name"] == cfg_name(cfg)
    assert on_disk["epochs"] == 2 and on_disk["global_steps"] == 8            # 16 samples / batch 4
    assert 0 < on_disk["train_seconds"] < 600
    assert 0 < on_disk["inference_seconds_per_sample"] < on_disk["train_seconds"]
    assert on_disk["inference_seconds_per_sample"] == on_disk["metrics"]["inference_seconds_per_sample"]
    assert on_disk["config"]["model"]["net"]["hidden_channels"] == 8


def cfg_name(cfg):
    from pdebench_x.data.build import plan_from_config
    return plan_from_config(cfg.data, cfg.paths.data_dir).name


def validation_losses(run_dir) -> dict[int, float]:
    with open(next(run_dir.glob("csv/version_*/metrics.csv"))) as fh:
        return {int(row["epoch"]): float(row["val/loss"]) for row in csv.DictReader(fh) if row.get("val/loss")}


def score_checkpoint(path, cfg) -> float:
    """Test-split relative L2 (FNO's aggregation) of a checkpoint's weights, computed here."""
    task = OperatorTask.load_from_checkpoint(path, map_location="cpu", weights_only=False)
    task.eval()
    dm = build_datamodule(cfg)
    dm.setup()
    with torch.no_grad():
        errors = [relative_l2_fno(task.predict_physical(b["x"]), b["y"]) for b in dm.test_dataloader()]
    return torch.cat(errors).mean().item()


def test_budget_and_learning_curve_are_the_runs(ascent_run):
    """metrics.json states what training spent (CPU and wall seconds inside fit, epochs, steps) and
    the validation curve, epoch by epoch, equal to what the CSV logger saw."""
    _, run_dir, record, _ = ascent_run
    budget, curve = record["budget"], record["learning_curve"]
    assert budget["epochs"] == record["epochs"] == 2 and budget["optimizer_steps"] == record["global_steps"] == 8
    assert 0 < budget["cpu_seconds"] and 0 < budget["wall_seconds"] <= record["train_seconds"]
    assert budget["device"] == "cpu" and budget["stopped_by"] is None and budget["cpu_seconds_limit"] is None
    losses = validation_losses(run_dir)
    assert curve["epoch"] == [0, 1]
    assert curve["val/loss"] == pytest.approx([losses[0], losses[1]], rel=1e-6)
    assert all(v > 0 for v in curve["train_loss"]) and len(curve["train_loss"]) == 2


def test_a_cpu_budget_ends_training(tiny_darcy, tmp_path):
    """+budget.cpu_seconds stops fit once that much process CPU time is spent (here: after one step),
    the run still tests and says why it stopped."""
    cfg = tiny_darcy.config(TINY_TRAIN + ["trainer.max_epochs=5", "+budget.cpu_seconds=1e-6"],
                            output_dir=tmp_path)
    record = run_training(cfg, tmp_path / "run")
    assert record["global_steps"] == 1 and record["budget"]["optimizer_steps"] == 1
    assert record["budget"]["stopped_by"] == "cpu_seconds >= 1e-06"
    assert record["budget"]["cpu_seconds"] >= 1e-6 and record["budget"]["cpu_seconds_limit"] == 1e-6
    assert math.isfinite(record["metrics"]["steady"]["overall"]["nrmse"])


def test_budget_survives_a_resume():
    """The callback's counters and curve are in the checkpoint: a resumed run reports the whole run."""
    from pdebench_x.training.budget import TrainingBudget
    first = TrainingBudget()
    first.cpu_seconds, first.wall_seconds = 12.5, 20.0
    first.curve["epoch"], first.curve["val/loss"] = [0, 1], [0.5, 0.4]
    first.curve["train_loss"], first.curve["val/rollout_loss"] = [0.6, 0.45], [None, None]
    resumed = TrainingBudget()
    resumed.load_state_dict(first.state_dict())
    assert (resumed.cpu_seconds, resumed.wall_seconds) == (12.5, 20.0) and resumed.curve == first.curve
    with pytest.raises(ValueError, match="budget must be > 0 seconds"):
        TrainingBudget(cpu_seconds=0)


def test_checkpoint_is_the_best_on_validation_and_is_the_one_tested(ascent_run):
    cfg, run_dir, record, _ = ascent_run
    losses = validation_losses(run_dir)
    assert sorted(losses) == [0, 1]
    best_epoch = min(losses, key=losses.get)
    assert best_epoch == 0, f"gradient ascent should make the second epoch worse: {losses}"
    assert record["checkpoint"] == str(run_dir / "checkpoints" / f"best-epoch={best_epoch:03d}.ckpt")

    tested = record["metrics"]["steady"]["overall"]["relative_l2_fno"]
    assert score_checkpoint(record["checkpoint"], cfg) == pytest.approx(tested, rel=1e-5)
    # last.ckpt holds the end of the last epoch (for resuming), not a copy of the best
    last_path = run_dir / "checkpoints" / "last.ckpt"
    assert torch.load(last_path, map_location="cpu", weights_only=False)["global_step"] == 8
    assert abs(score_checkpoint(last_path, cfg) - tested) > 1e-3 * tested      # testing it would differ


def test_test_split_is_read_once_after_training(ascent_run):
    _, _, _, events = ascent_run
    marker = events.index(("TRAINER.TEST", -1))
    before, after = events[:marker], events[marker + 1:]
    assert {s for s, _ in before} == {"train", "valid"}      # fit (and statistics) never touch test
    test_reads = sorted(i for s, i in after if s == "test")
    assert test_reads == [0, 0, 1, 1, 2, 2, 3, 3]           # each sample once: channels a and u
    assert {s for s, _ in after} == {"test"}


def test_pdebench_darcy_file_trains(pdebench_darcy_file, tmp_path):
    cfg = compose_config(TINY_TRAIN + [f"data.path={pdebench_darcy_file}", "data.batch_size=4",
                                       "data.splits={train:[0,16],valid:[16,20],test:[20,24]}"],
                         data_dir=tmp_path / "unused", output_dir=tmp_path)
    record = run_training(cfg, tmp_path / "run")
    assert record["dataset"]["path"] == str(pdebench_darcy_file)
    assert record["metrics"]["n_test_samples"] == 4 and record["global_steps"] == 4
    assert math.isfinite(record["metrics"]["steady"]["overall"]["relative_l2_fno"])
    assert not (tmp_path / "unused").exists()                # nothing generated for an external file


# ---------------------------------------------------------------------------------------
# W&B, offline
# ---------------------------------------------------------------------------------------

def read_wandb_records(path):
    """Records of a W&B transaction log (``run-<id>.wandb``), parsed with wandb's own protobuf.

    The file is a 7-byte header (``:W&B``, magic, version) then LevelDB-log framing: 32 KiB
    blocks of chunks, each chunk a 7-byte header (crc32c, little-endian length, type:
    1 full, 2 first, 3 middle, 4 last) and its payload; payloads are serialised ``Record``s.
    """
    from wandb.proto import wandb_internal_pb2 as pb
    raw = path.read_bytes()
    assert raw[:4] == b":W&B", "not a W&B transaction log"
    block, pos, pending, records = 32768, 7, b"", []
    while pos + 7 <= len(raw):
        room = block - pos % block
        if room < 7:                                         # block trailer padding
            pos += room
            continue
        _, length, kind = struct.unpack("<IHB", raw[pos:pos + 7])
        payload = raw[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            continue
        if kind in (1, 2):
            pending = payload
        else:
            pending += payload
        if kind in (1, 4):
            record = pb.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def test_wandb_logger_offline_writes_readable_run_files(tiny_darcy, tmp_path, monkeypatch):
    # WANDB_MODE unset: the pipeline must choose offline (setenv first so that undo removes it again)
    monkeypatch.setenv("WANDB_MODE", "x")
    monkeypatch.delenv("WANDB_MODE")
    for var in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
        monkeypatch.setenv(var, str(tmp_path / "home" / var.lower()))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")  # would fail fast if anything went online
    run_dir = tmp_path / "run"
    cfg = tiny_darcy.config(TINY_TRAIN + ["logger=wandb"], output_dir=tmp_path)
    record = run_training(cfg, run_dir)
    assert os.environ["WANDB_MODE"] == "offline"

    import wandb
    assert wandb.run is None                                  # the run was finished by the pipeline
    # wandb's service writes the log asynchronously; teardown waits for it (as the atexit hook
    # does when train.py exits).
    wandb.teardown()
    logs = glob.glob(str(run_dir / "wandb" / "offline-run-*" / "run-*.wandb"))
    assert len(logs) == 1, os.listdir(run_dir)
    records = read_wandb_records(Path(logs[0]))
    kinds = [r.WhichOneof("record_type") for r in records]
    assert "run" in kinds and "exit" in kinds
    history: dict[str, list[float]] = {}
    for r in records:
        if r.WhichOneof("record_type") == "history":
            for item in r.history.item:
                history.setdefault(item.key or "/".join(item.nested_key), []).append(json.loads(item.value_json))
    assert len(history["train/loss"]) == 4 and all(math.isfinite(v) for v in history["train/loss"])
    assert len(history["val/loss"]) == 1
    overall = record["metrics"]["steady"]["overall"]
    assert history["final/relative_l2_fno"] == [pytest.approx(overall["relative_l2_fno"], rel=1e-12)]
    assert history["final/rmse"] == [pytest.approx(overall["rmse"], rel=1e-12)]
    assert history["test/relative_l2_fno"] == [pytest.approx(overall["relative_l2_fno"], rel=1e-5)]
    assert "final/frmse_high" not in history                 # undefined metric is not logged


# ---------------------------------------------------------------------------------------
# NaN loss
# ---------------------------------------------------------------------------------------

def test_nan_loss_stops_naming_the_step_and_keeps_the_last_checkpoint(tiny_darcy, tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    last = run_dir / "checkpoints" / "last.ckpt"
    seen = {"calls": 0, "last_digest": None}
    real_forward = FNO.forward

    def forward(self, x, cond=None):
        out = real_forward(self, x, cond)
        if self.training:
            seen["calls"] += 1
            if seen["calls"] > 4:                            # the first step of the second epoch
                if seen["last_digest"] is None:
                    seen["last_digest"] = hashlib.sha256(last.read_bytes()).hexdigest()
                return out * float("nan")
        return out
    monkeypatch.setattr(FNO, "forward", forward)
    cfg = tiny_darcy.config(TINY_TRAIN + ["trainer.max_epochs=3"], output_dir=tmp_path)
    with pytest.raises(NonFiniteLossError) as err:
        run_training(cfg, run_dir)
    message = str(err.value)
    assert "global step 4" in message and "epoch 1" in message and "nan" in message
    assert str(last) in message
    assert seen["last_digest"] == hashlib.sha256(last.read_bytes()).hexdigest()   # untouched since
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 4 and ckpt["epoch"] == 0
    assert all(torch.isfinite(v).all() for v in ckpt["state_dict"].values() if v.is_floating_point())
    assert not (run_dir / METRICS_FILE).exists()


# ---------------------------------------------------------------------------------------
# Command line: unknown names
# ---------------------------------------------------------------------------------------

def test_unknown_model_and_data_names_list_the_valid_ones(tmp_path):
    env = {**os.environ, "PDEBENCH_X_DATA": str(tmp_path / "data"), "PDEBENCH_X_OUTPUTS": str(tmp_path / "out"),
           "HYDRA_FULL_ERROR": "0"}
    cases = {"model=nope": ("model/nope", ["fno", "unet"]), "data=nope": ("data/nope", ["darcy"])}
    procs = {arg: subprocess.Popen([sys.executable, "train.py", arg], cwd=REPO, env=env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE) for arg in cases}
    for arg, proc in procs.items():
        _, stderr = proc.communicate(timeout=300)
        missing, valid = cases[arg]
        assert proc.returncode != 0
        assert f"Could not find '{missing}'" in stderr, stderr
        listed = stderr.split("Available options in", 1)[1].split("Config search path", 1)[0]
        options = {line.strip() for line in listed.splitlines()[1:] if line.strip()}
        assert set(valid) <= options, stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "data").exists()
