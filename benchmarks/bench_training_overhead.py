"""(b) Training overhead: our Lightning task vs a plain PyTorch loop, same model, data and batch.

Both sides train the same network (same initial weights) on the same DataLoader with the same
optimiser, schedule and loss:

- ours: the Trainer and callbacks that `train.py` builds (checkpoint callbacks, loader-position
  callback, CSV logger, logging every 10 steps), validation switched off;
- plain: ``for batch in loader: loss = task._loss(task.rollout(x, steps), y); loss.backward();
  opt.step(); sched.step()``: the same arithmetic (normalise, network, decode, loss) without
  the Trainer, so the difference is the framework's.

Seconds per step = median interval between consecutive batch starts (data loading included on
both sides), after a few warm-up steps, in CPU time of the process (``time.process_time``: one
thread, loader in-process, so this is the work done; on a shared machine wall time also counts
the time other processes held the core) and in wall time. The two sides run in ABBA-ordered
rounds; the ratio is of the medians over all rounds.

    python benchmarks/bench_training_overhead.py                         # FNO on darcy small (~2 min)
    python benchmarks/bench_training_overhead.py --model mgno --data ns --steps 20
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from _common import header, set_threads


def compose(overrides):
    from hydra import compose as hcompose, initialize_config_dir

    from pdebench_x.core.config import config_dir
    with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
        return hcompose(config_name="train", overrides=overrides)


def lightning_steps(cfg, n_steps: int, warmup: int) -> list[float]:
    import lightning as L
    from hydra.utils import instantiate
    from lightning.pytorch.callbacks import ModelCheckpoint

    from pdebench_x.data.loaders import LoaderPosition
    from pdebench_x.training.run import build_datamodule, build_task, build_loggers

    L.seed_everything(0, verbose=False)
    dm = build_datamodule(cfg)
    dm.setup()
    task = build_task(cfg, dm)
    stamps: list[float] = []

    class Clock(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            stamps.append((time.process_time(), time.perf_counter()))

        def on_train_end(self, trainer, pl_module):
            stamps.append((time.process_time(), time.perf_counter()))

    run_dir = tempfile.mkdtemp()
    callbacks = [ModelCheckpoint(dirpath=f"{run_dir}/checkpoints", monitor=None, filename="last", save_top_k=1,
                                 enable_version_counter=False),
                 ModelCheckpoint(dirpath=f"{run_dir}/checkpoints", monitor=None, filename="last", save_top_k=1,
                                 enable_version_counter=False, every_n_train_steps=int(cfg.checkpoint_every_n_steps)),
                 LoaderPosition(), Clock()]
    trainer = instantiate(cfg.trainer, logger=build_loggers(cfg, run_dir) or False, callbacks=callbacks,
                          default_root_dir=run_dir, limit_train_batches=n_steps + warmup, limit_val_batches=0,
                          num_sanity_val_steps=0, max_epochs=1, enable_progress_bar=False)
    trainer.fit(task, datamodule=dm)
    return intervals(stamps, warmup)


def intervals(stamps, warmup: int) -> list[tuple[float, float]]:
    """(CPU seconds, wall seconds) between consecutive stamps after ``warmup`` steps."""
    return [(b[0] - a[0], b[1] - a[1]) for a, b in zip(stamps[warmup:], stamps[warmup + 1:])]


def plain_steps(cfg, n_steps: int, warmup: int) -> list[float]:
    import lightning as L

    from pdebench_x.training.optim import build_optimizer, build_scheduler
    from pdebench_x.training.run import build_datamodule, build_task

    L.seed_everything(0, verbose=False)
    dm = build_datamodule(cfg)
    dm.setup()
    task = build_task(cfg, dm)             # its arithmetic only, no Trainer
    recipe = cfg.model.recipe
    loader = dm.train_dataloader()
    opt = build_optimizer(recipe.optimizer, task.model.parameters())
    sched = build_scheduler(recipe.get("scheduler"), opt, len(loader), len(loader))
    task.train()
    stamps = []
    for i, batch in enumerate(loader):
        stamps.append((time.process_time(), time.perf_counter()))
        if i == n_steps + warmup:
            break
        x, y = batch["x"], batch["y"]
        loss = task._loss(task.rollout(x, y.shape[1]), y, x=x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    return intervals(stamps, warmup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="fno")
    parser.add_argument("--data", default="darcy")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides, e.g. data.batch_size=32")
    args = parser.parse_args()
    set_threads(args.threads)
    header("(b) training overhead: Lightning task vs plain PyTorch loop")
    cfg = compose([f"model={args.model}", f"data={args.data}", "trainer.enable_progress_bar=false", *args.overrides])
    from pdebench_x.data.build import ensure_dataset, plan_from_config
    ensure_dataset(plan_from_config(cfg.data, cfg.paths.data_dir))
    plain, ours = rounds(cfg, args.rounds, args.steps, args.warmup)
    # The framework's cost per step is a fixed amount of Python work, measured precisely on a
    # network so small that the step is mostly that work (noise scales with the step time).
    probe = compose([f"model={args.model}", f"data={args.data}", "trainer.enable_progress_bar=false",
                     *args.overrides, *PROBE.get(args.model, [])])
    p_plain, p_ours = rounds(probe, args.rounds, 4 * args.steps, args.warmup)
    extra = med(p_ours, 0) - med(p_plain, 0)
    batch = cfg.model.recipe.get("batch_size") or cfg.data.batch_size
    print("| model / data / batch | plain loop (s/step) | Lightning task (s/step) | ratio (<= 1.05) |")
    print("|---|---|---|---|")
    for k, what in ((0, "CPU time"), (1, "wall time")):
        p, o = med(plain, k), med(ours, k)
        print(f"| {args.model} / {args.data} / {batch}, {what} | {p:.4f} | {o:.4f} | **{o / p:.3f}** |")
    p = med(plain, 0)
    print(f"| tiny {args.model} (probe), CPU time | {med(p_plain, 0):.4f} | {med(p_ours, 0):.4f} | "
          f"{med(p_ours, 0) / med(p_plain, 0):.3f} |")
    print(f"| {args.model} / {args.data} / {batch}: plain + the probe's framework cost ({extra * 1e3:.1f} ms) | "
          f"{p:.4f} | {p + extra:.4f} | **{(p + extra) / p:.3f}** |")


#: overrides that make a model tiny (the framework-overhead probe)
PROBE = {"fno": ["model.net.hidden_channels=4", "model.net.n_layers=1", "model.net.n_modes=[4,4]"],
         "unet": ["model.net.width=4", "model.net.levels=1"],
         "mgno": ["model.net.width=4", "model.net.layers=1"],
         "sinenet": ["model.net.hidden=4", "model.net.num_waves=1"]}


def rounds(cfg, n_rounds: int, steps: int, warmup: int):
    plain, ours = [], []
    for r in range(n_rounds):
        order = (plain_steps, lightning_steps) if r % 2 == 0 else (lightning_steps, plain_steps)
        for fn in order:
            (plain if fn is plain_steps else ours).extend(fn(cfg, steps, warmup))
        print(f"round {r}: CPU ms/step plain {med(plain, 0) * 1e3:.1f}, Lightning {med(ours, 0) * 1e3:.1f}; wall "
              f"plain {med(plain, 1) * 1e3:.1f}, Lightning {med(ours, 1) * 1e3:.1f} (medians so far)", flush=True)
    return plain, ours


def med(pairs, k: int) -> float:
    return statistics.median(x[k] for x in pairs)


if __name__ == "__main__":
    main()
