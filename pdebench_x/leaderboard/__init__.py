"""The leaderboard: record schema, test-split fingerprints, scorer, submissions and board.

Modules: :mod:`.schema` (the versioned record format and its checks), :mod:`.fingerprint`
(official test splits), :mod:`.scorer` (checkpoints and predictions -> records, --verify),
:mod:`.store` (the submissions directory, never overwritten), :mod:`.board` (README.md and
index.html). Command line: ``pdebench-x`` (:mod:`pdebench_x.cli`), ``score.py``, or
``python -m pdebench_x.leaderboard build``.
"""
