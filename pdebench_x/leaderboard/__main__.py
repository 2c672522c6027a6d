"""``python -m pdebench_x.leaderboard build|validate|add <record>``: the board commands."""
import sys

from pdebench_x.cli import main

if __name__ == "__main__":
    sys.exit(main(["board", *sys.argv[1:]]))
