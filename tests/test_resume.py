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
import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch

from conftest import REPO, TINY_TRAIN, compose_config
from pdebench_x.core.files import METRICS_FILE
from pdebench_x.training.resume import RUN_CONFIG_FILE, CheckpointError, resolve_resume, run_identity, write_run_identity
from pdebench_x.training.run import run_training

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
    assert not (first.parent / "t2").exists()          # the new, unused directory was removed
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
    assert list(tmp_path.glob("darcy_fno/*/")) == [records[0].parent]   # the second session's new dir is gone
    assert "resume=auto: continuing the run" in (records[0].parent / "train.log").read_text()
    record = json.loads(records[0].read_text())
    assert record["global_steps"] == 12
    a, b = record["metrics"]["steady"]["overall"], full["metrics"]["steady"]["overall"]
    for name, value in b.items():
        if value is not None:
            assert a[name] == pytest.approx(value, rel=1e-6, abs=1e-9), name


# ---------------------------------------------------------------------------------------------
# resume=auto: the directory it leaves, and finding runs after their root moved (no training:
# an interrupted run is a directory with a checkpoint file and its run_config.json)
# ---------------------------------------------------------------------------------------------
def interrupted_run(run_dir: Path, cfg, identity: dict | None = None) -> Path:
    """A directory as a run of ``cfg`` killed mid-training leaves it (the checkpoint's content is not read)."""
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"not read here")
    if identity is None:
        write_run_identity(cfg, run_dir)
    else:
        (run_dir / RUN_CONFIG_FILE).write_text(json.dumps(identity))
    return run_dir


def fresh_hydra_dir(run_dir: Path) -> Path:
    """What Hydra puts in a new run directory before the task starts: its config copy and the job log."""
    (run_dir / ".hydra").mkdir(parents=True)
    for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
        (run_dir / ".hydra" / name).write_text("{}\n")
    return run_dir


@pytest.fixture
def job_log(tmp_path):
    """A FileHandler on the root logger, as Hydra's job logging: <run dir>/train.log."""
    handlers = []

    def attach(path: Path) -> logging.FileHandler:
        handler = logging.FileHandler(path)
        handler.setLevel(logging.INFO)
        logging.getLogger().addHandler(handler)
        handlers.append(handler)
        return handler

    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.INFO)
    yield attach
    for handler in handlers:
        logging.getLogger().removeHandler(handler)
        handler.close()
    logging.getLogger().setLevel(level)


def test_resume_removes_the_unused_new_directory_and_moves_its_log(tmp_path, job_log):
    cfg = compose_config(["resume=auto"], output_dir=tmp_path)
    old = interrupted_run(tmp_path / "darcy_fno" / "t1", cfg)
    (old / "train.log").write_text("the first session\n")
    new = fresh_hydra_dir(tmp_path / "darcy_fno" / "t2")
    handler = job_log(new / "train.log")
    logging.getLogger("some.module").info("before resolving")
    assert resolve_resume(cfg, new) == (old.resolve(), old.resolve() / "checkpoints" / "last.ckpt")
    logging.getLogger("some.module").info("after resolving")
    handler.flush()
    assert not new.exists()
    text = (old / "train.log").read_text()
    assert text.startswith("the first session\n")
    assert text.index("before resolving") < text.index(f"removed {new}") < text.index("after resolving")


def test_resume_keeps_a_new_directory_that_holds_anything_else(tmp_path):
    cfg = compose_config(["resume=auto"], output_dir=tmp_path)
    old = interrupted_run(tmp_path / "darcy_fno" / "t1", cfg)
    new = fresh_hydra_dir(tmp_path / "darcy_fno" / "t2")
    (new / "notes.txt").write_text("mine")
    assert resolve_resume(cfg, new)[0] == old.resolve()
    assert (new / "notes.txt").exists() and (new / ".hydra" / "config.yaml").exists()
    # a requeued job continuing in its own directory keeps it, of course
    assert resolve_resume(cfg, old) == (old.resolve(), old.resolve() / "checkpoints" / "last.ckpt")
    assert old.is_dir()


def test_resume_finds_the_run_after_the_outputs_and_data_roots_moved(tmp_path):
    before, after = tmp_path / "before", tmp_path / "after"
    cfg = compose_config(["resume=auto"], data_dir=before / "data", output_dir=before / "out")
    interrupted_run(before / "out" / "darcy_fno" / "t1", cfg)
    shutil.move(before, after)
    moved = compose_config(["resume=auto"], data_dir=after / "data", output_dir=after / "out")
    found = after / "out" / "darcy_fno" / "t1"
    assert resolve_resume(moved, after / "out" / "darcy_fno" / "t2")[0] == found.resolve()
    assert "paths" not in run_identity(moved)
    assert run_identity(moved) == run_identity(cfg)
    # ... and a setting that changes training still tells the runs apart
    other = compose_config(["resume=auto", "seed=1"], data_dir=after / "data", output_dir=after / "out")
    assert resolve_resume(other, after / "out" / "darcy_fno" / "t3")[1] is None


def test_resume_finds_a_run_whose_identity_was_written_with_its_paths(tmp_path):
    """run_config.json of older runs holds the whole config, paths included."""
    old_root, new_root = tmp_path / "old", tmp_path / "new"
    old_cfg = compose_config(["resume=auto"], output_dir=old_root)
    from omegaconf import OmegaConf
    written = {k: v for k, v in OmegaConf.to_container(old_cfg, resolve=True).items()
               if k not in ("resume", "ckpt_path")}
    assert written["paths"]["output_dir"] == str(old_root)
    run = interrupted_run(new_root / "darcy_fno" / "t1", old_cfg, identity=written)
    cfg = compose_config(["resume=auto"], output_dir=new_root)
    assert resolve_resume(cfg, new_root / "darcy_fno" / "t2")[0] == run.resolve()


def test_a_setting_added_later_with_a_null_default_keeps_the_run_the_same():
    """A run made before a recipe key existed (its run_config.json lacks it) is the same run as
    one composed now with that key at its null default; a real change of any value is not."""
    from pdebench_x.training.resume import same_run
    stored = {"seed": 0, "model": {"recipe": {"loss": "rel_l2", "steps_per_epoch": None}}, "resume": None}
    now = {"seed": 0, "model": {"recipe": {"loss": "rel_l2", "steps_per_epoch": None, "unroll_steps": None}}}
    assert same_run(stored, now)
    assert not same_run(stored, {"seed": 0, "model": {"recipe": {"loss": "rel_l2", "unroll_steps": 4}}})
    assert not same_run(stored, {"seed": 1, "model": {"recipe": {"loss": "rel_l2"}}})
