"""The ``pdebench-x`` command (also ``python -m pdebench_x``): one argument grammar for all of it.

    pdebench-x generate data=ns [data.preset=benchmark] [split=test] [shard=3/8 | assemble=8]
    pdebench-x train model=fno data=darcy [overrides]             # train.py is the same command
    pdebench-x score run=<run dir or .ckpt>,<...>,<...> [solver=NAME] [setting=TEXT] [dataset=NAME]
    pdebench-x score --predictions seed0.h5 seed1.h5 seed2.h5 [solver=NAME]
    pdebench-x score --verify leaderboard/submissions/<record>.json [--files ckpt0 ckpt1 ckpt2]
    pdebench-x board build | validate | add <record.json> [--verify]
    pdebench-x board check <record.json> [<record.json> ...]      # a pull request's checks, run locally
    pdebench-x fingerprint data=ns [data.preset=benchmark] [data.sizes.test=50] [--samples N] [--overwrite]
    pdebench-x fingerprint data=swe --track ood|long              # the out-of-distribution / long-horizon split
    pdebench-x error-floor data=swe [data.preset=small] [--samples 4] [--factor 2] [--track ood|long] [--overwrite]
    pdebench-x solver-cost data=ns [data.preset=small] [--samples 4] [--factors 2 4 8] [--repeats 3] [--overwrite]

Arguments are ``key=value`` tokens (configuration in Hydra's override syntax, lists as
``run=a,b,c``) plus a command's ``--options``. ``score.py`` at the repository root is
``pdebench-x score``; ``train.py`` is ``pdebench-x train``. Bad input: the message and exit status 2.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Sequence

from pdebench_x.cli.grammar import CLIError


def parser() -> argparse.ArgumentParser:
    from pdebench_x.cli.leaderboard import cmd_board, cmd_error_floor, cmd_fingerprint, cmd_score, cmd_solver_cost
    p = argparse.ArgumentParser(prog="pdebench-x", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("--board", help="board directory (default: <repo>/leaderboard or $PDEBENCH_X_BOARD)")
        sp.add_argument("--data-root", dest="data_root", help="dataset root (default: $PDEBENCH_X_DATA or <repo>/datasets)")

    g = sub.add_parser("generate", help="generate a dataset (all splits, one split, or a shard) without training")
    g.add_argument("overrides", nargs="*", help="data=<family>, data.<setting>=<value>, split=, shard=i/n, assemble=n")
    g.set_defaults(func=lambda args: _generate(args.overrides))

    sub.add_parser("train", help="train a solver: pdebench-x train model=<name> data=<name> [overrides]",
                   add_help=False)

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

    b = sub.add_parser("board", help="build or validate the board, add a record, or check records for a pull request")
    b.add_argument("action", choices=["build", "validate", "add", "check"])
    b.add_argument("records", nargs="*", metavar="record", help="with add: the record file; with check: record files")
    b.add_argument("--verify", action="store_true", help="with add: re-score the record's checkpoints first")
    b.add_argument("--files", nargs="+", default=[], help="with add --verify: checkpoints in seed order")
    common(b)
    b.set_defaults(func=cmd_board)

    f = sub.add_parser("fingerprint", help="fingerprint an official test split")
    f.add_argument("overrides", nargs="*", help="data=<family> and data overrides (data.preset=..., data.sizes.test=...)")
    f.add_argument("--overwrite", action="store_true", help="replace a shipped fingerprint (generator changed)")
    f.add_argument("--samples", type=int, help="a partial fingerprint of the first N test samples (presets too "
                                                "expensive to generate whole here)")
    f.add_argument("--track", choices=["ood", "long"], help="fingerprint the preset's out-of-distribution (ood) or "
                                                          "long-horizon (long) test split instead")
    common(f)
    f.set_defaults(func=cmd_fingerprint)

    e = sub.add_parser("error-floor", help="measure a test split's error floor (its truth vs a finer solve)")
    e.add_argument("overrides", nargs="*", help="data=<family> and data overrides (data.preset=...)")
    e.add_argument("--samples", type=int, default=4, help="first N test samples solved again (default 4)")
    e.add_argument("--factor", type=int, default=2, help="how much finer the reference grid is (default 2)")
    e.add_argument("--overwrite", action="store_true", help="replace a shipped error floor")
    e.add_argument("--track", choices=["ood", "long"], help="measure the preset's out-of-distribution (ood) or "
                                                          "long-horizon (long) test split instead (its shipped fingerprint)")
    common(e)
    e.set_defaults(func=cmd_error_floor)

    c = sub.add_parser("solver-cost", help="the numerical solver's accuracy-cost curve on a test split")
    c.add_argument("overrides", nargs="*", help="data=<family> and data overrides (data.preset=...)")
    c.add_argument("--samples", type=int, default=4, help="first N test samples solved (default 4)")
    c.add_argument("--factors", type=int, nargs="+", default=[2, 4, 8], help="coarsening factors (default 2 4 8)")
    c.add_argument("--repeats", type=int, default=3, help="solves timed per grid; the least CPU time is kept (default 3)")
    c.add_argument("--overwrite", action="store_true", help="replace a shipped curve")
    common(c)
    c.set_defaults(func=cmd_solver_cost)
    return p


def _generate(tokens: Sequence[str]) -> int:
    from pdebench_x.cli.generate import generate
    logging.getLogger("pdebench_x").setLevel(logging.INFO)
    try:
        return generate(tokens)
    except ValueError as err:  # settings, shard specification, data files: all say what to change
        raise CLIError(str(err)) from err


def _train(tokens: Sequence[str]) -> None:
    """Hand over to the Hydra application (it reads sys.argv; Lightning's DDP processes relaunch it)."""
    os.execv(sys.executable, [sys.executable, "-m", "pdebench_x.cli.train", *tokens])


def main(argv: Sequence[str] | None = None) -> int:
    from pdebench_x.data.formats import DataFormatError
    from pdebench_x.leaderboard.fingerprint import FingerprintMismatch, FingerprintMissing
    from pdebench_x.leaderboard.schema import RecordError
    from pdebench_x.leaderboard.scoring import ScoringError, VerificationError
    from pdebench_x.leaderboard.store import DuplicateSubmission
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        _train(argv[1:])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except (CLIError, RecordError, ScoringError, VerificationError, DuplicateSubmission, FingerprintMismatch,
            FingerprintMissing, DataFormatError, FileExistsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
