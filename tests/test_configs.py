"""The Hydra configs: shipped inside the package, one schema for both model kinds, every model
composed with every dataset it declares (compose only: seconds), experiments as deltas, data
yamls in step with their generators."""
from __future__ import annotations

import json
import tomllib

import pytest
import yaml
from hydra.errors import ConfigCompositionException
from hydra.utils import get_class, instantiate
from omegaconf import OmegaConf

from conftest import CONF_DIR, REPO, compose_config
from pdebench_x.core.config_schema import MODEL_SCHEMAS
from pdebench_x.data.build import generator_class, plan_from_config
from pdebench_x.training.per_instance import build_solver

MODELS = sorted(p.stem for p in (CONF_DIR / "model").glob("*.yaml"))
DATA = sorted(p.stem for p in (CONF_DIR / "data").glob("*.yaml"))
EXPERIMENTS = sorted(p.stem for p in (CONF_DIR / "experiment").glob("*.yaml"))
#: Keys every model config gained with issue 15, absent from the configs recorded before it.
ADDED_BY_ISSUE_15 = ("kind", "supports")
#: Recipe keys added later with their defaults; a recorded entry that holds one compares it too.
ADDED_TO_THE_RECIPE = {"selection": "best", "unroll_steps": None, "pushforward": None, "input_normalization": None}


def supported(model: str) -> list[str]:
    return list(OmegaConf.load(CONF_DIR / "model" / f"{model}.yaml").supports)


def exception_text(err: BaseException) -> str:
    """Hydra's message and the OmegaConf error under it (which names the full key)."""
    return f"{err}\n{err.__cause__ or ''}"


# ------------------------------------------------------------------------------ package data

def test_configs_are_package_data():
    """Every yaml under pdebench_x/conf matches pyproject's package-data globs, so an installed
    pdebench_x (not only a git checkout) has them where config_dir() looks."""
    assert CONF_DIR == REPO / "pdebench_x" / "conf" and (CONF_DIR / "train.yaml").is_file()
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = {p for pattern in package_data["pdebench_x"] for p in (REPO / "pdebench_x").glob(pattern)}
    yamls = set(CONF_DIR.rglob("*.yaml"))
    assert yamls and yamls <= shipped, sorted(str(p) for p in yamls - shipped)


# ------------------------------------------------------------------------------ the model schema

@pytest.mark.parametrize("model", MODELS)
def test_every_model_yaml_extends_a_schema_and_declares_its_datasets(model):
    cfg = compose_config([f"model={model}"])
    schema = OmegaConf.get_type(cfg.model)
    assert schema in MODEL_SCHEMAS.values(), f"conf/model/{model}.yaml names no /schema/model/<kind> in its defaults"
    assert cfg.model.kind == {v: k for k, v in MODEL_SCHEMAS.items()}[schema]
    assert cfg.model.supports and set(cfg.model.supports) <= set(DATA), cfg.model.supports
    # both kinds are built from a _target_ that must name a class
    target = cfg.model.solver._target_ if cfg.model.kind == "per_instance" else cfg.model.net._target_
    assert isinstance(get_class(target), type)


@pytest.mark.parametrize("model,data", [(m, d) for m in MODELS for d in supported(m)])
def test_every_model_composes_with_every_dataset_it_supports(model, data):
    """Compose only (seconds): a new conf/model/<name>.yaml is tested the moment it exists."""
    cfg = compose_config([f"model={model}", f"data={data}"])
    assert cfg.model.name and cfg.data.family == data
    assert not OmegaConf.missing_keys(cfg.model), OmegaConf.missing_keys(cfg.model)
    OmegaConf.to_container(cfg.model, resolve=True)


@pytest.mark.parametrize("overrides,key", [
    (["model.recipe.lernrate=1"], "model.recipe.lernrate"),
    (["model=pinn", "model.fit.colocation=5"], "model.fit.colocation"),
    (["model=pinn", "model.solver.target=x"], "model.solver.target"),
    (["model=mgno", "model.recpie.loss=rel_l2"], "model.recpie"),
])
def test_misspelt_model_keys_fail_when_composed(overrides, key):
    with pytest.raises(ConfigCompositionException) as err:
        compose_config(overrides)
    assert key in exception_text(err.value)


