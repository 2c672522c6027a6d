"""Equations as prefix token sequences: float encoding, tokenizer round trips, and the sequences
checked against the PDEs themselves (sympy residuals of exact solutions and of generic fields)."""
from __future__ import annotations

import math
import random

import pytest
import sympy as sp
import torch

from pdebench_x.pdes import family_names
from pdebench_x.pdes.symbolic import (
    CONSTANTS, OPERATORS, SPECIAL_TOKENS, VARIABLES, SymbolTokenizer, decode_float,
    encode_float, equation_prefix, parse_prefix, round_to_digits, skeleton, to_infix, to_sympy,
)

FAMILIES = family_names()
COEFFS = [1e-3, 1e-5, 0.1, 12.0, 3.0, 9.81]
# Each family's scalars in the order their numbers appear in the sequence.
ORDER = {
    "convection": ["c"],
    "burgers": ["nu"],
    "darcy": ["forcing", "a_pos", "a_neg"],
    "ns": ["viscosity", "forcing_amplitude"],
    "swe": ["g", "radius", "h_in", "h_out"],
}
t, x, y = sp.symbols("t x y", real=True)


def numbers_in(tokens):
    """The decoded numbers of a sequence, in order."""
    out = []

    def walk(tree):
        if isinstance(tree, tuple):
            if tree[0] == "num":
                out.append(tree[1])
            else:
                for child in tree[1]:
                    walk(child)

    for tree in parse_prefix(tokens):
        walk(tree)
    return out


# ----------------------------------------------------------------------------- floats

def test_encode_float_examples():
    assert encode_float(1.234e-3) == ["+", "N1234", "E-6"]
    assert encode_float(9.81) == ["+", "N9810", "E-3"]
    assert encode_float(-1e-5) == ["-", "N1000", "E-8"]
    assert encode_float(0.0) == ["+", "N0000", "E0"]
    assert encode_float(9.9996) == ["+", "N1000", "E-2"]          # rounding carries into the exponent
    assert encode_float(1234.5678, mantissa_tokens=2) == ["+", "N12", "N35", "E0"]
    assert encode_float(12.0, digits=3) == ["+", "N120", "E-1"]


@pytest.mark.parametrize("digits,mantissa_tokens", [(1, 1), (2, 1), (3, 1), (4, 1), (4, 2), (6, 3), (7, 1)])
def test_float_round_trip_is_rounding(digits, mantissa_tokens):
    rng = random.Random(digits)
    for _ in range(400):
        v = rng.choice([-1, 1]) * 10 ** rng.uniform(-8, 8)
        tokens = encode_float(v, digits, mantissa_tokens)
        assert len(tokens) == 2 + mantissa_tokens
        back = decode_float(tokens)
        assert back == round_to_digits(v, digits)
        # rounding to d significant digits: relative error at most half a unit in the last digit
        assert abs(back - v) <= 0.5 * 10 ** (1 - digits) * abs(v) * (1 + 1e-12)


def test_float_errors():
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="non-finite"):
            encode_float(bad)
    with pytest.raises(ValueError, match="max_exponent"):
        encode_float(1e-30)
    with pytest.raises(ValueError, match="max_exponent"):
        encode_float(5e6, digits=4, max_exponent=2)
    with pytest.raises(ValueError, match="divisor"):
        encode_float(1.0, digits=4, mantissa_tokens=3)
    for bad in (["+", "E-3"], ["*", "N12", "E0"], ["+", "N12", "X0"], ["+", "N1a", "E0"],
                ["+", "N12", "Eab"]):
        with pytest.raises(ValueError):
            decode_float(bad)


# ----------------------------------------------------------------------------- equations + tokenizer

def family_scalars(family, offset=0):
    return {name: COEFFS[(i + offset) % len(COEFFS)] for i, name in enumerate(ORDER[family])}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("offset", range(len(COEFFS)))
def test_round_trip_every_family(family, offset):
    tok = SymbolTokenizer()
    scalars = family_scalars(family, offset)
    prefix = tok.equation(family, scalars)
    ids = tok.encode(prefix)
    assert all(isinstance(i, int) for i in ids)
    assert tok.decode(ids) == prefix
    assert tok.decode(torch.tensor(ids)) == prefix
    expected = [round_to_digits(scalars[name], 4) for name in ORDER[family]]
    assert numbers_in(tok.decode(ids)) == expected
    assert isinstance(to_infix(prefix), str)


