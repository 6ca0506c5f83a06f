"""A synthetic SEDD checkpoint folder in the official Hugging Face layout, for testing the
importer (src-main/engine/model/import.ts) end to end, plus its graph template and PyTorch
reference outputs.

    OPENBLAS_NUM_THREADS=1 .venv-fp16/bin/python models/tools/make_official_like.py [--out DIR]

Writes (default DIR = models/tests/import-fixture, deterministic, ~1 MB):
  checkpoint/config.json        official-style config (tokens 511, model{hidden_size 64, n_heads 2,
                                n_blocks 2, cond_dim 32, scale_by_sigma, dropout, length 128, name},
                                graph{type absorb}, noise{type loglinear}, ...)
  checkpoint/model.safetensors  random weights with the official names; vocab_embed in BF16,
                                blocks.* in F16, the rest F32; rotary_emb.inv_freq left out (the
                                importer must fill it in)
  checkpoint/tokenizer.json     the tiny fixture's tokenizer (511 ids; tokens != 50257 so the
                                importer takes the folder's own tokenizer)
  templates/<name>/             the graph template for this configuration (make_templates.py)
  templates/<name>-fp16/        its float16 variant (run with the .venv-fp16 Python of make_templates.py;
                                --no-fp16 leaves it out)
  reference.json                lacuna-parity/1 cases from the PyTorch reference network loaded
                                with exactly the stored (rounded) weights
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
for p in (MODELS, HERE):
    if p not in sys.path:
        sys.path.insert(0, p)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from convert_bin import save_safetensors  # noqa: E402
from make_templates import config_from_official, make_template  # noqa: E402
from sedd.model import SEDD  # noqa: E402

SEED = 20250607
DEFAULT_OUT = os.path.join(MODELS, "tests", "import-fixture")
TEMPLATE_NAME = "official-like-tiny"


def official_config(
    hidden: int = 64, heads: int = 2, blocks: int = 2, cond: int = 32, tokens: int = 511, length: int = 128, name: str = "official-like-tiny"
) -> dict:
    """Shaped like the config.json of louaaron/sedd-small (hydra dump)."""
    return {
        "ngpus": 1,
        "tokens": tokens,
        "training": {
            "batch_size": 512,
            "accum": 1,
            "n_iters": 1300001,
            "snapshot_freq": 50000,
            "log_freq": 50,
            "eval_freq": 100,
            "snapshot_freq_for_preemption": 10000,
            "weight": "standard",
            "snapshot_sampling": True,
            "ema": 0.9999,
        },
        "data": {"train": "openwebtext", "valid": "wikitext103", "cache_dir": "data"},
        "graph": {"type": "absorb", "file": "data", "report_all": False},
        "noise": {"type": "loglinear", "sigma_min": 1e-4, "sigma_max": 20},
        "sampling": {"predictor": "euler", "steps": 128, "noise_removal": True},
        "eval": {"batch_size": 512, "perplexity": True, "perplexity_batch_size": 32},
        "optim": {"weight_decay": 0, "optimizer": "AdamW", "lr": 3e-4, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "warmup": 2500, "grad_clip": 1.0},
        "model": {
            "name": name,
            "type": "ddit",
            "hidden_size": hidden,
            "cond_dim": cond,
            "length": length,
            "n_blocks": blocks,
            "n_heads": heads,
            "scale_by_sigma": True,
            "dropout": 0.1,
        },
    }


def stored_dtype(name: str) -> torch.dtype:
    if name.startswith("vocab_embed."):
        return torch.bfloat16
    if name.startswith("blocks."):
        return torch.float16
    return torch.float32


def random_state(model: SEDD, seed: int) -> Dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, t in model.state_dict().items():
        if name == "rotary_emb.inv_freq":
            continue
        if "norm" in name:
            v = 1.0 + 0.2 * torch.randn(t.shape, generator=g)
        elif name.endswith("bias"):
            v = 0.05 * torch.randn(t.shape, generator=g)
        elif name == "vocab_embed.embedding":
            v = torch.randn(t.shape, generator=g)
        else:
            v = torch.randn(t.shape, generator=g) / (t.shape[-1] ** 0.5)
        out[name] = v.to(stored_dtype(name))
    return out


def f32(x: float) -> float:
    return float(np.float32(x))


def parity_cases(model: SEDD, V: int, seed: int) -> List[dict]:
    g = torch.Generator().manual_seed(seed + 1)
    cases = []
    for name, B, L, sig, rows in (("len7_b2_sigma1e-4_and_5", 2, 7, [1e-4, 5.0], None), ("len40_b1_sigma0.75", 1, 40, [0.75], [0, 5, 17, 39])):
        idx = torch.randint(0, V - 1, (B, L), generator=g)
        idx[torch.rand(B, L, generator=g) < 0.4] = V - 1  # some MASK positions
        sigma = torch.tensor([f32(s) for s in sig], dtype=torch.float32)
        with torch.no_grad():
            out = model(idx, sigma)
        pos = [[b, l] for b in range(B) for l in (rows if rows else range(L))]
        cases.append(
            {
                "name": name,
                "indices": idx.tolist(),
                "sigma": sigma.tolist(),
                "shape": [B, L, V],
                "full": rows is None,
                "positions": pos,
                "values": [[float("%.9g" % v) for v in out[b, l].tolist()] for b, l in pos],
                "max_abs": float(out.abs().max()),
                "sum": float(out.double().sum()),
            }
        )
    return cases


def build(out: str, seed: int = SEED, fp16: bool = False) -> None:
    """Write the folder; ``fp16`` also writes the float16 template ``templates/<name>-fp16``
    (needs onnxconverter-common, see make_templates.to_fp16)."""
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    cfg_json = official_config()
    cfg = config_from_official(cfg_json)
    if os.path.exists(out):
        shutil.rmtree(out)
    ck = os.path.join(out, "checkpoint")
    os.makedirs(ck)
    with open(os.path.join(ck, "config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg_json, f, indent=2)
        f.write("\n")
    shutil.copyfile(os.path.join(MODELS, "fixtures", "tiny-fixture", "tokenizer.json"), os.path.join(ck, "tokenizer.json"))

    model = SEDD(cfg).eval()
    state = random_state(model, seed)
    save_safetensors(state, os.path.join(ck, "model.safetensors"), {"format": "pt"})
    # The reference: the same network with exactly the stored values (rounded), in fp32.
    ref = SEDD(cfg).eval()
    missing, unexpected = ref.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    assert missing == ["rotary_emb.inv_freq"] and not unexpected, (missing, unexpected)
    cases = parity_cases(ref, cfg.vocab_size, seed)
    with open(os.path.join(out, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(
            {"format": "lacuna-parity/1", "model": TEMPLATE_NAME, "tolerance": 1e-4, "mask_id": cfg.vocab_size - 1, "cases": cases}, f, separators=(",", ":")
        )
        f.write("\n")
    make_template(cfg, os.path.join(out, "templates", TEMPLATE_NAME))
    if fp16:
        make_template(cfg, os.path.join(out, "templates", TEMPLATE_NAME + "-fp16"), precision="fp16")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="synthetic official-layout SEDD checkpoint + template + reference")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--no-fp16", action="store_true", help="leave out the float16 template (it needs onnxconverter-common)")
    a = ap.parse_args(argv)
    build(a.out, fp16=not a.no_fp16)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(a.out) for f in fs)
    print(f"{a.out}: {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
