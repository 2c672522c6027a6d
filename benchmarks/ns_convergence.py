"""The NS benchmark presets' solve grid: the convergence study behind ``solve_resolution: auto``
and the generation time it buys (issue 16), side by side in one run.

``study``: for each row of ``SOLVE_GRID_STUDY`` (viscosity, last time), the first ``--samples``
test samples of the official seed are solved in float64 on the reference grid (ic_resolution
= 256, the FNO protocol) and the way ``auto`` solves them with each coarser grid (64, 128:
after the start-up on 256), all stored [::k] at 64; printed:
the largest relative L2 difference per stored frame (t = 1 .. last time; vorticity and
velocity; over the samples) and the frame where it occurs, the grid ``auto`` takes at the
default tolerance, and the rows as code (``GridStudy(...)``) to compare with the generator's
table. ``--round-off N`` adds the float32 round-off of the first N samples at the first row
(float32 solves against the float64 reference solve): what the stored data carries anyway.

``early``: the first row over the first coarse frames (t <= 3, where the difference peaks) on
the whole test split, for each coarse grid. ``startup``: for some samples (the worst of
``early``), the difference per length of the start-up on the reference grid (0: frame 0 from
it, then coarse) -- what ``STARTUP_FRAMES`` rests on.

``timing``: the benchmark preset (nu = 1e-3, T = 50) generated through the build driver
(``generate_split``, HDF5 written) with the old setting (solve_resolution 256) on the first
``--before`` test samples and with today's preset (``auto``) on the whole test split; wall and
CPU time, the largest difference between the two over the samples both made, and the time of
the whole 1,200-sample preset projected from the measured rate.

    python benchmarks/ns_convergence.py study --samples 6 --round-off 2     # ~40 min on 2 cores
    python benchmarks/ns_convergence.py early --samples 200                 # ~15 min
    python benchmarks/ns_convergence.py startup --indices 139 3             # ~3 min
    python benchmarks/ns_convergence.py timing --before 8 --threads 2       # ~6 min
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import header, set_threads

REFERENCE = 256
COARSE = (64, 128)
FIELDS = ("vorticity", "velocity")


def frame_differences(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Relative L2 difference of a from b per sample and frame: [B, T, X, Y(, 2)] -> [B, T]."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    axes = tuple(range(2, a.ndim))
    return np.sqrt(((a - b) ** 2).sum(axes) / (b ** 2).sum(axes))


def worst(stored: dict[str, np.ndarray], reference: dict[str, np.ndarray]) -> tuple[float, int, int, str]:
    """(largest difference over frames 1.., sample, frame, field)."""
    best = (0.0, -1, -1, "")
    for name in FIELDS:
        d = frame_differences(stored[name], reference[name])[:, 1:]
        i, t = np.unravel_index(int(np.argmax(d)), d.shape)
        if d[i, t] > best[0]:
            best = (float(d[i, t]), int(i), int(t) + 1, name)
    return best


def study(args) -> None:
    from pdebench_x.data.generators.base import sample_seed
    from pdebench_x.data.generators.ns import SOLVE_GRID_STUDY, STUDY_SETTINGS, NavierStokesGenerator

    seeds = [sample_seed(0, "test", i) for i in range(args.samples)]
    rows, code = [], []
    for k, row in enumerate(SOLVE_GRID_STUDY):
        settings = {**STUDY_SETTINGS, "viscosity": row.viscosity, "n_steps": int(round(row.horizon))}

        def solve(grid: int, dtype: str, n: int = len(seeds)) -> tuple[dict[str, np.ndarray], float]:
            gen = NavierStokesGenerator(**settings, solve_resolution="auto", dtype=dtype)
            start = time.process_time()
            out = gen.trajectories(seeds[:n], solve_grid=grid)  # auto's start-up, then `grid`
            return out, (time.process_time() - start) / n

        ref, ref_cpu = solve(REFERENCE, "float64")
        measured, cells = {}, []
        for grid in COARSE:
            out, cpu = solve(grid, "float64")
            d, i, t, name = worst(out, ref)
            measured[grid] = d
            cells.append(f"{d:.1e} (sample {i}, t = {t}, {name}; {cpu:.1f} s)")
        auto = NavierStokesGenerator(**settings, solve_resolution="auto").solve_grid
        rows.append(f"| {row.viscosity:g} | {row.horizon:g} | {len(seeds)} | " + " | ".join(cells)
                    + f" | {ref_cpu:.1f} s | {auto} |")
        code.append(f"GridStudy(viscosity={row.viscosity:g}, horizon={row.horizon:g}, samples={len(seeds)}, "
                    "max_difference={" + ", ".join(f"{g}: {d:.1e}" for g, d in measured.items()) + "})")
        if k == 0 and args.round_off:
            for grid in (REFERENCE,) + COARSE:
                out, _ = solve(grid, "float32", args.round_off)
                d, i, t, name = worst(out, {f: ref[f][:args.round_off] for f in FIELDS})
                print(f"# round-off, nu = {row.viscosity:g}: float32 solve on {grid} vs float64 on {REFERENCE}: "
                      f"{d:.1e} (sample {i}, t = {t}, {name}; {args.round_off} samples)", flush=True)
        print(rows[-1], flush=True)

    print(f"\n| nu | last time | samples | {' | '.join(f'{g} solve vs {REFERENCE}' for g in COARSE)} | "
          f"{REFERENCE} solve CPU s / sample | auto (tolerance 1e-6) |")
    print("|---" * (5 + len(COARSE)) + "|")
    print("\n".join(rows))
    print("\n# as the generator's table (pdebench_x/data/generators/ns.py SOLVE_GRID_STUDY):")
    print("\n".join(code))


def generate_timed(overrides: list[str], root: Path) -> tuple[dict[str, np.ndarray], int, float, float]:
    """Generate the test split of ``data=ns`` with ``overrides`` under ``root`` through the build
    driver; its stored fields, size, wall and CPU seconds."""
    import h5py

    from pdebench_x.core.config import compose_config
    from pdebench_x.data.build import generate_split, plan_from_config

    plan = plan_from_config(compose_config(["data=ns", *overrides]).data, root)
    wall, cpu = time.perf_counter(), time.process_time()
    path = generate_split(plan, "test", progress=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    with h5py.File(path, "r") as f:
        fields = {"vorticity": f["t0_fields/vorticity"][()], "velocity": f["t1_fields/velocity"][()]}
    return fields, plan.sizes["test"], wall, cpu


def early(args) -> None:
    """The first row over its first coarse frames (where the study finds the largest difference:
    it is injected early and decays) on many test samples."""
    from pdebench_x.data.generators.base import sample_seed
    from pdebench_x.data.generators.ns import (SOLVE_GRID_STUDY, STARTUP_FRAMES, STUDY_SETTINGS,
                                               NavierStokesGenerator)

    row = SOLVE_GRID_STUDY[0]
    frames = STARTUP_FRAMES + args.frames
    gen = NavierStokesGenerator(**STUDY_SETTINGS, viscosity=row.viscosity, n_steps=frames,
                                solve_resolution="auto", dtype="float64")
    diffs: dict[int, list[np.ndarray]] = {grid: [] for grid in COARSE}
    for start in range(0, args.samples, 10):
        seeds = [sample_seed(0, "test", i) for i in range(start, min(start + 10, args.samples))]
        ref = gen.trajectories(seeds, solve_grid=REFERENCE)
        for grid in COARSE:
            out = gen.trajectories(seeds, solve_grid=grid)
            diffs[grid].append(np.max([frame_differences(out[f], ref[f]) for f in FIELDS], axis=0).max(axis=1))
    print("\n| nu | frames | samples | solve grid | largest | median | 90th percentile |\n" + "|---" * 7 + "|")
    for grid in COARSE:
        d = np.concatenate(diffs[grid])
        print(f"| {row.viscosity:g} | 1 .. {frames} | {len(d)} | {grid} | {d.max():.1e} (sample {int(d.argmax())}) | "
              f"{np.median(d):.1e} | {np.quantile(d, 0.9):.1e} |")


def startup(args) -> None:
    """The difference per start-up length: the reference solve to t = 0, 1, 2, ..., then the coarse
    grid from the truncated state; largest relative L2 over frames 1 .. --frames and the samples."""
    import torch

    from pdebench_x.data.generators.base import sample_seed
    from pdebench_x.data.generators.ns import SOLVE_GRID_STUDY, STUDY_SETTINGS, NavierStokesGenerator
    from pdebench_x.numerics.ns.fields import forcing_pattern, spectral_resample
    from pdebench_x.numerics.ns.solver import solve_vorticity

    row = SOLVE_GRID_STUDY[0]
    gen = NavierStokesGenerator(**STUDY_SETTINGS, viscosity=row.viscosity)
    times = np.arange(args.frames + 1.0)
    worst = np.zeros((len(args.lengths), len(COARSE)))
    for index in args.indices:
        field, nu, amp = gen.draw_field(sample_seed(0, "test", index))

        def solve(w: np.ndarray, n: int, out_times: np.ndarray, subsample: int) -> np.ndarray:
            return solve_vorticity(torch.tensor(spectral_resample(w, n)), torch.tensor(forcing_pattern(n, amp)),
                                   nu, out_times, subsample=subsample).vorticity[0].numpy()

        ref = solve(field, REFERENCE, times, 1)
        for a, length in enumerate(args.lengths):
            for b, grid in enumerate(COARSE):
                start = field if length == 0 else ref[length]
                out = solve(start, grid, times[length:] - times[length], grid // 64)
                d = frame_differences(out[None, 1:], ref[None, length + 1:, ::4, ::4])
                worst[a, b] = max(worst[a, b], d.max())
    print(f"\n| start-up on {REFERENCE} (time units) | " + " | ".join(f"then {g}" for g in COARSE)
          + " |\n|---|" + "---|" * len(COARSE))
    for a, length in enumerate(args.lengths):
        print(f"| {length} | " + " | ".join(f"{v:.1e}" for v in worst[a]) + " |")


def timing(args) -> None:
    preset = ["data.preset=benchmark"]
    with tempfile.TemporaryDirectory(prefix="ns_convergence_") as tmp:
        print(f"# before: solve_resolution=256, first {args.before} test samples", flush=True)
        before, nb, wall_b, cpu_b = generate_timed(
            [*preset, "data.generator.solve_resolution=256", f"data.sizes.test={args.before}"], Path(tmp))
        print(f"# after: solve_resolution=auto, {args.after or 'all'} test samples", flush=True)
        after, na, wall_a, cpu_a = generate_timed(
            [*preset] + ([f"data.sizes.test={args.after}"] if args.after else []), Path(tmp))
    both = min(nb, na)
    d, i, t, name = worst({f: after[f][:both] for f in FIELDS}, {f: before[f][:both] for f in FIELDS})
    frame0 = all(np.array_equal(after[f][:both, 0], before[f][:both, 0]) for f in FIELDS)
    rate_b, rate_a = wall_b / nb, wall_a / na
    print("\n| preset benchmark (nu = 1e-3, T = 50), test split | samples | wall s | CPU s | wall s / sample |"
          " test split (200) | whole preset (1,200) |\n" + "|---" * 7 + "|")
    for label, n, wall, cpu, rate, measured in (("before: 256 solves", nb, wall_b, cpu_b, rate_b, nb >= 200),
                                                ("after: auto (64 solves)", na, wall_a, cpu_a, rate_a, na >= 200)):
        split = f"{wall:.0f} s" if measured else f"{200 * rate / 60:.0f} min (projected)"
        print(f"| {label} | {n} | {wall:.1f} | {cpu:.1f} | {rate:.3f} | {split} | {1200 * rate / 60:.1f} min "
              "(projected) |")
    print(f"\nspeed-up (wall per sample): {rate_b / rate_a:.0f}x; largest difference over the {both} samples "
          f"both made: {d:.1e} relative L2 (sample {i}, t = {t}, {name}; float32 data); frame 0 bitwise "
          f"equal: {frame0}; load average now {os.getloadavg()[0]:.1f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("study", help="the convergence study (float64)")
    s.add_argument("--samples", type=int, default=6)
    s.add_argument("--round-off", type=int, default=2, help="samples for the float32 round-off figures (0: none)")
    e = sub.add_parser("early", help="the first row's first coarse frames over many test samples (float64)")
    e.add_argument("--samples", type=int, default=200)
    e.add_argument("--frames", type=int, default=1, help="coarse frames after the start-up")
    u = sub.add_parser("startup", help="difference per start-up length on some test samples (float64)")
    u.add_argument("--indices", type=int, nargs="+", default=[139, 3], help="test samples (the worst ones)")
    u.add_argument("--lengths", type=int, nargs="+", default=[0, 1, 2, 3])
    u.add_argument("--frames", type=int, default=12)
    t = sub.add_parser("timing", help="benchmark preset: 256 solves vs auto, through the build driver")
    t.add_argument("--before", type=int, default=8, help="test samples generated the old way (256 solves)")
    t.add_argument("--after", type=int, default=None, help="test samples generated with auto (default: the split)")
    for q in (s, e, u, t):
        q.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    set_threads(args.threads)
    header(f"NS solve grid: {args.what}")
    {"study": study, "early": early, "startup": startup, "timing": timing}[args.what](args)


if __name__ == "__main__":
    main()
