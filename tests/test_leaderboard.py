"""Scorer, fingerprints, records, submissions and board rendering.

Everything runs on a tiny Darcy dataset (8 train / 4 valid / 4 test samples at 16x16, the
zero-shot split at 32x32, K = 2 of the 4 test samples for the K-instance section) generated
under a temporary root, three one-epoch trainings of a tiny FNO (seeds 0, 1, 2) made once per
module, and (per-instance solvers) a 3-iteration PINN run and an LPINN run that stops as not
applicable; the board lives in a temporary directory, so the repository's leaderboard/ is
never touched.
"""
from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from conftest import CONF_DIR
from pdebench_x.core.files import METRICS_FILE
from pdebench_x.leaderboard import board as board_mod
from pdebench_x.leaderboard import fingerprint as fpm
from pdebench_x.leaderboard import scoring, store
from pdebench_x.leaderboard.board.formatting import fmt, fmt_drift
from pdebench_x.leaderboard.board.pages import render_html, render_markdown
from pdebench_x.leaderboard.board.tables import make_rows, rank_rows, summary_rows
from pdebench_x.leaderboard.scoring.checkpoints import load_task
from pdebench_x.leaderboard.scoring.predictions import score_predictions_file
from pdebench_x.leaderboard.scoring.provenance import sha256_file
from pdebench_x.leaderboard.scoring.records import aggregate, instances_block, long_horizon_block
from pdebench_x.leaderboard.scoring.runs import wandb_run_path
from pdebench_x.leaderboard.schema import RecordError, dump_record, load_schema, schema_errors, validate_record
from pdebench_x.leaderboard.statistics import mean_std

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
DATA = ["data.sizes.train=8", "data.sizes.valid=4", "data.sizes.test=4", "data.generator.resolution=16",
        "data.batch_size=4", "data.n_instances=2"]
TINY_PINN = ["model=pinn", "model.net.width=8", "model.net.depth=1", "model.fit.collocation=64",
             "model.fit.optimizers=[{name: adam, iterations: 3, lr: 1.0e-3}]"]
TRAIN = ["model=fno", "model.net.n_modes=[4,4]", "model.net.hidden_channels=8", "model.net.n_layers=2",
         "trainer.max_epochs=1", "trainer.enable_progress_bar=false", "trainer.log_every_n_steps=1", "~logger"]
ZERO_SHOT = {"resolution": 32}


def compose_cfg(overrides, data_dir, output_dir=None, searchpath: Path | None = None):
    overrides = list(overrides) + [f"paths.data_dir={data_dir}"]
    if output_dir is not None:
        overrides.append(f"paths.output_dir={output_dir}")
    if searchpath is not None:
        overrides.append(f"hydra.searchpath=[file://{searchpath}]")
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="train", overrides=overrides)


def train_seeds(overrides, data_dir, out_dir: Path, seeds=(0, 1, 2), searchpath=None) -> list[Path]:
    from pdebench_x.training.run import run_training
    runs = []
    for seed in seeds:
        cfg = compose_cfg(list(overrides) + [f"seed={seed}"], data_dir, out_dir, searchpath)
        run_dir = out_dir / f"{cfg.model.name}_seed{seed}"
        run_training(cfg, run_dir)
        runs.append(run_dir)
    return runs


class Env:
    """The module's shared state: data root, board directory, fingerprint, trained runs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.board = root / "board"
        cfg = compose_cfg(DATA, self.data)
        self.data_cfg = cfg.data
        self.fp = fpm.make_fingerprint(cfg.data, self.data, progress=False, zero_shot_overrides=ZERO_SHOT)
        fpm.write_fingerprint(self.fp, store.fingerprints_dir(self.board))
        self.runs = train_seeds(DATA + TRAIN, self.data, root / "out")
        self.record = scoring.score_runs(self.runs, self.fps, self.data, solver_name="fno-tiny")

    @property
    def fps(self) -> Path:
        return store.fingerprints_dir(self.board)

    def fresh_board(self, path: Path) -> Path:
        """An empty board with the shipped fingerprints (for tests that add records)."""
        shutil.copytree(self.fps, store.fingerprints_dir(path))
        return path


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def env(tmp_path_factory, one_torch_thread) -> Env:
    return Env(tmp_path_factory.mktemp("lb"))


def board_files(board: Path) -> dict[str, bytes]:
    return {str(p.relative_to(board)): p.read_bytes() for p in sorted(board.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------------
# fingerprints
# ------------------------------------------------------------------------------------------
def test_fingerprint_content_and_measured_tolerance(env):
    t = env.fp["test"]
    assert t["n_samples"] == 4 and t["spatial_shape"] == [16, 16]
    assert t["input_channels"] == ["a"] and t["target_channels"] == ["u"]
    assert len(t["inputs_sha256_per_sample"]) == 4 and len(set(t["inputs_sha256_per_sample"])) == 4
    # float64 solution vs its float32 storage: round-off level, and the tolerance follows the rule
    tol = t["tolerance"]
    assert 0 < tol["measured"] < 1e-6
    assert tol["rtol"] == pytest.approx(max(fpm.SAFETY * tol["measured"], fpm.FLOOR))
    assert env.fp["zero_shot"]["spatial_shape"] == [32, 32]
    assert fpm.load_fingerprint(env.fps, env.fp["dataset"])["id"] == env.fp["id"]


def test_regeneration_elsewhere_matches_and_other_split_does_not(env, tmp_path):
    # Another machine: regenerate the official split from scratch under another root.
    plan = fpm.plan_of(env.fp, tmp_path)
    path = fpm.ensure_test_split(plan, progress=False)
    assert path != fpm.plan_of(env.fp, env.data).split_path("test")
    fpm.check_split(path, env.fp, "test", tmp_path)
    # A different seed: every input differs, and the mismatch says so.
    other = compose_cfg(DATA + ["data.seed=7"], tmp_path).data
    from pdebench_x.data.build import plan_from_config
    oplan = plan_from_config(other, tmp_path)
    opath = fpm.ensure_test_split(oplan, progress=False)
    with pytest.raises(fpm.FingerprintMismatch, match="seed: local 7, official 0"):
        fpm.check_split(opath, env.fp, "test", tmp_path)


def _copy_split(env, dest: Path) -> Path:
    src = fpm.plan_of(env.fp, env.data).split_path("test")
    dst = fpm.plan_of(env.fp, dest).split_path("test")
    dst.parent.mkdir(parents=True)
    shutil.copy(src, dst)
    return dst


def test_altered_targets_and_inputs_are_refused_with_what_differs(env, tmp_path):
    path = _copy_split(env, tmp_path)
    with h5py.File(path, "r+") as f:
        f["t0_fields/u"][2] *= 1.001   # 1e-3 relative: far above round-off, far below visual
    with pytest.raises(fpm.FingerprintMismatch, match=r"target statistics differ.*sample 2"):
        fpm.check_split(path, env.fp, "test", tmp_path)
    with h5py.File(path, "r+") as f:
        f["t0_fields/u"][2] /= 1.001
        a = f["t0_fields/a"][1]
        a[0, 0] = 3.0 if a[0, 0] != 3.0 else 12.0
        f["t0_fields/a"][1] = a
    with pytest.raises(fpm.FingerprintMismatch, match=r"inputs of 1 of 4 samples differ.*\[1\]"):
        fpm.check_split(path, env.fp, "test", tmp_path)


def test_edited_fingerprint_file_is_refused(env, tmp_path):
    fp = copy.deepcopy(env.fp)
    fp["test"]["tolerance"]["rtol"] = 1.0
    (tmp_path / f"{fp['dataset']}.json").write_text(json.dumps(fp))
    with pytest.raises(fpm.FingerprintMismatch, match="edited"):
        fpm.load_fingerprint(tmp_path, fp["dataset"])
    with pytest.raises(fpm.FingerprintMissing, match="no fingerprint for dataset 'nope'"):
        fpm.load_fingerprint(tmp_path, "nope")



def test_trained_horizon_is_the_official_splits_last_time_and_the_long_splits_run_10x_past_it():
    """The horizon models are trained to, read from each shipped fingerprint's plan (nothing generated):
    ns_small to t = 20, swe_small to t = 1, Darcy is steady; each long-horizon split ends at 10x it,
    as its shift text says. A record whose long-horizon section names another horizon is refused."""
    fps = store.fingerprints_dir(REPO / "leaderboard")
    want = {"ns_small": 20.0, "swe_small": 1.0, "darcy_small": None}
    for name, until in want.items():
        fp = fpm.load_fingerprint(fps, name)
        assert fpm.trained_horizon(fp) == until
        long = fpm.load_track(fps, name, "long")
        if until is not None:
            assert fpm.trained_horizon(long) == 10 * until and "10x" in long["track"]["shift"]
    record = json.loads((store.submissions_dir(REPO / "leaderboard") / "ns_small__fno.json").read_text())
    assert record["long_horizon"]["trained_until"] == 20.0          # as the scorer wrote it
    store.check_fingerprint(record, fps)
    record["long_horizon"]["trained_until"] = 5.0
    with pytest.raises(fpm.FingerprintMismatch, match="trained to t = 5, but the official ns_small split ends at t = 20"):
        store.check_fingerprint(record, fps)
    # scores made on another long-horizon (or OOD) split than the board's are refused, as the main split's
    for track, section in fpm.TRACK_SECTIONS.items():
        stale = copy.deepcopy(record)
        stale["long_horizon"]["trained_until"] = 20.0
        stale[section]["fingerprint"] = "0" * 64
        with pytest.raises(fpm.FingerprintMismatch, match=f"{section} scores of fno refer to a {track} split with "
                                                          "fingerprint 000000000000.*re-score"):
            store.check_fingerprint(stale, fps)


# ------------------------------------------------------------------------------------------
# scoring checkpoints
# ------------------------------------------------------------------------------------------
def test_rescore_reproduces_training_test_metrics(env):
    """The tiny dataset's test split is the fingerprinted one: the scorer must give the
    numbers training's own final test wrote to metrics.json."""
    for run, seed in zip(env.runs, env.record["seeds"]):
        trained = json.loads((run / METRICS_FILE).read_text())["metrics"]["steady"]["overall"]
        rescored = seed["metrics"]["steady"]["overall"]
        for name, value in trained.items():
            if value is None:
                assert rescored[name] is None
            else:
                assert rescored[name] == pytest.approx(value, rel=1e-6, abs=1e-12), name
        assert seed["checkpoint_sha256"] == sha256_file(seed["checkpoint"])
        assert seed["zero_shot"]["n_samples"] == 4


