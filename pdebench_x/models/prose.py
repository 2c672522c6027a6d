"""PROSE: a multimodal transformer that reads data and equations, and predicts both.

Paper: Y. Liu, Z. Zhang, H. Schaeffer, "PROSE: Predicting Multiple Operators and Symbolic
Expressions using multimodal transformers", Neural Networks 180 (2024) 106707; its 2D fluid
version: Y. Liu, J. Sun, X. He, G. Pinney, Z. Zhang, H. Schaeffer, "PROSE-FD: A Multimodal PDE
Foundation Model for Learning Multiple Operators for Forecasting Fluid Dynamics", arXiv 2409.09811.
Official code: github.com/felix-lyx/prose @ eaf598d (prose_fd/models/{transformer_wrappers,
transformer,embedder,attention_utils}.py for the 2D architecture; prose_pde/symbolicregression/
model/transformer.py and trainer.py for the symbol decoder and the joint loss). Written from the
papers and from reading that code.

Architecture (width d, all transformers pre-norm with RMSNorm, GELU feed-forward of width
``ffn_width``, ``heads`` heads; B batch, T_in/T_out frames, C channels, p / q the input / output
patch sizes)::

    data encoder    x [B, T_in, C, X, Y] -> per frame Conv(C->d, kernel = stride = p), GELU,
                    Conv1x1(d->d) -> tokens (t, i, j) + time_emb_in[t] + pos_in(i, j)
                    -> transformer encoder (data_encoder_depth layers)          [B, T_in*X/p*Y/p, d]
    symbol encoder  equation tokens (prefix notation, pdebench_x.pdes.symbolic) -> embedding +
                    sinusoidal position -> transformer encoder (symbol_encoder_depth)   [B, L, d]
    fusion          concat(data + type_emb[0], symbols + type_emb[1]) -> transformer encoder
                    (fusion_depth) over both, symbol padding masked
    data decoder    queries q(t, i, j) = time_emb_out[t] + pos_out(i, j) for every output frame
                    and output patch; layers of CROSS-attention to the fused sequence + FFN only
                    (no self-attention among queries, so each query is decoded independently)
                    -> per query ConvTranspose(d->conv_dim, kernel = stride = q), GELU, Conv1x1,
                    GELU, Conv1x1(->C_out)                                 [B, T_out, C_out, X, Y]
    symbol decoder  causal transformer (self-attention, cross-attention to the symbol part of the
                    fused sequence, FFN; symbol_decoder_depth layers), output layer tied to its
                    input embedding -> next-token logits over the vocabulary

All T_out frames come out of one call (non-autoregressive in time). ``forward_with_aux`` adds
``symbol_ce = symbol_loss_weight * CE`` (teacher forcing on <bos> + tokens -> tokens + <eos>);
``extra_metrics`` decodes greedily and scores ``symbol_accuracy`` (token level: the fraction of
target tokens, <eos> included, that the greedy sequence gets right at their position) and
``symbol_exact`` (1 when the whole sequence is right). They are scored only when the symbol
encoder reads the skeleton (``symbol_input="skeleton"``): from the full equation the decoder could
score by copying its input, so with ``symbol_input="full"`` no symbol metric is reported.

Resolution: the learned position tables live on reference patch grids (``pos_grid`` input,
``out_pos_grid`` output: 8 and 16 in the paper's 128^2 setting, i.e. exactly the official tables
there); on another patch grid they are sampled by bilinear interpolation at the patch centres
(periodically wrapped when ``padding="circular"``, clamped at the border otherwise). So the model
takes any X, Y divisible by both patch sizes. Patch sizes and reference grids are an int or a pair
(X, Y): 1D data, stored as [B, T, C, X, 1], takes patches [p, 1]. The convolutions have kernel =
stride (no padding), so ``padding`` only governs that interpolation. Absolute position embeddings
mean the model does NOT commute with periodic shifts (as the paper's model); no shift-equivariance
is claimed.

``use_symbols=False`` is the ablation: no symbol encoder, no symbol decoder, no symbol loss; the
fusion transformer then runs over the data tokens alone (same depth), so only the symbolic input
differs. ``symbol_decoder_depth=0`` keeps the symbol input but drops the symbol output (exactly
PROSE-FD's "2to1" model).

Paper vs official code, and what is chosen here:
  * 2D data pathway, layer types, widths and defaults follow the official PROSE-FD ``prose_2to1``
    config (d 1024, FFN 2048, 8 heads, data encoder 2, symbol encoder 1, fusion 8, data decoder
    8 layers, input patches 16 = 128/8, output patches 8 = 128/16, decoder head width 32,
    RMSNorm, dropout 0, learnable time tables). With C = 4 channels, 10 -> 10 frames at 128^2
    and its vocabulary this gives 165,265,604 parameters in the official code; this module gives
    the same layers (the vocabulary differs: 1,075 words here for 3 digits, 1,128 there).
  * PROSE-FD has no symbol decoder; PROSE (ODE/PDE) has one (8 layers). It is kept here (the
    benchmark scores symbol accuracy), pre-norm RMSNorm like the rest (the PROSE text decoder is
    post-norm LayerNorm), attending to the symbol part of the fused sequence (official
    ``split_fused_feature_text``), its output layer tied to its embedding (``text_share_inout_emb``).
  * Symbol input: ``symbol_input="skeleton"`` replaces every number by a placeholder <C> in the
    encoder input (PROSE's ``use_skeleton``, default True, prose_pde/parsers.py:100-105), the
    decoder still writing the full equation with its coefficients, which it must read from the
    data; that is the configuration whose symbol accuracy is reported. ``symbol_input="full"``
    gives the encoder the coefficients too (PROSE-FD, which has no symbol decoder: use it with
    ``symbol_decoder_depth=0``).
  * Position embeddings: official tables are tied to one resolution; here they are interpolated
    (see above), which coincides with the official tables on the reference grid.
  * Recipe of ``experiment=prose_paper`` (PROSE-FD's run, scripts/prose-fd.sh; the table with
    file and line of every value is tests/test_recipes_prose_pinns.py): each sample normalised
    per channel with its own input window's mean and std, the loss computed there
    (``recipe.normalization: per_sample``, ``loss_space: normalized``; the training task does
    it, this module sees normalised fields), plain MSE (``loss_weight: none``: the official
    runs' loss, followed here; the PROSE paper's "relative-weighted MSE" is the code's
    ``loss_weight: l2`` option), AdamW lr 1e-4, wd 1e-4, betas (0.9, 0.95), eps 1e-6,
    warm-up/stable/decay schedule (10% / 70% / 20%, cosine to 0) over 40 epochs of 4,000 steps
    whatever the data size, global batch 160, bf16 mixed precision, gradient clipping 1.0. The symbol cross-entropy (not in PROSE-FD) has
    weight 2 against a data weight 1: prose_pde's ratio (``loss = 0.5 * data + CE``) with
    PROSE-FD's scale of the data term, on which its clipping threshold was set.
    The small CPU recipe (conf/model/prose.yaml) keeps the train split's statistics and a
    relative L2 loss, warm-up then cosine over the epochs.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from pdebench_x.models.base import OperatorModel
from pdebench_x.pdes.symbolic import SymbolTokenizer, skeleton


# ----------------------------------------------------------------------------- building blocks

class Attention(nn.Module):
    """Multi-head attention with q, k, v, out projections (with bias), as the official code."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} must be divisible by heads {heads}")
        self.heads, self.dropout = heads, dropout
        self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor, mem: torch.Tensor, key_padding_mask: torch.Tensor | None = None,
                causal: bool = False) -> torch.Tensor:
        b, n, d = x.shape
        m, h = mem.shape[1], self.heads
        q = self.q(x).view(b, n, h, d // h).transpose(1, 2)
        k = self.k(mem).view(b, m, h, d // h).transpose(1, 2)
        v = self.v(mem).view(b, m, h, d // h).transpose(1, 2)
        mask = None
        if key_padding_mask is not None:
            mask = ~key_padding_mask[:, None, None, :]  # True = attend
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal and mask is None,
                                           dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).reshape(b, n, d))


class FeedForward(nn.Sequential):
    def __init__(self, dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim),
                         nn.Dropout(dropout))


