"""The public Python API (``pdebench_x.load_dataset``, ``pdebench_x.evaluate``): the README's
example runs as written; load_dataset gives the data module's windows and statistics; evaluate
gives in-memory predictions exactly the metrics a predictions file gets from the scorer, and
refuses wrong names, shapes, dtypes and splits with a clear message."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import pdebench_x
from conftest import TINY_DATA, compose_config
from pdebench_x.data.datamodule import PDEDataModule
from pdebench_x.leaderboard import fingerprint as fpm
from pdebench_x.leaderboard import scoring, store
from pdebench_x.leaderboard.scoring.predictions import score_predictions_file

REPO = Path(__file__).resolve().parents[1]
ZERO_SHOT = {"resolution": 32}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def readme_example() -> str:
    """The first python block of the README's "Use from your own code" section."""
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Use from your own code\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_example_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PDEBENCH_X_DATA", str(tmp_path / "data"))
    for var in ("PDEBENCH_X_BOARD", "PDEBENCH_X_ROOT"):   # the shipped fingerprints, as a user has them
        monkeypatch.delenv(var, raising=False)
    exec(compile(readme_example(), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    nrmse = float(re.search(r"nRMSE of the train mean: (\S+)", printed).group(1))
    # the train mean misses all of the variation of u: nRMSE is about std(u) / rms(u)
    assert nrmse == pytest.approx(0.551, abs=2e-3)


def test_import_stays_light():
    """``import pdebench_x`` loads neither torch nor Hydra: the API is imported on first use."""
    code = "import sys, pdebench_x; print(sorted(m for m in ('torch', 'hydra') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True,
                         env={"PYTHONPATH": str(REPO), "PATH": ""}).stdout
    assert out.strip() == "[]"
    from pdebench_x.data.api import PDEDataset, load_dataset
    from pdebench_x.leaderboard.api import evaluate
    assert (pdebench_x.PDEDataset, pdebench_x.load_dataset, pdebench_x.evaluate) == (PDEDataset, load_dataset, evaluate)


# ------------------------------------------------------------------------------------------
# load_dataset: the data module's windows
# ------------------------------------------------------------------------------------------
def _items_equal(a, b) -> None:
    assert a["index"] == b["index"] and a["start"] == b["start"]
    assert torch.equal(a["x"], b["x"]) and torch.equal(a["y"], b["y"])
    assert a["scalars"] == b["scalars"]


@pytest.mark.parametrize("split", ["train", "test"])
def test_load_dataset_gives_the_data_modules_windows(tiny_darcy, split):
    ds = pdebench_x.load_dataset("darcy", "small", split, root=tiny_darcy.root, overrides=TINY_DATA)
    module = PDEDataModule(tiny_darcy.config().data, root=tiny_darcy.root)
    module.setup()
    windows = module.dataset(split)
    assert isinstance(ds, pdebench_x.PDEDataset) and len(ds) == len(windows) > 0
    for i in range(len(ds)):
        _items_equal(ds[i], windows[i])
    mean, std = module.stats
    assert ds.mean == {k: float(v) for k, v in mean.items()} and ds.std == {k: float(v) for k, v in std.items()}
    assert ds.input_channels == ["a"] and ds.target_channels == ["u"] and ds.split == split
    assert ds.name == tiny_darcy.plan.name
    arrays = ds.numpy()
    assert arrays["y"].shape == (len(ds), 1, 1, 16, 16) and arrays["y"].dtype == np.float32
    np.testing.assert_array_equal(arrays["x"][0], ds[0]["x"].numpy())
    # the normaliser is training's (x - mean) / std, and decode undoes it
    y = torch.from_numpy(arrays["y"])
    norm = ds.normalizer()
    torch.testing.assert_close(norm.encode(y), (y - ds.mean["u"]) / ds.std["u"])
    torch.testing.assert_close(norm.decode(norm.encode(y)), y)


# ------------------------------------------------------------------------------------------
# evaluate: on a tiny official split (its own fingerprint, in a board of its own)
# ------------------------------------------------------------------------------------------
class Tiny:
    def __init__(self, root: Path) -> None:
        self.data, self.board = root / "data", root / "board"
        cfg = compose_config(TINY_DATA, data_dir=self.data)
        self.fp = fpm.make_fingerprint(cfg.data, self.data, progress=False, zero_shot_overrides=ZERO_SHOT,
                                       measure_samples=1)
        fpm.write_fingerprint(self.fp, store.fingerprints_dir(self.board))
        self.test = pdebench_x.load_dataset("darcy", "small", "test", root=self.data, overrides=TINY_DATA)
        self.y = self.test.numpy()["y"]                                   # [N, T, C, X, Y]

    def evaluate(self, predictions, split: str = "test") -> dict:
        return pdebench_x.evaluate(predictions, dataset=self.fp["dataset"], split=split, data_root=self.data,
                                   board=self.board)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, one_torch_thread) -> Tiny:
    return Tiny(tmp_path_factory.mktemp("api"))


