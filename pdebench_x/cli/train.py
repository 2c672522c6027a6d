"""``pdebench-x train`` (and ``train.py``): train a solver on a dataset.

    pdebench-x train model=<name> data=<name> [overrides]      # -m for a Hydra sweep

Hydra composes pdebench_x/conf/train.yaml; a missing dataset is generated on first use. The run
directory (outputs/<data>_<model>/<time>_<random suffix>/, one per run) receives checkpoints,
logs and metrics.json. Bad input prints its message and exits with status 2.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

# Before torch loads OpenMP: with the default active spin-wait, two torch threads that share
# the cores with any other busy process slow down ~15x (measured: 18 s vs 1.15 s per FNO step).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import hydra  # noqa: E402
from hydra.core.hydra_config import HydraConfig  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from pdebench_x.core.config import config_dir  # noqa: E402
from pdebench_x.training import run_dir  # noqa: E402,F401  (registers ${run_suffix:} of hydra.run.dir / sweep.dir)


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
def main(cfg: DictConfig) -> None:
    from pdebench_x.training.resume import discard_unused_run_dir
    from pdebench_x.training.run import USER_ERRORS, run_training
    out = Path(HydraConfig.get().runtime.output_dir)
    try:
        run_training(cfg, out)
    except USER_ERRORS as err:
        # Bad input, not a bug: its message says what to change; no traceback, exit status 2,
        # and no run directory left behind by a run that was refused before it wrote anything.
        print(f"error: {err}", file=sys.stderr)
        discard_unused_run_dir(out)
        sys.exit(2)


if __name__ == "__main__":
    main()
