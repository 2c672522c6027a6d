"""The board's submissions directory: reading every record, adding one, never overwriting.

Records live in ``<board>/submissions/<dataset>__<solver>.json``. A record is added only
after every check passed (schema, finite non-negative metrics, the shipped fingerprint of
its dataset, no other record of the same solver name on the same dataset, no checkpoint or
predictions file that another record on the board was scored from); it is written with
exclusive creation, so an existing file is never replaced, even by a race.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Mapping

from pdebench_x.leaderboard.fingerprint import (TRACK_SECTIONS, TRACKS, FingerprintMismatch, FingerprintMissing,
                                               load_fingerprint, load_track, trained_horizon)
from pdebench_x.leaderboard.checks import ARTIFACT_HASHES
from pdebench_x.leaderboard.schema import RecordError, dump_record, load_record, validate_record


class DuplicateSubmission(ValueError):
    """The board already has a record of this solver name on this dataset, or of its files."""


def submissions_dir(board_dir: str | Path) -> Path:
    return Path(board_dir) / "submissions"


def fingerprints_dir(board_dir: str | Path) -> Path:
    return Path(board_dir) / "fingerprints"


def error_floors_dir(board_dir: str | Path) -> Path:
    return Path(board_dir) / "error_floors"


def load_error_floors(board_dir: str | Path) -> dict[str, dict[str, Any]]:
    """dataset name -> its error floor (``pdebench-x error-floor``; evaluation/error_floor.py), and
    "<track>/<dataset name>" -> the floor of that dataset's track split (``--track ood|long``)."""
    floors = _load_measurements(error_floors_dir(board_dir))
    for track in TRACKS:
        floors.update({f"{track}/{name}": floor
                       for name, floor in _load_measurements(error_floors_dir(board_dir) / track).items()})
    return floors


def solver_costs_dir(board_dir: str | Path) -> Path:
    return Path(board_dir) / "solver_costs"


def load_solver_costs(board_dir: str | Path) -> dict[str, dict[str, Any]]:
    """dataset name -> the numerical solver's accuracy-cost curve (``pdebench-x solver-cost``)."""
    return _load_measurements(solver_costs_dir(board_dir))


def _load_measurements(directory: Path) -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))}


def record_filename(record: Mapping[str, Any]) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.+-]", "_", record["solver"]["name"])
    return f"{record['dataset']['name']}__{safe}.json"