def test_mean_std_is_sample_statistics():
    assert mean_std([1.0, 2.0, 3.0]) == {"mean": 2.0, "std": 1.0, "min": 1.0, "max": 3.0, "n": 3}
    assert mean_std([None, 4.0]) == {"mean": 4.0, "std": 0.0, "min": 4.0, "max": 4.0, "n": 1}
    assert mean_std([None])["mean"] is None


def test_record_aggregates_seeds(env):
    rec = env.record
    assert [s["seed"] for s in rec["seeds"]] == [0, 1, 2]
    values = [s["metrics"]["steady"]["overall"]["nrmse"] for s in rec["seeds"]]
    agg = rec["aggregate"]["overall"]["nrmse"]
    assert agg["mean"] == pytest.approx(np.mean(values), rel=1e-12)
    assert agg["std"] == pytest.approx(np.std(values, ddof=1), rel=1e-12)
    assert agg["n"] == 3 and len(set(values)) == 3          # seeds really differ
    zs = [s["zero_shot"]["overall"]["nrmse"] for s in rec["seeds"]]
    assert rec["zero_shot"]["aggregate"]["overall"]["nrmse"]["mean"] == pytest.approx(np.mean(zs))
    assert rec["zero_shot"]["resolution"] == 32
    assert rec["n_parameters"] > 0 and rec["train_seconds"] > 0 and rec["inference_seconds_per_sample"] > 0
    assert rec["solver"] == {"name": "fno-tiny", "model": "fno", "kind": "operator",
                             "paper": rec["solver"]["paper"], "code": "https://github.com/neuraloperator/neuraloperator",
                             "framework": "pdebench_x"}
    assert rec["environment"]["torch"] and rec["hardware"]["scoring"]["cpu_count"] >= 1
    assert rec["seeds"][0]["config"]["model"]["name"] == "fno"
    validate_record(json.loads(dump_record(rec)))  # survives the JSON round trip


def test_fewer_than_three_seeds_refused(env):
    with pytest.raises(scoring.ScoringError, match="at least 3 training seeds"):
        scoring.score_runs(env.runs[:2], env.fps, env.data)


def test_scoring_refuses_a_split_that_does_not_match(env, tmp_path):
    path = _copy_split(env, tmp_path)
    with h5py.File(path, "r+") as f:
        f["t0_fields/u"][0] *= 1.01
    board = env.fresh_board(tmp_path / "board")
    before = board_files(board)
    code = _cli(["score", *[f"run={r}" for r in env.runs], "--board", str(board), "--data-root", str(tmp_path)])
    assert code == 2
    assert board_files(board) == before


# ------------------------------------------------------------------------------------------
# record validation
# ------------------------------------------------------------------------------------------
def _expect_refused(env, tmp_path, record, match):
    board = env.fresh_board(tmp_path / "board")
    before = board_files(board)
    with pytest.raises(Exception, match=match):
        store.add_record(record, board)
    assert board_files(board) == before  # nothing written


def test_valid_record_is_added_once_and_never_overwritten(env, tmp_path):
    board = env.fresh_board(tmp_path / "board")
    path = store.add_record(env.record, board)
    original = path.read_bytes()
    again = copy.deepcopy(env.record)
    again["seeds"][0]["train_seconds"] = 1.0
    with pytest.raises(store.DuplicateSubmission, match="already has solver 'fno-tiny'"):
        store.add_record(again, board)
    again["solver"]["name"] = "FNO-tiny"  # case does not make a new name
    with pytest.raises(store.DuplicateSubmission):
        store.add_record(again, board)
    assert path.read_bytes() == original
    assert [p.name for p in store.submissions_dir(board).iterdir()] == [path.name]


def test_malformed_record_refused(env, tmp_path):
    rec = copy.deepcopy(env.record)
    del rec["solver"]["name"]
    rec["seeds"][1]["n_parameters"] = "many"
    with pytest.raises(RecordError) as err:
        validate_record(rec)
    assert "$.solver: missing required field 'name'" in str(err.value)
    assert "$.seeds[1].n_parameters: expected integer or null" in str(err.value)
    _expect_refused(env, tmp_path, rec, "missing required field")
    with pytest.raises(RecordError, match="not valid JSON"):
        from pdebench_x.leaderboard.schema import parse_record
        parse_record('{"schema_version": "1",')


def test_unknown_schema_version_refused(env, tmp_path):
    rec = copy.deepcopy(env.record)
    rec["schema_version"] = "99"
    _expect_refused(env, tmp_path, rec, r"unknown schema_version '99'.*reads \['1', '1.1', '2'\]")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.1])
def test_nan_and_negative_metrics_refused(env, tmp_path, bad):
    rec = copy.deepcopy(env.record)
    rec["seeds"][1]["metrics"]["steady"]["overall"]["rmse"] = bad
    match = "must be >= 0" if bad < 0 else "must be finite"
    with pytest.raises(RecordError, match=r"\$\.seeds\[1\]\.metrics\.steady\.overall\.rmse"):
        validate_record(rec)
    _expect_refused(env, tmp_path, rec, match)


def test_null_primary_metric_and_edited_aggregate_refused(env):
    rec = copy.deepcopy(env.record)
    rec["seeds"][0]["metrics"]["steady"]["overall"]["nrmse"] = None
    with pytest.raises(RecordError, match="primary metric nrmse is missing or null"):
        validate_record(rec)
    rec = copy.deepcopy(env.record)
    rec["aggregate"]["overall"]["nrmse"]["mean"] *= 0.5
    with pytest.raises(RecordError, match="aggregate must be computed from the per-seed values"):
        validate_record(rec)


def test_record_from_another_split_refused(env, tmp_path):
    rec = copy.deepcopy(env.record)
    rec["dataset"]["fingerprint"] = "0" * 64
    _expect_refused(env, tmp_path, rec, "scored on a test split with fingerprint 000000000000")


def test_schema_file_is_valid_json_schema_and_agrees_with_builtin_validator(env):
    import jsonschema  # a runtime dependency: this check never skips
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    good = json.loads(dump_record(env.record))
    bad = copy.deepcopy(good)
    bad["source"] = "somewhere"
    bad["dataset"]["kind"] = "wavy"
    for rec in (good, bad):
        assert (not list(validator.iter_errors(rec))) == (not schema_errors(rec, schema))
    assert len(schema_errors(bad, schema)) == 2
    # the seed count depends on the kind of solver: a check beside the schema
    few = copy.deepcopy(good)
    few["seeds"] = few["seeds"][:2]
    few["aggregate"] = aggregate(few["seeds"])
    few["instances"] = instances_block(few["seeds"], env.fp, (few["instances"]["k"], few["instances"]["seed"]))
    assert not schema_errors(few, schema)
    with pytest.raises(RecordError, match="2 seed\\(s\\); the board shows mean ± std over at least 3"):
        validate_record(few)


def test_schema_keywords_the_old_validator_ignored_are_enforced():
    """jsonschema applies every keyword of draft 2020-12: a ``maximum`` or ``uniqueItems`` in the
    schema (which the former hand-written validator skipped) is enforced, with the JSON path."""
    record = json.loads((REPO / "leaderboard" / "submissions" / "darcy_small__fno.json").read_text())
    schema = copy.deepcopy(load_schema())
    n_test = record["dataset"]["n_test_samples"]
    schema["properties"]["dataset"]["properties"]["n_test_samples"]["maximum"] = n_test - 1
    schema["properties"]["dataset"]["properties"]["target_channels"]["uniqueItems"] = True
    assert not schema_errors(record, load_schema())
    assert schema_errors(record, schema) == [f"$.dataset.n_test_samples: {n_test} is greater than the maximum of "
                                             f"{n_test - 1}"]
    record["dataset"]["target_channels"] *= 2
    assert schema_errors(record, schema)[-1].startswith("$.dataset.target_channels: ")
    assert "non-unique" in schema_errors(record, schema)[-1]
    # kept from the first record format: an integer field takes JSON integers only
    record["seeds"][0]["seed"] = 0.0
    assert "$.seeds[0].seed: expected integer, got float 0.0" in schema_errors(record, load_schema())


# ------------------------------------------------------------------------------------------
# --verify
# ------------------------------------------------------------------------------------------
def test_verify_accepts_honest_record_and_refuses_edited_one(env, tmp_path, capsys):
    scoring.verify_record(env.record, env.fps, env.data)
    forged = copy.deepcopy(env.record)
    for seed in forged["seeds"]:  # a careful forger edits every figure of nRMSE, so that they agree
        section = seed["metrics"]["steady"]
        section["overall"]["nrmse"] *= 0.9
        section["per_channel"]["u"]["nrmse"] *= 0.9
        section["per_step"]["nrmse"][0] *= 0.9
        section["per_sample"]["nrmse"] = [v * 0.9 for v in section["per_sample"]["nrmse"]]
    forged["aggregate"] = aggregate(forged["seeds"])  # and keeps the aggregate consistent
    validate_record(forged)
    board = env.fresh_board(tmp_path / "board")
    record_file = tmp_path / "forged.json"
    record_file.write_text(dump_record(forged))
    before = board_files(board)
    assert _cli(["board", "add", str(record_file), "--verify", "--board", str(board),
                 "--data-root", str(env.data)]) == 2
    err = capsys.readouterr().err
    assert "differ from a re-score beyond rtol 0.001" in err
    for i in range(3):
        assert f"seeds[{i}].metrics.steady.overall.nrmse" in err
    assert "seeds[0].metrics.steady.overall.rmse" not in err  # only what was changed
    assert board_files(board) == before


