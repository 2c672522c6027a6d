"""How the build driver spreads a split over the cores (the defaults measured in
benchmarks/README.md): the choice per family, identical bytes whatever the number of workers
and chunk size, single-threaded workers that start safely from a process that has used torch's
threads, and a progress bar that reports a rate and an ETA."""
from __future__ import annotations

import re
import os
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest
import torch
from conftest import REPO, read_split

from pdebench_x.data.build import DatasetPlan, generate_split
from pdebench_x.data.generators.darcy import DarcyGenerator
from pdebench_x.data.generators.ns import NavierStokesGenerator
from pdebench_x.data.generators.swe import ShallowWaterGenerator
from pdebench_x.pdes import get_family

TINY_SWE = {"resolution": 16, "n_frames": 3, "dt_out": 0.05}
TINY_NS = {"resolution": 16, "solve_resolution": 16, "ic_resolution": 32, "n_steps": 2}


def plan(root, family: str, generator: dict, n: int = 5) -> DatasetPlan:
    return DatasetPlan(family=family, preset="small", generator=dict(generator),
                       sizes={"train": 1, "valid": 1, "test": n}, seed=0, root=root, customised=True)


def test_the_default_of_each_family():
    # CPU solvers that need no second thread: a pool of single-threaded processes
    assert DarcyGenerator().parallelism == "processes"
    assert ShallowWaterGenerator(**TINY_SWE).parallelism == "processes"
    # a GPU batch stays in its process; so do NS's FFTs, whose bits need two threads
    assert ShallowWaterGenerator(**TINY_SWE, device="cuda").parallelism == "threads"
    assert NavierStokesGenerator(**TINY_NS).parallelism == "threads"
    # chunks: SWE's batch; NS's about 16 x 64^2 points, one sample at 256^2 (the bar moves)
    assert ShallowWaterGenerator(**TINY_SWE, batch_size=8).chunk_size == 8
    assert NavierStokesGenerator(resolution=64, solve_resolution=64).chunk_size == 16
    assert NavierStokesGenerator(resolution=64, solve_resolution=256).chunk_size == 1


def stored_fields(path) -> dict[str, bytes]:
    """The bytes of every field of a Well file, scalar and vector."""
    with h5py.File(path, "r") as f:
        return {f"{group}/{name}": f[group][name][()].tobytes() for group in ("t0_fields", "t1_fields")
                for name in f[group]}


@pytest.mark.parametrize("family, generator", [("swe", TINY_SWE), ("ns", TINY_NS), ("darcy", {"resolution": 8})])
def test_one_or_two_workers_and_any_chunk_give_the_same_bytes(family, generator, tmp_path):
    one = generate_split(plan(tmp_path / "one", family, generator), "test", workers=1, progress=False)
    two = generate_split(plan(tmp_path / "two", family, generator), "test", workers=2, chunk=2, progress=False)
    assert len(stored_fields(one)) >= 2 and stored_fields(one) == stored_fields(two)


class ThreadCountDarcy(DarcyGenerator):
    """Stores, in place of u, the torch threads the solving process runs with."""

    def generate(self, seeds):
        out = super().generate(seeds)
        out["u"][:] = torch.get_num_threads()
        return out


def test_workers_run_torch_at_one_thread(tmp_path, monkeypatch):
    monkeypatch.setattr(get_family("darcy"), "generator", f"{__name__}:ThreadCountDarcy")  # forked: inherited
    path = generate_split(plan(tmp_path, "darcy", {"resolution": 8}, n=4), "test", workers=2, chunk=2,
                          progress=False)
    assert np.all(read_split(path, "u") == 1)


FORK_AFTER_THREADS = textwrap.dedent("""
    import sys
    from pathlib import Path
    import torch
    from test_generation_parallel import TINY_SWE, plan
    from pdebench_x.data.build import generate_split
    torch.set_num_threads(2)
    x = torch.randn(64, 128, 128)
    (torch.fft.rfft2(x).abs() * x[..., :65]).sum()       # this process's OpenMP threads have run
    generate_split(plan(Path(sys.argv[1]), "swe", TINY_SWE, n=4), "test", workers=2, chunk=2, progress=False)
""")


def test_workers_start_from_a_process_that_has_used_threads(tmp_path):
    """A forked worker that started OpenMP threads would hang (libgomp after fork): the pool's
    single-threaded workers never do."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}   # this checkout's package, whatever is installed
    run = subprocess.run([sys.executable, "-c", FORK_AFTER_THREADS, str(tmp_path)], cwd=REPO / "tests",
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr[-2000:]


def test_the_progress_bar_shows_a_rate_and_an_eta(tmp_path, capsys):
    generate_split(plan(tmp_path, "darcy", {"resolution": 8}, n=6), "test", workers=2, chunk=2)
    last = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "(2 processes)" in last
    # done/total [elapsed<remaining, rate]: tqdm writes sample/s, or s/sample below one a second
    assert re.search(r"6/6 \[\d\d:\d\d<\d\d:\d\d, +[\d.]+(sample/s|s/sample)\]", last), last
