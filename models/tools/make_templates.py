"""Graph templates for importing SEDD checkpoints without Python (models/README.md, "Importing
official weights").

A template is the ONNX graph of the reference network (models/sedd/model.py) for one network
configuration, with every parameter stored as *external data* in one file, ``weights.bin``, at a
fixed offset, plus ``template.json`` saying which parameter lies where. The importer
(src-main/engine/model/import.ts) copies the graph and writes ``weights.bin`` from the
checkpoint's tensors; the graph itself is never rebuilt, so an import needs no Python.

The export uses ``do_constant_folding=False`` so every initializer keeps its state-dict name
(torch 1.13 feeds ``nn.Linear`` weights straight into Gemm/MatMul, with ``transB`` or a
Transpose node in the graph, never a renamed, pre-transposed copy). torch also merges
initializers with identical contents into one; to keep one initializer per parameter every
parameter is filled with its own constant before export. The script checks that the
initializer names are exactly the state-dict names and fails otherwise.

template.json (``lacuna-template/1``)::

    {"format": "lacuna-template/1",
     "config": {hidden_size, n_blocks, n_heads, cond_dim, vocab_size, graph_type, scale_by_sigma},
     "precision": "fp32" | "fp16",   # absent = fp32
     "graph": "model.onnx", "graph_sha256": ..., "weights": "weights.bin",
     "alignment": 4096, "weights_bytes": N,
     "tensors": [{"name", "dtype": "float32" | "float16", "shape", "offset", "bytes",
                  "default": [...]  # only for buffers that may be absent (rotary_emb.inv_freq)
                 }, ...]}

Tensors are laid out in state-dict order, each at an offset that is a multiple of ``alignment``;
the gaps are zero bytes; ``weights_bytes`` is the file size (the end of the last tensor).

Usage (from the repository root; the official templates take ~1 min (small) / ~3 min (medium)
and up to ~6 GB of memory):

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 models/tools/make_templates.py --preset sedd-small
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 models/tools/make_templates.py --preset sedd-medium
    # the float16 variants (GPU packages; need onnxconverter-common, models/tools/requirements-fp16.txt):
    /usr/bin/python3 -m venv --system-site-packages .venv-fp16
    .venv-fp16/bin/pip install --no-deps -r models/tools/requirements-fp16.txt  # onnx, numpy: Debian's
    OPENBLAS_NUM_THREADS=1 .venv-fp16/bin/python models/tools/make_templates.py --preset sedd-small --precision fp16
    # any other configuration, from an official-style config.json:
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 models/tools/make_templates.py \\
        --config DIR/config.json --out models/templates/<name>
    # MDLM (kuleshov-group/mdlm-owt; models/sedd/mdlm.py), fp32 and fp16:
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 models/tools/make_templates.py --preset mdlm-owt
    OPENBLAS_NUM_THREADS=1 .venv-fp16/bin/python models/tools/make_templates.py --preset mdlm-owt --precision fp16

MDLM templates: ``--config`` also takes an MDLM Hub config.json (``model_type`` "mdlm"). The graph
is MDLM's trunk (the same tensor names and shapes as SEDD's; the checkpoint stores them under
``backbone.``) followed by the SUBS x0-posterior expressed as a SEDD absorbing log score
(models/sedd/mdlm.py); template.json's config then also says ``"family": "mdlm"`` and
``"time_conditioning"``, and ``scale_by_sigma`` is true (the output carries -log(e^sigma - 1)).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from typing import Dict, List, Optional, Tuple, Union

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
if MODELS not in sys.path:
    sys.path.insert(0, MODELS)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import onnx  # noqa: E402
import torch  # noqa: E402
from onnx import TensorProto  # noqa: E402

from sedd import mdlm  # noqa: E402
from sedd.export import check_layernorm_bias, export_proto  # noqa: E402
from sedd.model import SEDD, SEDDConfig  # noqa: E402

TEMPLATE_FORMAT = "lacuna-template/1"
WEIGHTS_FILE = "weights.bin"
GRAPH_FILE = "model.onnx"
ALIGNMENT = 4096
# Buffers an official checkpoint may lack; their values are stored in template.json.
OPTIONAL_BUFFERS = ("rotary_emb.inv_freq",)

PRESETS = {
    "sedd-small": SEDDConfig.small,
    "sedd-medium": SEDDConfig.medium,
    "mdlm-owt": mdlm.MDLMConfig.owt,
}


def config_from_official(cfg: dict) -> SEDDConfig:
    """SEDDConfig from an official-style config.json (``tokens``, ``graph.type``, ``model.*``)."""
    model = cfg["model"]
    graph_type = cfg["graph"]["type"]
    tokens = int(cfg["tokens"])
    scale = bool(model.get("scale_by_sigma", graph_type == "absorb")) and graph_type == "absorb"
    return SEDDConfig(
        hidden_size=int(model["hidden_size"]),
        n_blocks=int(model["n_blocks"]),
        n_heads=int(model["n_heads"]),
        cond_dim=int(model["cond_dim"]),
        vocab_size=tokens + 1 if graph_type == "absorb" else tokens,
        graph_type=graph_type,
        scale_by_sigma=scale,
    )


def config_from_file(cfg: dict) -> Union[SEDDConfig, mdlm.MDLMConfig]:
    """The network configuration of a checkpoint's config.json: an MDLM Hub config
    (``model_type`` "mdlm") or an official SEDD one."""
    if cfg.get("model_type") == mdlm.HUB_MODEL_TYPE:
        return mdlm.MDLMConfig.from_hub(cfg)
    return config_from_official(cfg)


def template_config(cfg: Union[SEDDConfig, mdlm.MDLMConfig]) -> dict:
    if isinstance(cfg, mdlm.MDLMConfig):
        return {
            "hidden_size": cfg.hidden_size,
            "n_blocks": cfg.n_blocks,
            "n_heads": cfg.n_heads,
            "cond_dim": cfg.cond_dim,
            "vocab_size": cfg.vocab_size,
            "graph_type": "absorb",
            "scale_by_sigma": True,
            "family": "mdlm",
            "time_conditioning": cfg.time_conditioning,
        }
    return {
        "hidden_size": cfg.hidden_size,
        "n_blocks": cfg.n_blocks,
        "n_heads": cfg.n_heads,
        "cond_dim": cfg.cond_dim,
        "vocab_size": cfg.vocab_size,
        "graph_type": cfg.graph_type,
        "scale_by_sigma": cfg.scale_by_sigma,
    }


def export_graph(model: Union[SEDD, mdlm.DITBackbone]) -> onnx.ModelProto:
    """The exported graph (models/sedd/export.py, or models/sedd/mdlm.py for an MDLM trunk; network
    I/O 2) without constant folding; returns the proto (weights inline)."""
    if isinstance(model, mdlm.DITBackbone):
        return mdlm.export_proto(model, constant_folding=False)
    return export_proto(model, constant_folding=False)


# Kept in float32 in the fp16 graph: the sigma path (log(e^sigma - 1), timestep embedding), the
# rotary tables, and the fused draw after the output projection (a float16 cumulative sum over
# 50k entries would be far too coarse); the transformer blocks and the projection run in float16.
FP16_KEEP_FP32_OPS = ["CumSum", "ReduceMax", "ReduceSum", "LessOrEqual", "Exp", "Log", "Less", "Sin", "Cos", "Where", "ScatterElements", "Range"]
FP16_REQUIREMENTS = "models/tools/requirements-fp16.txt"


def to_fp16(proto: onnx.ModelProto) -> onnx.ModelProto:
    """The float16 variant of an exported graph (inputs and outputs stay float32): every float
    initializer becomes float16, compute runs in float16 except FP16_KEEP_FP32_OPS.  Uses
    onnxconverter-common (pinned in FP16_REQUIREMENTS; not in Debian)."""
    try:
        from onnxconverter_common import float16  # type: ignore
    except ImportError as e:
        raise SystemExit(
            f"the fp16 templates need onnxconverter-common ({e}); set up a venv with "
            f"`python3 -m venv --system-site-packages .venv-fp16 && .venv-fp16/bin/pip install "
            f"--no-deps -r {FP16_REQUIREMENTS}` and run this script with .venv-fp16/bin/python"
        )
    return float16.convert_float_to_float16(proto, keep_io_types=True, op_block_list=FP16_KEEP_FP32_OPS)


def make_template(
    cfg: Union[SEDDConfig, mdlm.MDLMConfig], out_dir: str, model: Optional[Union[SEDD, mdlm.DITBackbone]] = None, precision: str = "fp32"
) -> dict:
    """Write ``model.onnx`` (graph, weights external) and ``template.json`` to ``out_dir``.

    ``model`` may be given (its weights are ignored); otherwise one is built (for an
    :class:`mdlm.MDLMConfig`, the trunk :class:`mdlm.DITBackbone`, whose tensor names are the
    checkpoint's without ``backbone.``). ``precision``
    "fp16" writes the float16 variant (:func:`to_fp16`). Returns the template dict."""
    if precision not in ("fp32", "fp16"):
        raise ValueError(f"precision must be fp32 or fp16, not {precision!r}")
    cfg.dropout = 0.0
    if model is None:
        model = mdlm.DITBackbone(cfg) if isinstance(cfg, mdlm.MDLMConfig) else SEDD(cfg)
    model = model.eval()
    state = model.state_dict()
    defaults = {name: state[name].detach().clone() for name in OPTIONAL_BUFFERS}
    # One distinct constant per parameter, so the exporter merges none of them.
    with torch.no_grad():
        for i, t in enumerate(state.values()):
            t.fill_(1e-3 * (i + 1))
    proto = export_graph(model)
    onnx.checker.check_model(proto)  # before the weights move out

    if precision == "fp16":
        proto = to_fp16(proto)
    names = list(state.keys())
    inits = {t.name: t for t in proto.graph.initializer}
    if set(inits) != set(names):
        raise RuntimeError(
            "initializer names differ from the state dict: missing " f"{sorted(set(names) - set(inits))}, extra {sorted(set(inits) - set(names))}"
        )
    tensors: List[dict] = []
    offset = 0
    for name in names:
        init = inits[name]
        shape = list(state[name].shape)
        want = TensorProto.FLOAT16 if precision == "fp16" else TensorProto.FLOAT
        if init.data_type != want or list(init.dims) != shape:
            raise RuntimeError(
                f"initializer {name}: type {init.data_type} dims {list(init.dims)}, "
                f"expected {'float16' if want == TensorProto.FLOAT16 else 'float32'} {shape}"
            )
        width = 2 if precision == "fp16" else 4
        nbytes = width * int(state[name].numel())
        offset = (offset + ALIGNMENT - 1) // ALIGNMENT * ALIGNMENT
        entry = {"name": name, "dtype": "float16" if precision == "fp16" else "float32", "shape": shape, "offset": offset, "bytes": nbytes}
        if name in defaults:
            entry["default"] = [float(v) for v in defaults[name].float().tolist()]
        tensors.append(entry)
        init.ClearField("raw_data")
        del init.float_data[:]
        del init.int32_data[:]  # where onnx keeps float16 values that are not raw
        init.data_location = TensorProto.EXTERNAL
        del init.external_data[:]
        for k, v in (("location", WEIGHTS_FILE), ("offset", str(offset)), ("length", str(nbytes))):
            e = init.external_data.add()
            e.key, e.value = k, v
        offset += nbytes
    # Initializers in the same (state-dict) order as the file, for a deterministic graph.
    ordered = [inits[n] for n in names]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(ordered)
    family = "MDLM network (as a SEDD log score)" if isinstance(cfg, mdlm.MDLMConfig) else "SEDD score network"
    proto.producer_name = "lacuna-sedd-template"
    proto.doc_string = (
        f"{family} template ({precision}; network I/O 2, models/FORMAT.md): "
        "indices int64 [B,L], sigma float32 [B], positions int64 [K] (, uniforms float32 "
        "[K]) -> log_score [K,V] (, token, log_norm); weights in weights.bin (see template.json)"
    )
    check_layernorm_bias(proto)

    os.makedirs(out_dir, exist_ok=True)
    data = proto.SerializeToString()
    with open(os.path.join(out_dir, GRAPH_FILE), "wb") as f:
        f.write(data)
    template = {
        "format": TEMPLATE_FORMAT,
        "config": template_config(cfg),
        "precision": precision,
        "graph": GRAPH_FILE,
        "graph_sha256": hashlib.sha256(data).hexdigest(),
        "weights": WEIGHTS_FILE,
        "alignment": ALIGNMENT,
        "weights_bytes": offset,
        "tensors": tensors,
    }
    with open(os.path.join(out_dir, "template.json"), "w", encoding="utf-8") as f:
        json.dump(template, f, indent=1)
        f.write("\n")
    return template


def write_weights(template: dict, state: Dict[str, torch.Tensor], path: str) -> None:
    """weights.bin for ``template`` from a state dict (what the TS importer does; for tests)."""
    with open(path, "wb") as f:
        pos = 0
        for t in template["tensors"]:
            f.write(b"\0" * (t["offset"] - pos))
            dtype = "<f2" if t["dtype"] == "float16" else "<f4"
            data = state[t["name"]].detach().float().contiguous().numpy().astype(dtype).tobytes()
            assert len(data) == t["bytes"], t["name"]
            f.write(data)
            pos = t["offset"] + t["bytes"]


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--preset", choices=sorted(PRESETS))
    g.add_argument("--config", help="an official-style SEDD config.json, or an MDLM Hub one")
    ap.add_argument("--out", help="output folder (default models/templates/<preset>[-fp16])")
    ap.add_argument(
        "--precision",
        choices=["fp32", "fp16"],
        default="fp32",
        help="fp16: the float16 variant for GPUs (needs onnxconverter-common, see " f"{FP16_REQUIREMENTS})",
    )
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    if a.preset:
        cfg = PRESETS[a.preset]()
        out = a.out or os.path.join(MODELS, "templates", a.preset + ("-fp16" if a.precision == "fp16" else ""))
    else:
        with open(a.config, encoding="utf-8") as f:
            cfg = config_from_file(json.load(f))
        if not a.out:
            ap.error("--out is required with --config")
        out = a.out
    t = make_template(cfg, out, precision=a.precision)
    size = os.path.getsize(os.path.join(out, GRAPH_FILE))
    print(f"{out}: {len(t['tensors'])} tensors, weights {t['weights_bytes']} bytes, graph {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
