"""The FNO paper configurations against the official scripts (compose only: seconds).

One table per configuration, as tests/test_recipes_mgno_sinenet.py (its ``Row``: a setting, the
value the composed configuration must have, the official value, the official file and line; "same",
"restated" in our terms, or "kept" on purpose with the reason, which the experiment yaml also
states). The tables are the one source of truth: a configuration departing from them fails here,
and so does a setting no row covers.

The scripts are those of github zongyi-li/fourier_neural_operator at 6f1d6fe8 (2021-01-28, "remove
unnecessary batchnorms"): fourier_1d.py (Burgers, sec. 5.1) and fourier_2d.py (Darcy, sec. 5.2), the
paper's scripts without their BatchNorm; fourier_2d_time.py (Navier-Stokes, sec. 5.3) as the paper
used it, BatchNorm included (unchanged since 0acad9c4, 2021-01-19; the later commits fix its input
channel order, port it to torch 1.8 and change its activation, padding and optimiser). The data laws:
data_generation/ at 2421c8f1 (Burgers, Darcy) and 6f1d6fe8 (Navier-Stokes) with the paper's
parameters.
"""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from conftest import compose_config
from pdebench_x.data.build import generator_class, plan_from_config
from pdebench_x.training.common import build_datamodule
from pdebench_x.training.preflight import SettingError, check_run_settings
from pdebench_x.training.task import OperatorTask
from test_recipes_mgno_sinenet import Row, assert_equals_table, assert_every_setting_has_a_row, kept, lookup, restated, same

FNO_REPO = "github zongyi-li/fourier_neural_operator"
BURGERS_SCRIPT = "fourier_1d.py @ 6f1d6fe8"
DARCY_SCRIPT = "fourier_2d.py @ 6f1d6fe8"
NS_SCRIPT = "fourier_2d_time.py @ 6f1d6fe8"
README = "README.md @ 6f1d6fe8"
BURGERS_DATA = "data_generation/burgers @ 2421c8f1"
DARCY_DATA = "data_generation/darcy @ 2421c8f1"
NS_DATA = "data_generation/ns_2d.py @ 6f1d6fe8"
PAPER = "Li et al., ICLR 2021"

TWO_D_MODES = ("the package keeps n = 24 centred rows (frequencies -12..11) and 22 // 2 + 1 = 12 real-FFT "
               "columns (test_the_package_keeps_the_scripts_modes)")
def _batch_sum(terms: str, divisor: int) -> str:
    return (f"LpLoss(size_average=False) sums over {terms} and Adam adds the decay to that gradient: with our "
            f"mean the same Adam step divides weight decay and eps by {divisor}")


def _fno_net(script: str, lines: dict[str, str], block: str, n_modes: list[int], modes: str, modes_how: str,
             width: int, lifted: str, projection_ratio: float) -> list[Row]:
    """neuraloperator's FNO set up as the script's network: one linear lifting, 4 layers u' = K u + W u
    with ReLU between them, projection width -> 128 -> 1, the original uniform spectral weights."""
    return [
        restated("model.net._target_", "pdebench_x.models.fno.FNO", block, f"{script}:{lines['block']}",
                 f"neuraloperator's FNO set up as {block}"),
        restated("model.net.n_modes", n_modes, modes, f"{script}:{lines['modes']}", modes_how),
        same("model.net.hidden_channels", width, f"{script}:{lines['width']} (width)"),
        same("model.net.n_layers", 4, f"{script}:{lines['layers']} (conv0..3, w0..3)"),
        restated("model.net.lifting_channel_ratio", 0, f"nn.Linear({lifted}, width)", f"{script}:{lines['fc0']} (fc0)",
                 "ratio 0: the package's lifting is one linear layer of (inputs, grid)"),
        restated("model.net.projection_channel_ratio", projection_ratio, f"Linear({width}, 128), ReLU, Linear(128, 1)",
                 f"{script}:{lines['fc12']} (fc1, fc2)", f"hidden width {projection_ratio:g} x {width} = 128"),
        restated("model.net.use_channel_mlp", False, "u' = K u + W u", f"{script}:{lines['layer']}",
                 "no per-layer MLP: spectral convolution plus 1x1 convolution only"),
        same("model.net.activation", "relu", f"{script}:{lines['relu']} (F.relu; none after the last layer)"),
        restated("model.net.spectral_init", "uniform",
                 "scale * torch.rand(in, out, modes..., 2), scale = 1 / (in * out)", f"{script}:{lines['init']}",
                 "our name for that law"),
    ]


