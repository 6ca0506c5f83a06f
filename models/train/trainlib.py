"""Shared code for models/train: data (token caches, packed blocks), model construction,
checkpoints and EMA, and the tempered infill sampler and AR span judge of evaluate.py.

The maths lives in models/sedd: the training losses (SEDD denoising score entropy, MDLM's
weighted cross-entropy, the autoregressive baseline loss) in sedd/losses.py, the held-out
likelihood bounds in sedd/likelihood.py.  Maths: docs/sedd.md.  Absorbing graph
(MASK = V - 1 = tokenizer size), log-linear noise sigma_bar(t) = -log(1 - (1 - eps) t), eps = 1e-3.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor, nn

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
REPO = os.path.dirname(MODELS)
if MODELS not in sys.path:
    sys.path.insert(0, MODELS)

from sedd.losses import NOISE_EPS  # noqa: E402
from sedd.model import SEDD, SEDDConfig, annealed_attention_mask, count_params  # noqa: E402

import tokenize_data  # noqa: E402  (models/train/tokenize_data.py, stdlib only)

RUNS = os.path.join(HERE, "runs")
CACHE = os.path.join(RUNS, "cache")
VENV_PYTHON = os.path.join(MODELS, "data", ".venv", "bin", "python")


# =========================================================================================
# data


def token_cache_path(text_path: str, tok_path: str, cache_dir: str = CACHE) -> str:
    key = tokenize_data.sha256_file(text_path)[:12] + "-" + tokenize_data.sha256_file(tok_path)[:12]
    base = os.path.splitext(os.path.basename(text_path))[0]
    return os.path.join(cache_dir, f"{base}-{key}.u16")


def _venv_has_tokenizers() -> bool:
    if not os.path.exists(VENV_PYTHON):
        return False
    r = subprocess.run([VENV_PYTHON, "-c", "import tokenizers"], capture_output=True)
    return r.returncode == 0


def load_tokens(text_path: str, tok_path: str, cache_dir: str = CACHE, backend: str = "auto", log=print) -> Tuple[np.ndarray, dict]:
    """Token ids of a corpus file (uint16 memmap), tokenising once into ``cache_dir``.

    backend "auto": the ``tokenizers`` package in this interpreter, else
    models/data/.venv/bin/python (which has it) in a subprocess, else the pure-Python
    encoder (models/sedd/tokenizer.py).  All three give identical ids
    (``tokenize_data.py --check``)."""
    out = token_cache_path(text_path, tok_path, cache_dir)
    if not (os.path.exists(out) and os.path.exists(out + ".json")):
        os.makedirs(cache_dir, exist_ok=True)
        if backend in ("auto", "hf") and tokenize_data.have_hf():
            tokenize_data.encode_file(text_path, tok_path, out, "hf", log=log)
        elif backend in ("auto", "venv") and _venv_has_tokenizers():
            subprocess.run(
                [
                    "nice",
                    "-n",
                    "10",
                    VENV_PYTHON,
                    os.path.join(HERE, "tokenize_data.py"),
                    "--text",
                    text_path,
                    "--tokenizer",
                    tok_path,
                    "--out",
                    out,
                    "--backend",
                    "hf",
                ],
                check=True,
            )
        else:
            tokenize_data.encode_file(text_path, tok_path, out, "python", log=log)
    with open(out + ".json") as f:
        meta = json.load(f)
    meta["cache"] = out
    return open_tokens(out), meta


def open_tokens(path: str) -> np.ndarray:
    return np.memmap(path, dtype="<u2", mode="r")


class BlockStream:
    """Deterministic stream of packed training blocks of ``length`` tokens.

    Epoch e starts at a random offset o_e in [0, length) and visits the n = (N - length)
    // length blocks [o_e + j*length, o_e + (j+1)*length) in a random order; both depend only
    on (seed, e).  Sequence k of the stream is block perm_e[k mod n] of epoch e = k div n,
    so batch ``step`` (sequences step*B .. step*B + B - 1) is a pure function of the step:
    resuming needs no loader state."""

    def __init__(self, tokens: np.ndarray, length: int, seed: int) -> None:
        self.tokens = tokens
        self.length = length
        self.seed = seed
        self.n_blocks = (len(tokens) - length) // length
        if self.n_blocks < 1:
            raise ValueError(f"corpus has {len(tokens)} tokens: too few for length {length}")
        self._cache: Dict[int, Tuple[int, np.ndarray]] = {}

    def _epoch(self, e: int) -> Tuple[int, np.ndarray]:
        if e not in self._cache:
            if len(self._cache) > 2:
                self._cache.clear()
            rng = np.random.RandomState((self.seed * 1_000_003 + e) % (2**32))
            self._cache[e] = (int(rng.randint(self.length)), rng.permutation(self.n_blocks))
        return self._cache[e]

    def sequence_start(self, k: int) -> int:
        e, j = divmod(k, self.n_blocks)
        off, perm = self._epoch(e)
        return off + int(perm[j]) * self.length

    def batch(self, step: int, batch_size: int, offset: int = 0) -> np.ndarray:
        """Sequences offset + step*B .. offset + step*B + B - 1 of the stream."""
        L = self.length
        first = offset + step * batch_size
        rows = [self.tokens[s : s + L] for s in (self.sequence_start(k) for k in range(first, first + batch_size))]
        return np.stack(rows).astype(np.int64)

    def epochs(self, step: int, batch_size: int) -> float:
        return step * batch_size / self.n_blocks


def eval_blocks(tokens: np.ndarray, length: int, max_blocks: int = 0) -> np.ndarray:
    """Non-overlapping packed blocks [n, length] from the start of the test tokens (the tail
    shorter than a block is dropped); ``max_blocks`` > 0 keeps that many, evenly spaced."""
    n = len(tokens) // length
    if n < 1:
        raise ValueError("test set shorter than one block")
    idx = np.arange(n)
    if 0 < max_blocks < n:
        idx = np.unique(np.linspace(0, n - 1, max_blocks).round().astype(np.int64))
    return np.stack([np.asarray(tokens[i * length : (i + 1) * length]) for i in idx]).astype(np.int64)


# =========================================================================================
# models


@dataclass
class ModelSpec:
    kind: str  # "sedd" | "ar"
    hidden: int
    blocks: int
    heads: int
    cond_dim: int
    vocab_size: int  # network V = tokenizer size + 1 (MASK; the AR model uses it as BOS)
    time_conditioned: bool = True
    dropout: float = 0.1
    shift: bool = False  # SEDD only: DiffuGPT's AR shift (SEDDConfig.shift)
    x0_param: bool = False  # SEDD only: MDLM x0-parameterisation (--objective mdlm)

    def config(self) -> SEDDConfig:
        if self.kind == "sedd":
            return SEDDConfig(
                hidden_size=self.hidden,
                n_blocks=self.blocks,
                n_heads=self.heads,
                cond_dim=self.cond_dim,
                vocab_size=self.vocab_size,
                graph_type="absorb",
                scale_by_sigma=True,
                dropout=self.dropout,
                time_conditioned=self.time_conditioned,
                causal=False,
                shift=self.shift,
                x0_param=self.x0_param,
            )
        if self.kind == "ar":
            # Same network code and parameters; causal attention, no sigma, no shift.
            return SEDDConfig(
                hidden_size=self.hidden,
                n_blocks=self.blocks,
                n_heads=self.heads,
                cond_dim=self.cond_dim,
                vocab_size=self.vocab_size,
                graph_type="absorb",
                scale_by_sigma=False,
                dropout=self.dropout,
                time_conditioned=False,
                causal=True,
            )
        raise ValueError(f"unknown model kind {self.kind!r}")


def official_init(model: SEDD) -> SEDD:
    """The authors' DDiT initialisation for training from scratch: every adaLN modulation
    and the output projection start at zero (blocks are the identity, the log score is
    the bare absorbing shift, i.e. a uniform prediction)."""
    with torch.no_grad():
        for block in model.blocks:
            block.adaLN_modulation.weight.zero_()
            block.adaLN_modulation.bias.zero_()
        model.output_layer.adaLN_modulation.weight.zero_()
        model.output_layer.adaLN_modulation.bias.zero_()
        model.output_layer.linear.weight.zero_()
        model.output_layer.linear.bias.zero_()
    return model


def build_model(spec: ModelSpec, seed: int = 0) -> SEDD:
    torch.manual_seed(seed)
    return official_init(SEDD(spec.config()))


def param_report(model: SEDD) -> dict:
    cfg = model.config
    total = count_params(model)
    emb = cfg.vocab_size * cfg.hidden_size
    out = model.output_layer.linear.weight.numel() + model.output_layer.linear.bias.numel()
    unused = 0
    if not cfg.time_conditioned:  # sigma_map and the adaLN weights see c = 0
        unused += count_params(model.sigma_map)
        unused += sum(b.adaLN_modulation.weight.numel() for b in model.blocks)
        unused += model.output_layer.adaLN_modulation.weight.numel()
    return {"total": total, "embedding": emb, "output": out, "non_embedding": total - emb - out, "unused_time_independent": unused, "effective": total - unused}


# =========================================================================================
# EMA, checkpoints


class EMA:
    """Exponential moving average of the parameters (fp32), with the usual warm-up
    decay_t = min(decay, (1 + step) / (10 + step)) so a short run's EMA is not dominated by
    the initialisation."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {k: p.detach().float().clone() for k, p in model.named_parameters()}

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        d = min(self.decay, (1.0 + step) / (10.0 + step))
        names = [k for k, _ in model.named_parameters()]
        shadow = [self.shadow[k] for k in names]
        params = [p.detach().float() for _, p in model.named_parameters()]
        torch._foreach_mul_(shadow, d)
        torch._foreach_add_(shadow, params, alpha=1 - d)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "shadow": self.shadow}

    def load_state_dict(self, sd: dict) -> None:
        self.decay = sd["decay"]
        for k, v in sd["shadow"].items():
            self.shadow[k].copy_(v)

    def weights(self, model: nn.Module) -> dict:
        """A full state dict (EMA parameters + the model's buffers)."""
        sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
        for k, v in self.shadow.items():
            sd[k] = v.clone()
        return sd