def test_exact_predictions_score_zero_in_every_form(tiny):
    assert tiny.test.name == tiny.fp["dataset"]
    metrics = tiny.evaluate(tiny.y)
    overall = metrics["steady"]["overall"]
    assert overall["nrmse"] == 0.0 and overall["rmse"] == 0.0 and overall["max_error"] == 0.0
    assert metrics["steady"]["n_samples"] == len(tiny.test)
    assert tiny.evaluate({"u": tiny.y[:, :, 0]}) == metrics
    assert tiny.evaluate(torch.from_numpy(tiny.y).double()) == metrics
    assert tiny.evaluate({"u": torch.from_numpy(tiny.y[:, :, 0]).half()})["steady"]["n_samples"] == len(tiny.test)


def test_evaluate_gives_the_metrics_the_scorer_writes_for_a_file(tiny, tmp_path):
    pred = tiny.y[:, :, 0].astype(np.float64) * 1.1
    path = scoring.write_predictions(tmp_path / "p.h5", tiny.fp["dataset"], "scaled", 0, {"u": pred})
    entry, _ = score_predictions_file(path, tiny.fp, tiny.data)
    assert tiny.evaluate({"u": pred}) == entry["metrics"]
    assert entry["metrics"]["steady"]["overall"]["nrmse"] == pytest.approx(0.1, rel=1e-3)


def test_zero_shot_split_scored_at_its_resolution(tiny):
    zs = pdebench_x.load_dataset("darcy", "small", "test", root=tiny.data,
                                 overrides=[*TINY_DATA, f"data.generator.resolution={ZERO_SHOT['resolution']}"])
    assert zs.name == tiny.fp["zero_shot"]["dataset"]
    y = zs.numpy()["y"]
    assert y.shape[-2:] == (32, 32)
    assert tiny.evaluate(y, split="zero_shot")["steady"]["overall"]["nrmse"] == 0.0
    with pytest.raises(scoring.ScoringError, match=r"expected \[N, T, C, X, Y\] = \[4, 1, 1, 32, 32\]"):
        tiny.evaluate(tiny.y, split="zero_shot")


@pytest.mark.parametrize("defect, match", [
    ("shape", r"predictions has shape \[4, 1, 1, 8, 8\], expected \[N, T, C, X, Y\] = \[4, 1, 1, 16, 16\] "
              r"\(4 test samples, 1 scored frame\(s\), grid \[16, 16\], channels \['u'\]\)"),
    ("rows", r"predictions\['u'\] has shape \[3, 1, 16, 16\], expected \[N, T, X, Y\] = \[4, 1, 16, 16\]"),
    ("name", r"field names \['p'\] do not match the targets \['u'\] \(missing \['u'\]\) \(unexpected \['p'\]\)"),
    ("int", r"predictions has dtype int64; predictions must be real floating point \(float16, float32, float64\)"),
    ("complex", r"predictions\['u'\] has dtype complex128; predictions must be real floating point"),
    ("bfloat16", r"predictions has dtype torch.bfloat16; predictions must be real floating point"),
    ("nan", r"the predictions hold NaN or infinite values \(samples \[2\]"),
])
def test_wrong_predictions_refused_clearly(tiny, defect, match):
    y = tiny.y.copy()
    predictions = {
        "shape": y[..., ::2, ::2],
        "rows": {"u": y[:3, :, 0]},
        "name": {"p": y[:, :, 0]},
        "int": y.astype(np.int64),
        "complex": {"u": y[:, :, 0].astype(np.complex128)},
        "bfloat16": torch.from_numpy(y).bfloat16(),
        "nan": np.where(np.arange(len(y))[:, None, None, None, None] == 2, np.nan, y),
    }[defect]
    with pytest.raises(scoring.ScoringError, match=match):
        tiny.evaluate(predictions)


def test_unofficial_splits_and_datasets_refused(tiny):
    with pytest.raises(scoring.ScoringError, match=r"split='valid': evaluate scores the official splits"):
        tiny.evaluate(tiny.y, split="valid")
    with pytest.raises(fpm.FingerprintMissing, match="no fingerprint for dataset 'darcy_other'"):
        pdebench_x.evaluate(tiny.y, dataset="darcy_other", board=tiny.board, data_root=tiny.data)