def _adam_step_recipe(script: str, lines: dict[str, str], lr: float, divisor: int, why: str) -> list[Row]:
    """What the three scripts share: torch's Adam with weight decay 1e-4 on a batch-sum loss,
    StepLR(100, 0.5) stepped once per epoch, 500 epochs of batches of 20, the last epoch's model."""
    return [
        same("model.recipe.optimizer._target_", "torch.optim.Adam", f"{script}:{lines['adam']}"),
        same("model.recipe.optimizer.lr", lr, f"{script}:{lines['lr']}"),
        restated("model.recipe.optimizer.weight_decay", 1e-4 / divisor, 1e-4, f"{script}:{lines['adam']}", why),
        restated("model.recipe.optimizer.eps", 1e-8 / divisor, 1e-8, f"{script}:{lines['adam']} (torch's default eps)",
                 why),
        restated("model.recipe.scheduler.name", "step", "StepLR", f"{script}:{lines['scheduler']}", "our name"),
        same("model.recipe.scheduler.step_epochs", 100, f"{script}:{lines['step_size']} (step_size)"),
        same("model.recipe.scheduler.gamma", 0.5, f"{script}:{lines['gamma']}"),
        same("model.recipe.scheduler.interval", "epoch",
             f"{script}:{lines['epoch_step']} (scheduler.step() once per epoch)"),
        same("model.recipe.scheduler.warmup_epochs", 0, f"{script}:{lines['scheduler']} (no warm-up)"),
        same("model.recipe.selection", "last", f"{script}:{lines['last']} (the model after the last epoch is tested)"),
        same("data.batch_size", 20, f"{script}:{lines['batch']}"),
        same("trainer.max_epochs", 500, f"{script}:{lines['epochs']}"),
    ]


def _one_call_last_epoch(script: str, call: str, validation: str) -> list:
    """The rows of a script that trains one call per sample and tests its last epoch."""
    return [
        same("model.recipe.train_mode", "one_step", f"{script}:{call}"),
        same("model.recipe.unroll_steps", None, f"{script}:{call}"),
        same("model.recipe.pushforward", None, f"{script}:{call}"),
        kept("model.recipe.monitor", "val/loss", "none (no validation split)", f"{script}:{validation}",
             "validation is logged for the learning curve; selection=last ignores it for the test"),
    ]


