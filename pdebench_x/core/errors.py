"""Errors that more than one layer raises or catches."""
from __future__ import annotations


class NotApplicableError(ValueError):
    """The solver does not apply to this PDE (the leaderboard shows N/A for the pair)."""