# ------------------------------------------------------------------------------------------
# bring your own predictions
# ------------------------------------------------------------------------------------------
def _test_targets(env) -> np.ndarray:
    path = fpm.plan_of(env.fp, env.data).split_path("test")
    with h5py.File(path, "r") as f:
        return f["t0_fields/u"][()][:, None]  # [N, T=1, X, Y]


def test_predictions_scored_like_the_metrics_say(env, tmp_path):
    y = _test_targets(env).astype(np.float64)
    files = []
    for seed, scale in enumerate((1.0, 1.1, 0.8)):
        files.append(scoring.write_predictions(tmp_path / f"p{seed}.h5", env.fp["dataset"], "scaled", seed,
                                               {"u": y * scale}, framework="numpy"))
    rec = scoring.score_predictions(files, env.fps, env.data)
    # u = s y: nRMSE = rms(u - y) / (rms(y) + eps) = |s - 1| rms(y) / (rms(y) + eps) per sample
    rms = np.sqrt((y ** 2).mean(axis=(1, 2, 3)))
    want = [float(np.mean(abs(s - 1) * rms / (rms + 1e-7))) for s in (1.0, 1.1, 0.8)]
    got = [s["metrics"]["steady"]["overall"]["nrmse"] for s in rec["seeds"]]
    assert got == pytest.approx(want, rel=1e-9, abs=1e-15)
    assert want[1] == pytest.approx(0.1, rel=1e-3)
    assert rec["source"] == "predictions" and rec["solver"]["kind"] == "external"
    assert rec["n_parameters"] is None and rec["zero_shot"] is None
    board = env.fresh_board(tmp_path / "board")
    store.add_record(rec, board)
    board_mod.build(board)
    assert "scaled" in (board / "README.md").read_text()


@pytest.mark.parametrize("defect, match", [
    ("shape", r"/predictions/u has shape \[4, 1, 8, 8\], expected \[N, T, X, Y\] = \[4, 1, 16, 16\]"),
    ("name", r"field names \['p'\] do not match the targets \['u'\] \(missing \['u'\]\) \(unexpected \['p'\]\)"),
    ("order", r"/sample_index must be 0..3 in order .* got \[1, 0, 2, 3\]"),
    ("dataset", r"attribute dataset is 'darcy_other', expected"),
    ("nan", r"NaN or infinite values \(samples \[2\]"),
])
def test_bad_predictions_file_refused_clearly(env, tmp_path, defect, match):
    y = _test_targets(env)
    preds, dataset = {"u": y.copy()}, env.fp["dataset"]
    if defect == "shape":
        preds = {"u": y[..., ::2, ::2]}
    elif defect == "name":
        preds = {"p": y}
    elif defect == "nan":
        preds["u"][2, 0, 3, 3] = np.nan
    elif defect == "dataset":
        dataset = "darcy_other"
    path = scoring.write_predictions(tmp_path / "p.h5", dataset, "bad", 0, preds)
    if defect == "order":
        with h5py.File(path, "r+") as f:
            f["sample_index"][...] = [1, 0, 2, 3]
    with pytest.raises(scoring.ScoringError, match=match):
        score_predictions_file(path, env.fp, env.data)


# ------------------------------------------------------------------------------------------
# board rendering
# ------------------------------------------------------------------------------------------
def _row(solver, mean, std):
    return {"solver": solver, "mean": mean, "std": std}


def test_ranking_and_ties_within_one_std():
    rows = rank_rows([_row("c", 0.30, 0.01), _row("a", 0.10, 0.02), _row("b", 0.11, 0.005),
                      _row("d", 0.125, 0.001)])
    assert [(r["solver"], r["rank"], r["tied"]) for r in rows] == [
        ("a", 1, True), ("b", 1, True), ("d", 3, False), ("c", 4, False)]
    # d is within one std of b but not of the group leader a: ties do not chain.


def test_paired_ranking_sees_a_consistent_shift_and_ties_identical_solvers():
    """Issue 18: per-sample errors differing by a constant shift far below their spread rank as
    different when paired by test sample (the one-std rule would tie them); identical ones tie."""
    from pdebench_x.leaderboard.statistics import bootstrap_interval
    rng = np.random.default_rng(0)
    base = rng.lognormal(mean=-1.5, sigma=0.6, size=25)             # spread ~0.1 between samples
    rows = [{**_row("a", base.mean(), 0.02), "sample_errors": base},
            {**_row("b", base.mean() + 1e-3, 0.02), "sample_errors": base + 1e-3},
            {**_row("c", base.mean() + 1e-3, 0.02), "sample_errors": base + 1e-3}]
    ranked = rank_rows(rows)
    assert [(r["solver"], r["rank"], r["tied"], r["tie_rule"]) for r in ranked] == [
        ("a", 1, False, "paired"), ("b", 2, True, "paired"), ("c", 2, True, "paired")]
    assert ranked[1]["p_previous"] < 1e-4 and ranked[2]["p_previous"] == 1.0
    # without per-sample errors the same means and stds tie all three (0.001 apart, std 0.02)
    old = rank_rows([_row("a", base.mean(), 0.02), _row("b", base.mean() + 1e-3, 0.02)])
    assert [r["rank"] for r in old] == [1, 1] and old[0]["tie_rule"] == "std"
    from pdebench_x.leaderboard.statistics import holm
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])   # step-down, monotone
    # the bootstrap interval holds the mean and narrows with more samples
    matrix = np.stack([base, base * 1.1, base * 0.9])
    lo, hi = bootstrap_interval(matrix)
    assert lo < matrix.mean() < hi
    wide = hi - lo
    lo, hi = bootstrap_interval(np.tile(matrix, 4))
    assert hi - lo < 0.7 * wide


def _synthetic(env, solver, dataset, nrmse_by_seed, steps=1):
    rec = copy.deepcopy(env.record)
    rec["solver"]["name"] = solver
    rec["dataset"]["name"] = dataset
    for seed, value in zip(rec["seeds"], nrmse_by_seed):
        section = seed["metrics"]["steady"]
        section["overall"]["nrmse"] = value
        section["per_channel"]["u"]["nrmse"] = value  # one channel: the overall value is the channel's
        section["per_step"] = {k: [v] * steps for k, v in section["overall"].items()}
        section["steps"] = list(range(steps))
        section.pop("per_sample")  # no per-sample errors: ranked by the one-std rule
    rec["aggregate"] = aggregate(rec["seeds"])
    return validate_record(rec)


def test_board_tables_summary_and_na(env):
    records = [_synthetic(env, "alpha", "ds_one", [0.1, 0.11, 0.12]),
               _synthetic(env, "beta", "ds_one", [0.3, 0.31, 0.32]),
               _synthetic(env, "beta", "ds_two", [0.2, 0.2, 0.21], steps=5),
               _synthetic(env, "gamma", "ds_two", [0.5, 0.5, 0.52], steps=5)]
    tables = make_rows(records)
    summary = {e["solver"]: e for e in summary_rows(tables)}
    assert summary["beta"]["ranks"] == {"ds_one": 2, "ds_two": 1} and summary["beta"]["mean_rank"] == 1.5
    assert summary["alpha"]["n_datasets"] == 1
    md = render_markdown(tables)
    assert "| alpha | 1 | N/A | 1.00 | 1 |" in md and "| gamma | N/A | 2 | 2.00 | 1 |" in md
    assert md.count("\n## ds_") == 2 and "0.11 ± 0.01" in md
    page = render_html(tables)
    assert 'id="plot-rollout-ds_two"' in page and 'id="plot-rollout-ds_one"' not in page
    assert 'id="plot-params-ds_one"' in page and "<script src" not in page and "<link" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_build_refuses_invalid_board_and_writes_nothing(env, tmp_path):
    board = env.fresh_board(tmp_path / "board")
    store.add_record(env.record, board)
    board_mod.build(board)
    before = board_files(board)
    bad = copy.deepcopy(env.record)
    bad["solver"]["name"] = "other"
    bad["seeds"][0]["metrics"]["steady"]["overall"]["rmse"] = -1.0
    (store.submissions_dir(board) / "x__other.json").write_text(json.dumps(bad))
    with pytest.raises(RecordError, match="x__other.json"):
        board_mod.build(board)
    after = board_files(board)
    after.pop("submissions/x__other.json")
    assert after == before


# ------------------------------------------------------------------------------------------
# command line and the new-user path
# ------------------------------------------------------------------------------------------
def _cli(argv) -> int:
    from pdebench_x.cli import main
    return main(argv)


def test_cli_key_value_arguments_and_errors(env, tmp_path, capsys):
    board = env.fresh_board(tmp_path / "board")
    assert _cli(["score", f"run={env.runs[0]},{env.runs[1]}", "--board", str(board),
                 "--data-root", str(env.data)]) == 2
    assert "at least 3 training seeds" in capsys.readouterr().err
    assert _cli(["score", "bogus=1", "--board", str(board)]) == 2
    assert "unknown key 'bogus'" in capsys.readouterr().err
    assert _cli(["board", "build", "--board", str(board)]) == 0
    assert "No submissions yet" in (board / "README.md").read_text()


