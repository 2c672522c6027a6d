"""Train a solver on a dataset: `python train.py model=<name> data=<name> [overrides]`.

The same command as `pdebench-x train` (pdebench_x/cli/train.py); datasets and runs land under
this checkout unless PDEBENCH_X_DATA / PDEBENCH_X_OUTPUTS say otherwise.
"""
import os
from pathlib import Path

os.environ.setdefault("PDEBENCH_X_ROOT", str(Path(__file__).resolve().parent))

from pdebench_x.cli.train import main  # noqa: E402

if __name__ == "__main__":
    main()