# ------------------------------------------------------------------------------------ Burgers (1D)
FNO_BURGERS = [
    *_fno_net(BURGERS_SCRIPT, dict(block="66-140", modes="45,57,167 (modes1: rfft modes 0..15)", width="168",
                                   layers="84-91", fc0="82", fc12="94-95,121-123", layer="102-118",
                                   relu="105,110,115,122", init="47-48"),
              "Net1d(SimpleBlock1d)", [30], 16, "the package keeps n // 2 + 1 = 16 real-FFT modes on the last axis",
              64, "2", 2),
    restated("parameters", 287_425, 549_569, f"{BURGERS_SCRIPT}:142-147 (count_params: the 2 of each complex weight)",
             "count_parameters counts a complex weight once: 262,144 complex spectral weights, 549,569 real "
             "numbers (test_the_network_has_the_official_real_parameter_count)"),
    same("model.recipe.loss", "rel_l2", f"{BURGERS_SCRIPT}:205,216 (LpLoss relative L2)"),
    same("model.recipe.loss_space", "physical", f"{BURGERS_SCRIPT}:213-216 (loss on the output vs the raw target)"),
    *_adam_step_recipe(BURGERS_SCRIPT, dict(adam="202", lr="161", scheduler="203", step_size="164", gamma="165",
                                            epoch_step="226", last="243-256", batch="160", epochs="163"),
                       1e-3, 20, _batch_sum("the batch", 20)),
    *_one_call_last_epoch(BURGERS_SCRIPT, "209-216 (u0 -> u(1), one call)", "227-236"),
    same("model.recipe.val_loss", None, f"{BURGERS_SCRIPT}:205 (the training loss)"),
    same("model.recipe.rollout_loss", None, f"{BURGERS_SCRIPT}:236 (one relative L2 of the single step)"),
    same("model.recipe.gradient_clip_val", None, f"{BURGERS_SCRIPT}:206-220 (no clipping)"),
    same("model.recipe.normalization", "none", f"{BURGERS_SCRIPT}:176-190 (raw a and u)"),
    same("model.recipe.input_normalization", None, f"{BURGERS_SCRIPT}:176-190 (raw a, as u)"),
    same("model.recipe.steps_per_epoch", None, f"{BURGERS_SCRIPT}:190,208 (one pass over the 1000 samples)"),
    same("data.family", "burgers", f"{BURGERS_SCRIPT}:176 (burgers_data_R10.mat)"),
    same("data.problem.history", 1, f"{BURGERS_SCRIPT}:177 (a: the initial field)"),
    same("data.problem.future", 1, f"{BURGERS_SCRIPT}:178 (u: the field at t = 1)"),
    same("dataset.settings.initial", "grf1", f"{BURGERS_DATA}/gen_burgers1.m:27 (GRF1, periodic)"),
    same("dataset.settings.grf_sigma", 25.0, f"{PAPER}, sec. 5.1 (625 = sigma^2); {BURGERS_DATA}/GRF1.m:2,18"),
    same("dataset.settings.grf_tau", 5.0, f"{PAPER}, sec. 5.1 (25 I = tau^2 I); {BURGERS_DATA}/GRF1.m:2,18"),
    same("dataset.settings.grf_gamma", 2.0, f"{PAPER}, sec. 5.1 (the power -2); {BURGERS_DATA}/GRF1.m:2,18"),
    same("dataset.settings.viscosity", 0.1, f"{PAPER}, sec. 5.1 (nu = 0.1, the R10 file); {BURGERS_SCRIPT}:176 "
         "(burgers_data_R10.mat: our reading of R10 is 1 / nu = 10; the repository's gen_burgers1.m:10 uses nu = 1e-3, "
         "its burgers_v1000 files: preset fno_v1000)"),
    same("dataset.settings.length", 1.0, f"{BURGERS_DATA}/burgers1.m:3 (spinop([0 1], ...))"),
    same("dataset.settings.t_end", 1.0, f"{BURGERS_DATA}/gen_burgers1.m (tspan = linspace(0, 1, ...)); {PAPER}"),
    same("dataset.settings.draw_resolution", 8192, f"{BURGERS_DATA}/gen_burgers1.m:27 (GRF1(s/2, ...)) with s = 2^13 "
         f"({BURGERS_SCRIPT}:156-157)"),
    same("dataset.settings.resolution", 1024, f"{BURGERS_SCRIPT}:156-157,177-178 (sub = 2^3: 8192 / 8)"),
    kept("dataset.settings.time_step", 1e-3, 1e-4, f"{BURGERS_DATA}/burgers1.m:7 (spin's ETDRK4 step)",
         "our ETDRK4 at 1e-3 on 1024 points agrees with 8192 points at 1e-4 to 2.0e-9 (tests/test_burgers_fno.py)"),
    same("dataset.settings.n_frames", 2, f"{BURGERS_SCRIPT}:177-178 (a = u(0), u = u(1))"),
    same("dataset.sizes.train", 1000, f"{BURGERS_SCRIPT}:153 (ntrain)"),
    kept("dataset.sizes.test", 200, 100, f"{BURGERS_SCRIPT}:154,182-183 (the last 100 of the file)",
         "the issue's 200-sample test split: we report the mean over all 200"),
    restated("dataset.sizes.valid", 100, "none", f"{BURGERS_SCRIPT}:180-183",
             "100 samples validate the learning curve (not used for selection)"),
    same("dataset.boundary", ["periodic"], f"{BURGERS_DATA}/burgers1.m:3 (spinop: periodic)"),
]

