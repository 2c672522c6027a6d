"""Published operator-learner figures reproduced through ``train.py``, printed beside the paper's.

    python benchmarks/reproduce.py --list                       # the targets, their cost and where they run
    python benchmarks/reproduce.py fno_burgers                  # train the missing seeds (0 1 2), then report
    python benchmarks/reproduce.py fno_darcy --seeds 0          # one seed (a GPU target: see --list)
    python benchmarks/reproduce.py fno_burgers --report         # report finished seeds only, train nothing

Each target is a paper configuration (``experiment=<name>``, checked against the official code by
tests/test_recipes_*.py) trained with ``python train.py experiment=<name> seed=<s> resume=auto``
in ``outputs/reproduce/<target>/seed<s>``: an interrupted run continues where it stopped, a
finished one is reused. The figure is the test relative L2 of the paper's metric, for each seed
and as mean ± sample std, with the model selection the paper used (FNO: the last epoch; MgNO:
the best validation epoch; each configuration's ``recipe.selection``); a target is "reproduced"
when every seed is at or below the paper's figure. The training budget actually spent (epochs,
optimiser steps, wall seconds, hardware) is printed from each run's metrics.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from _common import ROOT

OUT = ROOT / "outputs" / "reproduce"


@dataclass(frozen=True)
class Target:
    experiment: str
    paper: float            # the published figure (relative L2 on the test set)
    source: str             # where the paper states it
    metric: tuple[str, ...]  # path of our figure in metrics.json["metrics"]
    device: str             # where it is meant to run: "cpu" or "gpu"
    cost: str               # measured or estimated, with the hardware


FNO_PAPER = "Li et al., Fourier Neural Operator for Parametric PDEs, ICLR 2021"
ROLLOUT_L2 = ("rollout", "overall", "relative_l2_fno")
TARGETS = {
    "fno_burgers": Target("fno_burgers_paper", 0.0160, f"{FNO_PAPER}, sec. 5.1 (Burgers, s = 1024)", ROLLOUT_L2,
                          "cpu", "about 1 h of CPU time per seed, one thread (7.3 CPU s an epoch; benchmarks/README.md)"),
    "fno_darcy": Target("fno_darcy_paper", 0.0108, f"{FNO_PAPER}, sec. 5.2 (Darcy, s = 85)", ROLLOUT_L2,
                        "gpu", "minutes on one H100, generation included (benchmarks/gpu/run.sh)"),
    "fno_ns_1e3": Target("fno_ns_paper", 0.0128, f"{FNO_PAPER}, Table 1 (NS nu = 1e-3, T = 50, N = 1000, FNO-2D)",
                         ROLLOUT_L2, "gpu", "hours of GPU time (500 epochs unrolled over 40 steps)"),
    "fno_ns_1e5": Target("fno_ns_1e5_paper", 0.1556, f"{FNO_PAPER}, Table 1 (NS nu = 1e-5, T = 20, N = 1000, FNO-2D)",
                         ROLLOUT_L2, "gpu", "hours of GPU time, the 256^2 solve of 1200 samples included"),
    "mgno_darcy_rough": Target("mgno_paper", 0.339e-2, "He, Liu, Xu, MgNO, ICLR 2024, Darcy rough results",
                               ROLLOUT_L2, "gpu", "hours of GPU time (500 epochs at 256^2)"),
}


def run_dir(target: str, seed: int) -> Path:
    return OUT / target / f"seed{seed}"


def train(target: str, seed: int, extra: list[str]) -> None:
    """Train one seed unless its run has finished (metrics.json); resume=auto continues a killed one."""
    directory = run_dir(target, seed)
    if (directory / "metrics.json").exists():
        print(f"[reproduce] {directory}: finished, reused", flush=True)
        return
    cmd = [sys.executable, "train.py", f"experiment={TARGETS[target].experiment}", f"seed={seed}", "resume=auto",
           "trainer.enable_progress_bar=false", f"hydra.run.dir={directory}", *extra]
    print(f"[reproduce] {' '.join(cmd[1:])}", flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def figure(metrics: dict, path: tuple[str, ...]) -> float:
    value = metrics["metrics"]
    for key in path:
        value = value[key]
    return float(value)


def report(target: str, seeds: list[int]) -> bool:
    """Print ours beside the paper's; True when every requested seed has finished and is at or below it."""
    spec = TARGETS[target]
    rows, values = [], []
    for seed in seeds:
        path = run_dir(target, seed) / "metrics.json"
        if not path.exists():
            rows.append(f"  seed {seed}: not finished ({path.parent})")
            continue
        metrics = json.loads(path.read_text())
        value = figure(metrics, spec.metric)
        values.append(value)
        env = metrics.get("environment", {})
        hardware = env.get("gpu") or f"CPU x {env.get('cpu_count')}"
        rows.append(f"  seed {seed}: {value:.4g}  ({metrics.get('epochs')} epochs, {metrics.get('global_steps')} steps, "
                    f"{metrics.get('train_seconds', 0) / 3600:.2f} h wall, {hardware}, checkpoint "
                    f"{Path(metrics.get('checkpoint') or 'last epoch').name})")
    print(f"{target}: experiment={spec.experiment}; paper {spec.paper:.4g} ({spec.source})")
    print("\n".join(rows))
    if not values:
        return False
    spread = f" ± {statistics.stdev(values):.2g}" if len(values) > 1 else ""
    done = len(values) == len(seeds)
    verdict = "reproduced" if done and max(values) <= spec.paper else (
        "not reproduced" if done else "incomplete")
    print(f"  ours: {statistics.fmean(values):.4g}{spread} over {len(values)} seed(s) vs paper {spec.paper:.4g}: "
          f"{verdict} (every seed at or below the paper's figure)")
    return done and max(values) <= spec.paper


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", nargs="?", choices=sorted(TARGETS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--report", action="store_true", help="report finished seeds only; train nothing")
    p.add_argument("--list", action="store_true", help="list the targets")
    p.add_argument("extra", nargs="*", default=[], help="more train.py overrides after --")
    args = p.parse_args(argv)
    if args.list or args.target is None:
        for name, spec in TARGETS.items():
            print(f"{name:18s} experiment={spec.experiment:18s} paper {spec.paper:<7.4g} [{spec.device}] {spec.cost}")
        return 0
    if not args.report:
        for seed in args.seeds:
            train(args.target, seed, args.extra)
    return 0 if report(args.target, args.seeds) or args.report else 1


if __name__ == "__main__":
    sys.exit(main())
