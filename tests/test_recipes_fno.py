"""experiment=fno_burgers_paper against the FNO paper's official 1D Burgers script (compose only: seconds).

The table follows tests/test_recipes_mgno_sinenet.py (its ``Row``: a setting, the value the composed
configuration must have, the official value, the official file and line; "same", "restated" in our
terms, or "kept" on purpose with the reason, which the experiment yaml also states). The table is the
one source of truth: the configuration departing from it fails here, and so does a setting no row
covers. The script is fourier_1d.py at 6f1d6fe8 (2021-01-28, "remove unnecessary batchnorms"): the
paper's script (0da52749) without its BatchNorm; the data law is GRF1.m and burgers1.m at 2421c8f1
with the paper's parameters (sec. 5.1: nu = 0.1, u0 ~ N(0, 625 (-Laplacian + 25 I)^-2)).
"""
from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from conftest import compose_config
from pdebench_x.training.preflight import SettingError, check_run_settings
from test_recipes_mgno_sinenet import assert_equals_table, kept, restated, same

FNO_REPO = "github zongyi-li/fourier_neural_operator"
SCRIPT = "fourier_1d.py @ 6f1d6fe8"
DATA = "data_generation/burgers @ 2421c8f1"
PAPER = "Li et al., ICLR 2021, sec. 5.1"
BATCH_SUM = ("LpLoss(size_average=False) sums over the batch and Adam adds the decay to that gradient: with our "
             "batch-mean relative L2 the same Adam step divides weight decay and eps by the batch (20)")

