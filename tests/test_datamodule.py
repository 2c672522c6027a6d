"""The datamodule and the task's data path: normalisation fitted on train only, predictions
and metrics in physical units, lazy per-sample reads, and the rollout windows.
"""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from pdebench_x.data.datamodule import PDEDataModule, WindowDataset
from pdebench_x.data.formats import DataFormatError, open_source
from pdebench_x.data.formats.well import WellSource, WellWriter
from pdebench_x.data.generators.base import SPLITS, BoundaryInfo, DatasetDescription, FieldInfo
from pdebench_x.models.base import OperatorModel
from pdebench_x.training.run import build_task

from conftest import TINY_TRAIN, copy_dataset, read_split


@pytest.fixture(scope="module")
def darcy_cfg(tiny_darcy):
    return tiny_darcy.config(TINY_TRAIN)


def make_dm(cfg, root, **kwargs) -> PDEDataModule:
    dm = PDEDataModule(cfg.data, root=root, **kwargs)
    dm.prepare_data()
    dm.setup()
    return dm


# ---------------------------------------------------------------------------------------
# Normalisation statistics
# ---------------------------------------------------------------------------------------

def test_statistics_come_from_the_train_split_only(tiny_darcy, darcy_cfg, tmp_path):
    reference = make_dm(darcy_cfg, tiny_darcy.root)
    mean, std = reference.stats
    # against the definition: one scalar per field over all train samples and cells
    for name in ("a", "u"):
        train = read_split(tiny_darcy.paths["train"], name).astype(np.float64)
        assert mean[name] == pytest.approx(train.mean(), rel=1e-10)
        assert std[name] == pytest.approx(train.std(), rel=1e-8)
    assert std["a"] > 1.0 and 0 < std["u"] < 1.0         # 3/12 coefficient, O(1e-2) pressure

    altered = copy_dataset(tiny_darcy, tmp_path)
    for split in ("valid", "test"):
        with h5py.File(altered.paths[split], "r+") as f:
            for name in ("a", "u"):
                f["t0_fields"][name][...] = f["t0_fields"][name][()] * 100.0 + 5.0
    dm = make_dm(darcy_cfg, altered.root)
    assert dm.stats == reference.stats
    # the valid/test data did change (the datamodule reads them): a check that can fail
    assert dm.dataset("valid")[0]["x"].mean() > 100

    # and altering train does move them (a fresh copy: the datamodule above holds its files open)
    altered_train = copy_dataset(tiny_darcy, tmp_path / "train_altered")
    with h5py.File(altered_train.paths["train"], "r+") as f:
        f["t0_fields/u"][0] = f["t0_fields/u"][0] + 1.0
    dm = make_dm(darcy_cfg, altered_train.root)
    assert dm.stats[0]["u"] != reference.stats[0]["u"] and dm.stats[0]["a"] == reference.stats[0]["a"]


class ScriptedModel(OperatorModel):
    """Returns whatever the test put in ``next_output`` (normalised units) and records its input."""

    def __init__(self, in_steps, in_channels, out_steps, out_channels, padding="zeros"):
        super().__init__(in_steps, in_channels, out_steps, out_channels, padding)
        self.next_output: torch.Tensor | None = None
        self.seen: torch.Tensor | None = None

    def forward(self, x, cond=None):
        self.seen = x.detach().clone()
        return self.next_output


def scripted_task(cfg, dm):
    task = build_task(cfg, dm)
    task.model = ScriptedModel(**dm.spec.model_kwargs())
    return task


def test_predictions_are_returned_in_physical_units(tiny_darcy, darcy_cfg):
    dm = make_dm(darcy_cfg, tiny_darcy.root)
    mean, std = dm.stats
    task = scripted_task(darcy_cfg, dm)
    batch = next(iter(dm.test_dataloader()))
    x = batch["x"]
    b = x.shape[0]
    for normalised_value in (0.0, 1.0, -2.5):
        task.model.next_output = torch.full((b, 1, 1, 16, 16), normalised_value)
        pred = task.predict_physical(x)
        assert pred.shape == (b, 1, 1, 16, 16)
        torch.testing.assert_close(pred, torch.full_like(pred, mean["u"] + normalised_value * std["u"]))
        # the model saw the input normalised with the train statistics of ``a``
        torch.testing.assert_close(task.model.seen, (x - mean["a"]) / std["a"])
    # the statistics travel in the checkpoint (state_dict), so scoring needs no train split
    state = task.state_dict()
    assert state["out_norm.mean"].item() == pytest.approx(mean["u"])
    assert state["in_norm.std"].item() == pytest.approx(std["a"])


