"""The one LightningModule for operator learning: input fields -> output fields.

Nothing in here is specific to a model: a model comes from its config (``net``), its training
scheme from its ``recipe`` (loss, loss space, optimiser, schedule, one-step or unrolled
training, the validation quantity that selects the checkpoint), and its auxiliary objectives
from :meth:`OperatorModel.forward_with_aux`.

Normalisation: inputs are normalised with the train split's per-channel statistics before
the model; predictions are decoded to physical units. The loss is computed in the space the
recipe names; every metric in physical units.

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
import torch
from hydra.utils import instantiate

from pdebench_x.data.datamodule import ProblemSpec
from pdebench_x.data.normalization import ChannelNormalizer
from pdebench_x.evaluation.gather import gather_accumulator
from pdebench_x.core.processes import gather_objects, strided_order, sum_over_processes
from pdebench_x.training.losses import build_loss
from pdebench_x.evaluation.metrics import MetricAccumulator, relative_l2_fno
from pdebench_x.models.base import count_parameters
from pdebench_x.training.optim import build_optimizer, build_scheduler

log = logging.getLogger(__name__)

TRAIN_MODES = ("one_step", "unroll")


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
        mean, std = stats["mean"], stats["std"]
        self.in_norm = ChannelNormalizer([mean[c] for c in self.spec.input_channels],
                                         [std[c] for c in self.spec.input_channels])
        self.out_norm = ChannelNormalizer([mean[c] for c in self.spec.target_channels],
                                          [std[c] for c in self.spec.target_channels])
        self.loss_fn = build_loss(self.recipe.get("loss", "rel_l2"), **dict(self.recipe.get("loss_kwargs") or {}))
        self.loss_space = self.recipe.get("loss_space", "physical")
        if self.loss_space not in ("physical", "normalized"):
            raise ValueError(f"recipe.loss_space must be 'physical' or 'normalized', got {self.loss_space!r}")
        self.train_mode = self.recipe.get("train_mode", "one_step")
        if self.train_mode not in TRAIN_MODES:
            raise ValueError(f"recipe.train_mode must be one of {TRAIN_MODES}, got {self.train_mode!r}")
        if self.spec.kind == "rollout" and self.spec.input_channels != self.spec.target_channels:
            raise ValueError("a rollout feeds predictions back: input and target channels must match")
        self.test_metrics: MetricAccumulator | None = None
        self.test_onestep: MetricAccumulator | None = None
        self.test_summary: dict[str, Any] = {}
        self.test_examples: tuple[torch.Tensor, torch.Tensor] | None = None
        self._inference_seconds = 0.0
        #: (K, seed) of the per-instance solvers' test instances (set by whoever runs the test:
        #: training, the scorer); the test summary then gains the K-instance section. None: none.
        self.instance_choice: tuple[int, int | None] | None = None

    # -- prediction ------------------------------------------------------------------------------
    @property
    def n_parameters(self) -> int:
        return count_parameters(self.model)

    def make_cond(self, batch: Mapping[str, Any]) -> dict[str, Any] | None:
        if not getattr(self.model, "needs_cond", False):
            return None
        return {"family": self.spec.family, "scalars": batch.get("scalars", {})}

    def rollout(self, x: torch.Tensor, steps: int, cond=None, grad_last_only: bool = False,
                with_aux: bool = False):
        """Autoregressive prediction of ``steps`` frames from physical-unit context ``x``.

        Returns the prediction in normalised units [B, steps, C, X, Y] (decode for physical
        units) and, with ``with_aux``, the auxiliary losses of the first call.
        """
        window = self.in_norm.encode(x)
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
            outputs.append(out)
            produced += out.shape[1]
            call += 1
            if produced < steps:
                # Predictions are targets-normalised; inputs share the channels in a rollout.
                window = torch.cat([window, self.in_norm.encode(self.out_norm.decode(out))], 1)[:, -self.spec.in_steps:]
        pred = torch.cat(outputs, 1)[:, :steps]
        return (pred, aux) if with_aux else pred

    def predict_physical(self, x: torch.Tensor, steps: int | None = None, cond=None) -> torch.Tensor:
        return self.out_norm.decode(self.rollout(x, steps or self.spec.out_steps, cond))

    def forward(self, x: torch.Tensor, cond=None) -> torch.Tensor:
        return self.predict_physical(x, cond=cond)

    # -- losses ----------------------------------------------------------------------------------
    def _loss(self, pred_norm: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.loss_space == "physical":
            return self.loss_fn(self.out_norm.decode(pred_norm), y)
        return self.loss_fn(pred_norm, self.out_norm.encode(y))

    def training_step(self, batch, batch_idx):
        x, y = batch["x"], batch["y"]
        cond = self.make_cond(batch)
        pred, aux = self.rollout(x, y.shape[1], cond, with_aux=True,
                                 grad_last_only=bool(self.recipe.get("pushforward", False)))
        data_loss = self._loss(pred, y)
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
        self._add_val("val/loss", self._loss(one, y[:, :self.spec.out_steps]), x.shape[0])
        if self.spec.kind == "rollout":
            full = self.out_norm.decode(self.rollout(x, y.shape[1], cond))
            self._add_val("val/rollout_loss", relative_l2_fno(full, y).mean(), x.shape[0])

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
        self._inference_seconds, self._n_test = 0.0, 0
        self._test_indices: list[int] | None = []   # test-split index of each scored sample, in arrival order

    def test_step(self, batch, batch_idx):
        x, y = batch["x"], batch["y"]
        cond = self.make_cond(batch)
        if x.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        pred = self.out_norm.decode(self.rollout(x, y.shape[1], cond))
        if x.is_cuda:
            torch.cuda.synchronize()
        self._inference_seconds += time.perf_counter() - start
        self._n_test += x.shape[0]
        if batch_idx == 0:
            # A couple of test samples kept for the figures in the run directory.
            self.test_examples = (pred[:2].detach().cpu(), y[:2].detach().cpu())
        extra = self.model.extra_metrics(self.in_norm.encode(x), cond)
        self.test_metrics.update(pred, y, extra=extra)
        if batch.get("index") is None or self._test_indices is None:
            self._test_indices = None    # a batch without indices: arrival order is taken as sample order
        else:
            self._test_indices += [int(i) for i in torch.as_tensor(batch["index"]).reshape(-1).tolist()]
        if self.test_onestep is not None:
            one = self.out_norm.decode(self.rollout(x, self.spec.out_steps, cond))
            self.test_onestep.update(one, y[:, :self.spec.out_steps])

    def on_test_epoch_end(self) -> None:
        # Under DDP each process scored its own share of the test samples: gather them per
        # sample before summarising (an average of per-process summaries would be wrong for
        # max, rms and unequal shares).
        self.test_metrics = gather_accumulator(self.test_metrics)
        if self.test_onestep is not None:
            self.test_onestep = gather_accumulator(self.test_onestep)
        self._inference_seconds, self._n_test = sum_over_processes(self._inference_seconds, self._n_test)
        self._n_test = int(self._n_test)
        channels = self.spec.target_channels
        offset = self.spec.first_target_frame
        summary = {"rollout" if self.spec.kind == "rollout" else "steady": self.test_metrics.summary(channels, offset)}
        if self.test_onestep is not None:
            summary["one_step"] = self.test_onestep.summary(channels, offset)
        summary["inference_seconds_per_sample"] = self._inference_seconds / max(self._n_test, 1)
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
        total = self.trainer.estimated_stepping_batches
        epochs = max(self.trainer.max_epochs or 1, 1)
        scheduler = build_scheduler(self.recipe.get("scheduler"), optimizer, total, total // epochs)
        if scheduler is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
