"""ONNX export of a SEDD network and ``lacuna-model/1`` manifest writing (models/FORMAT.md).

ONNX interface (opset 17, "network I/O 2"):
  input  ``indices``   int64   [batch, length]
  input  ``sigma``     float32 [batch]
  input  ``positions`` int64   [count]   flat positions b * length + l whose rows are wanted
  input  ``uniforms``  float32 [count]   absorbing graph only: one U[0, 1) draw per position
  output ``log_score`` float32 [count, vocab_size]   the log score rows at ``positions``
  output ``token``     int64   [count]   absorbing only: a draw from softmax(log_score[:, :MASK])
  output ``log_norm``  float32 [count]   absorbing only: logsumexp(log_score[:, :MASK])
with dynamic ``batch``, ``length`` and ``count``.

The output projection (hidden -> V, the largest matrix for an 8k or 50k vocabulary) runs only
at ``positions``; ``positions = 0 .. batch*length - 1`` gives the whole [batch, length, V] score
of :class:`SEDD`, row-major.  ``token`` is the sampler's categorical draw fused into the graph
(inverse CDF: the first j with cumsum_j(w) > u * sum(w), w = exp(row - max)), so a sampling step
needs only ``token`` and ``log_norm`` (two numbers per masked position) back in JavaScript: under
the absorbing graph, which token a masked position takes when it unmasks is distributed as
softmax over j != MASK of its row, and whether it unmasks depends on log_norm alone
(src-main/engine/sampling/analytic.ts).
"""
from __future__ import annotations

import copy
import hashlib
import io
import json
import math
import os
import warnings
from typing import Dict, Iterable, Optional, Tuple, Union

import onnx
import torch
from torch import Tensor, nn

from .model import SEDD, log_expm1, modulate, x0_log_score

OPSET = 17
FORMAT_ID = "lacuna-model/1"


class NetworkGraph(nn.Module):
    """The network as exported (see the module docstring): :class:`SEDD` with the output
    layer applied only at ``positions`` and, for the absorbing graph, the fused draw.

    Shares (does not copy) the parameters of ``model``; its state dict is the model's."""

    def __init__(self, model: SEDD) -> None:
        super().__init__()
        self.model = model

    def rows(self, indices: Tensor, sigma: Tensor, positions: Tensor) -> Tensor:
        """log_score rows [count, V] at flat positions; equals ``model(indices, sigma)``
        reshaped to [batch*length, V] and indexed by ``positions``."""
        m = self.model
        x, c = m.features(indices, sigma)
        out_layer = m.output_layer
        shift, scale = out_layer.adaLN_modulation(c)[:, None].chunk(2, dim=2)
        h = modulate(out_layer.norm_final(x), shift, scale)  # [B, L, H]
        L = indices.shape[1]
        h = h.reshape(-1, h.shape[2]).index_select(0, positions)  # [count, H]
        out = out_layer.linear(h)  # [count, V]
        if m.config.x0_param:  # MDLM x0-parameterisation
            s = sigma.float().index_select(0, torch.div(positions, L, rounding_mode="floor"))
            current = indices.reshape(-1).index_select(0, positions)
            return x0_log_score(out, current, log_expm1(s)[:, None])
        if m.scale_by_sigma:
            s = sigma.float().index_select(0, torch.div(positions, L, rounding_mode="floor"))
            out = out - log_expm1(s)[:, None].to(out.dtype) - math.log(m.config.vocab_size - 1)
        current = indices.reshape(-1).index_select(0, positions)
        return torch.scatter(out, -1, current[:, None], torch.zeros_like(out[:, :1]))

    def forward(self, indices: Tensor, sigma: Tensor, positions: Tensor, uniforms: Optional[Tensor] = None) -> Union[Tensor, Tuple[Tensor, Tensor, Tensor]]:
        out = self.rows(indices, sigma, positions)
        if not self.model.absorb:
            return out
        assert uniforms is not None
        token, log_norm = fused_draw(out, uniforms)
        return out, token, log_norm


