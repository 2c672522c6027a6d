"""Where a project's files go: one answer for the training pipeline, the scorer, the public API
and the command line.

The project root is ``$PDEBENCH_X_ROOT`` if set, else the checkout this package sits in (a
directory holding ``pdebench_x/`` and ``leaderboard/``), else the working directory (an
installed package). Datasets live in ``$PDEBENCH_X_DATA`` or ``<root>/datasets``, run outputs
in ``$PDEBENCH_X_OUTPUTS`` or ``<root>/outputs``, the board in ``$PDEBENCH_X_BOARD`` or
``<root>/leaderboard``. The configuration's ``paths`` group reads the root through the
``${project_root:}`` resolver, so every part of the suite agrees.
"""
from __future__ import annotations

import os
from pathlib import Path

from omegaconf import OmegaConf

_CHECKOUT = Path(__file__).resolve().parents[2]


def project_root() -> Path:
    env = os.environ.get("PDEBENCH_X_ROOT")
    if env:
        return Path(env)
    return _CHECKOUT if (_CHECKOUT / "leaderboard").is_dir() else Path.cwd()


def data_root() -> Path:
    return Path(os.environ.get("PDEBENCH_X_DATA") or project_root() / "datasets")


def board_dir() -> Path:
    return Path(os.environ.get("PDEBENCH_X_BOARD") or project_root() / "leaderboard")


def register_resolver() -> None:
    """``${project_root:}`` for the configuration (idempotent)."""
    if not OmegaConf.has_resolver("project_root"):
        OmegaConf.register_new_resolver("project_root", lambda: str(project_root()))