# ------------------------------------------------------------------------------------ Darcy (2D)
FNO_DARCY = [
    *_fno_net(DARCY_SCRIPT, dict(block="70-158", modes="47-52,61-64,176 (rows 0..11 and -12..-1, rfft columns 0..11)",
                                 width="177", layers="92-99", fc0="90", fc12="102-103,131-134", layer="112-129",
                                 relu="115,120,125,133", init="50-52"),
              "Net2d(SimpleBlock2d)", [24, 22], "modes1 = modes2 = 12", TWO_D_MODES, 32, "3", 4),
    same("model.net.domain_padding", 0, f"{DARCY_SCRIPT}:54-68,105-135 (no padding: the FFT takes the 85 grid as "
         "periodic)"),
    restated("parameters", 1_188_353, 2_368_001, f"{DARCY_SCRIPT}:153-158,217 (count_params: the 2 of each complex "
             "weight)", "count_parameters counts a complex weight once: 1,179,648 complex spectral weights, 2,368,001 "
             "real numbers (test_the_network_has_the_official_real_parameter_count)"),
    same("model.recipe.loss", "rel_l2", f"{DARCY_SCRIPT}:222,236 (LpLoss relative L2)"),
    same("model.recipe.loss_space", "physical", f"{DARCY_SCRIPT}:233-236 (decoded output vs decoded target)"),
    *_adam_step_recipe(DARCY_SCRIPT, dict(adam="219", lr="170", scheduler="220", step_size="173", gamma="174",
                                          epoch_step="243", last="224-262", batch="169", epochs="172"),
                       1e-3, 20, _batch_sum("the batch", 20)),
    *_one_call_last_epoch(DARCY_SCRIPT, "228-236 (a -> u, one call)", "245-262"),
    same("model.recipe.val_loss", None, f"{DARCY_SCRIPT}:222 (the training loss)"),
    same("model.recipe.rollout_loss", None, f"{DARCY_SCRIPT}:233 (a steady problem: one call, no rollout)"),
    same("model.recipe.gradient_clip_val", None, f"{DARCY_SCRIPT}:231-240 (no clipping)"),
    same("model.recipe.normalization", "per_point",
         f"{DARCY_SCRIPT}:198-199,234-235, utilities3.py @ 6f1d6fe8 (UnitGaussianNormalizer of u per grid point: "
         "mean and unbiased std over the 1000 train samples, eps 1e-5; the output decoded, the loss on it)"),
    same("model.recipe.input_normalization", None,
         f"{DARCY_SCRIPT}:194-196 (a encoded with the same per-point class, fitted on the train a)"),
    same("model.recipe.steps_per_epoch", None, f"{DARCY_SCRIPT}:210,228 (one pass over the 1000 samples)"),
    same("data.family", "darcy", f"{DARCY_SCRIPT}:163-164 (piececonst_r421_N1024_smooth1/2.mat)"),
    same("data.problem.inputs", ["a"], f"{DARCY_SCRIPT}:187 (coeff)"),
    same("data.problem.targets", ["u"], f"{DARCY_SCRIPT}:188 (sol)"),
    same("dataset.settings.alpha", 2.0, f"{PAPER}, sec. 5.2 ((-Laplacian + 9 I)^-2); {DARCY_DATA}/demo.m:13"),
    same("dataset.settings.tau", 3.0, f"{PAPER}, sec. 5.2 (9 I = tau^2 I); {DARCY_DATA}/demo.m:14"),
    same("dataset.settings.a_pos", 12.0,
         f"{PAPER}, sec. 5.2 (psi = 12 where the field is >= 0); {DARCY_DATA}/demo.m:26"),
    same("dataset.settings.a_neg", 3.0, f"{PAPER}, sec. 5.2 (psi = 3 where it is < 0; demo.m:27's 4 is a demo value)"),
    same("dataset.settings.forcing", 1.0, f"{PAPER}, sec. 5.2 (f = 1); {DARCY_DATA}/demo.m:29-30"),
    same("dataset.settings.grid", "nodes", f"{DARCY_DATA}/solve_gwf.m:9 (nodes 0:1/(K-1):1); {DARCY_SCRIPT}:179-181"),
    same("dataset.settings.solve_resolution", 421, f"{DARCY_SCRIPT}:163-164 (r421)"),
    same("dataset.settings.resolution", 85, f"{DARCY_SCRIPT}:179-181,187-192 (r = 5: (421 - 1) / 5 + 1 = 85)"),
    same("dataset.sizes.train", 1000, f"{DARCY_SCRIPT}:166,187-188 (the first 1000 of smooth1)"),
    same("dataset.sizes.test", 100, f"{DARCY_SCRIPT}:167,191-192 (the first 100 of smooth2)"),
    restated("dataset.sizes.valid", 100, "none", f"{DARCY_SCRIPT}:186-192",
             "100 samples validate the learning curve (not used for selection)"),
    restated("dataset.boundary", ["dirichlet"], "u = 0 on the boundary nodes", f"{DARCY_DATA}/solve_gwf.m:14-30 "
             "(unknowns at the interior nodes only)", "our name for it"),
]


