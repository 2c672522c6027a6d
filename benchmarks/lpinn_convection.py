"""Reproduction: periodic convection u_t + c u_x = 0, u0 = sin x on [0, 2 pi], t in [0, 1].

LPINN's showcase (Mojgani et al., CMAME 2023): at c = 50 a vanilla PINN fails (relative L2 of
order 1) while the Lagrangian PINN stays accurate. Both solvers get the same data (u0 on the
grid, c) and the same optimiser budget here; the error is the relative L2 over the space-time
grid of the scored frames (t = 0.01 .. 1, as data=convection's rollout) against the exact
solution sin(x - c t). The last iterate is scored.

    nice python benchmarks/lpinn_convection.py                 # c = 50, small CPU budget
    nice python benchmarks/lpinn_convection.py --adam 1000 --lbfgs 100 --time-points 100   # larger

Paper budget (official code): 1e6 Adam (amsgrad, lr 1e-2) + 100 L-BFGS steps on 256 x 100 points.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from pdebench_x.models.lpinn import LPINNSolver
from pdebench_x.models.pinn import PINNSolver
from pdebench_x.numerics.transport1d import convection_sin, periodic_grid
from pdebench_x.pdes.instance import PDEInstance


def instance(speed: float, n: int, frames: int) -> PDEInstance:
    x = periodic_grid(n)
    return PDEInstance(family="convection", index=0, kind="rollout", channels=["u"],
                       initial={"u": np.sin(x)[:, None]}, scalars={"speed": speed, "viscosity": 0.0},
                       x=x, y=np.zeros(1), bc_type="periodic", t0=0.0, times=np.linspace(0.0, 1.0, frames + 1)[1:])


def score(solver, inst: PDEInstance) -> tuple[float, float]:
    start = time.perf_counter()
    info = solver.fit(inst)
    pred = solver.predict()[:, 0, :, 0]
    seconds = time.perf_counter() - start
    ref = convection_sin(inst.x[None, :], inst.times[:, None], inst.scalars["speed"])
    rel = float(np.linalg.norm(pred - ref) / np.linalg.norm(ref))
    return rel, seconds, info


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--speed", type=float, nargs="+", default=[50.0])
    p.add_argument("--grid", type=int, default=256, help="grid points N (labels of LPINN)")
    p.add_argument("--frames", type=int, default=100, help="scored frames in (0, 1]")
    p.add_argument("--time-points", type=int, default=20, help="LPINN's M (paper: 100)")
    p.add_argument("--collocation", type=int, default=2048, help="PINN residual points per iteration")
    p.add_argument("--adam", type=int, default=300)
    p.add_argument("--lbfgs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    budget = f"Adam {args.adam} + L-BFGS {args.lbfgs} (x20 inner)"
    print(f"convection, u0 = sin x, N = {args.grid}, scored frames {args.frames}; budget {budget}")
    print(f"{'c':>6} {'model':>6} {'rel L2':>10} {'seconds':>8} {'iters':>6}")
    for c in args.speed:
        inst = instance(c, args.grid, args.frames)
        lpinn = LPINNSolver(fit={"optimizers": [{"name": "adam", "iterations": args.adam, "lr": 1e-2, "amsgrad": True},
                                                {"name": "lbfgs", "iterations": args.lbfgs}],
                                 "time_points": args.time_points, "seed": args.seed})
        # the PINN baseline: the u-branch's architecture (width 50, 5 tanh layers, periodic features)
        pinn = PINNSolver(net={"width": 50, "depth": 5},
                          fit={"optimizers": [{"name": "adam", "iterations": args.adam, "lr": 1e-3},
                                              {"name": "lbfgs", "iterations": args.lbfgs}],
                               "collocation": args.collocation, "initial_points": args.grid, "seed": args.seed})
        for name, solver in (("pinn", pinn), ("lpinn", lpinn)):
            rel, seconds, info = score(solver, inst)
            print(f"{c:6g} {name:>6} {rel:10.3e} {seconds:8.1f} {info['iterations']:6d}", flush=True)


if __name__ == "__main__":
    main()