def test_new_user_toy_solver_ends_up_ranked(env, tmp_path):
    """SUBMITTING.md's steps with a toy solver: model module + yaml, train 3 seeds, score, build."""
    conf = tmp_path / "conf"
    (conf / "model").mkdir(parents=True)
    from toy_mean_solver import MODEL_YAML
    (conf / "model" / "train_mean.yaml").write_text(MODEL_YAML)
    runs = train_seeds(DATA + ["model=train_mean", "trainer.max_epochs=1", "trainer.enable_progress_bar=false",
                               "~logger"], env.data, tmp_path / "out", searchpath=conf)
    board = env.fresh_board(tmp_path / "board")
    store.add_record(env.record, board)
    assert _cli(["score", *[f"run={r}" for r in runs], "--board", str(board), "--data-root", str(env.data)]) == 0
    assert _cli(["board", "build", "--board", str(board)]) == 0
    tables = make_rows(r for _, r in store.load_board(board))
    rows = tables[env.fp["dataset"]]
    assert {r["solver"] for r in rows} == {"fno-tiny", "train_mean"}
    toy = next(r for r in rows if r["solver"] == "train_mean")
    assert toy["rank"] in (1, 2) and toy["n_parameters"] == 1
    # a constant field scores nRMSE ~ sqrt(1 - mean(u)^2 / mean(u^2)) > 0.3 on Darcy solutions
    assert 0.3 < toy["mean"] < 1.5
    readme = (board / "README.md").read_text()
    assert "train_mean" in readme and "fno-tiny" in readme
    assert "train_mean" in (board / "index.html").read_text()


@pytest.mark.slow
def test_new_user_command_line_flow(env, tmp_path):
    """The same as a contributor types it: train.py, score.py, pdebench-x board build."""
    conf = tmp_path / "conf"
    (conf / "model").mkdir(parents=True)
    from toy_mean_solver import MODEL_YAML
    (conf / "model" / "train_mean.yaml").write_text(MODEL_YAML)
    board = env.fresh_board(tmp_path / "board")
    env_vars = {"PDEBENCH_X_DATA": str(env.data), "PDEBENCH_X_OUTPUTS": str(tmp_path / "out"),
                "PYTHONPATH": str(TESTS), "PATH": "/usr/bin:/bin"}
    import os
    env_vars = {**os.environ, **env_vars}
    subprocess.run([sys.executable, "train.py", "-m", "model=train_mean", "seed=0,1,2", "trainer.max_epochs=1",
                    f"hydra.searchpath=[file://{conf}]", "hydra.sweep.dir=" + str(tmp_path / "out" / "sweep"),
                    *DATA], cwd=REPO, env=env_vars, check=True, capture_output=True)
    runs = sorted((tmp_path / "out" / "sweep").glob("*_darcy_train_mean"))
    assert len(runs) == 3
    subprocess.run([sys.executable, "score.py", *[f"run={r}" for r in runs], "--board", str(board)],
                   cwd=REPO, env=env_vars, check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "pdebench_x", "board", "build", "--board", str(board)],
                   cwd=REPO, env=env_vars, check=True, capture_output=True)
    assert "train_mean" in (board / "README.md").read_text()


# ------------------------------------------------------------------------------------------
# time-dependent data: per-step metrics, context frames never scored
# ------------------------------------------------------------------------------------------
NS_TINY = ["data=ns", "data.generator.resolution=16", "data.generator.solve_resolution=16", "data.generator.n_steps=5",
           "data.sizes.train=2", "data.sizes.valid=2", "data.sizes.test=3", "data.problem.history=2"]


def test_rollout_predictions_scored_per_step_without_context(tmp_path):
    cfg = compose_cfg(NS_TINY, tmp_path / "data")
    fp = fpm.make_fingerprint(cfg.data, tmp_path / "data", zero_shot=False, progress=False, measure_samples=2)
    # the NS generator has a dtype setting: the tolerance comes from a real float32 vs float64 solve
    assert fp["test"]["tolerance"]["how"].startswith("regenerated in float64")
    assert 0 < fp["test"]["tolerance"]["measured"] < 1e-3
    fps = tmp_path / "fps"
    fpm.write_fingerprint(fp, fps)
    with h5py.File(fpm.plan_of(fp, tmp_path / "data").split_path("test"), "r") as f:
        w = f["t0_fields/vorticity"][()].astype(np.float64)          # [N, frames, X, Y]
    first, history = 1, 2
    target = w[:, first + history:]                                    # frames 3.. are scored
    scales = 1.0 + 0.1 * np.arange(1, target.shape[1] + 1)             # error grows with the step
    spread = (1.0, 1.01, 0.99)  # seeds must differ (one prediction under three seeds is refused); mean: seed 0's
    files = [scoring.write_predictions(tmp_path / f"p{s}.h5", fp["dataset"], "ramp", s,
                                       {"vorticity": target * scales[None, :, None, None] * spread[s]})
             for s in range(3)]
    rec = scoring.score_predictions(files, fps, tmp_path / "data")
    section = rec["seeds"][0]["metrics"]["rollout"]
    assert section["steps"] == list(range(first + history, w.shape[1]))
    rms = np.sqrt((target ** 2).mean(axis=(2, 3)))                     # [N, T]
    want = (abs(scales - 1) * rms / (rms + 1e-7)).mean(axis=0)
    assert section["per_step"]["nrmse"] == pytest.approx(want.tolist(), rel=1e-6)
    assert rec["aggregate"]["steps"] == section["steps"]
    assert [s["mean"] for s in rec["aggregate"]["per_step"]["nrmse"]] == pytest.approx(want.tolist(), rel=1e-6)
    # predicting the context frames as well is a shape error, not a silently better score
    bad = scoring.write_predictions(tmp_path / "ctx.h5", fp["dataset"], "ramp", 0, {"vorticity": w[:, first:]})
    with pytest.raises(scoring.ScoringError, match="scored frame"):
        score_predictions_file(bad, fp, tmp_path / "data")
    tables = make_rows([rec, rec | {"solver": rec["solver"] | {"name": "ramp2"}}])
    assert 'id="plot-rollout-' in render_html(tables)


def _scored_1d_predictions(root: Path, monkeypatch) -> tuple[dict, list[float]]:
    """Three predictions files (targets x 1.1, 1.2, 0.9) of a tiny 1D convection test split, scored:
    (the record, the domain measure each metric accumulator of the scorer was given)."""
    from pdebench_x.evaluation import metrics

    class Spy(metrics.MetricAccumulator):
        def __init__(self, domain_area: float = 1.0) -> None:
            areas.append(domain_area)
            super().__init__(domain_area)

    areas: list[float] = []
    monkeypatch.setattr(metrics, "MetricAccumulator", Spy)
    cfg = compose_cfg(["data=convection", "data.generator.resolution=32", "data.generator.n_frames=5",
                       "data.sizes.train=2", "data.sizes.valid=2", "data.sizes.test=3"], root / "data")
    fp = fpm.make_fingerprint(cfg.data, root / "data", zero_shot=False, progress=False, measure_samples=1)
    fpm.write_fingerprint(fp, root / "fps")
    with h5py.File(fpm.plan_of(fp, root / "data").split_path("test"), "r") as f:
        u = f["t0_fields/u"][()].astype(np.float64)                     # [N, frames, X, 1]
    assert u.shape[-1] == 1
    files = [scoring.write_predictions(root / f"p{s}.h5", fp["dataset"], "scaled", s, {"u": u[:, 1:] * scale})
             for s, scale in enumerate((1.1, 1.2, 0.9))]                  # history 1: frames 1.. are scored
    return scoring.score_predictions(files, root / "fps", root / "data"), areas


def test_scorer_measures_a_1d_domain_by_its_length(tmp_path, monkeypatch):
    """A 1D problem is stored with one y coordinate: its domain measure (pdebench_x.core.grid, the
    one definition the data module uses too) is its length 2 pi, not 0."""
    _, areas = _scored_1d_predictions(tmp_path, monkeypatch)
    assert areas and areas == pytest.approx([2 * np.pi] * len(areas))


def test_predictions_files_carry_the_track_splits_too(tmp_path):
    """A solver from another framework scores the tracks from its files' optional groups: OOD
    predictions 1.1 x the OOD truth give an OOD nRMSE of 0.1; long-horizon predictions equal to the
    truth until t = 50 and non-finite after it are scored frame by frame and counted as blown up (not
    refused, unlike the test split); the record states the trained horizon (the tiny set's t = 5).
    A group given for some seeds only, or for a track the board lacks, is refused with the reason."""
    data, fps = tmp_path / "data", tmp_path / "fps"
    cfg = compose_cfg(NS_TINY, data)
    fp = fpm.make_fingerprint(cfg.data, data, zero_shot=False, progress=False, measure_samples=1)
    fpm.write_fingerprint(fp, fps)
    ood = fpm.make_track_fingerprint(cfg.data, data, "ood", progress=False)
    long = fpm.make_track_fingerprint(cfg.data, data, "long", progress=False)
    first = 1 + 2                                                          # first_frame + history

    def truth(split_fp):
        with h5py.File(fpm.plan_of(split_fp, data).split_path("test"), "r") as f:
            return f["t0_fields/vorticity"][()].astype(np.float64)[:, first:]

    test, ood_truth, long_truth = truth(fp), truth(ood), truth(long)
    times = np.arange(first, 201, dtype=float)
    blown = np.where((times > 50.0)[None, :, None, None], np.nan, long_truth)
    files = [scoring.write_predictions(tmp_path / f"p{s}.h5", fp["dataset"], "tracks", s,
                                       {"vorticity": test * (1 + 0.01 * s)}, ood={"vorticity": ood_truth * 1.1},
                                       long={"vorticity": blown})
             for s in range(3)]
    with pytest.raises(scoring.ScoringError, match="/ood_predictions is given, but the board has no ood split"):
        scoring.score_predictions(files, fps, data)
    fpm.write_track(ood, fps)
    fpm.write_track(long, fps)
    rec = scoring.score_predictions(files, fps, data)
    validate_record(json.loads(dump_record(rec)))
    assert rec["ood"]["fingerprint"] == ood["id"]
    assert rec["ood"]["aggregate"]["overall"]["nrmse"]["mean"] == pytest.approx(0.1, rel=1e-4)
    block = rec["long_horizon"]
    assert block["fingerprint"] == long["id"] and block["trained_until"] == 5.0 and block["times"] == times.tolist()
    assert block["blown_up"] == 3 * 3                                      # every sample of every seed
    assert block["valid_time"]["mean"] == pytest.approx(51.0 - 2.0)        # from t = 2 until t = 51
    curve = block["nrmse_vs_time"]
    assert max(curve[: int(50 - first) + 1]) < 1e-6 and curve[-1] is None
    # one seed without the long-horizon group: refused, nothing scored half
    files[2] = scoring.write_predictions(tmp_path / "p2.h5", fp["dataset"], "tracks", 2,
                                         {"vorticity": test * 1.02}, ood={"vorticity": ood_truth * 1.1})
    with pytest.raises(scoring.ScoringError, match=r"/long_predictions is in .* but not in every file"):
        scoring.score_predictions(files, fps, data)