@pytest.mark.parametrize("family", FAMILIES)
def test_round_trip_other_float_settings(family):
    tok = SymbolTokenizer(digits=6, mantissa_tokens=2, max_exponent=20)
    scalars = family_scalars(family, 2)
    prefix = tok.equation(family, scalars)
    assert tok.decode(tok.encode(prefix)) == prefix
    assert numbers_in(prefix) == [round_to_digits(scalars[n], 6) for n in ORDER[family]]


def test_sequences_parse_to_complete_relations():
    relations = {"convection": 1, "burgers": 1, "darcy": 2, "ns": 3, "swe": 3}
    for family in FAMILIES:
        trees = parse_prefix(equation_prefix(family, family_scalars(family)))
        assert len(trees) == relations[family]
        assert all(tree[0] == "eq" for tree in trees)
    # the optional relations are left out without their scalars
    assert len(parse_prefix(equation_prefix("darcy", {"forcing": 1.0}))) == 1
    assert len(parse_prefix(equation_prefix("swe", {"g": 1.0}))) == 2
    with pytest.raises(ValueError, match="truncated"):
        parse_prefix(equation_prefix("convection", {"c": 1.0})[:-1])
    with pytest.raises(ValueError, match="unknown token"):
        parse_prefix(["eq", "u", "banana"])


def test_infix_display():
    assert to_infix(equation_prefix("convection", {"c": 3.0})) == "(d_t(u) + (3.0 * d_x(u))) = 0"
    assert to_infix(equation_prefix("darcy", {"forcing": 1.0, "a_pos": 12.0, "a_neg": 3.0})) == (
        "-div((a * grad(u))) = 1.0; a = (12.0 if phi >= 0 else 3.0)")


def test_scalar_names_aliases_and_errors():
    assert equation_prefix("ns", {"nu": 1e-3, "forcing": 0.1}) == \
        equation_prefix("ns", {"viscosity": 1e-3, "forcing_amplitude": 0.1, "unrelated": 5.0})
    with pytest.raises(ValueError, match="known families") as err:
        equation_prefix("heat", {"nu": 1.0})
    assert all(f in str(err.value) for f in FAMILIES)
    with pytest.raises(ValueError, match="viscosity"):
        equation_prefix("ns", {"forcing_amplitude": 0.1})
    with pytest.raises(ValueError, match="go together"):
        equation_prefix("swe", {"g": 1.0, "radius": 0.5})
    with pytest.raises(ValueError, match="twice"):
        equation_prefix("burgers", {"nu": 0.1, "viscosity": 0.2})


def test_tokenizer_vocabulary_and_batches():
    tok = SymbolTokenizer(digits=4)
    expected = len(SPECIAL_TOKENS) + len(OPERATORS) + len(VARIABLES) + len(CONSTANTS) + 2 + 10 ** 4 + 33
    assert len(tok) == expected == len(set(tok.vocab))
    assert tok.pad_id == 0
    assert len(SymbolTokenizer(digits=3, max_exponent=10)) == 1075
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tok.encode(["eq", "N12", "E0"])                        # a 2-digit mantissa in a 4-digit vocabulary
    with pytest.raises(ValueError, match="outside the vocabulary"):
        tok.decode([len(tok)])
    seqs = [equation_prefix("convection", {"c": 1.0}), equation_prefix("burgers", {"nu": 0.1})]
    ids, pad = tok.batch_encode(seqs)
    assert ids.dtype == torch.long and pad.dtype == torch.bool
    assert ids.shape == pad.shape == (2, max(map(len, seqs)))
    assert pad.sum(1).tolist() == [ids.shape[1] - len(s) for s in seqs]
    assert (ids[pad] == tok.pad_id).all()
    assert [tok.decode(row) for row in ids] == seqs
    ids2, pad2 = tok.batch_encode(seqs, add_bos_eos=True)
    assert ids2.shape[1] == ids.shape[1] + 2 and (ids2[:, 0] == tok.bos_id).all()
    assert ids2[0, len(seqs[0]) + 1] == tok.eos_id
    assert [tok.decode(row) for row in ids2] == seqs     # decode drops <bos>, stops at <eos>


