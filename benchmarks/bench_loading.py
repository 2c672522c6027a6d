"""(c) Loading: the HDF5 data module's samples per second against the models' training rates.

For each dataset (small presets, generated on first use) the train DataLoader of
``PDEDataModule`` is drained for a number of batches at each worker setting, and every operator
model (default configs) takes a few training steps (forward, backward, optimiser step) on the
same batches. The loader must never be the bottleneck: its rate must be >= 5x the training rate
of the slowest model (the issue's figure) — and, the stricter test, of the fastest one.

Files are The Well's layout, chunked one sample per chunk (a window read touches one chunk per
field); the loader reads per window, so worker processes scale it.

    python benchmarks/bench_loading.py                         # darcy, ns, swe x 5 models (~3 min)
    python benchmarks/bench_loading.py --data ns --models fno sinenet --workers 0 2 4
"""
from __future__ import annotations

import argparse
import time

from _common import header, set_threads

from pdebench_x.core.config import compose_config, list_models


def loader_rate(cfg, workers: int, batches: int) -> float:
    from pdebench_x.training.run import build_datamodule
    cfg.data.num_workers = workers
    dm = build_datamodule(cfg)
    dm.setup()
    loader = dm.train_dataloader()
    it = iter(loader)
    next(it)                               # workers started, files opened
    n, start = 0, time.perf_counter()
    for i, batch in enumerate(it):
        n += batch["x"].shape[0]
        if i + 1 == batches:
            break
    rate = n / (time.perf_counter() - start)
    del it, loader
    return rate


def model_rate(cfg, steps: int) -> tuple[float, int]:
    from pdebench_x.training.optim import build_optimizer
    from pdebench_x.training.run import build_datamodule, build_task
    dm = build_datamodule(cfg)
    dm.setup()
    task = build_task(cfg, dm)
    opt = build_optimizer(cfg.model.recipe.optimizer, task.parameters())
    batch = next(iter(dm.train_dataloader()))
    x, y = batch["x"], batch["y"]

    def step():
        cond = task.make_cond(batch)
        pred, aux = task.rollout(x, y.shape[1], cond, with_aux=True)
        loss = task._loss(pred, y, x=x) + (sum(aux.values()) if aux else 0.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    dt = (time.perf_counter() - start) / steps
    return x.shape[0] / dt, x.shape[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", default=["darcy", "ns", "swe"])
    parser.add_argument("--models", nargs="+", help="default: every operator learner that supports the dataset")
    parser.add_argument("--workers", nargs="+", type=int, default=[0, 2])
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    set_threads(args.threads)
    header("(c) loading: data module samples/s vs model training samples/s")
    from pdebench_x.data.build import ensure_dataset, plan_from_config
    rows = []
    for data in args.data:
        cfg = compose_config([f"data={data}"])
        ensure_dataset(plan_from_config(cfg.data, cfg.paths.data_dir))
        loads = {w: loader_rate(compose_config([f"data={data}"]), w, args.batches) for w in args.workers}
        rates = {}
        for model in args.models or list(list_models("operator", family=data)):
            rates[model] = model_rate(compose_config([f"data={data}", f"model={model}"]), args.steps)
            print(f"{data}: {model} trains {rates[model][0]:.1f} samples/s (batch {rates[model][1]})", flush=True)
        slowest = min(rates, key=lambda m: rates[m][0])
        fastest = max(rates, key=lambda m: rates[m][0])
        best_w = max(loads, key=loads.get)
        rows.append((data, loads, best_w, slowest, rates[slowest][0], fastest, rates[fastest][0]))
    print("| data | loader samples/s (workers) | slowest model samples/s | ratio (>= 5) | "
          "fastest model samples/s | ratio |")
    print("|---|---|---|---|---|---|")
    for data, loads, w, slow, slow_rate, fast, fast_rate in rows:
        load_txt = ", ".join(f"{loads[k]:.0f} ({k})" for k in loads)
        print(f"| {data} | {load_txt} | {slow_rate:.1f} ({slow}) | **{loads[w] / slow_rate:.0f}x** | "
              f"{fast_rate:.1f} ({fast}) | {loads[w] / fast_rate:.0f}x |")


if __name__ == "__main__":
    main()
