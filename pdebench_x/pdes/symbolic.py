"""Governing equations as prefix-notation token sequences, and their tokenizer (for PROSE).

PROSE (Liu, Zhang, Schaeffer 2024) reads and writes the governing equation of a sample as a
sequence of "words": the expression tree written in prefix (Polish) notation, every real
coefficient written as three words in the style of Lample & Charton / Kamienny et al.::

    value = sign * M * 10^E,   M an integer of exactly `digits` decimal digits
    1.234e-3 (digits 4)  ->  "+", "N1234", "E-6"
    9.81                 ->  "+", "N9810", "E-3"
    0                    ->  "+", "N0000", "E0"

so a coefficient is stored rounded to `digits` significant digits (default 4; the official
PROSE-FD config uses 3). With ``mantissa_tokens = k`` the mantissa is split into k words of
digits/k digits each ("N12", "N34"), as the official ``mantissa_len``.

An equation set is a list of relations, each one complete prefix tree whose root is ``eq``
(``eq L R`` means L = R), written one after the other; since every operator has a fixed arity
the concatenation parses back unambiguously.

Vocabulary (fixed, independent of the family, so one embedding table serves all of them):
  operators (arity):  eq 2, add 2, sub 2, mul 2, divide 2 (a / b), pow 2, neg 1, inv 1,
                      sin 1, cos 1, exp 1, sqrt 1, abs 1,
                      dt 1, dx 1, dy 1 (partial derivatives), lap 1 (Laplacian),
                      grad 1, div 1 (divergence; of a 2x2 tensor: row-wise, (div M)_i = d_j M_ij),
                      dot 2, outer 2 (a b^T), vec 2 (the 2-vector (a, b)),
                      ifpos 3 (ifpos c p n = p where c >= 0, else n)
  variables:          t x y r (r = sqrt(x^2 + y^2)), u w psi h h0 (h at t = 0) vel (velocity
                      2-vector) a (Darcy coefficient) phi (latent field a is thresholded from) f
  constants:          the integers 0..9, pi, I (the 2x2 identity)
  numbers:            + - (signs), N<mantissa>, E<exponent> for -max_exponent..max_exponent
  special:            <pad> <bos> <eos> <C> (placeholder for a coefficient, PROSE's skeleton mode)

The families (canonical scalar names first; aliases accepted, see each family's ``scalars``):
  convection  u_t + c u_x = 0   [= nu u_xx when a viscosity is given]   scalars: c, [viscosity]
  burgers     u_t + u u_x = nu u_xx                               scalars: nu
  darcy       -div(a grad u) = f  [and a = a_pos where phi >= 0, else a_neg]
                                                                  scalars: forcing, [a_pos, a_neg]
  ns          w_t + vel.grad w = nu lap w + A (sin 2pi(x+y) + cos 2pi(x+y)),
              -lap psi = w,  vel = (psi_y, -psi_x)                scalars: viscosity, forcing_amplitude
  swe         h_t + div(h vel) = 0,
              (h vel)_t + div(h vel vel^T + (g/2) h^2 I) = 0
              [and h0 = h_in where radius - r >= 0, else h_out]   scalars: g, [h_in, h_out, radius]
Bracketed relations are written when all their scalars are given (the radial dam break's initial
condition is part of the sample's description: its radius varies per sample).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from pdebench_x.pdes import get_family

PAD, BOS, EOS, PLACEHOLDER = "<pad>", "<bos>", "<eos>", "<C>"
SPECIAL_TOKENS = (PAD, BOS, EOS, PLACEHOLDER)

OPERATORS: dict[str, int] = {
    "eq": 2, "add": 2, "sub": 2, "mul": 2, "divide": 2, "pow": 2,
    "neg": 1, "inv": 1, "sin": 1, "cos": 1, "exp": 1, "sqrt": 1, "abs": 1,
    "dt": 1, "dx": 1, "dy": 1, "lap": 1, "grad": 1, "div": 1,
    "dot": 2, "outer": 2, "vec": 2, "ifpos": 3,
}
VARIABLES = ("t", "x", "y", "r", "u", "w", "psi", "h", "h0", "vel", "a", "phi", "f")
CONSTANTS = tuple(str(i) for i in range(10)) + ("pi", "I")
SIGNS = ("+", "-")

DEFAULT_DIGITS = 4
DEFAULT_MAX_EXPONENT = 16



# ----------------------------------------------------------------------------- floats

def _check_float_settings(digits: int, mantissa_tokens: int, max_exponent: int) -> None:
    if not (isinstance(digits, int) and digits >= 1):
        raise ValueError(f"digits must be a positive integer, got {digits!r}")
    if not (isinstance(mantissa_tokens, int) and mantissa_tokens >= 1 and digits % mantissa_tokens == 0):
        raise ValueError(f"mantissa_tokens must be a positive divisor of digits={digits}, "
                         f"got {mantissa_tokens!r}")
    if not (isinstance(max_exponent, int) and max_exponent >= 0):
        raise ValueError(f"max_exponent must be a non-negative integer, got {max_exponent!r}")


def encode_float(value: float, digits: int = DEFAULT_DIGITS, mantissa_tokens: int = 1,
                 max_exponent: int = DEFAULT_MAX_EXPONENT) -> list[str]:
    """``value`` -> [sign, N<mantissa> (x mantissa_tokens), E<exponent>].

    value ~= sign * M * 10^E with M the `digits`-digit integer of the value rounded to
    `digits` significant digits (round half to even on the binary value, as ``format``).
    """
    _check_float_settings(digits, mantissa_tokens, max_exponent)
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"cannot encode the non-finite coefficient {value}: check the scalars "
                         f"passed with the sample")
    sign = "-" if value < 0 else "+"
    if value == 0.0:
        mantissa, exponent = "0" * digits, 0
    else:
        m, e = f"{abs(value):.{digits - 1}e}".split("e")
        mantissa = m.replace(".", "")
        exponent = int(e) - (digits - 1)
    if abs(exponent) > max_exponent:
        raise ValueError(
            f"coefficient {value!r} needs exponent token E{exponent}, outside "
            f"E-{max_exponent}..E{max_exponent}: raise max_exponent (or rescale the coefficient)")
    width = digits // mantissa_tokens
    chunks = [mantissa[i:i + width] for i in range(0, digits, width)]
    return [sign] + ["N" + c for c in chunks] + [f"E{exponent}"]


def decode_float(tokens: Sequence[str]) -> float:
    """[sign, N..., ..., E..] -> float (the nearest double to the decimal sign * M * 10^E)."""
    tokens = list(tokens)
    if len(tokens) < 3 or tokens[0] not in SIGNS or not tokens[-1].startswith("E") \
            or not all(t.startswith("N") and t[1:].isdigit() for t in tokens[1:-1]):
        raise ValueError(f"not a float token group [sign, N<digits>..., E<int>]: {tokens}")
    try:
        exponent = int(tokens[-1][1:])
    except ValueError:
        raise ValueError(f"bad exponent token {tokens[-1]!r} in {tokens}") from None
    mantissa = "".join(t[1:] for t in tokens[1:-1])
    # Parsing the decimal string rounds once (correctly); M * 10**E would round twice.
    return float(f"{'-' if tokens[0] == '-' else ''}{mantissa}e{exponent}")


def round_to_digits(value: float, digits: int = DEFAULT_DIGITS) -> float:
    """The value a coefficient decodes to: rounded to `digits` significant digits."""
    return float(f"{float(value):.{digits - 1}e}")


# ----------------------------------------------------------------------------- equations

def equation_prefix(family: str, scalars: Mapping[str, float], digits: int = DEFAULT_DIGITS,
                    mantissa_tokens: int = 1, max_exponent: int = DEFAULT_MAX_EXPONENT) -> list[str]:
    """The governing equation(s) of ``family`` in prefix notation, with the real coefficients
    (the family object writes them: :meth:`pdebench_x.pdes.base.PDEFamily.equation`)."""
    fam = get_family(family)
    s = fam.scalars.resolve(family, scalars)
    return fam.equation(s, lambda name: encode_float(s[name], digits, mantissa_tokens, max_exponent))


# ----------------------------------------------------------------------------- parsing

def _float_group_length(tokens: Sequence[str], start: int) -> int:
    """Length of the float group starting at tokens[start] (a sign token)."""
    end = start + 1
    while end < len(tokens) and tokens[end].startswith("N"):
        end += 1
    if end == start + 1 or end >= len(tokens) or not tokens[end].startswith("E"):
        raise ValueError(f"malformed number at position {start}: {list(tokens[start:end + 1])}")
    return end + 1 - start


def parse_prefix(tokens: Sequence[str]) -> list:
    """Prefix tokens -> list of trees; a tree is (op, [children]), a leaf str, or ("num", float).

    Raises ValueError on an unknown token, a truncated expression or a malformed number.
    """
    tokens = list(tokens)
    leaves = set(VARIABLES) | set(CONSTANTS) | {PLACEHOLDER}

    def node(i: int):
        if i >= len(tokens):
            raise ValueError(f"truncated prefix expression (ran out of tokens): {tokens}")
        tok = tokens[i]
        if tok in OPERATORS:
            children, j = [], i + 1
            for _ in range(OPERATORS[tok]):
                child, j = node(j)
                children.append(child)
            return (tok, children), j
        if tok in SIGNS:
            n = _float_group_length(tokens, i)
            return ("num", decode_float(tokens[i:i + n])), i + n
        if tok in leaves:
            return tok, i + 1
        raise ValueError(f"unknown token {tok!r} at position {i}")

    trees, i = [], 0
    while i < len(tokens):
        tree, i = node(i)
        trees.append(tree)
    return trees


_INFIX_BINARY = {"add": "+", "sub": "-", "mul": "*", "divide": "/", "pow": "^", "eq": "=",
                 "dot": "·", "outer": "⊗"}
_INFIX_UNARY = {"dt": "d_t", "dx": "d_x", "dy": "d_y"}


def _infix(tree) -> str:
    if isinstance(tree, str):
        return tree
    op, children = tree
    if op == "num":
        return repr(children)
    args = [_infix(ch) for ch in children]
    if op == "eq":
        return f"{args[0]} = {args[1]}"
    if op in _INFIX_BINARY:
        return f"({args[0]} {_INFIX_BINARY[op]} {args[1]})"
    if op == "neg":
        return f"-{args[0]}"
    if op == "vec":
        return f"[{args[0]}, {args[1]}]"
    if op == "ifpos":
        return f"({args[1]} if {args[0]} >= 0 else {args[2]})"
    return f"{_INFIX_UNARY.get(op, op)}({args[0]})"


def to_infix(tokens: Sequence[str]) -> str:
    """Readable infix form of a prefix sequence, relations separated by '; ' (for display)."""
    return "; ".join(_infix(t) for t in parse_prefix(tokens))


def skeleton(tokens: Sequence[str]) -> list[str]:
    """Every number replaced by the placeholder <C> (PROSE's equation "skeleton")."""
    tokens, out, i = list(tokens), [], 0
    while i < len(tokens):
        if tokens[i] in SIGNS:
            i += _float_group_length(tokens, i)
            out.append(PLACEHOLDER)
        else:
            out.append(tokens[i])
            i += 1
    return out


def to_sympy(tokens: Sequence[str], fields: Mapping[str, object]):
    """Each relation ``eq L R`` as the sympy residual L - R, in terms of the given fields.

    ``fields`` maps variable names (u, w, psi, h, h0, vel, a, phi, f) to sympy expressions in the
    symbols t, x, y (``vel`` to a 2x1 Matrix). Numbers become exact rationals (the decimal the
    tokens encode). Used to check the sequences against exact solutions of the PDEs.
    """
    import sympy as sp

    t, x, y = sp.symbols("t x y", real=True)
    env = {"t": t, "x": x, "y": y, "r": sp.sqrt(x ** 2 + y ** 2), "pi": sp.pi, "I": sp.eye(2)}
    env.update({str(i): sp.Integer(i) for i in range(10)})
    env.update(fields)

    def is_mat(v):
        return isinstance(v, sp.MatrixBase)

    def d(v, var):
        return v.applyfunc(lambda e: sp.diff(e, var)) if is_mat(v) else sp.diff(v, var)

    def div(v):
        if v.shape == (2, 1):
            return sp.diff(v[0], x) + sp.diff(v[1], y)
        return sp.Matrix([sp.diff(v[i, 0], x) + sp.diff(v[i, 1], y) for i in range(2)])

    def ev(tree):
        if isinstance(tree, str):
            if tree not in env:
                raise ValueError(f"to_sympy: no value given for variable {tree!r}")
            return env[tree]
        op, ch = tree
        if op == "num":
            # repr gives the shortest decimal that round-trips: the decimal the tokens encode.
            return sp.Rational(repr(ch))
        a = [ev(c) for c in ch]
        table = {
            "add": lambda: a[0] + a[1], "sub": lambda: a[0] - a[1], "mul": lambda: a[0] * a[1],
            "divide": lambda: a[0] / a[1], "pow": lambda: a[0] ** a[1], "neg": lambda: -a[0],
            "inv": lambda: 1 / a[0], "sin": lambda: sp.sin(a[0]), "cos": lambda: sp.cos(a[0]),
            "exp": lambda: sp.exp(a[0]), "sqrt": lambda: sp.sqrt(a[0]), "abs": lambda: sp.Abs(a[0]),
            "dt": lambda: d(a[0], t), "dx": lambda: d(a[0], x), "dy": lambda: d(a[0], y),
            "lap": lambda: d(d(a[0], x), x) + d(d(a[0], y), y),
            "grad": lambda: sp.Matrix([sp.diff(a[0], x), sp.diff(a[0], y)]),
            "div": lambda: div(a[0]), "dot": lambda: (a[0].T * a[1])[0, 0],
            "outer": lambda: a[0] * a[1].T, "vec": lambda: sp.Matrix([a[0], a[1]]),
            "ifpos": lambda: sp.Piecewise((a[1], a[0] >= 0), (a[2], True)),
        }
        if op == "eq":
            lhs, rhs = a
            if is_mat(lhs) and not is_mat(rhs) and rhs == 0:
                return lhs
            return lhs - rhs
        return table[op]()

    return [ev(tree) for tree in parse_prefix(tokens)]


# ----------------------------------------------------------------------------- tokenizer

class SymbolTokenizer:
    """Fixed vocabulary and the token <-> id maps.

    Ids: the special tokens first (<pad> = 0, <bos>, <eos>, <C>), then operators, variables,
    constants, signs, the 10^(digits / mantissa_tokens) mantissa words and the exponent words
    E-max_exponent..E+max_exponent.
    """

    def __init__(self, digits: int = DEFAULT_DIGITS, mantissa_tokens: int = 1,
                 max_exponent: int = DEFAULT_MAX_EXPONENT) -> None:
        _check_float_settings(digits, mantissa_tokens, max_exponent)
        self.digits, self.mantissa_tokens, self.max_exponent = digits, mantissa_tokens, max_exponent
        width = digits // mantissa_tokens
        self.vocab: list[str] = (
            list(SPECIAL_TOKENS) + list(OPERATORS) + list(VARIABLES) + list(CONSTANTS) + list(SIGNS)
            + [f"N{i:0{width}d}" for i in range(10 ** width)]
            + [f"E{e}" for e in range(-max_exponent, max_exponent + 1)])
        self.token_to_id = {tok: i for i, tok in enumerate(self.vocab)}
        if len(self.token_to_id) != len(self.vocab):
            raise AssertionError("duplicate tokens in the vocabulary")
        self.pad_id, self.bos_id, self.eos_id, self.placeholder_id = (
            self.token_to_id[t] for t in SPECIAL_TOKENS)

    def __len__(self) -> int:
        return len(self.vocab)

    def equation(self, family: str, scalars: Mapping[str, float]) -> list[str]:
        """``equation_prefix`` with this tokenizer's float settings."""
        return equation_prefix(family, scalars, self.digits, self.mantissa_tokens, self.max_exponent)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        try:
            return [self.token_to_id[t] for t in tokens]
        except KeyError as err:
            raise ValueError(f"token {err.args[0]!r} is not in the vocabulary (a mantissa must have "
                             f"{self.digits // self.mantissa_tokens} digits, exponents lie in "
                             f"-{self.max_exponent}..{self.max_exponent})") from None

    def decode(self, ids: Sequence[int] | torch.Tensor) -> list[str]:
        """Ids -> tokens, dropping <pad> and <bos> and stopping at the first <eos>."""
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        out = []
        for i in ids:
            if not 0 <= int(i) < len(self.vocab):
                raise ValueError(f"id {i} outside the vocabulary (size {len(self.vocab)})")
            tok = self.vocab[int(i)]
            if tok == EOS:
                break
            if tok not in (PAD, BOS):
                out.append(tok)
        return out

    def batch_encode(self, sequences: Sequence[Sequence[str]], add_bos_eos: bool = False
                     ) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded ids [B, L] and the padding mask [B, L] (True at padding, torch's convention)."""
        if len(sequences) == 0:
            raise ValueError("batch_encode needs at least one sequence")
        encoded = [self.encode(s) for s in sequences]
        if add_bos_eos:
            encoded = [[self.bos_id] + e + [self.eos_id] for e in encoded]
        length = max(len(e) for e in encoded)
        ids = torch.full((len(encoded), length), self.pad_id, dtype=torch.long)
        for row, e in enumerate(encoded):
            ids[row, :len(e)] = torch.tensor(e, dtype=torch.long)
        lengths = torch.tensor([len(e) for e in encoded])
        mask = torch.arange(length)[None, :] >= lengths[:, None]
        return ids, mask

    def to_infix(self, tokens: Sequence[str]) -> str:
        return to_infix(tokens)