def test_1d_predictions_file_gets_a_nonzero_frmse(tmp_path, monkeypatch):
    rec, _ = _scored_1d_predictions(tmp_path, monkeypatch)
    assert (rec["aggregate"]["overall"]["frmse_low"]["mean"] or 0) > 0


def test_wandb_run_path_recorded(tmp_path):
    run = tmp_path / "run"
    (run / "wandb" / "offline-run-20250101_120000-abc123").mkdir(parents=True)
    rec = {"config": {"logger": {"_target_": "lightning.pytorch.loggers.WandbLogger", "project": "pdebench_x"}}}
    assert wandb_run_path(run, rec) == "pdebench_x/abc123"
    rec["config"]["logger"]["entity"] = "lab"
    assert wandb_run_path(run, rec) == "lab/pdebench_x/abc123"
    assert wandb_run_path(run, {"config": {"logger": {"_target_": "CSVLogger"}}}) is None


def test_shipped_board_is_valid_and_built_from_its_records():
    """leaderboard/: every record valid against the shipped fingerprints, and README.md and
    index.html exactly what `pdebench-x board build` renders from them."""
    shipped = REPO / "leaderboard"
    if not list(store.submissions_dir(shipped).glob("*.json")):
        pytest.skip("no records shipped yet (python benchmarks/make_board.py)")
    records = [r for _, r in store.load_board(shipped)]
    readme, page = board_mod.render(records, store.load_error_floors(shipped), store.load_solver_costs(shipped))
    assert (shipped / "README.md").read_text() == readme, "run `pdebench-x board build`"
    assert (shipped / "index.html").read_text() == page, "run `pdebench-x board build`"
    for rec in records:  # older records stay valid under the newer schema, unmigrated
        assert rec["schema_version"] in ("1", "1.1", "2")
    for fp_file in store.fingerprints_dir(shipped).glob("*.json"):
        fpm.load_fingerprint(fp_file.parent, fp_file.stem)  # unedited, readable


# ------------------------------------------------------------------------------------------
# the K-instance section and per-instance solvers
# ------------------------------------------------------------------------------------------
class PerInstance:
    """A tiny PINN run (K = 2 instances) and an LPINN run (N/A on Darcy) on the env's data, scored."""

    def __init__(self, env: Env, root: Path) -> None:
        from pdebench_x.core.errors import NotApplicableError
        from pdebench_x.training.run import run_training
        self.pinn_run = root / "pinn"
        run_training(compose_cfg(DATA + TINY_PINN, env.data, root), self.pinn_run)
        self.pinn = scoring.score_runs([self.pinn_run], env.fps, env.data)
        self.lpinn_run = root / "lpinn"
        with pytest.raises(NotApplicableError):
            run_training(compose_cfg(DATA + ["model=lpinn"], env.data, root), self.lpinn_run)
        self.lpinn = scoring.score_runs([self.lpinn_run], env.fps, env.data)


@pytest.fixture(scope="module")
def pi(env, tmp_path_factory) -> PerInstance:
    return PerInstance(env, tmp_path_factory.mktemp("per_instance"))


def test_operator_record_k_section_is_the_mean_of_per_sample_metrics(env):
    """Each seed's K-instance section, recomputed from scratch: the checkpoint's per-sample
    metrics at the chosen indices, averaged (max for max_error)."""
    import torch

    from pdebench_x.evaluation import metrics as M
    from pdebench_x.data.datamodule import WindowDataset
    from pdebench_x.data.formats import open_source
    from pdebench_x.evaluation.instances import select_instances
    want = select_instances(4, 2, 0)
    assert env.record["instances"]["indices"] == want and env.record["instances"]["k"] == 2
    data = WindowDataset(open_source(fpm.plan_of(env.fp, env.data).split_path("test"), "well"), env.fp["problem"],
                         train=False)
    for seed in env.record["seeds"]:
        task = load_task(seed["checkpoint"]).eval()
        per = {"nrmse": [], "max_error": [], "relative_l2_fno": []}
        with torch.no_grad():
            for i in range(len(data)):
                item = data[i]
                pred, y = task.predict_physical(item["x"][None]), item["y"][None]
                per["nrmse"].append(float(M.nrmse(pred, y).mean()))
                per["max_error"].append(float(M.max_error(pred, y).max()))
                per["relative_l2_fno"].append(float(M.relative_l2_fno(pred, y)[0]))
        section = seed["instances"]
        overall = section["metrics"]["steady"]["overall"]
        assert section["indices"] == want and section["metrics"]["steady"]["n_samples"] == 2
        assert overall["nrmse"] == pytest.approx(np.mean([per["nrmse"][i] for i in want]), rel=1e-5)
        assert overall["relative_l2_fno"] == pytest.approx(np.mean([per["relative_l2_fno"][i] for i in want]),
                                                           rel=1e-5)
        assert overall["max_error"] == pytest.approx(max(per["max_error"][i] for i in want), rel=1e-5)
        assert section["per_instance"]["nrmse"] == pytest.approx([per["nrmse"][i] for i in want], rel=1e-5)
        # the full-split row is the mean over all 4 samples: a different number
        assert seed["metrics"]["steady"]["overall"]["nrmse"] == pytest.approx(np.mean(per["nrmse"]), rel=1e-5)
    values = [s["instances"]["metrics"]["steady"]["overall"]["nrmse"] for s in env.record["seeds"]]
    agg = env.record["instances"]["aggregate"]["overall"]["nrmse"]
    assert agg["mean"] == pytest.approx(np.mean(values)) and agg["std"] == pytest.approx(np.std(values, ddof=1))


def test_rescore_reproduces_the_training_runs_k_section(env):
    for run, seed in zip(env.runs, env.record["seeds"]):
        trained = json.loads((run / METRICS_FILE).read_text())["metrics"]["instances"]
        assert trained["indices"] == seed["instances"]["indices"] and trained["k"] == 2 and trained["seed"] == 0
        for name, value in trained["steady"]["overall"].items():
            got = seed["instances"]["metrics"]["steady"]["overall"][name]
            assert got == pytest.approx(value, rel=1e-6, abs=1e-12) if value is not None else got is None


def test_per_instance_run_is_scored_into_a_valid_record(env, pi, tmp_path, capsys):
    rec, run = pi.pinn, json.loads((pi.pinn_run / METRICS_FILE).read_text())
    validate_record(json.loads(dump_record(rec)))
    assert rec["schema_version"] == "2" and rec["status"] == "ok" and rec["source"] == "run"
    assert rec["solver"]["kind"] == "per_instance" and rec["solver"]["model"] == "pinn"
    block = rec["instances"]
    assert block["k"] == 2 and block["indices"] == env.record["instances"]["indices"] == run["instances"]
    assert len(rec["seeds"]) == 1 and rec["seeds"][0]["metrics"]["steady"]["n_samples"] == 2
    # the run's own numbers, unchanged
    assert rec["seeds"][0]["metrics"]["steady"] == run["metrics"]["steady"]
    assert block["seconds_per_instance"] == pytest.approx(run["seconds_per_instance"])
    assert block["seconds_per_instance"] > 0
    assert rec["seeds"][0]["instances"]["seconds"] == [d["seconds"] for d in run["per_instance"]]
    # the spread over the K instances: sample statistics of the instances' own nRMSE
    per = [d["metrics"]["nrmse"] for d in run["per_instance"]]
    assert block["spread"]["nrmse"]["mean"] == pytest.approx(np.mean(per), rel=1e-12)
    assert block["spread"]["nrmse"]["std"] == pytest.approx(np.std(per, ddof=1), rel=1e-12)
    assert block["spread"]["nrmse"]["mean"] == pytest.approx(run["metrics"]["steady"]["overall"]["nrmse"], rel=1e-12)
    # `pdebench-x score` (score.py): one run suffices for a per-instance solver, and the line it prints says so
    board = env.fresh_board(tmp_path / "board")
    assert _cli(["score", f"run={pi.pinn_run}", "--board", str(board), "--data-root", str(env.data)]) == 0
    assert "on K = 2 test instances" in capsys.readouterr().out
    (path,) = store.submissions_dir(board).glob("*.json")
    assert json.loads(path.read_text())["solver"]["kind"] == "per_instance"


def test_not_applicable_run_gives_an_na_record(env, pi, tmp_path, capsys):
    rec = pi.lpinn
    validate_record(json.loads(dump_record(rec)))
    assert rec["status"] == "not_applicable" and rec["seeds"] == [] and rec["solver"]["name"] == "lpinn"
    assert "Darcy" in rec["reason"] and rec["instances"] is None
    board = env.fresh_board(tmp_path / "board")
    assert _cli(["score", f"run={pi.lpinn_run}", "--board", str(board), "--data-root", str(env.data)]) == 0
    assert "not applicable" in capsys.readouterr().out
    with pytest.raises(scoring.VerificationError, match="per-instance solver's record"):
        scoring.verify_record(rec, env.fps, env.data)


