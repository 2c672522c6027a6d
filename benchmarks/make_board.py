"""Regenerate the board's own records: the suite's solvers at the small setting, at equal compute.

    python benchmarks/make_board.py                 # every operator learner on darcy, ns, swe small, seeds 0 1 2
    python benchmarks/make_board.py --replace       # replace the suite's existing records of them
    python benchmarks/make_board.py --models fno --datasets darcy --cpu-budget 60
    python benchmarks/make_board.py --epochs 2      # the old setting: a fixed number of epochs instead

For each (dataset, model, seed) it runs ``train.py`` (skipped when the run directory already
holds a finished run, and an interrupted seed continues from its own last checkpoint, so an
interrupted regeneration resumes; a solver whose record is already on the board is skipped
altogether), scores the seeds together on the official test split with the same code as
``score.py``, adds the record to leaderboard/submissions/ and rebuilds leaderboard/README.md and
index.html.

The small setting: each dataset's small preset as shipped, every seed trained until it has spent
``--cpu-budget`` seconds of process CPU time in fit (``+budget.cpu_seconds``; the epoch then ends,
is validated and the checkpoint best on validation is tested), so that the ranking compares
solvers at equal compute, not at equal epochs. CPU time, not wall time: on a shared machine the
wall time moves with the load, the CPU time much less. The default, 90 s a seed with torch's
two threads on the 2-core development machine, is chosen so that the whole board regenerates in
about two hours there: measured 2026-12-07, one ``--replace`` regeneration took 2 h 8 min (3 datasets x
5 operator learners x 3 seeds = 45 seeds of 64-82 s of wall each, 56 min in all; the per-instance solvers'
fixed-iteration fits on the official, OOD and long-horizon splits, 54 min; the scoring, 18 min).
Earlier choices: 240 s (about 3.5 h), 120 s (2.4 h). The phases and their wall times are in
benchmarks/README.md. Each record states its budget and
carries every seed's learning curve (the board marks seeds still improving at the end).
The per-instance solvers are fitted on the K test instances of the official split and, afresh, on
K instances of the dataset's out-of-distribution split (the same indices) and long-horizon split (its
4 problems, all of them), as the operator learners are scored there (run directories
``<dataset>_<model>_seed0_ood`` / ``_long``), so their records carry those tracks as the operator
learners' do. Records are never overwritten unless --replace is given, which first moves the records of the
solvers this script produces (on the datasets asked for) to <out>/replaced_records/<time>/, then scores them again.
"""
from __future__ import annotations

import argparse
import json
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
CPU_BUDGET = 90.0
#: the epoch cap of a budgeted run: far more than any model reaches within the budget
MAX_EPOCHS_UNDER_BUDGET = 100_000
SEEDS = (0, 1, 2)


def budget_overrides(cpu_budget: float | None, epochs: int | None) -> list[str]:
    """train.py overrides of the training budget: CPU seconds a seed, or a fixed number of epochs."""
    if epochs is not None:
        return [f"trainer.max_epochs={epochs}"]
    return [f"+budget.cpu_seconds={cpu_budget:g}", f"trainer.max_epochs={MAX_EPOCHS_UNDER_BUDGET}"]


def budget_label(cpu_budget: float | None, epochs: int | None) -> str:
    if epochs is not None:
        return f"{epochs} epochs on CPU"
    from pdebench_x.core.machine import hardware
    machine = hardware()
    return f"{cpu_budget:g} s of process CPU time a seed ({machine['cpu']}, {machine['cpu_count']} cores)"


def resume_override(run_dir: Path) -> str:
    """The train.py override that continues an interrupted run of ``run_dir`` from its own last
    checkpoint, or starts afresh. Not ``resume=auto``: that also looks in other directories holding a
    run of the same config (another ``--out``, a renamed copy) and continues the run there, where
    this script would not find its metrics."""
    last = run_dir / "checkpoints" / "last.ckpt"
    return f"resume={last}" if last.is_file() else "resume=null"


def train(dataset: str, model: str, seed: int, budget: list[str], out: Path, extra: list[str], track: str = "") -> Path:
    run_dir = out / f"{dataset}_{model}_seed{seed}{f'_{track}' if track else ''}"
    if (run_dir / METRICS_FILE).exists():
        print(f"[make_board] {run_dir} already trained: reused", flush=True)
        return run_dir
    cmd = [sys.executable, "train.py", f"model={model}", f"data={dataset}", "data.preset=small", f"seed={seed}",
           *budget, "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}", resume_override(run_dir), *extra]
    print(f"[make_board] {' '.join(cmd[1:])}", flush=True)
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True)
    if not (run_dir / METRICS_FILE).exists():
        # Lightning exits 0 after a SIGTERM without testing: say so instead of scoring half a run.
        raise SystemExit(f"[make_board] {run_dir} ended without {METRICS_FILE} (interrupted?); run the "
                         "command again: finished runs are reused")
    print(f"[make_board] trained in {time.perf_counter() - start:.0f} s", flush=True)
    return run_dir


def produced_models(dataset: str, models: list[str] | None) -> list[str]:
    """The solvers this script scores on ``dataset``: ``models``, or every operator learner that supports
    it and then its per-instance solvers."""
    if models:
        return list(models)
    return [*list_models("operator", family=dataset), *list_models("per_instance", family=dataset)]