def test_values_of_the_wrong_type_fail_when_composed():
    with pytest.raises(ConfigCompositionException) as err:
        compose_config(["model.recipe.gradient_clip_val=high"])
    assert "model.recipe.gradient_clip_val" in exception_text(err.value)


def test_misspelt_key_in_an_experiment_yaml_fails_when_composed(tmp_path):
    """A yaml merged into the model (an experiment, a user's config) is checked against the schema too."""
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "typo.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /model: fno\nmodel:\n  recipe:\n    lernrate: 1.0\n")
    with pytest.raises(ConfigCompositionException) as err:
        compose_config([f"hydra.searchpath=[file://{tmp_path}]", "experiment=typo"])
    assert "model.recipe.lernrate" in exception_text(err.value)


def test_both_kinds_are_built_from_their_target():
    fno = compose_config(["model=fno"]).model
    net = instantiate(OmegaConf.to_container(fno.net), in_steps=1, in_channels=1, out_steps=1, out_channels=1)
    assert type(net) is get_class(fno.net._target_)
    pinn = compose_config(["model=pinn", "model.net.width=8"])
    solver = build_solver(pinn)
    assert type(solver) is get_class(pinn.model.solver._target_) and solver.net_cfg["width"] == 8


# ------------------------------------------------------------------------------ experiments

def test_experiments_compose_as_before_they_became_deltas():
    """Each experiment states only what differs from its model's yaml, yet composes to exactly
    what its full copy composed to (tests/golden: recorded before the rewrite)."""
    golden = yaml.safe_load((REPO / "tests" / "golden" / "experiments_before_deltas.yaml").read_text())
    assert sorted(name.split()[0].split("=")[1] for name in golden) == EXPERIMENTS
    for name, expected in golden.items():
        cfg = OmegaConf.to_container(compose_config(name.split()), resolve=True)
        for key in ADDED_BY_ISSUE_15:
            cfg["model"].pop(key)
        recipe = cfg["model"].get("recipe")
        for key, default in ADDED_TO_THE_RECIPE.items():
            if recipe is not None and key not in expected["model"]["recipe"] and recipe.get(key, default) == default:
                recipe.pop(key, None)
        assert json.dumps(cfg["model"]) == json.dumps(expected["model"]), name   # order and types too
        for section, values in expected.items():
            assert _subset(values, cfg[section]), (name, section, values)


def _subset(expected, actual) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and _subset(v, actual[k]) for k, v in expected.items())
    return json.dumps(expected) == json.dumps(actual)


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiments_state_only_what_differs(experiment):
    """Every value an experiment sets differs from the one its model (and the defaults) give."""
    raw = OmegaConf.to_container(OmegaConf.load(CONF_DIR / "experiment" / f"{experiment}.yaml"))
    model = next(d["override /model"] for d in raw.pop("defaults") if "override /model" in d)
    base = OmegaConf.to_container(compose_config([f"model={model}"]), resolve=True)
    same = [".".join(path) for path, value in _leaves(raw) if _get(base, path) == value]
    assert not same, f"experiment={experiment} repeats its model's values at {same}"


def _leaves(node: dict, prefix: tuple = ()):
    for key, value in node.items():
        if isinstance(value, dict):
            yield from _leaves(value, prefix + (key,))
        else:
            yield prefix + (key,), value


def _get(node, path):
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return KeyError
        node = node[key]
    return node


# ------------------------------------------------------------------------------ data yamls

@pytest.mark.parametrize("data", DATA)
def test_data_yaml_lists_exactly_its_generators_settings(data, tmp_path):
    """`data.generator.<setting>=value` works for every setting because the yaml lists each one
    (null: the preset's value); the list cannot drift from the generator's own settings."""
    cfg = compose_config([f"data={data}"])
    listed = OmegaConf.to_container(cfg.data.generator)
    assert all(v is None for v in listed.values()), f"conf/data/{data}.yaml: overrides must be null, got {listed}"
    plan = plan_from_config(cfg.data, tmp_path)
    settings = generator_class(plan.family)(**plan.generator).solver_settings()
    assert sorted(listed) == sorted(settings), (
        f"conf/data/{data}.yaml lists {sorted(set(listed) - set(settings))} that the generator does not take "
        f"and misses {sorted(set(settings) - set(listed))}")