def atomic_save(obj, path: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    except OSError:
        pass


def atomic_write_text(text: str, path: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_run(run: str) -> dict:
    with open(os.path.join(run, "run.json")) as f:
        return json.load(f)


def spec_from_run(info: dict) -> ModelSpec:
    return ModelSpec(**info["model"])


def torch_load(path: str, map_location="cpu"):
    """torch.load of our own files (torch >= 2.6 defaults to weights_only=True)."""
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except TypeError:  # torch < 1.13
        return torch.load(path, map_location=map_location)


def load_weights(run: str, which: str = "ema", map_location: str = "cpu") -> dict:
    """State dict of a run: from ``ckpt.pt`` (``which`` = "ema" or "model"), else from the
    weights-only shards ``weights/ema-*.pt`` written by ``export_weights`` (GPU runs)."""
    return load_weights_and_progress(run, which, map_location)[0]


def load_weights_and_progress(run: str, which: str = "ema", map_location: str = "cpu") -> Tuple[dict, Optional[dict]]:
    """``load_weights`` and where those weights stand, read from the same checkpoint (a run
    still training may write a newer one meanwhile): step, tokens seen and schedule length;
    None for weights-only runs, which have no checkpoint."""
    ck = os.path.join(run, "ckpt.pt")
    if os.path.exists(ck):
        state = torch_load(ck, map_location)
        progress = {
            "step": int(state["step"]),
            "tokens": int(state["tokens_seen"]),
            "schedule_steps": None if state.get("schedule_steps") is None else int(state["schedule_steps"]),
        }
        return (state["ema_weights"] if which == "ema" else state["model"]), progress
    wdir = os.path.join(run, "weights")
    shards = sorted(f for f in os.listdir(wdir) if f.startswith(which + "-") and f.endswith(".pt")) if os.path.isdir(wdir) else []
    if not shards:
        raise FileNotFoundError(f"{run}: no ckpt.pt and no weights/{which}-*.pt")
    sd: dict = {}
    for f in shards:
        sd.update(torch_load(os.path.join(wdir, f), map_location))
    return {k: v.float() for k, v in sd.items()}, None


def export_weights(sd: dict, out_dir: str, prefix: str = "ema", max_bytes: int = 15 << 20, dtype: torch.dtype = torch.float32) -> List[str]:
    """Write a state dict as shards of at most ``max_bytes`` (the GPU machine returns at
    most 16 MiB per file).  Returns the file names."""
    os.makedirs(out_dir, exist_ok=True)
    shards: List[dict] = [{}]
    size = 0
    for k, v in sd.items():
        v = v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
        nb = v.numel() * v.element_size()
        if shards[-1] and size + nb > max_bytes:
            shards.append({})
            size = 0
        shards[-1][k] = v
        size += nb
    names = []
    for i, s in enumerate(shards):
        name = f"{prefix}-{i:02d}.pt"
        atomic_save(s, os.path.join(out_dir, name))
        names.append(name)
    return names


def load_model_from_run(run: str, which: str = "ema", device: str = "cpu") -> Tuple[SEDD, dict]:
    model, info, _ = load_model_and_progress(run, which, device)
    return model, info


def load_model_and_progress(run: str, which: str = "ema", device: str = "cpu") -> Tuple[SEDD, dict, Optional[dict]]:
    """``load_model_from_run`` and the step the weights are from (``load_weights_and_progress``)."""
    info = read_run(run)
    spec = spec_from_run(info)
    model = SEDD(spec.config())
    sd, progress = load_weights_and_progress(run, which)
    model.load_state_dict(sd, strict=True)
    return model.to(device).eval(), info, progress


def rel_path(p: Optional[str]) -> Optional[str]:
    """Repository-relative path when inside the repository (run.json travels between
    machines), else absolute."""
    if not p:
        return p
    a = os.path.abspath(p)
    return os.path.relpath(a, REPO) if a.startswith(REPO + os.sep) else a


def resolve_path(p: str) -> str:
    return p if os.path.isabs(p) else os.path.join(REPO, p)


def sha256_file(path: str) -> str:
    return tokenize_data.sha256_file(path)


@torch.no_grad()
def tempered_infill(model: SEDD, x: Tensor, known: Tensor, steps: int, temperature: float, generator: torch.Generator, eps: float = 1e-5) -> Tensor:
    """Fill the positions where ``known`` is False with the analytic absorbing sampler in its
    factorised form (the engine's analytic.ts): from t_k to t_k - dt a masked position unmasks with
    probability 1 - (sigma-bar shift) = (t_k - t_{k+1}) / t_k under log-linear noise (the
    time-independent network's exact step; the same for a sigma-conditioned one), taking a token from
    softmax(log_score / temperature) over j != MASK; the final step unmasks the rest. Temperature 1
    is the SEDD analytic sampler; below 1 sharpens only the token choice."""
    V = model.config.vocab_size
    M = V - 1
    y = torch.where(known, x, torch.full_like(x, M))
    grid = torch.linspace(1.0, eps, steps + 1, dtype=torch.float64)
    for k in range(steps + 1):
        masked = y == M
        if not bool(masked.any()):
            break
        t = float(grid[min(k, steps)])
        sigma = -math.log1p(-(1 - NOISE_EPS) * t)
        out = model(y, torch.full((y.shape[0],), sigma, dtype=torch.float32))
        probs = torch.softmax(out[..., :M].double() / temperature, dim=-1)
        draw = torch.multinomial(probs.view(-1, M).float(), 1, generator=generator).view(y.shape)
        if k < steps:
            s_next = float(grid[k + 1])
            p_unmask = (t - s_next) / t
            go = (torch.rand(y.shape, generator=generator, dtype=torch.float64) < p_unmask) & masked
        else:
            go = masked
        y = torch.where(go, draw, y)
    return y


@torch.no_grad()
def ar_span_nll(ar: SEDD, y: Tensor, lo: int, hi: int) -> float:
    """Mean NLL (nats/token) that the autoregressive baseline gives tokens lo..hi-1 of each row of
    ``y`` (teacher forcing from the row's start; BOS = the MASK id): a judge of how plausible a fill
    is as a continuation of its left context."""
    M = ar.config.vocab_size - 1
    inp = torch.cat([torch.full((y.shape[0], 1), M, dtype=y.dtype), y[:, :-1]], dim=1)
    out = ar(inp, torch.zeros(y.shape[0]))
    lp = torch.log_softmax(out[..., :M].float(), dim=-1)
    nll = -lp.gather(-1, y[..., None]).squeeze(-1)
    return float(nll[:, lo:hi].mean())
