#!/usr/bin/env python3
"""Size / throughput measurement for candidate lacuna-mini configs on this machine.

    nice -n 10 /usr/bin/python3 models/train/bench.py --out models/train/runs/bench.json

For each config x threads x precision (x model), a fresh subprocess (OpenBLAS reads its
thread count at start-up) builds the network with V = --vocab (8192 tokenizer ids + MASK),
runs --warm untimed and --steps timed training steps (forward, backward, AdamW, EMA) on
random tokens at batch --batch x --length, and reports tokens/s.  Parameter counts and the
fp32 ONNX size (exported through models/sedd/export.py) are measured once per config.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

CONFIGS = {
    "h256-b4": dict(hidden=256, blocks=4, heads=4),
    "h256-b6": dict(hidden=256, blocks=6, heads=4),
    "h256-b8": dict(hidden=256, blocks=8, heads=4),
    "h192-b6": dict(hidden=192, blocks=6, heads=3),
    "h320-b8": dict(hidden=320, blocks=8, heads=5),
    "h384-b5": dict(hidden=384, blocks=5, heads=6),
    "h256-b12": dict(hidden=256, blocks=12, heads=4),
    "h384-b4": dict(hidden=384, blocks=4, heads=6),
    "h320-b6": dict(hidden=320, blocks=6, heads=5),
    "h512-b2": dict(hidden=512, blocks=2, heads=8),
}


def one(a) -> dict:
    import torch

    sys.path.insert(0, HERE)
    import trainlib as T
    from sedd.losses import ar_loss, sample_t, sedd_loss

    torch.set_num_threads(a.threads)
    c = CONFIGS[a.config]
    spec = T.ModelSpec(a.model, c["hidden"], c["blocks"], c["heads"], 128, a.vocab, time_conditioned=not a.time_independent, dropout=0.1)
    model = T.build_model(spec)
    if a.compile:  # as train.py --compile: each block, in place
        for block in model.blocks:
            block.compile()
    # random (not zero) output/adaLN weights so no kernel sees trivial data
    torch.manual_seed(1)
    for p in model.parameters():
        if p.dim() >= 2 and float(p.abs().sum()) == 0:
            torch.nn.init.normal_(p, std=0.02)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ema = T.EMA(model, 0.999)
    g = torch.Generator().manual_seed(0)
    B, L = a.batch, a.length
    x0 = torch.randint(0, a.vocab - 1, (B, L), generator=g)
    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if a.precision == "bf16" else None
    times, cpu = [], []
    for i in range(a.warm + a.steps):
        t0 = time.perf_counter()
        c0 = time.process_time()
        model.train()
        if ctx:
            ctx.__enter__()
        if a.model == "sedd":
            t = sample_t(B, g)
            u = torch.rand(B, L, generator=g, dtype=torch.float64)
            per, _ = sedd_loss(model, x0, t, u, full=a.head == "full")
        else:
            per = ar_loss(model, x0)
        if ctx:
            ctx.__exit__(None, None, None)
        loss = per.mean() / L
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        ema.update(model, i + 1)
        if i >= a.warm:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    med = sorted(times)[len(times) // 2]
    cmed = sorted(cpu)[len(cpu) // 2]
    return {
        "config": a.config,
        "model": a.model,
        "threads": a.threads,
        "precision": a.precision,
        "head": a.head,
        "batch": B,
        "length": L,
        "step_s_median": med,
        "step_s_all": [round(x, 3) for x in times],
        "tok_per_s": B * L / med,
        "cpu_s_median": cmed,
        "tok_per_cpu_s": B * L / cmed,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        "time_independent": a.time_independent,
        "compile": a.compile,
        "torch": torch.__version__,
    }


def size(config: str, vocab: int) -> dict:
    import torch

    sys.path.insert(0, HERE)
    import trainlib as T
    from sedd.export import export_onnx

    c = CONFIGS[config]
    out = {}
    for tc in (True, False):
        spec = T.ModelSpec("sedd", c["hidden"], c["blocks"], c["heads"], 128, vocab, time_conditioned=tc)
        m = T.build_model(spec)
        for p in m.parameters():  # trained weights are not zero: defeat de-duplication
            if p.dim() >= 2 and float(p.abs().sum()) == 0:
                torch.nn.init.normal_(p, std=0.02)
        if not tc:  # what training leaves: adaLN weights / sigma_map unused (zero)
            for b in list(m.blocks) + [m.output_layer]:
                torch.nn.init.zeros_(b.adaLN_modulation.weight)
        with tempfile.TemporaryDirectory() as d:
            export_onnx(m, os.path.join(d, "m.onnx"))
            mb = os.path.getsize(os.path.join(d, "m.onnx")) / 1e6
        key = "time_conditioned" if tc else "time_independent"
        out[key] = {"params": T.param_report(m), "onnx_mb": round(mb, 2)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", default="h256-b4,h256-b8,h384-b4")
    ap.add_argument("--threads-list", default="1,2", help="e.g. 1,2,2p (p: OMP_WAIT_POLICY=PASSIVE)")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--models", default="sedd")
    ap.add_argument("--vocab", type=int, default=8192)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--length", type=int, default=256)
    ap.add_argument("--warm", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--head", default="masked")
    ap.add_argument("--time-independent", action="store_true")
    ap.add_argument("--compile", action="store_true", help="torch.compile each block (torch >= 2)")
    ap.add_argument("--out", default=os.path.join(HERE, "runs", "bench.json"))
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--size", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    ap.add_argument("--model", default="sedd", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        a.config = a.one
        print(json.dumps(one(a)))
        return
    if a.size:
        print(json.dumps(size(a.size, a.vocab)))
        return
    results = {"sizes": {}, "runs": [], "host": os.uname().nodename, "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if os.path.exists(a.out):
        with open(a.out) as f:
            results = json.load(f)

    def save():
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)

    py = sys.executable
    for cfg in a.configs.split(","):
        if cfg not in results["sizes"]:
            r = subprocess.run(
                [py, __file__, "--size", cfg, "--vocab", str(a.vocab)], capture_output=True, text=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1")
            )
            results["sizes"][cfg] = json.loads(r.stdout.strip().splitlines()[-1])
            print(cfg, results["sizes"][cfg], flush=True)
            save()
        for model in a.models.split(","):
            for th in a.threads_list.split(","):
                for prec in a.precisions.split(","):
                    passive = th.endswith("p")
                    n = th.rstrip("p")
                    env = dict(os.environ, OPENBLAS_NUM_THREADS=n, OMP_NUM_THREADS=n)
                    if passive:
                        env["OMP_WAIT_POLICY"] = "PASSIVE"
                    with open("/proc/loadavg") as f:
                        load = f.read().split()[0]
                    cmd = (
                        [
                            py,
                            __file__,
                            "--one",
                            cfg,
                            "--threads",
                            n,
                            "--precision",
                            prec,
                            "--model",
                            model,
                            "--batch",
                            str(a.batch),
                            "--length",
                            str(a.length),
                            "--warm",
                            str(a.warm),
                            "--steps",
                            str(a.steps),
                            "--head",
                            a.head,
                            "--vocab",
                            str(a.vocab),
                        ]
                        + (["--time-independent"] if a.time_independent else [])
                        + (["--compile"] if a.compile else [])
                    )
                    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
                    if r.returncode:
                        print(r.stderr[-2000:], file=sys.stderr)
                        continue
                    rec = json.loads(r.stdout.strip().splitlines()[-1])
                    rec["loadavg_before"] = float(load)
                    results["runs"].append(rec)
                    print(
                        f"{cfg} {model} threads={n}{'p' if passive else ''} {prec}"
                        f"{' compiled' if a.compile else ''} torch {rec['torch']}: "
                        f"{rec['tok_per_s']:.0f} tok/s wall, {rec['tok_per_cpu_s']:.0f} tok/cpu-s "
                        f"(step {rec['step_s_median']:.2f} s, load {load})",
                        flush=True,
                    )
                    save()


if __name__ == "__main__":
    main()
