"""Held-out likelihood: Monte Carlo estimators of the SEDD ELBO bound, the integral of
docs/sedd.md section 4 (``bound_draw``, ``sedd_bound``), and the exact next-token NLL of the
autoregressive baseline (``ar_nll``)."""
from __future__ import annotations

import math
from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from .losses import NOISE_EPS, ar_loss, sedd_loss
from .model import SEDD


def _binom_tail(L: int, x: float) -> np.ndarray:
    """I_k = P(Binomial(L, x) >= k) for k = 0..L (= the regularised incomplete beta
    I_x(k, L - k + 1)), float64."""
    j = np.arange(L + 1)
    logpmf = np.array([math.lgamma(L + 1) - math.lgamma(i + 1) - math.lgamma(L - i + 1) for i in j]) + j * math.log(x) + (L - j) * math.log1p(-x)
    pmf = np.exp(logpmf)
    return np.cumsum(pmf[::-1])[::-1]


def bound_draw(
    L: int, gen: torch.Generator, estimator: str = "k", noise_eps: float = NOISE_EPS, tail: Optional[np.ndarray] = None, t_min: float = 1e-7
) -> Tuple[float, Tensor, float]:
    """One Monte Carlo draw for the ELBO integral of sedd.md section 4:
    (t, masked [L] bool, weight) with E[weight * sum_masked sigma_bar'(t) SE] = the integral
    over t in (0, 1] with every token masked with probability p = (1 - eps) t.

    "t":  t ~ U(0, 1), tokens masked independently, weight 1 (the literal estimator; its
          variance is large: sparse masks at small t are weighted by 1/t).
    "k":  the same integral importance-sampled by the number of masked tokens: k ~ U{1..L},
          a uniform set of k positions, p | k ~ Beta(k, L - k + 1) truncated to p <= 1 - eps
          (the k-th smallest of L uniforms, resampled while above 1 - eps), t = p / (1 - eps);
          weight = (L / k) P(Bin(L, 1 - eps) >= k) t.  With joint density p^k (1 - p)^{L - k}
          of (t, mask) this is the exact likelihood ratio (C(L, k) B(k, L - k + 1) = 1 / k), so
          both estimators have the same mean; for the time-independent network
          t sigma_bar' SE does not depend on t and the estimate is (L / k) sum_masked of a
          bounded per-token term (any-order-autoregressive form): much lower variance."""
    if estimator == "t":
        t = float(torch.rand(1, generator=gen, dtype=torch.float64).clamp_min(t_min))
        p = (1 - noise_eps) * t
        masked = torch.rand(L, generator=gen, dtype=torch.float64) < p
        return t, masked, 1.0
    if estimator != "k":
        raise ValueError(estimator)
    if tail is None:
        tail = _binom_tail(L, 1 - noise_eps)
    k = int(torch.randint(1, L + 1, (1,), generator=gen))
    pos = torch.randperm(L, generator=gen)[:k]
    masked = torch.zeros(L, dtype=torch.bool)
    masked[pos] = True
    while True:
        p = float(torch.rand(L, generator=gen, dtype=torch.float64).sort().values[k - 1])
        if p <= 1 - noise_eps:
            break
    t = max(p / (1 - noise_eps), t_min)
    return t, masked, (L / k) * float(tail[k]) * t


@torch.no_grad()
def sedd_bound(
    model: SEDD, blocks: np.ndarray, draws: int = 1, seed: int = 0, batch_size: int = 16, device: str = "cpu", estimator: str = "k", progress=None
) -> dict:
    """Monte Carlo estimate of the held-out ELBO bound (sedd.md section 4), see
    :func:`bound_draw` for the two estimators (same expectation).

    Draw d of block b uses a generator seeded with (seed, d, b), so results do not depend on
    the batch size.  bound/token = mean(values) / L; standard error from the within-block
    variance over draws: sqrt(sum_b var_b / K) / (n L) (K >= 2: the test blocks are the
    whole population, only the Monte Carlo error counts); with K = 1 the conservative
    std(values) / sqrt(n) / L.  The prior term at t = 1 (tokens left unmasked with
    probability eps) is not included, as in the paper."""
    model.eval()
    n, L = blocks.shape
    vals = np.zeros((n, draws), dtype=np.float64)
    tail = _binom_tail(L, 1 - NOISE_EPS)
    masked_frac = 0.0
    for d in range(draws):
        for s in range(0, n, batch_size):
            xb = torch.from_numpy(blocks[s : s + batch_size])
            ts, ms, ws = [], [], []
            for b in range(s, s + xb.shape[0]):
                g = torch.Generator().manual_seed(int(seed) * 1_000_003 + d * 100_003 + b)
                t, m, w = bound_draw(L, g, estimator, tail=tail)
                ts.append(t)
                ms.append(m)
                ws.append(w)
            t = torch.tensor(ts, dtype=torch.float64)
            masked = torch.stack(ms)
            per_seq, nm = sedd_loss(model, xb, t, None, masked=masked)
            vals[s : s + xb.shape[0], d] = per_seq.double().cpu().numpy() * np.array(ws)
            masked_frac += float(nm) / (n * L * draws)
        if progress:
            progress(d + 1, draws)
    mean = vals.mean() / L
    if draws >= 2:
        se = math.sqrt(vals.var(axis=1, ddof=1).sum() / draws) / (n * L)
    else:
        se = vals[:, 0].std(ddof=1) / math.sqrt(max(n, 1)) / L if n > 1 else float("nan")
    return {
        "nats_per_token": mean,
        "se": se,
        "ppl": math.exp(mean),
        "ppl_se": math.exp(mean) * se,
        "blocks": n,
        "length": L,
        "tokens": n * L,
        "draws": draws,
        "seed": seed,
        "estimator": estimator,
        "masked_fraction": masked_frac,
        "se_method": "within-block over draws" if draws >= 2 else "across blocks (conservative)",
    }


@torch.no_grad()
def ar_nll(model: SEDD, blocks: np.ndarray, batch_size: int = 16, device: str = "cpu") -> dict:
    model.eval()
    n, L = blocks.shape
    total = 0.0
    per_block = []
    for s in range(0, n, batch_size):
        v = ar_loss(model, torch.from_numpy(blocks[s : s + batch_size])).double().cpu().numpy()
        per_block.extend(v.tolist())
        total += float(v.sum())
    mean = total / (n * L)
    return {
        "nats_per_token": mean,
        "ppl": math.exp(mean),
        "blocks": n,
        "length": L,
        "tokens": n * L,
        "block_se": float(np.std(per_block, ddof=1) / math.sqrt(n) / L) if n > 1 else float("nan"),
    }
