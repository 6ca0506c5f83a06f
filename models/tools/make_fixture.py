#!/usr/bin/env python3
"""Build models/fixtures/tiny-fixture/: a deterministic random-weight SEDD package for tests.

    cd /work/main && OPENBLAS_NUM_THREADS=1 /usr/bin/python3 models/tools/make_fixture.py

Writes (into models/fixtures/tiny-fixture/ unless --out is given):
  tokenizer.json        byte-level BPE trained on models/tools/fixture_text.txt (511 ids:
                        256 bytes + 254 merges + <|endoftext|> = 510); MASK = 511 (not in the
                        tokenizer, like the official GPT-2 + SEDD setup)
  model.onnx            random-weight DDiT (hidden 64, 2 blocks, 1 head, cond 32, V = 512,
                        absorb, scale_by_sigma), opset 17
  parity.json           PyTorch reference outputs (layout: models/FORMAT.md)
  tokenizer-cases.json  golden strings -> ids from the Python encoder
  sampling-cases.json   golden analytic-sampler runs with explicit Exp(1) noise
  MODEL_CARD.md, manifest.json
Everything is seeded; rerunning produces byte-identical files on the same torch build.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Dict, List, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # models/ -> import sedd

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sedd.export import draw_case, export_onnx, file_entry, write_manifest  # noqa: E402
from sedd.graph import Absorbing  # noqa: E402
from sedd.model import SEDD, SEDDConfig, count_params  # noqa: E402
from sedd.noise import LogLinearNoise  # noqa: E402
from sedd.sampling import sample  # noqa: E402
from sedd.tokenizer import EOS_TOKEN, ByteLevelBPE, pre_tokenize  # noqa: E402

SEED = 20240501
TOKENIZER_SIZE = 511  # 256 bytes + 254 merges + <|endoftext|>
VOCAB_SIZE = TOKENIZER_SIZE + 1  # + MASK
LENGTH = 128
CONFIG = SEDDConfig(hidden_size=64, n_blocks=2, n_heads=1, cond_dim=32, vocab_size=VOCAB_SIZE, graph_type="absorb", scale_by_sigma=True, dropout=0.0)
NOISE = LogLinearNoise(eps=1e-3)
ROWS_PER_BATCH_SAMPLED = 16  # stored rows per batch element for the long cases

TOKENIZER_STRINGS: List[str] = [
    "",
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "  leading and trailing spaces  ",
    "multiple   spaces\tand\ttabs",
    "line one\nline two\n\nline four\r\nwindows line\n",
    "\n\n\n",
    "It's what you're doing; they've said I'm sure he'll, she'd.",
    "IT'S UPPER-CASE DON'T",
    "Punctuation!?... (brackets) [square] {curly} <angle> \"quotes\" 'single' -- dashes — em – en",
    "Numbers: 0 1 12 123 1234 12345 3.14159 -42 1,000,000 2nd 1e-5",
    "Emoji: 😀 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️",
    "中文字符和日本語のテキスト、한국어 텍스트。",
    "Combining: e\u0301 a\u0308 n\u0303 Z\u0351\u0352\u0353algo",
    "Precomposed: café naïve résumé Ångström",
    "RTL: العربية עברית مرحبا بالعالم ١٢٣ ٤٥٦",
    "Mixed: abc١٢٣def 12ab ab12 x²³ ½ Ⅻ",
    "Spaces: a\u00a0b\u2009c\u3000d\u202fe",
    "Controls: a\u0085b\ufeffc\u200bd\u0000e\x7f",
    "Tab\tseparated\tvalues\n1\t2\t3",
    "<|endoftext|> as plain text",
    "Math: ∀x∈ℝ, x² ≥ 0 → √(x²) = |x|",
    "URL https://example.com/path?q=1&r=two#frag and e-mail a.b@c.org",
    "Code: def f(x):\n    return x * 2  # comment\n",
    "Unusual letters: ǅ ǈ ʰ ˠ ꜰ ŉ ß ẞ ﬁ",
    "Surrogate-range astral: 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈 𓀀",
    "Ellipsis… and “smart quotes” and ‘apostrophes’",
    "word's end's",
    " 's 't 're 've 'm 'll 'd",
    "\u00a0\u00a0x",
    "a \n b  \n  c",
]

SPECIAL_STRINGS: List[str] = [
    "First document.<|endoftext|>Second document.",
    "<|endoftext|><|endoftext|>",
]


# ---------------------------------------------------------------------------------------
# JSON writing with exact float32 values (shortest repr that round-trips to the float32)


def f32(v: float) -> str:
    s = str(np.float32(v))
    if not np.isfinite(np.float32(v)):
        raise ValueError("non-finite value in parity data")
    return s


def to_json(obj, indent: int = 0) -> str:
    """Readable but compact JSON: objects one key per line, lists of scalars on one line,
    lists of lists one inner list per line."""
    pad, pad1 = " " * indent, " " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{pad1}{json.dumps(k, ensure_ascii=False)}: {to_json(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in obj):
            return json.dumps(list(obj), ensure_ascii=False, separators=(",", ":"))
        items = [pad1 + to_json(v, indent + 1) for v in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False)


def write_json(obj, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(to_json(obj) + "\n")


def dump_json(obj, path: str, float_rows: Dict[str, List[List[float]]]) -> None:
    """Write ``obj`` as JSON; strings ``@rows:<key>`` are replaced by the float32 matrix
    ``float_rows[key]`` written compactly one row per line."""
    text = to_json(obj)
    for key, rows in float_rows.items():
        body = "[\n" + ",\n".join("[" + ",".join(f32(v) for v in r) + "]" for r in rows) + "]"
        text = text.replace(json.dumps("@rows:" + key), body)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")


# ---------------------------------------------------------------------------------------


def train_tokenizer(out: str) -> ByteLevelBPE:
    with open(os.path.join(HERE, "fixture_text.txt"), encoding="utf-8") as f:
        text = f.read()
    tok = ByteLevelBPE.train(text, TOKENIZER_SIZE, special_tokens=(EOS_TOKEN,))
    assert len(tok) == TOKENIZER_SIZE, len(tok)
    assert tok.eos_id == TOKENIZER_SIZE - 1
    tok.save(os.path.join(out, "tokenizer.json"))
    return ByteLevelBPE.load(os.path.join(out, "tokenizer.json"))


def build_model() -> SEDD:
    torch.manual_seed(SEED)
    model = SEDD(CONFIG).eval()
    # Default PyTorch init (not the official zero-init of the output/adaLN layers), so
    # the outputs depend on every weight and on sigma and are far from degenerate.
    return model


def parity_cases(tok: ByteLevelBPE) -> List[Tuple[str, torch.Tensor, List[float], float]]:
    """(name, indices [B, L], sigma [B], mask fraction description) for each case."""
    with open(os.path.join(HERE, "fixture_text.txt"), encoding="utf-8") as f:
        ids = tok.encode(f.read())
    M = CONFIG.vocab_size - 1
    g = torch.Generator().manual_seed(SEED + 1)

    def text_ids(b: int, L: int, offset: int) -> torch.Tensor:
        return torch.tensor([ids[offset + 97 * i : offset + 97 * i + L] for i in range(b)], dtype=torch.int64)

    def mask(x: torch.Tensor, frac: float) -> torch.Tensor:
        m = torch.rand(x.shape, generator=g) < frac
        return torch.where(m, torch.full_like(x, M), x)

    x7 = text_ids(2, 7, 10)
    x7[0] = mask(x7[:1], 0.5)[0]
    x7[1] = M  # all masked
    x33 = mask(text_ids(2, 33, 200), 0.5)
    x128b2 = mask(text_ids(2, 128, 400), 0.4)
    x128b2[1, :64] = M  # a masked span, as in infilling
    cases = [
        ("len1_mask_sigma1e-4", torch.tensor([[M]]), [1e-4]),
        ("len1_b2_unmasked", text_ids(2, 1, 5), [0.01, 1.0]),
        ("len7_b2_sigma1e-4_and_5", x7, [1e-4, 5.0]),
        ("len33_b2_sigma0.3_and_0.5", x33, [0.3, 0.5]),
        ("len128_unmasked_sigma1e-3", text_ids(1, 128, 300), [1e-3]),
        ("len128_b2_mixed_sigma1_and_2.5", x128b2, [1.0, 2.5]),
        ("len128_all_masked_sigma5", torch.full((1, 128), M), [5.0]),
        ("len128_half_masked_sigma7", mask(text_ids(1, 128, 700), 0.5), [7.0]),
    ]
    return cases


def write_parity(model: SEDD, tok: ByteLevelBPE, out: str) -> dict:
    cases_json = []
    rows: Dict[str, List[List[float]]] = {}
    g = torch.Generator().manual_seed(SEED + 2)
    for name, x, sig in parity_cases(tok):
        sigma = torch.tensor(sig, dtype=torch.float32)
        with torch.no_grad():
            y = model(x, sigma)
        B, L, V = y.shape
        full = L <= 33
        if full:
            positions = [[b, l] for b in range(B) for l in range(L)]
        else:
            positions = []
            for b in range(B):
                ls = sorted({0, L - 1} | set(torch.randperm(L, generator=g)[: ROWS_PER_BATCH_SAMPLED - 2].tolist()))
                while len(ls) < ROWS_PER_BATCH_SAMPLED:  # top up if 0 / L-1 were drawn
                    ls = sorted(set(ls) | {int(torch.randint(L, (1,), generator=g))})
                positions += [[b, l] for l in ls]
        rows[name] = [y[b, l].tolist() for b, l in positions]
        y64 = y.double()
        cases_json.append(
            {
                "name": name,
                "indices": x.tolist(),
                "sigma": [float(np.float32(s)) for s in sig],
                "shape": [B, L, V],
                "full": full,
                "positions": positions,
                "values": "@rows:" + name,
                "max_abs": float(y64.abs().max()),
                "sum": float(y64.sum()),
            }
        )
        if (x == CONFIG.vocab_size - 1).any():
            cases_json[-1]["draw"] = draw_case(model, x, sigma, SEED + 3 + len(cases_json))
    parity = {
        "format": "lacuna-parity/1",
        "model": "tiny-fixture",
        "producer": f"models/tools/make_fixture.py (torch {torch.__version__})",
        "tolerance": 1e-4,
        "mask_id": CONFIG.vocab_size - 1,
        "cases": cases_json,
    }
    dump_json(parity, os.path.join(out, "parity.json"), rows)
    return parity


def write_tokenizer_cases(tok: ByteLevelBPE, out: str) -> None:
    cases = []
    for s in TOKENIZER_STRINGS:
        ids = tok.encode(s)
        assert tok.decode(ids) == s, s
        cases.append({"text": s, "pre_tokens": pre_tokenize(s), "ids": ids})
    special = []
    for s in SPECIAL_STRINGS:
        ids = tok.encode(s, allow_special=True)
        assert tok.decode(ids) == s, s
        special.append({"text": s, "ids": ids})
    doc = {
        "format": "lacuna-tokenizer-cases/1",
        "tokenizer": "tokenizer.json",
        "eos_id": tok.eos_id,
        "note": (
            "'cases': special-token strings are plain text (user text); 'special_cases': "
            "added tokens such as <|endoftext|> are matched first (HF behaviour). "
            "decode(ids) == text for every case. Pre-tokenizer: GPT-2 pattern with "
            "\\p{L}, \\p{N} and \\s = \\p{White_Space} (see models/sedd/tokenizer.py)."
        ),
        "cases": cases,
        "special_cases": special,
    }
    write_json(doc, os.path.join(out, "tokenizer-cases.json"))


def write_sampling_cases(model: SEDD, tok: ByteLevelBPE, out: str) -> None:
    """Golden analytic-sampler runs: explicit Exp(1) noise is generated from a documented
    integer hash so a TypeScript port can regenerate it instead of loading it."""
    M = CONFIG.vocab_size - 1
    graph = Absorbing(CONFIG.vocab_size)
    runs = []
    prompt = tok.encode("The lighthouse keeper had not spoken")
    for name, B, L, steps, known_frac_seed in [
        ("infill_len12_steps4", 1, 12, 4, 1),
        ("uncond_b2_len8_steps3", 2, 8, 3, None),
    ]:
        known_ids = torch.full((B, L), M, dtype=torch.int64)
        known_mask = torch.zeros((B, L), dtype=torch.bool)
        if known_frac_seed is not None:
            n = min(len(prompt), 4)
            known_ids[:, :n] = torch.tensor(prompt[:n])
            known_mask[:, :n] = True
            known_ids[:, L - 2 :] = torch.tensor(prompt[n : n + 2])
            known_mask[:, L - 2 :] = True
        salt = len(runs) + 1

        def exp_noise(call: int, shape: Tuple[int, ...], salt: int = salt) -> torch.Tensor:
            return hash_exp1(salt, call, shape)

        trajectory: List[List[List[int]]] = []
        x = sample(
            model,
            graph,
            NOISE,
            (B, L),
            steps,
            predictor="analytic",
            denoise=True,
            eps=1e-5,
            known_ids=known_ids if known_mask.any() else None,
            known_mask=known_mask if known_mask.any() else None,
            exp_noise=exp_noise,
            on_step=lambda call, x: trajectory.append(x.tolist()),
        )
        assert not (x == M).any()
        runs.append(
            {
                "name": name,
                "batch": B,
                "length": L,
                "steps": steps,
                "salt": salt,
                "known_ids": known_ids.tolist(),
                "known_mask": known_mask.tolist(),
                "trajectory": trajectory,
                "result": x.tolist(),
            }
        )
    doc = {
        "format": "lacuna-sampling-cases/1",
        "sampler": "analytic",
        "denoise": True,
        "eps": 1e-5,
        "noise": NOISE.to_manifest(),
        "exp_noise": HASH_DOC,
        "note": (
            "x starts all MASK; before each call the known tokens are written back; "
            "trajectory[k] = x after call k's update (k = steps is the denoise call); "
            "result = trajectory[steps] with known tokens written back. Sampler "
            "arithmetic in float64, sigma cast to float32 for the network. "
            "Network outputs from ONNX differ from PyTorch by ~1e-6, which can flip a "
            "draw only in a near tie."
        ),
        "runs": runs,
    }
    write_json(doc, os.path.join(out, "sampling-cases.json"))


HASH_DOC = (
    "E[call][b][l][j] = -ln(u), u = (h + 0.5) / 2^32, h = splitmix32(salt * 0x9E3779B1 + "
    "call * 0x85EBCA77 + flat) over uint32 arithmetic, flat = (b * L + l) * width + j, "
    "width = V for predictor calls 0..steps-1 and V - 1 for the denoise call (= steps); "
    "splitmix32(x): x += 0x9E3779B9; x = (x ^ (x >>> 16)) * 0x21F0AAAD; "
    "x = (x ^ (x >>> 15)) * 0x735A2D97; x = x ^ (x >>> 15) (all mod 2^32)"
)


def hash_exp1(salt: int, call: int, shape: Sequence[int]) -> torch.Tensor:
    """Deterministic Exp(1) noise, see HASH_DOC (float64)."""
    n = int(np.prod(shape))
    m = np.uint64(0xFFFFFFFF)
    flat = np.arange(n, dtype=np.uint64)
    x = (np.uint64(salt) * np.uint64(0x9E3779B1) + np.uint64(call) * np.uint64(0x85EBCA77) + flat) & m
    x = (x + np.uint64(0x9E3779B9)) & m
    x = ((x ^ (x >> np.uint64(16))) * np.uint64(0x21F0AAAD)) & m
    x = ((x ^ (x >> np.uint64(15))) * np.uint64(0x735A2D97)) & m
    x = x ^ (x >> np.uint64(15))
    u = (x.astype(np.float64) + 0.5) / 2.0**32
    return torch.from_numpy(-np.log(u)).reshape(tuple(shape))


MODEL_CARD = """# tiny-fixture — random-weight SEDD model for tests

