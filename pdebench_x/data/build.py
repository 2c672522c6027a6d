"""Turning a data config into files on disk: naming, generation on first use, integrity.

A dataset is identified by its family, preset and the exact generator settings, sizes and
seed; its files live at ``<root>/<name>/data/<split>/<name>_<split>.hdf5`` (The Well's
layout). A split is written to ``<file>.partial`` and renamed only once complete, so:

- a complete file is reused, never rebuilt or overwritten;
- a ``.partial`` left by a killed run is detected, deleted and rebuilt;
- a complete file whose recorded settings differ from the config is refused with an error
  (it would otherwise be silently reused for different data).
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import json
import logging
import os
import socket
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import h5py
import numpy as np
import torch
from tqdm.auto import tqdm

from pdebench_x.core.plain import to_plain
from pdebench_x.data.formats.base import DataFormatError
from pdebench_x.data.formats.well import WellWriter
from pdebench_x.data.generators.base import SPLITS, Generator, sample_seed
from pdebench_x.pdes import get_family

log = logging.getLogger(__name__)

def generator_class(family: str) -> type[Generator]:
    """The generator class of ``family``, named by its family object (imported on demand: numerics stay optional)."""
    module, cls = get_family(family).generator.split(":")
    return getattr(importlib.import_module(module), cls)


@dataclass
class DatasetPlan:
    """Everything that determines a generated dataset's content."""

    family: str
    preset: str
    generator: dict[str, Any]
    sizes: dict[str, int]
    seed: int
    root: Path
    customised: bool = False
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = f"{self.family}_{self.preset}"
        if self.customised:
            self.name += f"_{self.fingerprint()[:8]}"

    def fingerprint(self) -> str:
        payload = json.dumps({"family": self.family, "generator": self.generator, "sizes": self.sizes,
                              "seed": self.seed, "version": generator_class(self.family).version},
                             sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def split_path(self, split: str) -> Path:
        return self.root / self.name / "data" / split / f"{self.name}_{split}.hdf5"

    def attrs(self, split: str) -> dict[str, Any]:
        gen = generator_class(self.family)
        return {"dataset_name": self.name, "generator": f"{gen.__module__}.{gen.__name__}",
                "generator_version": gen.version, "seed": self.seed, "split": split, "preset": self.preset,
                "settings": self.generator, "n_samples_requested": self.sizes[split]}


def plan_from_config(data_cfg: Mapping[str, Any], root: str | Path) -> DatasetPlan:
    """Merge the chosen preset with the config's overrides into a :class:`DatasetPlan`."""
    cfg = to_plain(data_cfg)
    presets = cfg.get("presets", {})
    preset = cfg.get("preset", "small")
    if preset not in presets:
        raise ValueError(f"unknown preset {preset!r} for data={cfg.get('family')}; presets: {sorted(presets)}")
    base = presets[preset]
    # Config keys left null mean "the preset's value".
    overrides = {k: v for k, v in (cfg.get("generator") or {}).items() if v is not None}
    size_overrides = {k: v for k, v in (cfg.get("sizes") or {}).items() if v is not None}
    seed = int(cfg.get("seed", 0))
    generator = {**base.get("generator", {}), **overrides}
    sizes = {**base["sizes"], **size_overrides}
    missing = [s for s in SPLITS if s not in sizes]
    if missing:
        raise ValueError(f"preset {preset!r} gives no size for split(s) {missing}")
    # Only a value that differs from the preset's makes a new dataset (and name).
    customised = (generator != base.get("generator", {}) or sizes != base["sizes"]
                  or seed != int(base.get("seed", 0)))
    return DatasetPlan(family=cfg["family"], preset=preset, generator=generator,
                       sizes={s: int(sizes[s]) for s in SPLITS}, seed=seed, root=Path(root),
                       customised=customised)


def _solve_chunk(family: str, settings: dict, seed: int, split: str, start: int, stop: int
                 ) -> tuple[int, dict[str, np.ndarray]]:
    gen = generator_class(family)(**settings)
    seeds = [sample_seed(seed, split, i) for i in range(start, stop)]
    return start, gen.generate(seeds)


def check_existing(path: Path, plan: DatasetPlan, split: str) -> None:
    try:
        with h5py.File(path, "r") as f:
            complete = bool(f.attrs.get("complete", False))
            settings = json.loads(f.attrs.get("settings", "{}"))
            version = str(f.attrs.get("generator_version", ""))
            seed = int(f.attrs.get("seed", -1))
            n = int(f.attrs.get("n_trajectories", -1))
    except OSError as err:
        raise DataFormatError(
            f"{path} exists but cannot be read ({err}). It was not written by a completed run; "
            "move it away or delete it and run again to regenerate.") from err
    if not complete:
        raise DataFormatError(f"{path} is marked incomplete; delete it to regenerate")
    expected = (plan.generator, generator_class(plan.family).version, plan.seed, plan.sizes[split])
    found = (settings, version, seed, n)
    if json.dumps(expected, sort_keys=True) != json.dumps(found, sort_keys=True):
        raise DataFormatError(
            f"{path} holds different data than the config asks for:\n  file:   settings={settings}, "
            f"version={version}, seed={seed}, n={n}\n  config: settings={plan.generator}, "
            f"version={expected[1]}, seed={plan.seed}, n={plan.sizes[split]}\n"
            "Nothing was overwritten. Use another data.root, or move the old files away.")


def _usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a cluster job's share)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def generate_split(plan: DatasetPlan, split: str, workers: int | None = None, chunk: int | None = None,
                   progress: bool = True) -> Path:
    """Write one split to ``<path>.partial`` and rename it when complete.

    A generator whose parallelism is "processes" (on CPUs: all but NS) has its chunks of
    ``chunk`` samples (default: its ``chunk_size``) solved by ``workers`` processes side by side
    (default: the usable cores); ``workers=1``, and a "threads" generator, solve them here, with
    this process's torch threads. The samples are the same bits either way (each is a function
    of its seed alone).
    """
    path = plan.split_path(split)
    partial = path.with_name(path.name + ".partial")
    path.parent.mkdir(parents=True, exist_ok=True)
    if partial.exists():
        log.warning("found %s from an interrupted run: deleting and regenerating", partial)
        partial.unlink()
    gen = generator_class(plan.family)(**plan.generator)
    n = plan.sizes[split]
    workers = 1 if gen.parallelism == "threads" else (workers or _usable_cores())
    # no larger than an equal share, so that every worker gets work
    chunk = chunk or max(1, min(gen.chunk_size, -(-n // workers)))
    jobs = [(plan.family, plan.generator, plan.seed, split, s, min(s + chunk, n)) for s in range(0, n, chunk)]
    workers = max(1, min(workers, len(jobs)))
    writer = WellWriter(partial, gen.describe(), n, plan.attrs(split))
    # smoothing=0: the rate is the mean since the start, not that of the last (bursty) chunk
    where = f"{workers} processes" if workers > 1 else "in this process"
    bar = tqdm(total=n, desc=f"generating {plan.name}/{split} ({where})", unit="sample", smoothing=0,
               disable=not progress)
    try:
        if workers > 1:
            with ProcessPoolExecutor(workers, mp_context=get_context("fork"), initializer=_start_worker,
                                     initargs=(os.getpid(),)) as pool:
                _write_all(pool.map(_solve_chunk, *zip(*jobs)), writer, bar)
        else:
            _write_all((_solve_chunk(*job) for job in jobs), writer, bar)
        writer.finish()
    except BaseException:
        writer.abort()
        raise
    finally:
        bar.close()
    os.replace(partial, path)
    return path


def _write_all(chunks: Iterator[tuple[int, dict[str, np.ndarray]]], writer: WellWriter, bar: tqdm) -> None:
    for start, batch in chunks:
        writer.write(start, batch)
        bar.update(len(next(iter(batch.values()))))


def ensure_dataset(plan: DatasetPlan, workers: int | None = None, progress: bool = True,
                   splits: Sequence[str] = SPLITS) -> dict[str, Path]:
    """Paths of the splits (default: all), generating the missing ones (with a progress bar)."""
    paths = {}
    for split in splits:
        path = plan.split_path(split)
        # One generator per split at a time: DDP processes and sweep jobs may all ask for the same
        # missing dataset; the others wait here, then find the complete file.
        with file_lock(path.parent / f".{path.name}.lock", f"generating {plan.name}/{split}"):
            if path.exists():
                check_existing(path, plan, split)
            else:
                log.info("dataset %s/%s missing: generating %d samples", plan.name, split, plan.sizes[split])
                generate_split(plan, split, workers=workers, progress=progress)
        paths[split] = path
    return paths


def _start_worker(parent: int) -> None:
    """Pool initializer: torch at one thread (single-threaded workers beat contending threads,
    benchmarks/README.md; and a forked worker must not start OpenMP threads, see
    ``Generator.parallelism``); and the worker exits once its parent is gone (e.g. killed with
    SIGKILL) instead of computing on as an orphan. Polls getppid (portable; a worker is reparented)."""
    torch.set_num_threads(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)
    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


# --------------------------------------------------------------------------------------------
# the dataset lock
# --------------------------------------------------------------------------------------------
#: seconds between two tries of a held lock; and between two "still waiting" messages
LOCK_POLL_S = 0.5
LOCK_REPORT_S = 60.0
#: descriptors of the lock files this process holds (file_lock); a forked child lets go of them
_HELD_LOCK_FDS: set[int] = set()


def _drop_inherited_locks() -> None:
    """After fork, in the child: let go of the parent's lock files.

    An flock lock belongs to the open file description, which a forked child shares: a child
    that kept it would hold the lock once its parent died (the orphaned workers of a killed
    generation locked every later run out). Releasing the shared description's lock would free
    the parent's too, so the child only drops its reference: the descriptor is pointed at
    /dev/null (not closed, so the file object the child inherited never closes another file).
    """
    if not _HELD_LOCK_FDS:
        return
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        for fd in _HELD_LOCK_FDS:
            with contextlib.suppress(OSError):
                os.dup2(null, fd, inheritable=False)
    finally:
        os.close(null)
    _HELD_LOCK_FDS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_inherited_locks)


def _pid_alive(pid: int) -> bool:
    """Is process ``pid`` (of this host) running? A zombie (exited, unreaped) holds no files."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _holder_message(path: Path) -> str:
    """Who holds the lock at ``path``, as far as its file says (the holder writes itself there)."""
    try:
        holder = json.loads(path.read_text() or "null")
        pid, host = int(holder["pid"]), str(holder.get("host") or "")
    except (OSError, ValueError, TypeError, KeyError):
        return f"waiting for the lock {path}, held by another process (which has not said who it is)"
    about = ", ".join(x for x in (holder.get("purpose"), holder.get("since") and f"since {holder['since']}") if x)
    who = f"pid {pid}" + (f" ({about})" if about else "")
    if host and host != socket.gethostname():
        return f"waiting for the lock {path}: held by {who} on {host}"
    if _pid_alive(pid):
        return f"waiting for the lock {path}: held by {who}"
    return (f"waiting for the lock {path}: its holder, {who}, is no longer alive, but the lock is still held "
            f"by a process that inherited it (e.g. an orphaned worker of pid {pid}); `fuser -v {path}` "
            "lists it; end it to go on")


def _acquire(fh, path: Path) -> None:
    """flock(LOCK_EX) on ``fh``; while another process holds it, say who, now and every LOCK_REPORT_S."""
    import fcntl
    start = time.monotonic()
    next_report = start
    while True:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            now = time.monotonic()
            if now >= next_report:
                log.warning("%s (%.0f s so far)", _holder_message(path), now - start)
                next_report = now + LOCK_REPORT_S
            time.sleep(LOCK_POLL_S)
            continue
        if next_report > start:
            log.info("got the lock %s after %.0f s", path, time.monotonic() - start)
        return


@contextlib.contextmanager
def file_lock(path: Path, purpose: str = "") -> Iterator[None]:
    """An exclusive advisory lock (fcntl.flock) on ``path``, created if missing; released on exit,
    also when the holder is killed. Without fcntl (not POSIX) there is no lock.

    The holder writes its pid and ``purpose`` into the file, so that a process that has to wait
    says whom for. Forked children never hold it (:func:`_drop_inherited_locks`).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            import fcntl
        except ImportError:  # pragma: no cover
            yield
            return
        _HELD_LOCK_FDS.add(fh.fileno())     # before locking: a fork in between must not keep it
        try:
            _acquire(fh, path)
            try:
                fh.truncate(0)
                fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose,
                                     "since": time.strftime("%Y-%m-%d %H:%M:%S")}))
                fh.flush()
                yield
            finally:
                # (a forked child that gets here holds no lock: _drop_inherited_locks)
                if fh.fileno() in _HELD_LOCK_FDS:
                    fh.truncate(0)          # released: name nobody
                    fcntl.flock(fh, fcntl.LOCK_UN)
        finally:
            _HELD_LOCK_FDS.discard(fh.fileno())
