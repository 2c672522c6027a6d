"""Checks of a run's settings, made before any data is generated and before training starts.

A bad value found here costs the user a second; found later it costs the generation or the
whole training (``data.n_instances=-2`` used to fail only after training, ``data.sizes.train=-5``
inside h5py with a ``.partial`` file left behind). Every problem found is reported at once, each
naming the setting as it is written on the command line, the value given and what is allowed.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from omegaconf import DictConfig, OmegaConf

from pdebench_x.data.build import generator_class, plan_from_config
from pdebench_x.data.generators.base import SPLITS

#: recipe.selection: the checkpoint tested (training/run.py).
SELECTIONS = ("best", "last")


class SettingError(ValueError):
    """One or more settings of a run are invalid; the message lists each of them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid setting(s), nothing was generated or trained:\n"
                         + "\n".join(f"  - {p}" for p in self.problems))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _integer_rule(minimum: int, nullable: bool, meaning_of_null: str = "") -> Callable[[Any], str | None]:
    """A check that ``value`` is an integer >= ``minimum`` (or null when ``nullable``)."""
    kind = {1: "a positive integer", 0: "a non-negative integer"}.get(minimum, f"an integer >= {minimum}")
    allowed = kind + (f", or null ({meaning_of_null})" if nullable else "")

    def check(value: Any) -> str | None:
        if value is None and nullable:
            return None
        if not _is_int(value) or value < minimum:
            return f"must be {allowed}"
        return None
    return check


POSITIVE = _integer_rule(1, nullable=False)
NON_NEGATIVE = _integer_rule(0, nullable=False)


def _check(problems: list[str], name: str, value: Any, rule: Callable[[Any], str | None]) -> None:
    message = rule(value)
    if message:
        problems.append(f"{name}={value!r}: {message}")


def _positive_seconds(value: Any) -> str | None:
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0):
        return None
    return "must be a number of seconds > 0 (the process CPU time training may spend), or left out"


def _trainer_problems(trainer: Mapping[str, Any]) -> list[str]:
    """max_epochs must train something: >= 1, or -1 (no epoch limit) with max_steps >= 1."""
    if trainer.get("fast_dev_run"):
        return []
    epochs, steps = trainer.get("max_epochs"), trainer.get("max_steps", -1)
    if epochs is None or epochs == -1:
        if _is_int(steps) and steps >= 1:
            return []
        return [f"trainer.max_epochs={epochs!r} with trainer.max_steps={steps!r}: no limit on training; give "
                "trainer.max_epochs >= 1 or trainer.max_steps >= 1"]
    if not _is_int(epochs) or epochs < 1:
        return [f"trainer.max_epochs={epochs!r}: must be a positive integer (0 would score an untrained model), "
                "or -1 together with trainer.max_steps >= 1"]
    return []


