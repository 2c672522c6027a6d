"""Scale-out helpers: samplers, cross-process gathering, cluster launch and preemption.

Samplers. Every split is read through a ``DistributedSampler`` subclass, so Lightning keeps
ours instead of injecting its own:

- train: :class:`TrainSampler`. Epoch e is the permutation ``randperm(N)`` of a generator
  seeded with ``seed + e`` (torch's ``DistributedSampler``), cut to ``W * floor(N / W)`` and
  dealt out rank r <- positions r, r + W, r + 2W, ... With batch b per process, global step k
  takes permutation positions [k W b, (k + 1) W b): the samples a single process with batch
  ``W b`` and the same seed takes at step k, whatever W. The W-sized remainder of each epoch's
  permutation is left out (a different part each epoch), so the processes' shares are disjoint.
- valid/test: :class:`EvalSampler`: rank r <- samples r, r + W, ... without padding (torch's
  sampler pads with repeats so every rank has as many; that would score a sample twice).

Resuming mid-epoch: :class:`ResumableLoader` counts the batches it has handed out this epoch;
Lightning saves that count (``state_dict``) into every checkpoint and, on restart, gives it
back (``load_state_dict``) before the epoch's iterator is created: the sampler then skips the
samples already trained on, so a resumed run sees exactly the batches an uninterrupted one does.

Cluster runs: :func:`prepare_environment` turns the variables of submitit's local executor into
the ones Lightning reads, so ``tasks_per_node = trainer.devices`` processes form one DDP job
(SLURM's are read by Lightning itself); :func:`check_launch` refuses what cannot work.

Preemption: :func:`resolve_resume` finds the checkpoint a ``resume=auto`` run continues from;
:func:`check_checkpoint` refuses a truncated checkpoint or one of another model before Lightning
loads anything.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import torch
import torch.distributed as dist
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from pdebench_x.data.build import _plain

log = logging.getLogger(__name__)

RUN_CONFIG_FILE = "run_config.json"
#: config keys that say how to start a run, not what the run is (excluded from its identity)
LAUNCH_KEYS = ("resume", "ckpt_path")
#: config keys that say where files go, not what is trained (excluded from the identity too, so a
#: run is found again after its outputs or data root moved; "hydra" only if the node was composed in)
PLACE_KEYS = ("paths", "hydra")


# --------------------------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------------------------
def rank_and_world() -> tuple[int, int]:
    """(global rank, number of processes) of the default process group; (0, 1) without one."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_objects(obj: Any) -> list[Any]:
    """``obj`` of every process, in rank order (``all_gather_object``); ``[obj]`` alone."""
    rank, world = rank_and_world()
    if world == 1:
        return [obj]
    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out


def strided_order(counts: Sequence[int]) -> torch.Tensor:
    """Permutation that puts per-rank lists, concatenated in rank order, back in sample order.

    With :class:`EvalSampler`, rank r holds samples r, r + W, r + 2W, ... (``counts[r]`` of them).
    Returns ``order`` such that ``concatenated[order]`` lists samples 0, 1, 2, ...
    """
    world = len(counts)
    offsets = [sum(counts[:r]) for r in range(world)]
    total = sum(counts)
    order = torch.empty(total, dtype=torch.long)
    for i in range(total):
        r, j = i % world, i // world
        if j >= counts[r]:
            raise ValueError(f"per-rank counts {list(counts)} are not those of a strided split of {total} samples")
        order[i] = offsets[r] + j
    return order


def gather_accumulator(acc):
    """A :class:`~pdebench_x.metrics.MetricAccumulator` with the samples of every process, in
    sample order (each process having scored its :class:`EvalSampler` share); ``acc`` alone."""
    from pdebench_x.metrics import MetricAccumulator
    if rank_and_world()[1] == 1:
        return acc
    states = gather_objects(acc.state_dict())
    return MetricAccumulator.from_state_dicts(states, order=strided_order([s["n"] for s in states]))


def sum_over_processes(*values: float) -> list[float]:
    """Each value summed over the processes (itself alone)."""
    return [sum(v) for v in zip(*gather_objects([float(x) for x in values]))]


# --------------------------------------------------------------------------------------------
# samplers and loaders
# --------------------------------------------------------------------------------------------
def _replicas_and_rank(dataset: Dataset, num_replicas: int | None, rank: int | None,
                       too_few: str) -> tuple[int, int]:
    """The process group's size and this rank unless given; every process must get a sample."""
    r, w = rank_and_world()
    num_replicas = w if num_replicas is None else num_replicas
    rank = r if rank is None else rank
    if len(dataset) < num_replicas:
        raise ValueError(f"{too_few.format(n=len(dataset))} for {num_replicas} processes: every process "
                         "needs at least one; use fewer devices or more data")
    return num_replicas, rank


