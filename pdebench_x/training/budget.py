"""What a training run spent and how its validation loss went: the budget and the learning curve.

:class:`TrainingBudget` is a Lightning callback that every operator-learning run carries. It
counts the process CPU seconds and wall seconds spent inside ``fit`` (data generation and the
final test excluded), epochs and optimiser steps, and records after every validation the
epoch, the mean training loss of that epoch and the validation quantities. Its counters live in
the checkpoints, so a run resumed with ``resume=auto`` reports the whole run's budget and curve.

A budget can also end training: ``cpu_seconds`` stops the run once that much process CPU time
has been spent in ``fit`` (checked after every optimiser step), so that solvers can be compared
at equal compute on a shared CPU, where wall time moves with the load. The final partial epoch is
validated as usual and the stop is recorded (``stopped_by``).
"""
from __future__ import annotations

import math
import time
from typing import Any

import lightning as L

#: the validation quantities the curve records when the task logs them
CURVE_KEYS = ("val/loss", "val/rollout_loss")


def _number(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


class TrainingBudget(L.Callback):
    def __init__(self, cpu_seconds: float | None = None) -> None:
        if cpu_seconds is not None and not float(cpu_seconds) > 0:
            raise ValueError(f"the CPU-time budget must be > 0 seconds, got {cpu_seconds!r}")
        self.cpu_limit = None if cpu_seconds is None else float(cpu_seconds)
        self.cpu_seconds = 0.0
        self.wall_seconds = 0.0
        self.stopped_by: str | None = None
        self.curve: dict[str, list] = {"epoch": [], "train_loss": [], **{k: [] for k in CURVE_KEYS}}
        self._start: tuple[float, float] | None = None
        self._epoch_loss: list[float] = []

    # -- time --------------------------------------------------------------------------------
    def _lap(self) -> None:
        """Add the time since the last lap to the counters."""
        if self._start is not None:
            cpu, wall = time.process_time(), time.perf_counter()
            self.cpu_seconds += cpu - self._start[0]
            self.wall_seconds += wall - self._start[1]
            self._start = (cpu, wall)

    def on_fit_start(self, trainer, pl_module) -> None:
        self._start = (time.process_time(), time.perf_counter())

    def on_fit_end(self, trainer, pl_module) -> None:
        self._lap()
        self._start = None

    # -- the curve ---------------------------------------------------------------------------
    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        value = _number(loss.detach() if hasattr(loss, "detach") else loss)
        if value is not None:
            self._epoch_loss.append(value)
        self._lap()
        if self.cpu_limit is not None and self.cpu_seconds >= self.cpu_limit and not trainer.should_stop:
            trainer.should_stop = True
            self.stopped_by = f"cpu_seconds >= {self.cpu_limit:g}"

    def on_validation_end(self, trainer, pl_module) -> None:
        # after the module's own on_validation_epoch_end has logged the epoch's validation means
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        self.curve["epoch"].append(int(trainer.current_epoch))
        self.curve["train_loss"].append(sum(self._epoch_loss) / len(self._epoch_loss) if self._epoch_loss else None)
        for key in CURVE_KEYS:
            self.curve[key].append(_number(metrics.get(key)))
        self._epoch_loss = []

    # -- what the run reports ----------------------------------------------------------------
    def report(self, trainer) -> tuple[dict[str, Any], dict[str, list]]:
        """(budget, learning curve) of the run so far, JSON-ready. The curve keeps only the
        validation quantities the task logged."""
        import torch
        self._lap()
        budget = {"cpu_seconds": self.cpu_seconds, "wall_seconds": self.wall_seconds,
                  "epochs": int(trainer.current_epoch), "optimizer_steps": int(trainer.global_step),
                  "threads": torch.get_num_threads(), "cpu_seconds_limit": self.cpu_limit,
                  "stopped_by": self.stopped_by}
        curve = {k: v for k, v in self.curve.items() if k in ("epoch", "train_loss") or any(x is not None for x in v)}
        return budget, curve

    # -- resuming ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        self._lap()
        return {"cpu_seconds": self.cpu_seconds, "wall_seconds": self.wall_seconds, "curve": self.curve,
                "stopped_by": self.stopped_by}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.cpu_seconds = float(state.get("cpu_seconds", 0.0))
        self.wall_seconds = float(state.get("wall_seconds", 0.0))
        self.stopped_by = state.get("stopped_by")
        curve = state.get("curve") or {}
        self.curve = {k: list(curve.get(k, [])) for k in self.curve}
