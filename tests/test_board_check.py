"""Issue 18 item 7: `pdebench-x board check`, the checks of a submission's pull request run locally.

A shipped record passes every step; a hand-edited figure fails at the consistency step, a wrong
fingerprint at the fingerprint step, a second copy of a record at the clash step, a consistently
forged record at the re-score step (a tiny predictions-file record whose files are here: no
training); a missing or non-JSON file is bad usage (exit 2). The workflow
(.github/workflows/submission.yml) is parsed and its check script run on a local git repository
holding a pull request, so the command CI runs is the one tested here. Every check leaves the
repository's leaderboard/ byte for byte as it was.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_leaderboard import DATA, REPO, _test_targets, compose_cfg

from pdebench_x.cli import main
from pdebench_x.leaderboard import fingerprint as fpm
from pdebench_x.leaderboard import scoring, store
from pdebench_x.leaderboard.checks import consistency_errors
from pdebench_x.leaderboard.schema import dump_record
from pdebench_x.leaderboard.scoring.records import aggregate
from pdebench_x.leaderboard.submission_check import STEPS

SHIPPED = REPO / "leaderboard"
WORKFLOW = REPO / ".github" / "workflows" / "submission.yml"
RECORD = "darcy_small__fno"
STEP_NAMES = [name for name, _ in STEPS]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tree_digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def check(args: list[str], capsys) -> tuple[int, list[str], str]:
    """`pdebench-x board check ARGS`: exit status, the step lines, stderr; the shipped board is untouched."""
    before = tree_digest(SHIPPED)
    code = main(["board", "check", *args])
    out, err = capsys.readouterr()
    assert tree_digest(SHIPPED) == before, "board check wrote into leaderboard/"
    return code, [line.strip() for line in out.splitlines() if line.startswith("  ")], err


def steps_of(lines: list[str]) -> list[tuple[str, str]]:
    """(status, step) of each step line, e.g. ("ok", "schema")."""
    return [tuple(line.split(": ", 2)[:2]) for line in lines]


def shipped(name: str) -> dict:
    return json.loads((store.submissions_dir(SHIPPED) / f"{name}.json").read_text())


def write(record: dict, path: Path) -> Path:
    path.write_text(dump_record(record))
    return path


def board_without(name: str, dest: Path) -> Path:
    """A copy of the shipped board without record ``name`` (for a record the board already holds)."""
    shutil.copytree(store.fingerprints_dir(SHIPPED), store.fingerprints_dir(dest))
    shutil.copytree(store.submissions_dir(SHIPPED), store.submissions_dir(dest),
                    ignore=shutil.ignore_patterns(f"{name}.json"))
    return dest


def files_here(record: dict) -> bool:
    return all(s.get("checkpoint") and Path(s["checkpoint"]).is_file() for s in record["seeds"])


def elsewhere(record: dict) -> dict:
    """``record`` with its checkpoints named where this machine has none, as in a fresh clone: the
    re-score step then says so instead of re-scoring three seeds (a slow test does that)."""
    for seed in record["seeds"]:
        if seed.get("checkpoint"):
            seed["checkpoint"] = f"/nonexistent/{Path(seed['checkpoint']).name}"
    return record


# ------------------------------------------------------------------------------------------
# the shipped board's records
# ------------------------------------------------------------------------------------------
def test_shipped_record_passes_every_step(tmp_path, capsys):
    record = write(elsewhere(shipped(RECORD)), tmp_path / f"{RECORD}.json")
    board = board_without(RECORD, tmp_path / "board")
    code, lines, _ = check([str(record), "--board", str(board), "--data-root", str(tmp_path / "data")], capsys)
    assert code == 0, lines
    assert steps_of(lines) == [("ok", name) for name in STEP_NAMES]
    assert "not re-scored here" in lines[STEP_NAMES.index("re-score")]
    assert "README.md" in lines[-1] and "index.html" in lines[-1]


@pytest.mark.slow
def test_shipped_record_is_re_scored_where_its_checkpoints_are(tmp_path, capsys):
    """On the machine that made the board (its checkpoints under outputs/) the re-score step re-scores
    every seed; a fresh clone has none and says so."""
    record = write(shipped(RECORD), tmp_path / f"{RECORD}.json")
    board = board_without(RECORD, tmp_path / "board")
    code, lines, _ = check([str(record), "--board", str(board), "--data-root", str(tmp_path / "data")], capsys)
    assert code == 0, lines
    rescore = lines[STEP_NAMES.index("re-score")]
    assert ("re-scored 3 seed(s)" if files_here(shipped(RECORD)) else "not re-scored here") in rescore


def test_record_in_the_board_checkout_is_not_a_clash_with_itself(capsys, tmp_path):
    """A pull request's checkout already holds its record in leaderboard/submissions/."""
    board = board_without(RECORD, tmp_path / "board")
    inside = write(elsewhere(shipped(RECORD)), store.submissions_dir(board) / f"{RECORD}.json")
    code, lines, _ = check([str(inside), "--board", str(board), "--data-root", str(tmp_path)], capsys)
    assert code == 0, lines
    assert ("ok", "clash") in steps_of(lines)


