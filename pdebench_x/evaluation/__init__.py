"""Scoring predictions: the metric set, the K-instance rules, gathering across processes."""
