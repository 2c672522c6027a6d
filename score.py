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

if __name__ == "__main__":
    from pdebench_x.cli import main
    sys.exit(main(["score", *sys.argv[1:]]))