class EncoderLayer(nn.Module):
    """Pre-norm self-attention block: x + SA(N(x)), then x + FFN(N(x))."""

    def __init__(self, dim: int, heads: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.RMSNorm(dim, eps=1e-5), nn.RMSNorm(dim, eps=1e-5)
        self.attn, self.ffn = Attention(dim, heads, dropout), FeedForward(dim, hidden, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, key_padding_mask=None, causal=False):
        y = self.norm1(x)
        x = x + self.drop(self.attn(y, y, key_padding_mask, causal))
        return x + self.ffn(self.norm2(x))


class Encoder(nn.Module):
    """A stack of encoder layers and a final norm (nothing at all when depth = 0, as official)."""

    def __init__(self, depth: int, dim: int, heads: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(dim, heads, hidden, dropout) for _ in range(depth))
        self.norm = nn.RMSNorm(dim, eps=1e-5) if depth > 0 else nn.Identity()

    def forward(self, x, key_padding_mask=None):
        for layer in self.layers:
            x = layer(x, key_padding_mask)
        return self.norm(x)


class OperatorDecoderLayer(nn.Module):
    """Cross-attention + FFN, no self-attention: q + CA(N(q), mem), then q + FFN(N(q))."""

    def __init__(self, dim: int, heads: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.RMSNorm(dim, eps=1e-5), nn.RMSNorm(dim, eps=1e-5)
        self.cross, self.ffn = Attention(dim, heads, dropout), FeedForward(dim, hidden, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, q, mem, mem_mask=None):
        q = q + self.drop(self.cross(self.norm1(q), mem, mem_mask))
        return q + self.ffn(self.norm2(q))


class SymbolDecoderLayer(nn.Module):
    """Causal self-attention, cross-attention, FFN, each pre-norm with a residual."""

    def __init__(self, dim: int, heads: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.norm2, self.norm3 = (nn.RMSNorm(dim, eps=1e-5) for _ in range(3))
        self.self_attn, self.cross = Attention(dim, heads, dropout), Attention(dim, heads, dropout)
        self.ffn, self.drop = FeedForward(dim, hidden, dropout), nn.Dropout(dropout)

    def forward(self, x, mem, mem_mask=None):
        y = self.norm1(x)
        x = x + self.drop(self.self_attn(y, y, causal=True))
        x = x + self.drop(self.cross(self.norm2(x), mem, mem_mask))
        return x + self.ffn(self.norm3(x))


def sinusoidal_positions(length: int, dim: int, device=None, dtype=None) -> torch.Tensor:
    """PE[n, 2i] = sin(n / 10000^(2i/d)), PE[n, 2i+1] = cos(n / 10000^(2i/d))  -> [length, dim]."""
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim, device=device)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return pe.to(dtype) if dtype is not None else pe


def sample_grid_table(table: torch.Tensor, nx: int, ny: int, periodic: bool) -> torch.Tensor:
    """Bilinear sample of a table [n1, n2, d] (values at cell centres of [0,1]^2) at the centres of
    an nx x ny grid -> [nx, ny, d]. Source coordinate along an axis: s = (i + 1/2) n / nx - 1/2;
    neighbours wrap (periodic) or clamp to the border. Exact (no blending) when nx = n1, ny = n2.
    """
    def axis(t: torch.Tensor, n_out: int, dim: int) -> torch.Tensor:
        n_in = t.shape[dim]
        if n_in == n_out:
            return t
        s = (torch.arange(n_out, device=t.device, dtype=torch.float64) + 0.5) * n_in / n_out - 0.5
        i0 = torch.floor(s)
        w = (s - i0).to(t.dtype)
        i0 = i0.long()
        i1 = i0 + 1
        if periodic:
            i0, i1 = i0 % n_in, i1 % n_in
        else:
            i0, i1 = i0.clamp(0, n_in - 1), i1.clamp(0, n_in - 1)
        shape = [1] * t.ndim
        shape[dim] = n_out
        w = w.view(shape)
        return (1 - w) * t.index_select(dim, i0) + w * t.index_select(dim, i1)

    return axis(axis(table, nx, 0), ny, 1)


# ----------------------------------------------------------------------------- the model

class PROSE(OperatorModel):
    """PROSE for 2D fields (see the module docstring for the architecture and the choices)."""

    needs_cond = True

    def __init__(self, in_steps: int, in_channels: int, out_steps: int, out_channels: int,
                 padding: str = "zeros", *, width: int = 1024, ffn_width: int | None = None,
                 heads: int = 8, data_encoder_depth: int = 2, symbol_encoder_depth: int = 1,
                 fusion_depth: int = 8, data_decoder_depth: int = 8, symbol_decoder_depth: int = 8,
                 patch_size: int | Sequence[int] = 16, out_patch_size: int | Sequence[int] | None = None,
                 pos_grid: int | Sequence[int] = 8, out_pos_grid: int | Sequence[int] = 16,
                 conv_dim: int = 32, dropout: float = 0.0,
                 use_symbols: bool = True, symbol_input: str = "full", symbol_loss_weight: float = 1.0,
                 float_digits: int = 4, mantissa_tokens: int = 1, max_exponent: int = 16,
                 symbol_decoder_memory: str = "symbol",
                 default_scalars: Mapping[str, float] | None = None) -> None:
        super().__init__(in_steps, in_channels, out_steps, out_channels, padding)
        for name, value in [("width", width), ("heads", heads), ("conv_dim", conv_dim)]:
            if int(value) < 1:
                raise ValueError(f"PROSE: {name} must be a positive integer, got {value}")
        # Patch sizes and reference grids: an int (square) or a pair (X, Y), e.g. [8, 1] for 1D data.
        self.patch_size = _pair(patch_size, "patch_size")
        self.out_patch_size = (self.patch_size if out_patch_size is None
                               else _pair(out_patch_size, "out_patch_size"))
        pos_grid, out_pos_grid = _pair(pos_grid, "pos_grid"), _pair(out_pos_grid, "out_pos_grid")
        for name, value in [("data_encoder_depth", data_encoder_depth),
                            ("symbol_encoder_depth", symbol_encoder_depth), ("fusion_depth", fusion_depth),
                            ("data_decoder_depth", data_decoder_depth),
                            ("symbol_decoder_depth", symbol_decoder_depth)]:
            if int(value) < 0:
                raise ValueError(f"PROSE: {name} must be >= 0, got {value}")
        if symbol_input not in ("full", "skeleton"):
            raise ValueError(f"PROSE: symbol_input must be 'full' or 'skeleton', got {symbol_input!r}")
        if symbol_decoder_memory not in ("symbol", "all"):
            raise ValueError(f"PROSE: symbol_decoder_memory must be 'symbol' or 'all', "
                             f"got {symbol_decoder_memory!r}")
        d = int(width)
        hidden = int(ffn_width) if ffn_width is not None else 2 * d
        self.width = d
        self.use_symbols = bool(use_symbols)
        self.symbol_input = symbol_input
        self.symbol_loss_weight = float(symbol_loss_weight)
        self.symbol_decoder_memory = symbol_decoder_memory
        self.default_scalars = {str(k): float(v) for k, v in dict(default_scalars or {}).items()}
        self.has_symbol_decoder = self.use_symbols and symbol_decoder_depth > 0
        # The ablation reads no conditioning: tell the task so (instance attribute).
        self.needs_cond = self.use_symbols

        # Data embedding (official ConvEmbedder, non-"early_conv", non-"deep" branch).
        p, q = self.patch_size, self.out_patch_size
        self.patch_embed = nn.Sequential(nn.Conv2d(in_channels, d, kernel_size=p, stride=p), nn.GELU(),
                                         nn.Conv2d(d, d, kernel_size=1))
        self.time_in = nn.Parameter(torch.randn(1, in_steps, 1, d))
        self.pos_in = nn.Parameter(torch.randn(*pos_grid, d))
        self.data_encoder = Encoder(data_encoder_depth, d, heads, hidden, dropout)

        self.tokenizer = SymbolTokenizer(float_digits, mantissa_tokens, max_exponent)
        vocab = len(self.tokenizer)
        if self.use_symbols:
            self.symbol_embed = nn.Embedding(vocab, d, padding_idx=self.tokenizer.pad_id)
            _init_embedding(self.symbol_embed)
            self.symbol_encoder = Encoder(symbol_encoder_depth, d, heads, hidden, dropout)
        self.type_embed = nn.Embedding(2 if self.use_symbols else 1, d)
        _init_embedding(self.type_embed)
        self.fusion = Encoder(fusion_depth, d, heads, hidden, dropout)

        # Data decoder: (time, location) queries, cross-attention only.
        self.time_out = nn.Parameter(torch.randn(1, out_steps, 1, d))
        self.pos_out = nn.Parameter(torch.randn(*out_pos_grid, d))
        self.data_decoder = nn.ModuleList(OperatorDecoderLayer(d, heads, hidden, dropout)
                                          for _ in range(data_decoder_depth))
        self.data_decoder_norm = nn.RMSNorm(d, eps=1e-5) if data_decoder_depth > 0 else nn.Identity()
        self.patch_unembed = nn.Sequential(
            nn.ConvTranspose2d(d, conv_dim, kernel_size=q, stride=q), nn.GELU(),
            nn.Conv2d(conv_dim, conv_dim, kernel_size=1), nn.GELU(),
            nn.Conv2d(conv_dim, out_channels, kernel_size=1))

        if self.has_symbol_decoder:
            self.decoder_embed = nn.Embedding(vocab, d, padding_idx=self.tokenizer.pad_id)
            _init_embedding(self.decoder_embed)
            self.symbol_decoder = nn.ModuleList(SymbolDecoderLayer(d, heads, hidden, dropout)
                                                for _ in range(symbol_decoder_depth))
            self.symbol_decoder_norm = nn.RMSNorm(d, eps=1e-5)
            self.symbol_head = nn.Linear(d, vocab)
            self.symbol_head.weight = self.decoder_embed.weight  # tied, as PROSE's text decoder

    # ------------------------------------------------------------------ inputs
    def check_grid(self, shape: tuple[int, int]) -> None:
        nx, ny = shape
        (px, py), (qx, qy) = self.patch_size, self.out_patch_size
        if nx % px or nx % qx or ny % py or ny % qy:
            fx = [k for k in range(1, 33) if nx % k == 0]
            fy = [k for k in range(1, 33) if ny % k == 0]
            raise ValueError(
                f"PROSE cuts the {nx}x{ny} grid into {px}x{py} input and {qx}x{qy} output patches "
                f"(kernel = stride), so X must be divisible by {px} and {qx}, Y by {py} and {qy}. Set "
                f"model.net.patch_size / out_patch_size (an int or [px, py]; sizes up to 32 dividing "
                f"X: {fx}, Y: {fy}; 1D data (Y = 1) needs [p, 1]), or crop/pad the data")

    def symbol_batch(self, cond: dict | None, batch: int) -> list[list[str]]:
        """The equation token sequence of each sample, from cond = {family, scalars}."""
        if not isinstance(cond, Mapping) or "family" not in cond:
            raise ValueError(
                "PROSE with use_symbols=True needs cond = {'family': str, 'scalars': {name: Tensor[B]}} "
                f"(got {type(cond).__name__}); the task passes it when model.needs_cond is true. "
                "For the data-only ablation set model.net.use_symbols=false")
        families = cond["family"]
        if isinstance(families, str):
            families = [families] * batch
        families = list(families)
        if len(families) != batch:
            raise ValueError(f"cond['family'] has {len(families)} entries for a batch of {batch}")
        columns = {}
        for name, value in dict(cond.get("scalars") or {}).items():
            v = torch.as_tensor(value).detach().reshape(-1).cpu().double()
            if v.numel() not in (1, batch):
                raise ValueError(f"cond['scalars'][{name!r}] has {v.numel()} values for a batch of {batch}: "
                                 f"give one per sample or one for all")
            columns[name] = v.expand(batch) if v.numel() == 1 else v
        sequences = []
        for i in range(batch):
            scalars = dict(self.default_scalars)
            scalars.update({k: float(v[i]) for k, v in columns.items()})
            sequences.append(self.tokenizer.equation(families[i], scalars))
        return sequences

    def _encode(self, x: torch.Tensor, sequences: list[list[str]] | None):
        """Embed + encode + fuse. Returns fused [B, N, d], its padding mask or None, n_data."""
        self.check_input(x)
        b, t, c, nx, ny = x.shape
        self.check_grid((nx, ny))
        h = self.patch_embed(x.reshape(b * t, c, nx, ny))                       # [B*T, d, nx/p, ny/p]
        gx, gy = nx // self.patch_size[0], ny // self.patch_size[1]
        h = h.reshape(b, t, self.width, gx * gy).transpose(2, 3)               # [B, T, P, d]
        pos = sample_grid_table(self.pos_in, gx, gy, self.padding == "circular").reshape(1, 1, gx * gy, -1)
        h = (h + self.time_in + pos).reshape(b, t * gx * gy, self.width)
        data = self.data_encoder(h) + self.type_embed.weight[0]
        n_data = data.shape[1]
        if not self.use_symbols:
            return self.fusion(data), None, n_data
        ids, pad = self.tokenizer.batch_encode(self.encoder_tokens(sequences))
        ids, pad = ids.to(x.device), pad.to(x.device)
        s = self.symbol_embed(ids) + sinusoidal_positions(ids.shape[1], self.width, x.device, data.dtype)
        sym = self.symbol_encoder(s, pad) + self.type_embed.weight[1]
        mask = torch.cat([torch.zeros(b, n_data, dtype=torch.bool, device=x.device), pad], dim=1)
        return self.fusion(torch.cat([data, sym], dim=1), mask), mask, n_data

    def encoder_tokens(self, sequences: list[list[str]]) -> list[list[str]]:
        """What the symbol encoder reads of each equation: all of it, or its skeleton."""
        return sequences if self.symbol_input == "full" else [skeleton(s) for s in sequences]

    @property
    def scores_symbols(self) -> bool:
        """Symbol metrics are meaningful: a decoder that cannot copy the numbers it writes."""
        return self.has_symbol_decoder and self.symbol_input == "skeleton"

    # ------------------------------------------------------------------ decoders
    def queries(self, nx: int, ny: int) -> torch.Tensor:
        """Query embeddings [T_out * nx/q * ny/q, d]: time_out[t] + pos_out(i, j), (t, i, j) order."""
        (qx, qy) = self.out_patch_size
        pos = sample_grid_table(self.pos_out, nx // qx, ny // qy, self.padding == "circular")
        return (self.time_out + pos.reshape(1, 1, -1, self.width)).reshape(-1, self.width)

    def decode_data(self, queries: torch.Tensor, fused: torch.Tensor,
                    mask: torch.Tensor | None) -> torch.Tensor:
        """Cross-attention decoder on queries [B, M, d] -> [B, M, d]."""
        for layer in self.data_decoder:
            queries = layer(queries, fused, mask)
        return self.data_decoder_norm(queries)

    def _predict(self, fused, mask, nx: int, ny: int) -> torch.Tensor:
        b = fused.shape[0]
        gx, gy = nx // self.out_patch_size[0], ny // self.out_patch_size[1]
        y = self.decode_data(self.queries(nx, ny).expand(b, -1, -1), fused, mask)
        y = y.reshape(b * self.out_steps, gx, gy, self.width).permute(0, 3, 1, 2)
        y = self.patch_unembed(y)                                              # [B*T_out, C_out, X, Y]
        return y.reshape(b, self.out_steps, self.out_channels, nx, ny)

    def _symbol_memory(self, fused, mask, n_data):
        if self.symbol_decoder_memory == "symbol":
            return fused[:, n_data:], mask[:, n_data:]
        return fused, mask

    def symbol_logits(self, ids: torch.Tensor, memory: torch.Tensor,
                      mem_mask: torch.Tensor | None) -> torch.Tensor:
        """Next-token logits [B, L, V] for decoder inputs ids [B, L] (causal)."""
        h = self.decoder_embed(ids) + sinusoidal_positions(ids.shape[1], self.width, ids.device, memory.dtype)
        for layer in self.symbol_decoder:
            h = layer(h, memory, mem_mask)
        return self.symbol_head(self.symbol_decoder_norm(h))

    # ------------------------------------------------------------------ contract
    def forward(self, x: torch.Tensor, cond: dict | None = None) -> torch.Tensor:
        sequences = self.symbol_batch(cond, x.shape[0]) if self.use_symbols else None
        fused, mask, _ = self._encode(x, sequences)
        return self._predict(fused, mask, x.shape[-2], x.shape[-1])

    def forward_with_aux(self, x: torch.Tensor, cond: dict | None = None
                         ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        sequences = self.symbol_batch(cond, x.shape[0]) if self.use_symbols else None
        fused, mask, n_data = self._encode(x, sequences)
        pred = self._predict(fused, mask, x.shape[-2], x.shape[-1])
        if not self.has_symbol_decoder:
            return pred, {}
        ids, _ = self.tokenizer.batch_encode(sequences, add_bos_eos=True)
        ids = ids.to(x.device)
        logits = self.symbol_logits(ids[:, :-1], *self._symbol_memory(fused, mask, n_data))
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), ids[:, 1:].reshape(-1),
                             ignore_index=self.tokenizer.pad_id)
        return pred, {"symbol_ce": self.symbol_loss_weight * ce}

    @torch.no_grad()
    def generate_symbols(self, x: torch.Tensor, cond: dict | None, max_len: int) -> torch.Tensor:
        """Greedy decoding: ids [B, max_len] after <bos> (no early stop; pad after <eos>)."""
        if not self.has_symbol_decoder:
            raise ValueError("this PROSE has no symbol decoder (use_symbols=false or symbol_decoder_depth=0)")
        sequences = self.symbol_batch(cond, x.shape[0])
        fused, mask, n_data = self._encode(x, sequences)
        memory, mem_mask = self._symbol_memory(fused, mask, n_data)
        b = x.shape[0]
        ids = torch.full((b, 1), self.tokenizer.bos_id, dtype=torch.long, device=x.device)
        done = torch.zeros(b, dtype=torch.bool, device=x.device)
        for _ in range(max_len):
            nxt = self.symbol_logits(ids, memory, mem_mask)[:, -1].argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, self.tokenizer.pad_id), nxt)
            done |= nxt == self.tokenizer.eos_id
            ids = torch.cat([ids, nxt[:, None]], dim=1)
        return ids[:, 1:]

    def extra_metrics(self, x: torch.Tensor, cond: dict | None = None) -> dict[str, torch.Tensor]:
        """symbol_accuracy (token level) and symbol_exact (whole sequence), each [B], greedy decoding;
        none unless :attr:`scores_symbols` (see the module docstring)."""
        if not self.scores_symbols:
            return {}
        target, pad = self.tokenizer.batch_encode(self.symbol_batch(cond, x.shape[0]), add_bos_eos=True)
        target, valid = target[:, 1:].to(x.device), ~pad[:, 1:].to(x.device)   # tokens + <eos>
        generated = self.generate_symbols(x, cond, target.shape[1])
        hit = (generated == target) & valid
        accuracy = hit.sum(1).float() / valid.sum(1).float()
        exact = (hit | ~valid).all(1).float()
        return {"symbol_accuracy": accuracy, "symbol_exact": exact}


def _pair(value, name: str) -> tuple[int, int]:
    """An int (square) or a pair of positive ints."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(int(v) == v and int(v) >= 1 for v in pair):
        raise ValueError(f"PROSE: {name} must be a positive int or a pair [X, Y] of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _init_embedding(emb: nn.Embedding) -> None:
    """N(0, d^-1/2) with a zero padding row, as the official ``Embedding`` helper."""
    nn.init.normal_(emb.weight, mean=0.0, std=emb.embedding_dim ** -0.5)
    if emb.padding_idx is not None:
        with torch.no_grad():
            emb.weight[emb.padding_idx].zero_()
