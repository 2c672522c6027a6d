"""pdebench_x: a benchmark suite for neural PDE solvers."""
import os

# Set before torch loads OpenMP (see train.py): passive waiting keeps torch's threads from
# spinning against other busy processes on small machines.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
