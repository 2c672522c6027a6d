"""Verification of the Darcy-flow generator against mathematics.

- manufactured smooth solution: second-order convergence on both grids;
- piecewise-constant 12/3 coefficient: discrete flux balance on every control volume;
- the random field is the prescribed Karhunen-Loeve sum (checked against scipy's DCT);
- determinism and batch independence of the per-sample seeds;
- coefficient values, maximum principle, boundary values; clear errors for bad settings.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.fft

from pdebench_x.data.generators.base import sample_seed
from pdebench_x.data.generators.darcy import DarcyGenerator
from pdebench_x.numerics.darcy.coefficient import (
    gaussian_random_field,
    kl_amplitudes,
    sample_coefficient,
    threshold,
)
from pdebench_x.numerics.darcy.grid import grid_points, grid_spacing, unknown_shape
from pdebench_x.numerics.darcy.solver import (
    MultigridPreconditioner,
    assemble_operator,
    conjugate_gradient,
    solve,
)

PI = np.pi


def manufactured(x: np.ndarray):
    """a = 2 + sin 2pi x cos 2pi y, u = sin pi x sin pi y, f = -div(a grad u) (analytic)."""
    X, Y = np.meshgrid(x, x, indexing="ij")
    a = 2.0 + np.sin(2 * PI * X) * np.cos(2 * PI * Y)
    u = np.sin(PI * X) * np.sin(PI * Y)
    a_x = 2 * PI * np.cos(2 * PI * X) * np.cos(2 * PI * Y)
    a_y = -2 * PI * np.sin(2 * PI * X) * np.sin(2 * PI * Y)
    u_x = PI * np.cos(PI * X) * np.sin(PI * Y)
    u_y = PI * np.sin(PI * X) * np.cos(PI * Y)
    # -div(a grad u) = -(a_x u_x + a_y u_y) - a lap u, with lap u = -2 pi^2 u
    f = 2 * PI**2 * a * u - a_x * u_x - a_y * u_y
    return a, u, f


@pytest.mark.parametrize("method", ["multigrid", "direct"])
@pytest.mark.parametrize("grid, sizes", [("cells", [16, 32, 64]), ("nodes", [17, 33, 65])])
def test_manufactured_solution_second_order(grid, sizes, method):
    errors = []
    for n in sizes:
        x = grid_points(n, grid)
        a, u, f = manufactured(x)
        u_h = solve(a, f, grid, method=method)
        h = grid_spacing(n, grid)
        errors.append(np.sqrt(h * h * np.sum((u_h - u) ** 2)))  # discrete L2 norm
    errors = np.array(errors)
    orders = np.log2(errors[:-1] / errors[1:])
    print(f"{grid}/{method}: L2 errors {errors}, orders {orders}")
    assert np.all((orders > 1.8) & (orders < 2.2)), (errors, orders)
    # the error itself is small (not only its rate): sin pi x sin pi y has L2 norm 1/2
    assert errors[-1] < 1e-3


def _harmonic(p, q):
    return 2 * p * q / (p + q)


def _net_outflow_cells(a, u, h):
    """sum over the 4 faces of each cell of the flux (a grad u . n_out) * face length, by hand."""
    up = np.pad(u, 1)  # ghost value 0 beyond the boundary face
    ap = np.pad(a, 1, mode="edge")  # boundary face: the cell's own a ...
    out = np.zeros_like(u)
    for sl_nb, axis in [((slice(2, None), slice(1, -1)), 0), ((slice(None, -2), slice(1, -1)), 0),
                        ((slice(1, -1), slice(2, None)), 1), ((slice(1, -1), slice(None, -2)), 1)]:
        a_nb, u_nb = ap[sl_nb], up[sl_nb]
        t = _harmonic(a, a_nb)
        out += t * (u - u_nb)
    # ... at distance h/2: double the boundary faces' transmissibility (harmonic(a, a) = a)
    out[0, :] += a[0, :] * u[0, :]
    out[-1, :] += a[-1, :] * u[-1, :]
    out[:, 0] += a[:, 0] * u[:, 0]
    out[:, -1] += a[:, -1] * u[:, -1]
    return out  # face length h / distance h = 1


def _net_outflow_nodes(a, u):
    c = (slice(1, -1), slice(1, -1))
    out = np.zeros((a.shape[0] - 2, a.shape[1] - 2))
    for nb in [(slice(2, None), slice(1, -1)), (slice(None, -2), slice(1, -1)),
               (slice(1, -1), slice(2, None)), (slice(1, -1), slice(None, -2))]:
        out += _harmonic(a[c], a[nb]) * (u[c] - u[nb])
    return out


@pytest.mark.parametrize("method", ["multigrid", "direct"])
@pytest.mark.parametrize("grid, n", [("cells", 48), ("nodes", 49)])
def test_flux_balance_piecewise_constant(grid, n, method):
    rng = np.random.default_rng(7)
    a = sample_coefficient(rng, n, grid, a_pos=12.0, a_neg=3.0)
    assert set(np.unique(a)) == {3.0, 12.0}
    f = 1.0
    u = solve(a, f, grid, method=method)
    h = grid_spacing(n, grid)
    if grid == "cells":
        outflow = _net_outflow_cells(a, u, h)
        area = 1.0  # total area of the control volumes
    else:
        outflow = _net_outflow_nodes(a, u)
        area = (n - 2) ** 2 * h * h
    rel = np.max(np.abs(outflow - f * h * h)) / (f * h * h)
    print(f"{grid}/{method}: max relative flux-balance defect {rel:.2e}")
    assert rel < 1e-10
    # global conservation: what leaves through the boundary is what the source puts in
    assert abs(outflow.sum() - f * area) < 1e-10 * area


def test_operator_is_symmetric_m_matrix():
    a = sample_coefficient(np.random.default_rng(3), 12, "cells")
    sparse = assemble_operator(a, 1 / 12, "cells")
    assert sparse.nnz == 144 + 4 * 11 * 12  # 5-point stencil: no stored zeros
    mat = sparse.toarray()
    assert np.allclose(mat, mat.T, rtol=0, atol=1e-12)
    off = mat - np.diag(np.diag(mat))
    assert np.all(off <= 0)
    # row sums are >= 0 and > 0 exactly on the cells touching the boundary
    row = mat.sum(axis=1).reshape(12, 12)
    touches = np.zeros((12, 12), bool)
    touches[[0, -1], :] = touches[:, [0, -1]] = True
    assert np.all(row[touches] > 0) and np.allclose(row[~touches], 0, atol=1e-9)


@pytest.mark.parametrize("grid, n, contrast", [("cells", 64, 4.0), ("nodes", 65, 4.0),
                                               ("cells", 96, 100.0)])
def test_multigrid_cg_converges_fast_and_matches_direct(grid, n, contrast):
    a = sample_coefficient(np.random.default_rng(8), n, grid, a_pos=3.0 * contrast, a_neg=3.0)
    mat = assemble_operator(a, grid_spacing(n, grid), grid).tocsr()
    b = np.ones(mat.shape[0])
    x, iters, ok = conjugate_gradient(mat, b, MultigridPreconditioner(mat, unknown_shape(a.shape, grid)))
    print(f"{grid} {n} contrast {contrast}: {iters} MG-CG iterations")
    assert ok and iters <= (15 if contrast < 10 else 25)  # mesh- and contrast-robust, not ~n
    assert np.linalg.norm(mat @ x - b) <= 1e-11 * np.linalg.norm(b)  # true residual
    u_direct = solve(a, 1.0, grid, method="direct")
    u_mg = solve(a, 1.0, grid, method="multigrid")
    assert np.max(np.abs(u_mg - u_direct)) <= 1e-10 * np.max(u_direct)


def test_multigrid_falls_back_to_direct_with_a_warning():
    a = sample_coefficient(np.random.default_rng(9), 32, "cells")
    with pytest.warns(RuntimeWarning, match="did not reach"):
        u = solve(a, 1.0, "cells", maxiter=1)
    np.testing.assert_allclose(u, solve(a, 1.0, "cells", method="direct"), rtol=1e-12)


@pytest.mark.parametrize("n", [16, 24])
def test_random_field_is_the_cosine_kl_sum(n):
    """On cell centres with n modes the field is the inverse DCT-II of c * xi (GRF.m's idct2)."""
    seed = 11
    x = grid_points(n, "cells")
    psi = gaussian_random_field(np.random.default_rng(seed), x, x, 2.0, 3.0, n)
    xi = np.random.default_rng(seed).standard_normal((n, n))
    c = kl_amplitudes(n, 2.0, 3.0)
    assert c[0, 0] == 0 and np.isclose(c[1, 0], 3.0 * (PI**2 + 9.0) ** -1.0)
    # orthonormal DCT-III synthesis (MATLAB's idct2) with the 1/sqrt(N), sqrt(2/N) weights
    # undone so that it is the plain sum of c xi cos cos
    w = np.full(n, np.sqrt(2.0 / n))
    w[0] = np.sqrt(1.0 / n)
    ref = scipy.fft.idctn(c * xi / np.outer(w, w), type=2, norm="ortho")
    assert np.allclose(psi, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_threshold_at_zero_and_symmetric_law():
    np.testing.assert_array_equal(threshold(np.array([-1e-12, 0.0, 1e-12]), 12.0, 3.0),
                                  [3.0, 12.0, 12.0])
    # psi and -psi are equally likely: a_pos covers half of the square on average
    fractions = [np.mean(sample_coefficient(np.random.default_rng(i), 16) == 12.0)
                 for i in range(60)]
    assert abs(np.mean(fractions) - 0.5) < 0.05, np.mean(fractions)


def test_determinism_and_batch_independence():
    gen = DarcyGenerator(resolution=16)
    seeds = [sample_seed(0, "train", i) for i in range(3)]
    out1 = gen.generate(seeds)
    out2 = DarcyGenerator(resolution=16).generate(seeds)
    for k in ("a", "u"):
        assert out1[k].dtype == np.float32 and out1[k].shape == (3, 16, 16)
        np.testing.assert_array_equal(out1[k], out2[k])
    # a sample does not depend on its batch companions or position
    alone = gen.generate([seeds[2]])
    mixed = gen.generate([sample_seed(5, "test", 9), seeds[2]])
    np.testing.assert_array_equal(alone["u"][0], out1["u"][2])
    np.testing.assert_array_equal(mixed["u"][1], out1["u"][2])
    np.testing.assert_array_equal(mixed["a"][1], out1["a"][2])
    # different index / split / seed -> different fields
    others = gen.generate([sample_seed(0, "train", 1), sample_seed(0, "valid", 0),
                           sample_seed(1, "train", 0)])
    ref = gen.generate([sample_seed(0, "train", 0)])["a"][0]
    for b in range(3):
        assert not np.array_equal(others["a"][b], ref)


@pytest.mark.parametrize("settings", [dict(grid="cells", resolution=24),
                                      dict(grid="nodes", resolution=13, solve_resolution=49)])
def test_coefficient_values_and_maximum_principle(settings):
    gen = DarcyGenerator(**settings)
    out = gen.generate([sample_seed(2, "train", i) for i in range(4)])
    a, u = out["a"], out["u"]
    for b in range(a.shape[0]):
        assert set(np.unique(a[b])) == {3.0, 12.0}  # both values occur, nothing else
    if settings["grid"] == "cells":
        assert np.all(u > 0)
    else:
        assert np.all(u[:, 1:-1, 1:-1] > 0)
        for edge in (u[:, 0, :], u[:, -1, :], u[:, :, 0], u[:, :, -1]):
            assert np.all(edge == 0)


def test_nodes_subsampling_matches_full_solve():
    gen = DarcyGenerator(grid="nodes", resolution=9, solve_resolution=33)
    seed = sample_seed(3, "test", 4)
    out = gen.generate([seed])
    a_full = sample_coefficient(np.random.default_rng(seed), 33, "nodes")
    u_full = solve(a_full, 1.0, "nodes")
    np.testing.assert_array_equal(out["a"][0], a_full[::4, ::4].astype(np.float32))
    np.testing.assert_allclose(out["u"][0], u_full[::4, ::4], rtol=1e-6, atol=1e-9)
    desc = gen.describe()
    np.testing.assert_allclose(desc.x, np.linspace(0, 1, 9))


def test_cells_block_average_and_linearity_in_forcing():
    seed = sample_seed(4, "train", 0)
    fine = DarcyGenerator(resolution=32, forcing=2.0).generate([seed])
    coarse = DarcyGenerator(resolution=16, solve_resolution=32, forcing=2.0).generate([seed])
    blocks = fine["u"][0].reshape(16, 2, 16, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(coarse["u"][0], blocks, rtol=1e-5)
    # the steady solution is linear in the forcing
    unit = DarcyGenerator(resolution=32, forcing=1.0).generate([seed])
    np.testing.assert_allclose(fine["u"][0], 2.0 * unit["u"][0], rtol=1e-5)


def test_describe():
    gen = DarcyGenerator(grid="cells", resolution=8, a_pos=10, a_neg=2, forcing=0.5)
    d = gen.describe()
    assert d.family == "darcy" and d.times is None
    np.testing.assert_allclose(d.x, (np.arange(8) + 0.5) / 8)
    assert [f.name for f in d.fields] == ["a", "u"]
    assert all(f.order == 0 and not f.time_varying for f in d.fields)
    assert d.boundary_conditions[0].bc_type == "dirichlet"
    assert d.scalars == {"a_pos": 10.0, "a_neg": 2.0, "forcing": 0.5}
    assert d.per_sample_scalars == []
    assert "= 0.5 " in d.equation and "a = 10 where psi >= 0 else 2," in d.equation
    assert gen.solver_settings()["solve_resolution"] == 8


@pytest.mark.parametrize("settings, exc, match", [
    (dict(grid="nodes", resolution=85, solve_resolution=420), ValueError, "not an integer"),
    (dict(grid="cells", resolution=64, solve_resolution=100), ValueError, "integer multiple"),
    (dict(grid="hexagons"), ValueError, "grid must be one of"),
    (dict(resolutoin=64), ValueError, "valid settings are"),
    (dict(resolution=32.5), TypeError, "resolution must be an integer"),
    (dict(alpha=1.0), ValueError, "alpha must be > 1"),
    (dict(a_neg=0.0), ValueError, "a_pos and a_neg must be > 0"),
    (dict(grid="nodes", resolution=2), ValueError, ">= 3"),
])
def test_invalid_settings(settings, exc, match):
    with pytest.raises(exc, match=match):
        DarcyGenerator(**settings)


def test_solver_rejects_bad_coefficient():
    with pytest.raises(ValueError, match="strictly positive"):
        solve(np.zeros((8, 8)), 1.0, "cells")
    with pytest.raises(ValueError, match="2-D"):
        solve(np.ones(8), 1.0, "cells")
    with pytest.raises(ValueError, match="method must be one of"):
        solve(np.ones((8, 8)), 1.0, "cells", method="jacobi")


@pytest.mark.slow
def test_piecewise_constant_mesh_convergence():
    """A fixed 12/3 field (64 modes, evaluated at each grid's points) converges under refinement."""
    modes, ref_n = 64, 1024

    def field(n):
        x = grid_points(n, "cells")
        psi = gaussian_random_field(np.random.default_rng(5), x, x, 2.0, 3.0, modes)
        return np.where(psi >= 0, 12.0, 3.0)

    u_ref = solve(field(ref_n), 1.0, "cells")
    errs = []
    for n in (64, 128, 256):
        k = ref_n // n
        u_ref_n = u_ref.reshape(n, k, n, k).mean(axis=(1, 3))
        u_n = solve(field(n), 1.0, "cells")
        errs.append(np.linalg.norm(u_n - u_ref_n) / np.linalg.norm(u_ref_n))
    print("piecewise-constant relative L2 errors vs 1024^2:", errs)
    assert errs[0] > errs[1] > errs[2] and errs[2] < 5e-3
