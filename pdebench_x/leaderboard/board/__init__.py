"""Rendering the board: leaderboard/README.md and a static, self-contained index.html.

One ranked table per dataset (= family and preset), ranked by the mean nRMSE over seeds: the
solvers scored on the full official test split (operator learners; predictions files).
Ties, when every record of the dataset carries per-sample errors (record version 2): each pair
of neighbours in the ranking is compared by a two-sided Wilcoxon signed-rank test paired by
test sample (each sample's nRMSE averaged over the solver's seeds), the p-values adjusted by
Holm's method over the dataset's neighbour pairs; a row not different from the one above at
family-wise 5 % shares its rank (shown as "2="; ties chain along the ranking). Each row also
gets a 95 % interval of its mean from a two-level bootstrap (training seeds, then test samples:
:func:`pdebench_x.leaderboard.statistics.bootstrap_interval`). With 3 seeds and 25 test samples
the tests have little power: a tie means "not shown to differ", not "equal". Otherwise (older
records): a row whose mean lies within one standard deviation of its group's leader,
m - m_leader <= max(s_leader, s), joins the leader's group and shares its rank. The cross-dataset summary ranks each solver per dataset and averages the ranks
over the datasets it has a record on (N/A elsewhere: the solver does not apply or was not
submitted).

Beside it, per dataset, a "same K instances" table (:func:`.tables.same_k_tables`): the
per-instance solvers (PINN, LPINN, PIG: fitted afresh on each of K test instances) and the
operator learners on exactly those K instances (their records' K-instance section, computed
from the same per-sample metrics as their full-split row), so the comparison is like with
like. Its nRMSE is the mean over the K instances (operator learners: then the mean over
training seeds); the spread is given over the K instances for every row (a per-instance
solver has no training seeds) and, for operator learners, over seeds too. It is sorted by
nRMSE, not ranked: the ranking is the main table's. A solver that does not apply to the
dataset (``status: not_applicable``, e.g. LPINN on Darcy) is a row of N/A with the reason.

The HTML page needs no network: inline CSS, a small vanilla-JS table sorter (click a header;
``index.html#sort=<table id>:<column key>[:desc]`` sorts on load) and inline SVG plots
(nRMSE vs parameters, nRMSE vs training cost, and rollout nRMSE vs step for time-dependent
datasets), drawn by matplotlib.

A record that does not link, for every seed, the checkpoint or predictions file it was scored
from (a per-instance solver's run; a record whose file hashes were left out) has nothing that
``--verify`` could re-score: its Setting cell starts with **unverified** (:func:`.tables.unverified`).

Modules: :mod:`.tables` (the tables as data), :mod:`.formatting` (figures and labels as text),
:mod:`.plots` (matplotlib), :mod:`.pages` (the Jinja2 templates; :func:`build` and
:func:`render`, exported here for the command line).
"""
from pdebench_x.leaderboard.board.pages import build, render

__all__ = ["build", "render"]
