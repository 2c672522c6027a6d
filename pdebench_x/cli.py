"""The ``pdebench-x`` command: scoring, the board, fingerprints.

    pdebench-x score run=<run dir or .ckpt> [run=...] [solver=NAME] [setting=TEXT] [dataset=NAME]
    pdebench-x score --predictions seed0.h5 seed1.h5 seed2.h5 [solver=NAME]
    pdebench-x score --verify leaderboard/submissions/<record>.json [--files ckpt0 ckpt1 ckpt2]
    pdebench-x board build | validate | add <record.json> [--verify]
    pdebench-x fingerprint make <family> [--preset small] [--set sizes.test=50 ...] [--overwrite]

``score.py`` at the repository root is ``pdebench-x score``. Arguments may be written as
``key=value`` (Hydra style: ``run=a,b,c``) or as options (``--run a b c``).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

KEYS = {"run": "runs", "runs": "runs", "predictions": "predictions", "solver": "solver", "dataset": "dataset",
        "setting": "setting", "board": "board", "data_root": "data_root", "verify": "verify", "out": "out",
        "files": "files"}
LIST_KEYS = {"runs", "predictions", "files"}


class CLIError(ValueError):
    pass


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
    from pdebench_x.leaderboard.locations import default_board_dir
    return Path(args.board) if args.board else default_board_dir()


def _data_root(args) -> Path:
    from pdebench_x.leaderboard.locations import default_data_root
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
    elif args.action == "add":
        if not args.record:
            raise CLIError("board add needs the record file: pdebench-x board add <record.json>")
        record = _read_record(args.record)
        if args.verify:
            scoring.verify_record(record, store.fingerprints_dir(board), _data_root(args), args.files or None)
        print(f"added {store.add_record(record, board)}")
    return 0


def cmd_fingerprint(args) -> int:
    from omegaconf import OmegaConf

    from pdebench_x.core.config import config_dir
    from pdebench_x.leaderboard import fingerprint, store
    conf = config_dir() / "data" / f"{args.family}.yaml"
    if not conf.exists():
        raise CLIError(f"no data config {conf}")
    cfg = OmegaConf.load(conf)
    cfg.preset = args.preset
    for item in args.set or []:
        key, value = item.split("=", 1)
        OmegaConf.update(cfg, key, _parse_value(value))
    fp = fingerprint.make_fingerprint(OmegaConf.to_container(cfg, resolve=True), _data_root(args),
                                      progress=True, samples=args.samples)
    path = fingerprint.write_fingerprint(fp, store.fingerprints_dir(_board(args)), overwrite=args.overwrite)
    print(f"fingerprint of {fp['dataset']} written to {path} (id {fp['id'][:12]})")
    return 0


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pdebench-x", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--board", help="board directory (default: <repo>/leaderboard or $PDEBENCH_X_BOARD)")
        sp.add_argument("--data-root", dest="data_root", help="dataset root (default: $PDEBENCH_X_DATA or <repo>/datasets)")

    s = sub.add_parser("score", help="score runs or predictions files into a submission record")
    s.add_argument("overrides", nargs="*", help="key=value: run=, solver=, dataset=, setting=, predictions=")
    s.add_argument("--run", dest="runs", nargs="+", default=[], help="run directories or checkpoints, one per seed")
    s.add_argument("--predictions", nargs="+", default=[], help="predictions HDF5 files, one per seed")
    s.add_argument("--verify", metavar="RECORD", help="re-score a record's checkpoints and compare")
    s.add_argument("--files", nargs="+", default=[], help="with --verify: the checkpoints/predictions, in seed order")
    s.add_argument("--solver", help="solver name on the board (default: the model name)")
    s.add_argument("--dataset", help="official dataset name, e.g. darcy_small (default: from the run)")
    s.add_argument("--setting", help="how the solver was trained, shown on the board")
    s.add_argument("--out", help="write the record to this file instead of adding it to the board")
    s.add_argument("--no-zero-shot", action="store_true", help="skip the zero-shot resolution split")
    s.add_argument("--progress", action="store_true", help="show progress bars")
    common(s)
    s.set_defaults(func=cmd_score)

    b = sub.add_parser("board", help="build or validate the board, or add a record")
    b.add_argument("action", choices=["build", "validate", "add"])
    b.add_argument("record", nargs="?", help="with add: the record file")
    b.add_argument("--verify", action="store_true", help="with add: re-score the record's checkpoints first")
    b.add_argument("--files", nargs="+", default=[], help="with add --verify: checkpoints in seed order")
    common(b)
    b.set_defaults(func=cmd_board)

    f = sub.add_parser("fingerprint", help="fingerprint an official test split")
    f.add_argument("action", choices=["make"])
    f.add_argument("family", help="data config name under conf/data, e.g. darcy")
    f.add_argument("--preset", default="small")
    f.add_argument("--set", nargs="*", help="data config overrides key=value (a new dataset name)")
    f.add_argument("--overwrite", action="store_true", help="replace a shipped fingerprint (generator changed)")
    f.add_argument("--samples", type=int, help="a partial fingerprint of the first N test samples (presets too "
                                                "expensive to generate whole here)")
    common(f)
    f.set_defaults(func=cmd_fingerprint)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from pdebench_x.leaderboard.fingerprint import FingerprintMismatch, FingerprintMissing
    from pdebench_x.leaderboard.schema import RecordError
    from pdebench_x.leaderboard.scoring import ScoringError, VerificationError
    from pdebench_x.leaderboard.store import DuplicateSubmission
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (CLIError, RecordError, ScoringError, VerificationError, DuplicateSubmission, FingerprintMismatch,
            FingerprintMissing, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
