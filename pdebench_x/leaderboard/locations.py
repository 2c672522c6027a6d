"""Where the leaderboard's files are: the repository, the board directory, the datasets."""
from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    env = os.environ.get("PDEBENCH_X_ROOT")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parents[2]
    return here if (here / "leaderboard").is_dir() else Path.cwd()


def default_board_dir() -> Path:
    return Path(os.environ.get("PDEBENCH_X_BOARD") or repo_root() / "leaderboard")


def default_data_root() -> Path:
    return Path(os.environ.get("PDEBENCH_X_DATA") or repo_root() / "datasets")
