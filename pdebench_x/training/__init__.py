"""Training: the operator-learning task, its losses, optimisers and plots, the run pipeline
(checks, resume, launch) behind ``train.py``."""
