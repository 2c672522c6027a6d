"""Regenerate the model x dataset table of the README: parameters, seconds per epoch, test error.

Runs `train.py model=<m> data=<d>` for every pair at the small default settings (or reuses the
newest finished run of that pair with --reuse), then prints a Markdown table of our figures and,
in separate columns, the papers' headline numbers with their own settings (never the same column:
the papers' data and sizes differ from ours).

    python benchmarks/model_table.py                 # train all pairs (CPU: tens of minutes)
    python benchmarks/model_table.py --reuse         # table from the newest runs in outputs/
    python benchmarks/model_table.py --models fno mgno --data darcy --extra trainer.max_epochs=2
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from _common import ROOT

from pdebench_x.core.config import list_models
from pdebench_x.core.files import METRICS_FILE

DATASETS = ["darcy", "ns", "swe"]

# The papers' own headline figures, with their setting: another dataset, size and budget than ours.
PAPER = {
    "fno": "NS nu=1e-3 (FNO data, 64^2, 1000 train): rel L2 0.0128 (FNO-2D); Darcy s=85: 0.0108",
    "unet": "NS nu=1e-3 (FNO paper's U-Net): rel L2 0.0245",
    "mgno": "Darcy rough (own data, 256^2): rel L2 0.339e-2, H1 1.380e-2, 0.57M params",
    "sinenet": "SWE (PDEArena data), SineNet-8: one-step 1.02%, rollout 1.78% (circular padding)",
    "prose": "PROSE-PDE (20 1D PDEs): 0.92% rel L2; ODE systems 2.74%",
}


def newest_metrics(outputs: Path, model: str, data: str) -> dict | None:
    runs = sorted((outputs / f"{data}_{model}").glob(f"*/{METRICS_FILE}"))
    return json.loads(runs[-1].read_text()) if runs else None


def run(model: str, data: str, extra: list[str]) -> None:
    cmd = [sys.executable, str(ROOT / "train.py"), f"model={model}", f"data={data}", *extra]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def row(model: str, data: str, rec: dict | None) -> str:
    if rec is None:
        return f"| {model} | {data} | – | – | – | – | {PAPER.get(model, '')} |"
    section = rec["metrics"].get("rollout") or rec["metrics"].get("steady")
    overall = section["overall"]
    one = rec["metrics"].get("one_step", {}).get("overall", {})
    one_txt = f"{one['relative_l2_fno']:.4f}" if one else "–"
    return (f"| {model} | {data} | {rec['n_parameters']:,} | {rec['seconds_per_epoch']:.1f} | "
            f"{overall['relative_l2_fno']:.4f} | {one_txt} | {PAPER.get(model, '')} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", help="default: every operator learner that supports the dataset")
    parser.add_argument("--data", nargs="+", default=DATASETS)
    parser.add_argument("--reuse", action="store_true", help="do not train; read the newest runs")
    parser.add_argument("--extra", nargs="*", default=[], help="extra Hydra overrides for every run")
    args = parser.parse_args()
    outputs = Path(os.environ.get("PDEBENCH_X_OUTPUTS", ROOT / "outputs"))
    rows = []
    for data in args.data:
        for model in args.models or list(list_models("operator", family=data)):
            if not args.reuse:
                run(model, data, args.extra)
            rows.append(row(model, data, newest_metrics(outputs, model, data)))
    print("\n| model | data (small preset) | parameters | s / epoch (this machine) | test rel. L2 "
          "(rollout / steady) | one-step rel. L2 | paper's headline (their data and setting) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
