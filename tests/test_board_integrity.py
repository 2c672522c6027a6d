"""Issue 14: records that do not add up, files scored twice, unreadable inputs.

Hand-edited figures (one metric scaled, its per-channel, per-step and relative-L2 companions
left), a record re-submitted under a new name with the same files, three seeds that are one
predictions file, predictions arrays of the wrong dtype and garbage checkpoints are refused
with a message naming the check, and nothing is written. Records with nothing to re-score are
marked "unverified" on the board.

Records come from test_leaderboard's tiny Darcy split (fingerprinted here, no training: the
record is scored from predictions files) and from the shipped board (real checkpoint records),
copied to a temporary directory: the repository's leaderboard/ is never written.
"""
from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from test_leaderboard import DATA, REPO, Env, _test_targets, board_files, compose_cfg

from pdebench_x.cli import main
from pdebench_x.leaderboard import board as board_mod
from pdebench_x.leaderboard import fingerprint as fpm
from pdebench_x.leaderboard import scoring, store
from pdebench_x.leaderboard.board.tables import unverified
from pdebench_x.leaderboard.scoring import predictions
from pdebench_x.leaderboard.scoring.provenance import sha256_file
from pdebench_x.leaderboard.scoring.records import aggregate, instances_block
from pdebench_x.leaderboard.checks import NON_MEAN_METRICS, consistency_errors
from pdebench_x.leaderboard.schema import RecordError, dump_record, validate_record
from pdebench_x.evaluation.metrics import AGGREGATION

SHIPPED = REPO / "leaderboard"
SCALES = (1.05, 1.1, 0.8)   # prediction = scale * target, one per seed: distinct nRMSE per seed

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Tiny:
    """The tiny Darcy split fingerprinted on a temporary board, and a record scored from three
    predictions files (no checkpoint, no training)."""

    fps = Env.fps
    fresh_board = Env.fresh_board

    def __init__(self, root: Path) -> None:
        self.root, self.data, self.board = root, root / "data", root / "board"
        self.fp = fpm.make_fingerprint(compose_cfg(DATA, self.data).data, self.data, progress=False, zero_shot=False)
        fpm.write_fingerprint(self.fp, self.fps)
        self.y = _test_targets(self).astype(np.float64)
        self.files = self.predictions("ok", {i: self.y * s for i, s in enumerate(SCALES)})
        self.record = scoring.score_predictions(self.files, self.fps, self.data, solver_name="scaled")

    def predictions(self, name: str, by_seed: dict[int, np.ndarray]) -> list[Path]:
        return [scoring.write_predictions(self.root / f"{name}{seed}.h5", self.fp["dataset"], name, seed, {"u": u})
                for seed, u in by_seed.items()]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, one_torch_thread) -> Tiny:
    return Tiny(tmp_path_factory.mktemp("integrity"))


@pytest.fixture
def shipped_board(tmp_path) -> Path:
    """A copy of the shipped board (fingerprints, submissions, README.md, index.html)."""
    if not list(store.submissions_dir(SHIPPED).glob("*.json")):
        pytest.skip("no records shipped")
    shutil.copytree(SHIPPED, tmp_path / "board", ignore=shutil.ignore_patterns("SUBMITTING.md"))
    return tmp_path / "board"


def shipped(name: str) -> dict:
    return json.loads((store.submissions_dir(SHIPPED) / f"{name}.json").read_text())


def refused(record: dict, board: Path, match: str, error=RecordError) -> str:
    """add_record refuses ``record`` with a message matching ``match``; the board is unchanged."""
    before = board_files(board)
    with pytest.raises(error, match=match) as err:
        store.add_record(record, board)
    assert board_files(board) == before
    return str(err.value)


