#!/usr/bin/env python3
"""Copy a run's small, portable part into OUT: run.json, log.jsonl and the weights as
shards of at most 15 MiB (weights/ema-NN.pt, and with --raw also weights/model-NN.pt).

The GPU machine hands back at most 8 files of 16 MiB each, 64 MiB in all, two folders deep:
the EMA weights go as fp32 when they fit in 5 shards and 60 MiB (<= ~15.7M parameters),
else as fp16 (relative rounding 5e-4; evaluate.py and ship.py then see the rounded weights).
evaluate.py and ship.py read such a folder like a run with ckpt.pt (not resumable).

    python3 models/train/pack_run.py --run /tmp/gpu-run --out "$OUT/run"
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

import trainlib as T  # noqa: E402

MAX_SHARD = 15 << 20


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--raw", action="store_true", help="also the raw (non-EMA) weights")
    ap.add_argument("--max-files", type=int, default=5, help="weight shards allowed in all")
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    for f in ("run.json", "log.jsonl"):
        if os.path.exists(os.path.join(a.run, f)):
            shutil.copyfile(os.path.join(a.run, f), os.path.join(a.out, f))
    kinds = ["ema"] + (["model"] if a.raw else [])
    sds = {k: T.load_weights(a.run, k) for k in kinds}
    n32 = sum(v.numel() * 4 for sd in sds.values() for v in sd.values())
    # fp32 while it fits in --max-files shards and 60 MiB (the rest of the 64 MiB is for logs)
    dtype = torch.float32 if n32 <= min(a.max_files * MAX_SHARD * 0.95, 60 << 20) else torch.float16
    wdir = os.path.join(a.out, "weights")
    names = []
    for k, sd in sds.items():
        names += T.export_weights(sd, wdir, prefix=k, max_bytes=MAX_SHARD, dtype=dtype)
    print(f"packed {a.run} -> {a.out}: {len(names)} weight files ({dtype}), " f"{sum(os.path.getsize(os.path.join(wdir, n)) for n in names) / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
