"""The fingerprinted (hashed) NS initial frames do not depend on torch's thread count.

The stored initial vorticity passes through the solver's irfft2; MKL computes a batched
complex-to-real transform of length <= 64 with other last bits on one thread than on two or
more, so a one-core machine (or OMP_NUM_THREADS=1) regenerated ns_small's test inputs with
hashes that all differed from the shipped fingerprint (made with 2+ threads). The generator
now runs its CPU FFTs with at least two threads (ns._fft_threads).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from pdebench_x.data.generators.base import sample_seed
from pdebench_x.data.generators.ns import MIN_FFT_THREADS, NavierStokesGenerator, _fft_threads

FINGERPRINTS = Path(__file__).resolve().parents[1] / "leaderboard" / "fingerprints"

pytestmark = pytest.mark.skipif(
    not torch.backends.mkl.is_available(),
    reason="the fix covers MKL builds of torch (x86); other FFT libraries round differently")


@pytest.fixture
def torch_threads():
    """Set torch's thread count for one test, restored afterwards."""
    previous = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(previous)


def _frame0_hashes(gen: NavierStokesGenerator, seeds) -> list[str]:
    w = gen.generate(seeds)["vorticity"][:, 0:1]  # [B, 1, X, Y]: what split_content hashes
    return [hashlib.sha256(np.ascontiguousarray(w[i], dtype="<f4").tobytes()).hexdigest()[:16]
            for i in range(len(seeds))]


def test_ns_small_inputs_match_the_shipped_fingerprint_on_one_thread(torch_threads):
    fp = json.loads((FINGERPRINTS / "ns_small.json").read_text())
    plan = fp["plan"]
    # the initial frame is projected before any step: fewer, shorter steps leave it unchanged
    gen = NavierStokesGenerator(**{**plan["generator"], "n_steps": 1, "dt_out": 0.01})
    seeds = [sample_seed(plan["seed"], "test", i) for i in range(4)]
    torch_threads(1)
    assert _frame0_hashes(gen, seeds) == fp["test"]["inputs_sha256_per_sample"][:4]
    assert torch.get_num_threads() == 1  # restored after generation


@pytest.mark.parametrize("n", [32, 64])
def test_ns_generation_is_bitwise_independent_of_thread_count(torch_threads, n):
    gen = NavierStokesGenerator(resolution=n, solve_resolution=n, n_steps=2, dt_out=0.05)
    seeds = [sample_seed(0, "test", i) for i in range(3)]
    out = {}
    for threads in (1, 2, 3):
        torch_threads(threads)
        out[threads] = gen.generate(seeds)
    for threads in (1, 3):
        for name in ("vorticity", "velocity"):
            assert np.array_equal(out[threads][name], out[2][name]), (threads, name)


def test_fft_threads_is_scoped(torch_threads):
    torch_threads(1)
    with _fft_threads(torch.device("cpu")):
        assert torch.get_num_threads() == MIN_FFT_THREADS
    assert torch.get_num_threads() == 1
    torch_threads(3)
    with _fft_threads(torch.device("cpu")):
        assert torch.get_num_threads() == 3  # enough threads already: untouched
    assert torch.get_num_threads() == 3


def test_round_off_in_the_inputs_is_refused_but_named_as_such(tmp_path):
    """Inputs that differ in their last bits only (another FFT library) are still refused, with a
    message naming that cause; inputs that are other fields are "not the official ones"."""
    import h5py

    from pdebench_x.data.build import DatasetPlan, generate_split
    from pdebench_x.leaderboard import fingerprint as fpm

    plan = DatasetPlan(family="ns", preset="tiny", generator={"resolution": 32, "solve_resolution": 32,
                                                              "n_steps": 2, "dt_out": 0.05},
                       sizes={"train": 1, "valid": 1, "test": 2}, seed=0, root=tmp_path, customised=True)
    problem = {"kind": "rollout", "fields": ["vorticity"]}
    path = generate_split(plan, "test", progress=False)
    expected = {**fpm.split_content(path, plan, problem), "tolerance": {"rtol": 1e-6}}
    assert fpm.split_differences(path, expected, problem, plan) == []
    with h5py.File(path, "r+") as f:
        w = f["t0_fields/vorticity"][1, 0]
        f["t0_fields/vorticity"][1, 0] = np.nextafter(w, np.float32(np.inf))  # one ulp
    diffs = fpm.split_differences(path, expected, problem, plan)
    assert len(diffs) == 1 and "inputs of 1 of 2 samples differ in their bits" in diffs[0]
    assert "round the same seeded fields differently" in diffs[0]
    with h5py.File(path, "r+") as f:
        f["t0_fields/vorticity"][1, 0] = 2 * w  # another field
    diffs = fpm.split_differences(path, expected, problem, plan)
    assert any("the seeded random fields are not the official ones" in d for d in diffs)
    assert any("target statistics differ" in d for d in diffs)
