"""Generation throughput on the GPU at the benchmark presets (issue 16 item 5), beside the CPU's.

For each family -- NS ``benchmark`` (nu = 1e-3, T = 50, solve_resolution auto) and SWE
``benchmark`` (128^2, 101 frames) -- the family's generator, with the preset's settings read from
pdebench_x/conf/data/<family>.yaml and merged as the build driver merges them, solves the first
N test samples (the split's own seeds):

- first on the CPU, in this process with ``--cpu-threads`` torch threads: the first ``--cpu-n``
  of them in one ``generate`` call (no warm-up call);
- then on ``--device``, once per batch size (samples one ``generate`` call solves; also the
  generator's ``batch_size`` setting where it has one), largest first: by default all N at once
  and the build driver's chunk on that device, each timed after one untimed call of that size
  (CUDA start-up, FFT plans).

Printed per family, each row as it is measured: samples/s of each, the device's over the CPU's,
the peak GPU memory, and the largest difference between the arrays each stored (float32, as
written to the files) over the CPU's samples, absolute and relative to the largest |value|; and
the GPU's name (torch.cuda.get_device_name). ``--json`` also writes the figures, after each family.

    python benchmarks/gpu/generation.py                                # on CUDA (run.sh does this)
    python benchmarks/gpu/generation.py --device cpu --n 2 --cpu-n 1   # a dry run without a GPU
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: _common
from _common import ROOT, header, set_threads  # noqa: E402

from pdebench_x.data.build import DatasetPlan, generator_class, plan_from_config  # noqa: E402
from pdebench_x.data.generators.base import Generator, sample_seed  # noqa: E402

FAMILIES = ("ns", "swe")
PRESET = "benchmark"


def data_config(family: str) -> dict:
    return yaml.safe_load((ROOT / "pdebench_x" / "conf" / "data" / f"{family}.yaml").read_text())


def preset_plan(family: str) -> DatasetPlan:
    """The preset's plan (generator settings, sizes, seed) as the data config gives it; writes nothing."""
    return plan_from_config({**data_config(family), "preset": PRESET}, root=ROOT / "datasets")


def has_batch_setting(family: str) -> bool:
    """The data config lists one override key per generator setting (tests/test_configs.py)."""
    return "batch_size" in (data_config(family).get("generator") or {})


def make_generator(plan: DatasetPlan, device: str, batch: int | None = None) -> Generator:
    settings = {**plan.generator, "device": device}
    if batch is not None and has_batch_setting(plan.family):
        settings["batch_size"] = batch
    return generator_class(plan.family)(**settings)


def solve(gen: Generator, seeds: list, batch: int) -> dict[str, np.ndarray]:
    """The samples of ``seeds``, ``batch`` to a ``generate`` call, joined along the sample axis."""
    parts = [gen.generate(seeds[i:i + batch]) for i in range(0, len(seeds), batch)]
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def timed(fn):
    """(seconds, result); generate() returns host arrays, so the device's work is finished."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def largest_difference(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """Per stored array: max |a - b| and that over max |b|."""
    out = {}
    for key in b:
        diff = float(np.max(np.abs(a[key].astype(np.float64) - b[key].astype(np.float64))))
        scale = float(np.max(np.abs(b[key])))
        out[key] = {"max_abs": diff, "max_rel": diff / scale if scale else diff}
    return out


def run_family(family: str, device: str, n: int | None, batches: list[int] | None, cpu_n: int,
               cpu_threads: int) -> dict:
    """The CPU's samples first, then the device's, largest batch first; each row printed when
    measured (a run stopped by its timeout has printed what it finished)."""
    plan = preset_plan(family)
    n = n or plan.sizes["test"]
    cpu_n = min(cpu_n, n)
    seeds = [sample_seed(plan.seed, "test", i) for i in range(n)]
    driver_chunk = make_generator(plan, device).chunk_size
    print(f"\n## {family} {PRESET}: {json.dumps(plan.generator)}; the build driver's chunk on {device}: "
          f"{driver_chunk}\n| where | batch | samples | s | samples/s | x CPU | first call s | peak GPU MiB |\n"
          "|---|---|---|---|---|---|---|---|", flush=True)

    previous = torch.get_num_threads()
    set_threads(cpu_threads)
    try:
        cpu_seconds, cpu_out = timed(lambda: make_generator(plan, "cpu").generate(seeds[:cpu_n]))
    finally:
        set_threads(previous)
    cpu = {"samples": cpu_n, "threads": cpu_threads, "seconds": cpu_seconds, "samples_per_s": cpu_n / cpu_seconds}
    print(f"| cpu, {cpu_threads} thread(s) | {cpu_n} | {cpu_n} | {cpu_seconds:.2f} | {cpu['samples_per_s']:.3g} "
          "| 1.0x | - | - |", flush=True)

    rows, difference = [], None
    for batch in sorted({min(b, n) for b in (batches or [driver_chunk, n])}, reverse=True):
        gen = make_generator(plan, device, batch)
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        first, _ = timed(lambda: gen.generate(seeds[:batch]))
        seconds, out = timed(lambda: solve(gen, seeds, batch))
        peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
        row = {"batch": batch, "samples": n, "seconds": seconds, "samples_per_s": n / seconds,
               "x_cpu": n / seconds / cpu["samples_per_s"], "first_call_seconds": first, "peak_gpu_mib": peak}
        rows.append(row)
        print(f"| {device} | {batch} | {n} | {seconds:.2f} | {row['samples_per_s']:.3g} | **{row['x_cpu']:.1f}x** "
              f"| {first:.2f} | {'-' if peak is None else f'{peak:.0f}'} |", flush=True)
        difference = difference or largest_difference({k: v[:cpu_n] for k, v in out.items()}, cpu_out)
    print(f"largest difference, {device} vs cpu, first {cpu_n} sample(s): " + ", ".join(
        f"{k} {d['max_abs']:.2e} ({d['max_rel']:.1e} of max |{k}|)" for k, d in difference.items()), flush=True)
    return {"family": family, "preset": PRESET, "settings": plan.generator, "driver_chunk": driver_chunk,
            "device": device, "rows": rows, "cpu": cpu, "difference_vs_cpu": difference}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda", help="cuda (default) or cpu (a dry run)")
    p.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    p.add_argument("--n", type=int, default=None, help="samples on the device (default: the preset's test split)")
    p.add_argument("--batch", type=int, nargs="+", default=None,
                   help="samples a generate() call solves (default: the build driver's chunk, and all N)")
    p.add_argument("--cpu-n", type=int, default=4, help="samples on the CPU, for the comparison")
    p.add_argument("--cpu-threads", type=int, default=1, help="torch threads of the CPU run")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = p.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        p.error("CUDA is not available here: --device cpu for a dry run")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    header(f"generation at the {PRESET} presets on {args.device} ({gpu}) vs cpu with {args.cpu_threads} "
           "torch thread(s) (NS FFTs take at least 2 on MKL builds: ns.py _fft_threads)")
    results = []
    for family in args.families:
        results.append(run_family(family, args.device, args.n, args.batch, args.cpu_n, args.cpu_threads))
        if args.json:  # after each family: a run stopped by its timeout keeps what it finished
            args.json.write_text(json.dumps({"gpu": gpu, "torch": torch.__version__, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