def test_test_metrics_are_computed_in_physical_units(tiny_darcy, darcy_cfg):
    """A prediction of exactly 2 y scores relative L2 = 1 and RMSE = RMS(y) in physical units
    (in normalised units it would not: |y| / |y - mean| != 1)."""
    dm = make_dm(darcy_cfg, tiny_darcy.root)
    task = scripted_task(darcy_cfg, dm)
    task.on_test_epoch_start()
    ys = []
    for i, batch in enumerate(dm.test_dataloader()):
        task.model.next_output = task.out_norm.encode(2.0 * batch["y"])
        task.test_step(batch, i)
        ys.append(batch["y"].double())
    y = torch.cat(ys)
    overall = task.test_metrics.summary(["u"], 0)["overall"]
    assert task.test_metrics.n_samples == 4
    assert overall["relative_l2_fno"] == pytest.approx(1.0, rel=1e-5)
    expected_rmse = y.pow(2).mean(dim=(-2, -1)).sqrt().mean().item()
    assert overall["rmse"] == pytest.approx(expected_rmse, rel=1e-5)


# ---------------------------------------------------------------------------------------
# Lazy reads
# ---------------------------------------------------------------------------------------

@pytest.fixture
def read_log(monkeypatch):
    """Every per-channel read of a Well file: (split file stem suffix, sample index)."""
    log: list[tuple[str, int]] = []
    real = WellSource._read_channel

    def spy(self, index, name, times):
        log.append((self.path.rsplit("_", 1)[-1].split(".")[0], index))
        return real(self, index, name, times)
    monkeypatch.setattr(WellSource, "_read_channel", spy)
    return log


def test_reads_are_lazy_and_per_sample(tiny_darcy, darcy_cfg, read_log, monkeypatch):
    source = open_source(tiny_darcy.paths["train"])
    ds = WindowDataset(source, darcy_cfg.data.problem, train=True)
    assert len(ds) == 16 and read_log == []               # construction reads nothing

    h5_keys = []
    real_getitem = h5py.Dataset.__getitem__

    def getitem_spy(self, key, *args, **kwargs):
        if "_fields" in self.name:
            h5_keys.append(key)
        return real_getitem(self, key, *args, **kwargs)
    monkeypatch.setattr(h5py.Dataset, "__getitem__", getitem_spy)
    item = ds[5]
    assert sorted(read_log) == [("train", 5), ("train", 5)]   # a and u of sample 5, nothing else
    assert h5_keys and all(isinstance(k, tuple) and isinstance(k[0], int) for k in h5_keys)
    np.testing.assert_array_equal(item["x"][0, 0].numpy(), read_split(tiny_darcy.paths["train"], "a")[5])

    # setup reads train samples (statistics, capped by stats_max_samples) and never valid/test
    read_log.clear()
    cfg = tiny_darcy.config(TINY_TRAIN + ["+data.stats_max_samples=6"])
    make_dm(cfg, tiny_darcy.root)
    assert {split for split, _ in read_log} == {"train"}
    assert sorted({i for _, i in read_log}) == list(range(6))


# ---------------------------------------------------------------------------------------
# Rollout windows (time-dependent data)
# ---------------------------------------------------------------------------------------

T, NX, NY = 6, 4, 3
SPLIT_OFFSET = {"train": 0.0, "valid": 1000.0, "test": 2000.0}


def frame_code(split, sample, frame):
    """Every cell of frame ``frame`` of ``sample`` holds offset(split) + 100 sample + frame."""
    return SPLIT_OFFSET[split] + 100.0 * sample + frame


def decode(frames: torch.Tensor, split: str, sample: int) -> list[int]:
    """Frame numbers of a [T, 1, X, Y] window, checking each frame is constant."""
    out = []
    for f in frames[:, 0]:
        assert torch.all(f == f[0, 0])
        out.append(int(round(f[0, 0].item() - SPLIT_OFFSET[split] - 100.0 * sample)))
    return out


