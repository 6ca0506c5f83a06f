"""ONNX export of a SEDD network and ``lacuna-model/1`` manifest writing (models/FORMAT.md).

ONNX interface (opset 17):
  input  ``indices``   int64   [batch, length]
  input  ``sigma``     float32 [batch]
  output ``log_score`` float32 [batch, length, vocab_size]
with dynamic ``batch`` and ``length`` axes.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from typing import Dict, Iterable, Optional

import onnx
import torch

from .model import SEDD

OPSET = 17
FORMAT_ID = "lacuna-model/1"


def export_onnx(model: SEDD, path: str, example_length: int = 8, example_batch: int = 2) -> None:
    """Export ``model`` (put in eval mode) to ``path`` and run the ONNX checker.

    The export is traced with a batch/length that are not 1 so no axis gets specialised;
    the graph is checked with ``onnx.checker.check_model(full_check=True)`` (shape inference
    included)."""
    model = model.eval()
    V = model.config.vocab_size
    g = torch.Generator().manual_seed(0)
    indices = torch.randint(0, V, (example_batch, example_length), generator=g)
    sigma = torch.linspace(0.1, 2.0, example_batch, dtype=torch.float32)
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns about Python-side shape arithmetic and missing shape inference
        # for constants; both are expected here (dynamic axes are checked by the tests).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, (indices, sigma), buf,
            opset_version=OPSET,
            input_names=["indices", "sigma"],
            output_names=["log_score"],
            dynamic_axes={"indices": {0: "batch", 1: "length"},
                          "sigma": {0: "batch"},
                          "log_score": {0: "batch", 1: "length"}},
            do_constant_folding=True,
        )
    proto = onnx.load_from_string(buf.getvalue())
    proto.producer_name = "lacuna-sedd-export"
    proto.doc_string = "SEDD score network: (indices int64 [B,L], sigma float32 [B]) -> log_score [B,L,V]"
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


def write_manifest(model_dir: str, *, id: str, name: str, description: str,
                   model: SEDD, noise: dict, length: int, eos_id: int,
                   files: Iterable[str] = ("model.onnx", "tokenizer.json"),
                   time_conditioned: bool = True, default_steps: int = 64,
                   sampler: str = "analytic", extra: Optional[dict] = None) -> dict:
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
            "config": {"hidden_size": cfg.hidden_size, "n_blocks": cfg.n_blocks,
                       "n_heads": cfg.n_heads, "cond_dim": cfg.cond_dim},
        },
        "sampling": {"default_steps": default_steps, "sampler": sampler},
        "files": {f: file_entry(os.path.join(model_dir, f)) for f in files},
    }
    if extra:
        manifest.update(extra)
    with open(os.path.join(model_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return manifest
