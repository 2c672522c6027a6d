"""The out-of-distribution splits: each family's shift lies outside what its preset trains on, and
each is shipped as a fingerprint of its own (leaderboard/fingerprints/ood/<dataset>.json)."""
from __future__ import annotations

import pytest
from omegaconf import OmegaConf

from conftest import REPO, compose_config
from pdebench_x.data.build import generator_class, plan_from_config
from pdebench_x.leaderboard import fingerprint as fpm
from pdebench_x.pdes import family_names, get_family

CASES = [(family, preset) for family in family_names() for preset in get_family(family).ood]


def _settings(family, preset, overrides=None):
    cfg = compose_config([f"data={family}", f"data.preset={preset}"])
    data = OmegaConf.to_container(cfg.data, resolve=True)
    plan = plan_from_config(data, "/nonexistent")
    return generator_class(family)(**{**plan.generator, **(overrides or {})}).solver_settings(), plan


@pytest.mark.parametrize("family,preset", CASES)
def test_the_shift_is_outside_the_trained_range(family, preset):
    overrides, text = get_family(family).ood[preset]
    trained, _ = _settings(family, preset)
    shifted, _ = _settings(family, preset, overrides)
    assert text and overrides
    for key, value in overrides.items():
        if key.endswith("_range"):
            lo, hi = trained[key] if trained[key] is not None else (trained[key[:-len("_range")]],) * 2
            new_lo, new_hi = shifted[key]
            assert new_lo >= hi or new_hi <= lo, (key, (lo, hi), (new_lo, new_hi))   # at most an endpoint shared
        else:
            assert shifted[key] != trained[key], key


@pytest.mark.parametrize("family,preset", CASES)
def test_the_split_is_shipped_with_its_own_fingerprint(family, preset):
    directory = REPO / "leaderboard" / "fingerprints"
    _, plan = _settings(family, preset)
    fp = fpm.load_track(directory, plan.name, "ood")
    assert fp is not None, f"run `pdebench-x fingerprint data={family} data.preset={preset} --track ood`"
    assert fp["track"]["of"] == plan.name and fp["track"]["overrides"] == dict(get_family(family).ood[preset][0])
    assert fp["dataset"] != plan.name                      # a dataset of its own (the shift's hash in its name)
    if (directory / f"{plan.name}.json").exists():          # the official split is still the official one
        assert fpm.load_fingerprint(directory, plan.name)["dataset"] == plan.name