def test_a_second_copy_of_a_record_clashes(tmp_path, capsys):
    renamed = shipped(RECORD)
    renamed["solver"]["name"] = "fno-v2"
    files = [write(shipped(RECORD), tmp_path / "same_name.json"), write(renamed, tmp_path / "renamed.json")]
    for path, reason in zip(files, ("the board already has solver 'fno' on darcy_small",
                                    f"already belongs to {RECORD}.json")):
        code, lines, _ = check([str(path), "--data-root", str(tmp_path)], capsys)
        assert code == 1
        assert steps_of(lines) == [("ok", "schema"), ("ok", "fingerprint"), ("ok", "consistency"), ("FAIL", "clash")]
        assert reason in lines[-1]


def test_hand_edited_overall_figure_fails_at_consistency(tmp_path, capsys):
    edited = shipped(RECORD)
    edited["seeds"][0]["metrics"]["steady"]["overall"]["nrmse"] *= 0.9
    reasons = consistency_errors(edited)
    assert reasons, "the edit must break an identity of the record"
    code, lines, _ = check([str(write(edited, tmp_path / "edited.json")), "--data-root", str(tmp_path)], capsys)
    assert code == 1
    assert steps_of(lines) == [("ok", "schema"), ("ok", "fingerprint"), ("FAIL", "consistency")]
    assert reasons[0] in lines[-1] and "the figures of a section must agree" in lines[-1]


def test_wrong_fingerprint_fails_at_the_fingerprint_step(tmp_path, capsys):
    record = shipped(RECORD)
    official = record["dataset"]["fingerprint"]
    record["dataset"]["fingerprint"] = "0" * 64
    code, lines, _ = check([str(write(record, tmp_path / "other_split.json")), "--data-root", str(tmp_path)], capsys)
    assert code == 1
    assert steps_of(lines) == [("ok", "schema"), ("FAIL", "fingerprint")]
    assert f"official darcy_small split is {official[:12]}" in lines[-1]


def test_schema_violation_fails_at_the_schema_step(tmp_path, capsys):
    record = shipped(RECORD)
    del record["solver"]["paper"]
    code, lines, _ = check([str(write(record, tmp_path / "no_paper.json"))], capsys)
    assert code == 1
    assert steps_of(lines) == [("FAIL", "schema")]
    assert "$.solver: missing required field 'paper'" in lines[-1]


@pytest.mark.parametrize("content, message", [(None, "cannot read"), ("{not json", "not valid JSON"),
                                              ("[1, 2]", "expected a JSON object")])
