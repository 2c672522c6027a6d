"""``pdebench-x board check``: the steps a submitted record goes through before it joins the
board, the same on a contributor's machine and in the pull-request workflow
(``.github/workflows/submission.yml``).

Each record, in order, stopping at the first step that fails:

1. ``schema``: it validates against ``record.schema.json``;
2. ``fingerprint``: its dataset fingerprint is the board's official one (``<board>/fingerprints/``);
3. ``consistency``: the checks the board applies to every record it loads (:func:`.checks.semantic_errors`:
   finite metrics, enough distinct seeds, figures that agree with each other);
4. ``clash``: it joins a copy of the board (:func:`.store.add_record`): no other record of its solver
   name on its dataset, no checkpoint or predictions file (by SHA-256) of another record;
5. ``re-score``: when every seed's file is on this machine, ``--verify`` re-scores it and compares.
   A record that links no file for some seed is *unverified*, as the board marks it; one whose files
   are elsewhere (a fresh clone, the workflow) is re-scored by a maintainer with ``--files``.
   Neither is a failure;
6. ``build``: the board copy, with the record, renders to README.md and index.html, the record's
   solver in both.

The copy lives in a temporary directory: the board itself is never written. Records that already
sit in the board's submissions directory (a pull request's checkout holds them) are left out of
the copy, so a record does not clash with itself. Several records join the same copy in turn, so
they must not clash with one another either.
"""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from markupsafe import escape

from pdebench_x.data.formats import DataFormatError
from pdebench_x.leaderboard import board as board_pages
from pdebench_x.leaderboard.board.formatting import md_escape
from pdebench_x.leaderboard.board.tables import unverified
from pdebench_x.leaderboard.checks import semantic_errors
from pdebench_x.leaderboard.fingerprint import FingerprintMismatch, FingerprintMissing
from pdebench_x.leaderboard.schema import RecordError, load_schema, parse_record, schema_errors
from pdebench_x.leaderboard.scoring import VERIFY_RTOL, ScoringError, VerificationError, verify_record
from pdebench_x.leaderboard.store import (DuplicateSubmission, add_record, check_fingerprint, fingerprints_dir,
                                          submissions_dir)

#: Problems shown on a step's line; the rest are counted.
SHOWN_PROBLEMS = 10


class UnreadableSubmission(ValueError):
    """A file that is no record at all (missing, unreadable, not a JSON object): bad usage, not a failed step."""


class StepFailed(Exception):
    """A step's reason to refuse the record, on one line."""


@dataclass(frozen=True)
class StepResult:
    record: Path
    step: str
    ok: bool
    message: str  # one line

    def line(self) -> str:
        return f"{'ok' if self.ok else 'FAIL'}: {self.step}: {self.message}"


@dataclass(frozen=True)
class _Context:
    board: Path      # the board checked against (read only)
    copy: Path       # its temporary copy, which each record joins
    data_root: Path  # where --verify finds (or generates) the official test split

    def board_paths(self, text: str) -> str:
        """Messages of the store name files of the copy: say the board's own paths instead."""
        return text.replace(str(self.copy), str(self.board))


def _one_line(text: str) -> str:
    """A multi-line message ('intro:' then '  - problem' lines) as 'intro: problem; problem'."""
    lines = [line.strip() for line in text.splitlines() if line.strip()] or [""]
    return f"{lines[0]} {'; '.join(line.removeprefix('- ') for line in lines[1:])}".strip()


def _joined(problems: Sequence[str]) -> str:
    more = len(problems) - SHOWN_PROBLEMS
    return "; ".join(problems[:SHOWN_PROBLEMS]) + (f"; ... and {more} more" if more > 0 else "")


def read_submission(path: str | Path) -> dict[str, Any]:
    """The JSON object in ``path``; :class:`UnreadableSubmission` (one line) when there is none."""
    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        raise UnreadableSubmission(f"cannot read {path}: {getattr(err, 'strerror', None) or err}") from err
    try:
        return parse_record(text, str(path))
    except RecordError as err:
        raise UnreadableSubmission(f"{path}: {err.problems[0]}") from err


# ------------------------------------------------------------------------------------------
# the steps: each returns its "ok" message or raises StepFailed
# ------------------------------------------------------------------------------------------
def _schema(record: Mapping[str, Any], path: Path, ctx: _Context) -> str:
    problems = schema_errors(record, load_schema())
    if problems:
        raise StepFailed(_joined(problems))
    return f"valid against record.schema.json (schema_version {record['schema_version']})"


