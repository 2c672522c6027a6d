"""Shared helpers of the benchmark scripts: repository path, threads, timing, the machine line."""
from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# datasets/ and outputs/ of the repository, from whatever directory a script is started
os.environ.setdefault("PDEBENCH_X_ROOT", str(ROOT))


def set_threads(n: int) -> None:
    """torch intra-op threads. On a shared, loaded machine 1 is the honest setting: with 2
    threads a 16x16 FFT was measured 300x slower (threads waiting on each other)."""
    import torch
    torch.set_num_threads(int(n))
    os.environ["OMP_NUM_THREADS"] = str(n)


def best_time(fn: Callable[[], object], repeat: int = 3, warmup: int = 1) -> float:
    """Smallest wall time of ``repeat`` calls after ``warmup`` calls (seconds): the least disturbed
    by other processes on a shared machine."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def machine() -> str:
    import torch
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    try:
        load = "load avg %.1f" % os.getloadavg()[0]
    except OSError:  # pragma: no cover
        load = ""
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {load}, torch "
            f"{torch.__version__}, {torch.get_num_threads()} thread(s), {gpu}")


def header(title: str) -> None:
    print(f"# {title}\n# {machine()}", flush=True)