FNO_BURGERS = [
    restated("model.net._target_", "pdebench_x.models.fno.FNO", "Net1d(SimpleBlock1d)", f"{SCRIPT}:66-140",
             "neuraloperator's FNO set up as SimpleBlock1d"),
    restated("model.net.n_modes", [30], 16, f"{SCRIPT}:45,57,167 (modes1: rfft modes 0..15)",
             "the package keeps n // 2 + 1 = 16 real-FFT modes on the last axis"),
    same("model.net.hidden_channels", 64, f"{SCRIPT}:168 (width)"),
    same("model.net.n_layers", 4, f"{SCRIPT}:84-91 (conv0..3, w0..3)"),
    restated("model.net.lifting_channel_ratio", 0, "nn.Linear(2, width)", f"{SCRIPT}:82 (fc0)",
             "ratio 0: the package's lifting is one linear layer of (u0, grid)"),
    restated("model.net.projection_channel_ratio", 2, "Linear(64, 128), ReLU, Linear(128, 1)",
             f"{SCRIPT}:94-95,121-123 (fc1, fc2)", "hidden width 2 x 64 = 128"),
    restated("model.net.use_channel_mlp", False, "u' = K u + W u", f"{SCRIPT}:102-118",
             "no per-layer MLP: spectral convolution plus 1x1 convolution only"),
    same("model.net.activation", "relu", f"{SCRIPT}:105,110,115,122 (F.relu; none after the last layer)"),
    restated("model.net.spectral_init", "uniform", "scale * torch.rand(in, out, modes, 2), scale = 1 / (in * out)",
             f"{SCRIPT}:47-48", "our name for that law"),
    restated("parameters", 287_425, 549_569, f"{SCRIPT}:142-147 (count_params: the 2 of each complex weight)",
             "count_parameters counts a complex weight once: 262,144 complex spectral weights, 549,569 real "
             "numbers (test_the_network_has_the_official_real_parameter_count)"),
    same("model.recipe.loss", "rel_l2", f"{SCRIPT}:205,216 (LpLoss relative L2)"),
    same("model.recipe.loss_space", "physical", f"{SCRIPT}:213-216 (loss on the output vs the raw target)"),
    same("model.recipe.optimizer._target_", "torch.optim.Adam", f"{SCRIPT}:202"),
    same("model.recipe.optimizer.lr", 1e-3, f"{SCRIPT}:161"),
    restated("model.recipe.optimizer.weight_decay", 1e-4 / 20, 1e-4, f"{SCRIPT}:202", BATCH_SUM),
    restated("model.recipe.optimizer.eps", 1e-8 / 20, 1e-8, f"{SCRIPT}:202 (torch's default eps)", BATCH_SUM),
    restated("model.recipe.scheduler.name", "step", "StepLR", f"{SCRIPT}:203", "our name"),
    same("model.recipe.scheduler.step_epochs", 100, f"{SCRIPT}:164 (step_size)"),
    same("model.recipe.scheduler.gamma", 0.5, f"{SCRIPT}:165"),
    same("model.recipe.scheduler.interval", "epoch", f"{SCRIPT}:226 (scheduler.step() once per epoch)"),
    same("model.recipe.scheduler.warmup_epochs", 0, f"{SCRIPT}:203 (no warm-up)"),
    same("model.recipe.train_mode", "one_step", f"{SCRIPT}:209-216 (u0 -> u(1), one call)"),
    kept("model.recipe.monitor", "val/loss", "none (no validation split)", f"{SCRIPT}:227-236",
         "validation is logged for the learning curve; selection=last ignores it for the test"),
    same("model.recipe.val_loss", None, f"{SCRIPT}:205 (the training loss)"),
    same("model.recipe.rollout_loss", None, f"{SCRIPT}:236 (one relative L2 of the single step)"),
    same("model.recipe.gradient_clip_val", None, f"{SCRIPT}:206-220 (no clipping)"),
    same("model.recipe.normalization", "none", f"{SCRIPT}:176-190 (raw a and u)"),
    same("model.recipe.selection", "last", f"{SCRIPT}:243-256 (the model after the last epoch is tested)"),
    same("model.recipe.steps_per_epoch", None, f"{SCRIPT}:190,208 (one pass over the 1000 samples)"),
    same("data.batch_size", 20, f"{SCRIPT}:160"),
    same("trainer.max_epochs", 500, f"{SCRIPT}:163"),
    same("data.family", "burgers", f"{SCRIPT}:176 (burgers_data_R10.mat)"),
    same("data.problem.history", 1, f"{SCRIPT}:177 (a: the initial field)"),
    same("data.problem.future", 1, f"{SCRIPT}:178 (u: the field at t = 1)"),
    same("dataset.settings.initial", "grf1", f"{DATA}/gen_burgers1.m:27 (GRF1, periodic)"),
    same("dataset.settings.grf_sigma", 25.0, f"{PAPER} (625 = sigma^2); {DATA}/GRF1.m:2,18"),
    same("dataset.settings.grf_tau", 5.0, f"{PAPER} (25 I = tau^2 I); {DATA}/GRF1.m:2,18"),
    same("dataset.settings.grf_gamma", 2.0, f"{PAPER} (the power -2); {DATA}/GRF1.m:2,18"),
    same("dataset.settings.viscosity", 0.1, f"{PAPER} (nu = 0.1, the R10 file)"),
    same("dataset.settings.length", 1.0, f"{DATA}/burgers1.m:3 (spinop([0 1], ...))"),
    same("dataset.settings.t_end", 1.0, f"{DATA}/gen_burgers1.m (tspan = linspace(0, 1, ...)); {PAPER}"),
    same("dataset.settings.draw_resolution", 8192, f"{DATA}/gen_burgers1.m:27 (GRF1(s/2, ...)) with s = 2^13 "
         f"({SCRIPT}:156-157)"),
    same("dataset.settings.resolution", 1024, f"{SCRIPT}:156-157,177-178 (sub = 2^3: 8192 / 8)"),
    kept("dataset.settings.time_step", 1e-3, 1e-4, f"{DATA}/burgers1.m:8 (spin's ETDRK4 step)",
         "our ETDRK4 at 1e-3 on 1024 points agrees with 8192 points at 1e-4 to 7.5e-10 (tests/test_burgers_fno.py)"),
    same("dataset.settings.n_frames", 2, f"{SCRIPT}:177-178 (a = u(0), u = u(1))"),
    same("dataset.sizes.train", 1000, f"{SCRIPT}:153 (ntrain)"),
    kept("dataset.sizes.test", 200, 100, f"{SCRIPT}:154,182-183 (the last 100 of the file)",
         "the issue's 200-sample test split: we report the mean over all 200"),
    restated("dataset.sizes.valid", 100, "none", f"{SCRIPT}:180-183",
             "100 samples validate the learning curve (not used for selection)"),
    same("dataset.boundary", ["periodic"], f"{DATA}/burgers1.m:3 (spinop: periodic)"),
]


