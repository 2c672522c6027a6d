"""The bad-input catalogue: what a new user may get wrong, and what each mistake must produce.

Every case is one row: the input, the error it must raise (in-process: the exception that the
command line turns into its exit status), words its message must contain (the setting or the
file, the value, what is allowed), and, for every case, that nothing already on disk changed:
a data root holding a complete dataset and a run directory are snapshotted (paths, sizes and
content hashes) before the call and compared after it.

The leaderboard's refusals (inconsistent records, reused hashes, identical seeds, predictions of
the wrong dtype, garbage checkpoints) are in the catalogue below too; their detailed variants
live in test_board_integrity.py. The kill-and-rerun cases are in test_lock.py.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Callable

import h5py
import numpy as np
import pytest
from conftest import TINY_DATA, TINY_TRAIN, compose_config, copy_dataset, read_split, write_pdebench_darcy

from pdebench_x.core.files import METRICS_FILE
from pdebench_x.cli import main as cli_main
from pdebench_x.data.datamodule import PDEDataModule
from pdebench_x.data.formats.base import DataFormatError
from pdebench_x.training.resume import CheckpointError, resolve_resume
from pdebench_x.training.preflight import SettingError, check_run_settings


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file under ``roots``: path -> sha256 of its bytes."""
    out = {}
    for root in roots:
        for path in sorted(Path(root).rglob("*")):
            if path.is_file():
                out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


@pytest.fixture
def workspace(tiny_darcy, tmp_path):
    """A data root with the complete tiny Darcy dataset and an outputs root with an earlier run."""
    data = copy_dataset(tiny_darcy, tmp_path / "data")
    outputs = tmp_path / "outputs"
    earlier = outputs / "darcy_fno" / "2026-01-01_00-00-00"
    earlier.mkdir(parents=True)
    (earlier / METRICS_FILE).write_text('{"model": "fno"}')
    return data, outputs


def settings_case(overrides: list[str]) -> Callable[[object, Path], None]:
    """Compose ``overrides`` on the tiny Darcy dataset and run the pre-flight settings check
    (the tiny FNO unless the overrides choose another model)."""
    base = [] if any(o.startswith("model=") for o in overrides) else TINY_TRAIN
    def run(data, outputs):
        check_run_settings(data.config(base + overrides, output_dir=outputs))
    return run


def external_file_case(split: str, value: float, field: str = "u") -> Callable[[object, Path], None]:
    """A PDEBench-layout copy of the tiny dataset with one non-finite value in ``split``, opened
    as a user's file (data.path): the data module must refuse it before any training."""
    order = {"train": 0, "valid": 16, "test": 20}

    def run(data, outputs):
        a = np.concatenate([read_split(data.paths[s], "a") for s in ("train", "valid", "test")])
        u = np.concatenate([read_split(data.paths[s], "u") for s in ("train", "valid", "test")])
        (u if field == "u" else a)[order[split] + 1, 3, 5] = value
        (outputs.parent / "user").mkdir(exist_ok=True)
        path = write_pdebench_darcy(outputs.parent / "user" / "2D_DarcyFlow_beta1.0_Train.hdf5", a, u)
        cfg = compose_config(TINY_TRAIN + [f"data.path={path}",
                                           "data.splits={train: [0, 16], valid: [16, 20], test: [20, 24]}"],
                             data_dir=data.root, output_dir=outputs)
        PDEDataModule(cfg.data, root=cfg.paths.data_dir).setup()
    return run


def generated_case(overrides: list[str]) -> Callable[[object, Path], None]:
    """Open the tiny generated dataset with ``overrides`` through the data module."""
    def run(data, outputs):
        cfg = data.config(TINY_TRAIN + overrides, output_dir=outputs)
        PDEDataModule(cfg.data, root=cfg.paths.data_dir).setup()
    return run


def path_case(make: Callable[[Path], Path]) -> Callable[[object, Path], None]:
    """``data.path`` pointing at what ``make(dir)`` returns."""
    def run(data, outputs):
        path = make(outputs.parent)
        cfg = compose_config(TINY_TRAIN + [f"data.path={path}"], data_dir=data.root, output_dir=outputs)
        PDEDataModule(cfg.data, root=cfg.paths.data_dir).setup()
    return run


def shards_case(args: list[str]) -> Callable[[object, Path], None]:
    """``pdebench-x generate``; its exit status 2 is turned into an exception carrying the message."""
    def run(data, outputs):
        code = cli_main(["generate", "data=darcy", f"paths.data_dir={data.root}", *TINY_DATA, *args])
        if code != 0:
            raise SystemExit(code)
    return run


def resume_case(resume: str, ckpt_path: str | None = None) -> Callable[[object, Path], None]:
    def run(data, outputs):
        extra = [f"resume={resume}"] + ([f"ckpt_path={ckpt_path}"] if ckpt_path else [])
        cfg = data.config(TINY_TRAIN + extra, output_dir=outputs)
        resolve_resume(cfg, outputs / "darcy_fno" / "new")
    return run