def test_bad_path_or_not_json_is_bad_usage(tmp_path, capsys, content, message):
    path = tmp_path / "record.json"
    if content is not None:
        path.write_text(content)
    good = store.submissions_dir(SHIPPED) / f"{RECORD}.json"
    code, lines, err = check([str(good), str(path)], capsys)
    assert code == 2 and lines == []  # nothing is checked when one file is no record
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_no_record_given_is_bad_usage(capsys):
    code, lines, err = check([], capsys)
    assert code == 2 and "board check needs record files" in err


# ------------------------------------------------------------------------------------------
# re-scoring: a record whose predictions files are on this machine
# ------------------------------------------------------------------------------------------
class Tiny:
    """A tiny Darcy split fingerprinted on a temporary board, and a record scored from three
    predictions files (prediction = scale * truth) that link themselves, so --verify finds them."""

    def __init__(self, root: Path) -> None:
        self.root, self.data, self.board = root, root / "data", root / "board"
        self.fp = fpm.make_fingerprint(compose_cfg(DATA, self.data).data, self.data, progress=False, zero_shot=False)
        fpm.write_fingerprint(self.fp, store.fingerprints_dir(self.board))
        store.submissions_dir(self.board).mkdir()
        y = _test_targets(self)
        files = [root / f"seed{seed}.h5" for seed in range(3)]
        for seed, (path, scale) in enumerate(zip(files, (1.05, 1.1, 0.8))):
            scoring.write_predictions(path, self.fp["dataset"], "scaled", seed, {"u": y * scale}, checkpoint=str(path))
        self.record = scoring.score_predictions(files, store.fingerprints_dir(self.board), self.data,
                                                solver_name="scaled")

    def check(self, records: list[dict], capsys) -> tuple[int, list[str]]:
        paths = [str(write(rec, self.root / f"record{i}.json")) for i, rec in enumerate(records)]
        before = tree_digest(self.board)
        code, lines, _ = check([*paths, "--board", str(self.board), "--data-root", str(self.data)], capsys)
        assert tree_digest(self.board) == before
        return code, lines


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Tiny:
    return Tiny(tmp_path_factory.mktemp("board_check"))


def scale_nrmse(section: dict, factor: float) -> None:
    """Every nRMSE figure in ``section`` (overall, per channel, per step, per sample) times ``factor``."""
    for key, value in section.items():
        if key == "nrmse":
            section[key] = [v * factor for v in value] if isinstance(value, list) else value * factor
        elif isinstance(value, dict):
            scale_nrmse(value, factor)


def test_record_with_its_files_here_is_rescored(tiny, capsys):
    code, lines = tiny.check([tiny.record], capsys)
    assert code == 0, lines
    assert steps_of(lines) == [("ok", name) for name in STEP_NAMES]
    assert "re-scored 3 seed(s) on the official split" in lines[STEP_NAMES.index("re-score")]


def test_consistently_forged_record_fails_at_rescore(tiny, capsys):
    forged = copy.deepcopy(tiny.record)
    for seed in forged["seeds"]:  # a careful forger scales every nRMSE figure alike, so that they agree
        scale_nrmse(seed["metrics"]["steady"], 0.9)
    forged["aggregate"] = aggregate(forged["seeds"])
    assert consistency_errors(forged) == []
    code, lines = tiny.check([forged], capsys)
    assert code == 1
    assert steps_of(lines)[-2:] == [("ok", "clash"), ("FAIL", "re-score")]
    assert "differ from a re-score beyond rtol 0.001" in lines[-1] and "seeds[0].metrics.steady.overall.nrmse" in lines[-1]


def test_records_of_one_pull_request_must_not_clash_with_each_other(tiny, capsys):
    again = copy.deepcopy(tiny.record)
    again["solver"]["name"] = "scaled-v2"
    code, lines = tiny.check([tiny.record, again], capsys)
    assert code == 1
    assert steps_of(lines)[:len(STEP_NAMES)] == [("ok", name) for name in STEP_NAMES]
    assert steps_of(lines)[-1] == ("FAIL", "clash") and "already belongs to" in lines[-1]


