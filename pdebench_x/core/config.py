"""Where the Hydra configs are: ``pdebench_x/conf/``, shipped inside the package (package data),
so that ``train.py``, the scorer and the shard tool find them in a git checkout and in an
installed copy alike. Every place that composes or reads a config asks :func:`config_dir`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from omegaconf import DictConfig, OmegaConf

from pdebench_x.core.config_schema import SCHEMA_GROUP, register_schemas
from pdebench_x.core.paths import register_resolver

_CONF = Path(__file__).resolve().parents[1] / "conf"


def config_dir() -> Path:
    """The directory of ``train.yaml`` and the config groups, ready to compose: the schemas the
    model yamls extend are registered in Hydra's ConfigStore first (composing needs them)."""
    register_schemas()
    register_resolver()
    return _CONF


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    """``train.yaml`` composed with command-line style ``overrides``, as ``train.py`` sees it
    (for code outside a Hydra application: the public API, command-line tools, tests)."""
    from hydra import compose, initialize_config_dir
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides))


def list_models(kind: str | None = None, family: str | None = None) -> dict[str, list[str]]:
    """Every ``conf/model/<name>.yaml`` (the name ``model=<name>`` selects), sorted, with the data
    families it supports (its ``supports`` list); ``kind`` (``operator`` | ``per_instance``) keeps
    the models of that kind, ``family`` those that support it. Read from the yaml files themselves,
    without composing, so a new model is listed (by the benchmark scripts, by the smoke tests) the
    moment its yaml exists."""
    models = {}
    for path in sorted((_CONF / "model").glob("*.yaml")):
        raw = OmegaConf.load(path)
        supports = list(raw.get("supports", []))
        if kind is not None and _schema_kind(raw.get("defaults", []), path) != kind:
            continue
        if family is not None and family not in supports:
            continue
        models[path.stem] = supports
    return models


def _schema_kind(defaults: Sequence, path: Path) -> str:
    """The kind a model yaml extends: ``/schema/model/<kind>@_here_`` in its defaults list (the
    schema sets ``model.kind``; tests/test_configs.py checks that every model yaml names one)."""
    prefix = f"/{SCHEMA_GROUP}/"
    for entry in defaults:
        if isinstance(entry, str) and entry.startswith(prefix):
            return entry[len(prefix):].split("@")[0]
    raise ValueError(f"{path} extends no {prefix}<kind> schema in its defaults list")