def test_skeleton_replaces_every_number():
    prefix = equation_prefix("swe", {"g": 9.81, "h_in": 2.0, "h_out": 1.0, "radius": 0.5})
    skel = skeleton(prefix)
    assert skel.count("<C>") == 4
    assert len(skel) == len(prefix) - 4 * 2
    assert not any(t in ("+", "-") for t in skel)
    assert skeleton(equation_prefix("swe", {"g": 1.0, "h_in": 3.0, "h_out": 1.5, "radius": 0.3})) == skel


# ----------------------------------------------------------------------------- the sequences are the PDEs

def residuals(family, scalars, fields):
    return to_sympy(equation_prefix(family, scalars), fields)


def vanishes(expr, points=4, tol=1e-9):
    """Numerically zero at a few points of (t, x, y) (evaluated with 30 digits)."""
    rng = random.Random(0)
    items = list(expr) if isinstance(expr, sp.MatrixBase) else [expr]
    for _ in range(points):
        subs = {t: rng.uniform(0.1, 1.0), x: rng.uniform(-0.9, 0.9), y: rng.uniform(-0.9, 0.9)}
        for e in items:
            if abs(complex(sp.N(e.subs(subs), 30))) > tol:
                return False
    return True


def test_convection_and_burgers_match_the_formulas():
    U = sp.Function("U")(t, x, y)
    c, nu = sp.Rational(3), sp.Rational(1, 10)
    (res,) = residuals("convection", {"c": 3.0}, {"u": U})
    assert sp.simplify(res - (U.diff(t) + c * U.diff(x))) == 0
    (res,) = residuals("convection", {"speed": 3.0, "viscosity": 0.1}, {"u": U})
    assert sp.simplify(res - (U.diff(t) + c * U.diff(x) - nu * U.diff(x, 2))) == 0
    (res,) = residuals("burgers", {"nu": 0.1}, {"u": U})
    assert sp.simplify(res - (U.diff(t) + U * U.diff(x) - nu * U.diff(x, 2))) == 0
    # exact solutions: a travelling wave, and Burgers' viscous shock u = 1 - tanh((x - t) / (2 nu))
    assert vanishes(residuals("convection", {"c": 3.0}, {"u": sp.sin(2 * sp.pi * (x - 3 * t))})[0])
    assert not vanishes(residuals("convection", {"c": 3.0}, {"u": sp.sin(2 * sp.pi * (x + 3 * t))})[0])
    shock = 1 - sp.tanh((x - t) / (2 * nu))
    assert vanishes(residuals("burgers", {"nu": 0.1}, {"u": shock})[0])
    assert not vanishes(residuals("burgers", {"nu": 0.2}, {"u": shock})[0])


def test_darcy_matches_the_formula():
    f = sp.Rational(1, 10)
    U, A = sp.Function("U")(x, y), sp.Function("A")(x, y)
    res, _ = residuals("darcy", {"forcing": 0.1, "a_pos": 12.0, "a_neg": 3.0}, {"u": U, "a": A, "phi": x})
    expected = -(sp.diff(A * U.diff(x), x) + sp.diff(A * U.diff(y), y)) - f
    assert sp.simplify(res - expected) == 0
    # exact: a = 1 + x, u = -f (x - log(1 + x)) solves -(a u')' = f
    (res,) = residuals("darcy", {"forcing": 0.1}, {"u": -f * (x - sp.log(1 + x)), "a": 1 + x})
    assert vanishes(res)
    assert not vanishes(residuals("darcy", {"forcing": 0.2}, {"u": -f * (x - sp.log(1 + x)), "a": 1 + x})[0])
    # the coefficient relation: a = a_pos where phi >= 0, a_neg elsewhere
    _, rel = residuals("darcy", {"forcing": 0.1, "a_pos": 12.0, "a_neg": 3.0},
                       {"u": U, "a": sp.Integer(12), "phi": x})
    assert rel.subs(x, sp.Rational(1, 2)) == 0 and rel.subs(x, -sp.Rational(1, 2)) == 9