def fused_draw(rows: Tensor, uniforms: Tensor) -> Tuple[Tensor, Tensor]:
    """Inverse-CDF draw over j != MASK (the last entry) of each row of log scores:
    token = #{j < V - 2 : cumsum_j(w) <= u * sum(w)}, w = exp(row - max), i.e. the first j whose
    cumulative weight exceeds u * sum (clamped to V - 2); log_norm = max + log(sum(w)). The
    cumulative sum and the comparison are in float64."""
    z = rows[:, :-1]
    top = z.max(dim=-1, keepdim=True).values
    # The running sum in float64: a float32 one over thousands of entries drifts by more than a
    # rare token's mass (onnxruntime accumulates sequentially), which would move the draw.
    cum = torch.exp(z - top).double().cumsum(dim=-1)
    total = cum[:, -1:]
    token = (cum[:, :-1] <= uniforms.double()[:, None] * total).sum(dim=-1)
    log_norm = (top + torch.log(total).float()).squeeze(-1)
    return token, log_norm


def draw_case(model: SEDD, indices: Tensor, sigma: Tensor, seed: int) -> dict:
    """Reference data for the fused draw (parity.json ``draw``): every MASK position of
    ``indices`` (flat), a seeded uniform each, and PyTorch's token and log_norm there."""
    mask = model.config.vocab_size - 1
    positions = (indices.reshape(-1) == mask).nonzero().reshape(-1)
    uniforms = torch.rand(positions.shape[0], generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        _, token, log_norm = NetworkGraph(model.eval())(indices, sigma, positions, uniforms)
    return {"positions": positions.tolist(), "uniforms": uniforms.tolist(), "token": token.tolist(), "log_norm": log_norm.tolist()}


def example_inputs(model: SEDD, batch: int = 2, length: int = 8) -> Tuple[Tensor, ...]:
    """Tracing inputs: batch and length not 1 and a count that is neither, so no axis gets
    specialised."""
    V = model.config.vocab_size
    g = torch.Generator().manual_seed(0)
    indices = torch.randint(0, V, (batch, length), generator=g)
    sigma = torch.linspace(0.1, 2.0, batch, dtype=torch.float32)
    positions = torch.arange(1, batch * length, 2, dtype=torch.int64)
    if not model.absorb:
        return indices, sigma, positions
    uniforms = torch.rand(positions.shape[0], generator=g)
    return indices, sigma, positions, uniforms


def io_names(model: SEDD) -> Tuple[list, list, dict]:
    """(input names, output names, dynamic axes) of the exported graph."""
    return io_names_for(model.absorb)


def io_names_for(absorb: bool) -> Tuple[list, list, dict]:
    """The graph's I/O for an absorbing graph (with the fused draw) or a uniform one (log scores only)."""
    inputs = ["indices", "sigma", "positions"]
    outputs = ["log_score"]
    axes = {"indices": {0: "batch", 1: "length"}, "sigma": {0: "batch"}, "positions": {0: "count"}, "log_score": {0: "count"}}
    if absorb:
        inputs.append("uniforms")
        outputs += ["token", "log_norm"]
        axes.update({"uniforms": {0: "count"}, "token": {0: "count"}, "log_norm": {0: "count"}})
    return inputs, outputs, axes


def trace(graph: nn.Module, example: tuple, names: Tuple[list, list, dict], producer: str, doc: str, constant_folding: bool = True) -> onnx.ModelProto:
    """torch.onnx.export of ``graph`` (a wrapper holding the network as ``model``; weights inline),
    its parameters renamed to the network's own state-dict names; shared by this file and mdlm.py."""
    inputs, outputs, axes = names
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns about Python-side shape arithmetic and missing shape inference
        # for constants; both are expected here (dynamic axes are checked by the tests).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph.eval(),
            example,
            buf,
            opset_version=OPSET,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=axes,
            do_constant_folding=constant_folding,
        )
    proto = onnx.load_from_string(buf.getvalue())
    strip_prefix(proto, "model.")
    proto.producer_name = producer
    proto.doc_string = doc
    return proto


