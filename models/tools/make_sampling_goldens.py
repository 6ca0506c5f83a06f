#!/usr/bin/env python3
"""Golden sampler runs for every graph / noise / predictor combination, and golden values of the
ELBO likelihood bound, for the TypeScript engine (src-main/engine/sampling/predictor.test.ts,
likelihood.test.ts).  Also builds the second test package models/fixtures/tiny-uniform/.

    cd /work/main && OPENBLAS_NUM_THREADS=1 nice -n 10 /usr/bin/python3 models/tools/make_sampling_goldens.py

Writes
  models/fixtures/tiny-uniform/        random-weight SEDD network for the *uniform* graph (V = 511, the
                              fixture's tokenizer, no MASK), geometric noise: model.onnx,
                              tokenizer.json (copied from tiny-fixture), parity.json,
                              MODEL_CARD.md, manifest.json
  models/fixtures/tiny-fixture/sampling-goldens.json

Sampler runs use models/sedd/sampling.py (``sample``) with explicit Exp(1) noise from the integer
hash of make_fixture.py (``exp_noise`` in the JSON), so TypeScript regenerates it.  For the
uniform graph the starting state (a draw from the limit distribution) is not torch's RNG but
x_i = argmax_j 1 / E[steps + 1][0][i][j] (width V), i.e. a uniform draw by the same exponential
race; it is recorded in ``initial`` as well.  Every run goes through the real network (the
fixture's ONNX for absorb, tiny-uniform's for uniform, exported from the same PyTorch weights).

Likelihood cases: fixed (t, masked positions) on fixture-text tokens; ``value`` is
sedd.losses.sedd_loss (the estimator of models/train/evaluate.py), i.e. sigma_bar'(t) * sum over the
masked positions of the score entropy, with the tiny-fixture network.
"""
from __future__ import annotations

import os
import shutil
import sys
from typing import List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.dirname(HERE)
sys.path.insert(0, MODELS)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(MODELS, "train"))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

import make_fixture as F  # noqa: E402
from sedd.export import export_onnx, write_manifest  # noqa: E402
from sedd.graph import Absorbing, Uniform  # noqa: E402
from sedd.model import SEDD, SEDDConfig, count_params  # noqa: E402
from sedd.noise import GeometricNoise, LogLinearNoise  # noqa: E402
from sedd.sampling import sample  # noqa: E402
from sedd.tokenizer import ByteLevelBPE  # noqa: E402

FIXTURE = os.path.join(MODELS, "fixtures", "tiny-fixture")
UNIFORM_DIR = os.path.join(MODELS, "fixtures", "tiny-uniform")
UNIFORM_SEED = F.SEED + 100
UNIFORM_V = F.TOKENIZER_SIZE  # 511: no MASK
UNIFORM_CONFIG = SEDDConfig(hidden_size=64, n_blocks=1, n_heads=1, cond_dim=32, vocab_size=UNIFORM_V, graph_type="uniform", scale_by_sigma=False, dropout=0.0)
UNIFORM_NOISE = GeometricNoise(1e-4, 20.0)

UNIFORM_CARD = """# tiny-uniform — random-weight SEDD model (uniform graph) for tests

**Not a language model.** Random weights (PyTorch default initialisation, seed {seed}).
It exists so the general sampler (uniform graph, geometric noise) can be tested end to end.

| | |
|---|---|
| architecture | SEDD DDiT (official layout): hidden 64, 1 block, 1 head, cond 32 |
| parameters | {params:,} |
| graph / noise | uniform (no MASK, no `scale_by_sigma`); geometric, sigma_min 1e-4, sigma_max 20 |
| vocabulary | {V} = the tiny-fixture tokenizer's ids (no MASK) |
| context length | 128 (the ONNX graph accepts any length and batch) |

Files: `model.onnx`, `tokenizer.json` (the tiny-fixture tokenizer), `manifest.json`,
`parity.json` (PyTorch reference outputs, layout of models/FORMAT.md).
Rebuild: `OPENBLAS_NUM_THREADS=1 nice -n 10 /usr/bin/python3 models/tools/make_sampling_goldens.py`.
"""

LIMIT_DOC = (
    "uniform graph: initial[i] = argmax_j 1 / E[steps + 1][0][i][j] over width V " "(a uniform draw; the first index wins a tie); absorb: initial = all MASK"
)


def build_uniform() -> SEDD:
    torch.manual_seed(UNIFORM_SEED)
    return SEDD(UNIFORM_CONFIG).eval()


