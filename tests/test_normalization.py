"""Per-point normalisation (FNO's and MgNO's UnitGaussianNormalizer) and a separate normalisation of
the inputs (MgNO's rough Darcy run: raw coefficient in, scaled output), on the tiny Darcy set."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import TINY_TRAIN
from pdebench_x.data.normalization import PointNormalizer
from pdebench_x.training.common import build_datamodule
from pdebench_x.training.run import build_task, run_training
from pdebench_x.training.task import OperatorTask


def _setup(tiny_darcy, extra):
    cfg = tiny_darcy.config(TINY_TRAIN + extra)
    dm = build_datamodule(cfg)
    dm.prepare_data()
    dm.setup()
    return cfg, dm


def _train_fields(dm, channel):
    source = dm.sources["train"]
    return torch.as_tensor(np.stack([source.read(i, [channel])[0, 0] for i in range(len(source))]), dtype=torch.float64)


def test_per_point_statistics_are_torch_mean_and_std_over_every_train_sample(tiny_darcy):
    cfg, dm = _setup(tiny_darcy, ["model.recipe.normalization=per_point"])
    task = build_task(cfg, dm)
    assert task.needs_point_stats and isinstance(task.in_norm, PointNormalizer)
    for norm, channel in ((task.in_norm, dm.spec.input_channels[0]), (task.out_norm, dm.spec.target_channels[0])):
        fields = _train_fields(dm, channel)                      # [N, X, Y]: the official x_train, y_train
        assert len(fields) == 16
        torch.testing.assert_close(norm.mean[0, 0, 0].double(), fields.mean(0), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(norm.std[0, 0, 0].double(), fields.std(0), rtol=1e-5, atol=1e-6)
    # encode / decode as the official class: (x - mean) / (std + 1e-5) and back
    x = torch.randn(2, 1, 1, 16, 16)
    torch.testing.assert_close(task.in_norm.encode(x), (x - task.in_norm.mean) / (task.in_norm.std + 1e-5))
    torch.testing.assert_close(task.in_norm.decode(task.in_norm.encode(x)), x, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match=r"fitted on the \(16, 16\) grid and cannot be applied on \(32, 32\)"):
        task.in_norm.encode(torch.randn(1, 1, 1, 32, 32))
    with pytest.raises(RuntimeError, match="before its statistics were fitted"):
        PointNormalizer(1, (16, 16)).encode(x)


def test_per_point_statistics_travel_in_the_checkpoint(tiny_darcy, tmp_path):
    cfg, dm = _setup(tiny_darcy, ["model.recipe.normalization=per_point"])
    fitted = build_task(cfg, dm)
    run_training(tiny_darcy.config(TINY_TRAIN + ["model.recipe.normalization=per_point"]), tmp_path / "run")
    checkpoint = next((tmp_path / "run" / "checkpoints").glob("*.ckpt"))
    loaded = OperatorTask.load_from_checkpoint(str(checkpoint), map_location="cpu")
    assert bool(loaded.out_norm.fitted)
    torch.testing.assert_close(loaded.out_norm.mean, fitted.out_norm.mean)
    torch.testing.assert_close(loaded.in_norm.std, fitted.in_norm.std)


def test_raw_inputs_with_scaled_outputs(tiny_darcy):
    """input_normalization=none: the model reads the raw coefficient; its output is still decoded with
    the targets' train statistics (MgNO's rough run: no --GN, a GaussianNormalizer on the output)."""
    cfg, dm = _setup(tiny_darcy, ["model.recipe.input_normalization=none"])
    task = build_task(cfg, dm)
    x = torch.rand(2, 1, 1, 16, 16) * 12 + 3
    torch.testing.assert_close(task.encode_input(x), x)
    target = dm.spec.target_channels[0]
    mean, std = dm.stats[0][target], dm.stats[1][target]
    assert task.out_norm.mean.item() == pytest.approx(mean) and task.out_norm.std.item() == pytest.approx(std)
    assert abs(mean) > 0 and std != pytest.approx(1.0)
    with pytest.raises(ValueError, match="per_sample for both or neither"):
        build_task(tiny_darcy.config(TINY_TRAIN + ["model.recipe.input_normalization=per_sample"]), dm)