class TrainSampler(DistributedSampler):
    """Shuffled, unpadded share of one process (see the module docstring); resumable mid-epoch."""

    def __init__(self, dataset: Dataset, seed: int = 0, num_replicas: int | None = None,
                 rank: int | None = None, shuffle: bool = True) -> None:
        num_replicas, rank = _replicas_and_rank(dataset, num_replicas, rank, "the train split has {n} windows")
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=True)
        self._skip = 0

    def skip_next(self, n: int) -> None:
        """The next iteration starts ``n`` samples into this process's share (resuming mid-epoch)."""
        self._skip = int(n)

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        skip, self._skip = self._skip, 0
        return iter(indices[skip:])


class EvalSampler(DistributedSampler):
    """Samples rank, rank + W, ... of an evaluation split, in order, never padded or repeated.

    Processes may get one sample more than others; metrics are gathered per sample, never
    averaged per process, so each sample counts once.
    """

    def __init__(self, dataset: Dataset, num_replicas: int | None = None, rank: int | None = None) -> None:
        num_replicas, rank = _replicas_and_rank(dataset, num_replicas, rank,
                                                "an evaluation split has {n} samples")
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=False, drop_last=False)
        self.num_samples = len(range(rank, len(dataset), num_replicas))

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, len(self.dataset), self.num_replicas))

    def __len__(self) -> int:
        return self.num_samples


