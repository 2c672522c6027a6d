"""``python -m pdebench_x <command> ...``: the ``pdebench-x`` command."""
import sys

from pdebench_x.cli import main

sys.exit(main())
