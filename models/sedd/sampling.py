"""Reverse-process samplers (sedd.md section 3), named after the official ``sampling.py``:
``EulerPredictor``, ``AnalyticPredictor`` (Tweedie tau-leaping), ``Denoiser`` and
``sample_categorical`` (the Gumbel-max-equivalent draw argmax(p / E), E ~ Exp(1)).

Conventions
-----------
* ``score_fn(x, sigma)`` returns the network's **log** concrete score [B, L, V] for int64
  indices x [B, L] and float32 sigma [B] (e.g. a :class:`sedd.model.SEDD`).  Samplers take
  ``exp`` of it.
* All sampler arithmetic (noise levels, staggered scores, probabilities) is done in float64;
  only the network sees float32 sigma.  A float64 re-implementation (e.g. JavaScript numbers)
  fed the same network outputs and the same Exp(1) noise therefore reproduces the draws.
* Exp(1) noise can be supplied explicitly with ``exp_noise(call, shape) -> Tensor``, where
  ``call`` counts network evaluations 0..steps (``steps`` is the final denoise call) and
  ``shape`` is the shape of p: [B, L, V] for predictor steps, [B, L, V - 1] for the absorbing
  denoise step (MASK column dropped).  Default: E = 1e-10 - log(U + 1e-10), U ~ U[0, 1), as in
  the official code.
* Time grid: t_k = linspace(1, eps, steps + 1), dt = (1 - eps) / steps; each step re-clamps the
  known tokens then goes t -> t - dt; finally (``denoise=True``) one analytic step with
  dsigma = sigma_bar(eps) and (absorb) the MASK column dropped, then a last re-clamp.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence, Tuple

import torch
from torch import Tensor

from .graph import Graph
from .noise import Noise

ScoreFn = Callable[[Tensor, Tensor], Tensor]
ExpNoiseFn = Callable[[int, Tuple[int, ...]], Tensor]


def exp1_noise(shape: Sequence[int], generator: Optional[torch.Generator] = None) -> Tensor:
    """Exp(1) samples as in the official code: 1e-10 - log(U + 1e-10)."""
    u = torch.rand(tuple(shape), generator=generator, dtype=torch.float64)
    return 1e-10 - torch.log(u + 1e-10)


def sample_categorical(probs: Tensor, exp_noise: Optional[Tensor] = None, generator: Optional[torch.Generator] = None) -> Tensor:
    """argmax_j p_j / E_j with E_j ~ Exp(1): a draw from p / sum(p) (p need not be
    normalised; zero/negative entries never win while some entry is positive)."""
    if exp_noise is None:
        exp_noise = exp1_noise(probs.shape, generator)
    return (probs / exp_noise.to(probs.dtype)).argmax(dim=-1)


def _score(score_fn: ScoreFn, x: Tensor, sigma: Tensor) -> Tensor:
    """exp(log score) in float64; sigma [B] float64 -> network gets float32."""
    with torch.no_grad():
        return score_fn(x, sigma.to(torch.float32)).to(torch.float64).exp()


class Predictor:
    def __init__(self, graph: Graph, noise: Noise) -> None:
        self.graph = graph
        self.noise = noise

    def update_fn(
        self, score_fn: ScoreFn, x: Tensor, t: Tensor, step_size: float, exp_noise: Optional[Tensor] = None, generator: Optional[torch.Generator] = None
    ) -> Tensor:
        raise NotImplementedError


class EulerPredictor(Predictor):
    """p = onehot(x) + dt * sigma_bar'(t) * Qbar(x, s) (reverse rate from the scores)."""

    def update_fn(self, score_fn, x, t, step_size, exp_noise=None, generator=None):
        sigma, dsigma = self.noise(t)
        score = _score(score_fn, x, sigma)
        rev_rate = step_size * dsigma[:, None, None] * self.reverse_rate(x, score)
        probs = torch.nn.functional.one_hot(x, self.graph.dim).to(torch.float64) + rev_rate
        return sample_categorical(probs, exp_noise, generator)

    def reverse_rate(self, i: Tensor, score: Tensor) -> Tensor:
        """Qbar(x, y) = s_y * Q(y, x) for y != x, diagonal = -sum of the off-diagonal."""
        g = self.graph
        if g.absorb:
            # Q(y, x) = 1 for x = MASK, y != MASK (and 0 otherwise off the diagonal).
            normalized_rate = torch.zeros_like(score)
            is_mask = (i == g.dim - 1)[..., None].to(score.dtype)
            normalized_rate[..., :-1] = 1.0
            normalized_rate = normalized_rate * is_mask
        else:
            normalized_rate = torch.full_like(score, 1.0 / g.dim)
        normalized_rate = normalized_rate.scatter(-1, i[..., None], torch.zeros_like(score[..., :1]))
        rate = normalized_rate * score
        return rate.scatter(-1, i[..., None], -rate.sum(dim=-1, keepdim=True))


