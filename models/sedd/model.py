"""The SEDD score network ("DDiT": a bidirectional diffusion transformer with adaLN
conditioning on the total noise sigma), in the official checkpoint layout.

Follows docs/sedd.md section 1 and the authors' ``model/transformer.py``.
State-dict names/shapes equal the official ones (e.g. ``vocab_embed.embedding``,
``blocks.{i}.attn_qkv.weight``, ``rotary_emb.inv_freq``), so official checkpoints load with
``load_state_dict(strict=True)``.

Export notes (torch 1.13 -> ONNX opset 17, onnxruntime-node 1.30):
* no ``expm1``: the absorbing ``scale_by_sigma`` shift log(e^sigma - 1) is written with a
  series for small sigma (see :func:`log_expm1`);
* layer norms are exported with an explicit weight AND zero bias, because a
  LayerNormalization node without a bias input crashes onnxruntime-node at the default
  graph optimisation level;
* the rotary tables are built from the actual sequence length inside the graph, so the
  exported model takes any length.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class SEDDConfig:
    hidden_size: int = 768
    n_blocks: int = 12
    n_heads: int = 12
    cond_dim: int = 128
    vocab_size: int = 50258  # network output size V (MASK included for absorb)
    graph_type: str = "absorb"  # "absorb" | "uniform"
    scale_by_sigma: bool = True
    dropout: float = 0.1  # training only
    # Extensions for models/train (the defaults are the official network; neither option
    # adds, removes or renames a state-dict entry):
    # time_conditioned=False: the network does not see sigma.  The conditioning vector c is
    #   zero, so sigma_map is unused and every adaLN modulation reduces to its bias (a learned
    #   constant per block).  For absorb + scale_by_sigma the shift -log(e^sigma - 1) still
    #   applies, so log_score = f(x) - log(e^sigma - 1) - log(V - 1): the RADD/MDLM
    #   factorisation (a sigma-dependent scalar times a sigma-free conditional distribution).
    time_conditioned: bool = True
    # causal=True: causal self-attention (the autoregressive baseline in models/train).
    causal: bool = False
    # shift=True: the AR shift of DiffuGPT (Gong et al., ICLR 2025), for a diffusion network
    #   adapted from an autoregressive one.  The network reads [BOS, x_0 .. x_{L-1}] (BOS = the
    #   MASK id V - 1, as the AR baseline's input) and the output at position i comes from the
    #   hidden state at position i of that sequence, i.e. the state after x_{i-1}: the hidden
    #   state at i - 1 predicts token i, and position 0 is predicted from BOS, exactly as in the
    #   AR model.  The last state (after x_{L-1}) is computed and dropped.  No parameters; part of
    #   the network, so the exported ONNX graph contains it (models/sedd/export.py).
    shift: bool = False
    # x0_param=True: the MDLM x0-parameterisation (Sahoo et al. 2024), expressed as a SEDD
    #   absorbing log score so the network I/O is unchanged: at a masked position
    #   log s(y) = log_softmax over y != MASK of the raw output - log(e^sigma - 1), log s(MASK) =
    #   0; at an unmasked position MDLM's carry-over (-1e6 for every y but the current token (0)
    #   and MASK (+log(e^sigma - 1))), the convention of models/sedd/mdlm.py.  Needs absorb.
    x0_param: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.n_heads

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("shift", "x0_param"):  # written only when on: older dicts unchanged
            if not d[k]:
                del d[k]
        return d

    @classmethod
    def small(cls) -> "SEDDConfig":
        return cls(hidden_size=768, n_blocks=12, n_heads=12, cond_dim=128, vocab_size=50258)

    @classmethod
    def medium(cls) -> "SEDDConfig":
        return cls(hidden_size=1024, n_blocks=24, n_heads=16, cond_dim=128, vocab_size=50258)


# ----------------------------------------------------------------------------------------
# helpers


def log_expm1(sigma: Tensor) -> Tensor:
    """log(e^sigma - 1), accurate for small and large sigma and ONNX-exportable without
    ``expm1``.

    * sigma < 0.5: log(e^s - 1) = log(s) + log(g(s)) with g(s) = (e^s - 1)/s
      = sum_{k>=0} s^k/(k+1)!, summed by Horner to k = 10 (truncation error < 1e-11 at
      s = 0.5); no cancellation for tiny s.
    * sigma >= 0.5: log(e^s - 1) = s + log(1 - e^-s); 1 - e^-s >= 0.39, so no
      cancellation, and no overflow for large s.
    The small branch is evaluated on min(s, 0.5) so the unused branch stays finite.
    """
    s_small = torch.clamp(sigma, max=0.5)
    g = torch.ones_like(s_small)
    for k in range(10, 0, -1):  # Horner: g = 1 + s/2 (1 + s/3 (1 + ...))
        g = 1.0 + g * s_small / float(k + 1)
    small = torch.log(s_small) + torch.log(g)
    large = sigma + torch.log(1.0 - torch.exp(-sigma))
    return torch.where(sigma < 0.5, small, large)


X0_NEG = -1000000.0  # MDLM's neg_infinity: log score of moves the x0 model rules out


def x0_log_score(raw: Tensor, current: Tensor, lexp: Tensor) -> Tensor:
    """The SEDD absorbing log score of the MDLM x0-parameterisation (``SEDDConfig.x0_param``).

    raw [..., V]: network output (MASK = the last entry); current [...]: the tokens of x_t;
    lexp [..., 1]: log(e^sigma - 1) per row.  Masked rows: log_softmax over j != MASK - lexp,
    MASK entry 0.  Unmasked rows (carry-over): -1e6, the current token 0, MASK +lexp.  The
    log-sum-exp is written out (max + log sum exp) as in models/sedd/mdlm.py's graph."""
    z = raw[..., :-1]
    top = z.max(dim=-1, keepdim=True).values
    lse = top + torch.log(torch.exp(z - top).sum(dim=-1, keepdim=True))
    lexp = lexp.to(z.dtype)
    zero = torch.zeros_like(z[..., :1])
    masked_row = torch.cat([z - lse - lexp, zero], dim=-1)
    unmasked_row = torch.cat([torch.full_like(z, X0_NEG), zero + lexp], dim=-1)
    is_masked = (current == raw.shape[-1] - 1)[..., None]
    out = torch.where(is_masked, masked_row, unmasked_row)
    return torch.scatter(out, -1, current[..., None], zero)


