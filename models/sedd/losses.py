"""Training losses of the SEDD and autoregressive baseline models: the denoising score entropy in
its r-form (docs/sedd.md section 4) and in the authors' form (for the tests), MDLM's weighted
cross-entropy, the per-sequence SEDD loss weighted by sigma_bar'(t), the training-time sampler of
t, and the next-token loss of the autoregressive baseline.

Absorbing graph (MASK = V - 1 = tokenizer size), log-linear noise
sigma_bar(t) = -log(1 - (1 - eps) t), eps = NOISE_EPS = 1e-3.
"""
from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .model import SEDD, log_expm1
from .noise import LogLinearNoise

NOISE_EPS = 1e-3  # log-linear schedule eps (official)
SAMPLING_EPS = 1e-3  # training t ~ U(SAMPLING_EPS, 1) (official losses.py)


def score_entropy_r(out: Tensor, x0: Tensor, r: Tensor) -> Tensor:
    """Denoising score entropy at masked positions, the r-form of sedd.md section 4.

    out [N, V]: log score rows (scale_by_sigma shift applied) at masked positions;
    x0 [N]: clean tokens; r [N] = 1 / (e^sigma - 1).
    SE = sum_{j != MASK} exp(out_j) - r out_{x0} + r (log r - 1)."""
    pos = out[:, :-1].exp().sum(dim=-1)
    neg = r * out.gather(-1, x0[:, None]).squeeze(-1)
    return pos - neg + r * (r.log() - 1)


def official_score_entropy(score: Tensor, sigma: Tensor, x: Tensor, x0: Tensor, dim: int) -> Tensor:
    """Direct transcription of the authors' ``Absorbing.score_entropy`` (graph_lib.py), for
    the tests: score [B, L, V] log score, sigma [B, 1], x perturbed, x0 clean -> [B, L]."""
    rel_ind = x == dim - 1
    esigm1 = torch.where(sigma < 0.5, torch.expm1(sigma), torch.exp(sigma) - 1)
    ratio = 1 / esigm1.expand_as(x)[rel_ind]
    other_ind = x0[rel_ind]
    neg_term = ratio * torch.gather(score[rel_ind], -1, other_ind[..., None]).squeeze(-1)
    pos_term = score[rel_ind][:, :-1].exp().sum(dim=-1)
    const = ratio * (ratio.log() - 1)
    entropy = torch.zeros(*x.shape, device=x.device, dtype=score.dtype)
    entropy[rel_ind] += pos_term - neg_term + const
    return entropy


def sample_t(batch: int, gen: torch.Generator, mode: str = "plain", eps: float = SAMPLING_EPS) -> Tensor:
    """Training times in [eps, 1] (float64).  "plain": iid uniform, as the official
    losses.py.  "lowdisc": one uniform shift of an evenly spaced grid (MDLM's low-discrepancy
    sampler): still marginally uniform, lower variance of the batch mean."""
    u = torch.rand(batch, generator=gen, dtype=torch.float64)
    if mode == "lowdisc":
        u = (u[:1] + torch.arange(batch, dtype=torch.float64) / batch) % 1.0
    elif mode != "plain":
        raise ValueError(mode)
    return (1 - eps) * u + eps


def _head(model: SEDD, h: Tensor, c: Tensor, fp32: bool) -> Tensor:
    """output_layer(h, c) as float32; ``fp32``: outside autocast (bf16 logits are too coarse
    for r * out at small t)."""
    if fp32:
        with torch.autocast(device_type=h.device.type, enabled=False):
            return model.output_layer(h.float(), c.float())
    return model.output_layer(h, c).float()


def mdlm_weighted_ce(raw: Tensor, x0: Tensor, weight: Tensor) -> Tensor:
    """MDLM's loss per masked row: weight * -log p_theta(x0 | x_t), p_theta = softmax over the
    real tokens of the raw output (MASK, the last entry, excluded).  raw [N, V], x0 [N],
    weight [N]: sedd_loss passes r = 1/(e^sigma_bar - 1) and multiplies by sigma_bar'(t), so the
    total weight is sigma_bar'(t) r = 1/t for the log-linear schedule."""
    logp = torch.log_softmax(raw[:, :-1].float(), dim=-1)
    return weight * -logp.gather(-1, x0[:, None]).squeeze(-1)