def export_proto(model: SEDD, constant_folding: bool = True) -> onnx.ModelProto:
    """torch.onnx.export of :class:`NetworkGraph` (weights inline)."""
    model = model.eval()
    doc = (
        "SEDD score network (lacuna network I/O 2): indices int64 [B,L], sigma "
        "float32 [B], positions int64 [K] (, uniforms float32 [K]) -> log_score "
        "[K,V] (, token int64 [K], log_norm float32 [K])"
    )
    return trace(NetworkGraph(model), example_inputs(model), io_names(model), "lacuna-sedd-export", doc, constant_folding)


def strip_prefix(proto: onnx.ModelProto, prefix: str) -> None:
    """Rename initializers ``prefix + name`` to ``name`` (and every use of them), so the
    graph's parameter names are the state-dict names of :class:`SEDD` itself, as in the
    official checkpoints (the wrapper module adds the prefix)."""
    renamed = {}
    for t in proto.graph.initializer:
        if t.name.startswith(prefix):
            renamed[t.name] = t.name[len(prefix) :]
            t.name = renamed[t.name]
    for node in proto.graph.node:
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
    for vi in list(proto.graph.value_info) + list(proto.graph.input):
        if vi.name in renamed:
            vi.name = renamed[vi.name]


def export_onnx(model: SEDD, path: str) -> None:
    """Export ``model`` (put in eval mode) to ``path`` and run the ONNX checker
    (``full_check=True``: shape inference included)."""
    proto = export_proto(model)
    onnx.checker.check_model(proto, full_check=True)
    check_layernorm_bias(proto)
    data = proto.SerializeToString()
    with open(path, "wb") as f:
        f.write(data)


def check_layernorm_bias(proto: onnx.ModelProto) -> None:
    """Fail if any LayerNormalization lacks a bias input: such nodes crash
    onnxruntime-node 1.30 at the default optimisation level (sedd.md section 6)."""
    for node in proto.graph.node:
        if node.op_type == "LayerNormalization" and (len(node.input) < 3 or not node.input[2]):
            raise RuntimeError(f"LayerNormalization {node.name} has no bias input")


def file_entry(path: str) -> Dict[str, object]:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return {"bytes": os.path.getsize(path), "sha256": h.hexdigest()}


