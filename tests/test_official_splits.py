"""The official test splits regenerate here as the board's fingerprints describe them: the
reorganisation of the code (and any later change) must not change a generated number."""
from __future__ import annotations

import pytest
from conftest import REPO

from pdebench_x.leaderboard import fingerprint as fpm
from pdebench_x.leaderboard.store import fingerprints_dir

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.mark.parametrize("dataset", ["darcy_small", "ns_small", "swe_small"])
def test_an_official_test_split_regenerates_to_its_fingerprint(dataset, tmp_path):
    fp = fpm.load_fingerprint(fingerprints_dir(REPO / "leaderboard"), dataset)
    path = fpm.official_split(fp, tmp_path)      # generated here, then checked: raises on any difference
    assert path.exists() and fpm.split_differences(path, fp["test"], fp["problem"], fpm.plan_of(fp, tmp_path)) == []