**Not a language model.** The weights are random (PyTorch default initialisation, seed
{seed}); the output is meaningless text. It exists so Lacuna's engine, tokenizer and sampler
can be tested end to end quickly, offline, and without the real checkpoints.

| | |
|---|---|
| architecture | SEDD DDiT (official layout): hidden {H}, {n} blocks, {nh} head (head dim {hd}), cond {cond} |
| parameters | {params:,} |
| graph / noise | absorbing, `scale_by_sigma`; log-linear, eps 1e-3 |
| vocabulary | {V} = {ntok} tokenizer ids (256 bytes + {nmerge} merges + `<|endoftext|>` = {eos}) + MASK = {mask} |
| context length | {L} (the ONNX graph accepts any length and batch) |
| tokenizer | byte-level BPE (GPT-2 alphabet and split pattern) trained on ~6 KB of original English prose in `models/tools/fixture_text.txt` |

Files: `model.onnx` (opset 17; `indices` int64 [B, L], `sigma` float32 [B] → `log_score`
float32 [B, L, {V}]), `tokenizer.json`, `manifest.json`, and the test data `parity.json`
(PyTorch reference outputs), `tokenizer-cases.json` (golden encodings) and
`sampling-cases.json` (golden sampler runs with hash-generated Exp(1) noise); layouts in
`models/FORMAT.md`.

