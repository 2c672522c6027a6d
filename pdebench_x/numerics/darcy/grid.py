"""Grids of the Darcy problem on the unit square: cell centres or nodes, and their spacing.

"cells": n cells per side, values at the centres (i + 1/2)/n; "nodes": n nodes per side,
linspace(0, 1, n), boundary included. Arrays are indexed [x, y].
"""
from __future__ import annotations

import numpy as np

GRIDS = ("cells", "nodes")


def grid_points(n: int, grid: str) -> np.ndarray:
    """Coordinates of the n points per side: cell centres (i + 1/2)/n, or nodes linspace(0, 1, n)."""
    check_grid(grid)
    if grid == "cells":
        return (np.arange(n) + 0.5) / n
    return np.linspace(0.0, 1.0, n)


def grid_spacing(n: int, grid: str) -> float:
    """h = 1/n for n cells per side, 1/(n - 1) for n nodes per side."""
    check_grid(grid)
    return 1.0 / n if grid == "cells" else 1.0 / (n - 1)


def unknown_shape(shape: tuple[int, int], grid: str) -> tuple[int, int]:
    """Shape of the grid of unknowns: all cells, or the interior nodes."""
    check_grid(grid)
    return (shape[0], shape[1]) if grid == "cells" else (shape[0] - 2, shape[1] - 2)


def check_grid(grid: str) -> None:
    """Refuse a grid name that is not one of :data:`GRIDS`."""
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {GRIDS}, got {grid!r}")


