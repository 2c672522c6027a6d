"""Train a solver on a dataset: `python train.py model=<name> data=<name> [overrides]`.

Hydra composes conf/train.yaml; a missing dataset is generated on first use. The run
directory (outputs/<data>_<model>/<time>/) receives checkpoints, logs and metrics.json.
"""
import os
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

os.environ.setdefault("PDEBENCH_X_ROOT", str(Path(__file__).resolve().parent))


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> None:
    from pdebench_x.training import run_training
    run_training(cfg, HydraConfig.get().runtime.output_dir)


if __name__ == "__main__":
    main()