def garbage(name: str, content: bytes) -> Callable[[Path], Path]:
    def make(where: Path) -> Path:
        path = where / name
        path.write_bytes(content)
        return path
    return make


#: (id, action, exception, words the message must hold)
CASES = [
    ("n_instances negative", settings_case(["data.n_instances=-2"]), SettingError, ["data.n_instances=-2", "positive integer"]),
    ("n_instances zero", settings_case(["data.n_instances=0"]), SettingError, ["data.n_instances=0"]),
    ("train size negative", settings_case(["data.sizes.train=-5"]), SettingError, ["data.sizes.train=-5", "positive integer"]),
    ("test size zero", settings_case(["data.sizes.test=0"]), SettingError, ["data.sizes.test=0"]),
    ("max_epochs zero", settings_case(["trainer.max_epochs=0"]), SettingError, ["trainer.max_epochs=0", "untrained"]),
    ("max_epochs -1 without max_steps", settings_case(["trainer.max_epochs=-1"]), SettingError, ["trainer.max_steps"]),
    ("max_train_samples zero", settings_case(["data.max_train_samples=0"]), SettingError,
     ["data.max_train_samples=0", "null (every training sample)"]),
    ("seed not a number", settings_case(["seed=abc"]), SettingError, ["seed='abc'", "integer"]),
    ("seed negative", settings_case(["seed=-1"]), SettingError, ["seed=-1"]),
    ("instance_seed negative", settings_case(["data.instance_seed=-3"]), SettingError, ["data.instance_seed=-3"]),
    ("batch_size zero", settings_case(["data.batch_size=0"]), SettingError, ["data.batch_size=0"]),
    ("num_workers negative", settings_case(["data.num_workers=-1"]), SettingError, ["data.num_workers=-1"]),
    ("cpu budget zero", settings_case(["+budget.cpu_seconds=0"]), SettingError, ["budget.cpu_seconds=0", "seconds > 0"]),
    ("recipe selection unknown", settings_case(["model.recipe.selection=first"]), SettingError,
     ["model.recipe.selection='first'", "('best', 'last')"]),
    ("several at once", settings_case(["data.n_instances=-2", "trainer.max_epochs=0"]), SettingError,
     ["data.n_instances=-2", "trainer.max_epochs=0"]),
    ("mgno grid not divisible by 8", settings_case(["model=mgno", "data.generator.resolution=20"]), SettingError,
     ["model=mgno", "20x20", "divisible by 2^(levels-1) = 8"]),
    ("unet grid not divisible", settings_case(["model=unet", "data.generator.resolution=20"]), SettingError,
     ["model=unet", "divisible by"]),
    ("unknown preset", settings_case(["data.preset=huge"]), SettingError, ["unknown preset 'huge'", "small"]),
    ("generator setting out of range", settings_case(["data.generator.resolution=0"]), SettingError,
     ["resolution", "must be >= 2, got 0"]),
    ("history zero", settings_case(["data=ns", "data.problem.history=0"]), SettingError, ["data.problem.history=0"]),
    ("per-instance K zero", settings_case(["model=pinn", "model.fit.instances=0"]), SettingError,
     ["model.fit.instances=0"]),
    ("NaN in a user's test split", external_file_case("test", np.nan), DataFormatError,
     ["test split", "sample 1", "['u']", "Nothing was trained"]),
    ("inf in a user's train split", external_file_case("train", np.inf, field="a"), DataFormatError,
     ["train split", "sample 1", "['a']"]),
    ("unknown field", generated_case(["data.problem.targets=[pressure]"]), DataFormatError,
     ["no channel(s) ['pressure']", "this file has"]),
    ("data.path not HDF5", path_case(garbage("notes.hdf5", b"not an hdf5 file")), DataFormatError, ["notes.hdf5"]),
    ("data.path unknown layout", path_case(lambda d: _h5_with(d / "other.h5", "foo")), DataFormatError,
     ["other.h5"]),
    ("shard index out of range", shards_case(["shard=1/1"]), SystemExit, ["shard='1/1'", "0..n-1"]),
    ("shard not i/n", shards_case(["shard=abc"]), SystemExit, ["shard='abc'", "shard=i/n"]),
    ("shard command, bad size", shards_case(["shard=0/2", "data.sizes.train=-5"]), SystemExit,
     ["data.sizes.train=-5"]),
    ("resume from a missing file", resume_case("/nonexistent/last.ckpt"), CheckpointError, ["no such checkpoint file"]),
    ("resume and ckpt_path both", resume_case("auto", "/x.ckpt"), ValueError, ["not both"]),
]


def _h5_with(path: Path, key: str) -> Path:
    with h5py.File(path, "w") as f:
        f[key] = np.zeros(3)
    return path


