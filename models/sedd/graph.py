"""Forward-process graphs (sedd.md section 2), named after the official ``graph_lib.py``.

Scores passed to these functions are *concrete scores* s = exp(network output), shape
[..., dim].  ``sigma`` / ``dsigma`` are per-batch tensors broadcastable as [B] or [B, 1].
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _as_col(sigma: Tensor, like: Tensor) -> Tensor:
    """[B] or [B, 1] -> shape broadcastable against ``like`` ([B, L, ...])."""
    sigma = sigma.reshape(sigma.shape[0]) if sigma.dim() > 0 else sigma.reshape(1)
    return sigma.reshape((-1,) + (1,) * (like.dim() - 1))


class Graph:
    dim: int
    absorb: bool

    def sample_transition(self, i: Tensor, sigma: Tensor) -> Tensor:
        """Sample x_t ~ p_t(. | x_0 = i) at total noise sigma."""
        raise NotImplementedError

    def staggered_score(self, score: Tensor, dsigma: Tensor) -> Tensor:
        raise NotImplementedError

    def transp_transition(self, i: Tensor, sigma: Tensor) -> Tensor:
        """Columns of the transposed transition matrix P^T(x, sigma) = exp(sigma Q)^T[x, :]."""
        raise NotImplementedError

    def sample_limit(self, *batch_dims: int) -> Tensor:
        raise NotImplementedError

    def to_manifest(self) -> dict:
        return {"type": "absorb" if self.absorb else "uniform"}


class Absorbing(Graph):
    """dim = N + 1 states; MASK = N (the last id).  A token becomes MASK with probability
    1 - e^{-sigma}."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.absorb = True

    @property
    def mask_id(self) -> int:
        return self.dim - 1

    def sample_transition(self, i: Tensor, sigma: Tensor, u: Tensor | None = None) -> Tensor:
        move_chance = 1 - torch.exp(-_as_col(sigma, i))
        if u is None:
            u = torch.rand(i.shape, device=i.device)
        return torch.where(u < move_chance, torch.full_like(i, self.mask_id), i)

    def staggered_score(self, score: Tensor, dsigma: Tensor) -> Tensor:
        """s * e^{dsigma}, then MASK entry += (1 - e^{dsigma}) * sum(s) (sum before scaling)."""
        score = score.clone()
        ds = _as_col(dsigma, score)[..., 0]  # [B, 1]
        extra_const = (1 - torch.exp(ds)) * score.sum(dim=-1)  # [B, L]
        score = score * torch.exp(ds)[..., None]
        score[..., -1] += extra_const
        return score

    def transp_transition(self, i: Tensor, sigma: Tensor) -> Tensor:
        """e^{-sigma} onehot(i) + [i = MASK] (1 - e^{-sigma}) on every entry."""
        sig = _as_col(sigma, i)  # [B, 1]
        edge = torch.exp(-sig)[..., None] * F.one_hot(i, num_classes=self.dim).to(sig.dtype)
        edge = edge + torch.where(i == self.mask_id, 1 - torch.exp(-sig), torch.zeros_like(sig))[..., None]
        return edge

    def sample_limit(self, *batch_dims: int) -> Tensor:
        return torch.full(batch_dims, self.mask_id, dtype=torch.int64)


class Uniform(Graph):
    """dim = N states; with probability 1 - e^{-sigma} a token is replaced by a uniform one
    (which may be itself)."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.absorb = False

    def sample_transition(self, i: Tensor, sigma: Tensor) -> Tensor:
        move_chance = 1 - torch.exp(-_as_col(sigma, i))
        move = torch.rand(i.shape, device=i.device) < move_chance
        return torch.where(move, torch.randint_like(i, self.dim), i)

    def staggered_score(self, score: Tensor, dsigma: Tensor) -> Tensor:
        """s e^{dsigma} + (1 - e^{dsigma}) / N * sum(s)."""
        ds = _as_col(dsigma, score)
        return score * torch.exp(ds) + (1 - torch.exp(ds)) / self.dim * score.sum(-1, keepdim=True)

    def transp_transition(self, i: Tensor, sigma: Tensor) -> Tensor:
        sig = _as_col(sigma, i)[..., None]
        trans = torch.ones(*i.shape, self.dim, dtype=sig.dtype, device=i.device) * (1 - torch.exp(-sig)) / self.dim
        trans = trans.scatter(-1, i[..., None], torch.zeros_like(trans[..., :1]))
        return trans.scatter(-1, i[..., None], 1 - trans.sum(dim=-1, keepdim=True))

    def sample_limit(self, *batch_dims: int) -> Tensor:
        return torch.randint(0, self.dim, batch_dims, dtype=torch.int64)


def get_graph(kind: str, dim: int) -> Graph:
    if kind == "absorb":
        return Absorbing(dim)
    if kind == "uniform":
        return Uniform(dim)
    raise ValueError(f"unknown graph type {kind!r}")
