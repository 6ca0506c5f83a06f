"""The anchor of `npm run bench:models`: the paper's sampling loop in PyTorch on this CPU, with the
same weights and the same blank as the engine's fill.

    OPENBLAS_NUM_THREADS=T /usr/bin/python3 scripts/bench-torch-loop.py CHECKPOINT CASE.json OUT.json --threads T [--steps 64]

CHECKPOINT: an official-layout folder (config.json + model.safetensors, as the synthetic ones of
src-main/engine/model/synthetic-checkpoint.ts). CASE.json: {"indices": [...], "blank": [start,
length]} — the token ids of the text with the blank's positions, as the engine planned them.
The loop is models/sedd/sampling.py ``sample``: the official analytic predictor (Tweedie
tau-leaping) for ``steps`` steps plus the final denoising step, the network's full [L, V] output
every step, the context written back before every step (the official infill "projector"),
float64 sampler arithmetic. Writes {"fill_s", "step_ms", "calls", "threads", "torch"} to OUT.json.
Needs python3-torch and python3-numpy (Debian), as the Python tests do.
"""
from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "models"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sedd.graph import Absorbing  # noqa: E402
from sedd.model import SEDD, SEDDConfig  # noqa: E402
from sedd.noise import LogLinearNoise  # noqa: E402
from sedd.sampling import sample  # noqa: E402

DTYPES = {"F32": np.float32, "F16": np.float16}


def read_safetensors(path: str) -> dict:
    """The tensors of a safetensors file (F32/F16) as float32 torch tensors."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=DTYPES[meta["dtype"]]).reshape(meta["shape"])
        out[name] = torch.from_numpy(arr.astype(np.float32))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("checkpoint")
    ap.add_argument("case")
    ap.add_argument("out")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=64)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    cfg = json.load(open(os.path.join(a.checkpoint, "config.json")))
    m = cfg["model"]
    config = SEDDConfig(
        hidden_size=m["hidden_size"],
        n_blocks=m["n_blocks"],
        n_heads=m["n_heads"],
        cond_dim=m["cond_dim"],
        vocab_size=cfg["tokens"] + 1,
        graph_type="absorb",
        scale_by_sigma=m.get("scale_by_sigma", True),
    )
    model = SEDD(config).eval()
    state = read_safetensors(os.path.join(a.checkpoint, "model.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if [k for k in missing if not k.endswith("inv_freq")] or unexpected:
        raise SystemExit(f"checkpoint does not fit: missing {missing[:4]}, unexpected {unexpected[:4]}")
    case = json.load(open(a.case))
    indices = torch.tensor([case["indices"]], dtype=torch.int64)
    start, length = case["blank"]
    L = indices.shape[1]
    known = torch.ones(1, L, dtype=torch.bool)
    known[0, start : start + length] = False
    calls = 0

    def score_fn(x, sigma):
        nonlocal calls
        calls += 1
        return model(x, sigma)

    graph = Absorbing(config.vocab_size)
    noise = LogLinearNoise(eps=1e-3)
    with torch.no_grad():
        score_fn(indices, torch.ones(1))  # warm-up
        calls = 0
        t0 = time.perf_counter()
        sample(score_fn, graph, noise, (1, L), a.steps, predictor="analytic", known_ids=indices, known_mask=known, generator=torch.Generator().manual_seed(0))
        fill = time.perf_counter() - t0
    json.dump({"fill_s": fill, "step_ms": 1000 * fill / calls, "calls": calls, "threads": a.threads, "length": L, "torch": torch.__version__}, open(a.out, "w"))


if __name__ == "__main__":
    main()
