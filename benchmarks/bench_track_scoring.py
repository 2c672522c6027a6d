"""What the out-of-distribution and long-horizon tracks add to scoring one record.

The tracks issue allows scoring a checkpoint on every track at most a minute more per record on
CPU. This scores the same board runs twice in one process, the record of one solver on one
dataset (its 3 seeds): once with the board's fingerprints as shipped (official split, zero-shot,
OOD and long-horizon tracks) and once with a copy that lacks the track fingerprints
(``fingerprints/ood/``, ``fingerprints/long/``), so that only the tracks differ. Process CPU time
(all of torch's threads) and wall time are printed side by side, with the difference per record.
The track splits must already be generated (a board rebuild or one ``score.py`` run makes them):
their generation is a one-off cost of the split, not of each record.

    python benchmarks/bench_track_scoring.py                       # FNO, every dataset of the board
    python benchmarks/bench_track_scoring.py --datasets ns --models fno unet
    python benchmarks/bench_track_scoring.py --runs outputs/board_runs_cpu240s
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from _common import ROOT, header

RUNS = ROOT / "outputs" / "board_runs_cpu240s"


def timed(fn) -> tuple[float, float, object]:
    """(process CPU seconds, wall seconds, result) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    return time.process_time() - cpu, time.perf_counter() - wall, out


def without_tracks(fingerprints: Path, dest: Path) -> Path:
    """A copy of the board's official fingerprints only (the files directly in the folder)."""
    dest.mkdir(parents=True)
    for path in fingerprints.glob("*.json"):
        shutil.copy2(path, dest / path.name)
    return dest


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["darcy", "ns", "swe"])
    p.add_argument("--models", nargs="+", default=["fno"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--runs", type=Path, default=RUNS, help="the board's run directories (make_board.py --out)")
    args = p.parse_args(argv)

    from pdebench_x.core.paths import board_dir, data_root
    from pdebench_x.leaderboard import scoring, store
    header("scoring one record with and without the OOD and long-horizon tracks")
    fingerprints = store.fingerprints_dir(board_dir())
    print("| record | tracks scored | CPU s, with tracks | CPU s, without | CPU s added | wall s, with | wall s, without | wall s added |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        bare = without_tracks(fingerprints, Path(tmp) / "fingerprints")
        for dataset in args.datasets:
            for model in args.models:
                runs = [args.runs / f"{dataset}_{model}_seed{s}" for s in args.seeds]
                missing = [str(r) for r in runs if not r.is_dir()]
                if missing:
                    print(f"| {dataset}_small {model} | runs missing: {', '.join(missing)} | | | | | | |")
                    continue
                score = lambda fps: scoring.score_runs(runs, fps, data_root(), dataset=f"{dataset}_small")  # noqa: E731
                score(fingerprints)  # warm-up: imports, data files opened once, split checks cached by the OS
                cpu_with, wall_with, rec = timed(lambda: score(fingerprints))
                cpu_without, wall_without, _ = timed(lambda: score(bare))
                tracks = [name for name in ("ood", "long_horizon") if rec.get(name)] or ["none"]
                print(f"| {dataset}_small {model} ({len(runs)} seeds) | {', '.join(tracks)} | {cpu_with:.1f} | "
                      f"{cpu_without:.1f} | {cpu_with - cpu_without:.1f} | {wall_with:.1f} | {wall_without:.1f} | "
                      f"{wall_with - wall_without:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