def write_uniform_package(model: SEDD, tok: ByteLevelBPE) -> None:
    os.makedirs(UNIFORM_DIR, exist_ok=True)
    shutil.copyfile(os.path.join(FIXTURE, "tokenizer.json"), os.path.join(UNIFORM_DIR, "tokenizer.json"))
    export_onnx(model, os.path.join(UNIFORM_DIR, "model.onnx"))
    with open(os.path.join(HERE, "fixture_text.txt"), encoding="utf-8") as f:
        ids = tok.encode(f.read())
    g = torch.Generator().manual_seed(UNIFORM_SEED + 1)
    cases = [
        ("len1_sigma1e-4", torch.tensor([[ids[3]]]), [1e-4]),
        ("len7_b2_sigma0.5_and_20", torch.tensor([ids[10:17], ids[50:57]]), [0.5, 20.0]),
        ("len16_random_sigma3", torch.randint(0, UNIFORM_V, (1, 16), generator=g), [3.0]),
    ]
    cases_json, rows = [], {}
    for name, x, sig in cases:
        with torch.no_grad():
            y = model(x, torch.tensor(sig, dtype=torch.float32))
        B, L, V = y.shape
        positions = [[b, l] for b in range(B) for l in range(L)]
        rows[name] = [y[b, l].tolist() for b, l in positions]
        cases_json.append(
            {
                "name": name,
                "indices": x.tolist(),
                "sigma": [float(np.float32(s)) for s in sig],
                "shape": [B, L, V],
                "full": True,
                "positions": positions,
                "values": "@rows:" + name,
                "max_abs": float(y.double().abs().max()),
                "sum": float(y.double().sum()),
            }
        )
    F.dump_json(
        {
            "format": "lacuna-parity/1",
            "model": "tiny-uniform",
            "producer": f"models/tools/make_sampling_goldens.py (torch {torch.__version__})",
            "tolerance": 1e-4,
            "mask_id": None,
            "cases": cases_json,
        },
        os.path.join(UNIFORM_DIR, "parity.json"),
        rows,
    )
    with open(os.path.join(UNIFORM_DIR, "MODEL_CARD.md"), "w", encoding="utf-8") as f:
        f.write(UNIFORM_CARD.format(seed=UNIFORM_SEED, params=count_params(model), V=UNIFORM_V))
    write_manifest(
        UNIFORM_DIR,
        id="tiny-uniform",
        name="Tiny uniform (random weights)",
        description=("Random-weight SEDD network for the uniform graph (hidden 64, 1 block) " "with the tiny-fixture tokenizer, for tests only."),
        model=model,
        noise=UNIFORM_NOISE.to_manifest(),
        length=128,
        eos_id=tok.eos_id,
        files=("model.onnx", "tokenizer.json"),
        default_steps=16,
    )


def check_fixture_model(model: SEDD) -> None:
    """The rebuilt fixture network must be the one in models/fixtures/tiny-fixture (parity.json)."""
    import json

    with open(os.path.join(FIXTURE, "parity.json")) as f:
        case = json.load(f)["cases"][2]
    with torch.no_grad():
        y = model(torch.tensor(case["indices"]), torch.tensor(case["sigma"], dtype=torch.float32))
    b, l = case["positions"][0]
    err = float((y[b, l] - torch.tensor(case["values"][0])).abs().max())
    assert err < 1e-4, f"fixture network differs from parity.json ({err})"


def run_case(name, model, graph, noise, predictor, L, steps, salt, prompt, known_spans) -> dict:
    V = graph.dim
    known_ids = torch.full((1, L), -1, dtype=torch.int64)
    for lo, hi, off in known_spans:
        known_ids[0, lo:hi] = torch.tensor(prompt[off : off + hi - lo])
    known_mask = known_ids >= 0
    if graph.absorb:
        initial = torch.full((1, L), V - 1, dtype=torch.int64)
    else:
        initial = (1.0 / F.hash_exp1(salt, steps + 1, (1, L, V))).argmax(dim=-1)
    graph.sample_limit = lambda *dims: initial.clone()  # type: ignore[method-assign]
    traj: List[List[int]] = []
    x = sample(
        model,
        graph,
        noise,
        (1, L),
        steps,
        predictor=predictor,
        denoise=True,
        eps=1e-5,
        known_ids=torch.where(known_mask, known_ids, initial),
        known_mask=known_mask,
        exp_noise=lambda call, shape: F.hash_exp1(salt, call, shape),
        on_step=lambda call, x: traj.append(x[0].tolist()),
    )
    if graph.absorb:
        assert not (x == V - 1).any()
    return {
        "name": name,
        "package": "tiny-fixture" if graph.absorb else "tiny-uniform",
        "graph": "absorb" if graph.absorb else "uniform",
        "noise": noise.to_manifest(),
        "predictor": predictor,
        "length": L,
        "steps": steps,
        "salt": salt,
        "template": known_ids[0].tolist(),
        "initial": initial[0].tolist(),
        "trajectory": traj,
        "result": x[0].tolist(),
    }


