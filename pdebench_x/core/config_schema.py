"""The schema of the ``model`` config group, as Hydra structured configs.

Every ``conf/model/<name>.yaml`` extends one of the two model kinds first in its defaults list::

    defaults:
      - /schema/model/operator@_here_        # or /schema/model/per_instance@_here_
      - _self_

so a misspelt or misplaced key, in the model yaml, in an experiment or in a command-line override
(``model.recipe.lernrate=1``), or a value of the wrong type, fails when the config is composed,
with OmegaConf's message naming the key (a key added on purpose with ``+`` is let through, as
Hydra does everywhere).

Both kinds are built with ``hydra.utils.instantiate`` from a ``_target_`` node: an operator
learner's ``net`` (the network, given the data's shapes by the training task), a per-instance
solver's ``solver`` (given ``net`` and ``fit``). ``net`` and ``fit`` hold the model's own settings,
whose names the model checks when it is built (the network's signature, the solver's defaults).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

#: ConfigStore group of the schemas (``/schema/model/<kind>`` in a defaults list).
SCHEMA_GROUP = "schema/model"


@dataclass
class Recipe:
    """How an operator learner is trained (read by :mod:`pdebench_x.training`); a key left out
    takes the value the training task assumes without it. Keys the task also reads but no shipped
    recipe sets are added with ``+``: ``loss_kwargs``, ``batch_size`` (null: data.batch_size). A key
    added here later defaults to null, so that runs made before it still resume (resume.same_run)."""

    loss: str = "rel_l2"                      # a name of training/losses.py
    loss_space: str = "physical"              # physical | normalized
    optimizer: Dict[str, Any] = field(default_factory=lambda: {"_target_": "torch.optim.Adam", "lr": 1e-3})
    scheduler: Optional[Dict[str, Any]] = None   # {name: cosine | onecycle | ..., ...}; null: constant
    train_mode: str = "one_step"              # one_step | unroll
    monitor: str = "val/loss"                 # val/loss | val/rollout_loss (the checkpoint selection)
    val_loss: Optional[str] = None            # the loss of val/loss (a name of training/losses.py); null: `loss`
    rollout_loss: Optional[str] = None        # the loss of val/rollout_loss; null: FNO's relative L2 of the rollout
    gradient_clip_val: Optional[float] = None
    normalization: str = "dataset"           # dataset (train-split statistics) | per_sample (each input window's own) | none | per_point (train statistics at each grid point)
    input_normalization: Optional[str] = None   # the inputs' normalisation where it differs (the same names); null: `normalization`
    selection: str = "best"                   # the checkpoint tested: best (on `monitor`, the board's rule) | last epoch
    steps_per_epoch: Optional[int] = None     # optimiser steps per epoch, whatever the data size; null: one pass
    unroll_steps: Optional[int] = None        # train_mode=unroll: model calls per training window (null: 1)
    pushforward: Optional[bool] = None        # train_mode=unroll: gradients through the last call only (null: no)


@dataclass
class Target:
    """A class to build: ``{_target_: package.module.Class}``."""

    _target_: str = MISSING


@dataclass
class ModelConfig:
    """What every model yaml states, whatever its kind."""

    kind: str = MISSING                       # operator | per_instance (training dispatches on it)
    name: str = MISSING                       # the name in run directories and on the board
    paper: Optional[str] = None
    code: Optional[str] = None
    supports: List[str] = field(default_factory=list)   # the data configs (conf/data/<name>.yaml) it runs on


@dataclass
class OperatorModelConfig(ModelConfig):
    """An operator learner: ``net._target_`` is its network (an ``OperatorModel``), trained by ``recipe``."""

    kind: str = "operator"
    net: Dict[str, Any] = MISSING             # {_target_: <OperatorModel class>, its hyperparameters}
    recipe: Recipe = field(default_factory=Recipe)


@dataclass
class PerInstanceModelConfig(ModelConfig):
    """A solver fitted afresh per test instance: ``solver._target_(net=..., fit=...)``; settings left
    out of ``net`` and ``fit`` take the solver's defaults."""

    kind: str = "per_instance"
    solver: Target = MISSING
    net: Dict[str, Any] = field(default_factory=dict)   # the solver's network settings
    fit: Dict[str, Any] = field(default_factory=dict)   # iteration budget, points, weights (the solver's names)


#: schema name -> structured config
MODEL_SCHEMAS = {"operator": OperatorModelConfig, "per_instance": PerInstanceModelConfig}


def register_schemas() -> None:
    """Store the model schemas in Hydra's ConfigStore (idempotent: storing again replaces them)."""
    store = ConfigStore.instance()
    for name, node in MODEL_SCHEMAS.items():
        store.store(group=SCHEMA_GROUP, name=name, node=node)
