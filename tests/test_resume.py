"""Preemption: a run stopped mid-epoch resumes from its last checkpoint with the same command
(``resume=auto``) and ends exactly as the uninterrupted run; bad checkpoints are refused.

The tiny Darcy data (16 train samples, batch 4: 4 steps per epoch), 3 epochs = 12 steps, with
last.ckpt also written every 3 steps. The run is stopped at step 7 (mid-epoch 1: the newest
checkpoint is step 6, two batches into the epoch) by an exception in-process (default), and by
``kill -9`` of a real `python train.py` process (slow). The resumed run must give the same
test metrics and weights as the uninterrupted one, which needs the train loader to skip the
two batches of epoch 1 it had already trained on (``ResumableLoader``).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch

from conftest import REPO, TINY_TRAIN
from pdebench_x.distributed import CheckpointError, resolve_resume
from pdebench_x.training import METRICS_FILE, run_training

RUN = TINY_TRAIN + ["trainer.max_epochs=3", "checkpoint_every_n_steps=3"]
STOP_AT = 7


class StopAt(L.Callback):
    """Stops the run once at global step ``step`` (a marker file remembers it happened).

    ``how="kill"``: SIGKILL to this process (no clean-up of any kind); ``how="raise"``: an exception.
    """

    def __init__(self, step: int, marker: str, how: str = "raise") -> None:
        self.step, self.marker, self.how = step, Path(marker), how

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if trainer.global_step == self.step and not self.marker.exists():
            self.marker.write_text(str(self.step))
            if self.how == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("simulated preemption")


def stop_overrides(marker: Path, how: str) -> list[str]:
    return ["+callbacks.stop._target_=test_resume.StopAt", f"+callbacks.stop.step={STOP_AT}",
            f"+callbacks.stop.marker={marker}", f"+callbacks.stop.how={how}"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def uninterrupted(tiny_darcy, tmp_path_factory):
    out = tmp_path_factory.mktemp("resume_full")
    run_dir = out / "darcy_fno" / "t0"
    record = run_training(tiny_darcy.config(RUN, output_dir=out), run_dir)
    return run_dir, record


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)["state_dict"]


@pytest.fixture(scope="module")
def resumed(tiny_darcy, tmp_path_factory):
    out = tmp_path_factory.mktemp("resume_stop")
    marker = out / "stopped"
    cfg = tiny_darcy.config(RUN + stop_overrides(marker, "raise") + ["resume=auto"], output_dir=out)
    first = out / "darcy_fno" / "t1"
    with pytest.raises(RuntimeError, match="simulated preemption"):
        run_training(cfg, first)
    assert marker.exists() and not (first / METRICS_FILE).exists()
    saved = torch.load(first / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    # the same command again: a new run directory, as Hydra would make
    record = run_training(cfg, out / "darcy_fno" / "t2")
    return first, saved, record


def test_the_stopped_run_had_a_mid_epoch_checkpoint(resumed):
    _, saved, _ = resumed
    assert saved["global_step"] == 6 and saved["epoch"] == 1
    state = saved["train_loader_position"]
    assert state["epoch"] == 1 and state["batches"] == 2


def test_resume_auto_continues_in_the_interrupted_run_directory(resumed, uninterrupted):
    first, _, _ = resumed
    assert (first / METRICS_FILE).exists()
    assert not (first.parent / "t2" / METRICS_FILE).exists()
    assert json.loads((first / METRICS_FILE).read_text())["global_steps"] == 12


def test_resumed_run_ends_as_the_uninterrupted_one(resumed, uninterrupted):
    first, _, record = resumed
    full_dir, full = uninterrupted
    a, b = record["metrics"]["steady"]["overall"], full["metrics"]["steady"]["overall"]
    for name, value in b.items():
        if value is not None:
            assert a[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name
    for k, v in weights(full_dir).items():
        torch.testing.assert_close(weights(first)[k], v, rtol=1e-6, atol=1e-8, msg=k)
    assert record["checkpoint"] and Path(record["checkpoint"]).parent == first / "checkpoints"
    assert Path(full["checkpoint"]).name == Path(record["checkpoint"]).name       # same epoch selected


def test_resume_auto_ignores_finished_runs_and_other_configs(tiny_darcy, uninterrupted, tmp_path):
    full_dir, _ = uninterrupted
    cfg = tiny_darcy.config(RUN + ["resume=auto"], output_dir=full_dir.parent.parent)
    assert resolve_resume(cfg, full_dir.parent / "new") == (full_dir.parent / "new", None)    # finished
    other = tiny_darcy.config(RUN + ["resume=auto", "seed=1"], output_dir=full_dir.parent.parent)
    (full_dir / METRICS_FILE).rename(full_dir / "m.json")
    try:
        assert resolve_resume(other, full_dir.parent / "new")[1] is None                        # another seed
        assert resolve_resume(cfg, full_dir.parent / "new") == (full_dir.resolve(),
                                                                full_dir.resolve() / "checkpoints" / "last.ckpt")
    finally:
        (full_dir / "m.json").rename(full_dir / METRICS_FILE)
    with pytest.raises(ValueError, match="not both"):
        resolve_resume(tiny_darcy.config(["resume=auto", "ckpt_path=x.ckpt"]), tmp_path)


def test_truncated_checkpoint_is_refused(tiny_darcy, uninterrupted, tmp_path):
    full_dir, _ = uninterrupted
    blob = (full_dir / "checkpoints" / "last.ckpt").read_bytes()
    bad = tmp_path / "truncated.ckpt"
    bad.write_bytes(blob[: len(blob) // 2])
    cfg = tiny_darcy.config(RUN + [f"resume={bad}"], output_dir=tmp_path)
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        run_training(cfg, tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()        # refused before training started


@pytest.mark.parametrize("other", [["model.net.hidden_channels=16"], ["model=unet"]])
def test_checkpoint_of_another_model_is_refused(tiny_darcy, uninterrupted, tmp_path, other):
    full_dir, _ = uninterrupted
    model = [o for o in RUN if not o.startswith("model")] if other == ["model=unet"] else RUN
    cfg = tiny_darcy.config(model + other + [f"resume={full_dir / 'checkpoints' / 'last.ckpt'}"],
                            output_dir=tmp_path)
    with pytest.raises(CheckpointError, match="another model") as err:
        run_training(cfg, tmp_path / "run")
    assert "nothing was loaded" in str(err.value)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_missing_checkpoint_file(tiny_darcy, tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        resolve_resume(tiny_darcy.config([f"resume={tmp_path / 'nope.ckpt'}"]), tmp_path)


@pytest.mark.slow
def test_kill_9_mid_epoch_then_the_same_command_resumes(tiny_darcy, uninterrupted, tmp_path):
    """A real `python train.py` process killed with SIGKILL at step 7, then started again."""
    full_dir, full = uninterrupted
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO)]),
           "PDEBENCH_X_DATA": str(tiny_darcy.root), "PDEBENCH_X_OUTPUTS": str(tmp_path), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(REPO / "train.py"), *tiny_darcy.overrides, *RUN, "resume=auto",
           *stop_overrides(tmp_path / "killed", "kill")]
    first = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == -signal.SIGKILL, first.stderr[-2000:]
    second = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    records = list(tmp_path.glob("darcy_fno/*/" + METRICS_FILE))
    assert len(records) == 1
    record = json.loads(records[0].read_text())
    assert record["global_steps"] == 12
    a, b = record["metrics"]["steady"]["overall"], full["metrics"]["steady"]["overall"]
    for name, value in b.items():
        if value is not None:
            assert a[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name
