"""PDE families: one object per family (``pdes/<family>.py`` defines ``FAMILY``), found by name.

Every module of this package that defines a module-level ``FAMILY`` is a family; they are
found on first use, so adding a family is adding its file. :func:`register` adds a family
defined elsewhere (a plug-in, a test's toy family).
"""
from __future__ import annotations

import importlib
import pkgutil

from pdebench_x.pdes.base import PDEFamily

_FAMILIES: dict[str, PDEFamily] = {}
_DISCOVERED = False


def register(family: PDEFamily) -> PDEFamily:
    """Make ``family`` known by its name (a name already taken by another object is refused)."""
    if not family.name:
        raise ValueError(f"{type(family).__name__} has no name")
    known = _FAMILIES.get(family.name)
    if known is not None and known is not family:
        raise ValueError(f"a PDE family named {family.name!r} is already registered ({type(known).__name__})")
    _FAMILIES[family.name] = family
    return family


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    _DISCOVERED = True
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if isinstance(getattr(module, "FAMILY", None), PDEFamily):
            register(module.FAMILY)


def get_family(name: str) -> PDEFamily:
    """The family called ``name``; an unknown name is refused with the known ones."""
    _discover()
    if name not in _FAMILIES:
        raise ValueError(f"unknown PDE family {name!r}; known families: {sorted(_FAMILIES)}")
    return _FAMILIES[name]


def family_names() -> list[str]:
    _discover()
    return sorted(_FAMILIES)


def unregister(name: str) -> None:
    """Forget the family called ``name`` (a plug-in's or a test's; a family file is found again)."""
    global _DISCOVERED
    _FAMILIES.pop(name, None)
    _DISCOVERED = False