def cli(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


# ------------------------------------------------------------------------------------------
# A (1): figures that do not add up
# ------------------------------------------------------------------------------------------
def test_scaled_seed_nrmse_with_recomputed_aggregate_is_refused(tiny, tmp_path):
    """The reported edit: every seed's overall nRMSE x 0.1, the aggregate recomputed, the
    per-channel, per-step and relative-L2 figures left as they were."""
    forged = copy.deepcopy(tiny.record)
    for seed in forged["seeds"]:
        seed["metrics"]["steady"]["overall"]["nrmse"] *= 0.1
    forged["aggregate"] = aggregate(forged["seeds"])
    message = refused(forged, tiny.fresh_board(tmp_path / "board"), "per_channel values give")
    for i in range(3):
        assert f"$.seeds[{i}].metrics.steady.overall.nrmse is " in message
    assert "but its per_step values give" in message and "the figures of a section must agree" in message


def _edit_step(rec):
    rec["seeds"][1]["metrics"]["steady"]["per_step"]["nrmse"][0] *= 2


def _edit_max_error(rec):
    rec["seeds"][0]["metrics"]["steady"]["overall"]["max_error"] *= 0.5
    rec["aggregate"] = aggregate(rec["seeds"])


def _edit_relative_l2(rec):
    """Every figure of relative_l2_fno consistent, but below nRMSE: impossible for one channel, one frame."""
    for seed in rec["seeds"]:
        section = seed["metrics"]["steady"]
        section["overall"]["relative_l2_fno"] = 0.5 * section["overall"]["nrmse"]
    rec["aggregate"] = aggregate(rec["seeds"])


def _edit_k_section(rec, fp):
    """A seed's K-instance nRMSE halved, the record's K-instance aggregate recomputed from it."""
    for seed in rec["seeds"]:
        section = seed["instances"]["metrics"]["steady"]
        section["overall"]["nrmse"] *= 0.5
        section["per_channel"]["u"]["nrmse"] *= 0.5
        section["per_step"]["nrmse"][0] *= 0.5
    block = rec["instances"]
    rec["instances"] = instances_block(rec["seeds"], fp, (block["k"], block["seed"]))


@pytest.mark.parametrize("edit, match", [
    (_edit_step, r"\$\.seeds\[1\]\.metrics\.steady\.overall\.nrmse is .* but its per_step values give"),
    (_edit_max_error, r"\$\.seeds\[0\]\.metrics\.steady\.overall\.max_error is .* but its per_channel values give"),
    (_edit_relative_l2, r"\$\.seeds\[0\]\.metrics\.steady\.overall\.relative_l2_fno is .*, below its nrmse"),
    (lambda r: r["aggregate"]["per_step"]["nrmse"][0].update(mean=0.01),
     r"\$\.aggregate\.per_step\.nrmse\[0\]\.mean is 0\.01 but the seeds give"),
    (lambda r: r["aggregate"]["overall"]["rmse"].update(min=0.0),
     r"\$\.aggregate\.overall\.rmse\.min is 0\.0 but the seeds give"),
    (_edit_k_section, r"\$\.seeds\[0\]\.instances\.metrics\.steady\.overall\.nrmse is .* but its per_instance "
                      r"values give"),
])
def test_each_identity_catches_an_edit_of_one_figure(tiny, tmp_path, edit, match):
    forged = copy.deepcopy(tiny.record)
    edit(forged, tiny.fp) if edit is _edit_k_section else edit(forged)
    with pytest.raises(RecordError, match=match):
        validate_record(forged)
    refused(forged, tiny.fresh_board(tmp_path / "board"), match)


def test_edited_zero_shot_aggregate_refused(shipped_board):
    rec = shipped("darcy_small__fno")
    rec["solver"]["name"] = "fno-edited"
    rec["zero_shot"]["aggregate"]["overall"]["nrmse"]["mean"] *= 0.5
    refused(rec, shipped_board, r"\$\.zero_shot\.aggregate\.overall\.nrmse\.mean is .* but the seeds give")


def test_every_record_the_scorer_wrote_passes_the_identities(tiny):
    """The identities hold for what the scorer produces: the shipped records (checkpoints,
    per-instance runs, N/A; steady one-channel, rollout one- and three-channel) and the tiny
    predictions record."""
    records = [r for _, r in store.load_board(SHIPPED)] + [tiny.record]
    assert len(records) > 1
    for rec in records:
        assert consistency_errors(json.loads(dump_record(rec))) == [], rec["solver"]["name"]


def test_how_overall_values_follow_from_their_parts_matches_the_metrics():
    """schema repeats (without torch) which metrics are not plain means: it must agree with metrics.AGGREGATION."""
    assert NON_MEAN_METRICS == {name: how for name, how in AGGREGATION.items() if how != "mean"}


def test_inconsistent_record_on_the_board_stops_validate_and_build(shipped_board, capsys):
    bad = shipped("darcy_small__fno")
    bad["solver"]["name"] = "fno-scaled"
    for seed in bad["seeds"]:
        seed["metrics"]["steady"]["overall"]["nrmse"] *= 0.1
        seed.pop("checkpoint_sha256")   # not the file-reuse check: the figures alone
    bad["aggregate"] = aggregate(bad["seeds"])
    (store.submissions_dir(shipped_board) / "darcy_small__fno-scaled.json").write_text(json.dumps(bad))
    before = board_files(shipped_board)
    for action in ("validate", "build"):
        code, err = cli(["board", action, "--board", str(shipped_board)], capsys)
        assert code == 2 and "darcy_small__fno-scaled.json" in err and "per_channel values give" in err
    assert board_files(shipped_board) == before   # README.md and index.html not rebuilt


# ------------------------------------------------------------------------------------------
# A (2): the same files under another solver name
# ------------------------------------------------------------------------------------------
def test_shipped_record_resubmitted_under_a_new_name_refused(shipped_board, tmp_path, capsys):
    again = shipped("darcy_small__fno")
    again["solver"]["name"] = "my-new-solver"
    message = refused(again, shipped_board, "scored from files of a record already on the board",
                      store.DuplicateSubmission)
    assert "seeds[0].checkpoint_sha256 " in message and "already belongs to darcy_small__fno.json (solver 'fno'" in message
    assert "nothing was written" in message
    path = tmp_path / "again.json"
    path.write_text(dump_record(again))
    before = board_files(shipped_board)
    code, err = cli(["board", "add", str(path), "--board", str(shipped_board)], capsys)
    assert code == 2 and "already belongs to darcy_small__fno.json" in err
    assert board_files(shipped_board) == before


def test_predictions_resubmitted_under_a_new_name_refused(tiny, tmp_path):
    board = tiny.fresh_board(tmp_path / "board")
    store.add_record(tiny.record, board)
    again = copy.deepcopy(tiny.record)
    again["solver"]["name"] = "renamed"
    message = refused(again, board, "already belongs to", store.DuplicateSubmission)
    for i in range(3):
        assert f"seeds[{i}].predictions_sha256 " in message


def test_board_holding_one_record_twice_stops_validate_and_build(shipped_board, capsys):
    twin = shipped("ns_small__unet")
    twin["solver"]["name"] = "unet-twin"
    (store.submissions_dir(shipped_board) / "ns_small__unet-twin.json").write_text(dump_record(twin))
    before = board_files(shipped_board)
    for action in ("validate", "build"):
        code, err = cli(["board", action, "--board", str(shipped_board)], capsys)
        assert code == 2
        assert "ns_small__unet.json: seeds[0].checkpoint_sha256" in err or \
               "ns_small__unet-twin.json: seeds[0].checkpoint_sha256" in err
    assert board_files(shipped_board) == before


# ------------------------------------------------------------------------------------------
# A (3): one predictions file as three seeds
# ------------------------------------------------------------------------------------------
def test_one_predictions_file_copied_as_three_seeds_refused(tiny, tmp_path, capsys):
    """Three copies of one file, each with its own seed attribute (so the hashes differ): the
    metrics are identical, std ~ 0."""
    files = tiny.predictions("copied", {seed: tiny.y * 1.1 for seed in (0, 1, 2)})
    assert len({sha256_file(f) for f in files}) == 3
    with pytest.raises(RecordError, match=r"\$\.seeds\[1\] and \$\.seeds\[0\] have identical overall metrics"):
        scoring.score_predictions(files, tiny.fps, tiny.data)
    board = tiny.fresh_board(tmp_path / "board")
    before = board_files(board)
    code, err = cli(["score", "--predictions", *map(str, files), "--board", str(board), "--data-root", str(tiny.data)],
                    capsys)
    assert code == 2 and "$.seeds[2] and $.seeds[0] have identical overall metrics" in err
    assert board_files(board) == before


def test_seeds_sharing_a_file_hash_refused(tiny, tmp_path):
    forged = copy.deepcopy(tiny.record)
    forged["seeds"][2]["predictions_sha256"] = forged["seeds"][0]["predictions_sha256"]
    refused(forged, tiny.fresh_board(tmp_path / "board"),
            r"\$\.seeds\[2\] and \$\.seeds\[0\] have the same predictions_sha256")


# ------------------------------------------------------------------------------------------
# the board marks records with nothing to re-score
# ------------------------------------------------------------------------------------------
def test_records_linking_no_files_are_marked_unverified(tiny, tmp_path):
    board = tiny.fresh_board(tmp_path / "board")
    store.add_record(tiny.record, board)
    bare = copy.deepcopy(tiny.record)
    bare["solver"]["name"] = "bare"
    for seed in bare["seeds"]:
        seed["predictions_sha256"] = seed["checkpoint"] = None
    store.add_record(bare, board)
    board_mod.build(board)
    rows = {line.split(" | ")[1]: line for line in (board / "README.md").read_text().splitlines()
            if line.startswith("| ") and " | " in line}
    assert "**unverified**: " in rows["bare"] and "unverified" not in rows["scaled"]
    table = (board / "index.html").read_text().split(f'id="table-{tiny.fp["dataset"]}"')[1]
    row = {name: table.split(f'data-solver="{name}">')[1].split("</tr>")[0] for name in ("bare", "scaled")}
    assert 'class="unverified"' in row["bare"] and "unverified" not in row["scaled"]


def test_which_shipped_records_are_unverified():
    marked = {n: unverified(shipped(n)) for n in ("darcy_small__fno", "darcy_small__pinn",
                                                 "darcy_small__lpinn")}
    assert marked == {"darcy_small__fno": False,      # checkpoints linked: --verify re-scores them
                      "darcy_small__pinn": True,      # a per-instance run: nothing to re-score
                      "darcy_small__lpinn": False}    # not applicable: no figures


# ------------------------------------------------------------------------------------------
# B: predictions of the wrong dtype
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int32", "bool", "complex64", "S3"])
def test_predictions_of_a_wrong_dtype_refused_before_scoring(tiny, tmp_path, monkeypatch, capsys, dtype):
    bad = np.full(tiny.y.shape, b"abc") if dtype == "S3" else (tiny.y * 1000).astype(dtype)
    files = tiny.predictions(f"dt_{dtype}_", {0: tiny.y * 1.1, 1: tiny.y * 0.9, 2: bad})
    want = f"{files[2]}: /predictions/u has dtype {np.dtype(dtype)}; predictions must be real floating point " \
           "(float16, float32, float64)"

    def no_scoring(*args, **kwargs):
        raise AssertionError("a file was scored before every file's dtype was checked")

    monkeypatch.setattr(predictions, "_expected_targets", no_scoring)
    with pytest.raises(scoring.ScoringError) as err:
        predictions.score_predictions_file(files[2], tiny.fp, tiny.data)
    assert str(err.value).startswith(want)
    board = tiny.fresh_board(tmp_path / "board")
    before = board_files(board)
    code, err = cli(["score", "--predictions", *map(str, files), "--board", str(board), "--data-root", str(tiny.data)],
                    capsys)
    assert code == 2 and err.startswith(f"error: {want}") and err.count("\n") == 1   # one line, no traceback
    assert board_files(board) == before


# ------------------------------------------------------------------------------------------
# C: files that are not checkpoints
# ------------------------------------------------------------------------------------------
def _garbage(path: Path, kind: str) -> Path:
    if kind == "random":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 2000, dtype=np.uint8).tobytes())
    elif kind == "text":
        path.write_text("hello\n")
    elif kind == "empty":
        path.write_bytes(b"")
    else:
        torch.save({"weights": torch.zeros(2)}, path)   # a torch file, but no Lightning state_dict
    return path


@pytest.mark.parametrize("kind", ["random", "text", "empty", "no_state_dict"])
def test_garbage_checkpoint_gets_our_message_not_torchs(tiny, tmp_path, capsys, kind):
    runs = [_garbage(tmp_path / f"{kind}{i}.ckpt", kind) for i in range(3)]
    board = tiny.fresh_board(tmp_path / "board")
    before = board_files(board)
    code, err = cli(["score", f"run={','.join(map(str, runs))}", f"dataset={tiny.fp['dataset']}",
                     "--board", str(board), "--data-root", str(tiny.data)], capsys)
    assert code == 2
    assert err.startswith(f"error: {runs[0]} cannot be read as a checkpoint (") and err.count("\n") == 1
    assert "give a .ckpt written by train.py" in err and "weights_only" not in err
    assert board_files(board) == before
