"""benchmarks/make_board.py trains every seed to the same CPU-time budget (or a fixed epoch count)
with overrides train.py accepts, and labels the records with that budget."""
from __future__ import annotations

import sys

from conftest import REPO, TINY_TRAIN, compose_config
from pdebench_x.training.preflight import check_run_settings
from pdebench_x.training.resume import resolve_resume

sys.path.insert(0, str(REPO / "benchmarks"))
import make_board  # noqa: E402  (the benchmark script, imported from its folder)


def test_the_cpu_budget_is_what_ends_training():
    overrides = make_board.budget_overrides(240.0, None)
    assert "+budget.cpu_seconds=240" in overrides
    cfg = compose_config(TINY_TRAIN + overrides)
    check_run_settings(cfg)
    assert cfg.budget.cpu_seconds == 240 and cfg.trainer.max_epochs >= 10_000  # the cap never binds first
    label = make_board.budget_label(240.0, None)
    assert label.startswith("240 s of process CPU time a seed (") and "cores)" in label


def test_the_old_epoch_setting_stays_available():
    assert make_board.budget_overrides(240.0, 2) == ["trainer.max_epochs=2"]
    assert make_board.budget_label(None, 2) == "2 epochs on CPU"


def test_an_interrupted_seed_continues_in_its_own_run_directory_only(tmp_path):
    """A rerun continues the seed's own last checkpoint, never a run of the same config found in
    another --out directory (resume=auto would continue that one there, and the script would not
    find the seed's metrics in its run directory)."""
    run_dir = tmp_path / "board_runs_cpu90s" / "ns_fno_seed0"
    other = tmp_path / "board_runs_cpu60s" / "ns_fno_seed0" / "checkpoints"
    other.mkdir(parents=True)
    (other / "last.ckpt").write_bytes(b"")
    run_dir.mkdir(parents=True)
    assert make_board.resume_override(run_dir) == "resume=null"
    (run_dir / "checkpoints").mkdir()
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"")
    cfg = compose_config(TINY_TRAIN + [make_board.resume_override(run_dir)])
    assert resolve_resume(cfg, run_dir) == (run_dir, run_dir / "checkpoints" / "last.ckpt")


def test_a_solver_already_on_the_board_is_not_trained_again(tmp_path):
    board = tmp_path / "board"
    (board / "submissions").mkdir(parents=True)
    assert make_board.kept_record(board, "ns", "fno") is None
    (board / "submissions" / "ns_small__fno.json").write_text("{}")
    assert make_board.kept_record(board, "ns", "fno") == board / "submissions" / "ns_small__fno.json"
    assert make_board.kept_record(board, "swe", "fno") is None


def test_replace_sets_the_regenerated_records_aside_before_scoring(tmp_path):
    """--replace moves this script's records of the datasets asked for out of the board first (a changed
    track fingerprint invalidates them all at once, and a new record is only added to a consistent
    board); others' records and other datasets stay, and nothing is deleted."""
    shipped = REPO / "leaderboard" / "submissions"
    board = tmp_path / "board"
    (board / "submissions").mkdir(parents=True)
    for name in ("ns_small__fno.json", "ns_small__pinn.json", "darcy_small__fno.json"):
        (board / "submissions" / name).write_bytes((shipped / name).read_bytes())
    (board / "submissions" / "ns_small__my-solver.json").write_text("{}")   # a submission: not ours to replace
    moved = make_board.set_aside(board, ["ns"], None, tmp_path / "aside")
    assert sorted(p.name for p in moved) == ["ns_small__fno.json", "ns_small__pinn.json"]
    assert sorted(p.name for p in (board / "submissions").iterdir()) == ["darcy_small__fno.json", "ns_small__my-solver.json"]
    assert (tmp_path / "aside" / "ns_small__fno.json").read_bytes() == (shipped / "ns_small__fno.json").read_bytes()
    assert [p.name for p in make_board.set_aside(board, ["darcy"], ["unet"], tmp_path / "aside")] == []
