"""What the out-of-distribution and long-horizon tracks add to scoring one record.

The tracks issue allows scoring a checkpoint on every track at most a minute more per record on
CPU. This loads each seed's checkpoint of one solver's record (the board's runs) and times, in
process CPU seconds (all of torch's threads) and wall seconds, each part of its scoring as the
scorer runs it: the official test split, the zero-shot split (not a track: shown for scale), the
OOD split and the long-horizon rollout. The record's figures are the sums over its seeds; "tracks"
is OOD + long horizon. The splits must already be generated (a board rebuild or one ``score.py``
run makes them): their generation is a one-off cost of the split, not of each record.

    python benchmarks/bench_track_scoring.py                       # FNO, every dataset of the board
    python benchmarks/bench_track_scoring.py --datasets ns --models fno unet
    python benchmarks/bench_track_scoring.py --runs outputs/board_runs_cpu60s
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import ROOT, header
from make_board import CPU_BUDGET

RUNS = ROOT / "outputs" / f"board_runs_cpu{CPU_BUDGET:g}s"   # make_board.py's runs at its default budget
PARTS = ("official", "zero-shot", "OOD", "long horizon")


def timed(fn) -> tuple[float, float]:
    """(process CPU seconds, wall seconds) of one call."""
    cpu, wall = time.process_time(), time.perf_counter()
    fn()
    return time.process_time() - cpu, time.perf_counter() - wall


def part_costs(checkpoint: Path, dataset: str) -> dict[str, tuple[float, float]]:
    """{part: (CPU s, wall s)} of scoring one checkpoint, part by part, with the scorer's own calls."""
    from pdebench_x.core.paths import board_dir, data_root
    from pdebench_x.leaderboard import store
    from pdebench_x.leaderboard.fingerprint import load_fingerprint, load_track
    from pdebench_x.leaderboard.scoring.checkpoints import load_task, long_horizon_seed, score_task
    fps = store.fingerprints_dir(board_dir())
    fp = load_fingerprint(fps, dataset)
    ood, long = load_track(fps, dataset, "ood"), load_track(fps, dataset, "long")
    task = load_task(checkpoint).eval()
    calls = {"official": lambda: score_task(task, fp, data_root(), "test"),
             "zero-shot": (lambda: score_task(task, fp, data_root(), "zero_shot")) if fp.get("zero_shot") else None,
             "OOD": (lambda: score_task(task, ood, data_root(), "test")) if ood else None,
             "long horizon": (lambda: long_horizon_seed(task, long, data_root())) if long else None}
    return {part: timed(call) if call else (0.0, 0.0) for part, call in calls.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=["darcy", "ns", "swe"])
    p.add_argument("--models", nargs="+", default=["fno"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--runs", type=Path, default=RUNS, help="the board's run directories (make_board.py --out)")
    args = p.parse_args(argv)

    from pdebench_x.leaderboard.scoring.runs import resolve_run
    header("scoring one record part by part: what the OOD and long-horizon tracks add")
    print("| record | " + " | ".join(f"{part} CPU s" for part in PARTS) + " | tracks CPU s (wall s) | tracks per checkpoint |")
    print("|---|" + "---:|" * (len(PARTS) + 2))
    for dataset in args.datasets:
        for model in args.models:
            runs = [args.runs / f"{dataset}_{model}_seed{s}" for s in args.seeds]
            missing = [str(r) for r in runs if not r.is_dir()]
            if missing:
                print(f"| {dataset}_small {model} | runs missing: {', '.join(missing)} |")
                continue
            part_costs(resolve_run(runs[0])[0], f"{dataset}_small")  # warm-up: imports, split files opened once
            totals = {part: [0.0, 0.0] for part in PARTS}
            for run in runs:
                for part, (cpu, wall) in part_costs(resolve_run(run)[0], f"{dataset}_small").items():
                    totals[part][0] += cpu
                    totals[part][1] += wall
            tracks_cpu = totals["OOD"][0] + totals["long horizon"][0]
            tracks_wall = totals["OOD"][1] + totals["long horizon"][1]
            print(f"| {dataset}_small {model} ({len(runs)} seeds) | "
                  + " | ".join(f"{totals[part][0]:.1f}" for part in PARTS)
                  + f" | {tracks_cpu:.1f} ({tracks_wall:.1f}) | {tracks_cpu / len(runs):.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
