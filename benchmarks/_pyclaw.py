"""PyClaw (clawpack), the solver PDEBench made its shallow-water data with, set up as PDEBench's
sim_radial_dam_break.py does; shared by the benchmarks that compare our SWE generator with it."""
from __future__ import annotations

import contextlib
import importlib
import logging
import tempfile

import numpy as np

PYCLAW_INSTALL = "apt-get install -y gfortran && pip install clawpack==5.14.0"


def pyclaw_radial_dam(radius: float, h_in: float, h_out: float, g: float, resolution: int,
                      times: np.ndarray) -> tuple[np.ndarray, int]:
    """h [T, X, Y] of PDEBench's radial dam break solved by PyClaw as its sim_radial_dam_break.py
    sets it up (its solver options, domain, boundaries and initial state), at ``times`` (times[0] = 0),
    and the number of steps PyClaw took."""
    from clawpack import pyclaw, riemann
    solver = pyclaw.ClawSolver2D(riemann.shallow_roe_with_efix_2D)
    solver.limiters = pyclaw.limiters.tvd.MC
    solver.num_waves, solver.num_eqn = 3, 3
    solver.bc_lower[0] = solver.bc_upper[0] = solver.bc_lower[1] = solver.bc_upper[1] = pyclaw.BC.extrap
    domain = pyclaw.Domain([pyclaw.Dimension(-2.5, 2.5, resolution, name="x"),
                            pyclaw.Dimension(-2.5, 2.5, resolution, name="y")])
    state = pyclaw.State(domain, solver.num_eqn)
    state.problem_data["grav"] = g
    x, y = state.p_centers
    state.q[0] = np.where(np.hypot(x, y) <= radius, h_in, h_out)
    state.q[1:] = 0.0
    solution = pyclaw.Solution(state, domain)
    frames = [state.q[0].copy()]
    for t in times[1:]:
        solver.evolve_to_time(solution, float(t))
        frames.append(state.q[0].copy())
    return np.stack(frames), solver.status["numsteps"]


def import_pyclaw() -> str | None:
    """Import clawpack quietly (no pyclaw.log in the working directory, no line per step);
    the reason it cannot be used, or None."""
    try:
        with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):    # its log file lands there
            importlib.import_module("clawpack.pyclaw")
    except ImportError as err:
        return f"clawpack is not installed ({err}); install it with `{PYCLAW_INSTALL}`"
    for name in ("pyclaw", "pyclaw.solver", "pyclaw.controller", "data", "f2py"):
        lg = logging.getLogger(name)
        lg.setLevel(logging.WARNING)
        for handler in list(lg.handlers):
            if isinstance(handler, logging.FileHandler):
                lg.removeHandler(handler)
                handler.close()
    return None
