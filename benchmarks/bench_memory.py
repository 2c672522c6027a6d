"""(e) Memory: peak memory of one training step per model at its paper configuration and batch.

Each model runs in a fresh process: its paper configuration (conf/experiment/*_paper.yaml, or
the FNO paper's FNO-2D), the spec of our dataset (channels, history, padding), a batch of
the paper's grid size, one step (forward, backward, optimiser step, so Adam's states exist).

- GPU: ``torch.cuda.max_memory_allocated`` of that step, at the paper batch size.
- CPU: the process's peak resident set during the step (``VmHWM``, its mark reset just before)
  above what it held before the step (imports, parameters, data): at the paper batch when it
  is <= 8, else at a quarter and a half of it (at most 4 and 8), extrapolated linearly (activations are linear in
  the batch) and labelled so; ``--direct`` measures at the paper batch (if the machine has the
  memory). Small batches are dominated by allocator noise: FNO measured 22 MiB at B=4 and
  264 MiB at B=20.

    python benchmarks/bench_memory.py                       # every model (~10 min on 1 CPU core, 7 GiB)
    python benchmarks/bench_memory.py --models fno mgno --direct
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

from _common import ROOT, header, set_threads

#: name -> (config overrides, dataset whose spec is used, grid, paper batch, what the paper setting is)
ENTRIES = {
    "fno": (["model=fno", "model.net.hidden_channels=20", "model.net.n_modes=[12,12]", "model.net.n_layers=4"],
            "ns", 64, 20, "FNO-2D (width 20, 12 modes), NS 64^2, 10 frames in, batch 20"),
    "unet": (["model=unet"], "ns", 64, 16, "our U-Net baseline config, NS 64^2, batch 16 (no paper config)"),
    "mgno": (["experiment=mgno_paper"], "darcy", 256, 8, "MgNO Darcy: 4 layers, 24 ch, 6 levels, 256^2, batch 8"),
    "mgno_ns": (["experiment=mgno_ns_paper"], "ns", 64, 8, "MgNO NS: 5 layers, 32 ch, 5 levels, 64^2, batch 8"),
    "sinenet": (["experiment=sinenet_paper"], "ns", 128, 32,
                "SineNet-8 (35M at PDEArena NS), 128^2, 1 field here (3 in PDEArena), batch 32"),
    "prose": (["experiment=prose_paper"], "ns", 128, 80, "PROSE-FD d=1024, 128^2, batch 80"),
}


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak() -> int:
    """Resets the kernel's peak-RSS mark (Linux: 5 > /proc/self/clear_refs) and returns the current
    RSS in bytes, so that the next peak is the step's own, not one left by data loading before it.
    Elsewhere: the high-water mark so far (the step's figure is then a lower bound)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return _status_kib("VmRSS") * 1024
    except (OSError, TypeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def peak_rss() -> int:
    hwm = _status_kib("VmHWM")
    return hwm * 1024 if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def one(name: str, batch: int) -> dict:
    """Runs in the child process: one training step; returns the measured figures."""
    import torch
    from hydra import compose, initialize_config_dir

    from pdebench_x.core.config import config_dir
    from pdebench_x.training.optim import build_optimizer
    from pdebench_x.training.run import build_datamodule, build_task
    overrides, data, grid, _, _ = ENTRIES[name]
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        cfg = compose(config_name="train", overrides=[f"data={data}", *overrides])
    dm = build_datamodule(cfg)
    dm.prepare_data()
    dm.setup()
    task = build_task(cfg, dm)
    real = next(iter(dm.train_dataloader()))
    device = "cuda" if torch.cuda.is_available() else "cpu"
    task.to(device).train()
    x0, y0 = real["x"], real["y"]
    x = torch.randn(batch, *x0.shape[1:3], grid, grid, device=device)
    y = torch.randn(batch, *y0.shape[1:3], grid, grid, device=device)
    idx = torch.arange(batch) % x0.shape[0]
    scalars = {k: (v[idx] if torch.is_tensor(v) and v.ndim else v) for k, v in (real.get("scalars") or {}).items()}
    opt = build_optimizer(cfg.model.recipe.optimizer, task.parameters())
    n_params = sum(p.numel() for p in task.parameters())
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        before = reset_peak()
    start = time.perf_counter()
    cond = task.make_cond({"scalars": scalars})
    pred, aux = task.rollout(x, y.shape[1], cond, with_aux=True)
    loss = task._loss(pred, y, x=x) + (sum(aux.values()) if aux else 0.0)
    loss.backward()
    opt.step()
    if device == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
    else:
        peak = peak_rss()
    return {"name": name, "batch": batch, "device": device, "params": n_params, "before": before,
            "peak": peak, "step": peak - before, "seconds": time.perf_counter() - start}


def measure(name: str, batch: int, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run([sys.executable, __file__, "--child", name, str(batch), "--threads", str(threads)],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{name} batch {batch} failed:\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def gib(b: float) -> str:
    return f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(ENTRIES))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--direct", action="store_true", help="CPU: measure at the paper batch (no extrapolation)")
    parser.add_argument("--max-batch", type=int, default=8, help="CPU: largest batch measured when extrapolating")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    set_threads(args.threads)
    if args.child:
        print(json.dumps(one(args.child[0], int(args.child[1]))))
        return
    header("(e) peak memory of one training step at the paper configuration")
    import torch
    gpu = torch.cuda.is_available()
    print("| model | paper setting | parameters | peak memory of one step | how |")
    print("|---|---|---|---|---|")
    for name in args.models:
        paper_batch, note = ENTRIES[name][3], ENTRIES[name][4]
        if gpu or args.direct:
            r = measure(name, paper_batch, args.threads)
            how = "torch.cuda.max_memory_allocated" if r["device"] == "cuda" else "peak RSS (VmHWM) above pre-step RSS"
            figure = gib(r["peak"] if r["device"] == "cuda" else r["step"])
        elif paper_batch <= 8:
            r = measure(name, paper_batch, args.threads)
            figure = gib(r["step"])
            how = f"CPU peak RSS (VmHWM) above pre-step RSS, at the paper batch ({r['seconds']:.1f} s per step)"
        else:
            # a quarter and a half of the paper batch (small batches are dominated by allocator
            # noise), at most 4 and 8 (SineNet-8 at 128^2 holds ~0.7 GiB per sample on a CPU)
            b1 = min(paper_batch // 4, args.max_batch // 2)
            b2 = 2 * b1
            r1, r2 = measure(name, b1, args.threads), measure(name, b2, args.threads)
            per_sample = max(r2["step"] - r1["step"], 0) / (b2 - b1)
            base = r1["step"] - b1 * per_sample
            figure = f"{gib(base + paper_batch * per_sample)} (extrapolated: {gib(base)} + B x {gib(per_sample)})"
            how = (f"CPU peak RSS (VmHWM) above pre-step RSS at B={b1}, {b2} ({r1['seconds']:.1f} s, "
                   f"{r2['seconds']:.1f} s per step), linear in B")
            r = r1
        print(f"| {name} | {note} | {r['params']:,} | {figure} | {how} |", flush=True)


if __name__ == "__main__":
    main()
