"""2D incompressible Navier–Stokes in vorticity form on the unit torus.

:mod:`.fields` (the FNO's random initial vorticity, spectral resampling, the forcing),
:mod:`.solver` (pseudo-spectral IF-RK4 time stepping, velocity and tendency from vorticity).
"""