def test_navier_stokes_matches_the_formula_and_its_exact_solution():
    nu, A = sp.Rational(1, 1000), sp.Rational(1, 10)
    W, P = sp.Function("W")(t, x, y), sp.Function("P")(t, x, y)
    vel = sp.Matrix([P.diff(y), -P.diff(x)])
    r1, r2, r3 = residuals("ns", {"viscosity": 1e-3, "forcing_amplitude": 0.1},
                           {"w": W, "psi": P, "vel": vel})
    theta = 2 * sp.pi * (x + y)
    expected = (W.diff(t) + P.diff(y) * W.diff(x) - P.diff(x) * W.diff(y)
                - nu * (W.diff(x, 2) + W.diff(y, 2)) - A * (sp.sin(theta) + sp.cos(theta)))
    assert sp.simplify(r1 - expected) == 0
    assert sp.simplify(r2 - (-(P.diff(x, 2) + P.diff(y, 2)) - W)) == 0
    assert r3 == sp.zeros(2, 1)
    # From w(0) = 0 the forced flow is w = f / (8 pi^2 nu) (1 - exp(-8 pi^2 nu t)) exactly
    # (the forcing is one Fourier shell, where the nonlinearity vanishes); psi = w / (8 pi^2).
    lam = 8 * sp.pi ** 2
    w = A / (lam * nu) * (1 - sp.exp(-lam * nu * t)) * (sp.sin(theta) + sp.cos(theta))
    psi = w / lam
    fields = {"w": w, "psi": psi, "vel": sp.Matrix([psi.diff(y), -psi.diff(x)])}
    assert all(vanishes(r) for r in residuals("ns", {"viscosity": 1e-3, "forcing_amplitude": 0.1}, fields))
    assert not vanishes(residuals("ns", {"viscosity": 2e-3, "forcing_amplitude": 0.1}, fields)[0])
    wrong_vel = dict(fields, vel=-fields["vel"])
    assert not vanishes(residuals("ns", {"viscosity": 1e-3, "forcing_amplitude": 0.1}, wrong_vel)[2])


def test_shallow_water_matches_the_formula_and_an_exact_solution():
    g = sp.Rational(981, 100)
    H, U, V = (sp.Function(n)(t, x, y) for n in "HUV")
    scalars = {"g": 9.81, "h_in": 2.0, "h_out": 1.0, "radius": 0.5}
    r1, r2, r3 = residuals("swe", scalars, {"h": H, "vel": sp.Matrix([U, V]), "h0": sp.Integer(2)})
    assert sp.simplify(r1 - (H.diff(t) + (H * U).diff(x) + (H * V).diff(y))) == 0
    mom = sp.Matrix([(H * U).diff(t) + (H * U * U + g * H ** 2 / 2).diff(x) + (H * U * V).diff(y),
                     (H * V).diff(t) + (H * U * V).diff(x) + (H * V * V + g * H ** 2 / 2).diff(y)])
    assert sp.simplify(r2 - mom) == sp.zeros(2, 1)
    # radial dam break's initial condition: h0 = h_in inside r <= R
    assert r3.subs({x: 0.1, y: 0.2}) == 0 and r3.subs({x: 0.5, y: 0.5}) == 1
    # exact: a uniformly stretching flow, vel = (x, y) / (1 + t), h = 1 / (1 + t)^2
    exact = {"h": 1 / (1 + t) ** 2, "vel": sp.Matrix([x, y]) / (1 + t), "h0": sp.Integer(2)}
    r1, r2, _ = residuals("swe", scalars, exact)
    assert vanishes(r1) and vanishes(r2)
    # a still, sloping surface is not at rest: the residual is the pressure gradient g h grad h
    _, r2, _ = residuals("swe", scalars, {"h": 1 + x, "vel": sp.zeros(2, 1), "h0": sp.Integer(2)})
    assert sp.simplify(r2 - sp.Matrix([g * (1 + x), 0])) == sp.zeros(2, 1)


def test_to_sympy_needs_every_field():
    with pytest.raises(ValueError, match="no value given"):
        to_sympy(equation_prefix("convection", {"c": 1.0}), {})
    assert math.isclose(float(to_sympy(["eq", "u", "+", "N1000", "E-8"], {"u": sp.Integer(0)})[0]), -1e-5)