@pytest.fixture(scope="module")
def rollout_dir(tmp_path_factory):
    """A Well dataset dir <root>/{train,valid,test}/toy_<split>.hdf5 with T = 6 frames, 2 samples each.
    Frame 0 holds 1e6 (a frame before first_frame = 1, which must never be used)."""
    root = tmp_path_factory.mktemp("rollout")
    desc = DatasetDescription(
        family="toy", x=(np.arange(NX) + 0.5) / NX, y=(np.arange(NY) + 0.5) / NY, times=np.arange(T) * 0.1,
        fields=[FieldInfo("w", order=0, time_varying=True)],
        boundary_conditions=[BoundaryInfo("periodic", "periodic", ["x", "y"], ["w"])])
    for split in SPLITS:
        (root / split).mkdir()
        w = np.empty((2, T, NX, NY), dtype=np.float32)
        for s in range(2):
            for t in range(T):
                w[s, t] = frame_code(split, s, t) if t > 0 else 1e6
        writer = WellWriter(root / split / f"toy_{split}.hdf5", desc, 2, {"dataset_name": "toy"})
        writer.write(0, {"w": w})
        writer.finish()
    return root


def rollout_dm(root, target_steps=None, **problem):
    cfg = {"family": "toy", "path": str(root), "format": "auto", "batch_size": 3, "num_workers": 0,
           "problem": {"kind": "rollout", "fields": ["w"], "history": 2, "future": 1, "first_frame": 1, **problem}}
    dm = PDEDataModule(cfg, root="/nonexistent", target_steps=target_steps)
    dm.setup()
    return dm


def windows(dataset, split):
    """(sample, start, context frame numbers, target frame numbers) of every item."""
    items = (dataset[k] for k in range(len(dataset)))
    return [(it["index"], it["start"], decode(it["x"], split, it["index"]), decode(it["y"], split, it["index"]))
            for it in items]


def test_rollout_train_split_yields_every_window(rollout_dir):
    dm = rollout_dm(rollout_dir)
    got = windows(dm.dataset("train"), "train")
    # frames 1..5 usable; a window is 2 context + 1 target frames: starts 1, 2, 3
    expected = [(i, s, [s, s + 1], [s + 2]) for i in range(2) for s in range(1, 4)]
    assert got == expected
    # unrolled training: two target frames per window, so one start fewer
    got = windows(rollout_dm(rollout_dir, target_steps=2).dataset("train"), "train")
    assert got == [(i, s, [s, s + 1], [s + 2, s + 3]) for i in range(2) for s in range(1, 3)]


@pytest.mark.parametrize("split", ["valid", "test"])
def test_rollout_eval_splits_yield_one_window_with_the_whole_horizon(rollout_dir, split):
    dm = rollout_dm(rollout_dir)
    assert windows(dm.dataset(split), split) == [(i, 1, [1, 2], [3, 4, 5]) for i in range(2)]
    spec = dm.spec
    assert (spec.in_steps, spec.out_steps, spec.horizon, spec.first_target_frame) == (2, 1, 3, 3)
    assert spec.padding == "circular"
    batch = next(iter(dm.val_dataloader() if split == "valid" else dm.test_dataloader()))
    assert batch["x"].shape == (2, 2, 1, NX, NY) and batch["y"].shape == (2, 3, 1, NX, NY)
    # last_frame shortens the horizon; the context frames are still never targets
    shorter = rollout_dm(rollout_dir, last_frame=4).dataset(split)
    assert windows(shorter, split) == [(i, 1, [1, 2], [3, 4]) for i in range(2)]


def test_rollout_statistics_skip_frames_before_first_frame(rollout_dir):
    mean, std = rollout_dm(rollout_dir).stats
    train = np.array([frame_code("train", s, t) for s in range(2) for t in range(1, T)])
    assert mean["w"] == pytest.approx(train.mean()) and std["w"] == pytest.approx(train.std())


def test_rollout_window_that_does_not_fit_is_a_clear_error(rollout_dir):
    with pytest.raises(DataFormatError, match="cannot hold history 5"):
        rollout_dm(rollout_dir, history=5).dataset("train")
    with pytest.raises(DataFormatError, match="problem frames 1..9 do not fit"):
        rollout_dm(rollout_dir, last_frame=9)


def test_unknown_channel_in_the_data_config_is_a_clear_error(tiny_darcy):
    cfg = tiny_darcy.config(TINY_TRAIN + ["data.problem.inputs=[a,permeability]"])
    with pytest.raises(DataFormatError, match=r"no channel\(s\) \['permeability'\].*\['a', 'u'\]"):
        make_dm(cfg, tiny_darcy.root)


def test_cell_extent_recovers_domain_length_and_1d_axis_counts_as_unit():
    from pdebench_x.core.grid import cell_extent
    length, n = 2 * np.pi, 64
    centres = (np.arange(n) + 0.5) * length / n
    assert abs(cell_extent(centres) - length) < 1e-12
    # a 1D problem's single y coordinate: the "area" of the domain is then its length, not 0
    assert cell_extent(np.zeros(1)) == 1.0
