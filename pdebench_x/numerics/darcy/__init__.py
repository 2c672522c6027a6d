"""Steady Darcy flow -div(a grad u) = f on the unit square with u = 0 on the boundary.

:mod:`.grid` (cell-centred or nodal grids), :mod:`.coefficient` (the FNO paper's thresholded
Gaussian random coefficient), :mod:`.solver` (finite volumes, multigrid-preconditioned CG).
"""