def _data_problems(data: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    for split in SPLITS:
        _check(problems, f"data.sizes.{split}", (data.get("sizes") or {}).get(split),
               _integer_rule(1, nullable=True, meaning_of_null="the preset's size"))
    _check(problems, "data.n_instances", data.get("n_instances"), POSITIVE)
    _check(problems, "data.instance_seed", data.get("instance_seed"),
           _integer_rule(0, nullable=True, meaning_of_null="the first K test samples"))
    _check(problems, "data.max_train_samples", data.get("max_train_samples"),
           _integer_rule(1, nullable=True, meaning_of_null="every training sample"))
    _check(problems, "data.batch_size", data.get("batch_size"), POSITIVE)
    _check(problems, "data.num_workers", data.get("num_workers", 0), NON_NEGATIVE)
    _check(problems, "data.seed", data.get("seed", 0), NON_NEGATIVE)
    problem = data.get("problem") or {}
    if problem.get("kind") == "rollout":
        _check(problems, "data.problem.history", problem.get("history"), POSITIVE)
        _check(problems, "data.problem.future", problem.get("future", 1), POSITIVE)
    return problems


def _model_problems(model: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    if model.get("kind", "operator") == "per_instance":
        _check(problems, "model.fit.instances", (model.get("fit") or {}).get("instances"),
               _integer_rule(1, nullable=True, meaning_of_null="data.n_instances"))
    else:
        _check(problems, "model.recipe.batch_size", (model.get("recipe") or {}).get("batch_size"),
               _integer_rule(1, nullable=True, meaning_of_null="data.batch_size"))
        _check(problems, "model.recipe.steps_per_epoch", (model.get("recipe") or {}).get("steps_per_epoch"),
               _integer_rule(1, nullable=True, meaning_of_null="one pass over the training windows"))
        _check(problems, "model.recipe.selection", (model.get("recipe") or {}).get("selection", "best"),
               lambda v: None if v in SELECTIONS else f"must be one of {SELECTIONS} (the checkpoint tested)")
    return problems


def _paper_data_problems(cfg: Mapping[str, Any]) -> list[str]:
    """A paper configuration (conf/experiment/*_paper.yaml, which declares ``paper_data``) run on
    a dataset it was not written for, unless ``+allow_other_data=true`` says that is meant."""
    expected = cfg.get("paper_data")
    if not expected or cfg.get("allow_other_data"):
        return []
    data = cfg["data"]
    if (data.get("family"), data.get("preset")) == (expected["family"], expected["preset"]):
        return []
    return [f"experiment={expected['experiment']} is written for data={expected['family']} "
            f"data.preset={expected['preset']}, not data={data.get('family')} data.preset={data.get('preset')}: "
            "leave data and data.preset to the experiment, or add +allow_other_data=true to run it on other data "
            "anyway (its recipe was not written for them)"]


def generated_grid(data: Mapping[str, Any], data_root: str) -> tuple[int, int]:
    """(X, Y) of the dataset the config would generate, from its generator's description (no solve)."""
    plan = plan_from_config(data, data_root)
    description = generator_class(plan.family)(**plan.generator).describe()
    return len(description.x), len(description.y)


def _grid_problem(cfg: Mapping[str, Any], grid: tuple[int, int]) -> list[str]:
    """An operator model that cannot take the dataset's grid, found before the data is generated."""
    from hydra.utils import instantiate
    data, model = cfg["data"], cfg["model"]
    if model.get("kind", "operator") == "per_instance" or not model.get("net"):
        return []
    problem = data["problem"]
    if problem["kind"] == "steady":
        shape = dict(in_steps=1, out_steps=1, in_channels=len(problem["inputs"]), out_channels=len(problem["targets"]))
    else:
        channels = len(problem["fields"])
        shape = dict(in_steps=int(problem["history"]), out_steps=int(problem.get("future", 1)),
                     in_channels=channels, out_channels=channels)
    try:
        instantiate(dict(model["net"]), **shape).check_grid(grid)
    except ValueError as err:
        return [f"model={model.get('name')} on data={data.get('family')} ({grid[0]}x{grid[1]} grid): {err}"]
    return []


def _generated_grid_or_error(plain: Mapping[str, Any]) -> tuple[int, int] | None:
    """The grid of the dataset to generate (None for a user's file), or :class:`SettingError`."""
    data = plain["data"]
    if data.get("path"):
        return None  # a user's file: its grid is checked when it is opened, before training
    try:
        return generated_grid(data, plain["paths"]["data_dir"])
    except ValueError as err:  # unknown preset, misspelt or out-of-range generator setting
        raise SettingError([f"data={data.get('family')}: {err}"]) from None


def _raise_if(problems: list[str]) -> None:
    if problems:
        raise SettingError(problems)


def check_data_settings(cfg: DictConfig) -> None:
    """Raise :class:`SettingError` listing every invalid data setting (generation without training)."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    _raise_if(_data_problems(plain["data"]))
    _generated_grid_or_error(plain)


def check_run_settings(cfg: DictConfig) -> None:
    """Raise :class:`SettingError` listing every invalid setting of a ``train.py`` run."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    problems = _paper_data_problems(plain)
    _check(problems, "seed", plain.get("seed"), NON_NEGATIVE)
    problems += _data_problems(plain["data"])
    problems += _model_problems(plain["model"])
    problems += _trainer_problems(plain.get("trainer") or {})
    _check(problems, "budget.cpu_seconds", (plain.get("budget") or {}).get("cpu_seconds"), _positive_seconds)
    _raise_if(problems)
    # The model is built only from sound settings: sizes and channels are valid by now.
    grid = _generated_grid_or_error(plain)
    if grid is not None:
        _raise_if(_grid_problem(plain, grid))
