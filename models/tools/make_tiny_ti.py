#!/usr/bin/env python3
"""Build models/fixtures/tiny-ti/: a tiny random-weight *time-independent* SEDD package for tests.

    cd /work/main && OPENBLAS_NUM_THREADS=1 nice -n 10 /usr/bin/python3 models/tools/make_tiny_ti.py

Same layout as models/fixtures/tiny-fixture (hidden 64, 2 blocks, 1 head, cond 32, V = 512, absorb,
log-linear noise, scale_by_sigma, length 128) and the same tokenizer.json (copied), but the
network is built with SEDDConfig.time_conditioned = False: the conditioning vector is zero, so
log_score = f(x) − log(e^σ − 1) − log(V − 1) and the manifest says "time_conditioned": false.
The engine may then reuse a network output across steps that unmask nothing (exact caching).
Seeded; rerunning gives byte-identical files on the same torch build.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # models/ -> import sedd

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402

from sedd.export import export_onnx, write_manifest  # noqa: E402
from sedd.model import SEDD, SEDDConfig  # noqa: E402

SEED = 20240502
CONFIG = SEDDConfig(
    hidden_size=64, n_blocks=2, n_heads=1, cond_dim=32, vocab_size=512, graph_type="absorb", scale_by_sigma=True, dropout=0.0, time_conditioned=False
)
LENGTH = 128
EOS_ID = 510

CARD = """# tiny-ti (random weights, time-independent)

Random-weight SEDD network (hidden 64, 2 blocks, 1 head, V = 512) built with
`time_conditioned = False`: it ignores σ apart from the analytic scale_by_sigma shift.
Tokenizer: the tiny-fixture byte-level BPE (copied). For engine tests of exact network-output
caching only; it does not model language. Built by `models/tools/make_tiny_ti.py`.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "fixtures", "tiny-ti"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(a.out, exist_ok=True)
    shutil.copyfile(os.path.join(os.path.dirname(HERE), "fixtures", "tiny-fixture", "tokenizer.json"), os.path.join(a.out, "tokenizer.json"))
    torch.manual_seed(SEED)
    model = SEDD(CONFIG).eval()
    # Sanity: the output must not depend on sigma beyond the scalar shift.
    with torch.no_grad():
        x = torch.randint(0, 511, (1, 9))
        x[0, 3:6] = 511
        a1 = model(x, torch.tensor([0.3]))
        a2 = model(x, torch.tensor([2.0]))
        shift = float(torch.log(torch.expm1(torch.tensor(2.0))) - torch.log(torch.expm1(torch.tensor(0.3))))
        keep = torch.ones_like(a1, dtype=torch.bool)
        keep.scatter_(-1, x[..., None], False)
        diff = (a1 - a2)[keep]
        assert torch.allclose(diff, torch.full_like(diff, shift), atol=1e-4), "network depends on sigma"
    export_onnx(model, os.path.join(a.out, "model.onnx"))
    with open(os.path.join(a.out, "MODEL_CARD.md"), "w", encoding="utf-8") as f:
        f.write(CARD)
    write_manifest(
        a.out,
        id="tiny-ti",
        name="Tiny time-independent (random weights)",
        description="Random-weight time-independent SEDD network (hidden 64, 2 blocks) with the "
        "tiny-fixture tokenizer, for tests of exact output caching only.",
        model=model,
        noise={"type": "loglinear", "eps": 0.001},
        length=LENGTH,
        eos_id=EOS_ID,
        time_conditioned=False,
        default_steps=16,
    )
    print("wrote", a.out)


if __name__ == "__main__":
    main()