def test_per_instance_run_on_other_data_refused(env, pi, tmp_path):
    run = json.loads((pi.pinn_run / METRICS_FILE).read_text())
    other = copy.deepcopy(run)
    other["config"]["data"]["sizes"]["test"] = 3
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / METRICS_FILE).write_text(json.dumps(other))
    with pytest.raises(scoring.ScoringError, match=r"(?s)another test split.*test: run 3, official 4"):
        scoring.score_runs([tmp_path / "a"], env.fps, env.data)
    moved = copy.deepcopy(run)
    moved["instances"] = moved["metrics"]["instances"]["indices"] = [0, 1] if run["instances"] != [0, 1] else [2, 3]
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / METRICS_FILE).write_text(json.dumps(moved))
    with pytest.raises(scoring.ScoringError, match="are not the choice of K = 2, seed 0"):
        scoring.score_runs([tmp_path / "b"], env.fps, env.data)
    with pytest.raises(scoring.ScoringError, match="per-instance runs and operator runs given together"):
        scoring.score_runs([pi.pinn_run, *env.runs], env.fps, env.data)


def test_k_section_checks_catch_edits(env, pi):
    for edit, match in [
        (lambda r: r["instances"]["spread"]["nrmse"].update(mean=0.5 * r["instances"]["spread"]["nrmse"]["mean"]),
         r"instances\.spread: nrmse"),
        (lambda r: r["instances"]["aggregate"]["overall"]["nrmse"].update(mean=1.0), r"instances\.aggregate: nrmse"),
        (lambda r: r["instances"].update(indices=r["instances"]["indices"][::-1]), "distinct and sorted"),
        (lambda r: r["seeds"][0]["instances"]["per_instance"]["nrmse"].pop(), "1 values for K = 2"),
        (lambda r: r.update(seeds=[]), r"0 seed\(s\); .* at least 1"),
    ]:
        bad = copy.deepcopy(pi.pinn)
        edit(bad)
        with pytest.raises(RecordError, match=match):
            validate_record(bad)
    v1 = _without_v2_fields(copy.deepcopy(env.record))
    v1["schema_version"] = "1"
    with pytest.raises(RecordError, match=r"need schema_version '1.1'"):
        validate_record(v1)
    for key in ("status", "instances"):
        v1.pop(key)
    for seed in v1["seeds"]:
        seed.pop("instances")
    validate_record(v1)  # a version-1 record as written before 1.1: valid without migration
    na = copy.deepcopy(pi.lpinn)
    na["seeds"] = copy.deepcopy(pi.pinn["seeds"])
    with pytest.raises(RecordError, match="a not_applicable record has no seeds"):
        validate_record(na)


def test_version_2_fields_are_the_seeds_and_checked(env):
    """The scorer's record carries each test sample's nRMSE, the budget and the learning curve of
    every seed; an edit of any of them that breaks an identity is caught, and a 1.1 record may not
    carry them."""
    rec = env.record
    assert rec["schema_version"] == "2"
    for seed in rec["seeds"]:
        section = seed["metrics"]["steady"]
        assert len(section["per_sample"]["nrmse"]) == section["n_samples"] == rec["dataset"]["n_test_samples"]
        assert sum(section["per_sample"]["nrmse"]) / section["n_samples"] == pytest.approx(section["overall"]["nrmse"])
        budget, curve = seed["budget"], seed["learning_curve"]
        assert budget["cpu_seconds"] > 0 and budget["device"] == "cpu" and budget["optimizer_steps"] == seed["global_steps"]
        assert len(curve["epoch"]) == len(curve["val/loss"]) == seed["epochs"] and all(v > 0 for v in curve["val/loss"])
    for edit, match in [
        (lambda r: r["seeds"][0]["metrics"]["steady"]["per_sample"]["nrmse"].__setitem__(0, 5.0),
         r"seeds\[0\]\.metrics\.steady\.overall\.nrmse .* its per_sample values give"),
        (lambda r: r["seeds"][1]["metrics"]["steady"]["per_sample"]["nrmse"].pop(), r"per_sample\.nrmse holds \d+ values"),
        (lambda r: r["seeds"][0]["budget"].update(optimizer_steps=10 ** 6), r"budget\.optimizer_steps is 1000000"),
        (lambda r: r["seeds"][2]["learning_curve"]["val/loss"].append(0.1), r"learning_curve\.val/loss has \d+ entries"),
        (lambda r: r.update(schema_version="1.1"), r"need schema_version '2'"),
    ]:
        bad = copy.deepcopy(rec)
        edit(bad)
        with pytest.raises(RecordError, match=match):
            validate_record(bad)


def test_convergence_rule_and_its_mark_on_the_board(env):
    """Still improving by more than 5 % in the last fifth of the validations: flagged, by seed, on both pages."""
    from pdebench_x.leaderboard.statistics import still_improving
    assert still_improving([1.0, 0.5]) is True                       # 2 epochs: the second is the last fifth
    assert still_improving([1.0, 0.6, 0.5, 0.5, 0.49]) is False      # 2 % better than before the tail
    assert still_improving([1.0, 0.6, 0.5, 0.5, 0.47]) is True       # 6 % better
    assert still_improving([0.3]) is None and still_improving(None) is None
    rec = copy.deepcopy(env.record)
    for seed, tail in zip(rec["seeds"], (0.1, 0.99, 1.0)):          # seed 0 still improving, seeds 1, 2 flat
        seed["learning_curve"] = {"epoch": [0, 1], "val/loss": [1.0, tail], "train_loss": [1.0, 1.0]}
    md, page = board_mod.render([validate_record(rec)])
    assert f"**not converged** (seed {rec['seeds'][0]['seed']}): " in md
    assert page.count(">not converged</span> (seed 0)") == 1 and 'id="plot-curve-' in page


def test_out_of_distribution_track_is_scored_checked_and_shown(env, tmp_path):
    """The OOD split of the tiny Darcy set (the darcy small preset's shift: tau 3 -> 5, contrast
    12/3 -> 16/2) gets its own fingerprint in fingerprints/ood/; the same checkpoints are scored
    there, the record carries the seeds' scores and their aggregate, an edit of it is caught, the
    re-score agrees, and the board shows the OOD column and the ratio to the in-distribution error."""
    from pdebench_x.leaderboard.scoring import verify_record
    board = env.fresh_board(tmp_path / "board")
    ood = fpm.make_track_fingerprint(env.data_cfg, env.data, "ood", progress=False)
    assert ood["track"]["of"] == env.fp["dataset"] and ood["dataset"] != env.fp["dataset"]
    assert ood["plan"]["generator"]["tau"] == 5.0 and ood["plan"]["generator"]["a_pos"] == 16.0
    fpm.write_track(ood, store.fingerprints_dir(board))
    assert fpm.load_track(store.fingerprints_dir(board), env.fp["dataset"])["id"] == ood["id"]
    record = scoring.score_runs(env.runs, store.fingerprints_dir(board), env.data, solver_name="fno-tiny")
    block = record["ood"]
    assert block["fingerprint"] == ood["id"] and "tau 3 -> 5" in block["shift"]
    values = [s["ood"]["overall"]["nrmse"] for s in record["seeds"]]
    assert block["aggregate"]["overall"]["nrmse"]["mean"] == pytest.approx(np.mean(values))
    assert values != [s["metrics"]["steady"]["overall"]["nrmse"] for s in record["seeds"]]  # another split
    verify_record(record, store.fingerprints_dir(board), env.data)
    bad = copy.deepcopy(record)
    bad["ood"]["aggregate"]["overall"]["nrmse"]["mean"] *= 0.5
    with pytest.raises(RecordError, match=r"\$\.ood\.aggregate"):
        validate_record(bad)
    md, page = board_mod.render([record])
    assert "| OOD nRMSE | OOD / ID |" in md and "Out of distribution: the same checkpoints" in md
    ratio = block["aggregate"]["overall"]["nrmse"]["mean"] / record["aggregate"]["overall"]["nrmse"]["mean"]
    assert fmt(ratio) in md and 'data-key="ood_ratio"' in page


def test_a_track_split_keeps_the_first_samples_of_its_preset_bit_for_bit(tmp_path, monkeypatch):
    """The long-horizon split keeps fewer test problems than its preset (TRACK_TEST_SAMPLES: the
    rollout is the cost of scoring a record): the first ones, whose initial frames are those of the
    official split bit for bit (each sample has its own seed); a per-instance run on the track is put
    on that split by the track's overrides, test size included. The shipped long splits keep 4."""
    monkeypatch.setitem(fpm.TRACK_TEST_SAMPLES, "long", 2)
    cfg = compose_cfg(NS_TINY, tmp_path / "data")
    official = fpm.make_fingerprint(cfg.data, tmp_path / "data", zero_shot=False, progress=False, measure_samples=1)
    long = fpm.make_track_fingerprint(cfg.data, tmp_path / "data", "long", progress=False)
    assert long["test"]["n_samples"] == 2 and long["plan"]["sizes"]["test"] == 2 and official["test"]["n_samples"] == 3
    assert long["test"]["inputs_sha256_per_sample"] == official["test"]["inputs_sha256_per_sample"][:2]
    assert long["track"]["sizes"] == {"test": 2} and "first 2 of the 3 test problems" in long["track"]["shift"]
    assert fpm.track_overrides(long) == ["data.generator.n_steps=200", "data.sizes.test=2"]
    run_cfg = compose_cfg(NS_TINY + fpm.track_overrides(long), tmp_path / "data")
    assert plan_name(run_cfg) == long["dataset"]
    fps = store.fingerprints_dir(REPO / "leaderboard")
    for name in ("ns_small", "swe_small"):
        shipped = fpm.load_track(fps, name, "long")
        assert shipped["test"]["n_samples"] == 4 and shipped["track"]["sizes"] == {"test": 4}, name


