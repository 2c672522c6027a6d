"""The leaderboard's commands: ``score`` (runs, predictions files, --verify -> a record),
``board`` (build, validate, add, check) and ``fingerprint`` (an official test split)."""
from __future__ import annotations

import argparse
from pathlib import Path

from pdebench_x.cli.grammar import CLIError, compose_data

KEYS = {"run": "runs", "runs": "runs", "predictions": "predictions", "solver": "solver", "dataset": "dataset",
        "setting": "setting", "board": "board", "data_root": "data_root", "verify": "verify", "out": "out",
        "files": "files"}
LIST_KEYS = {"runs", "predictions", "files"}




def _split_key_values(args: argparse.Namespace) -> None:
    for token in args.overrides:
        if "=" not in token:
            raise CLIError(f"unexpected argument {token!r}: write key=value (keys: {sorted(set(KEYS))}) or an option")
        key, value = token.split("=", 1)
        dest = KEYS.get(key.strip().lstrip("+"))
        if dest is None:
            raise CLIError(f"unknown key {key!r} in {token!r}; known keys: {sorted(set(KEYS))}")
        if dest in LIST_KEYS:
            getattr(args, dest).extend(v for v in value.split(",") if v)
        else:
            setattr(args, dest, value)


def _board(args) -> Path:
    from pdebench_x.core.paths import board_dir as default_board_dir
    return Path(args.board) if args.board else default_board_dir()


def _data_root(args) -> Path:
    from pdebench_x.core.paths import data_root as default_data_root
    return Path(args.data_root) if args.data_root else default_data_root()


def _read_record(path: str) -> dict:
    from pdebench_x.leaderboard.schema import parse_record
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise CLIError(f"cannot read record {path}: {err}") from err
    return parse_record(text, path)


def cmd_score(args) -> int:
    from pdebench_x.leaderboard import scoring, store
    _split_key_values(args)
    board = _board(args)
    fps = store.fingerprints_dir(board)
    if args.verify:
        record = _read_record(args.verify)
        scoring.verify_record(record, fps, _data_root(args), args.files or None, progress=args.progress)
        print(f"verified: every metric of {args.verify} matches a re-score within rtol {scoring.VERIFY_RTOL:g}")
        return 0
    if bool(args.runs) == bool(args.predictions):
        raise CLIError("give either run=<run dir or checkpoint> (one per seed, at least 3) or --predictions "
                       "<file.h5> (one per seed)")
    if args.runs:
        record = scoring.score_runs(args.runs, fps, _data_root(args), solver_name=args.solver, dataset=args.dataset,
                                    setting=args.setting, zero_shot=not args.no_zero_shot, progress=args.progress)
    else:
        record = scoring.score_predictions(args.predictions, fps, _data_root(args), dataset=args.dataset,
                                           solver_name=args.solver, setting=args.setting)
    if args.out:
        from pdebench_x.leaderboard.schema import dump_record
        out = Path(args.out)
        if out.exists():
            raise CLIError(f"{out} exists; not overwritten")
        out.write_text(dump_record(record))
        print(f"record written to {out} (not added to the board)")
    else:
        path = store.add_record(record, board)
        print(f"record written to {path}; now run `pdebench-x board build`")
    print(scoring.summary_line(record))
    return 0


def cmd_board(args) -> int:
    from pdebench_x.leaderboard import board as board_mod
    from pdebench_x.leaderboard import scoring, store
    board = _board(args)
    if args.action == "build":
        readme, page = board_mod.build(board)
        n = len(list(store.submissions_dir(board).glob("*.json")))
        print(f"{n} record(s) -> {readme} and {page}")
    elif args.action == "validate":
        records = store.load_board(board)
        print(f"{len(records)} record(s) valid")
    elif args.action == "check":
        return _check(args.records, board, _data_root(args))
    elif args.action == "add":
        if len(args.records) != 1:
            raise CLIError("board add needs one record file: pdebench-x board add <record.json>")
        record = _read_record(args.records[0])
        if args.verify:
            scoring.verify_record(record, store.fingerprints_dir(board), _data_root(args), args.files or None)
        print(f"added {store.add_record(record, board)}")
    return 0