def likelihood_cases(model: SEDD, ids: List[int]) -> dict:
    from sedd.losses import NOISE_EPS, sedd_loss

    g = torch.Generator().manual_seed(F.SEED + 7)
    out = []
    for name, L, off, ts in [("len40", 40, 20, [0.03, 0.5, 0.97]), ("len128", 128, 300, [0.2, 0.8])]:
        x0 = torch.tensor([ids[off : off + L]], dtype=torch.int64)
        for t in ts:
            masked = torch.rand((1, L), generator=g, dtype=torch.float64) < (1 - NOISE_EPS) * t
            if not masked.any():
                masked[0, L // 2] = True
            val, nm = sedd_loss(model, x0, torch.tensor([t], dtype=torch.float64), None, masked=masked)
            out.append({"name": f"{name}_t{t}", "tokens": x0[0].tolist(), "t": t, "masked": masked[0].nonzero().flatten().tolist(), "value": float(val[0])})
    return {
        "package": "tiny-fixture",
        "noise": {"type": "loglinear", "eps": NOISE_EPS},
        "note": (
            "value = sigma_bar'(t) * sum over masked i of SE_i (sedd.md section 4), computed by "
            "models/train/trainlib.sedd_loss (float32 network, float32 sum) with masked given"
        ),
        "cases": out,
    }


def main() -> None:
    torch.set_num_threads(1)
    tok = ByteLevelBPE.load(os.path.join(FIXTURE, "tokenizer.json"))
    fixture = F.build_model()
    check_fixture_model(fixture)
    uni = build_uniform()
    write_uniform_package(uni, tok)
    with open(os.path.join(HERE, "fixture_text.txt"), encoding="utf-8") as f:
        ids = tok.encode(f.read())
    prompt = tok.encode("The lighthouse keeper had not spoken to anyone in weeks")
    A, U = Absorbing(F.VOCAB_SIZE), Uniform(UNIFORM_V)
    ll, geo = LogLinearNoise(1e-3), GeometricNoise(1e-4, 20.0)
    spans = [(0, 4, 0), (10, 12, 4)]
    combos = [
        ("absorb_loglinear_analytic", fixture, A, ll, "analytic"),
        ("absorb_loglinear_euler", fixture, A, ll, "euler"),
        ("absorb_geometric_analytic", fixture, A, geo, "analytic"),
        ("uniform_geometric_analytic", uni, U, geo, "analytic"),
        ("uniform_geometric_euler", uni, U, geo, "euler"),
        ("uniform_loglinear_euler", uni, U, ll, "euler"),
    ]
    runs = []
    for i, (name, model, graph, noise, pred) in enumerate(combos):
        runs.append(run_case(name + "_infill_len12_steps5", model, graph, noise, pred, 12, 5, 100 + i, prompt, spans))
        runs.append(run_case(name + "_uncond_len6_steps3", model, graph, noise, pred, 6, 3, 200 + i, prompt, []))
    doc = {
        "format": "lacuna-sampling-goldens/1",
        "producer": f"models/tools/make_sampling_goldens.py (torch {torch.__version__})",
        "denoise": True,
        "eps": 1e-5,
        "exp_noise": F.HASH_DOC + "; batch 1 (b = 0); the denoise width is V for the uniform graph",
        "initial": LIMIT_DOC,
        "note": (
            "template: known token ids, -1 where generated. x starts at initial; before each call "
            "the known tokens are written back; trajectory[k] = x after call k's update (k = steps "
            "is the denoise call; known positions are updated too and only re-clamped before the "
            "next call); result = trajectory[steps] with known tokens written back."
        ),
        "runs": runs,
        "likelihood": likelihood_cases(fixture, ids),
    }
    path = os.path.join(FIXTURE, "sampling-goldens.json")
    F.write_json(doc, path)
    print(
        f"wrote {path} ({os.path.getsize(path)} bytes) and {UNIFORM_DIR} "
        f"({sum(os.path.getsize(os.path.join(UNIFORM_DIR, f)) for f in os.listdir(UNIFORM_DIR))} bytes)"
    )


if __name__ == "__main__":
    main()
