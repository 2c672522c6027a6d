"""Regenerate the board's own records: the suite's solvers at the small setting.

    python benchmarks/make_board.py                 # every operator learner on darcy, ns, swe small, seeds 0 1 2
    python benchmarks/make_board.py --replace       # replace the suite's existing records of them
    python benchmarks/make_board.py --models fno --datasets darcy --epochs 3

For each (dataset, model, seed) it runs ``train.py`` (skipped when the run directory already
holds a finished run, so an interrupted regeneration resumes), scores the seeds together on
the official test split with the same code as ``score.py``, adds the record to
leaderboard/submissions/ and rebuilds leaderboard/README.md and index.html.

The small setting: each dataset's small preset as shipped, a fixed number of epochs on the
CPU. Records are never overwritten unless --replace is given, which removes only the records
of the solvers this script produces, before scoring them again.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("PDEBENCH_X_ROOT", str(REPO))

# the checkout's package (on sys.path above)
from pdebench_x.core.config import list_models
from pdebench_x.core.files import METRICS_FILE

#: The board's datasets at the small setting (conf/data/<name>.yaml); each is run with every operator
#: learner whose conf/model/<name>.yaml supports it.
DATASETS = ["darcy", "ns", "swe"]
EPOCHS = 2
SEEDS = (0, 1, 2)


def train(dataset: str, model: str, seed: int, epochs: int, out: Path, extra: list[str]) -> Path:
    run_dir = out / f"{dataset}_{model}_seed{seed}"
    if (run_dir / METRICS_FILE).exists():
        print(f"[make_board] {run_dir} already trained: reused", flush=True)
        return run_dir
    cmd = [sys.executable, "train.py", f"model={model}", f"data={dataset}", "data.preset=small", f"seed={seed}",
           f"trainer.max_epochs={epochs}", "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}", *extra]
    print(f"[make_board] {' '.join(cmd[1:])}", flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True)
    if not (run_dir / METRICS_FILE).exists():
        # Lightning exits 0 after a SIGTERM without testing: say so instead of scoring half a run.
        raise SystemExit(f"[make_board] {run_dir} ended without {METRICS_FILE} (interrupted?); run the "
                         "command again: finished runs are reused")
    print(f"[make_board] trained in {time.perf_counter() - start:.0f} s", flush=True)
    return run_dir


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=DATASETS)
    p.add_argument("--models", nargs="+", help="default: every operator learner that supports the dataset")
    p.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    p.add_argument("--epochs", type=int, default=EPOCHS)
    p.add_argument("--out", type=Path, default=REPO / "outputs" / "board_runs")
    p.add_argument("--replace", action="store_true", help="replace this script's existing records")
    p.add_argument("--extra", nargs="*", default=[], help="more train.py overrides (change the setting label too)")
    args = p.parse_args(argv)

    from pdebench_x.leaderboard import board, scoring, store
    from pdebench_x.core.paths import board_dir as default_board_dir, data_root as default_data_root
    board_dir = default_board_dir()
    fps = store.fingerprints_dir(board_dir)
    for dataset in args.datasets:
        for model in args.models or list(list_models("operator", family=dataset)):
            runs = [train(dataset, model, s, args.epochs, args.out, args.extra) for s in args.seeds]
            setting = f"small: {dataset} small preset, {args.epochs} epochs on CPU, `benchmarks/make_board.py`"
            record = scoring.score_runs(runs, fps, default_data_root(), setting=setting,
                                        dataset=f"{dataset}_small")
            target = store.submissions_dir(board_dir) / store.record_filename(record)
            if target.exists():
                if not args.replace:
                    print(f"[make_board] {target} exists; kept (pass --replace to regenerate it)", flush=True)
                    continue
                target.unlink()
            path = store.add_record(record, board_dir)
            agg = record["aggregate"]["overall"]["nrmse"]
            print(f"[make_board] {path.name}: nRMSE {agg['mean']:.4g} ± {agg['std']:.2g}", flush=True)
    readme, page = board.build(board_dir)
    print(f"[make_board] board written: {readme}, {page}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
