"""PROSE: shapes, errors, conditioning on the equation, gradients, structure of the decoders,
the paper's parameter count, and overfitting a small batch (fields and symbols)."""
from __future__ import annotations


import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from conftest import CONF_DIR, compose_config
from pdebench_x.training.losses import LOSSES
from pdebench_x.models.base import count_parameters
from pdebench_x.models.prose import PROSE, sample_grid_table
from pdebench_x.training.optim import SCHEDULERS, build_optimizer

TINY = dict(width=32, heads=4, data_encoder_depth=1, symbol_encoder_depth=1, fusion_depth=1,
            data_decoder_depth=1, symbol_decoder_depth=1, patch_size=8, out_patch_size=8,
            pos_grid=4, out_pos_grid=4, conv_dim=16, float_digits=3, max_exponent=10)
# Official PROSE-FD prose_2to1 (felix-lyx/prose @ eaf598d), 4 channels, 10 -> 10 frames at 128^2,
# counted by building the official modules: embedder 4,273,348, data encoder 16,796,672, symbol
# encoder 9,553,920 (1,128-word vocabulary), fusion 67,185,664, data decoder 67,456,000.
OFFICIAL_PROSE_FD = 165_265_604


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # The machine is shared: one thread is faster than oversubscribed ones for these tiny models.
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def ns_cond(nu, amp=0.1):
    return {"family": "ns", "scalars": {"viscosity": torch.as_tensor(nu, dtype=torch.float32),
                                         "forcing_amplitude": torch.as_tensor(amp, dtype=torch.float32)}}


def tiny(in_steps=2, in_channels=1, out_steps=2, out_channels=1, padding="circular", **kw):
    torch.manual_seed(0)
    return PROSE(in_steps, in_channels, out_steps, out_channels, padding, **{**TINY, **kw})


# ----------------------------------------------------------------------------- shapes and errors

@pytest.mark.parametrize("shape", [(32, 32), (48, 64)])
def test_output_shapes_two_resolutions(shape):
    model = tiny(in_steps=3, out_steps=2).eval()
    x = torch.randn(2, 3, 1, *shape)
    assert model(x, ns_cond([1e-3, 1e-4])).shape == (2, 2, 1, *shape)
    darcy = tiny(1, 1, 1, 1, "zeros")
    cond = {"family": "darcy", "scalars": {"forcing": torch.ones(2), "a_pos": torch.full((2,), 12.0),
                                            "a_neg": torch.full((2,), 3.0)}}
    assert darcy(torch.randn(2, 1, 1, *shape), cond).shape == (2, 1, 1, *shape)
    swe = tiny(2, 3, 4, 3, "zeros", out_patch_size=4)
    cond = {"family": "swe", "scalars": {"g": torch.ones(2), "h_in": torch.full((2,), 2.0),
                                          "h_out": torch.ones(2), "radius": torch.tensor([0.3, 0.6])}}
    pred, aux = swe.forward_with_aux(torch.randn(2, 2, 3, *shape), cond)
    assert pred.shape == (2, 4, 3, *shape) and aux["symbol_ce"].ndim == 0


def test_one_dimensional_data_with_rectangular_patches():
    """1D data comes as [B, T, C, X, 1]: patches [p, 1] (and reference grids [n, 1])."""
    model = tiny(1, 1, 3, 1, patch_size=[8, 1], out_patch_size=[4, 1], pos_grid=[8, 1], out_pos_grid=[16, 1])
    cond = {"family": "convection",
            "scalars": {"speed": torch.tensor([1.0, 2.0]), "viscosity": torch.zeros(2)}}
    for nx in (64, 128):
        assert model(torch.randn(2, 1, 1, nx, 1), cond).shape == (2, 3, 1, nx, 1)
    with pytest.raises(ValueError, match=r"\[p, 1\]"):
        tiny(1, 1, 1, 1)(torch.randn(2, 1, 1, 64, 1), cond)


