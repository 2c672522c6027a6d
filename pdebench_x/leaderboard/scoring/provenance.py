"""Where a record's figures come from: the scorer, the machine, the libraries, the commit, the files.

:func:`provenance` is the one place a record's provenance fields are assembled (records with
metrics and not-applicable records alike); :func:`sha256_file` names the checkpoint or
predictions file a seed was scored from.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from pdebench_x.core.machine import hardware

SCORER_VERSION = "2"


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def library_versions() -> dict[str, Any]:
    from pdebench_x.training.common import environment  # lightning and friends: loaded only to build a record
    out = {"python": platform.python_version(), "numpy": np.__version__, "h5py": h5py.__version__,
           "platform": platform.platform()}
    out.update(environment())
    try:
        out["pdebench_x"] = version("pdebench_x")
    except PackageNotFoundError:  # run from a source tree that was never installed
        pass
    return out


def provenance(**machines: Any) -> dict[str, Any]:
    """A record's provenance fields, in record order: the scoring machine's hardware (beside it
    ``machines``, by role: ``training=`` the training run's environment), library versions, git
    commit, creation time and the scorer's version and command line."""
    from pdebench_x.training.common import git_commit
    return {
        "hardware": {"scoring": hardware(), **machines},
        "environment": library_versions(),
        "git_commit": git_commit(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "scorer": {"version": SCORER_VERSION, "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:])},
    }