def test_long_horizon_track_rolls_a_model_far_past_its_horizon(tmp_path):
    """An (untrained) FNO on the tiny NS set, rolled out on the long-horizon split of the small
    preset (200 steps instead of the trained 5): scored frame by frame, never dropped."""
    from pdebench_x.leaderboard.scoring.checkpoints import long_horizon_seed
    from pdebench_x.training.run import build_datamodule, build_task
    cfg = compose_cfg(NS_TINY + TRAIN, tmp_path / "data")
    dm = build_datamodule(cfg)
    dm.prepare_data()
    dm.setup()
    task = build_task(cfg, dm).eval()
    long = fpm.make_track_fingerprint(cfg.data, tmp_path / "data", "long", progress=False)
    assert long["plan"]["generator"]["n_steps"] == 200 and long["track"]["of"] == plan_name(cfg)
    scores = long_horizon_seed(task, long, tmp_path / "data")
    first = int(cfg.data.problem.first_frame or 0) + int(cfg.data.problem.history)
    assert scores["times"] == pytest.approx([float(t) for t in range(first, 201)])
    assert len(scores["nrmse_vs_time"]) == len(scores["times"]) and scores["fingerprint"] == long["id"]
    horizon = 200.0 - (first - 1)
    assert 0 <= scores["valid_time"] <= horizon and 0 <= scores["correlation_time"] <= horizon
    assert set(scores["conserved_last_frame"]) == {"mean_vorticity", "energy", "enstrophy"}
    assert scores["blown_up"] + scores["never_failed"] <= 3
    # the record's section: the horizon the model was trained to is the official split's last time
    # (the tiny set's t = 5), from which the board reads the error at 2x, 5x and 10x (t = 10, 25, 50)
    trained = fpm.trained_horizon({"family": "ns", "plan": {"generator": long["plan"]["generator"] | {"n_steps": 5}}})
    assert trained == 5.0
    block = long_horizon_block([{"long_horizon": scores}], long, trained)
    assert block["trained_until"] == 5.0 and block["nrmse_vs_time"] == pytest.approx(scores["nrmse_vs_time"])
    at = {t: v for t, v in zip(scores["times"], scores["nrmse_vs_time"])}
    # the board: the record's long-horizon section, as columns, a note above the table and a plot
    record = json.loads((REPO / "leaderboard" / "submissions" / "ns_small__fno.json").read_text())
    record["long_horizon"] = {**block, "valid_time": {"mean": 12.5}, "correlation_time": {"mean": 30.25}}
    rows = make_rows([record])
    md = render_markdown(rows)
    assert "Long horizon: the test trajectories run to t = 200" in md
    assert f"| 12.5 | 30.25 | {fmt(at[10.0])} / {fmt(at[25.0])} / {fmt(at[50.0])} |" in md
    assert "nRMSE at 2x / 5x / 10x horizon: the nRMSE (mean over seeds) at t = 2, 5 and 10 x 5," in md
    page = render_html(rows)
    assert 'id="plot-long-ns_small"' in page and "trained to t = 5" in page
    # the seeds' drift at the last frame (spectrum, conserved quantities) as one column
    for seed in record["seeds"]:
        seed["long_horizon"] = scores
    drift = make_rows([record])["ns_small"][0]["drift"]
    assert [name for name, _, _ in drift] == ["high-k energy", "mean vorticity", "energy", "enstrophy"]
    assert fmt_drift(drift) in render_markdown(make_rows([record])) and "high-k energy x" in fmt_drift(drift)
    # a blow-up reads as such, at every multiple from the frame it turned non-finite
    record["long_horizon"]["nrmse_vs_time"] = [None if t >= 20.0 else v for t, v in at.items()]
    assert f"| {fmt(at[10.0])} / blown up / blown up |" in render_markdown(make_rows([record]))


def test_drift_at_the_last_frame_on_a_hand_made_record():
    """Upper-half spectrum ratios [2, 8] and [4, 4] (geometric means 4 and 4; the lower half is not
    read) give high-k energy x4; enstrophy 2 and 4 against a truth of 3 and 3 gives x1; a mean
    vorticity against a truth of 0 shows both values; a seed whose spectrum is gone reads blown up."""
    from pdebench_x.leaderboard.board.tables import drift_at_the_end

    def seed(upper, enstrophy, mean):
        return {"long_horizon": {"spectrum_ratio_last_frame": [100.0, 0.01, *upper],
                                 "conserved_last_frame": {"enstrophy": {"prediction": enstrophy, "truth": 3.0},
                                                          "mean_vorticity": {"prediction": mean, "truth": 0.0}}}}
    rec = {"seeds": [seed([2.0, 8.0], 2.0, 1e-3), seed([4.0, 4.0], 4.0, 3e-3)]}
    drift = drift_at_the_end(rec)
    assert drift[0][0] == "high-k energy" and drift[0][1] == pytest.approx(4.0)
    assert drift[1:] == [("enstrophy", 3.0, 3.0), ("mean vorticity", pytest.approx(2e-3), 0.0)]
    assert fmt_drift(drift) == "high-k energy x4; enstrophy x1; mean vorticity 0.002 (truth 0)"
    rec["seeds"].append(seed([None, None], 1.0, 0.0))
    assert fmt_drift(drift_at_the_end(rec)).startswith("high-k energy blown up; enstrophy x0.778;")
    assert drift_at_the_end({"seeds": [{"long_horizon": {"valid_time": 1.0}}]}) is None  # not kept: N/A


def test_per_instance_solver_is_fitted_afresh_on_the_ood_track(env, pi, tmp_path):
    """A per-instance solver on the OOD track: the same tiny PINN fitted on the same K instances of the
    OOD split (the preset with the track's generator overrides); the record's ``ood`` section is that
    run's own K-instance metrics, marked as on K instances, and the board's same-K table shows it
    beside the operator learners' OOD scores on the same K."""
    from pdebench_x.leaderboard.fingerprint import track_overrides
    from pdebench_x.training.run import run_training
    board = env.fresh_board(tmp_path / "board")
    ood = fpm.make_track_fingerprint(env.data_cfg, env.data, "ood", progress=False)
    fpm.write_track(ood, store.fingerprints_dir(board))
    assert track_overrides(ood) == ["data.generator.tau=5.0", "data.generator.a_pos=16.0", "data.generator.a_neg=2.0"]
    ood_run = tmp_path / "pinn_ood"
    run_training(compose_cfg(DATA + TINY_PINN + track_overrides(ood), env.data, tmp_path), ood_run)
    own = json.loads((ood_run / METRICS_FILE).read_text())
    rec = scoring.score_runs([pi.pinn_run, ood_run], store.fingerprints_dir(board), env.data)
    validate_record(json.loads(dump_record(rec)))
    assert rec["ood"]["fingerprint"] == ood["id"] and rec["ood"]["instances"] == {"k": 2, "indices": own["instances"]}
    assert rec["seeds"][0]["ood"]["overall"] == own["metrics"]["steady"]["overall"]
    assert rec["ood"]["aggregate"]["overall"]["nrmse"]["mean"] == pytest.approx(own["metrics"]["steady"]["overall"]["nrmse"])
    # the in-distribution numbers are the official-split run's, unchanged by the track run
    assert rec["seeds"][0]["metrics"] == pi.pinn["seeds"][0]["metrics"]
    # the operator learners scored on the OOD split keep per-sample values: their OOD error on the same K
    operator = scoring.score_runs(env.runs, store.fingerprints_dir(board), env.data, solver_name="fno-tiny")
    want_k = np.mean([np.mean([s["ood"]["per_sample"]["nrmse"][i] for i in own["instances"]]) for s in operator["seeds"]])
    from pdebench_x.leaderboard.board.tables import same_k_tables
    groups = same_k_tables([rec, operator])[rec["dataset"]["name"]]
    rows = {r["solver"]: r for r in groups[0]["rows"]}
    assert rows["pinn"]["ood_k"] == pytest.approx(rec["ood"]["aggregate"]["overall"]["nrmse"]["mean"])
    assert rows["fno-tiny"]["ood_k"] == pytest.approx(want_k) and rows["pinn"]["valid_time_k"] is None
    md, _ = board_mod.render([rec, operator])
    assert "OOD nRMSE on the K" in md and fmt(rows["pinn"]["ood_k"]) in md
    # a track run alone makes no record; a run on neither split is refused with the track's overrides named
    with pytest.raises(scoring.ScoringError, match="no run on the official test split"):
        scoring.score_runs([ood_run], store.fingerprints_dir(board), env.data, dataset=env.fp["dataset"])
    other = copy.deepcopy(own)
    other["config"]["data"]["generator"]["tau"] = 7.0
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / METRICS_FILE).write_text(json.dumps(other))
    with pytest.raises(scoring.ScoringError, match=r"(?s)another test split.*on its ood track, add data.generator.tau=5.0"):
        scoring.score_runs([pi.pinn_run, tmp_path / "other"], store.fingerprints_dir(board), env.data)


