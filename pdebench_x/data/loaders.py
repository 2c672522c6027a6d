"""Samplers and loaders of every split, for one process or many (DDP).

Every split is read through a ``DistributedSampler`` subclass, so Lightning keeps ours instead
of injecting its own:

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

A step budget (``steps_per_epoch``, a recipe setting) makes an epoch a fixed number of batches
whatever the number of windows, as PROSE-FD's ``n_steps_per_epoch`` over its endless, cycled,
shuffled stream: the windows are read as one endless stream of permutations P_0 P_1 P_2 ...
(P_j = ``randperm(N)`` seeded ``seed + j``) and epoch e takes the next ``W * steps * b``
positions of it, dealt out as above (rank r <- positions r, r + W, ...). Every window comes once
per pass over the stream, an epoch may end inside a pass, and resuming mid-epoch skips as above.
"""
from __future__ import annotations

import os
from typing import Any, Iterator, Mapping

import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from pdebench_x.core.processes import rank_and_world


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
                 rank: int | None = None, shuffle: bool = True, samples_per_epoch: int | None = None) -> None:
        num_replicas, rank = _replicas_and_rank(dataset, num_replicas, rank, "the train split has {n} windows")
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed, drop_last=True)
        self._skip = 0
        #: this process's samples per epoch under a step budget (None: one pass over the windows)
        self.samples_per_epoch = None if samples_per_epoch is None else int(samples_per_epoch)
        if self.samples_per_epoch is not None:
            if self.samples_per_epoch < 1:
                raise ValueError(f"a step budget needs at least one sample per epoch, got {samples_per_epoch}")
            self.num_samples = self.samples_per_epoch
            self.total_size = self.num_samples * self.num_replicas

    def skip_next(self, n: int) -> None:
        """The next iteration starts ``n`` samples into this process's share (resuming mid-epoch)."""
        self._skip = int(n)

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__()) if self.samples_per_epoch is None else self._stream_share()
        skip, self._skip = self._skip, 0
        return iter(indices[skip:])

    def _permutation(self, j: int) -> torch.Tensor:
        n = len(self.dataset)
        if not self.shuffle:
            return torch.arange(n)
        return torch.randperm(n, generator=torch.Generator().manual_seed(self.seed + j))

    def _stream_share(self) -> list[int]:
        """This process's share of this epoch's slice of the endless stream of permutations."""
        n = len(self.dataset)
        start = self.epoch * self.total_size
        first, last = start // n, (start + self.total_size - 1) // n
        stream = torch.cat([self._permutation(j) for j in range(first, last + 1)])
        offset = start - first * n
        return stream[offset + self.rank:offset + self.total_size:self.num_replicas].tolist()


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
                "num_replicas": int(s.num_replicas), "seed": int(s.seed), "n_windows": len(self.dataset),
                "samples_per_epoch": s.samples_per_epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        s = self.sampler
        now = {"batch_size": int(self.batch_size), "num_replicas": int(s.num_replicas), "seed": int(s.seed),
               "n_windows": len(self.dataset), "samples_per_epoch": s.samples_per_epoch}
        saved = {k: state.get(k) for k in now}
        if saved != now:
            raise ValueError(
                f"cannot resume mid-epoch: the checkpoint's data order was {saved}, this run's is {now}. Resume with "
                "the batch size, number of processes, seed, data and step budget of the interrupted run, or from an "
                "end-of-epoch checkpoint.")
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
                steps_per_epoch: int | None = None, **kwargs: Any) -> DataLoader:
    """The DataLoader of one split: shuffled and resumable for train, strided and unpadded otherwise.

    ``seed`` defaults to ``PL_GLOBAL_SEED`` (set by ``lightning.seed_everything``), as Lightning's
    own distributed sampler does. ``steps_per_epoch`` (train only): that many batches per epoch,
    drawn from the endless stream of permutations (module docstring); None: one pass.
    """
    if seed is None:
        seed = int(os.environ.get("PL_GLOBAL_SEED", 0))
    common = dict(batch_size=batch_size, num_workers=num_workers, persistent_workers=num_workers > 0,
                  pin_memory=torch.cuda.is_available(), **kwargs)
    if split == "train":
        samples = None if steps_per_epoch is None else int(steps_per_epoch) * int(batch_size)
        return ResumableLoader(dataset, TrainSampler(dataset, seed=seed, samples_per_epoch=samples), **common)
    return DataLoader(dataset, sampler=EvalSampler(dataset), **common)
