"""Adding a PDE family touches only its own files: a numerical solver, a generator, a family
object, a data yaml (and a data card). This test adds a toy family that way — the 2D periodic
heat equation, solved exactly mode by mode — from files written to a temporary directory
(the family object registered as a plug-in; a family file in pdebench_x/pdes/ is found without
that step), then trains an operator learner on it, fits a PINN on it and scores both, with no
change anywhere else in the suite."""
from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from conftest import compose_config

from pdebench_x.leaderboard import fingerprint as fpm
from pdebench_x.leaderboard.scoring import score_runs
from pdebench_x.leaderboard.scoring.per_instance_runs import score_per_instance_runs
from pdebench_x.pdes import get_family, register, unregister
from pdebench_x.training.run import run_training

pytestmark = pytest.mark.usefixtures("one_torch_thread")

#: The toy family's code: numerics, generator and family object, as a contributor would write them.
TOY_MODULE = '''
import math

import numpy as np
import torch

from pdebench_x.data.generators.base import (BoundaryInfo, DatasetDescription, FieldInfo, Generator,
                                             merged_settings)
from pdebench_x.pdes.base import EulerianProblem, PDEFamily, ScalarSpec, spread
from pdebench_x.pdes.calculus import grad, laplacian


def heat_solution(coefficients, k, times, nu, x):
    """u(x, y, t) = sum_m c_m cos(2 pi k_m . x) exp(-nu |2 pi k_m|^2 t): the exact periodic heat flow."""
    gx, gy = np.meshgrid(x, x, indexing="ij")
    out = np.zeros((len(times), len(x), len(x)))
    for c, (kx, ky) in zip(coefficients, k):
        mode = np.cos(2 * math.pi * (kx * gx + ky * gy))
        decay = np.exp(-nu * (2 * math.pi) ** 2 * (kx ** 2 + ky ** 2) * np.asarray(times))
        out += c * decay[:, None, None] * mode[None]
    return out


class ToyHeatGenerator(Generator):
    family = "toyheat"
    version = "1"
    DEFAULTS = {"resolution": 16, "n_frames": 5, "dt_out": 0.05, "viscosity": 0.01}

    def __init__(self, **settings):
        super().__init__(**settings)
        self.cfg = merged_settings("toyheat", settings, self.DEFAULTS, positive_ints=("resolution", "n_frames"))

    def describe(self):
        c = self.cfg
        x = np.arange(c["resolution"]) / c["resolution"]
        return DatasetDescription(
            family="toyheat", x=x, y=x.copy(), times=np.arange(c["n_frames"]) * c["dt_out"],
            fields=[FieldInfo("u", 0, True, "temperature")],
            boundary_conditions=[BoundaryInfo("periodic", "periodic", ["x", "y"], ["u"])],
            scalars={"viscosity": c["viscosity"]}, equation=f"u_t = {c['viscosity']:g} Lap u")

    def generate(self, seeds):
        d, c = self.describe(), self.cfg
        out = []
        for seed in seeds:
            rng = np.random.default_rng(seed)
            k = rng.integers(0, 3, size=(3, 2))
            out.append(heat_solution(rng.standard_normal(3), k, d.times, c["viscosity"], d.x))
        return {"u": np.stack(out).astype(np.float32)}


class _HeatEulerian(EulerianProblem):
    def __init__(self, inst, fit, space):
        super().__init__(inst, fit, space)
        u0 = inst.initial["u"]
        self.offsets, self.scales = [float(np.mean(u0))], [spread(u0, 1e-3)]
        self.ic_target = torch.tensor(u0.ravel(), dtype=torch.float32)[:, None]

    def residuals(self, out, coords):
        x, y, t = coords
        return [grad(out[:, 0], t) - float(self.inst.scalars["viscosity"]) * laplacian(out[:, 0], x, y)]


class ToyHeat(PDEFamily):
    name = "toyheat"
    kind = "rollout"
    generator = "toy_heat_family:ToyHeatGenerator"
    scalars = ScalarSpec(required=("viscosity",), aliases={"viscosity": ("nu",)})
    no_lagrangian = "the heat equation transports nothing: no Lagrangian form"

    def equation(self, s, c):
        return ["eq", "dt", "u", "mul", *c("viscosity"), "lap", "u"]

    def eulerian(self, inst, fit, space):
        return _HeatEulerian(inst, fit, space)


FAMILY = ToyHeat()
'''