def write_manifest(
    model_dir: str,
    *,
    id: str,
    name: str,
    description: str,
    model: SEDD,
    noise: dict,
    length: int,
    eos_id: int,
    files: Iterable[str] = ("model.onnx", "tokenizer.json"),
    time_conditioned: bool = True,
    default_steps: int = 64,
    sampler: str = "analytic",
    temperature: Optional[float] = None,
    top_p: Optional[float] = None,
    unmasking: Optional[str] = None,
    extra: Optional[dict] = None,
) -> dict:
    """Write ``manifest.json`` in ``model_dir`` (files hashed from disk) and return it."""
    cfg = model.config
    manifest = {
        "format": FORMAT_ID,
        "id": id,
        "name": name,
        "description": description,
        "graph": {"type": cfg.graph_type},
        "noise": noise,
        "vocab_size": cfg.vocab_size,
        "mask_id": cfg.vocab_size - 1 if cfg.graph_type == "absorb" else None,
        "length": length,
        "scale_by_sigma": cfg.scale_by_sigma,
        "time_conditioned": time_conditioned,
        "tokenizer": {"type": "byte-bpe", "file": "tokenizer.json", "eos_id": eos_id},
        "network": {
            "file": "model.onnx",
            "config": {"hidden_size": cfg.hidden_size, "n_blocks": cfg.n_blocks, "n_heads": cfg.n_heads, "cond_dim": cfg.cond_dim},
        },
        "sampling": {"default_steps": default_steps, "sampler": sampler},
        "files": {f: file_entry(os.path.join(model_dir, f)) for f in files},
    }
    if temperature is not None and temperature != 1:
        manifest["sampling"]["temperature"] = float(temperature)
    # The rest of the token choice (models/FORMAT.md; measured by npm run bench:fills).
    if top_p is not None and top_p != 1:
        manifest["sampling"]["top_p"] = float(top_p)
    if unmasking is not None:
        if unmasking not in ("random", "confident"):
            raise ValueError(f"unmasking must be random or confident, got {unmasking!r}")
        manifest["sampling"]["unmasking"] = unmasking
    if extra:
        manifest.update(extra)
    with open(os.path.join(model_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return manifest


def weights_from_onnx(proto: onnx.ModelProto, model: SEDD, exporter=None) -> Tuple[Dict[str, Tensor], list]:
    """The inverse of :func:`export_proto` (or of ``exporter``, a function network -> ONNX proto
    such as the judge's causal-LM export): a state dict for ``model``'s architecture holding the
    weights stored in ``proto`` (an export of a network with the same config, by that exporter).
    Initializers stored in a narrower type and widened by a Cast at the start of the graph (the
    judge's float16 weights) are read through the Cast and converted to the parameter's dtype.

    Constant folding renames and transposes some weights (``onnx::MatMul_892`` is a transposed
    ``attn_qkv.weight``) and merges equal ones (a time-independent network's zero adaLN
    weights become one initializer read through Identity nodes), so names are not enough.  A
    probe copy of ``model`` with distinct random values is exported the same way; each of its
    parameters is found by value at a (node, input) slot, either as is or transposed, and read
    back from the same slot of ``proto``.  Parameters the graph never reads (``sigma_map`` of a
    time-independent network) keep ``model``'s values; their names are returned as the second
    item.  Raises ValueError when ``proto`` does not have the probe's nodes or shapes."""
    from onnx import numpy_helper

    def slots(p: onnx.ModelProto) -> Dict[Tuple[str, int], object]:
        inits = {t.name: t for t in p.graph.initializer}
        alias = {n.output[0]: n.input[0] for n in p.graph.node if n.op_type == "Identity" or (n.op_type == "Cast" and n.input[0] in inits)}
        out = {}
        for node in p.graph.node:
            if node.op_type == "Identity" or (node.op_type == "Cast" and node.input[0] in inits):
                continue
            for i, name in enumerate(node.input):
                seen = 0
                while name in alias and seen < 64:
                    name, seen = alias[name], seen + 1
                if name in inits:
                    out[(node.name, i)] = inits[name]
        return out

    probe = copy.deepcopy(model).eval()
    g = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for p in probe.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    probe_slots = {k: numpy_helper.to_array(t) for k, t in slots((exporter or export_proto)(probe)).items()}
    target = slots(proto)
    sd = {k: v.detach().clone() for k, v in model.state_dict().items()}
    unused = []
    for name, p in probe.named_parameters():
        want = p.detach().numpy()
        hit = None
        for key, arr in probe_slots.items():
            if arr.shape == want.shape and (arr == want).all():
                hit = (key, False)
                break
            if want.ndim == 2 and arr.shape == want.T.shape and (arr == want.T).all():
                hit = (key, True)
                break
        if hit is None:
            unused.append(name)
            continue
        (key, transposed) = hit
        if key not in target:
            raise ValueError(f"{name}: the ONNX graph has no input {key[1]} of node {key[0]!r} " "(not an export of this network by models/sedd/export.py)")
        arr = numpy_helper.to_array(target[key])
        value = torch.from_numpy(arr.T.copy() if transposed else arr.copy())
        if tuple(value.shape) != tuple(sd[name].shape):
            raise ValueError(f"{name}: shape {tuple(value.shape)} in the ONNX graph, " f"{tuple(sd[name].shape)} in the network")
        sd[name] = value.to(sd[name].dtype)
    return sd, unused