def test_clear_errors():
    model = tiny()
    with pytest.raises(ValueError, match="divisible"):
        model(torch.randn(1, 2, 1, 36, 32), ns_cond(1e-3))
    with pytest.raises(ValueError, match="divisible"):
        tiny(out_patch_size=16)(torch.randn(1, 2, 1, 40, 40), ns_cond(1e-3))
    with pytest.raises(ValueError, match="expects input"):
        model(torch.randn(1, 3, 1, 32, 32), ns_cond(1e-3))
    with pytest.raises(ValueError, match="use_symbols"):
        model(torch.randn(1, 2, 1, 32, 32), None)
    with pytest.raises(ValueError, match="known families"):
        model(torch.randn(1, 2, 1, 32, 32), {"family": "heat", "scalars": {}})
    with pytest.raises(ValueError, match="default_scalars"):
        model(torch.randn(1, 2, 1, 32, 32), {"family": "ns", "scalars": {"viscosity": torch.ones(1)}})
    with pytest.raises(ValueError, match="one per sample"):
        model(torch.randn(2, 2, 1, 32, 32), ns_cond([1e-3, 1e-3, 1e-3]))
    with pytest.raises(ValueError, match="symbol_input"):
        tiny(symbol_input="tree")
    with pytest.raises(ValueError, match="patch_size"):
        tiny(patch_size=[8, 0])
    # defaults fill what the data lacks (e.g. the FNO Navier-Stokes files carry no scalars)
    filled = tiny(default_scalars={"viscosity": 1e-3, "forcing_amplitude": 0.1}).eval()
    x = torch.randn(1, 2, 1, 32, 32)
    base = tiny().eval()
    assert torch.allclose(filled(x, {"family": "ns", "scalars": {}}), base(x, ns_cond(1e-3)))


# ----------------------------------------------------------------------------- conditioning

def test_prediction_follows_the_coefficients():
    model = tiny().eval()
    x = torch.randn(3, 2, 1, 32, 32)
    with torch.no_grad():
        a = model(x, ns_cond([1e-3, 1e-3, 1e-3]))
        b = model(x, ns_cond([1e-3, 2e-3, 1e-3]))
        c = model(x, ns_cond([1e-3, 1e-3, 1e-3], amp=[0.1, 0.1, 0.2]))
    # Recomputing with the same equation is bitwise identical, so any change well above float32
    # round-off comes from the coefficient tokens (untrained, their effect is small but real).
    assert torch.equal(a, model(x, ns_cond([1e-3, 1e-3, 1e-3])))
    assert (a[1] - b[1]).abs().max() > 1e-5 * a[1].abs().max()         # viscosity changed: sample 1
    assert (a[2] - c[2]).abs().max() > 1e-5 * a[2].abs().max()         # forcing changed: sample 2
    # samples do not see each other
    assert torch.allclose(a[[0, 2]], b[[0, 2]], atol=1e-6) and torch.allclose(a[:2], c[:2], atol=1e-6)


def test_ablation_reads_no_symbols():
    model = tiny(use_symbols=False).eval()
    assert model.needs_cond is False
    assert not any(n.startswith(("symbol", "decoder_embed")) for n, _ in model.named_parameters())
    x = torch.randn(2, 2, 1, 32, 32)
    with torch.no_grad():
        a = model(x, ns_cond([1e-3, 1e-3]))
        assert torch.equal(a, model(x, ns_cond([5e-3, 1e-4], amp=0.3)))
        assert torch.equal(a, model(x, None))
    pred, aux = model.forward_with_aux(x, None)
    assert aux == {} and model.extra_metrics(x, None) == {}
    assert torch.equal(pred, a)


def test_symbol_metrics_only_when_the_decoder_cannot_copy():
    """Reading the full equation, the decoder could score by copying it: no symbol metric then."""
    x = torch.randn(2, 2, 1, 32, 32)
    assert tiny().eval().extra_metrics(x, ns_cond([1e-3, 1e-4])) == {}
    assert set(tiny(symbol_input="skeleton").eval().extra_metrics(x, ns_cond([1e-3, 1e-4]))) == {
        "symbol_accuracy", "symbol_exact"}


def test_skeleton_input_hides_the_numbers():
    model = tiny(symbol_input="skeleton").eval()
    x = torch.randn(2, 2, 1, 32, 32)
    with torch.no_grad():
        pa, aux_a = model.forward_with_aux(x, ns_cond([1e-3, 1e-3]))
        pb, aux_b = model.forward_with_aux(x, ns_cond([2e-3, 1e-4]))
    assert torch.equal(pa, pb)                                        # the encoder sees placeholders
    assert aux_a["symbol_ce"] != aux_b["symbol_ce"]                   # the decoder must write the numbers


# ----------------------------------------------------------------------------- gradients and structure

