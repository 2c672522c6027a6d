"""What machine this is: the CPU model, core count, GPU name (for records and budgets)."""
from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def hardware() -> dict[str, Any]:
    cpu = platform.processor() or None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = None
    try:
        import torch
        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:  # noqa: BLE001 -- hardware facts are best effort
        pass
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "gpu": gpu, "machine": platform.machine()}
