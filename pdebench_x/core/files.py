"""Names of the files a run leaves behind, which training writes and scoring reads."""

#: A finished run's record: its test metrics, costs, config and environment (the "run is done" marker).
METRICS_FILE = "metrics.json"