# ------------------------------------------------------------------------------------ Navier-Stokes (2D + time)
def _fno_ns(horizon: int, last_frame_how: str, data: list[Row]) -> list[Row]:
    """fourier_2d_time.py predicting ``horizon`` frames from 10, on the data rows ``data``."""
    return [
        *_fno_net(NS_SCRIPT, dict(block="71-162", modes="48-53,62-65,174 (rows 0..11 and -12..-1, rfft columns 0..11)",
                                  width="175", layers="94-101", fc0="91", fc12="108-109,135-138", layer="118-132",
                                  relu="121,125,129,137", init="51-53"),
                  "Net2d(SimpleBlock2d)", [24, 22], "modes = 12", TWO_D_MODES, 20, "12", 6.4),
        restated("parameters", 465_717, 926_517, f"{NS_SCRIPT}:102-105,157-162,246 (count_params, BatchNorm2d included)",
                 "count_parameters counts a complex weight once: 460,800 complex spectral weights, 926,517 real "
                 "numbers, the script's count (test_the_network_has_the_official_real_parameter_count)"),
        same("model.net.block_norm", "batch", f"{NS_SCRIPT}:102-105,120,124,128,132 (bn(x1 + x2), then ReLU but "
             "after the last)"),
        restated("model.recipe.loss", "rel_l2_per_field", "LpLoss(size_average=False) summed over the steps",
                 f"{NS_SCRIPT}:251,265-268", "relative L2 per (sample, step) of the one field, averaged: the official "
                 f"sum over batch and steps divided by 20 x {horizon}"),
        same("model.recipe.loss_space", "physical", f"{NS_SCRIPT}:266-268 (the raw prediction vs the raw target)"),
        *_adam_step_recipe(NS_SCRIPT, dict(adam="247", lr="181", scheduler="248", step_size="182", gamma="183",
                                           epoch_step="313", last="255-315", batch="177", epochs="180"),
                           2.5e-3, 20 * horizon,
                           _batch_sum(f"the batch, the loop over the {horizon} steps", 20 * horizon)),
        restated("model.recipe.train_mode", "unroll", f"{horizon} calls, each fed the last prediction, one backward",
                 f"{NS_SCRIPT}:265-285", "our name"),
        same("model.recipe.unroll_steps", horizon, f"{NS_SCRIPT}:265 (for t in range(0, T, step): T = {horizon})"),
        same("model.recipe.pushforward", None, f"{NS_SCRIPT}:283 (loss.backward() through every call)"),
        kept("model.recipe.monitor", "val/loss", "none (no validation split)", f"{NS_SCRIPT}:287-315",
             "validation is logged for the learning curve; selection=last ignores it for the test"),
        restated("model.recipe.val_loss", None, "none", f"{NS_SCRIPT}:287-315",
                 "null: the training loss of one step, logged only"),
        restated("model.recipe.rollout_loss", None, "LpLoss of the whole predicted trajectory",
                 f"{NS_SCRIPT}:279,310 (l2_full, test_l2_full)", "null: FNO's relative L2 of the whole rollout per "
                 "sample, the same quantity"),
        same("model.recipe.gradient_clip_val", None, f"{NS_SCRIPT}:282-285 (no clipping)"),
        same("model.recipe.normalization", "none", f"{NS_SCRIPT}:206-229 (raw vorticity)"),
        same("model.recipe.input_normalization", None, f"{NS_SCRIPT}:206-229 (the raw input frames, as the targets)"),
        same("model.recipe.steps_per_epoch", None, f"{NS_SCRIPT}:231,260 (one pass over the 1000 trajectories)"),
        same("data.family", "ns", f"{README}:38 (the Navier-Stokes data)"),
        same("data.problem.history", 10, f"{NS_SCRIPT}:198,207 (T_in = 10 input frames)"),
        same("data.problem.future", 1, f"{NS_SCRIPT}:200,266 (step = 1 frame per call)"),
        restated("data.problem.first_frame", 1, "u[..., 0]", f"{NS_SCRIPT}:207",
                 "the file's u starts at t = 1 (w(0) is stored apart): our frame 1"),
        restated("data.problem.last_frame", None, f"u[..., T_in:T_in + T], T = {horizon}", f"{NS_SCRIPT}:198-199,208",
                 last_frame_how),
        same("dataset.settings.resolution", 64, f"{NS_SCRIPT}:196-197 (sub = 1, S = 64); {README}:38-39"),
        same("dataset.sizes.train", 1000, f"{NS_SCRIPT}:171,207-208 (the first 1000)"),
        same("dataset.sizes.test", 200, f"{NS_SCRIPT}:172,211-212 (the last 200)"),
        restated("dataset.sizes.valid", 100, "none", f"{NS_SCRIPT}:206-212",
                 "100 samples validate the learning curve (not used for selection)"),
        same("dataset.boundary", ["periodic"], f"{NS_DATA}:138-143 (the torus: linspace(0, 1, s + 1)[:-1])"),
        *data,
    ]