@pytest.mark.parametrize("action, error, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_clearly_and_changes_nothing(workspace, capsys, action, error, words):
    data, outputs = workspace
    before = snapshot(data.root, outputs)
    with pytest.raises(error) as caught:
        action(data, outputs)
    message = str(caught.value) + capsys.readouterr().err
    for word in words:
        assert word in message, f"{word!r} not in the message:\n{message}"
    after = snapshot(data.root, outputs)
    assert {k: v for k, v in after.items() if k in before} == before, "a file that was there changed"
    new_in_data = [p for p in after if p not in before and p.startswith(str(data.root))]
    assert not new_in_data, f"bad input wrote into the data root: {new_in_data}"


def test_catalogue_is_large_enough():
    names = [c[0] for c in CASES + CLI_CASES]
    assert len(names) >= 25 and len(set(names)) == len(names)


def test_a_valid_config_passes_the_settings_check(workspace):
    data, outputs = workspace
    check_run_settings(data.config(TINY_TRAIN, output_dir=outputs))
    check_run_settings(data.config(["model=mgno", "data.generator.resolution=16"], output_dir=outputs))


# ------------------------------------------------------------------------------------------
# The command line of the board and the scorer: exit status 2, one line, the board unchanged
# ------------------------------------------------------------------------------------------
SHIPPED = Path(__file__).resolve().parents[1] / "leaderboard"


def _shipped(name: str) -> dict:
    return json.loads((SHIPPED / "submissions" / f"{name}.json").read_text())


def scaled_record(where: Path) -> list[str]:
    """A shipped record, renamed, every seed's overall nRMSE x 0.1 and the aggregate recomputed."""
    from pdebench_x.leaderboard.scoring.records import aggregate
    rec = _shipped("darcy_small__fno")
    rec["solver"]["name"] = "fno-scaled"
    for seed in rec["seeds"]:
        seed["metrics"]["steady"]["overall"]["nrmse"] *= 0.1
        seed.pop("checkpoint_sha256")
    rec["aggregate"] = aggregate(rec["seeds"])
    (where / "scaled.json").write_text(json.dumps(rec))
    return ["board", "add", str(where / "scaled.json")]


def renamed_record(where: Path) -> list[str]:
    rec = _shipped("darcy_small__fno")
    rec["solver"]["name"] = "my-new-solver"
    (where / "renamed.json").write_text(json.dumps(rec))
    return ["board", "add", str(where / "renamed.json")]


def garbage_checkpoint(where: Path) -> list[str]:
    paths = [where / f"seed{i}.ckpt" for i in range(3)]
    for i, path in enumerate(paths):
        path.write_bytes(b"\x00garbage" * (100 + i))
    return ["score", "run=" + ",".join(map(str, paths)), "dataset=darcy_small"]


def smoke_run(where: Path) -> list[str]:
    run = where / "outputs" / "darcy_fno" / "smoke"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.ckpt").write_bytes(b"")
    (run / METRICS_FILE).write_text(json.dumps({"model": "fno", "config": {"trainer": {"fast_dev_run": True}}}))
    return ["score", f"run={run}", "dataset=darcy_small"]


def missing_run(where: Path) -> list[str]:
    return ["score", f"run={where / 'no_such_run'}"]


def unknown_key(where: Path) -> list[str]:
    return ["score", "rnu=outputs/x"]


#: (id, argv maker, words the message must hold)
CLI_CASES = [
    ("board add: nRMSE scaled by 0.1", scaled_record, ["per_channel values give"]),
    ("board add: a record's files under a new name", renamed_record, ["already belongs to darcy_small__fno.json"]),
    ("score: a garbage checkpoint", garbage_checkpoint, ["cannot be read as a checkpoint", "written by train.py"]),
    ("score: a fast_dev_run smoke run", smoke_run, ["fast_dev_run smoke run", "mean nothing"]),
    ("score: a run that does not exist", missing_run, ["does not exist"]),
    ("score: a misspelt key", unknown_key, ["unknown key 'rnu'"]),
]


@pytest.mark.parametrize("make, words", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_board_and_scorer_refuse_with_exit_status_2(tmp_path, capsys, make, words):
    board = tmp_path / "board"
    shutil.copytree(SHIPPED, board, ignore=shutil.ignore_patterns("SUBMITTING.md"))
    argv = make(tmp_path)
    before = snapshot(board)
    code = cli_main([*argv, "--board", str(board), "--data-root", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: "), err
    for word in words:
        assert word in err, f"{word!r} not in:\n{err}"
    assert "Traceback" not in err and snapshot(board) == before


def test_train_py_refuses_bad_settings_with_status_2_and_leaves_nothing(tmp_path):
    """The whole command, as a user runs it: the message, exit status 2, no traceback, no data
    generated and no run directory left behind."""
    import os
    import subprocess
    import sys
    env = {**os.environ, "PDEBENCH_X_DATA": str(tmp_path / "data"), "PDEBENCH_X_OUTPUTS": str(tmp_path / "out")}
    done = subprocess.run([sys.executable, "train.py", "data.n_instances=-2", "seed=abc"], env=env, text=True,
                          capture_output=True, timeout=300, cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 2, done.stderr
    assert "error: invalid setting(s)" in done.stderr and "data.n_instances=-2" in done.stderr
    assert "seed='abc'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
