"""The one LightningModule for operator learning: input fields -> output fields.

Nothing in here is specific to a model: a model comes from its config (``net``), its training
scheme from its ``recipe`` (loss, loss space, optimiser, schedule, one-step or unrolled
training, the validation quantity that selects the checkpoint), and its auxiliary objectives
from :meth:`OperatorModel.forward_with_aux`.

Normalisation (``recipe.normalization``): ``dataset`` (default) normalises the inputs with the
train split's per-channel statistics and the predictions with the targets'; ``per_sample`` (PROSE-
FD's ``normalize: meanvar``) normalises every window of a sample, per channel, with the mean and
standard deviation of that window alone, its targets with the same statistics (see
:class:`WindowNormalizer`); ``none`` feeds the fields as they are (mean 0, std 1); ``per_point``
uses the train split's mean and standard deviation at each grid point (FNO's and MgNO's
``UnitGaussianNormalizer``; it ties the model to its grid). ``recipe.input_normalization``, where
set, normalises the inputs otherwise (MgNO's rough Darcy run: raw coefficient in, scaled output).
Predictions are decoded to physical units. The loss is computed in the space the recipe names
(``normalized``: the units the model works in); every metric in physical units.

Time-dependent data: the model maps ``in_steps`` frames to ``out_steps`` frames and is
rolled out autoregressively over the whole horizon for validation and test. Training is
one-step teacher forcing, or (``train_mode: unroll``) an unrolled rollout over
``unroll_steps`` calls (FNO-2D's recipe), optionally with the push-forward trick (gradients
through the last call only).
"""
from __future__ import annotations

import logging
import time
from typing import Any, Mapping

import lightning as L
import numpy as np
import torch
from hydra.utils import instantiate

from pdebench_x.data.datamodule import ProblemSpec
from pdebench_x.data.normalization import ChannelNormalizer, PointNormalizer
from pdebench_x.evaluation.gather import gather_accumulator
from pdebench_x.core.processes import gather_objects, strided_order, sum_over_processes
from pdebench_x.training.losses import build_loss
from pdebench_x.evaluation.metrics import MetricAccumulator, relative_l2_fno
from pdebench_x.models.base import count_parameters
from pdebench_x.training.optim import build_optimizer, build_scheduler, scheduler_interval

log = logging.getLogger(__name__)

TRAIN_MODES = ("one_step", "unroll")
NORMALIZATIONS = ("dataset", "per_sample", "none", "per_point")