class AnalyticPredictor(Predictor):
    """Tweedie tau-leaping: p = staggered_score(s, dsigma) * P^T(x, dsigma),
    dsigma = sigma_bar(t) - sigma_bar(t - dt)."""

    def update_fn(self, score_fn, x, t, step_size, exp_noise=None, generator=None):
        curr_sigma = self.noise.total_noise(t)
        next_sigma = self.noise.total_noise(t - step_size)
        dsigma = curr_sigma - next_sigma
        score = _score(score_fn, x, curr_sigma)
        stag_score = self.graph.staggered_score(score, dsigma)
        probs = stag_score * self.graph.transp_transition(x, dsigma)
        return sample_categorical(probs, exp_noise, generator)


class Denoiser:
    """Final step at t = eps: analytic with dsigma = sigma_bar(eps); absorb drops MASK."""

    def __init__(self, graph: Graph, noise: Noise) -> None:
        self.graph = graph
        self.noise = noise

    def update_fn(self, score_fn: ScoreFn, x: Tensor, t: Tensor, exp_noise: Optional[Tensor] = None, generator: Optional[torch.Generator] = None) -> Tensor:
        sigma = self.noise.total_noise(t)
        score = _score(score_fn, x, sigma)
        stag_score = self.graph.staggered_score(score, sigma)
        probs = stag_score * self.graph.transp_transition(x, sigma)
        if self.graph.absorb:
            probs = probs[..., :-1]
        return sample_categorical(probs, exp_noise, generator)


PREDICTORS = {"euler": EulerPredictor, "analytic": AnalyticPredictor}


def sample(
    score_fn: ScoreFn,
    graph: Graph,
    noise: Noise,
    batch_dims: Tuple[int, int],
    steps: int,
    predictor: str = "analytic",
    denoise: bool = True,
    eps: float = 1e-5,
    known_ids: Optional[Tensor] = None,
    known_mask: Optional[Tensor] = None,
    exp_noise: Optional[ExpNoiseFn] = None,
    generator: Optional[torch.Generator] = None,
    on_step: Optional[Callable[[int, Tensor], None]] = None,
) -> Tensor:
    """Run the reverse process from the limit distribution (all MASK for absorb).

    Conditioning/infilling: where ``known_mask`` [B, L] is true, ``known_ids`` is written back
    into x before every step and after the last (the "projector").  ``on_step(call, x)`` is
    called after each network evaluation's update (call = 0..steps) with the new x.
    Returns int64 [B, L].
    """
    B, L = batch_dims
    pred = PREDICTORS[predictor](graph, noise)
    x = graph.sample_limit(B, L)

    def project(x: Tensor) -> Tensor:
        if known_mask is None:
            return x
        assert known_ids is not None
        return torch.where(known_mask, known_ids, x)

    def noise_for(call: int, shape: Tuple[int, ...]) -> Optional[Tensor]:
        if exp_noise is None:
            return None
        e = exp_noise(call, tuple(shape))
        if tuple(e.shape) != tuple(shape):
            raise ValueError(f"exp_noise({call}) has shape {tuple(e.shape)}, expected {shape}")
        return e

    timesteps = torch.linspace(1.0, eps, steps + 1, dtype=torch.float64)
    dt = (1.0 - eps) / steps
    for k in range(steps):
        t = timesteps[k] * torch.ones(B, dtype=torch.float64)
        x = project(x)
        x = pred.update_fn(score_fn, x, t, dt, noise_for(k, (B, L, graph.dim)), generator)
        if on_step is not None:
            on_step(k, x)
    if denoise:
        x = project(x)
        t = timesteps[-1] * torch.ones(B, dtype=torch.float64)
        width = graph.dim - 1 if graph.absorb else graph.dim
        x = Denoiser(graph, noise).update_fn(score_fn, x, t, noise_for(steps, (B, L, width)), generator)
        if on_step is not None:
            on_step(steps, x)
    return project(x)
