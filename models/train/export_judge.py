#!/usr/bin/env python3
"""Export an autoregressive run of models/train (``--model ar``) as the fill benchmark's judge.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 models/train/export_judge.py \\
        --run models/train/runs/ar-c1-judge --out models/judge

Writes ``OUT/ar-twin.onnx`` and ``OUT/judge.json``. The graph is a causal language model:

    input_ids int64 [batch, L] -> log_probs float32 [batch, L, V - 1]

``log_probs[b, i]`` is log p(next token | input_ids[b, :i + 1]) over the text tokens (the MASK id
V - 1 is left out, as in training: sedd.losses.ar_loss). The caller puts BOS = the MASK id (8191 for
lacuna-mini's tokenizer) first, as the network saw in training, and may give any length (rotary
positions; it was trained on 256). The EMA weights are stored as float16 initializers, each
followed by a Cast to float32 in the graph (half the file; all arithmetic stays float32), unless
``--fp32``. Parity is checked by running the file through onnxruntime-node (the runtime the
benchmark uses) against PyTorch with the same (float16-rounded) weights, and the held-out
perplexity is measured with the rounded weights on the training run's 64 evaluation blocks.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import os
import shutil
import subprocess
import sys
import warnings
from typing import Dict, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
REPO = os.path.dirname(MODELS)
for p in (MODELS, HERE):
    if p not in sys.path:
        sys.path.insert(0, p)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from onnx import TensorProto, helper, numpy_helper  # noqa: E402
from torch import Tensor, nn  # noqa: E402

import trainlib as T  # noqa: E402
from sedd.export import OPSET, check_layernorm_bias, strip_prefix  # noqa: E402
from sedd.likelihood import ar_nll  # noqa: E402
from sedd.model import SEDD  # noqa: E402

INPUT = "input_ids"
OUTPUT = "log_probs"
FP16_MIN_ELEMENTS = 1024  # smaller float tensors (norm weights, rotary table) stay float32


class CausalLM(nn.Module):
    """input_ids [B, L] -> log-softmax over the text tokens [B, L, V - 1] (sedd.losses.ar_loss's
    network path: features with sigma 0, output layer, MASK logit dropped)."""

    def __init__(self, model: SEDD) -> None:
        super().__init__()
        if not model.config.causal:
            raise ValueError("the judge must be a causal (--model ar) network")
        self.model = model

    def forward(self, input_ids: Tensor) -> Tensor:
        x, c = self.model.features(input_ids, torch.zeros(input_ids.shape[0]))
        logits = self.model.output_layer(x, c)[..., :-1].float()
        return torch.log_softmax(logits, dim=-1)


def round_to_fp16(model: SEDD) -> SEDD:
    """The weights as the fp16 file holds them (tensors of >= FP16_MIN_ELEMENTS elements)."""
    with torch.no_grad():
        for p in list(model.parameters()) + list(model.buffers()):
            if p.is_floating_point() and p.numel() >= FP16_MIN_ELEMENTS:
                p.copy_(p.half().float())
    return model


def export_proto(model: SEDD, fp16: bool = True) -> onnx.ModelProto:
    model = model.eval()
    buf = io.BytesIO()
    example = torch.randint(0, model.config.vocab_size, (2, 8), generator=torch.Generator().manual_seed(0))
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            CausalLM(model).eval(),
            (example,),
            buf,
            opset_version=OPSET,
            input_names=[INPUT],
            output_names=[OUTPUT],
            dynamic_axes={INPUT: {0: "batch", 1: "length"}, OUTPUT: {0: "batch", 1: "length"}},
            do_constant_folding=True,
        )
    proto = onnx.load_from_string(buf.getvalue())
    strip_prefix(proto, "model.")
    if fp16:
        to_fp16_initializers(proto)
    proto.producer_name = "lacuna-judge-export"
    proto.doc_string = f"autoregressive judge: {INPUT} int64 [B,L] (BOS = the MASK id first) -> " f"{OUTPUT} float32 [B,L,V-1], log p(next token)"
    onnx.checker.check_model(proto, full_check=True)
    check_layernorm_bias(proto)
    return proto


def to_fp16_initializers(proto: onnx.ModelProto) -> int:
    """Store every float32 initializer of >= FP16_MIN_ELEMENTS elements as float16 and put a Cast
    back to float32 (under the original name) at the start of the graph. Returns the count."""
    g = proto.graph
    casts = []
    keep = []
    for t in g.initializer:
        if t.data_type == TensorProto.FLOAT and int(np.prod(t.dims)) >= FP16_MIN_ELEMENTS:
            arr = numpy_helper.to_array(t).astype(np.float16)
            half = numpy_helper.from_array(arr, t.name + ".fp16")
            keep.append(half)
            casts.append(helper.make_node("Cast", [half.name], [t.name], name=f"cast_{t.name}", to=TensorProto.FLOAT))
        else:
            keep.append(t)
    del g.initializer[:]
    g.initializer.extend(keep)
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(casts + nodes)
    # initializers listed as graph inputs (older exporters) would shadow the Cast outputs
    names = {c.output[0] for c in casts}
    inputs = [i for i in g.input if i.name not in names]
    del g.input[:]
    g.input.extend(inputs)
    return len(casts)


def run_onnxruntime_node(model_path: str, ids: np.ndarray) -> np.ndarray:
    """log_probs of ``ids`` [B, L] through onnxruntime-node (the repository's node_modules)."""
    ort = os.path.join(REPO, "node_modules", "onnxruntime-node")
    if not (shutil.which("node") and os.path.isdir(ort)):
        raise FileNotFoundError("node or node_modules/onnxruntime-node missing (npm ci first)")
    script = (
        "const ort=require(process.argv[1]);const a=JSON.parse(require('fs').readFileSync(0,'utf8'));"
        "(async()=>{const s=await ort.InferenceSession.create(a.model,{intraOpNumThreads:1});"
        f"const r=await s.run({{{INPUT}:new ort.Tensor('int64',BigInt64Array.from(a.ids.map(BigInt)),a.shape)}});"
        f"const o=r.{OUTPUT};process.stdout.write(JSON.stringify({{dims:o.dims,data:Array.from(o.data)}}));}})()"
        ".catch(e=>{console.error(e);process.exit(1)});"
    )
    payload = json.dumps({"model": os.path.abspath(model_path), "ids": ids.flatten().tolist(), "shape": list(ids.shape)})
    r = subprocess.run(["node", "-e", script, ort], input=payload, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"onnxruntime-node failed: {r.stderr.strip()[-800:]}")
    o = json.loads(r.stdout)
    return np.array(o["data"], dtype=np.float32).reshape(o["dims"])


@torch.no_grad()
def parity(model: SEDD, path: str, ids: np.ndarray) -> float:
    """Max |ONNX (onnxruntime-node) - PyTorch| over every log-prob of ``ids``."""
    want = CausalLM(model).eval()(torch.from_numpy(ids)).numpy()
    got = run_onnxruntime_node(path, ids)
    if got.shape != want.shape:
        raise AssertionError(f"shape {got.shape} != {want.shape}")
    return float(np.abs(got - want).max())


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def held_out(model: SEDD, info: dict, blocks: int) -> Optional[Dict[str, float]]:
    """AR nats/token and perplexity on the run's evaluation blocks (train.py: the first
    ``blocks`` evenly spaced 256-token blocks of the test split), None without the corpus."""
    test = info["data"]["test"]
    cache = T.resolve_path(test["cache"]) if test.get("cache") else None
    if cache and os.path.exists(cache):
        toks = T.open_tokens(cache)
    else:
        text = T.resolve_path(test["text"])
        if not os.path.exists(text):
            return None
        toks, _ = T.load_tokens(text, T.resolve_path(info["tokenizer"]))
    x = T.eval_blocks(toks, info["settings"]["length"], blocks)
    r = ar_nll(model, x)
    return {"nats_per_token": r["nats_per_token"], "ppl": r["ppl"], "blocks": r["blocks"], "tokens": r["tokens"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="an --model ar run folder (ckpt.pt + run.json)")
    ap.add_argument("--out", default=os.path.join(MODELS, "judge"))
    ap.add_argument("--which", default="ema", choices=["ema", "model"])
    ap.add_argument("--fp32", action="store_true", help="float32 initializers (twice the size)")
    ap.add_argument("--eval-blocks", type=int, default=64)
    ap.add_argument("--note", default="", help="where the run folder came from (kept in judge.json)")
    a = ap.parse_args()
    torch.set_num_threads(1)

    model, info, progress = T.load_model_and_progress(a.run, a.which)
    if info["model"]["kind"] != "ar":
        raise SystemExit(f"{a.run} is a {info['model']['kind']} run; the judge is an AR (--model ar) run")
    fp16 = not a.fp32
    full = None
    if fp16:
        full = held_out(model, info, a.eval_blocks)
        round_to_fp16(model)
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "ar-twin.onnx")
    proto = export_proto(model, fp16)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())

    g = torch.Generator().manual_seed(1)
    V = model.config.vocab_size
    ids = torch.randint(0, V - 1, (2, 64), generator=g)
    ids[:, 0] = V - 1
    diff = parity(model, path, ids.numpy())
    print(f"parity (onnxruntime-node vs PyTorch, same weights, 2 x 64 tokens, {ids.numel() * (V - 1):,} " f"log-probs): max abs diff {diff:.3g}")
    if diff > 1e-3:
        raise SystemExit("parity check failed")
    ev = held_out(model, info, a.eval_blocks)

    spec = info["model"]
    out = {
        "format": "lacuna-judge/1",
        "file": "ar-twin.onnx",
        "bytes": os.path.getsize(path),
        "sha256": sha256(path),
        "kind": "autoregressive (causal) transformer, the AR twin of lacuna-mini: same network code, " "tokenizer and size (models/train, --model ar)",
        "io": {
            "input": f"{INPUT} int64 [batch, length], BOS first",
            "output": f"{OUTPUT} float32 [batch, length, {V - 1}]: log p(next token)",
            "bos_id": V - 1,
            "trained_length": info["settings"]["length"],
        },
        "weights": ("EMA" if a.which == "ema" else "raw") + (", float16 initializers cast to float32 in the graph" if fp16 else ", float32"),
        "tokenizer": info["tokenizer"],
        "tokenizer_sha256": info["data"]["train"]["tokenizer_sha256"],
        "source_run": T.rel_path(os.path.abspath(a.run)),
        "source_note": a.note,
        "run_settings": {k: info["settings"][k] for k in ("hidden", "blocks", "heads", "length", "batch", "lr", "steps", "ema")},
        "params": info["params"]["total"],
        "step": progress["step"] if progress else None,
        "tokens_seen": progress["tokens"] if progress else None,
        "schedule_steps": progress["schedule_steps"] if progress else None,
        "held_out": ev,
        "held_out_fp32_weights": full,
        "held_out_note": f"nats/token and perplexity of the exported weights on the run's {a.eval_blocks} "
        "evaluation blocks of models/data/build/test.txt (train.py's eval set)",
        "parity_max_abs_diff": diff,
        "train_data_sha256": info["data"]["train"]["text_sha256"],
        "test_data_sha256": info["data"]["test"]["text_sha256"],
    }
    with open(os.path.join(a.out, "judge.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    ppl = f"{ev['ppl']:.2f} ({ev['nats_per_token']:.4f} nats/token)" if ev else "n/a (no test split)"
    print(f"wrote {path} ({out['bytes'] / 1e6:.1f} MB), step {out['step']}, held-out ppl {ppl}")


if __name__ == "__main__":
    main()