FNO_NS = _fno_ns(40, "null: our last frame, t = 50: 40 frames predicted (the paper's T = 50; the script's T = 10 "
                     "is for its 20-frame file)", [
    same("dataset.settings.viscosity", 1e-3, f"{README}:38 (NavierStokes_V1e-3_N5000_T50); {NS_DATA}:166"),
    same("dataset.settings.n_steps", 50, f"{README}:38-39 ([5000, 64, 64, 50]: t = 1..50); {PAPER}, sec. 5.3"),
    kept("dataset.settings.solve_resolution", "auto", 256, f"{NS_DATA}:129 (s = 256)",
         "256 up to t = 2, then 64 within 1e-6 of the 256 solve (datasets/ns.md, 'Solve grid')"),
])
FNO_NS_1E5 = _fno_ns(10, "null: our last frame, t = 20: 10 frames predicted, the script's T", [
    same("dataset.settings.viscosity", 1e-5, f"{PAPER}, sec. 5.3 (nu = 1e-5, T = 20: NavierStokes_V1e-5_N1200_T20)"),
    same("dataset.settings.n_steps", 20, f"{PAPER}, sec. 5.3 (T = 20)"),
    same("dataset.settings.solve_resolution", 256, f"{NS_DATA}:129 (s = 256)"),
])

TABLES = {
    "fno_burgers_paper": FNO_BURGERS,
    "fno_darcy_paper": FNO_DARCY,
    "fno_ns_paper": FNO_NS,
    "fno_ns_1e5_paper": FNO_NS_1E5,
}


def _official(experiment: str, key: str):
    return next(row.official for row in TABLES[experiment] if row.key == key)


def _network(cfg):
    """The network the configuration trains, built for its data as the data module describes it."""
    problem = cfg.data.problem
    padding = "circular" if lookup(cfg, "dataset.boundary") == ["periodic"] else "zeros"
    steps = 1 if problem.kind == "steady" else int(problem.history)
    return instantiate(OmegaConf.to_container(cfg.model.net, resolve=True), in_steps=steps, in_channels=1,
                       out_steps=1, out_channels=1, padding=padding)


# ------------------------------------------------------------------------------------ the tests
@pytest.mark.parametrize("experiment", sorted(TABLES))
def test_paper_configuration_equals_its_official_table(experiment):
    assert_equals_table(experiment, FNO_REPO, TABLES[experiment])