def _check(paths: list[str], board: Path, data_root: Path) -> int:
    """One line per step and record; 0 when every record passes every step, else 1."""
    from pdebench_x.leaderboard.submission_check import UnreadableSubmission, check_submissions
    if not paths:
        raise CLIError("board check needs record files: pdebench-x board check <record.json> [<record.json> ...]")
    failed, current = [], None
    try:
        for result in check_submissions(paths, board, data_root):
            if result.record != current:
                current = result.record
                print(f"{current}:")
            print(f"  {result.line()}", flush=True)
            if not result.ok:
                failed.append(f"{result.record} (step {result.step})")
    except UnreadableSubmission as err:
        raise CLIError(str(err)) from err
    print(f"{len(failed)} of {len(paths)} record(s) failed: {', '.join(failed)}" if failed
          else f"{len(paths)} record(s) passed every step")
    return 1 if failed else 0


def _measure_split(args, folder: str, measure) -> tuple[dict, Path]:
    """Compose the data config, measure its test split with ``measure(plan, problem)`` and write the
    result to <board>/<folder>/<dataset>.json (an existing file only with --overwrite). With
    ``--track``, the preset's track split as its shipped fingerprint states it, written to
    <board>/<folder>/<track>/<dataset>.json."""
    import json

    from omegaconf import OmegaConf

    from pdebench_x.data.build import plan_from_config
    from pdebench_x.leaderboard import fingerprint, store
    data = OmegaConf.to_container(compose_data(args.overrides).data, resolve=True)
    plan, problem = plan_from_config(data, _data_root(args)), data["problem"]
    target = _board(args) / folder / f"{plan.name}.json"
    track = getattr(args, "track", None)
    if track:
        track_fp = fingerprint.load_track(store.fingerprints_dir(_board(args)), plan.name, track)
        if track_fp is None:
            raise CLIError(f"{plan.name} has no {track} split on this board (no fingerprints/{track}/{plan.name}.json): "
                           f"make it first with `pdebench-x fingerprint {' '.join(args.overrides)} --track {track}`")
        target = _board(args) / folder / track / f"{plan.name}.json"
        plan, problem = fingerprint.plan_of(track_fp, _data_root(args)), track_fp["problem"]
    if target.exists() and not args.overwrite:
        raise SystemExit(f"{target} exists; pass --overwrite to measure it again (e.g. after a generator change)")
    result = measure(plan, problem)
    if track:
        result["track"] = {"kind": track, "of": target.stem, "shift": track_fp["track"]["shift"]}
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(result, indent=1) + "\n")
    return result, target


def cmd_error_floor(args) -> int:
    """Measure a test split's error floor (evaluation/error_floor.py) into <board>/error_floors/."""
    from pdebench_x.evaluation.error_floor import measure_error_floor
    floor, target = _measure_split(args, "error_floors", lambda plan, problem: measure_error_floor(
        plan, problem, n_samples=args.samples, factor=args.factor))
    print(f"error floor of {floor['dataset']}: nRMSE {floor['nrmse']:.3g} over test samples {floor['samples']} "
          f"(a {args.factor}x finer solve), written to {target}")
    return 0


def cmd_solver_cost(args) -> int:
    """Measure the numerical solver's accuracy-cost curve (evaluation/solver_cost.py) into <board>/solver_costs/."""
    from pdebench_x.evaluation.solver_cost import solver_cost_curve
    curve, target = _measure_split(args, "solver_costs", lambda plan, problem: solver_cost_curve(
        plan, problem, factors=args.factors, n_samples=args.samples, repeats=args.repeats))
    points = ", ".join(f"{p['factor']}x coarser: {p['nrmse']:.3g} at {1e3 * p['cpu_seconds_per_sample']:.3g} ms"
                       for p in curve["points"][1:])
    print(f"solver on {curve['dataset']} ({curve['threads']} threads): {points}; written to {target}")
    return 0


def cmd_fingerprint(args) -> int:
    from omegaconf import OmegaConf

    from pdebench_x.leaderboard import fingerprint, store
    cfg = compose_data(args.overrides)
    data = OmegaConf.to_container(cfg.data, resolve=True)
    directory = store.fingerprints_dir(_board(args))
    if args.track:
        fp = fingerprint.make_track_fingerprint(data, _data_root(args), args.track, progress=True)
        path = fingerprint.write_track(fp, directory, overwrite=args.overwrite)
        print(f"{args.track} split of {fp['track']['of']} ({fp['track']['shift']}) fingerprinted as "
              f"{fp['dataset']}: {path} (id {fp['id'][:12]})")
        return 0
    fp = fingerprint.make_fingerprint(data, _data_root(args), progress=True, samples=args.samples)
    path = fingerprint.write_fingerprint(fp, directory, overwrite=args.overwrite)
    print(f"fingerprint of {fp['dataset']} written to {path} (id {fp['id'][:12]})")
    return 0