TOY_DATA_YAML = """\
# The toy 2D heat equation (tests/test_new_family.py).
family: toyheat
preset: small
presets:
  small:
    generator: {resolution: 16, n_frames: 5}
    sizes: {train: 8, valid: 2, test: 4}
generator: {resolution: null, n_frames: null, dt_out: null, viscosity: null}
sizes: {train: null, valid: null, test: null}
seed: 0
path: null
format: auto
splits: null
problem:
  kind: rollout
  fields: [u]
  history: 1
  future: 1
  first_frame: 0
  last_frame: null
n_instances: 2
instance_seed: 0
batch_size: 4
num_workers: 0
max_train_samples: null
"""


@pytest.fixture
def toy_family(tmp_path, monkeypatch):
    """The toy family's files in a temporary directory: its module on sys.path, its family
    registered, its data yaml on Hydra's search path. Unregistered afterwards."""
    (tmp_path / "toy_heat_family.py").write_text(TOY_MODULE)
    (tmp_path / "conf" / "data").mkdir(parents=True)
    (tmp_path / "conf" / "data" / "toyheat.yaml").write_text(TOY_DATA_YAML)
    monkeypatch.syspath_prepend(str(tmp_path))
    import toy_heat_family
    register(toy_heat_family.FAMILY)
    yield tmp_path
    unregister("toyheat")
    sys.modules.pop("toy_heat_family", None)


def test_the_toy_solver_is_exact():
    """The toy family's 'numerical solver' is the exact solution: it satisfies the heat equation."""
    ns: dict = {}
    exec(TOY_MODULE, ns)
    x, nu, t = np.arange(32) / 32, 0.01, np.array([0.0, 0.1])
    u = ns["heat_solution"]([1.0], [(1, 2)], t, nu, x)
    assert u[1].max() == pytest.approx(math.exp(-nu * (2 * math.pi) ** 2 * 5 * 0.1), rel=1e-12)


def test_a_new_family_is_trained_fitted_and_scored(toy_family, tmp_path):
    data, out, fps = tmp_path / "data", tmp_path / "out", tmp_path / "fingerprints"
    search = [f"hydra.searchpath=[file://{toy_family / 'conf'}]", "data=toyheat", "~logger"]
    fno = ["model=fno", "model.net.n_modes=[4,4]", "model.net.hidden_channels=8", "model.net.n_layers=2",
           "trainer.max_epochs=1", "trainer.enable_progress_bar=false"]
    pinn = ["model=pinn", "model.net.width=8", "model.net.depth=1", "model.fit.collocation=64",
            "model.fit.optimizers=[{name: adam, iterations: 3, lr: 1.0e-3}]"]

    cfg = compose_config(search, data_dir=data)
    fpm.write_fingerprint(fpm.make_fingerprint(cfg.data, data, zero_shot=False, progress=False), fps)
    assert get_family("toyheat").has_eulerian() and not get_family("toyheat").has_lagrangian()

    runs = []
    for seed in (0, 1, 2):
        run = out / f"fno{seed}"
        record = run_training(compose_config(search + fno + [f"seed={seed}"], data_dir=data, output_dir=out), run)
        assert math.isfinite(record["metrics"]["rollout"]["overall"]["nrmse"])
        runs.append(run)
    operator = score_runs(runs, fps, data, zero_shot=False)
    assert operator["dataset"]["name"] == "toyheat_small" and operator["aggregate"]["overall"]["nrmse"]["n"] == 3

    run = out / "pinn"
    run_training(compose_config(search + pinn, data_dir=data, output_dir=out), run)
    fitted = score_per_instance_runs([run], fps, data)
    assert fitted["instances"]["k"] == 2
    assert math.isfinite(fitted["aggregate"]["overall"]["nrmse"]["mean"])
