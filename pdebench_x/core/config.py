"""Where the Hydra configs are: ``pdebench_x/conf/``, shipped inside the package (package data),
so that ``train.py``, the scorer and the shard tool find them in a git checkout and in an
installed copy alike. Every place that composes or reads a config asks :func:`config_dir`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig

from pdebench_x.core.config_schema import register_schemas

_CONF = Path(__file__).resolve().parents[1] / "conf"


def config_dir() -> Path:
    """The directory of ``train.yaml`` and the config groups, ready to compose: the schemas the
    model yamls extend are registered in Hydra's ConfigStore first (composing needs them)."""
    register_schemas()
    return _CONF


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    """``train.yaml`` composed with command-line style ``overrides``, as ``train.py`` sees it
    (for code outside a Hydra application: the public API, command-line tools, tests)."""
    from hydra import compose, initialize_config_dir
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))