# ------------------------------------------------------------------------------------------
# the pull-request workflow
# ------------------------------------------------------------------------------------------
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def check_step(flow: dict) -> dict:
    (step,) = [s for s in flow["jobs"]["check"]["steps"] if "pdebench-x board check" in s.get("run", "")]
    return step


def test_workflow_triggers_on_submissions_and_installs_the_package():
    flow = workflow()
    triggers = flow.get("on", flow.get(True))  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"pull_request"}
    assert "leaderboard/submissions/**" in triggers["pull_request"]["paths"]
    steps = flow["jobs"]["check"]["steps"]
    assert any(s.get("uses", "").startswith("actions/checkout@") and s["with"]["fetch-depth"] == 0 for s in steps)
    (python,) = [s for s in steps if s.get("uses", "").startswith("actions/setup-python@")]
    assert str(python["with"]["python-version"]) == "3.11"
    install = [shlex.split(line) for s in steps for line in s.get("run", "").splitlines() if line.startswith("pip ")]
    assert install == [["pip", "install", "torch==2.13.0", "--index-url", "https://download.pytorch.org/whl/cpu"],
                       ["pip", "install", "-e", "."]]
    assert check_step(flow)["env"]["BASE_SHA"] == "${{ github.event.pull_request.base.sha }}"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=test", "-c", "user.email=test@example.org", "-c",
                           "commit.gpgsign=false", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_workflow_script_checks_what_the_pull_request_adds(tmp_path):
    """The check step's script, run as GitHub runs it (`shell: bash`), on a repository whose pull
    request adds an honest record and a hand-edited one and removes a third."""
    shipped_before = tree_digest(SHIPPED)
    repo, bin_dir = tmp_path / "repo", tmp_path / "bin"
    board = repo / "leaderboard"
    added = {"darcy_small__fno": elsewhere(shipped("darcy_small__fno")), "ns_small__unet": shipped("ns_small__unet")}
    added["ns_small__unet"]["seeds"][1]["metrics"]["rollout"]["overall"]["nrmse"] *= 1.5
    shutil.copytree(store.fingerprints_dir(SHIPPED), store.fingerprints_dir(board))
    shutil.copytree(store.submissions_dir(SHIPPED), store.submissions_dir(board),
                    ignore=shutil.ignore_patterns(*(f"{name}.json" for name in added)))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    base = git(repo, "rev-parse", "HEAD")
    for name, record in added.items():
        write(record, store.submissions_dir(board) / f"{name}.json")
    (store.submissions_dir(board) / "ns_small__pig.json").unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "submission")

    bin_dir.mkdir()  # `pdebench-x` of this checkout, as `pip install -e .` provides it on the runner
    shim = bin_dir / "pdebench-x"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m pdebench_x "$@"\n')
    shim.chmod(0o755)
    summary = tmp_path / "summary.md"
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(REPO),
           "PDEBENCH_X_BOARD": str(board), "PDEBENCH_X_DATA": str(tmp_path / "data"), "BASE_SHA": base,
           "GITHUB_STEP_SUMMARY": str(summary)}
    step = check_step(workflow())
    assert step["shell"] == "bash"
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=repo,
                          env=env, capture_output=True, text=True, timeout=300)
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "leaderboard/submissions/darcy_small__fno.json:" in out
    assert "leaderboard/submissions/ns_small__unet.json:" in out
    assert "ns_small__pig" not in out  # a removal is not checked
    assert "ok: build" in out and "FAIL: consistency: $.seeds[1].metrics.rollout.overall.nrmse" in out
    assert "1 of 2 record(s) failed: leaderboard/submissions/ns_small__unet.json (step consistency)" in out
    assert out in summary.read_text()
    assert tree_digest(SHIPPED) == shipped_before