def test_per_instance_solver_on_the_long_horizon_track(tmp_path):
    """A per-instance solver fitted over the long horizon itself (200 steps of the tiny NS set, from the
    same context frame): its run carries the long-horizon scores of its K fits, and the record's
    ``long_horizon`` section is them, on K instances."""
    import torch

    from pdebench_x.evaluation.long_horizon import long_horizon_scores
    from pdebench_x.leaderboard.fingerprint import track_overrides
    from pdebench_x.training.run import run_training
    data, fps = tmp_path / "data", tmp_path / "fps"
    cfg = compose_cfg(NS_TINY + ["data.n_instances=2"], data)
    fpm.write_fingerprint(fpm.make_fingerprint(cfg.data, data, zero_shot=False, progress=False, measure_samples=1), fps)
    long = fpm.make_track_fingerprint(cfg.data, data, "long", progress=False)
    fpm.write_track(long, fps)
    runs = [tmp_path / "pinn", tmp_path / "pinn_long"]
    for run, extra in zip(runs, ([], track_overrides(long))):
        run_training(compose_cfg(NS_TINY + ["data.n_instances=2"] + TINY_PINN + extra, data, tmp_path), run)
    own = json.loads((runs[1] / METRICS_FILE).read_text())
    scores = own["metrics"]["long_horizon"]
    first = 1 + 2  # first_frame + history: the scored frames start there, as the operator learners'
    assert scores["times"] == pytest.approx([float(t) for t in range(first, 201)])
    assert len(scores["valid_time_per_sample"]) == 2 and set(scores["conserved_last_frame"]) == {"mean_vorticity", "energy", "enstrophy"}
    rec = scoring.score_runs(runs, fps, data)
    validate_record(json.loads(dump_record(rec)))
    block = rec["long_horizon"]
    assert block["fingerprint"] == long["id"] and block["instances"] == {"k": 2, "indices": own["instances"]}
    assert block["valid_time"]["mean"] == pytest.approx(scores["valid_time"]) and block["times"] == scores["times"]
    assert block["trained_until"] is None  # fitted over the long window itself: nothing lies past its horizon
    assert rec["ood"] is None  # the tiny set has no OOD track here
    # the scores are long_horizon_scores of the K fits' predictions: an identical prediction never fails
    truth = torch.rand(2, 5, 1, 4, 4) + 0.5
    same = long_horizon_scores(truth, truth, [1.0, 2.0, 3.0, 4.0, 5.0], 0.0)
    assert same["valid_time"] == 5.0 and same["never_failed"] == 2


def plan_name(cfg) -> str:
    from pdebench_x.data.build import plan_from_config
    return plan_from_config(cfg.data, cfg.paths.data_dir).name


def _without_v2_fields(rec):
    """``rec`` as a version-1.1 scorer wrote it: no per-sample values, budget, learning curve or OOD scores."""
    for key in ("ood", "long_horizon", "inference_cpu_seconds_per_sample"):
        rec.pop(key, None)
    for seed in rec["seeds"]:
        for key in ("budget", "learning_curve", "ood", "long_horizon", "inference_cpu_seconds_per_sample"):
            seed.pop(key, None)
        for block in (seed["metrics"], (seed.get("instances") or {}).get("metrics") or {}):
            for section in block.values():
                section.pop("per_sample", None)
    return rec


def _v1_copy(rec, name):
    old = _without_v2_fields(copy.deepcopy(rec))
    old["schema_version"], old["solver"]["name"] = "1", name
    for key in ("status", "instances"):
        old.pop(key)
    for seed in old["seeds"]:
        seed.pop("instances")
        seed.pop("checkpoint_sha256")  # a file belongs to one record on a board: the copy names none
    return old


def test_board_same_k_table_has_both_kinds_and_na(env, pi, tmp_path):
    board = env.fresh_board(tmp_path / "board")
    for rec in (env.record, pi.pinn, pi.lpinn, _v1_copy(env.record, "fno-v1")):
        store.add_record(rec, board)
    board_mod.build(board)
    md = (board / "README.md").read_text()
    name = env.fp["dataset"]
    main, same_k = md.split(f"## {name}")[1].split("### Same K instances")
    # the ranked table: operator learners on the full split only
    assert "fno-tiny" in main and "fno-v1" in main and "pinn" not in main and "lpinn" not in main
    summary = md.split("## Summary")[1].split("\n## ")[0]
    assert "pinn" not in summary
    indices = pi.pinn["instances"]["indices"]
    assert same_k.startswith(f": K = 2 test instances {indices} (instance seed 0)")
    rows = {line.split(" | ")[0].strip("| "): line for line in same_k.splitlines() if line.startswith("| ")}
    pinn_mean = pi.pinn["aggregate"]["overall"]["nrmse"]["mean"]
    fno_k = env.record["instances"]["aggregate"]["overall"]["nrmse"]
    # the interval: the ranked tables' bootstrap over the seeds' values on the K instances
    from pdebench_x.leaderboard.board.formatting import fmt_ci
    from pdebench_x.leaderboard.statistics import bootstrap_interval
    pinn_ci = bootstrap_interval(np.asarray([s["instances"]["per_instance"]["nrmse"] for s in pi.pinn["seeds"]]))
    assert pinn_ci[0] <= pinn_mean <= pinn_ci[1]
    assert rows["[pinn](https://github.com/maziarraissi/PINNs)"].split(" | ")[1:5] == [
        "per-instance", fmt(pinn_mean), fmt_ci(pinn_ci), fmt(pi.pinn["instances"]["spread"]["nrmse"]["std"])]
    assert rows["[pinn](https://github.com/maziarraissi/PINNs)"].split(" | ")[5] == "—"   # no training seeds
    fno = next(v for k, v in rows.items() if k.startswith("[fno-tiny]"))
    assert fno.split(" | ")[1:3] == ["operator", fmt(fno_k["mean"])]
    assert fno.split(" | ")[3].startswith("[") and fno.split(" | ")[5] == fmt(fno_k["std"])
    lpinn = next(v for k, v in rows.items() if k.startswith("[lpinn]"))
    assert lpinn.split(" | ")[1:5] == ["per-instance", "N/A", "N/A", "N/A"] and "N/A: " in lpinn and "Darcy" in lpinn
    assert "Not scored on these instances: fno-v1" in same_k
    page = (board / "index.html").read_text()
    assert f'id="table-samek-{name}"' in page and 'data-kind="per_instance"' in page and 'data-kind="operator"' in page


def test_solver_links_keep_only_the_address():
    """A record's code field often carries a note after the address ("... (commit abc)"): the
    board links the address alone, and refuses anything that is not a plain http(s) address."""
    from pdebench_x.leaderboard.board.formatting import safe_url as _safe_url
    assert _safe_url("https://github.com/o/r (commit 3a68a90)") == "https://github.com/o/r"
    assert _safe_url("javascript:alert(1)") is None
    assert _safe_url('https://x.org/"onmouseover=') is None
    assert _safe_url(None) is None and _safe_url("  ") is None


def test_partial_fingerprint_checks_its_first_samples_of_the_full_split(tmp_path):
    """A fingerprint of the first N test samples (for presets too costly to generate whole):
    the full split regenerated elsewhere matches; a split whose sample 0 differs does not."""
    cfg = compose_cfg(NS_TINY, tmp_path / "data")                     # 3 test samples
    fp = fpm.make_fingerprint(cfg.data, tmp_path / "fp_data", zero_shot=False, progress=False,
                              measure_samples=1, samples=2)
    assert fp["test"]["n_samples"] == 3 and fp["test"]["checked_samples"] == 2
    assert len(fp["test"]["inputs_sha256_per_sample"]) == 2
    assert not (tmp_path / "fp_data").exists() or not any((tmp_path / "fp_data").rglob("*.h5"))
    plan = fpm.plan_of(fp, tmp_path / "data")
    full = fpm.ensure_test_split(plan, progress=False)                # the whole split, made anew
    fpm.check_split(full, fp, "test", tmp_path / "data")              # its first 2 samples match
    with h5py.File(full, "r+") as f:
        f["t0_fields/vorticity"][0, 0] += 1.0                          # sample 0's initial field
    with pytest.raises(fpm.FingerprintMismatch, match="inputs of 1 of 3 samples differ"):
        fpm.check_split(full, fp, "test", tmp_path / "data")


def test_board_marks_solvers_given_the_equation():
    """PROSE (symbol branch on) is marked; the same record with the branch off, and a plain
    operator learner, are not; a record's explicit flag wins over its seeds' configs."""
    from pdebench_x.leaderboard.board.tables import given_equation
    def rec(use_symbols, flag=None):
        solver = {"name": "s", **({"given_equation": flag} if flag is not None else {})}
        return {"solver": solver, "seeds": [{"config": {"model": {"net": {"use_symbols": use_symbols}}}}]}
    assert given_equation(rec(True)) and not given_equation(rec(False)) and not given_equation(rec(None))
    assert not given_equation(rec(True, flag=False)) and given_equation(rec(None, flag=True))
    assert not given_equation({"solver": {"name": "n/a"}, "seeds": []})


def test_same_k_track_columns_use_the_track_splits_own_instances():
    """The long-horizon split holds 4 problems, the official one 25: the per-instance solvers' K = 4
    long-horizon fits are drawn among the 4 (all of them), not at the official K indices. The same-K
    table's long-horizon column reads each operator learner's per-sample valid times at those, so both
    kinds are compared on the same problems (shipped ns_small records)."""
    from pdebench_x.leaderboard.board.tables import same_k_tables
    records = [rec for _, rec in store.load_board(REPO / "leaderboard")]
    group = same_k_tables(records)["ns_small"][0]
    pig = next(r for r in records if r["dataset"]["name"] == "ns_small" and r["solver"]["name"] == "pig")
    long_k = pig["long_horizon"]["instances"]["indices"]
    assert long_k == [0, 1, 2, 3] and long_k != group["indices"]
    rows = {r["solver"]: r for r in group["rows"]}
    assert rows["pig"]["valid_time_k"] == pytest.approx(pig["long_horizon"]["valid_time"]["mean"])
    fno = next(r for r in records if r["dataset"]["name"] == "ns_small" and r["solver"]["name"] == "fno")
    want = np.mean([np.mean([s["long_horizon"]["valid_time_per_sample"][i] for i in long_k]) for s in fno["seeds"]])
    assert rows["fno"]["valid_time_k"] == pytest.approx(want)