def test_paper_configuration_equals_its_official_table():
    assert_equals_table("fno_burgers_paper", FNO_REPO, FNO_BURGERS)


def test_every_setting_has_a_row_saying_how_or_why():
    cfg = compose_config(["experiment=fno_burgers_paper"])
    model = OmegaConf.to_container(cfg.model, resolve=True)
    needed = [f"model.net.{k}" for k in model["net"]]
    needed += [f"model.recipe.{k}" for k, v in model["recipe"].items() if not isinstance(v, dict) or not v]
    needed += [f"model.recipe.{k}.{j}" for k, v in model["recipe"].items() if isinstance(v, dict) for j in v]
    needed += ["data.batch_size", "trainer.max_epochs", "data.family", "parameters", "data.problem.history",
               "data.problem.future"]
    covered = [row.key for row in FNO_BURGERS]
    assert not sorted(set(needed) - set(covered)), sorted(set(needed) - set(covered))
    assert len(set(covered)) == len(covered), "a key has two rows"
    for row in FNO_BURGERS:
        assert row.source and (row.ours == row.official if row.kind == "same" else bool(row.note)), row


def test_the_network_has_the_official_real_parameter_count():
    """count_params in the script counts the (real, imaginary) pair of each spectral weight: 549,569
    without BatchNorm (4 x 64 x 64 x 16 x 2 spectral + 4 x (64 x 64 + 64) + 192 + 8,320 + 129)."""
    cfg = compose_config(["experiment=fno_burgers_paper"])
    net = instantiate(OmegaConf.to_container(cfg.model.net), in_steps=1, in_channels=1, out_steps=1, out_channels=1)
    real = sum(p.numel() * (2 if p.is_complex() else 1) for p in net.parameters())
    assert real == 4 * 64 * 64 * 16 * 2 + 4 * (64 * 64 + 64) + (2 * 64 + 64) + (64 * 128 + 128) + (128 + 1) == 549_569
    spectral = net.net.fno_blocks.convs[0].weight.tensor.detach()
    assert tuple(spectral.shape) == (64, 64, 16)
    # the original law: real and imaginary parts uniform on [0, 1 / 64^2)
    for part in (spectral.real, spectral.imag):
        assert 0 <= float(part.min()) and float(part.max()) < 1 / 64 ** 2
        assert float(part.mean()) == pytest.approx(0.5 / 64 ** 2, rel=0.05)


def test_the_network_maps_1d_fields_and_refuses_2d_grids():
    cfg = compose_config(["experiment=fno_burgers_paper"])
    net = instantiate(OmegaConf.to_container(cfg.model.net), in_steps=1, in_channels=1, out_steps=1, out_channels=1)
    assert net(torch.randn(3, 1, 1, 64, 1)).shape == (3, 1, 1, 64, 1)
    with pytest.raises(ValueError, match="a 1D FNO .* takes 1D data"):
        net.check_grid((64, 64))


def test_learning_rate_is_halved_every_100_epochs():
    from types import SimpleNamespace
    from pdebench_x.training.task import OperatorTask
    cfg = compose_config(["experiment=fno_burgers_paper"])
    recipe = OmegaConf.to_container(cfg.model.recipe, resolve=True)
    trainer = SimpleNamespace(max_epochs=500, estimated_stepping_batches=500 * 50)
    configured = OperatorTask.configure_optimizers(SimpleNamespace(recipe=recipe, model=torch.nn.Linear(1, 1),
                                                                   trainer=trainer))
    schedule, got = configured["lr_scheduler"]["scheduler"], []
    for _ in range(500):
        got.append(schedule.get_last_lr()[0])
        configured["optimizer"].step()
        schedule.step()
    assert configured["lr_scheduler"]["interval"] == "epoch"
    assert got == pytest.approx([1e-3 * 0.5 ** (epoch // 100) for epoch in range(500)], rel=1e-12)


def test_paper_configuration_on_other_data_is_refused():
    with pytest.raises(SettingError, match="experiment=fno_burgers_paper is written for data=burgers"):
        check_run_settings(compose_config(["experiment=fno_burgers_paper", "data=darcy"]))
