"""Scratch tensors reused between the calls of the shallow-water solver."""
from __future__ import annotations

import math
from typing import Sequence

import torch


class Workspace:
    """Scratch tensors by name, reused between calls (allocating a fresh 100 kB tensor costs about
    as much as the arithmetic on it). Each name keeps one flat buffer that grows when needed; a
    request returns a contiguous view of its first elements (views are cached by shape: the
    lookup is on the hot path)."""

    def __init__(self) -> None:
        self._flat: dict[str, torch.Tensor] = {}
        self._views: dict[tuple, torch.Tensor] = {}
        self._scopes: dict[str, Workspace] = {}

    def scope(self, name: str) -> Workspace:
        """A workspace of its own under ``name``: for a second result of a function that returns
        one of its scratch tensors (its names would otherwise share the first one's buffers)."""
        if name not in self._scopes:
            self._scopes[name] = Workspace()
        return self._scopes[name]

    def __call__(self, name: str, shape: Sequence[int], like: torch.Tensor) -> torch.Tensor:
        key = (name, tuple(shape), like.dtype, like.device)
        view = self._views.get(key)
        if view is None:
            numel = math.prod(shape)
            flat = self._flat.get(name)
            if flat is None or flat.numel() < numel or flat.dtype != like.dtype or flat.device != like.device:
                flat = self._flat[name] = torch.empty(max(numel, 1), dtype=like.dtype, device=like.device)
                self._views = {k: v for k, v in self._views.items() if k[0] != name}
            view = self._views[key] = flat[:numel].view(tuple(shape))
        return view
