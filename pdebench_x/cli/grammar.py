"""The one argument grammar of every command: ``key=value`` tokens, Hydra's override syntax for
configuration (``data=ns data.preset=benchmark model.net.width=32``), plus a command's own
keys and ``--options``. A misspelt key is an error that lists the valid ones."""
from __future__ import annotations

from typing import Sequence

from omegaconf import DictConfig

from pdebench_x.core.config import compose_config


class CLIError(ValueError):
    """A bad command line: the message says what to write instead."""


def split_own_keys(tokens: Sequence[str], own: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """({key: value} of the command's own ``key=value`` tokens, the remaining config overrides)."""
    mine, overrides = {}, []
    for token in tokens:
        key, eq, value = token.partition("=")
        if eq and key in own:
            mine[key] = value
        elif not eq:
            raise CLIError(f"unexpected argument {token!r}: write key=value (this command's keys: {list(own)}, "
                           "or config overrides such as data=ns data.preset=small)")
        else:
            overrides.append(token)
    return mine, overrides


def compose_data(overrides: Sequence[str]) -> DictConfig:
    """The run config for these overrides; every override must concern the data (``data=...``,
    ``data.<key>=...``, ``paths.<key>=...``)."""
    foreign = [o for o in overrides if not o.lstrip("+~").split("=", 1)[0].split(".")[0] in ("data", "paths")]
    if foreign:
        raise CLIError(f"{foreign}: only data=<family> and data.<setting>=<value> (or paths.*) apply here")
    return compose_config(overrides)
