"""Config values as plain Python (what JSON files and comparisons need)."""
from __future__ import annotations

from typing import Any, Mapping

from omegaconf import OmegaConf


def to_plain(obj: Any) -> Any:
    """OmegaConf containers (resolved), mappings and tuples as plain JSON-able Python."""
    if OmegaConf.is_config(obj):
        return OmegaConf.to_container(obj, resolve=True)
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    return obj
