"""Score a trained solver on the official test split into a leaderboard record.

    python score.py run=<run dir or checkpoint> run=<...> run=<...>     # >= 3 training seeds
    python score.py run=<per-instance run dir>                          # PINN / LPINN / PIG run(s)
    python score.py --predictions seed0.h5 seed1.h5 seed2.h5            # any framework
    python score.py --verify leaderboard/submissions/<record>.json       # re-score and compare

A per-instance solver's run (``python train.py model=pig data=darcy``) is taken with its own
metrics on its K test instances (one run suffices: it has no training seeds); a run that
stopped because the solver does not apply (LPINN on Darcy) gives a not-applicable record.
The record is added to leaderboard/submissions/ (never overwriting one); then
`pdebench-x board build` renders the board. See leaderboard/SUBMITTING.md.
"""
import os
import sys
from pathlib import Path

os.environ.setdefault("PDEBENCH_X_ROOT", str(Path(__file__).resolve().parent))


def main(argv: list[str]) -> int:
    """``pdebench-x score``, except that per-instance runs are reported in their own terms
    (a not-applicable record has no nRMSE to print)."""
    from pdebench_x import cli
    from pdebench_x.leaderboard import scorer, store
    from pdebench_x.leaderboard.fingerprint import FingerprintMismatch, FingerprintMissing
    from pdebench_x.leaderboard.schema import RecordError, dump_record
    args = cli.parser().parse_args(["score", *argv])
    errors = (cli.CLIError, RecordError, scorer.ScoringError, scorer.VerificationError, store.DuplicateSubmission,
              FingerprintMismatch, FingerprintMissing, FileExistsError)
    try:
        cli._split_key_values(args)
        per_instance = bool(args.runs) and not args.verify and not args.predictions \
            and all(scorer.run_kind(r) == "per_instance" for r in args.runs)
        if not per_instance:
            return cli.main(["score", *argv])
        board = Path(args.board) if args.board else scorer.default_board_dir()
        data_root = Path(args.data_root) if args.data_root else scorer.default_data_root()
        record = scorer.score_per_instance_runs(args.runs, store.fingerprints_dir(board), data_root,
                                                solver_name=args.solver, dataset=args.dataset, setting=args.setting)
        if args.out:
            out = Path(args.out)
            if out.exists():
                raise cli.CLIError(f"{out} exists; not overwritten")
            out.write_text(dump_record(record))
            print(f"record written to {out} (not added to the board)")
        else:
            print(f"record written to {store.add_record(record, board)}; now run `pdebench-x board build`")
        print(scorer.summary_line(record))
        return 0
    except errors as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
