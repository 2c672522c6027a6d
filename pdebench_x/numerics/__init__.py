"""Numerical solvers of the benchmark's PDEs, apart from the dataset plumbing.

Each module takes arrays or tensors and parameters and returns arrays or tensors (numpy, scipy,
torch; no ``torch.nn``). Nothing here knows about files, splits, configs, per-sample seeds or
dataset descriptions: the dataset generators, a layer above, turn settings and seeds into
inputs for these solvers. A random field is drawn from a ``numpy.random.Generator`` its caller
passes in.

- :mod:`.darcy`: -div(a grad u) = f on the unit square (finite volumes, multigrid CG) and the
  thresholded Gaussian random coefficient.
- :mod:`.ns`: 2D incompressible Navier–Stokes in vorticity form on the torus (pseudo-spectral,
  IF-RK4) and its random initial vorticity and forcing.
- :mod:`.swe`: 2D shallow water by finite volumes (MUSCL, HLL, SSP-RK2), batched in torch.
- :mod:`.transport1d`: exact references of 1D periodic convection-diffusion and viscous Burgers.
"""