def sedd_loss(
    model: SEDD,
    x0: Tensor,
    t: Tensor,
    u: Optional[Tensor],
    *,
    full: bool = False,
    noise_eps: float = NOISE_EPS,
    fp32_head: bool = False,
    masked: Optional[Tensor] = None,
    attn_mask: Optional[Tensor] = None,
) -> Tuple[Tensor, Tensor]:
    """Denoising score entropy for absorb + log-linear, weighted by sigma_bar'(t).

    For a network with ``config.x0_param`` (``--objective mdlm``) the same quantity is
    computed in MDLM's form: at the normalised score log s = log p_theta - log(e^sigma - 1)
    the score entropy is exactly r * -log p_theta(x0) (r = 1/(e^sigma - 1)), so the loss is the
    weighted cross-entropy sum_masked sigma_bar'(t) r (-log p_theta(x0_i | x_t)) =
    sum_masked (1/t) (-log p_theta) -- MDLM's NELBO for the log-linear schedule; unmasked
    tokens are carried over and cost nothing.  ``attn_mask``: training-time attention mask
    (annealing), passed to the network.

    x0 [B, L] int64 clean tokens; t [B] float64 times; u [B, L] uniforms (token i is masked
    iff u < 1 - e^{-sigma_bar(t)} = (1 - eps) t).  Returns (per-sequence loss [B] float32 =
    sum over masked tokens of sigma_bar'(t) SE, number of masked tokens).  Only the masked
    rows go through the output projection unless ``full`` (the plain model(x, sigma) path,
    same value).  ``masked`` [B, L] bool replaces the draw from ``u`` (evaluation)."""
    V = model.config.vocab_size
    mask_id = V - 1
    noise = LogLinearNoise(noise_eps)
    sigma, dsigma = noise(t.double())  # float64 [B]
    if masked is None:
        x0 = x0.to(u.device)
        masked = u < (1 - torch.exp(-sigma)).to(u.device)[:, None]
    x0 = x0.to(masked.device)
    xt = torch.where(masked, torch.full_like(x0, mask_id), x0)
    dev = next(model.parameters()).device
    b_idx, l_idx = masked.nonzero(as_tuple=True)  # on the host: no device sync
    xt, x0 = xt.to(dev), x0.to(dev)
    b_idx, l_idx = b_idx.to(dev), l_idx.to(dev)
    sig32 = sigma.float().to(dev)
    r_all = (1.0 / torch.expm1(sigma)).float().to(dev)  # float64 -> float32
    ds_all = dsigma.float().to(dev)
    x0_param = getattr(model.config, "x0_param", False)
    if full:
        out = model(xt, sig32, attn_mask)[b_idx, l_idx].float()
        if x0_param:  # masked rows: log p - log(e^sigma - 1); MASK entry 0 (dropped)
            raw = out + log_expm1(sig32)[b_idx, None]
    else:
        x, c = model.features(xt, sig32, attn_mask)
        h = x[b_idx, l_idx][:, None]  # [N, 1, H]
        c_sel = c if c.shape[0] == 1 else c[b_idx]
        raw = _head(model, h, c_sel, fp32_head)[:, 0]  # [N, V]
        if not x0_param:
            shift = log_expm1(sig32) + math.log(V - 1)  # the scale_by_sigma shift
            out = raw - shift[b_idx, None]
    if x0_param:
        se = mdlm_weighted_ce(raw, x0[b_idx, l_idx], r_all[b_idx])
    else:
        se = score_entropy_r(out, x0[b_idx, l_idx], r_all[b_idx])
    per_seq = torch.zeros(x0.shape[0], device=dev, dtype=torch.float32)
    per_seq = per_seq.index_add(0, b_idx, ds_all[b_idx] * se)
    return per_seq, int(masked.sum())


def ar_loss(model: SEDD, x0: Tensor, fp32_head: bool = False) -> Tensor:
    """Next-token cross-entropy of the causal baseline, summed per sequence [B].

    Input [BOS, x_0 .. x_{L-2}] with BOS = the MASK id (never a data token), targets
    x_0 .. x_{L-1}: every one of the L tokens of a block is scored, as in the SEDD bound.
    The MASK logit is excluded from the softmax (it is never a target)."""
    dev = next(model.parameters()).device
    x0 = x0.to(dev)
    V = model.config.vocab_size
    bos = torch.full_like(x0[:, :1], V - 1)
    inp = torch.cat([bos, x0[:, :-1]], dim=1)
    x, c = model.features(inp, torch.zeros(x0.shape[0], device=dev))
    logits = _head(model, x, c, fp32_head)[..., :-1]
    ce = F.cross_entropy(logits.reshape(-1, V - 1), x0.reshape(-1), reduction="none")
    return ce.view(x0.shape).sum(dim=1)
