"""The size of a grid's domain, from its cell-centre coordinates.

One definition for everything that needs it (the data module's spacing and domain area, the
scorer's fRMSE of a predictions file), so a 1D problem is measured the same way everywhere.
"""
from __future__ import annotations

from typing import Sequence


def cell_extent(axis: Sequence[float]) -> float:
    """Length of the domain along one axis from its cell centres (n cells of width (x[-1]-x[0])/(n-1)).

    A 1D problem stores a single y coordinate: its extent is 1, so the domain "area" of a 1D
    problem is its length (not 0, which would zero every fRMSE band).
    """
    n = len(axis)
    return float(axis[-1] - axis[0]) * n / (n - 1) if n > 1 else 1.0


def domain_measure(x: Sequence[float], y: Sequence[float]) -> float:
    """Area of a 2D domain (length of a 1D one) from the cell centres along its two axes."""
    return cell_extent(x) * cell_extent(y)