@pytest.mark.parametrize("experiment", sorted(TABLES))
def test_every_setting_has_a_row_saying_how_or_why(experiment):
    assert_every_setting_has_a_row(experiment, TABLES[experiment])


@pytest.mark.parametrize("experiment,width,lifted,spectral,batch_norm,official", [
    ("fno_burgers_paper", 64, 2, 64 * 64 * 16 * 2, False, 549_569),               # weights1 [64, 64, 16, 2]
    ("fno_darcy_paper", 32, 3, 2 * 32 * 32 * 12 * 12 * 2, False, 2_368_001),      # weights1, 2 [32, 32, 12, 12, 2]
    ("fno_ns_paper", 20, 12, 2 * 20 * 20 * 12 * 12 * 2, True, 926_517),           # the same at width 20, with BatchNorm
    ("fno_ns_1e5_paper", 20, 12, 2 * 20 * 20 * 12 * 12 * 2, True, 926_517),
])
def test_the_network_has_the_official_real_parameter_count(experiment, width, lifted, spectral, batch_norm, official):
    """count_params in the scripts counts the (real, imaginary) pair of each spectral weight: per
    layer the spectral weights and a 1x1 convolution (width^2 + width), then fc0 (lifted inputs ->
    width), fc1 (width -> 128) and fc2 (128 -> 1); fourier_2d_time.py adds a BatchNorm2d per layer
    (2 x width)."""
    cfg = compose_config([f"experiment={experiment}"])
    net = _network(cfg)
    real = sum(p.numel() * (2 if p.is_complex() else 1) for p in net.parameters())
    assert real == (4 * spectral + 4 * (width * width + width) + (lifted * width + width) + (width * 128 + 128) + 129
                    + (4 * 2 * width if batch_norm else 0))
    assert real == official
    # the original law: real and imaginary parts uniform on [0, 1 / width^2)
    for conv in net.net.fno_blocks.convs:
        weight = conv.weight.tensor.detach()
        for part in (weight.real, weight.imag):
            assert 0 <= float(part.min()) and float(part.max()) < 1 / width ** 2
            assert float(part.mean()) == pytest.approx(0.5 / width ** 2, rel=0.05)
    assert net.net.domain_padding is None, "the scripts pad nothing"