class ResumableLoader(DataLoader):
    """A DataLoader over a :class:`TrainSampler` whose position within the epoch is checkpointed.

    Lightning treats any loader with ``state_dict``/``load_state_dict`` as stateful: it stores
    ``state_dict()`` in each checkpoint and calls ``load_state_dict`` when resuming mid-epoch.
    The count is of batches handed to the training loop (Lightning fetches a sized loader's
    batches one at a time, so none is counted before it is trained on); worker prefetching
    happens below this count and does not disturb it.
    """

    def __init__(self, dataset: Dataset, sampler: TrainSampler, **kwargs: Any) -> None:
        super().__init__(dataset, sampler=sampler, **kwargs)
        self._served = 0

    def __iter__(self):
        # A generator: the real iterator (and any worker prefetch) starts at the first batch,
        # i.e. after Lightning has set the sampler's epoch.
        self._served = 0
        for batch in super().__iter__():
            self._served += 1
            yield batch

    def state_dict(self) -> dict[str, Any]:
        s = self.sampler
        return {"epoch": int(s.epoch), "batches": int(self._served), "batch_size": int(self.batch_size),
                "num_replicas": int(s.num_replicas), "seed": int(s.seed), "n_windows": len(self.dataset)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        s = self.sampler
        now = {"batch_size": int(self.batch_size), "num_replicas": int(s.num_replicas), "seed": int(s.seed),
               "n_windows": len(self.dataset)}
        saved = {k: state.get(k) for k in now}
        if saved != now:
            raise ValueError(
                f"cannot resume mid-epoch: the checkpoint's data order was {saved}, this run's is {now}. Resume with "
                "the batch size, number of processes, seed and data of the interrupted run, or from an end-of-epoch "
                "checkpoint.")
        s.set_epoch(int(state["epoch"]))
        s.skip_next(int(state["batches"]) * int(self.batch_size))


class LoaderPosition(Callback):
    """Saves the train loader's position in each checkpoint and restores it on a mid-epoch resume.

    Lightning has its own path for stateful loaders, but it loads their state only while
    building the train loader, and ``configure_optimizers`` (``estimated_stepping_batches``)
    builds it before the checkpoint's loop state is restored: the state is never applied.
    Here it is applied at ``on_train_start``, before the epoch's first batch is drawn, and
    only when the run resumes inside the epoch the checkpoint was taken in.
    """

    KEY = "train_loader_position"

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    @staticmethod
    def _loader(trainer) -> ResumableLoader | None:
        loader = trainer.train_dataloader
        return loader if isinstance(loader, ResumableLoader) else None

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        loader = self._loader(trainer)
        if loader is not None:
            checkpoint[self.KEY] = loader.state_dict()

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        self._pending = checkpoint.get(self.KEY)

    def on_train_start(self, trainer, pl_module) -> None:
        state, self._pending = self._pending, None
        loader = self._loader(trainer)
        if state is None or loader is None:
            return
        if int(state["epoch"]) == trainer.current_epoch and 0 < int(state["batches"]) < len(loader):
            loader.load_state_dict(state)


def make_loader(dataset: Dataset, split: str, batch_size: int, num_workers: int = 0, seed: int | None = None,
                **kwargs: Any) -> DataLoader:
    """The DataLoader of one split: shuffled and resumable for train, strided and unpadded otherwise.

    ``seed`` defaults to ``PL_GLOBAL_SEED`` (set by ``lightning.seed_everything``), as Lightning's
    own distributed sampler does.
    """
    if seed is None:
        seed = int(os.environ.get("PL_GLOBAL_SEED", 0))
    common = dict(batch_size=batch_size, num_workers=num_workers, persistent_workers=num_workers > 0,
                  pin_memory=torch.cuda.is_available(), **kwargs)
    if split == "train":
        return ResumableLoader(dataset, TrainSampler(dataset, seed=seed), **common)
    return DataLoader(dataset, sampler=EvalSampler(dataset), **common)


# --------------------------------------------------------------------------------------------
# cluster launch
# --------------------------------------------------------------------------------------------
def prepare_environment(trainer_cfg: Mapping[str, Any] | None = None) -> None:
    """Let a submitit-local job with several tasks run as one Lightning DDP job.

    submitit's local executor starts ``tasks_per_node`` processes and numbers them with
    ``SUBMITIT_LOCAL_*`` variables; Lightning instead reads ``LOCAL_RANK`` / ``NODE_RANK`` /
    ``MASTER_ADDR`` / ``MASTER_PORT`` (and then does not start processes itself). The port is a
    function of the job id so that every task of the job agrees on it. SLURM jobs need nothing
    (Lightning reads SLURM's variables).
    """
    ntasks = int(os.environ.get("SUBMITIT_LOCAL_NTASKS", "1") or 1)
    if ntasks <= 1 or "SLURM_NTASKS" in os.environ:
        return
    if trainer_cfg is not None:
        devices, nodes = trainer_cfg.get("devices", 1), int(trainer_cfg.get("num_nodes", 1) or 1)
        if not isinstance(devices, int) or devices * nodes != ntasks:
            raise ValueError(
                f"this submitit job has {ntasks} tasks but trainer.devices={devices}, trainer.num_nodes={nodes}: "
                "set hydra.launcher.tasks_per_node to trainer.devices (the launcher configs do) and use an integer "
                "trainer.devices")
    os.environ["LOCAL_RANK"] = os.environ["SUBMITIT_LOCAL_LOCALID"]
    os.environ["NODE_RANK"] = os.environ.get("SUBMITIT_LOCAL_NODEID", "0")
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    job = os.environ.get("SUBMITIT_LOCAL_JOB_ID", "0")
    os.environ.setdefault("MASTER_PORT", str(20000 + int(hashlib.sha1(job.encode()).hexdigest(), 16) % 20000))


def _spawns_processes(trainer_cfg: Mapping[str, Any]) -> bool:
    """Would Lightning start processes itself (a DDP run whose processes nobody else started)?"""
    strategy = str(trainer_cfg.get("strategy", "auto"))
    devices = trainer_cfg.get("devices", 1)
    many = (isinstance(devices, int) and devices > 1) or int(trainer_cfg.get("num_nodes", 1) or 1) > 1 \
        or devices in ("auto", -1, "-1")
    external = "LOCAL_RANK" in os.environ or "SLURM_NTASKS" in os.environ
    return strategy.startswith("ddp") and many and not external


def check_launch(trainer_cfg: Mapping[str, Any]) -> None:
    """Refuse a DDP run inside a Hydra multirun on the basic launcher.

    Lightning starts the other processes by re-running the command line; in a multirun that
    command is the whole sweep, and the basic launcher runs its jobs one after another in
    one process. Each job of a submitit launcher is a process of its own, with its own tasks.
    """
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode
    except ImportError:  # pragma: no cover
        return
    if not HydraConfig.initialized():
        return
    hc = HydraConfig.get()
    launcher = str(hc.launcher.get("_target_", "")) if hc.get("launcher") else ""
    if hc.mode == RunMode.MULTIRUN and "BasicLauncher" in launcher and _spawns_processes(trainer_cfg):
        raise ValueError(
            "a DDP sweep cannot run on Hydra's basic launcher (it would re-run the whole sweep in every process). "
            "Add hydra/launcher=submitit_local (one machine) or hydra/launcher=submitit_slurm (a cluster): each job "
            "then gets trainer.devices tasks of its own.")


# --------------------------------------------------------------------------------------------
# preemption: resume and checkpoint checks
# --------------------------------------------------------------------------------------------
class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed from: unreadable, truncated, or of another model."""


def _comparable(identity: Mapping[str, Any]) -> dict[str, Any]:
    """``identity`` without the launch and place keys (run_config.json of older runs has them)."""
    return {k: v for k, v in identity.items() if k not in LAUNCH_KEYS and k not in PLACE_KEYS}


def run_identity(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The resolved config minus the keys that only say how to start (``resume``, ``ckpt_path``)
    and where files go (``paths``): what two runs must share for one to continue the other."""
    from omegaconf import OmegaConf
    plain = OmegaConf.to_container(cfg, resolve=True) if OmegaConf.is_config(cfg) else dict(cfg)
    return json.loads(json.dumps(_comparable(plain), sort_keys=True, default=str))


def write_run_identity(cfg: Mapping[str, Any], run_dir: Path) -> None:
    (Path(run_dir) / RUN_CONFIG_FILE).write_text(json.dumps(run_identity(cfg), indent=1, sort_keys=True))


def _latest_checkpoint(run_dir: Path) -> Path | None:
    found = [p for p in [run_dir / "checkpoints" / "last.ckpt", *run_dir.glob("hpc_ckpt_*.ckpt")] if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def resolve_resume(cfg: Mapping[str, Any], run_dir: str | Path, finished_marker: str = "metrics.json"
                   ) -> tuple[Path, Path | None]:
    """(run directory to write to, checkpoint to resume from or None) for ``cfg.resume``/``ckpt_path``.

    - ``resume=null`` (default): ``ckpt_path`` if given, else a fresh run.
    - ``resume=<file>``: that checkpoint; the run writes to this run's directory.
    - ``resume=auto``: the newest ``last.ckpt`` (or SLURM ``hpc_ckpt_*.ckpt``) of an unfinished run
      (no ``metrics.json``) of the *same* config, looked for in this run directory (a requeued
      job), in its siblings (``outputs/<data>_<model>/<time>/``) and in the same job of earlier
      sweeps (``multirun/<time>/<job>/``). The run then continues in that directory, so its
      best-on-validation bookkeeping carries on; the new directory made for this run is then
      removed if it holds only Hydra's files (its log moves along). The comparison leaves out
      ``paths``: a run is found again after the outputs or data root moved. Nothing found: a
      fresh run, said in the log.
    """
    run_dir = Path(run_dir)
    resume = cfg.get("resume")
    explicit = cfg.get("ckpt_path")
    if resume in (None, "", "null", "none"):
        return run_dir, Path(explicit) if explicit else None
    if explicit:
        raise ValueError(f"give either resume= or ckpt_path=, not both (resume={resume!r}, ckpt_path={explicit!r})")
    if str(resume) != "auto":
        path = Path(str(resume))
        if not path.is_file():
            raise CheckpointError(f"resume={resume!r}: no such checkpoint file; give a .ckpt path or resume=auto")
        return run_dir, path
    identity = run_identity(cfg)
    candidates = [run_dir, *sorted(run_dir.parent.glob("*/")),
                  *sorted(run_dir.parent.parent.glob(f"*/{run_dir.name}/"))]
    best: tuple[float, Path, Path] | None = None
    for d in dict.fromkeys(p.resolve() for p in candidates if p.is_dir()):
        ckpt = _latest_checkpoint(d)
        if ckpt is None or (d / finished_marker).exists() or not (d / RUN_CONFIG_FILE).is_file():
            continue
        try:
            same = _comparable(json.loads((d / RUN_CONFIG_FILE).read_text())) == identity
        except (OSError, json.JSONDecodeError, AttributeError):
            same = False
        if same and (best is None or ckpt.stat().st_mtime > best[0]):
            best = (ckpt.stat().st_mtime, d, ckpt)
    if best is None:
        log.info("resume=auto: no unfinished run of this config under %s; starting afresh", run_dir.parent)
        return run_dir, None
    log.warning("resume=auto: continuing the run in %s from %s", best[1], best[2])
    _retire_new_run_dir(run_dir, best[1])
    return best[1], best[2]


def _only_hydra_files(run_dir: Path) -> bool:
    """Does ``run_dir`` hold nothing but what Hydra writes before the task starts (``.hydra/``
    and the job's ``<job name>.log``)?"""
    return all((p.name == ".hydra" and p.is_dir()) or (p.suffix == ".log" and p.is_file())
               for p in run_dir.iterdir())


def discard_unused_run_dir(run_dir: Path) -> bool:
    """Remove ``run_dir`` if it holds nothing but Hydra's files (a run refused before it wrote
    anything: bad settings); True if removed."""
    if not run_dir.is_dir() or not _only_hydra_files(run_dir):
        return False
    shutil.rmtree(run_dir, ignore_errors=True)
    return not run_dir.exists()


def _move_logs(src: Path, dest: Path) -> None:
    """This process's logging FileHandlers that write into ``src`` go on in ``dest`` (same file
    name, appended to, with what they wrote so far), so the continued run's log is in its directory."""
    loggers = [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values()
                                      if isinstance(lg, logging.Logger))]
    src = src.resolve()
    for handler in {h for lg in loggers for h in lg.handlers if isinstance(h, logging.FileHandler)}:
        old = Path(handler.baseFilename)
        if old.parent.resolve() != src:
            continue
        new = dest / old.name
        handler.acquire()
        try:
            if handler.stream is not None:
                handler.flush()
                handler.stream.close()
                handler.stream = None          # reopened (mode "a", at ``new``) by the next record
            if old.is_file():
                with open(new, "ab") as out:
                    out.write(old.read_bytes())
                old.unlink()
            handler.baseFilename, handler.mode = str(new), "a"
        finally:
            handler.release()


def _retire_new_run_dir(new: Path, continued: Path) -> None:
    """Remove ``new``, the directory made for this run, which continues in ``continued`` instead,
    if it holds nothing but Hydra's files; this process's log moves to ``continued``.

    Only this process's logs are moved and the directory is removed only once empty: a DDP
    process started later (its Hydra re-creates ``new`` for its log) retires its own log the same way.
    """
    if not new.is_dir() or new.resolve() == continued.resolve() or not _only_hydra_files(new):
        return
    _move_logs(new, continued)
    shutil.rmtree(new / ".hydra", ignore_errors=True)
    try:
        new.rmdir()
    except OSError:                            # another process's log is still there
        return
    log.info("resume=auto: removed %s, the new run directory (it held only Hydra's files); this run "
             "continues in %s, its log too", new, continued)


def load_checkpoint_file(path: str | Path) -> dict[str, Any]:
    """The checkpoint as a dict, or :class:`CheckpointError` if it is not a complete one."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError, AttributeError,
            ModuleNotFoundError, __import__("pickle").UnpicklingError) as err:
        raise CheckpointError(
            f"{path} cannot be read as a checkpoint ({type(err).__name__}: {err}); it is truncated or corrupt "
            "(e.g. written by a killed process). Delete it, or resume from another checkpoint (resume=<file>)."
        ) from err
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise CheckpointError(f"{path} is not a Lightning checkpoint (no state_dict); give a .ckpt written by train.py")
    return ckpt


def check_checkpoint(path: str | Path, module: torch.nn.Module, identity: Mapping[str, Any] | None = None
                     ) -> dict[str, Any]:
    """Refuse (CheckpointError) a checkpoint that is unreadable or does not fit ``module``.

    Checked before anything is loaded: the model name and network config stored with it
    (when ``module`` has ``hparams``), and the name and shape of every tensor of its
    state_dict against ``module.state_dict()``.
    """
    ckpt = load_checkpoint_file(path)
    problems = []
    hp_saved = ckpt.get("hyper_parameters") or {}
    hp_now = dict(getattr(module, "hparams", {}) or {})
    for key in ("model_name", "net"):
        if key in hp_saved and key in hp_now and _plain(hp_saved[key]) != _plain(hp_now[key]):
            problems.append(f"{key}: checkpoint {_plain(hp_saved[key])} != this run {_plain(hp_now[key])}")
    saved = ckpt["state_dict"]
    now = {k: v for k, v in module.state_dict().items() if isinstance(v, torch.Tensor)}
    missing = sorted(set(now) - set(saved))
    unexpected = sorted(k for k in set(saved) - set(now) if isinstance(saved[k], torch.Tensor))
    shapes = sorted(k for k in set(now) & set(saved) if tuple(now[k].shape) != tuple(saved[k].shape))
    if missing:
        problems.append(f"{len(missing)} tensor(s) missing, e.g. {missing[:3]}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected tensor(s), e.g. {unexpected[:3]}")
    if shapes:
        problems.append("shape mismatch: " + ", ".join(
            f"{k} {tuple(saved[k].shape)} vs {tuple(now[k].shape)}" for k in shapes[:3]))
    if problems:
        raise CheckpointError(f"{path} is a checkpoint of another model; nothing was loaded:\n  - "
                              + "\n  - ".join(problems)
                              + "\nResume with the model config it was trained with, or start afresh (resume=null).")
    return ckpt
