"""A synthetic MDLM checkpoint folder in the exact layout of the Hugging Face repo
``kuleshov-group/mdlm-owt`` (models/sedd/mdlm.py), for testing the importer
(src-main/engine/model/import.ts) end to end, plus its graph templates and PyTorch reference
outputs.

    OPENBLAS_NUM_THREADS=1 .venv-fp16/bin/python models/tools/make_mdlm_fixture.py [--out DIR] [--no-fp16]

Writes (default DIR = models/tests/import-fixture-mdlm, deterministic, ~1 MB):
  checkpoint/config.json        the Hub config.json's keys and format (model_type "mdlm",
                                hidden_dim 64, n_blocks 2, n_heads 2, cond_dim 32, vocab_size 512
                                with MASK = 511, model_length 128, time_conditioning false, ...)
  checkpoint/model.safetensors  random float32 weights under the Hub's names: ``backbone.`` + the
                                DDiT names, ``backbone.rotary_emb.inv_freq`` included (as the Hub
                                file has it)
  checkpoint/tokenizer.json     the tiny fixture's tokenizer (511 ids; the Hub repo ships none and
                                uses GPT-2's, which the importer supplies for vocab_size 50258)
  templates/<name>/             the graph template for this configuration (make_templates.py)
  templates/<name>-fp16/        its float16 variant (needs onnxconverter-common; --no-fp16 skips it)
  reference.json                lacuna-parity/1 cases: the SEDD log score of the MDLM reference
                                (the Hub model's logits -> diffusion.py SUBS -> get_score), with
                                fused-draw cases
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
from make_templates import config_from_file, make_template  # noqa: E402
from sedd.export import fused_draw  # noqa: E402
from sedd.mdlm import MDLM, MDLMConfig, MDLMScore  # noqa: E402

SEED = 20261202
DEFAULT_OUT = os.path.join(MODELS, "tests", "import-fixture-mdlm")
TEMPLATE_NAME = "mdlm-tiny"
NAME_OR_PATH = "lacuna-tests/mdlm-tiny"
TINY = MDLMConfig(hidden_size=64, n_blocks=2, n_heads=2, cond_dim=32, vocab_size=512)


def random_state(model: MDLM, seed: int) -> Dict[str, torch.Tensor]:
    """Random float32 weights for every entry of the Hub state dict (``backbone.*``); the rotary
    buffer keeps its computed value, as in the Hub file."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, t in model.state_dict().items():
        if name.endswith("rotary_emb.inv_freq"):
            v = t.clone()
        elif "norm" in name:
            v = 1.0 + 0.2 * torch.randn(t.shape, generator=g)
        elif name.endswith("bias"):
            v = 0.05 * torch.randn(t.shape, generator=g)
        elif name.endswith("vocab_embed.embedding"):
            v = torch.randn(t.shape, generator=g)
        else:
            v = torch.randn(t.shape, generator=g) / (t.shape[-1] ** 0.5)
        out[name] = v.float().contiguous()
    return out


def f32(x: float) -> float:
    return float(np.float32(x))


def parity_cases(score: MDLMScore, V: int, seed: int) -> List[dict]:
    g = torch.Generator().manual_seed(seed + 1)
    mask = V - 1
    cases = []
    for name, B, L, sig, rows in (("len7_b2_sigma1e-4_and_5", 2, 7, [1e-4, 5.0], None), ("len40_b1_sigma0.75", 1, 40, [0.75], [0, 5, 17, 39])):
        idx = torch.randint(0, V - 1, (B, L), generator=g)
        idx[torch.rand(B, L, generator=g) < 0.5] = mask
        idx[0, 0] = mask
        sigma = torch.tensor([f32(s) for s in sig], dtype=torch.float32)
        with torch.no_grad():
            out = score(idx, sigma)
        pos = [[b, l] for b in range(B) for l in (rows if rows else range(L))]
        flat = out.reshape(B * L, V)
        masked = (idx.reshape(-1) == mask).nonzero().reshape(-1)
        uniforms = torch.rand(masked.shape[0], generator=g)
        token, log_norm = fused_draw(flat.index_select(0, masked), uniforms)
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
                "draw": {"positions": masked.tolist(), "uniforms": uniforms.tolist(), "token": token.tolist(), "log_norm": log_norm.tolist()},
            }
        )
    return cases


def build(out: str, seed: int = SEED, fp16: bool = False) -> None:
    """Write the folder; ``fp16`` also writes ``templates/<name>-fp16`` (onnxconverter-common)."""
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    cfg_json = TINY.hub_config(NAME_OR_PATH, length=128)
    cfg = config_from_file(cfg_json)
    assert cfg == TINY, cfg
    if os.path.exists(out):
        shutil.rmtree(out)
    ck = os.path.join(out, "checkpoint")
    os.makedirs(ck)
    with open(os.path.join(ck, "config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg_json, f, indent=2, sort_keys=True)  # as transformers' save_pretrained
        f.write("\n")
    shutil.copyfile(os.path.join(MODELS, "fixtures", "tiny-fixture", "tokenizer.json"), os.path.join(ck, "tokenizer.json"))

    model = MDLM(cfg).eval()
    state = random_state(model, seed)
    save_safetensors(state, os.path.join(ck, "model.safetensors"), {"format": "pt"})
    ref = MDLM(cfg).eval()
    ref.load_state_dict(state, strict=True)
    cases = parity_cases(MDLMScore(ref).eval(), cfg.vocab_size, seed)
    with open(os.path.join(out, "reference.json"), "w", encoding="utf-8") as f:
        json.dump({"format": "lacuna-parity/1", "model": TEMPLATE_NAME, "tolerance": 1e-4, "mask_id": cfg.mask_id, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    make_template(cfg, os.path.join(out, "templates", TEMPLATE_NAME))
    if fp16:
        make_template(cfg, os.path.join(out, "templates", TEMPLATE_NAME + "-fp16"), precision="fp16")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="synthetic mdlm-owt-layout checkpoint + template + reference")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--no-fp16", action="store_true", help="leave out the float16 template")
    a = ap.parse_args(argv)
    build(a.out, fp16=not a.no_fp16)
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(a.out) for f in fs)
    print(f"{a.out}: {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
