"""MDLM (Sahoo et al., "Simple and Effective Masked Diffusion Language Models", NeurIPS 2024) in
the exact layout of the Hugging Face checkpoint ``kuleshov-group/mdlm-owt``, and its network
expressed as a SEDD absorbing log-score (models/FORMAT.md, "Network I/O") for the Lacuna engine.

Layout facts (read from public sources, not copied):

* kuleshov-group/mdlm on GitHub, ``models/dit.py``: the backbone ``DIT`` is SEDD's DDiT trunk with
  the same module names (``vocab_embed.embedding``, ``sigma_map.mlp.{0,2}``,
  ``rotary_emb.inv_freq``, ``blocks.{i}.{norm1, attn_qkv, attn_out, norm2, mlp.0, mlp.2,
  adaLN_modulation}``, ``output_layer.{norm_final, linear, adaLN_modulation}``), the same maths
  (weight-only layer norm in fp32, ``x * (1 + scale) + shift``, rotate-half rotary on q and k,
  full attention with scale 1/sqrt(head_dim), GELU-tanh MLP, conditioning
  ``c = silu(sigma_map(sigma))``) and returns the raw logits: no ``scale_by_sigma`` shift and no
  scatter of the current token (that is SEDD's parameterisation, ``_sedd_parameterization`` in
  ``diffusion.py``), so every piece below is :mod:`sedd.model`'s, unchanged.
* ``diffusion.py``: ``mask_index = vocab_size`` of the GPT-2 tokenizer (50257) and the network has
  ``vocab_size + 1 = 50258`` outputs; ``_process_sigma`` replaces sigma by zeros when
  ``time_conditioning`` is false (the released model), so ``c = silu(sigma_map(0))`` -- a constant
  that is not zero; ``_subs_parameterization``: MASK logit += -1e6, log-softmax, and at unmasked
  positions -1e6 everywhere but 0 at the current token; ``get_score`` turns that x0-posterior into
  the SEDD score (below); the default noise is log-linear, eps 1e-3 (``noise_schedule.py``).
* The Hub repo (config.json, configuration_mdlm.py, modeling_mdlm.py, model.safetensors 679 MB):
  ``MDLM(PreTrainedModel)`` holds the trunk as ``self.backbone`` (state dict ``backbone.*``, the
  rotary buffer included; float32), ``forward(input_ids, timesteps)`` returns the backbone's
  logits. config.json keys: ``vocab_size`` (50258, MASK included), ``hidden_dim`` (768),
  ``n_blocks`` (12), ``n_heads`` (12), ``cond_dim`` (128), ``model_length`` (1024), ``dropout``,
  ``time_conditioning`` (false), ``model_type`` "mdlm", plus HF bookkeeping.

From x0-posterior to SEDD score (absorbing graph, any schedule with P(masked) = 1 - e^{-sigma}):
at a masked position i of x_t, for a token y != MASK,
    s_i(y) = p_t(x_t with x_t^i = y) / p_t(x_t) = e^{-sigma}/(1 - e^{-sigma}) * p(x0_i = y | x_t),
so  log s_i(y) = log p_theta(x0_i = y | x_t) - log(e^sigma - 1),  and log s_i(MASK) = 0 (no change).
At an unmasked position MDLM's carry-over gives log s(y) = -1e6 for y not in {x_i, MASK}, 0 at x_i and
+log(e^sigma - 1) at MASK (the authors' ``get_score``; the engine never reads these rows).  With
log-linear noise, 1 - e^{-sigma(t)} = (1 - eps) t; the analytic step t -> s then unmasks y with
probability k (e^{dsigma} - 1) p(y) = (alpha_s - alpha_t)/(1 - alpha_t) p(y) (k = 1/(e^sigma - 1),
alpha = e^{-sigma}), exactly MDLM's own ``_ddpm_update``; the score-entropy bound at a masked
position reduces to -log p(x0) / (e^sigma - 1) per unit rate, MDLM's weighted cross-entropy
(sigma'/(e^sigma - 1) = 1/t for log-linear noise).  The sigma dependence is the same
-log(e^sigma - 1) shift that a SEDD ``scale_by_sigma`` output carries, so the manifest says
``scale_by_sigma: true`` and, for time_conditioning false, ``time_conditioned: false``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .export import fused_draw, io_names_for, trace
from .model import DDiTBlock, DDitFinalLayer, EmbeddingLayer, Rotary, TimestepEmbedder, log_expm1, modulate

# diffusion.py's neg_infinity: added to the MASK logit, and the log score of impossible moves.
NEG_INFINITY = -1000000.0
HUB_MODEL_TYPE = "mdlm"


@dataclass
class MDLMConfig:
    """The network configuration of an MDLM checkpoint (config.json of the Hub repo)."""

    hidden_size: int = 768  # config.json "hidden_dim"
    n_blocks: int = 12
    n_heads: int = 12
    cond_dim: int = 128
    vocab_size: int = 50258  # network outputs, MASK (the last id) included
    time_conditioning: bool = False
    dropout: float = 0.1  # training only

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.n_heads

    @property
    def mask_id(self) -> int:
        return self.vocab_size - 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def owt(cls) -> "MDLMConfig":
        """kuleshov-group/mdlm-owt."""
        return cls()

    @classmethod
    def from_hub(cls, cfg: dict) -> "MDLMConfig":
        """From the Hub config.json (``model_type`` "mdlm")."""
        if cfg.get("model_type") != HUB_MODEL_TYPE:
            raise ValueError(f"not an MDLM config.json (model_type {cfg.get('model_type')!r})")
        tc = cfg.get("time_conditioning", False)
        if not isinstance(tc, bool):
            raise ValueError("config.json: time_conditioning must be true or false")
        return cls(
            hidden_size=int(cfg["hidden_dim"]),
            n_blocks=int(cfg["n_blocks"]),
            n_heads=int(cfg["n_heads"]),
            cond_dim=int(cfg["cond_dim"]),
            vocab_size=int(cfg["vocab_size"]),
            time_conditioning=tc,
            dropout=float(cfg.get("dropout", 0.1)),
        )

    def hub_config(self, name_or_path: str = "kuleshov-group/mdlm-owt", length: int = 1024) -> dict:
        """config.json as the Hub repo has it (keys sorted, as transformers writes them)."""
        return {
            "_name_or_path": name_or_path,
            "architectures": ["MDLM"],
            "auto_map": {"AutoConfig": "configuration_mdlm.MDLMConfig", "AutoModelForMaskedLM": "modeling_mdlm.MDLM"},
            "cond_dim": self.cond_dim,
            "dropout": self.dropout,
            "hidden_dim": self.hidden_size,
            "model_length": length,
            "model_type": HUB_MODEL_TYPE,
            "n_blocks": self.n_blocks,
            "n_heads": self.n_heads,
            "return_dict": False,
            "time_conditioning": self.time_conditioning,
            "torch_dtype": "float32",
            "transformers_version": "4.38.2",
            "vocab_size": self.vocab_size,
        }


class DITBackbone(nn.Module):
    """MDLM's trunk (``models/dit.py`` ``DIT``): indices [B, L], sigma [B] -> logits [B, L, V].

    State-dict names equal SEDD's (:class:`sedd.model.SEDD`); the modules are sedd.model's."""

    def __init__(self, config: MDLMConfig) -> None:
        super().__init__()
        if config.hidden_size % config.n_heads:
            raise ValueError("hidden_size must be divisible by n_heads")
        self.config = config
        H = config.hidden_size
        self.vocab_embed = EmbeddingLayer(H, config.vocab_size)
        self.sigma_map = TimestepEmbedder(config.cond_dim)
        self.rotary_emb = Rotary(config.head_dim)
        self.blocks = nn.ModuleList([DDiTBlock(H, config.n_heads, config.cond_dim, dropout=config.dropout) for _ in range(config.n_blocks)])
        self.output_layer = DDitFinalLayer(H, config.vocab_size, config.cond_dim)

    def cond(self, sigma: Tensor) -> Tensor:
        """c = silu(sigma_map(sigma)); sigma is replaced by zeros when not time conditioned
        (diffusion.py ``_process_sigma``), so c is then the constant silu(sigma_map(0))."""
        if not self.config.time_conditioning:
            sigma = torch.zeros_like(sigma)
        return F.silu(self.sigma_map(sigma))

    def features(self, indices: Tensor, sigma: Tensor) -> Tuple[Tensor, Tensor]:
        x = self.vocab_embed(indices)
        c = self.cond(sigma)
        rotary_cos_sin = self.rotary_emb(indices)
        for block in self.blocks:
            x = block(x, rotary_cos_sin, c)
        return x, c

    def forward(self, indices: Tensor, sigma: Tensor) -> Tensor:
        x, c = self.features(indices, sigma)
        return self.output_layer(x, c)


class MDLM(nn.Module):
    """The Hub model (``modeling_mdlm.MDLM``): the trunk under ``backbone``, so the state dict is
    ``backbone.*`` exactly as in model.safetensors; ``forward`` returns the raw logits."""

    def __init__(self, config: MDLMConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = DITBackbone(config)

    def forward(self, input_ids: Tensor, timesteps: Optional[Tensor] = None) -> Tensor:
        if timesteps is None:
            timesteps = torch.zeros(input_ids.shape[0], device=input_ids.device)
        return self.backbone(input_ids, timesteps)


def subs_log_probs(logits: Tensor, xt: Tensor, mask_id: int) -> Tensor:
    """diffusion.py ``_subs_parameterization``: log p_theta(x0 | x_t) [B, L, V]."""
    logits = logits.clone()
    logits[:, :, mask_id] += NEG_INFINITY
    logits = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    unmasked = xt != mask_id
    logits[unmasked] = NEG_INFINITY
    logits[unmasked, xt[unmasked]] = 0
    return logits


def subs_log_score(log_probs: Tensor, xt: Tensor, sigma: Tensor, mask_id: int) -> Tensor:
    """diffusion.py ``get_score`` (before its final exp): the SEDD absorbing log score [B, L, V]
    of an x0-posterior, at total noise sigma [B] (see the module doc)."""
    log_k = -log_expm1(sigma.float())  # log(e^-s / (1 - e^-s))
    masked_score = log_probs + log_k[:, None, None]
    masked_score[:, :, mask_id] = 0
    unmasked_score = torch.full_like(log_probs, NEG_INFINITY)
    unmasked_score = torch.scatter(unmasked_score, -1, xt[..., None], torch.zeros_like(unmasked_score[..., :1]))
    unmasked_score[:, :, mask_id] = -log_k[:, None]
    is_masked = (xt == mask_id)[..., None]
    return torch.where(is_masked, masked_score, unmasked_score)


class MDLMScore(nn.Module):
    """Reference: indices [B, L], sigma [B] -> SEDD log score [B, L, V] of an MDLM checkpoint
    (the Hub model's logits, ``subs_log_probs``, ``subs_log_score``)."""

    def __init__(self, model: MDLM) -> None:
        super().__init__()
        self.model = model

    def forward(self, indices: Tensor, sigma: Tensor) -> Tensor:
        logits = self.model(indices, sigma)
        mask = self.model.config.mask_id
        return subs_log_score(subs_log_probs(logits, indices, mask), indices, sigma, mask)


class MDLMNetworkGraph(nn.Module):
    """The exported graph (network I/O 2, models/FORMAT.md) of an MDLM trunk: the output layer at
    ``positions`` only, SUBS and the score conversion there, and the fused draw.

    Holds the trunk as ``model`` so the exported initializer names are ``model.`` + the trunk's
    state-dict names (export strips the prefix).  Computed independently of :class:`MDLMScore`
    (here: per row, log-sum-exp over j != MASK written out) so the two check each other."""

    def __init__(self, backbone: DITBackbone) -> None:
        super().__init__()
        self.model = backbone

    def rows(self, indices: Tensor, sigma: Tensor, positions: Tensor) -> Tensor:
        m = self.model
        x, c = m.features(indices, sigma)
        out_layer = m.output_layer
        shift, scale = out_layer.adaLN_modulation(c)[:, None].chunk(2, dim=2)
        h = modulate(out_layer.norm_final(x), shift, scale)  # [B, L, H]
        L = indices.shape[1]
        h = h.reshape(-1, h.shape[2]).index_select(0, positions)  # [K, H]
        logits = out_layer.linear(h)  # [K, V]
        # log-softmax over j != MASK (the MASK logit gets -1e6, whose exp is 0 in float32)
        z = logits[:, :-1]
        top = z.max(dim=-1, keepdim=True).values
        lse = top + torch.log(torch.exp(z - top).sum(dim=-1, keepdim=True))
        s = sigma.float().index_select(0, torch.div(positions, L, rounding_mode="floor"))
        lexp = log_expm1(s)[:, None]  # log(e^sigma - 1) = -log k
        current = indices.reshape(-1).index_select(0, positions)[:, None]
        masked_row = torch.cat([z - lse - lexp, torch.zeros_like(lexp)], dim=-1)
        unmasked_row = torch.cat([torch.full_like(z, NEG_INFINITY), lexp], dim=-1)
        out = torch.where(current == m.config.mask_id, masked_row, unmasked_row)
        return torch.scatter(out, -1, current, torch.zeros_like(lexp))

    def forward(self, indices: Tensor, sigma: Tensor, positions: Tensor, uniforms: Optional[Tensor] = None) -> Union[Tensor, Tuple[Tensor, Tensor, Tensor]]:
        out = self.rows(indices, sigma, positions)
        assert uniforms is not None
        token, log_norm = fused_draw(out, uniforms)
        return out, token, log_norm


def example_inputs(config: MDLMConfig, batch: int = 2, length: int = 8) -> Tuple[Tensor, ...]:
    """Tracing inputs (no axis of size 1, so none gets specialised), with MASK positions."""
    g = torch.Generator().manual_seed(0)
    indices = torch.randint(0, config.vocab_size, (batch, length), generator=g)
    indices[:, ::3] = config.mask_id
    sigma = torch.linspace(0.1, 2.0, batch, dtype=torch.float32)
    positions = torch.arange(1, batch * length, 2, dtype=torch.int64)
    uniforms = torch.rand(positions.shape[0], generator=g)
    return indices, sigma, positions, uniforms


def export_proto(backbone: DITBackbone, constant_folding: bool = True):
    """torch.onnx.export of :class:`MDLMNetworkGraph` (weights inline), I/O names as SEDD's."""
    doc = (
        "MDLM network as a SEDD absorbing log score (lacuna network I/O 2): indices "
        "int64 [B,L], sigma float32 [B], positions int64 [K], uniforms float32 [K] -> "
        "log_score [K,V], token int64 [K], log_norm float32 [K]"
    )
    names = io_names_for(absorb=True)
    return trace(MDLMNetworkGraph(backbone), example_inputs(backbone.config), names, "lacuna-mdlm-export", doc, constant_folding)