@pytest.mark.parametrize("use_symbols", [True, False])
def test_every_parameter_gets_a_gradient(use_symbols):
    model = tiny(use_symbols=use_symbols, pos_grid=8, out_pos_grid=2)   # tables interpolated both ways
    x = torch.randn(2, 2, 1, 32, 32)
    pred, aux = model.forward_with_aux(x, ns_cond([1e-3, 1e-4]))
    (pred.square().mean() + sum(aux.values(), torch.zeros(()))).backward()
    assert ("symbol_ce" in aux) == use_symbols
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert missing == []


def test_data_decoder_queries_are_decoded_independently():
    """No self-attention among queries (the paper's operator decoder): a query's output does not
    depend on which other queries are decoded with it."""
    model = tiny(data_decoder_depth=2).eval()
    x = torch.randn(2, 2, 1, 32, 32)
    fused, mask, _ = model._encode(x, model.symbol_batch(ns_cond([1e-3, 1e-4]), 2))
    queries = model.queries(32, 32).expand(2, -1, -1)
    with torch.no_grad():
        full = model.decode_data(queries, fused, mask)
        some = model.decode_data(queries[:, [5, 1, 17]], fused, mask)
    assert torch.allclose(some, full[:, [5, 1, 17]], atol=1e-6)


def test_symbol_decoder_is_causal():
    model = tiny(symbol_decoder_depth=2).eval()
    memory = torch.randn(2, 7, 32)
    ids = torch.randint(4, len(model.tokenizer), (2, 9))
    changed = ids.clone()
    changed[:, 6:] = torch.randint(4, len(model.tokenizer), (2, 3))
    with torch.no_grad():
        a, b = model.symbol_logits(ids, memory, None), model.symbol_logits(changed, memory, None)
    assert torch.allclose(a[:, :6], b[:, :6], atol=1e-5)
    assert not torch.allclose(a[:, 6:], b[:, 6:], atol=1e-3)


def test_position_table_sampling():
    torch.manual_seed(0)
    table = torch.randn(4, 4, 3)
    for periodic in (True, False):
        assert torch.equal(sample_grid_table(table, 4, 4, periodic), table)   # native grid: the table
    # bilinear interpolation is exact for fields linear in the cell-centre coordinate (interior)
    i = torch.arange(4.0)
    linear = (2.0 * i[:, None] - 0.5 * i[None, :])[..., None]
    fine = sample_grid_table(linear, 8, 8, periodic=False)
    s = (torch.arange(8.0) + 0.5) / 2 - 0.5               # fine-cell centres in table index units
    expected = (2.0 * s[:, None] - 0.5 * s[None, :])[..., None]
    assert torch.allclose(fine[1:-1, 1:-1], expected[1:-1, 1:-1], atol=1e-6)
    assert torch.allclose(fine[0, 1:-1, 0], -0.5 * s[1:-1], atol=1e-6)       # border: clamped to x-index 0
    # periodic sampling commutes with periodic shifts: shifting the table by one coarse cell shifts
    # the refined field by two fine cells; zero-padded (clamped) sampling does not
    periodic = sample_grid_table(torch.roll(table, 1, 0), 8, 8, True)
    assert torch.allclose(periodic, torch.roll(sample_grid_table(table, 8, 8, True), 2, 0), atol=1e-6)
    clamped = sample_grid_table(torch.roll(table, 1, 0), 8, 8, False)
    assert not torch.allclose(clamped, torch.roll(sample_grid_table(table, 8, 8, False), 2, 0), atol=1e-3)


# ----------------------------------------------------------------------------- configurations

def paper_net():
    paper = compose_config(["experiment=prose_paper"])
    return paper.model.net, paper


def test_paper_parameter_count():
    net, paper = paper_net()
    with torch.device("meta"):   # 267M parameters: count them without allocating
        model = instantiate(net, in_steps=10, in_channels=4, out_steps=10, out_channels=4, padding="zeros")
        no_decoder = instantiate(net, in_steps=10, in_channels=4, out_steps=10, out_channels=4,
                                 padding="zeros", symbol_decoder_depth=0)
    decoder = sum(p.numel() for n, p in model.named_parameters()
                  if n.startswith(("decoder_embed", "symbol_decoder", "symbol_head")))
    total = count_parameters(model)
    assert count_parameters(no_decoder) == total - decoder
    assert abs(total - decoder - OFFICIAL_PROSE_FD) / OFFICIAL_PROSE_FD < 0.02
    # the whole gap is the vocabulary (1,128 words there, len(tokenizer) here, 1024 wide)
    assert total - decoder - OFFICIAL_PROSE_FD == (len(model.tokenizer) - 1128) * 1024
    assert paper.model.recipe.loss in LOSSES and paper.model.recipe.scheduler.name in SCHEDULERS
    assert paper.model.recipe.gradient_clip_val == 1.0


