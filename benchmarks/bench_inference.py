"""(d) Inference vs the numerical solver at equal accuracy: speed-up per sample.

A model is trained briefly with `train.py`'s pipeline (or taken from ``--run <run dir>``) and its
test error measured (relative L2, FNO's aggregation, over the scored frames). The numerical
solver is then run on the same test inputs on coarser grids and with larger steps, and its error
measured against the same test data in the same way; the solver setting that matches the model
is the *cheapest one whose error is at most the model's*. Both sides are timed per sample over
the whole test split processed as one batch, on the same threads.

- ns: the solver starts from the last context frame (t = 10), spectrally restricted to an n x n
  grid, runs the IF-RK4 scheme with CFL number c (and largest step 0.1 c) to the 10 target times
  and is interpolated back (spectrally) to 64^2.
- darcy: the coefficient is block-averaged to n x n cells, solved there (multigrid-CG) and the
  solution interpolated bilinearly (u = 0 on the boundary) to the 64^2 cell centres.

The solver at the data's own resolution and step is printed beside it, labelled as the
equal-resolution figure (it reproduces the data to round-off: not an equal-accuracy comparison).

    python benchmarks/bench_inference.py                      # FNO, ns and darcy (~5 min on 1 core)
    python benchmarks/bench_inference.py --data ns --run outputs/ns_fno/<time>
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import header, set_threads

from pdebench_x.core.config import compose_config
from pdebench_x.core.files import METRICS_FILE


def trained(data: str, model: str, epochs: int, run: str | None):
    """(task in eval mode, config, test record) from a run directory or a fresh short run."""
    from pdebench_x.training.task import OperatorTask
    from pdebench_x.training.run import run_training
    if run is None:
        out = Path(tempfile.mkdtemp())
        cfg = compose_config([f"data={data}", f"model={model}", f"trainer.max_epochs={epochs}",
                              "trainer.enable_progress_bar=false", "checkpoint_every_n_steps=null",
                              f"paths.output_dir={out}"])
        record = run_training(cfg, out / "run")
    else:
        record = json.loads((Path(run) / METRICS_FILE).read_text())
        from omegaconf import OmegaConf
        cfg = OmegaConf.create(record["config"])
    task = OperatorTask.load_from_checkpoint(record["checkpoint"], map_location="cpu", weights_only=False).eval()
    return task, cfg, record


def test_batch(cfg):
    import torch

    from pdebench_x.training.run import build_datamodule
    dm = build_datamodule(cfg)
    dm.setup()
    ds = dm.dataset("test")
    items = [ds[i] for i in range(len(ds))]
    x = torch.stack([torch.as_tensor(it["x"]) for it in items])
    y = torch.stack([torch.as_tensor(it["y"]) for it in items])
    return dm, x, y


def rel_l2(pred, target) -> float:
    from pdebench_x.evaluation.metrics import relative_l2_fno
    return float(relative_l2_fno(pred, target).mean())


def model_side(task, x, y, repeat: int = 3):
    import torch
    with torch.no_grad():
        pred = task.predict_physical(x, y.shape[1])
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            task.predict_physical(x, y.shape[1])
            best = min(best, time.perf_counter() - start)
    return rel_l2(pred, y), best / x.shape[0]


# ---------------------------------------------------------------------------------------------
def ns_solver(dm, x, y, n: int, cfl: float):
    """Prediction of the target frames from the last context frame, solved on an n x n grid."""
    import torch

    from pdebench_x.numerics.ns.fields import forcing_pattern, spectral_resample
    from pdebench_x.numerics.ns.solver import solve_vorticity
    info = dm.sources["test"].info
    nu = float(info.scalars.get("viscosity", 1e-3))
    amp = float(info.scalars.get("forcing_amplitude", 0.1))
    dt_out = float(info.times[1] - info.times[0])
    big = x.shape[-1]
    w0 = spectral_resample(x[:, -1, 0].double().numpy(), n)
    times = dt_out * np.arange(1, y.shape[1] + 1)
    forcing = torch.tensor(amp * forcing_pattern(n), dtype=torch.float32)
    sol = solve_vorticity(torch.tensor(w0, dtype=torch.float32), forcing,
                          nu, times, cfl=cfl, max_dt=0.1 * cfl)
    w = sol.vorticity.double().numpy()
    out = spectral_resample(w, big) if n != big else w
    return torch.tensor(out, dtype=torch.float32)[:, :, None]


def darcy_solver(dm, x, y, n: int, _unused: float):
    import torch
    from scipy.interpolate import RegularGridInterpolator

    from pdebench_x.numerics.coarsen import block_average
    from pdebench_x.numerics.darcy.solver import solve
    info = dm.sources["test"].info
    settings = info.attrs.get("settings") or "{}"
    forcing = float((json.loads(settings) if isinstance(settings, str) else settings).get("forcing", 1.0))
    big = x.shape[-1]
    fine = (np.arange(big) + 0.5) / big
    coarse = np.concatenate([[0.0], (np.arange(n) + 0.5) / n, [1.0]])
    pts = np.stack(np.meshgrid(fine, fine, indexing="ij"), -1).reshape(-1, 2)
    out = []
    for a in x[:, 0, 0].double().numpy():
        u = solve(block_average(a, big // n), forcing, "cells")
        padded = np.pad(u, 1)                              # u = 0 on the boundary
        out.append(RegularGridInterpolator((coarse, coarse), padded)(pts).reshape(big, big))
    return torch.tensor(np.stack(out), dtype=torch.float32)[:, None, None]


SOLVERS = {"ns": (ns_solver, [8, 16, 32, 64], [1.0, 2.0, 4.0]), "darcy": (darcy_solver, [8, 16, 32, 64], [1.0])}


def solver_side(data, dm, x, y):
    fn, sizes, cfls = SOLVERS[data]
    rows = []
    for n in sizes:
        for cfl in cfls:
            try:
                start = time.perf_counter()
                pred = fn(dm, x, y, n, cfl)
                seconds = (time.perf_counter() - start) / x.shape[0]
            except (FloatingPointError, RuntimeError):
                continue
            err = rel_l2(pred, y)
            if not np.isfinite(err):
                continue
            rows.append({"n": n, "cfl": cfl, "err": err, "sec": seconds})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", default=["ns", "darcy"])
    parser.add_argument("--model", default="fno")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--run", default=None, help=f"a finished run directory (with {METRICS_FILE}) to use")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    set_threads(args.threads)
    header("(d) inference vs numerical solver at equal accuracy")
    table = []
    for data in args.data:
        task, cfg, record = trained(data, args.model, args.epochs, args.run)
        dm, x, y = test_batch(cfg)
        m_err, m_sec = model_side(task, x, y)
        rows = solver_side(data, dm, x, y)
        for r in rows:
            print(f"{data}: solver n={r['n']} cfl={r['cfl']:g}: rel L2 {r['err']:.2e}, {r['sec'] * 1e3:.1f} ms/sample",
                  flush=True)
        ok = [r for r in rows if r["err"] <= m_err]
        match = min(ok, key=lambda r: r["sec"]) if ok else None
        own = max(rows, key=lambda r: (r["n"], -r["cfl"]))
        table.append((data, args.model, m_err, m_sec, match, own))
    print("| data | model (rel L2, ms/sample) | solver at equal accuracy (grid, CFL, rel L2, ms/sample) | "
          "speed-up | equal-resolution solver (ms/sample, speed-up) |")
    print("|---|---|---|---|---|")
    for data, model, m_err, m_sec, match, own in table:
        if match is None:
            eq = "none of the tried settings is as inaccurate as the model: solver is exact and cheap"
            speed = "–"
        else:
            eq = f"{match['n']}^2, {match['cfl']:g}, {match['err']:.2e}, {match['sec'] * 1e3:.2f}"
            speed = f"**{match['sec'] / m_sec:.2f}x**"
        print(f"| {data} | {model} ({m_err:.2e}, {m_sec * 1e3:.2f}) | {eq} | {speed} | "
              f"{own['sec'] * 1e3:.2f} ({own['sec'] / m_sec:.1f}x; {own['n']}^2, error {own['err']:.1e}) |")


if __name__ == "__main__":
    main()
