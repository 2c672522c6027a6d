"""One ``fast_dev_run`` step of every model through ``run_training``, at tiny sizes.

The models are the files ``pdebench_x/conf/model/*.yaml`` (``list_models``), not a list kept
here: a new model is run the moment its yaml exists. The quick test runs each model once, on
Darcy when it supports it (the cheapest family; the session's tiny dataset), else on the first
family of its ``supports`` list; the full matrix, every model on every family it supports, is
marked slow. Composing every pair without running it is tests/test_configs.py's.

A smoke run proves the pipeline runs end to end (data, model, training step, test, record); its
figures mean nothing, so only their presence and finiteness are checked.
"""
from __future__ import annotations

import math

import pytest
from conftest import compose_config

from pdebench_x.core.config import list_models
from pdebench_x.evaluation.metrics import PRIMARY_METRIC
from pdebench_x.leaderboard.statistics import primary_section

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: model name -> the data families it supports
MODELS = list_models()

#: A tiny dataset of any family. Grid 16 suits every model's grid constraint: MgNO (levels 4)
#: needs multiples of 8, SineNet (levels 4) of 16, the U-Net (levels 3) of 8, PROSE of its patch
#: sizes 8 and 4; the 1D families' Y = 1 is theirs to refuse (their yamls do not support them).
TINY_SIZES = ["data.sizes.train=4", "data.sizes.valid=2", "data.sizes.test=2", "data.generator.resolution=16",
              "data.batch_size=2"]
#: Per family, what else keeps generation short: just the frames one window needs (history + future).
TINY_FAMILY = {
    "ns": ["data.generator.solve_resolution=16", "data.generator.n_steps=11"],   # frames 1..10 in, 11 out
    "swe": ["data.generator.n_frames=3"],
    "convection": ["data.generator.n_frames=3"],
    "burgers": ["data.generator.n_frames=3"],
}
SMOKE = ["+trainer.fast_dev_run=true", "~logger", "trainer.enable_progress_bar=false"]


def smoke_family(model: str) -> str:
    supports = MODELS[model]
    return "darcy" if "darcy" in supports else supports[0]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """One data root for the module's non-Darcy datasets: each is generated once, on first use."""
    return tmp_path_factory.mktemp("smoke_data")


def smoke_config(model: str, family: str, tiny_darcy, data_root, output_dir):
    overrides = [f"model={model}", *SMOKE]
    if family == "darcy":
        return tiny_darcy.config(overrides, output_dir=output_dir)
    return compose_config([f"data={family}", *TINY_SIZES, *TINY_FAMILY.get(family, []), *overrides],
                          data_dir=data_root, output_dir=output_dir)


def assert_smoke_run(model: str, family: str, tiny_darcy, data_root, tmp_path) -> None:
    from pdebench_x.training.run import run_training
    record = run_training(smoke_config(model, family, tiny_darcy, data_root, tmp_path), tmp_path / "run")
    assert record["model"] == model and record["dataset"]["family"] == family
    value = primary_section(record["metrics"])["overall"][PRIMARY_METRIC]
    assert value is not None and math.isfinite(value), f"{model} on {family}: {PRIMARY_METRIC} = {value}"


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_runs_one_fast_dev_run_step(model, tiny_darcy, data_root, tmp_path):
    assert_smoke_run(model, smoke_family(model), tiny_darcy, data_root, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("model,family", [(m, f) for m in sorted(MODELS) for f in MODELS[m] if f != smoke_family(m)])
def test_every_model_runs_on_every_family_it_supports(model, family, tiny_darcy, data_root, tmp_path):
    """The rest of the model x dataset matrix (the quick test above runs each model's first pair)."""
    assert_smoke_run(model, family, tiny_darcy, data_root, tmp_path)
