"""(b) Training overhead: our Lightning task vs a plain PyTorch loop, same model, data and batch.

Both sides train the same network (same initial weights) on the same DataLoader with the same
optimiser, schedule and loss:

- ours: the Trainer and callbacks that `train.py` builds (checkpoint callbacks, loader-position
  callback, CSV logger, logging every 10 steps), validation switched off;
- plain: ``for batch in loader: loss = loss_fn(decode(net(encode(x))), y); loss.backward();
  opt.step(); sched.step()``.

Seconds per step = median interval between consecutive batch starts (data loading included on
both sides), after a few warm-up steps. The two are run in alternating rounds so that load on a
shared machine hits both alike; the ratio is of the medians over all rounds.

    python benchmarks/bench_training_overhead.py                         # FNO on darcy small (~2 min)
    python benchmarks/bench_training_overhead.py --model mgno --data ns --steps 20
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from _common import ROOT, header, set_threads


def compose(overrides):
    from hydra import compose as hcompose, initialize_config_dir
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return hcompose(config_name="train", overrides=overrides)


def lightning_steps(cfg, n_steps: int, warmup: int) -> list[float]:
    import lightning as L
    from hydra.utils import instantiate
    from lightning.pytorch.callbacks import ModelCheckpoint

    from pdebench_x import distributed
    from pdebench_x.training import build_datamodule, build_task, build_loggers

    L.seed_everything(0, verbose=False)
    dm = build_datamodule(cfg)
    dm.setup()
    task = build_task(cfg, dm)
    stamps: list[float] = []

    class Clock(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            stamps.append(time.perf_counter())

        def on_train_end(self, trainer, pl_module):
            stamps.append(time.perf_counter())

    run_dir = tempfile.mkdtemp()
    callbacks = [ModelCheckpoint(dirpath=f"{run_dir}/checkpoints", monitor=None, filename="last", save_top_k=1,
                                 enable_version_counter=False),
                 ModelCheckpoint(dirpath=f"{run_dir}/checkpoints", monitor=None, filename="last", save_top_k=1,
                                 enable_version_counter=False, every_n_train_steps=int(cfg.checkpoint_every_n_steps)),
                 distributed.LoaderPosition(), Clock()]
    trainer = instantiate(cfg.trainer, logger=build_loggers(cfg, run_dir) or False, callbacks=callbacks,
                          default_root_dir=run_dir, limit_train_batches=n_steps + warmup, limit_val_batches=0,
                          num_sanity_val_steps=0, max_epochs=1, enable_progress_bar=False)
    trainer.fit(task, datamodule=dm)
    return [b - a for a, b in zip(stamps[warmup:], stamps[warmup + 1:])]


def plain_steps(cfg, n_steps: int, warmup: int) -> list[float]:
    import lightning as L

    from pdebench_x.optim import build_optimizer, build_scheduler
    from pdebench_x.training import build_datamodule, build_task

    L.seed_everything(0, verbose=False)
    dm = build_datamodule(cfg)
    dm.setup()
    task = build_task(cfg, dm)             # only for the same network, normalisers and loss
    net, enc, dec, loss_fn = task.model, task.in_norm.encode, task.out_norm.decode, task.loss_fn
    recipe = cfg.model.recipe
    loader = dm.train_dataloader()
    opt = build_optimizer(recipe.optimizer, net.parameters())
    sched = build_scheduler(recipe.get("scheduler"), opt, len(loader), len(loader))
    net.train()
    stamps = []
    for i, batch in enumerate(loader):
        stamps.append(time.perf_counter())
        if i == n_steps + warmup:
            break
        x, y = batch["x"], batch["y"]
        loss = loss_fn(dec(net(enc(x))), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    return [b - a for a, b in zip(stamps[warmup:], stamps[warmup + 1:])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="fno")
    parser.add_argument("--data", default="darcy")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("overrides", nargs="*", help="extra Hydra overrides, e.g. data.batch_size=32")
    args = parser.parse_args()
    set_threads(args.threads)
    header("(b) training overhead: Lightning task vs plain PyTorch loop")
    cfg = compose([f"model={args.model}", f"data={args.data}", "trainer.enable_progress_bar=false", *args.overrides])
    from pdebench_x.data.build import ensure_dataset, plan_from_config
    ensure_dataset(plan_from_config(cfg.data, cfg.paths.data_dir))
    ours, plain = [], []
    for r in range(args.rounds):
        plain += plain_steps(cfg, args.steps, args.warmup)
        ours += lightning_steps(cfg, args.steps, args.warmup)
        print(f"round {r}: plain {statistics.median(plain) * 1e3:.1f} ms/step, lightning "
              f"{statistics.median(ours) * 1e3:.1f} ms/step (medians so far)", flush=True)
    p, o = statistics.median(plain), statistics.median(ours)
    batch = cfg.model.recipe.get("batch_size") or cfg.data.batch_size
    print("| model / data / batch | plain loop (s/step) | Lightning task (s/step) | ratio (<= 1.05) |")
    print("|---|---|---|---|")
    print(f"| {args.model} / {args.data} / {batch} | {p:.4f} | {o:.4f} | **{o / p:.3f}** |")


if __name__ == "__main__":
    main()
