"""Noise schedules: total noise sigma_bar(t) and its rate sigma_bar'(t) (sedd.md section 2).

Named after the official ``noise_lib.py``: ``total_noise`` = sigma_bar(t),
``rate_noise`` = d sigma_bar / dt, ``forward(t)`` returns both.
"""
from __future__ import annotations

import math
from typing import Tuple, Union

import torch
from torch import Tensor

TensorLike = Union[Tensor, float]


def _t(t: TensorLike) -> Tensor:
    return t if isinstance(t, Tensor) else torch.tensor(float(t), dtype=torch.float64)


class Noise:
    def total_noise(self, t: TensorLike) -> Tensor:
        raise NotImplementedError

    def rate_noise(self, t: TensorLike) -> Tensor:
        raise NotImplementedError

    def __call__(self, t: TensorLike) -> Tuple[Tensor, Tensor]:
        return self.total_noise(t), self.rate_noise(t)

    def to_manifest(self) -> dict:
        raise NotImplementedError


class LogLinearNoise(Noise):
    """sigma_bar(t) = -log(1 - (1 - eps) t), so P(masked at t) = 1 - e^{-sigma_bar} = (1 - eps) t
    for the absorbing graph.  sigma_bar'(t) = (1 - eps) / (1 - (1 - eps) t)."""

    def __init__(self, eps: float = 1e-3) -> None:
        self.eps = eps

    def total_noise(self, t: TensorLike) -> Tensor:
        t = _t(t)
        return -torch.log1p(-(1 - self.eps) * t)

    def rate_noise(self, t: TensorLike) -> Tensor:
        t = _t(t)
        return (1 - self.eps) / (1 - (1 - self.eps) * t)

    def to_manifest(self) -> dict:
        return {"type": "loglinear", "eps": self.eps}


class GeometricNoise(Noise):
    """sigma_bar(t) = sigma_min^{1-t} sigma_max^t, sigma_bar' = sigma_bar log(sigma_max/sigma_min)."""

    def __init__(self, sigma_min: float = 1e-4, sigma_max: float = 20.0) -> None:
        self.sigma_min = sigma_min
        self.sigma_max = sigma_max

    def total_noise(self, t: TensorLike) -> Tensor:
        t = _t(t)
        return self.sigma_min ** (1 - t) * self.sigma_max**t

    def rate_noise(self, t: TensorLike) -> Tensor:
        return self.total_noise(t) * math.log(self.sigma_max / self.sigma_min)

    def to_manifest(self) -> dict:
        return {"type": "geometric", "sigma_min": self.sigma_min, "sigma_max": self.sigma_max}


def get_noise(spec: dict) -> Noise:
    """Build a schedule from a manifest / config ``noise`` entry."""
    kind = spec.get("type")
    if kind == "loglinear":
        return LogLinearNoise(spec.get("eps", 1e-3))
    if kind == "geometric":
        return GeometricNoise(spec.get("sigma_min", 1e-4), spec.get("sigma_max", 20.0))
    raise ValueError(f"unknown noise type {kind!r}")
