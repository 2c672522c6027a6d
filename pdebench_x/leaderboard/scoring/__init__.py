"""Re-scoring solvers on the official test splits, and building submission records.

Three ways onto the board, scored by the same metric code (:mod:`pdebench_x.evaluation.metrics`):

* a trained checkpoint of the suite (``python score.py run=<run dir or .ckpt> ...``): the
  model is rebuilt from the checkpoint and run on the official test split (and on the
  zero-shot split at the higher resolution), exactly as training's final test does
  (:mod:`.checkpoints`);
* an HDF5 file of predictions from any framework (``--predictions``), checked for dataset,
  field names, shapes and sample order (:mod:`.predictions`, layout: ``PREDICTIONS_LAYOUT``);
* a per-instance solver's run (``python score.py run=<run dir>``, PINN / LPINN / PIG): its
  own metrics on the K test instances, computed by :mod:`pdebench_x.training.per_instance` on the
  official split (checked here: the run's test split, its instance choice); a solver that
  does not apply (LPINN on Darcy) gives a ``not_applicable`` record, N/A on the board
  (:mod:`.per_instance_runs`).

Checkpoints and predictions: each is one training seed; a record needs at least
``MIN_SEEDS``. A per-instance run has no training seed (its entry is its fit seed, one
run is enough): its spread is reported over the K instances. The record (:mod:`.records`)
holds every seed's full metric set and the aggregate mean and sample standard deviation
(ddof = 1) over seeds, and (schema 1.1) the K-instance section: every solver's metrics on the
per-instance solvers' K test instances (K, seed from the run's ``data.n_instances`` /
``data.instance_seed``, else the family's ``conf/data/<family>.yaml``: :mod:`.runs`), for the
board's like-for-like table, and its provenance (:mod:`.provenance`). Before scoring, the
local test split is checked against the shipped fingerprint. ``--verify`` re-scores a record
(:mod:`.verify`).

The entry points of the command line are exported here.
"""
from pdebench_x.leaderboard.scoring.checkpoints import score_runs
from pdebench_x.leaderboard.scoring.errors import ScoringError, VerificationError
from pdebench_x.leaderboard.scoring.predictions import score_predictions, write_predictions
from pdebench_x.leaderboard.scoring.records import summary_line
from pdebench_x.leaderboard.scoring.verify import VERIFY_RTOL, verify_record

__all__ = ["VERIFY_RTOL", "ScoringError", "VerificationError", "score_predictions", "score_runs", "summary_line",
           "verify_record", "write_predictions"]
