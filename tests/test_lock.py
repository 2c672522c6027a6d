"""The dataset lock (build.file_lock) survives a killed generation: forked workers never hold
it, orphaned workers exit, and a process that has to wait says who it is waiting for.

Before: `ensure_dataset` held an flock lock while forked generator workers ran; a SIGKILL of
the parent left the workers alive as orphans that shared the lock's open file description, and
every later run that needed the split waited on it forever without a word.
"""
from __future__ import annotations

import fcntl
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import h5py

from pdebench_x.data import build
from pdebench_x.data.build import file_lock

from conftest import REPO
from test_build import micro_plan

ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), str(REPO)]), "OMP_NUM_THREADS": "1"}


def alive(pid: int) -> bool:
    """Running (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def wait_until(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def free(path: Path) -> bool:
    """Could another open file description take ``path``'s lock right now?"""
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(fh, fcntl.LOCK_UN)
        return True


def kill_all(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


FORK_WHILE_LOCKED = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from pdebench_x.data.build import file_lock
    with file_lock(Path(sys.argv[1]), "testing"):
        child = os.fork()
        if child == 0:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1), os.dup2(null, 2)       # let the test's pipes close
            time.sleep(60)
            os._exit(0)
        print(child, flush=True)
        os.kill(os.getpid(), 9)      # die holding the lock, as a killed generation does
""")


def test_a_forked_child_does_not_keep_the_lock_of_its_killed_parent(tmp_path):
    lock = tmp_path / ".x.lock"
    proc = subprocess.run([sys.executable, "-c", FORK_WHILE_LOCKED, str(lock)], env=ENV, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    child = int(proc.stdout.split()[0])
    try:
        assert alive(child)
        assert free(lock), "the orphaned child holds the lock its parent took"
    finally:
        kill_all([child])


def test_a_waiter_names_the_holder(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(build, "LOCK_POLL_S", 0.02)
    lock = tmp_path / ".x.lock"
    got = threading.Event()

    def waiter():
        with file_lock(lock, "the waiter"):
            got.set()

    with caplog.at_level(logging.INFO, logger="pdebench_x.data.build"):
        with file_lock(lock, "generating darcy_small/train"):
            thread = threading.Thread(target=waiter)
            thread.start()
            assert wait_until(lambda: "waiting" in caplog.text, 10)
            assert not got.is_set()
        thread.join(10)
    assert got.is_set()
    message = next(r.getMessage() for r in caplog.records if "waiting" in r.getMessage())
    assert f"pid {os.getpid()}" in message and "generating darcy_small/train" in message
    assert lock.read_text() == ""                               # the released lock names nobody


def test_a_waiter_says_when_the_holder_is_dead_but_the_lock_held(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(build, "LOCK_POLL_S", 0.02)
    lock = tmp_path / ".x.lock"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    holder = open(lock, "a+")                # an inheritor: holds the lock, the file names a dead pid
    fcntl.flock(holder, fcntl.LOCK_EX)
    holder.write(f'{{"pid": {dead.pid}, "host": "{os.uname().nodename}", "purpose": "generating ns/train"}}')
    holder.flush()

    def take():
        with file_lock(lock):
            pass

    thread = threading.Thread(target=take)
    try:
        with caplog.at_level(logging.INFO, logger="pdebench_x.data.build"):
            thread.start()
            assert wait_until(lambda: "waiting" in caplog.text, 10)
    finally:
        holder.close()                       # releases: the waiter takes it and its thread ends
        thread.join(10)
    message = next(r.getMessage() for r in caplog.records if "waiting" in r.getMessage())
    assert f"pid {dead.pid}" in message and "no longer alive" in message and "generating ns/train" in message


SLOW_GENERATION = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from pdebench_x.data import build
    from pdebench_x.data.generators.darcy import DarcyGenerator
    from pdebench_x.pdes import get_family
    from test_build import micro_plan

    class SlowDarcy(DarcyGenerator):
        def generate(self, seeds):
            (Path(sys.argv[2]) / str(os.getpid())).touch()     # a worker started
            time.sleep(60)
            return super().generate(seeds)

    get_family("darcy").generator = "__main__:SlowDarcy"        # the forked workers inherit it
    build.ensure_dataset(micro_plan(Path(sys.argv[1]), sizes={"train": 8, "valid": 2, "test": 2}),
                         workers=2, progress=False)
""")


def test_a_generation_killed_mid_way_does_not_block_the_next_one(tmp_path):
    root, markers = tmp_path / "data", tmp_path / "workers"
    markers.mkdir()
    plan = micro_plan(root, sizes={"train": 8, "valid": 2, "test": 2})
    path = plan.split_path("train")
    partial = path.with_name(path.name + ".partial")
    first = subprocess.Popen([sys.executable, "-c", SLOW_GENERATION, str(root), str(markers)], env=ENV)
    workers: list[int] = []
    try:
        assert wait_until(lambda: partial.exists() and len(list(markers.iterdir())) == 2, 60)
        workers = [int(p.name) for p in markers.iterdir()]
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert wait_until(lambda: not any(map(alive, workers)), 10), "orphaned workers kept computing"
        again = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                                "from pdebench_x.data.build import ensure_dataset; from test_build import micro_plan; "
                                "ensure_dataset(micro_plan(Path(sys.argv[1]), sizes={'train': 8, 'valid': 2, "
                                "'test': 2}), workers=2, progress=False)", str(root)],
                               env=ENV, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stderr[-2000:]
    finally:
        first.kill()
        kill_all(workers)
    assert path.exists() and not partial.exists()
    with h5py.File(path, "r") as f:
        assert bool(f.attrs["complete"]) and int(f.attrs["n_trajectories"]) == 8