def set_aside(board_dir: Path, datasets: list[str], models: list[str] | None, into: Path) -> list[Path]:
    """Move the board's records that this run regenerates (the small records of :func:`produced_models`
    on ``datasets``) into ``into``, before anything is
    scored: the board must stay consistent for each new record to be added (a changed track
    fingerprint makes every old record of its dataset invalid at once), and the old records stay on
    disk (and in git) if the run stops."""
    from pdebench_x.leaderboard import store
    moved = []
    for dataset in datasets:
        produced = {m.lower() for m in produced_models(dataset, models)}
        for path in sorted(store.submissions_dir(board_dir).glob(f"{dataset}_small__*.json")):
            if path.stem.split("__", 1)[1].lower() in produced:
                into.mkdir(parents=True, exist_ok=True)
                moved.append(path.rename(into / path.name))
    return moved


def kept_record(board_dir: Path, dataset: str, model: str) -> Path | None:
    """The board's record of ``model`` on ``dataset``'s small preset, if there is one: it is kept, so the
    solver is neither trained nor scored again (``--replace`` has set the records it regenerates aside)."""
    from pdebench_x.leaderboard import store
    path = store.submissions_dir(board_dir) / store.record_filename(
        {"solver": {"name": model}, "dataset": {"name": f"{dataset}_small"}})
    if not path.exists():
        return None
    print(f"[make_board] {path} exists; kept, not trained again (pass --replace to regenerate it)", flush=True)
    return path


def publish(record: dict, board_dir: Path) -> None:
    """Add ``record`` to the board; an existing record of the solver is kept (``--replace`` has set
    the records it regenerates aside before scoring)."""
    from pdebench_x.leaderboard import store
    target = store.submissions_dir(board_dir) / store.record_filename(record)
    if target.exists():
        print(f"[make_board] {target} exists; kept (pass --replace to regenerate it)", flush=True)
        return
    path = store.add_record(record, board_dir)
    agg = (record["aggregate"].get("overall") or {}).get("nrmse") or {}
    summary = f"nRMSE {agg['mean']:.4g} ± {agg['std']:.2g}" if agg.get("mean") is not None else record["status"]
    print(f"[make_board] {path.name}: {summary}", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", nargs="+", default=DATASETS)
    p.add_argument("--models", nargs="+", help="default: every operator learner that supports the dataset")
    p.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--cpu-budget", type=float, default=CPU_BUDGET, help="process CPU seconds of training a seed")
    budget.add_argument("--epochs", type=int, help="train a fixed number of epochs instead of a CPU budget")
    p.add_argument("--out", type=Path, help="run directories (default: outputs/board_runs_<budget>)")
    p.add_argument("--replace", action="store_true", help="replace this script's existing records (set aside first, "
                   "in <out>/replaced_records/<time>/)")
    p.add_argument("--extra", nargs="*", default=[], help="more train.py overrides (change the setting label too)")
    args = p.parse_args(argv)

    from pdebench_x.leaderboard import board, scoring, store
    from pdebench_x.leaderboard.fingerprint import load_track, track_overrides
    from pdebench_x.leaderboard.scoring.per_instance_runs import TRACKS
    from pdebench_x.core.paths import board_dir as default_board_dir, data_root as default_data_root
    board_dir = default_board_dir()
    fps = store.fingerprints_dir(board_dir)
    budget = budget_overrides(args.cpu_budget, args.epochs)
    tag = f"epochs{args.epochs}" if args.epochs is not None else f"cpu{args.cpu_budget:g}s"
    out = args.out or REPO / "outputs" / f"board_runs_{tag}"
    if args.replace:
        aside = out / "replaced_records" / time.strftime("%Y%m%d-%H%M%S")
        for path in set_aside(board_dir, args.datasets, args.models, aside):
            print(f"[make_board] {path.name} set aside in {aside} (--replace)", flush=True)
    for dataset in args.datasets:
        for model in args.models or list(list_models("operator", family=dataset)):
            if kept_record(board_dir, dataset, model):
                continue
            runs = [train(dataset, model, s, budget, out, args.extra) for s in args.seeds]
            setting = (f"small: {dataset} small preset, {budget_label(args.cpu_budget, args.epochs)}, "
                       "`benchmarks/make_board.py`")
            publish(scoring.score_runs(runs, fps, default_data_root(), setting=setting, dataset=f"{dataset}_small"),
                    board_dir)
        if args.models:
            continue
        # The per-instance solvers, fitted afresh on the K test instances with their own iteration
        # budgets; their records state the CPU time the K fits took (seeds[].budget).
        # On the dataset's out-of-distribution and long-horizon splits they are fitted afresh on the
        # same K instances (fingerprints/ood/, fingerprints/long/), completing the record's tracks.
        for model in list_models("per_instance", family=dataset):
            if kept_record(board_dir, dataset, model):
                continue
            runs = [train(dataset, model, 0, [], out, args.extra)]
            if json.loads((runs[0] / METRICS_FILE).read_text()).get("status", "ok") == "ok":
                for kind in TRACKS:
                    track = load_track(fps, f"{dataset}_small", kind)
                    if track is not None:
                        runs.append(train(dataset, model, 0, track_overrides(track), out, args.extra, track=kind))
            publish(scoring.score_runs(runs, fps, default_data_root(), dataset=f"{dataset}_small"),
                    board_dir)
    readme, page = board.build(board_dir)
    print(f"[make_board] board written: {readme}, {page}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