Rebuild (deterministic): `cd /work/main && OPENBLAS_NUM_THREADS=1 /usr/bin/python3 models/tools/make_fixture.py`.

Limitations: no training data, no metrics, no meaningful samples; do not ship it to users.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "fixtures", "tiny-fixture"))
    args = ap.parse_args()
    out = args.out
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)

    tok = train_tokenizer(out)
    model = build_model()
    export_onnx(model, os.path.join(out, "model.onnx"))
    write_parity(model, tok, out)
    write_tokenizer_cases(tok, out)
    write_sampling_cases(model, tok, out)
    with open(os.path.join(out, "MODEL_CARD.md"), "w", encoding="utf-8") as f:
        f.write(
            MODEL_CARD.format(
                seed=SEED,
                H=CONFIG.hidden_size,
                n=CONFIG.n_blocks,
                nh=CONFIG.n_heads,
                hd=CONFIG.head_dim,
                cond=CONFIG.cond_dim,
                params=count_params(model),
                V=CONFIG.vocab_size,
                ntok=TOKENIZER_SIZE,
                nmerge=len(tok.merges),
                eos=tok.eos_id,
                mask=CONFIG.vocab_size - 1,
                L=LENGTH,
            )
        )
    manifest = write_manifest(
        out,
        id="tiny-fixture",
        name="Tiny fixture (random weights)",
        description=(
            "Random-weight SEDD network (hidden 64, 2 blocks) with a 511-token " "byte-level BPE tokenizer, for tests only; it does not model language."
        ),
        model=model,
        noise=NOISE.to_manifest(),
        length=LENGTH,
        eos_id=tok.eos_id,
        files=("model.onnx", "tokenizer.json"),
        default_steps=16,
    )
    total = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    print(
        f"wrote {out}: vocab_size={manifest['vocab_size']} mask_id={manifest['mask_id']} "
        f"eos_id={tok.eos_id} params={count_params(model)} total_bytes={total}"
    )


if __name__ == "__main__":
    main()
