"""Preemption: :func:`resolve_resume` finds the checkpoint a ``resume=auto`` run continues from;
:func:`check_checkpoint` refuses a truncated checkpoint or one of another model before Lightning
loads anything.
"""
from __future__ import annotations

import json
import logging
import shutil
import zipfile
from pathlib import Path
from typing import Any, Mapping

import torch

from pdebench_x.core.files import METRICS_FILE
from pdebench_x.core.plain import to_plain

log = logging.getLogger(__name__)

RUN_CONFIG_FILE = "run_config.json"
#: config keys that say how to start a run, not what the run is (excluded from its identity)
LAUNCH_KEYS = ("resume", "ckpt_path")
#: config keys that say where files go, not what is trained (excluded from the identity too, so a
#: run is found again after its outputs or data root moved; "hydra" only if the node was composed in)
PLACE_KEYS = ("paths", "hydra")


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed from: unreadable, truncated, or of another model."""


def _comparable(identity: Mapping[str, Any]) -> dict[str, Any]:
    """``identity`` without the launch and place keys (run_config.json of older runs has them)."""
    return {k: v for k, v in identity.items() if k not in LAUNCH_KEYS and k not in PLACE_KEYS}


def _without_nulls(node: Any) -> Any:
    """``node`` with every null-valued key removed, at any depth: a setting added to the configs
    later with a null default (unset) does not make an older run of the same config another run."""
    if isinstance(node, dict):
        return {k: _without_nulls(v) for k, v in node.items() if v is not None}
    return node


def same_run(stored: Mapping[str, Any], identity: Mapping[str, Any]) -> bool:
    """Whether a run's stored identity (run_config.json) is that of ``identity`` (:func:`run_identity`)."""
    return _without_nulls(_comparable(stored)) == _without_nulls(dict(identity))


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


def resolve_resume(cfg: Mapping[str, Any], run_dir: str | Path, finished_marker: str = METRICS_FILE
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
            same = same_run(json.loads((d / RUN_CONFIG_FILE).read_text()), identity)
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
        if key in hp_saved and key in hp_now and to_plain(hp_saved[key]) != to_plain(hp_now[key]):
            problems.append(f"{key}: checkpoint {to_plain(hp_saved[key])} != this run {to_plain(hp_now[key])}")
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