def load_board(board_dir: str | Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every record on the board, each validated; one error lists every bad file."""
    records, problems = [], []
    for path in sorted(submissions_dir(board_dir).glob("*.json")):
        try:
            records.append((path, load_record(path)))
        except RecordError as err:
            problems.append(str(err))
    seen: dict[tuple[str, str], Path] = {}
    for index, (path, rec) in enumerate(records):
        key = (rec["dataset"]["name"], rec["solver"]["name"].lower())
        if key in seen:
            problems.append(f"{path} and {seen[key]} both hold solver {rec['solver']['name']!r} on "
                            f"{rec['dataset']['name']}: solver names must be unique per dataset")
        seen[key] = path
        problems += [f"{path}: {p}" for p in shared_files(rec, records[:index])]
        try:
            check_fingerprint(rec, fingerprints_dir(board_dir))
        except (FingerprintMismatch, FingerprintMissing) as err:
            problems.append(f"{path}: {err}")
    if problems:
        raise RecordError(problems, f"the board at {board_dir}")
    return records


def artifact_hashes(record: Mapping[str, Any]) -> dict[str, str]:
    """{SHA-256: 'seeds[i].<field>'} of the checkpoints and predictions files a record was scored from."""
    out: dict[str, str] = {}
    for i, seed in enumerate(record.get("seeds") or []):
        for field in ARTIFACT_HASHES:
            if seed.get(field):
                out.setdefault(seed[field], f"seeds[{i}].{field}")
    return out


def shared_files(record: Mapping[str, Any], others: list[tuple[Path, dict[str, Any]]]) -> list[str]:
    """Each file hash of ``record`` that already belongs to one of ``others`` (path, record), said."""
    mine = artifact_hashes(record)
    problems = []
    for path, other in others:
        for digest, where in artifact_hashes(other).items():
            if digest in mine:
                problems.append(f"{mine[digest]} {digest[:12]}... already belongs to {Path(path).name} (solver "
                                f"{other['solver']['name']!r}, {where}): a checkpoint or predictions file is scored "
                                "into one record only, under one solver name")
    return problems


def check_fingerprint(record: Mapping[str, Any], fp_dir: str | Path) -> None:
    fp = load_fingerprint(fp_dir, record["dataset"]["name"])
    if record["dataset"]["fingerprint"] != fp["id"]:
        raise FingerprintMismatch(
            f"the record of {record['solver']['name']} was scored on a test split with fingerprint "
            f"{record['dataset']['fingerprint'][:12]}..., but the board's official {record['dataset']['name']} "
            f"split is {fp['id'][:12]}...: re-score the solver with this version of score.py")
    zs = record.get("zero_shot")
    if zs and zs.get("fingerprint") != fp["id"]:
        raise FingerprintMismatch(f"the zero-shot scores of {record['solver']['name']} refer to fingerprint "
                                  f"{str(zs.get('fingerprint'))[:12]}..., not the official {fp['id'][:12]}...")
    for track, section in TRACK_SECTIONS.items():
        scored = (record.get(section) or {}).get("fingerprint")
        if scored is None:
            continue
        split = load_track(fp_dir, record["dataset"]["name"], track)
        if split is None or scored != split["id"]:
            now = "has none" if split is None else f"is {split['id'][:12]}..."
            raise FingerprintMismatch(f"the {section} scores of {record['solver']['name']} refer to a {track} split with "
                                      f"fingerprint {str(scored)[:12]}..., but the board's {track} split of "
                                      f"{record['dataset']['name']} {now}: re-score the solver with this version of "
                                      "score.py")
    until = (record.get("long_horizon") or {}).get("trained_until")
    if until is not None:
        horizon = trained_horizon(fp)
        if horizon is None or not math.isclose(until, horizon, rel_tol=1e-9):
            ends = "is steady" if horizon is None else f"ends at t = {horizon:g}"
            raise FingerprintMismatch(f"the long-horizon section of {record['solver']['name']} says the model was "
                                      f"trained to t = {until:g}, but the official {record['dataset']['name']} split "
                                      f"{ends}: re-score the solver with this version of score.py")


def add_record(record: Mapping[str, Any], board_dir: str | Path) -> Path:
    """Validate ``record`` against the schema and the board, then write it; nothing is written on error."""
    record = validate_record(dict(record), f"the record of {record.get('solver', {}).get('name', '?')}")
    check_fingerprint(record, fingerprints_dir(board_dir))
    existing = load_board(board_dir)
    name, dataset = record["solver"]["name"], record["dataset"]["name"]
    for path, rec in existing:
        if rec["dataset"]["name"] == dataset and rec["solver"]["name"].lower() == name.lower():
            raise DuplicateSubmission(
                f"the board already has solver {rec['solver']['name']!r} on {dataset} ({path}); nothing was "
                "written. Records are never overwritten: submit under another name (solver=<name>, e.g. "
                f"{name}-v2), or remove the old record in a reviewed pull request first")
    reused = shared_files(record, existing)
    if reused:
        raise DuplicateSubmission(f"the record of {name} on {dataset} was scored from files of a record already on "
                                  "the board; nothing was written:\n" + "\n".join(f"  - {p}" for p in reused))
    path = submissions_dir(board_dir) / record_filename(record)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = dump_record(record)
    try:
        with open(path, "x") as f:
            f.write(text)
    except FileExistsError:
        raise DuplicateSubmission(f"{path} already exists; records are never overwritten") from None
    return path