def _fingerprint(record: Mapping[str, Any], path: Path, ctx: _Context) -> str:
    try:
        check_fingerprint(record, fingerprints_dir(ctx.board))
    except (FingerprintMismatch, FingerprintMissing) as err:
        raise StepFailed(_one_line(str(err))) from err
    return f"{record['dataset']['name']}, the board's official split ({record['dataset']['fingerprint'][:12]}...)"


def _consistency(record: Mapping[str, Any], path: Path, ctx: _Context) -> str:
    problems = semantic_errors(dict(record))
    if problems:
        raise StepFailed(_joined(problems))
    return f"{len(record['seeds'])} seed(s); every check the board applies to a record holds"


def _clash(record: Mapping[str, Any], path: Path, ctx: _Context) -> str:
    n = len(list(submissions_dir(ctx.copy).glob("*.json")))
    try:
        add_record(record, ctx.copy)
    except (DuplicateSubmission, RecordError) as err:  # RecordError: the board itself is invalid
        raise StepFailed(ctx.board_paths(_one_line(str(err)))) from err
    return (f"no clash with the {n} record(s) on the board (solver name per dataset; checkpoint and "
            "predictions files by SHA-256)")


def _rescore(record: Mapping[str, Any], path: Path, ctx: _Context) -> str:
    if record.get("status", "ok") != "ok":
        return "nothing to re-score: a not-applicable record has no figures"
    if unverified(record):
        return ("unverified: the record links no checkpoint or predictions file for some seed, so nothing can "
                "re-score it (the board marks it unverified)")
    files = [seed.get("checkpoint") for seed in record["seeds"]]
    absent = [f for f in files if not f or not Path(f).is_file()]
    if absent:
        return (f"not re-scored here (unverified on this machine): {len(absent)} of {len(files)} seed file(s) "
                f"are not on it; a maintainer runs `pdebench-x score --verify {path} --files <one file per seed>`")
    try:
        verify_record(record, fingerprints_dir(ctx.board), ctx.data_root)
    except (VerificationError, ScoringError, FingerprintMismatch, FingerprintMissing, DataFormatError) as err:
        raise StepFailed(_one_line(str(err))) from err
    return f"re-scored {len(files)} seed(s) on the official split: every metric within rtol {VERIFY_RTOL:g}"


def _build(record: Mapping[str, Any], path: Path, ctx: _Context) -> str:
    try:
        readme, page = board_pages.build(ctx.copy)
    except Exception as err:  # noqa: BLE001 -- whatever breaks the rendering is this step's finding
        raise StepFailed(f"the board does not render with the record: {type(err).__name__}: "
                         f"{ctx.board_paths(_one_line(str(err)))}") from err
    name = record["solver"]["name"]
    md, html = readme.read_text(), page.read_text()
    missing = [file for file, text, shown in (("README.md", md, md_escape(name)), ("index.html", html, str(escape(name))))
               if shown not in text]
    if missing:
        raise StepFailed(f"the board renders, but solver {name!r} is not in its {' or '.join(missing)}")
    return (f"the board with the record renders (in a temporary copy): README.md ({len(md):,} characters), "
            f"index.html ({len(html):,} characters)")


STEPS: tuple[tuple[str, Callable[[Mapping[str, Any], Path, _Context], str]], ...] = (
    ("schema", _schema), ("fingerprint", _fingerprint), ("consistency", _consistency), ("clash", _clash),
    ("re-score", _rescore), ("build", _build))


def _board_copy(board: Path, dest: Path, checked: Sequence[Path]) -> Path:
    """``board``'s fingerprints and records in ``dest``, less the records being checked."""
    leave_out = {p.resolve() for p in checked}
    if fingerprints_dir(board).is_dir():
        shutil.copytree(fingerprints_dir(board), fingerprints_dir(dest))
    submissions_dir(dest).mkdir(parents=True)
    for rec in sorted(submissions_dir(board).glob("*.json")):
        if rec.resolve() not in leave_out:
            shutil.copy2(rec, submissions_dir(dest) / rec.name)
    return dest


def check_submissions(paths: Sequence[str | Path], board_dir: str | Path,
                      data_root: str | Path) -> Iterator[StepResult]:
    """Each step's result for each record in ``paths``, as it completes (see the module docstring).

    Every file is read first: :class:`UnreadableSubmission` is raised before any step runs.
    """
    records = [(Path(p), read_submission(p)) for p in paths]
    board = Path(board_dir)
    with tempfile.TemporaryDirectory(prefix="pdebench-x-check-") as tmp:
        ctx = _Context(board, _board_copy(board, Path(tmp) / "board", [p for p, _ in records]), Path(data_root))
        for path, record in records:
            for step, run in STEPS:
                try:
                    yield StepResult(path, step, True, run(record, path, ctx))
                except StepFailed as failure:
                    yield StepResult(path, step, False, str(failure))
                    break
