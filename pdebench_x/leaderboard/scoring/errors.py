"""Why a run, checkpoint, predictions file or record cannot be scored or verified."""


class ScoringError(ValueError):
    """A run, checkpoint or predictions file that cannot be scored (the message says why)."""


class VerificationError(ValueError):
    """A record whose metrics differ from a re-score beyond tolerance."""
