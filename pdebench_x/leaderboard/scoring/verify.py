"""``--verify``: re-score every seed of a record from its checkpoints or predictions files and compare."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from pdebench_x.leaderboard.checks import TRANSFER_SPLITS
from pdebench_x.leaderboard.fingerprint import load_fingerprint, load_track
from pdebench_x.leaderboard.schema import validate_record
from pdebench_x.leaderboard.scoring.checkpoints import score_checkpoint_seed
from pdebench_x.leaderboard.scoring.errors import VerificationError
from pdebench_x.leaderboard.scoring.predictions import score_predictions_file
from pdebench_x.leaderboard.scoring.provenance import sha256_file

#: --verify: a record's metric must equal the re-score within rtol * |re-score| + atol
#: (re-scoring on other hardware changes the last digits: GPU kernels, TF32, batch order).
VERIFY_RTOL = 1e-3
VERIFY_ATOL = 1e-9


def _compare(recorded: Any, rescored: Any, path: str, out: list[str]) -> None:
    if isinstance(recorded, dict):
        for k, v in recorded.items():
            _compare(v, (rescored or {}).get(k) if isinstance(rescored, dict) else None, f"{path}.{k}", out)
    elif isinstance(recorded, list):
        other = rescored if isinstance(rescored, list) and len(rescored) == len(recorded) else [None] * len(recorded)
        for i, (a, b) in enumerate(zip(recorded, other)):
            _compare(a, b, f"{path}[{i}]", out)
    elif isinstance(recorded, (int, float)) and not isinstance(recorded, bool):
        if rescored is None or abs(recorded - rescored) > VERIFY_RTOL * abs(rescored) + VERIFY_ATOL:
            out.append(f"{path}: record {recorded!r}, re-score {rescored!r}")


def verify_record(record: Mapping[str, Any], fingerprints_dir: str | Path, data_root: str | Path,
                  artifacts: Sequence[str | Path] | None = None, progress: bool = False) -> None:
    """Re-score every seed of ``record`` and raise :class:`VerificationError` on any difference.

    ``artifacts`` gives the checkpoints (or predictions files) in seed order when the paths in
    the record are not on this machine (e.g. downloaded from the pull request's link).
    """
    validate_record(dict(record))
    fp = load_fingerprint(fingerprints_dir, record["dataset"]["name"])
    if record["dataset"]["fingerprint"] != fp["id"]:
        raise VerificationError(f"the record was scored on a different test split (fingerprint "
                                f"{record['dataset']['fingerprint'][:12]}, official {fp['id'][:12]})")
    if record["source"] == "run":
        raise VerificationError(
            f"{record['solver']['name']} is a per-instance solver's record (status {record.get('status', 'ok')}): "
            "there is no checkpoint to re-score, only the fit to repeat. Run it again, e.g. `python train.py "
            f"model={record['solver']['model']} data={record['dataset']['family']} "
            f"data.preset={record['dataset']['preset']}`, and compare its metrics.json with the record")
    ood = load_track(fingerprints_dir, record["dataset"]["name"], "ood") if record.get("ood") else None
    if ood is not None and record["ood"]["fingerprint"] != ood["id"]:
        raise VerificationError(f"the record's out-of-distribution scores were made on another split (fingerprint "
                                f"{record['ood']['fingerprint'][:12]}, official {ood['id'][:12]})")
    # a predictions file is scored on every track split its groups hold
    tracks = {"ood": ood or load_track(fingerprints_dir, record["dataset"]["name"], "ood"),
              "long": load_track(fingerprints_dir, record["dataset"]["name"], "long")}
    seeds = record["seeds"]
    paths = list(artifacts) if artifacts else [s.get("checkpoint") for s in seeds]
    if len(paths) != len(seeds):
        raise VerificationError(f"{len(paths)} file(s) given for {len(seeds)} seeds; give one per seed, in order")
    problems: list[str] = []
    for i, (seed, p) in enumerate(zip(seeds, paths)):
        if not p or not Path(p).exists():
            raise VerificationError(f"seed {seed['seed']}: {'no file recorded' if not p else f'{p} not found'}; "
                                    "download the checkpoints (or predictions) and pass them with --files, in seed order")
        if record["source"] == "checkpoint":
            digest = seed.get("checkpoint_sha256")
            if digest and sha256_file(p) != digest:
                problems.append(f"seeds[{i}]: {p} is not the checkpoint that was scored (SHA-256 differs)")
                continue
            block = record.get("instances")
            again = score_checkpoint_seed(Path(p), None, fp, data_root, zero_shot=seed.get("zero_shot") is not None,
                                          progress=progress,
                                          instances=(block["k"], block["seed"]) if block else None,
                                          ood=ood if seed.get("ood") else None)
        else:
            again, _ = score_predictions_file(p, fp, data_root, tracks=tracks)
        _compare(seed["metrics"], again["metrics"], f"seeds[{i}].metrics", problems)
        if seed.get("instances"):
            _compare(seed["instances"]["metrics"], (again.get("instances") or {}).get("metrics"),
                     f"seeds[{i}].instances.metrics", problems)
        for split in TRANSFER_SPLITS:
            if seed.get(split):
                _compare(seed[split]["overall"], (again.get(split) or {}).get("overall"),
                         f"seeds[{i}].{split}.overall", problems)
        if seed.get("long_horizon") and record["source"] == "predictions":
            _compare({k: seed["long_horizon"][k] for k in ("valid_time", "correlation_time", "nrmse_vs_time")},
                     again.get("long_horizon"), f"seeds[{i}].long_horizon", problems)
    if problems:
        shown = "\n".join(f"  - {p}" for p in problems[:20])
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise VerificationError(f"the record's metrics differ from a re-score beyond rtol {VERIFY_RTOL:g}:\n"
                                f"{shown}{more}\nNothing was written.")