@pytest.mark.parametrize("experiment,grid", [
    ("fno_ns_paper", 64),
    ("fno_darcy_paper", 84),
    ("fno_darcy_paper", 85),   # odd: models/fno.py's CentredSpectralConv corrects the package's inverse shift
])
def test_the_package_keeps_the_scripts_modes(experiment, grid):
    """The configured network's first spectral convolution against the scripts' (fourier_2d.py:54-68,
    fourier_2d_time.py:55-69) written out: real FFT, rows 0..11 times weights1 and rows -12..-1 times
    weights2 on real-FFT columns 0..11, inverse FFT. The package's weight rows are the frequencies
    -12..11: weights1 is its rows 12..23, weights2 its rows 0..11. (Any FFT normalisation pair whose
    round trip is the identity gives the same map; the package adds its bias after.)"""
    cfg = compose_config([f"experiment={experiment}"])
    conv = _network(cfg).net.fno_blocks.convs[0]
    weight = conv.weight.tensor.detach()
    assert tuple(weight.shape[2:]) == (24, 12)
    x = torch.randn(2, weight.shape[0], grid, grid, generator=torch.Generator().manual_seed(0))
    spectrum = torch.fft.rfft2(x)
    kept_modes = torch.zeros(2, weight.shape[1], grid, grid // 2 + 1, dtype=torch.cfloat)
    kept_modes[:, :, :12, :12] = torch.einsum("bixy,ioxy->boxy", spectrum[:, :, :12, :12], weight[:, :, 12:])
    kept_modes[:, :, -12:, :12] = torch.einsum("bixy,ioxy->boxy", spectrum[:, :, -12:, :12], weight[:, :, :12])
    expected = torch.fft.irfft2(kept_modes, s=(grid, grid)) + conv.bias.detach()
    with torch.no_grad():
        torch.testing.assert_close(conv(x), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("experiment,shape", [("fno_darcy_paper", (3, 1, 1, 85, 85)),
                                              ("fno_ns_paper", (3, 10, 1, 64, 64))])
def test_the_network_maps_its_data(experiment, shape):
    net = _network(compose_config([f"experiment={experiment}"]))
    with torch.no_grad():
        assert net(torch.randn(shape)).shape == (3, 1, 1, *shape[-2:])


def test_the_1d_network_refuses_2d_grids():
    net = _network(compose_config(["experiment=fno_burgers_paper"]))
    assert net(torch.randn(3, 1, 1, 64, 1)).shape == (3, 1, 1, 64, 1)
    with pytest.raises(ValueError, match="a 1D FNO .* takes 1D data"):
        net.check_grid((64, 64))


@pytest.mark.parametrize("experiment", sorted(TABLES))
def test_learning_rate_is_halved_every_100_epochs(experiment):
    cfg = compose_config([f"experiment={experiment}"])
    recipe = OmegaConf.to_container(cfg.model.recipe, resolve=True)
    trainer = SimpleNamespace(max_epochs=500, estimated_stepping_batches=500 * 50)
    configured = OperatorTask.configure_optimizers(SimpleNamespace(recipe=recipe, model=torch.nn.Linear(1, 1),
                                                                   trainer=trainer))
    schedule, got = configured["lr_scheduler"]["scheduler"], []
    for _ in range(500):
        got.append(schedule.get_last_lr()[0])
        configured["optimizer"].step()
        schedule.step()
    lr = _official(experiment, "model.recipe.optimizer.lr")
    assert configured["lr_scheduler"]["interval"] == "epoch"
    assert got == pytest.approx([lr * 0.5 ** (epoch // 100) for epoch in range(500)], rel=1e-12)


@pytest.mark.parametrize("experiment,horizon", [("fno_ns_paper", 40), ("fno_ns_1e5_paper", 10)])
def test_training_unrolls_the_whole_horizon(experiment, horizon):
    """fourier_2d_time.py:265-285 trains on the whole predicted horizon, one window a trajectory: the
    horizon that validation and test roll out (every frame after the 10 context frames)."""
    cfg = compose_config([f"experiment={experiment}"])
    frames = lookup(cfg, "dataset.settings.n_steps") + 1
    assert frames - cfg.data.problem.first_frame - cfg.data.problem.history == horizon
    assert build_datamodule(cfg).target_steps == horizon


def test_the_fno_darcy_preset_stores_every_5th_of_421_nodes():
    """The preset is the smooth preset's law (FNO's r421 files) stored [::5], as fourier_2d.py:179-192 reads it."""
    plans = {preset: plan_from_config(compose_config([f"data.preset={preset}"]).data, "/nonexistent")
             for preset in ("fno", "smooth")}
    generators = {preset: generator_class("darcy")(**plan.generator) for preset, plan in plans.items()}
    assert not plans["fno"].customised
    assert {**generators["smooth"].settings, "resolution": 85} == generators["fno"].settings
    np.testing.assert_allclose(generators["fno"].describe().x, np.linspace(0, 1, 421)[::5], atol=1e-12)


@pytest.mark.parametrize("experiment,other", [("fno_burgers_paper", "darcy"), ("fno_darcy_paper", "ns"),
                                              ("fno_ns_paper", "darcy"), ("fno_ns_1e5_paper", "darcy")])
def test_paper_configuration_on_other_data_is_refused(experiment, other):
    with pytest.raises(SettingError, match=f"experiment={experiment} is written for data="):
        check_run_settings(compose_config([f"experiment={experiment}", f"data={other}"]))


@pytest.mark.parametrize("experiment", ["fno_darcy_paper", "fno_ns_paper", "fno_ns_1e5_paper"])
def test_paper_configurations_pass_the_settings_check_on_their_own(experiment, tmp_path):
    """`python train.py experiment=<x>` alone: its own data, its model on that grid, nothing generated."""
    check_run_settings(compose_config([f"experiment={experiment}"], data_dir=tmp_path))
    assert not any(tmp_path.iterdir())
