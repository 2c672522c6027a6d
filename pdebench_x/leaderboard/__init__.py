"""The leaderboard: record schema, test-split fingerprints, scoring, submissions and board.

Modules: :mod:`.schema` (the versioned record format and its checks), :mod:`.fingerprint`
(official test splits), :mod:`.scoring` (checkpoints, predictions files and per-instance runs
-> records, --verify), :mod:`.store` (the submissions directory, never overwritten),
:mod:`.board` (README.md and index.html, from the Jinja2 templates in ``templates/`` with the
CSS and JS of ``static/``), :mod:`.api` (``evaluate``: in-memory predictions scored as a file would be),
:mod:`.submission_check` (``board check``: a pull request's checks of its records, on a copy of the board).
Command line: ``pdebench-x`` (:mod:`pdebench_x.cli`), ``score.py``, or
``pdebench-x board build``.
"""
