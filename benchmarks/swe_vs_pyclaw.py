"""Shallow water against PyClaw, per core: our two schemes and clawpack side by side in one process.

PyClaw is set up as PDEBench made its radial dam break data (pdebench/data_gen/src/
sim_radial_dam_break.py): ``ClawSolver2D(riemann.shallow_roe_with_efix_2D)``, MC limiter, 3
waves, extrapolation boundaries on [-2.5, 2.5]^2, g = 1, h = 2 inside the dam and 1 outside,
clawpack's defaults otherwise (dimensional splitting, CFL 0.9 desired / 1.0 max), advanced
frame by frame with ``evolve_to_time``. Ours: the generator at the same settings, once with
``scheme: rk2`` (version 1's default) and once with ``scheme: hancock`` (the default); the same dam breaks (the radii
the generator draws for the first test seeds). Every code runs single-threaded in this process,
the three interleaved, best of ``--repeat`` (wall time, and this thread's CPU time, the fairer
figure on a loaded machine). Printed: seconds a sample and the ratios to PyClaw, the steps each
code takes with the frames and without them (the step its own stability rule allows), and the
relative L2 difference in h to PyClaw (all frames and samples; the last frame). Without
clawpack, PyClaw's row is skipped with the reason.

Install clawpack (a Fortran compiler is needed to build it)::

    apt-get install -y gfortran && pip install clawpack==5.14.0

    python benchmarks/swe_vs_pyclaw.py                        # 4 samples, 128^2, 101 frames
    python benchmarks/swe_vs_pyclaw.py --samples 2 --resolution 64 --frames 21
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

from _common import machine, set_threads
from _pyclaw import import_pyclaw, pyclaw_radial_dam

SCHEMES = ("rk2", "hancock")


def relative_l2(a: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(a - ref) / np.linalg.norm(ref))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--frames", type=int, default=101)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    set_threads(1)
    import logging

    import torch
    logging.getLogger("pyclaw").setLevel(logging.WARNING)

    from pdebench_x.data.generators.base import sample_seed
    from pdebench_x.data.generators.swe import ShallowWaterGenerator
    from pdebench_x.numerics.swe.radial_dam import DOMAIN, radial_dam_depth
    from pdebench_x.numerics.swe.scheme import solve_swe
    why = import_pyclaw()
    if why:
        print(f"# {why}: PyClaw's row is skipped")
    else:
        import clawpack
    n, n_frames = args.resolution, args.frames
    seeds = [sample_seed(0, "test", i) for i in range(args.samples)]
    gens = {s: ShallowWaterGenerator(resolution=n, n_frames=n_frames, dt_out=1.0 / (n_frames - 1),
                                     batch_size=args.samples, scheme=s) for s in SCHEMES}
    radii = gens["rk2"].draw(seeds)["radius"]
    times = gens["rk2"].output_times
    h0 = radial_dam_depth(gens["rk2"].grid, gens["rk2"].grid, radii, np.full(len(radii), 2.0), 1.0)
    dx = (DOMAIN[1] - DOMAIN[0]) / n
    zero = np.zeros_like(h0)

    def dam(radius, at):  # the dam break PyClaw solves beside ours: h_in 2, h_out 1, g 1
        return pyclaw_radial_dam(radius, 2.0, 1.0, 1.0, n, at)

    codes = {"pyclaw": lambda: [dam(r, times) for r in radii]} if not why else {}
    codes.update({s: (lambda g=g: g.generate(seeds)) for s, g in gens.items()})
    ref = "pyclaw" if not why else "rk2"
    best = {name: float("inf") for name in codes}      # wall seconds
    best_cpu = {name: float("inf") for name in codes}  # CPU seconds of this thread (fairer under load)
    load = [os.getloadavg()[0]]
    results = {}
    for _ in range(args.repeat):
        for name, run in codes.items():
            start, start_cpu = time.perf_counter(), time.thread_time()
            results[name] = run()
            best[name] = min(best[name], time.perf_counter() - start)
            best_cpu[name] = min(best_cpu[name], time.thread_time() - start_cpu)
        load.append(os.getloadavg()[0])
    h = {s: results[s]["h"].astype(np.float64) for s in SCHEMES}
    # the steps each code takes with the frames, and the step its own rule allows: steps to
    # t = 1 with no frame in between (mean dt = 1 / steps)
    steps = {s: solve_swe(h0, zero, zero, times, dx, dx, scheme=s)["n_steps"].tolist() for s in SCHEMES}
    free = {s: solve_swe(h0, zero, zero, [1.0], dx, dx, scheme=s)["n_steps"].tolist() for s in SCHEMES}
    if not why:
        h["pyclaw"] = np.stack([frames for frames, _ in results["pyclaw"]])
        steps["pyclaw"] = [count for _, count in results["pyclaw"]]
        free["pyclaw"] = [dam(r, np.array([0.0, 1.0]))[1] for r in radii]

    print(f"# SWE radial dam break, {n}^2, {n_frames} frames to t = 1, {args.samples} samples "
          f"(radii {', '.join(f'{r:.3f}' for r in radii)}), best of {args.repeat}")
    print(f"# {machine()}; load average during the run: {min(load):.2f}-{max(load):.2f}")
    print(f"# torch {torch.__version__}" + (f"; clawpack {clawpack.__version__}" if not why else ""))
    print(f"| code | wall s / sample | speed vs {ref} (wall) | CPU s / sample | speed vs {ref} (CPU) | steps with the "
          f"frames | steps to t = 1 without | rel. L2 of h vs {ref} (all frames / t = 1) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in codes:
        diff = f"{relative_l2(h[name], h[ref]):.2e} / {relative_l2(h[name][:, -1], h[ref][:, -1]):.2e}"
        print(f"| {name} | {best[name] / args.samples:.3f} | {best[ref] / best[name]:.2f}x | "
              f"{best_cpu[name] / args.samples:.3f} | {best_cpu[ref] / best_cpu[name]:.2f}x | {steps[name]} | "
              f"{free[name]} | {'-' if name == ref else diff} |")
    print(f"hancock vs rk2: {best['rk2'] / best['hancock']:.2f}x (wall), {best_cpu['rk2'] / best_cpu['hancock']:.2f}x "
          f"(CPU); rel. L2 of h between them {relative_l2(h['hancock'], h['rk2']):.2e} (all frames), "
          f"max |diff| {np.abs(h['hancock'] - h['rk2']).max():.2e}")


if __name__ == "__main__":
    main()