def test_small_config_builds_and_runs():
    cfg = OmegaConf.load(CONF_DIR / "model" / "prose.yaml")
    assert cfg.recipe.loss in LOSSES and cfg.recipe.scheduler.name in SCHEDULERS
    torch.manual_seed(0)
    model = instantiate(cfg.net, in_steps=10, in_channels=1, out_steps=1, out_channels=1, padding="circular")
    assert model.needs_cond and count_parameters(model) < 1_000_000
    build_optimizer(cfg.recipe.optimizer, model.parameters())
    x = torch.randn(2, 10, 1, 64, 64)
    pred, aux = model.forward_with_aux(x, ns_cond([1e-3, 1e-4]))
    assert pred.shape == (2, 1, 1, 64, 64) and torch.isfinite(aux["symbol_ce"])


# ----------------------------------------------------------------------------- overfitting

@pytest.fixture(scope="module")
def overfit_run():
    """Train TINY, reading the skeleton (the symbol metrics' setting), on 4 samples (rel L2 + symbol
    CE, Adam 1e-2) until the fields are fitted to 5% and the greedy equations, coefficients read
    from the data, are exact, at most 300 steps; returns the final state."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    n, g = 32, torch.Generator().manual_seed(1)
    k = torch.fft.fftfreq(n, 1 / n)
    k2 = k[:, None] ** 2 + k[None, :] ** 2
    spectrum = torch.randn(4, n, n, dtype=torch.complex64, generator=g) * torch.exp(-k2 / 8)
    u0 = torch.fft.ifft2(spectrum).real
    u0 = u0 / u0.std(dim=(-2, -1), keepdim=True)
    nu = torch.tensor([0.02, 0.01, 0.005, 0.002])

    def heat(u):  # one unit step of u_t = nu lap u (in grid units), exactly in Fourier space
        return torch.fft.ifft2(torch.fft.fft2(u) * torch.exp(-nu[:, None, None] * k2)).real

    frames = [u0]
    for _ in range(3):
        frames.append(heat(frames[-1]))
    x, y = torch.stack(frames[:2], 1)[:, :, None], torch.stack(frames[2:], 1)[:, :, None]
    cond = {"family": "burgers", "scalars": {"nu": nu}}
    model = tiny(symbol_input="skeleton")
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    rel, metrics, step = None, None, 0
    for step in range(1, 301):
        pred, aux = model.forward_with_aux(x, cond)
        rel = ((pred - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)).mean()
        opt.zero_grad()
        (rel + aux["symbol_ce"]).backward()
        opt.step()
        if rel.item() < 0.05 and step % 10 == 0:      # check the fitted state itself, every sample
            model.eval()
            with torch.no_grad():
                worst = ((model(x, cond) - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)).max()
            metrics = model.extra_metrics(x, cond)
            model.train()
            if worst < 0.05 and metrics["symbol_exact"].all():
                break
    model.eval()
    with torch.no_grad():
        pred = model(x, cond)
    final = ((pred - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1))
    return {"rel": final, "metrics": model.extra_metrics(x, cond), "steps": step}


def test_overfits_four_samples(overfit_run):
    assert overfit_run["rel"].max() < 0.05, overfit_run
    assert overfit_run["steps"] < 300


def test_symbol_accuracy_reaches_one(overfit_run):
    metrics = overfit_run["metrics"]
    assert set(metrics) == {"symbol_accuracy", "symbol_exact"}
    assert metrics["symbol_accuracy"].shape == (4,)
    assert torch.equal(metrics["symbol_accuracy"], torch.ones(4))
    assert torch.equal(metrics["symbol_exact"], torch.ones(4))


def test_symbol_accuracy_is_low_untrained():
    model = tiny(symbol_input="skeleton").eval()
    x = torch.randn(2, 2, 1, 32, 32)
    metrics = model.extra_metrics(x, ns_cond([1e-3, 1e-4]))
    assert metrics["symbol_accuracy"].shape == (2,)
    assert (metrics["symbol_accuracy"] < 0.5).all() and (metrics["symbol_exact"] == 0).all()