class WindowNormalizer:
    """Per sample and channel, the mean and standard deviation of a window x [B, T, C, X, Y] over
    its frames and grid, as PROSE-FD's trainer (``normalize_data``, ``meanvar``): torch's unbiased
    std plus 1e-8. Encodes and decodes like :class:`ChannelNormalizer` (statistics [B, 1, C, 1, 1]).
    As there, a channel constant over the window (a velocity at rest) decodes to nearly that constant."""

    EPS = 1e-8

    def __init__(self, x: torch.Tensor) -> None:
        self.mean = x.mean(dim=(1, 3, 4), keepdim=True)
        self.std = x.std(dim=(1, 3, 4), keepdim=True) + self.EPS

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std

    def decode(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.std + self.mean


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss."""


class OperatorTask(L.LightningModule):
    def __init__(self, net: Mapping[str, Any], recipe: Mapping[str, Any], spec: Mapping[str, Any],
                 stats: Mapping[str, Any], model_name: str = "model") -> None:
        super().__init__()
        self.save_hyperparameters()
        self.spec = ProblemSpec(**spec)
        self.recipe = dict(recipe)
        self.model_name = model_name
        self.model = instantiate(dict(net), **self.spec.model_kwargs())
        self.normalization = self.recipe.get("normalization", "dataset")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(f"recipe.normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}")
        input_normalization = self.recipe.get("input_normalization") or self.normalization
        if input_normalization not in NORMALIZATIONS or (self.normalization == "per_sample") != (
                input_normalization == "per_sample"):
            raise ValueError(f"recipe.input_normalization must be one of {NORMALIZATIONS} (or null: as "
                             f"recipe.normalization), and per_sample for both or neither; got {input_normalization!r} "
                             f"with recipe.normalization={self.normalization!r}")
        self.in_norm = self._normalizer(input_normalization, self.spec.input_channels, stats)
        self.out_norm = self._normalizer(self.normalization, self.spec.target_channels, stats)
        self.loss_fn = build_loss(self.recipe.get("loss", "rel_l2"), **dict(self.recipe.get("loss_kwargs") or {}))
        # The validation quantities (one of them selects the checkpoint): val/loss with
        # recipe.val_loss (null: the training loss), val/rollout_loss with recipe.rollout_loss in
        # physical units (null: FNO's relative L2 over all frames and fields together).
        val_loss, rollout_loss = self.recipe.get("val_loss"), self.recipe.get("rollout_loss")
        self.val_loss_fn = build_loss(val_loss) if val_loss else None
        self.rollout_loss_fn = build_loss(rollout_loss) if rollout_loss else None
        self.loss_space = self.recipe.get("loss_space", "physical")
        if self.loss_space not in ("physical", "normalized"):
            raise ValueError(f"recipe.loss_space must be 'physical' or 'normalized', got {self.loss_space!r}")
        self.train_mode = self.recipe.get("train_mode", "one_step")
        if self.train_mode not in TRAIN_MODES:
            raise ValueError(f"recipe.train_mode must be one of {TRAIN_MODES}, got {self.train_mode!r}")
        if self.spec.kind == "rollout" and self.spec.input_channels != self.spec.target_channels:
            raise ValueError("a rollout feeds predictions back: input and target channels must match")
        if self.normalization == "per_sample" and self.spec.input_channels != self.spec.target_channels:
            raise ValueError(
                "recipe.normalization=per_sample normalises the targets with the statistics of the input window, "
                f"so inputs and targets must be the same fields; here {self.spec.input_channels} -> "
                f"{self.spec.target_channels}: use recipe.normalization=dataset")
        self.test_metrics: MetricAccumulator | None = None
        self.test_onestep: MetricAccumulator | None = None
        self.test_summary: dict[str, Any] = {}
        self.test_examples: tuple[torch.Tensor, torch.Tensor] | None = None
        self._inference_seconds = self._inference_cpu_seconds = 0.0
        #: (K, seed) of the per-instance solvers' test instances (set by whoever runs the test:
        #: training, the scorer); the test summary then gains the K-instance section. None: none.
        self.instance_choice: tuple[int, int | None] | None = None

    def _normalizer(self, kind: str, channels, stats: Mapping[str, Any]):
        """The normaliser of ``channels`` for ``recipe.[input_]normalization`` = ``kind``: the train split's
        per-channel statistics (``dataset``, and ``per_sample``, whose window statistics replace them when
        the model is called), the identity (``none``: the raw fields), or an empty per-point normaliser
        (``per_point``) that :meth:`fit_point_stats` or the checkpoint fills."""
        if kind == "per_point":
            return PointNormalizer(len(channels), self.spec.spatial_shape)
        if kind == "none":
            return ChannelNormalizer([0.0] * len(channels), [1.0] * len(channels))
        return ChannelNormalizer([stats["mean"][c] for c in channels], [stats["std"][c] for c in channels])

    @property
    def needs_point_stats(self) -> bool:
        return any(isinstance(norm, PointNormalizer) for norm in (self.in_norm, self.out_norm))

    def fit_point_stats(self, mean: Mapping[str, Any], std: Mapping[str, Any]) -> None:
        """Fit the per-point normalisers from {channel: [X, Y]} statistics of the train split."""
        for norm, channels in ((self.in_norm, self.spec.input_channels), (self.out_norm, self.spec.target_channels)):
            if isinstance(norm, PointNormalizer):
                norm.fit(np.stack([mean[c] for c in channels]), np.stack([std[c] for c in channels]))

    # -- prediction ------------------------------------------------------------------------------
    @property
    def n_parameters(self) -> int:
        return count_parameters(self.model)

    def make_cond(self, batch: Mapping[str, Any]) -> dict[str, Any] | None:
        if not getattr(self.model, "needs_cond", False):
            return None
        return {"family": self.spec.family, "scalars": batch.get("scalars", {})}

    def normalizers(self, x: torch.Tensor):
        """(inputs, targets) normalisers of a model call on the physical-unit window ``x``: the
        train split's (``none``: the identity, set in ``__init__``), or (``per_sample``) one built
        from ``x`` alone for both."""
        if self.normalization != "per_sample":
            return self.in_norm, self.out_norm
        window = WindowNormalizer(x)
        return window, window

    def encode_input(self, x: torch.Tensor) -> torch.Tensor:
        """The physical-unit window ``x`` in the units the model reads."""
        return self.normalizers(x)[0].encode(x)

    def decode(self, pred: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Physical units of ``pred``, a rollout from the window ``x`` (:meth:`rollout`'s units)."""
        return self.normalizers(x)[1].decode(pred)

    def rollout(self, x: torch.Tensor, steps: int, cond=None, grad_last_only: bool = False,
                with_aux: bool = False):
        """Autoregressive prediction of ``steps`` frames from physical-unit context ``x``.

        Returns the prediction in normalised units [B, steps, C, X, Y], those of the first call
        (:meth:`decode` with ``x`` gives physical units), and, with ``with_aux``, the auxiliary
        losses of the first call. Each call reads its window in its own units (per-sample
        normalisation: the statistics of that window).
        """
        in_norm, out_norm = self.normalizers(x)
        first_out, frames = out_norm, x
        window = in_norm.encode(x)
        outputs, aux, produced, call = [], {}, 0, 0
        n_calls = -(-steps // self.spec.out_steps)
        while produced < steps:
            last = call == n_calls - 1
            context = torch.set_grad_enabled(torch.is_grad_enabled() and (last or not grad_last_only))
            with context:
                if with_aux and call == 0:
                    out, aux = self.model.forward_with_aux(window, cond)
                else:
                    out = self.model(window, cond)
            outputs.append(out if out_norm is first_out else first_out.encode(out_norm.decode(out)))
            produced += out.shape[1]
            call += 1
            if produced < steps:
                # Predictions are targets-normalised; inputs share the channels in a rollout.
                frames = torch.cat([frames, out_norm.decode(out)], 1)[:, -self.spec.in_steps:]
                in_norm, out_norm = self.normalizers(frames)
                window = in_norm.encode(frames)
        pred = torch.cat(outputs, 1)[:, :steps]
        return (pred, aux) if with_aux else pred

    def predict_physical(self, x: torch.Tensor, steps: int | None = None, cond=None) -> torch.Tensor:
        return self.decode(self.rollout(x, steps or self.spec.out_steps, cond), x)

    def forward(self, x: torch.Tensor, cond=None) -> torch.Tensor:
        return self.predict_physical(x, cond=cond)

    # -- losses ----------------------------------------------------------------------------------
    def _loss(self, pred_norm: torch.Tensor, y: torch.Tensor, loss_fn: torch.nn.Module | None = None,
              x: torch.Tensor | None = None) -> torch.Tensor:
        """The loss of ``pred_norm``, a rollout from the window ``x`` (:meth:`rollout`'s units),
        against the physical targets ``y``; ``x`` is needed with per-sample normalisation only."""
        loss_fn = self.loss_fn if loss_fn is None else loss_fn
        if x is None:
            if self.normalization == "per_sample":
                raise ValueError("recipe.normalization=per_sample: the loss needs the input window x, whose "
                                 "statistics normalise the prediction and the targets")
            out_norm = self.out_norm
        else:
            out_norm = self.normalizers(x)[1]
        if self.loss_space == "physical":
            return loss_fn(out_norm.decode(pred_norm), y)
        return loss_fn(pred_norm, out_norm.encode(y))

    def training_step(self, batch, batch_idx):
        x, y = batch["x"], batch["y"]
        cond = self.make_cond(batch)
        pred, aux = self.rollout(x, y.shape[1], cond, with_aux=True,
                                 grad_last_only=bool(self.recipe.get("pushforward", False)))
        data_loss = self._loss(pred, y, x=x)
        loss = data_loss + sum(aux.values()) if aux else data_loss
        if not torch.isfinite(loss):
            saved = [cb.last_model_path or cb.best_model_path for cb in self.trainer.checkpoint_callbacks]
            ckpt = ", ".join(p for p in saved if p) or "none yet"
            raise NonFiniteLossError(
                f"loss is {loss.item()} at global step {self.global_step} (epoch {self.current_epoch}, batch "
                f"{batch_idx}); training stopped. Checkpoints kept (best, last): {ckpt}. Lower the learning rate, "
                "enable gradient clipping (recipe.gradient_clip_val) or check the data for NaNs.")
        self.log("train/loss", loss, prog_bar=True, batch_size=x.shape[0])
        for name, value in aux.items():
            self.log(f"train/{name}", value, batch_size=x.shape[0])
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_sums: dict[str, list[float]] = {}

    def _add_val(self, name: str, batch_mean: torch.Tensor, n: int) -> None:
        if not hasattr(self, "_val_sums"):
            self._val_sums = {}
        total = self._val_sums.setdefault(name, [0.0, 0])
        total[0] += float(batch_mean) * n
        total[1] += n

    def validation_step(self, batch, batch_idx):
        x, y = batch["x"], batch["y"]
        cond = self.make_cond(batch)
        one = self.rollout(x, self.spec.out_steps, cond)
        self._add_val("val/loss", self._loss(one, y[:, :self.spec.out_steps], self.val_loss_fn, x=x), x.shape[0])
        if self.spec.kind == "rollout":
            full = self.decode(self.rollout(x, y.shape[1], cond), x)
            rollout = (self.rollout_loss_fn(full, y) if self.rollout_loss_fn is not None
                       else relative_l2_fno(full, y).mean())
            self._add_val("val/rollout_loss", rollout, x.shape[0])

    def on_validation_epoch_end(self) -> None:
        # The mean over every validation sample, whatever their split over DDP processes. Not
        # Lightning's sync_dist: it averages the per-process sample counts in an integer tensor,
        # which is wrong when processes hold different numbers of samples (7 on 2: 4 + 3).
        for name in ("val/loss", "val/rollout_loss"):
            if name in getattr(self, "_val_sums", {}):
                total, n = sum_over_processes(*self._val_sums[name])
                # identical on every process; sync_dist only keeps Lightning from warning
                self.log(name, total / max(n, 1), prog_bar=True, sync_dist=True)

    # -- test: scored once, at the end -----------------------------------------------------------
    def on_test_epoch_start(self) -> None:
        self.test_metrics = MetricAccumulator(domain_area=self.spec.domain_area)
        self.test_onestep = MetricAccumulator(domain_area=self.spec.domain_area) if self.spec.kind == "rollout" else None
        self._inference_seconds, self._inference_cpu_seconds, self._n_test = 0.0, 0.0, 0
        self._test_indices: list[int] | None = []   # test-split index of each scored sample, in arrival order

    def test_step(self, batch, batch_idx):
        x, y = batch["x"], batch["y"]
        cond = self.make_cond(batch)
        if x.is_cuda:
            torch.cuda.synchronize()
        start, cpu_start = time.perf_counter(), time.process_time()
        pred = self.decode(self.rollout(x, y.shape[1], cond), x)
        if x.is_cuda:
            torch.cuda.synchronize()
        self._inference_seconds += time.perf_counter() - start
        # process CPU time too: the numerical solver's cost curve is timed so (evaluation/solver_cost.py)
        self._inference_cpu_seconds += time.process_time() - cpu_start
        self._n_test += x.shape[0]
        if batch_idx == 0:
            # A couple of test samples kept for the figures in the run directory.
            self.test_examples = (pred[:2].detach().cpu(), y[:2].detach().cpu())
        extra = self.model.extra_metrics(self.encode_input(x), cond)
        self.test_metrics.update(pred, y, extra=extra)
        if batch.get("index") is None or self._test_indices is None:
            self._test_indices = None    # a batch without indices: arrival order is taken as sample order
        else:
            self._test_indices += [int(i) for i in torch.as_tensor(batch["index"]).reshape(-1).tolist()]
        if self.test_onestep is not None:
            one = self.decode(self.rollout(x, self.spec.out_steps, cond), x)
            self.test_onestep.update(one, y[:, :self.spec.out_steps])

    def on_test_epoch_end(self) -> None:
        # Under DDP each process scored its own share of the test samples: gather them per
        # sample before summarising (an average of per-process summaries would be wrong for
        # max, rms and unequal shares).
        self.test_metrics = gather_accumulator(self.test_metrics)
        if self.test_onestep is not None:
            self.test_onestep = gather_accumulator(self.test_onestep)
        self._inference_seconds, self._inference_cpu_seconds, self._n_test = sum_over_processes(
            self._inference_seconds, self._inference_cpu_seconds, self._n_test)
        self._n_test = int(self._n_test)
        channels = self.spec.target_channels
        offset = self.spec.first_target_frame
        summary = {"rollout" if self.spec.kind == "rollout" else "steady": self.test_metrics.summary(channels, offset)}
        if self.test_onestep is not None:
            summary["one_step"] = self.test_onestep.summary(channels, offset)
        summary["inference_seconds_per_sample"] = self._inference_seconds / max(self._n_test, 1)
        summary["inference_cpu_seconds_per_sample"] = self._inference_cpu_seconds / max(self._n_test, 1)
        summary["n_test_samples"] = self._n_test
        if self.instance_choice is not None:
            section = self._instance_section()
            if section is not None:
                summary["instances"] = section
        self.test_summary = summary
        main = summary["rollout" if self.spec.kind == "rollout" else "steady"]["overall"]
        for name in ("relative_l2_fno", "nrmse", "rmse"):
            if name in main:
                # identical on every process (gathered above); sync_dist only keeps Lightning from warning
                self.log(f"test/{name}", float(main[name]), sync_dist=True)

    def _sample_order(self) -> list[int]:
        """The test-split index of each row of the gathered ``test_metrics`` (sample order under DDP)."""
        parts = gather_objects(self._test_indices)
        if any(p is None for p in parts):
            return list(range(self._n_test))
        flat = [i for p in parts for i in p]
        if len(parts) > 1:  # the rows were put in sample order by gather_accumulator: the same permutation
            flat = [flat[j] for j in strided_order([len(p) for p in parts]).tolist()]
        return flat

    def _instance_section(self) -> dict[str, Any] | None:
        """The metrics on the per-instance solvers' K test instances, from the per-sample values
        this test already holds (no second pass).

        Same instances: :func:`pdebench_x.evaluation.instances.select_instances` on (test-split size, K,
        seed), which depends on nothing else. Same frames: this test's targets are the frames
        ``first_target_frame .. + horizon`` (the window after the ``history`` context frames),
        the very frames a per-instance run predicts from the last context frame and is scored on.
        """
        from pdebench_x.evaluation.instances import instance_section, select_instances
        k, seed = self.instance_choice
        order = self._sample_order()
        if len(set(order)) != len(order):
            raise RuntimeError("a test sample was scored twice; the K-instance section needs one window per sample")
        n_test = len(order)
        if k > n_test:
            log.warning("K = %d instances requested but the test split has %d samples: no K-instance section "
                        "(lower data.n_instances)", k, n_test)
            return None
        indices = select_instances(n_test, k, seed)
        row = {sample: r for r, sample in enumerate(order)}
        missing = [i for i in indices if i not in row]
        if missing:
            raise RuntimeError(f"test samples {missing} of the K instances were not scored "
                               f"(indices seen: {sorted(row)[:10]}...)")
        return instance_section(self.test_metrics, [row[i] for i in indices], indices, k, seed, self.spec.kind,
                                self.spec.target_channels, self.spec.first_target_frame)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # neuraloperator's models add a non-tensor "_metadata" entry to state_dict(), which
        # neither weights-only loading nor strict loading accepts: keep checkpoints pure tensors.
        checkpoint["state_dict"].pop("_metadata", None)

    # -- optimisation ----------------------------------------------------------------------------
    def configure_optimizers(self):
        opt_cfg = self.recipe.get("optimizer") or {"_target_": "torch.optim.Adam", "lr": 1e-3}
        optimizer = build_optimizer(opt_cfg, self.model.parameters())
        schedule = self.recipe.get("scheduler")
        interval = scheduler_interval(schedule)
        total = self.trainer.estimated_stepping_batches
        epochs = max(self.trainer.max_epochs or 1, 1)
        if interval == "epoch":
            if (self.trainer.max_epochs or -1) < 1:
                raise ValueError("model.recipe.scheduler.interval=epoch needs an epoch budget "
                                 f"(trainer.max_epochs >= 1), got trainer.max_epochs={self.trainer.max_epochs}")
            # stepped once per epoch: a schedule of `epochs` steps, one per epoch
            scheduler = build_scheduler(schedule, optimizer, epochs, 1)
        else:
            scheduler = build_scheduler(schedule, optimizer, total, total // epochs)
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": interval}}
