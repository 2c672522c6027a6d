"""A run directory of its own for every run: the ``${run_suffix:}`` resolver that conf/train.yaml
appends to the start time of ``hydra.run.dir`` and ``hydra.sweep.dir``.

With the time alone (``${now:...}``), two runs started in the same second shared one directory:
one metrics.json overwritten, checkpoints of both mixed. The suffix is random and cached per
config (``use_cache``, as Hydra's ``now``), so every reading of one run's config gives the same
directory, and so do the jobs of a sweep (Hydra copies the sweep's resolver cache into each
job's config). Lightning's DDP processes are handed the directory itself (``hydra.run.dir=...``
on their command line), so they never draw a suffix of their own.

The resolver must be registered before Hydra resolves those keys: train.py imports this module.
"""
from __future__ import annotations

import secrets

from omegaconf import OmegaConf

RESOLVER = "run_suffix"


def register() -> None:
    """Register ``${run_suffix:}`` (6 random hex digits, one value per config); idempotent."""
    if not OmegaConf.has_resolver(RESOLVER):
        OmegaConf.register_new_resolver(RESOLVER, lambda: secrets.token_hex(3), use_cache=True)


register()