def annealed_attention_mask(n: int, ratio: float, generator=None, device=None) -> Tensor:
    """DiffuGPT's attention-mask annealing (training only): a bool [n, n] mask of allowed
    attention (True = may attend) that is causal plus each future entry independently with
    probability ``ratio``.  ratio <= 0: exactly causal; ratio >= 1: full."""
    causal = torch.ones(n, n, dtype=torch.bool).tril()
    if ratio <= 0:
        allowed = causal
    elif ratio >= 1:
        allowed = torch.ones(n, n, dtype=torch.bool)
    else:
        allowed = causal | (torch.rand(n, n, generator=generator) < ratio)
    return allowed.to(device) if device is not None else allowed


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    return x * (1.0 + scale) + shift


class LayerNorm(nn.Module):
    """Layer norm without affine parameters (eps 1e-5, in fp32) times a weight vector.

    The weight and an explicit zero bias are passed into ``F.layer_norm`` so the ONNX graph
    gets a LayerNormalization node with scale AND bias inputs (see module doc)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight.float()
        return F.layer_norm(x.float(), [self.dim], w, torch.zeros_like(w), 1e-5).to(x.dtype)


class TimestepEmbedder(nn.Module):
    """sigma -> [cos(sigma f), sin(sigma f)] (256 features, cos first) -> MLP."""

    def __init__(self, hidden_size: int, frequency_embedding_size: int = 256) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(frequency_embedding_size, hidden_size, bias=True),
            nn.SiLU(),
            nn.Linear(hidden_size, hidden_size, bias=True),
        )
        self.frequency_embedding_size = frequency_embedding_size

    @staticmethod
    def timestep_embedding(t: Tensor, dim: int, max_period: float = 10000.0) -> Tensor:
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(0, half, dtype=torch.float32) / half).to(t.device)
        args = t[:, None].float() * freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if dim % 2:
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
        return emb

    def forward(self, t: Tensor) -> Tensor:
        return self.mlp(self.timestep_embedding(t, self.frequency_embedding_size))


class EmbeddingLayer(nn.Module):
    """Raw embedding table, ``vocab_embed.embedding`` [V, H]; no positions, no scaling."""

    def __init__(self, dim: int, vocab_dim: int) -> None:
        super().__init__()
        self.embedding = nn.Parameter(torch.empty((vocab_dim, dim)))
        nn.init.kaiming_uniform_(self.embedding, a=math.sqrt(5))

    def forward(self, x: Tensor) -> Tensor:
        return self.embedding[x]


class Rotary(nn.Module):
    """NeoX-style ("rotate half") rotary embeddings; ``inv_freq`` is the official buffer."""

    def __init__(self, dim: int, base: float = 10000.0) -> None:
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq)

    def forward(self, seq_len_like: Tensor) -> Tuple[Tensor, Tensor]:
        """cos, sin tables [L, head_dim] for the length of dim 1 of ``seq_len_like``."""
        # The ONNX exporter traces shape[1] as a Shape op, so the length stays dynamic.
        t = torch.arange(seq_len_like.shape[1], device=seq_len_like.device).type_as(self.inv_freq)
        freqs = t[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos(), emb.sin()


def _use_sdpa(q: Tensor) -> bool:
    return q.is_cuda and hasattr(F, "scaled_dot_product_attention") and not torch.jit.is_tracing() and not torch.onnx.is_in_onnx_export()


def rotate_half(x: Tensor) -> Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    return x * cos + rotate_half(x) * sin


class DDiTBlock(nn.Module):
    def __init__(self, dim: int, n_heads: int, cond_dim: int, mlp_ratio: int = 4, dropout: float = 0.1, causal: bool = False) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.causal = causal
        self.norm1 = LayerNorm(dim)
        self.attn_qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.attn_out = nn.Linear(dim, dim, bias=False)
        self.dropout1 = nn.Dropout(dropout)
        self.norm2 = LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, mlp_ratio * dim, bias=True),
            nn.GELU(approximate="tanh"),
            nn.Linear(mlp_ratio * dim, dim, bias=True),
        )
        self.dropout2 = nn.Dropout(dropout)
        self.adaLN_modulation = nn.Linear(cond_dim, 6 * dim, bias=True)

    def forward(self, x: Tensor, rotary_cos_sin: Tuple[Tensor, Tensor], c: Tensor, attn_mask: Optional[Tensor] = None) -> Tensor:
        """``attn_mask``: optional bool [L, L], True where attention is allowed (training-time
        mask annealing); None: full (or causal for ``causal``)."""
        B, L, H = x.shape[0], x.shape[1], x.shape[2]
        nh = self.n_heads
        hd = H // nh
        (shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp) = self.adaLN_modulation(c)[:, None].chunk(6, dim=2)

        # attention
        h = modulate(self.norm1(x), shift_msa, scale_msa)
        qkv = self.attn_qkv(h).reshape(B, L, 3, nh, hd)  # [q | k | v], heads-major
        q = qkv[:, :, 0].transpose(1, 2)  # [B, nh, L, hd]
        k = qkv[:, :, 1].transpose(1, 2)
        v = qkv[:, :, 2].transpose(1, 2)
        cos, sin = rotary_cos_sin  # [L, hd]
        q = apply_rotary_pos_emb(q, cos, sin)
        k = apply_rotary_pos_emb(k, cos, sin)
        if _use_sdpa(q):
            # torch >= 2 on an accelerator: the fused kernel (same maths; never used while
            # tracing/exporting, nor on torch 1.13).
            # (under autocast the rotary tables promote q, k to fp32 while v is bf16)
            if attn_mask is not None:
                o = F.scaled_dot_product_attention(q.to(v.dtype), k.to(v.dtype), v, attn_mask=attn_mask)
            else:
                o = F.scaled_dot_product_attention(q.to(v.dtype), k.to(v.dtype), v, is_causal=self.causal)
        else:
            att = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
            if self.causal:
                future = torch.ones(L, L, dtype=torch.bool, device=att.device).triu(1)
                att = att.masked_fill(future, float("-inf"))
            if attn_mask is not None:
                att = att.masked_fill(~attn_mask, float("-inf"))
            att = torch.softmax(att, dim=-1)  # default: full, non-causal
            o = torch.matmul(att, v)
        o = o.transpose(1, 2).reshape(B, L, H)
        x = x + gate_msa * self.dropout1(self.attn_out(o))

        # MLP
        h = modulate(self.norm2(x), shift_mlp, scale_mlp)
        x = x + gate_mlp * self.dropout2(self.mlp(h))
        return x


class DDitFinalLayer(nn.Module):
    def __init__(self, hidden_size: int, out_channels: int, cond_dim: int) -> None:
        super().__init__()
        self.norm_final = LayerNorm(hidden_size)
        self.linear = nn.Linear(hidden_size, out_channels)
        self.adaLN_modulation = nn.Linear(cond_dim, 2 * hidden_size, bias=True)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        shift, scale = self.adaLN_modulation(c)[:, None].chunk(2, dim=2)
        return self.linear(modulate(self.norm_final(x), shift, scale))


class SEDD(nn.Module):
    """indices int64 [B, L], sigma float32 [B] -> log concrete score float32 [B, L, V]."""

    def __init__(self, config: SEDDConfig) -> None:
        super().__init__()
        if config.hidden_size % config.n_heads:
            raise ValueError("hidden_size must be divisible by n_heads")
        if config.graph_type not in ("absorb", "uniform"):
            raise ValueError(f"unknown graph type {config.graph_type!r}")
        if config.scale_by_sigma and config.graph_type != "absorb":
            raise ValueError("scale_by_sigma is only defined for the absorbing graph")
        if config.x0_param and config.graph_type != "absorb":
            raise ValueError("x0_param is only defined for the absorbing graph")
        self.config = config
        self.absorb = config.graph_type == "absorb"
        self.scale_by_sigma = config.scale_by_sigma
        H = config.hidden_size
        self.vocab_embed = EmbeddingLayer(H, config.vocab_size)
        self.sigma_map = TimestepEmbedder(config.cond_dim)
        self.rotary_emb = Rotary(config.head_dim)
        self.blocks = nn.ModuleList(
            [DDiTBlock(H, config.n_heads, config.cond_dim, dropout=config.dropout, causal=config.causal) for _ in range(config.n_blocks)]
        )
        self.output_layer = DDitFinalLayer(H, config.vocab_size, config.cond_dim)

    def cond(self, sigma: Tensor) -> Tensor:
        """The adaLN conditioning vector: [B, cond_dim], or [1, cond_dim] of zeros when the
        network is not time conditioned (sigma_map is then unused)."""
        if self.config.time_conditioned:
            return F.silu(self.sigma_map(sigma))  # note the extra SiLU
        return torch.zeros(1, self.config.cond_dim, device=sigma.device)

    def features(self, indices: Tensor, sigma: Tensor, attn_mask: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        """Hidden states after the last block [B, L, H] and the conditioning vector c;
        ``output_layer(x, c)`` gives the raw output (before the absorbing shift).  With
        ``config.shift`` the hidden state at position i is the one after x_{i-1} (see
        SEDDConfig).  ``attn_mask`` (training only): bool [L', L'] of allowed attention over
        the sequence the blocks see (L' = L + 1 with the shift)."""
        if self.config.shift:
            bos = torch.full_like(indices[:, :1], self.config.vocab_size - 1)
            indices = torch.cat([bos, indices], dim=1)
        x = self.vocab_embed(indices)
        c = self.cond(sigma)
        rotary_cos_sin = self.rotary_emb(indices)
        for block in self.blocks:
            x = block(x, rotary_cos_sin, c, attn_mask)
        if self.config.shift:
            x = x[:, :-1]
        return x, c

    def forward(self, indices: Tensor, sigma: Tensor, attn_mask: Optional[Tensor] = None) -> Tensor:
        x, c = self.features(indices, sigma, attn_mask)
        x = self.output_layer(x, c)
        if self.config.x0_param:
            return x0_log_score(x, indices, log_expm1(sigma.float())[:, None, None])

        if self.scale_by_sigma:
            # Absorbing: out -= log(e^sigma - 1) + log(V - 1)
            x = x - log_expm1(sigma.float())[:, None, None].to(x.dtype) - math.log(self.config.vocab_size - 1)
        # The score of "no change" is 1: out[b, l, indices[b, l]] = 0.
        x = torch.scatter(x, -1, indices[..., None], torch.zeros_like(x[..., :1]))
        return x


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
