#!/usr/bin/env python3
"""Evaluate a trained SEDD run (and optionally the AR baseline) on the held-out text.

    OPENBLAS_NUM_THREADS=1 nice -n 10 /usr/bin/python3 models/train/evaluate.py \\
        --run models/train/runs/mini --ar-run models/train/runs/mini-ar --threads 2

1. Held-out ELBO perplexity bound of SEDD (sedd.md section 4): packed blocks of the training
   length from test.txt, Monte Carlo over t with --draws draws per block (seeded), value
   = sum over masked tokens of sigma_bar'(t) SE; the estimate and its standard error (from
   the within-block variance over draws).  PPL <= exp(bound per token).  --estimator k
   (default) importance-samples the same integral by the number of masked tokens
   (sedd.likelihood.bound_draw), --estimator t draws t ~ U(0, 1) directly; same expectation.
2. The AR baseline's held-out perplexity on exactly the same blocks (same tokenizer and
   test tokens are checked via the sha256s in the runs' run.json).
3. Infilling: a --span (16) token span masked in the middle of 256-token held-out windows,
   filled with models/sedd/sampling.py's analytic sampler (--infill-steps 64); original vs
   filled.
4. Unconditional samples at 16, 64 and 256 steps.

Writes RUN/report.json and RUN/report.md (--out-prefix to change) and prints the Markdown.
"""
from __future__ import annotations

import os
import sys


def _early_threads(argv) -> None:
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            os.environ["OPENBLAS_NUM_THREADS"] = argv[i + 1]
            os.environ["OMP_NUM_THREADS"] = argv[i + 1]
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


if __name__ == "__main__":
    _early_threads(sys.argv)

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trainlib as T  # noqa: E402
from sedd.graph import Absorbing  # noqa: E402
from sedd.likelihood import ar_nll, sedd_bound  # noqa: E402
from sedd.losses import NOISE_EPS  # noqa: E402
from sedd.noise import LogLinearNoise  # noqa: E402
from sedd.sampling import sample  # noqa: E402
from sedd.tokenizer import ByteLevelBPE  # noqa: E402


def test_tokens_for(info: dict, cache_dir: str = T.CACHE) -> np.ndarray:
    d = info["data"]["test"]
    cache = d.get("cache")
    if cache and os.path.exists(T.resolve_path(cache)):
        return T.open_tokens(T.resolve_path(cache))
    text = T.resolve_path(d["text"])
    toks, meta = T.load_tokens(text, T.resolve_path(info["tokenizer"]), cache_dir)
    if d.get("text_sha256") and meta["text_sha256"] != d["text_sha256"]:
        raise SystemExit(f"{text} differs from the test text the run used")
    return toks


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="SEDD run folder")
    ap.add_argument("--ar-run", help="AR baseline run folder (same tokenizer and test text)")
    ap.add_argument("--which", choices=["ema", "model"], default="ema")
    ap.add_argument("--ar-which", choices=["ema", "model"], help="the AR baseline's weights (default: --which)")
    ap.add_argument("--draws", type=int, default=4, help="t draws per held-out block")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--estimator",
        choices=["k", "t"],
        default="k",
        help="k: importance-sampled by the number of masked tokens (low variance); " "t: t ~ U(0,1), independent masks (literal); same expectation",
    )
    ap.add_argument("--max-blocks", type=int, default=0, help="evenly spaced subset (0: all)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--infill", type=int, default=4, help="number of infill examples")
    ap.add_argument("--span", type=int, default=16)
    ap.add_argument("--window", type=int, default=256)
    ap.add_argument("--infill-steps", type=int, default=64)
    ap.add_argument(
        "--temperatures",
        default="",
        help="comma-separated temperatures of the token choice to compare on --judge-windows "
        "held-out infills, judged by the AR baseline's NLL (needs --ar-run)",
    )
    ap.add_argument("--judge-windows", type=int, default=12)
    ap.add_argument(
        "--infill-temperature",
        type=float,
        default=None,
        help="also fill the infill windows at this temperature of the token choice " "(the model's recommended one, as the app samples it)",
    )
    ap.add_argument("--uncond", type=int, default=2, help="unconditional samples per step count")
    ap.add_argument("--uncond-steps", default="16,64,256")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out-prefix", help="default RUN/report")
    ap.add_argument("--skip-bound", action="store_true")
    a = ap.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    t_start = time.time()

    model, info = T.load_model_from_run(a.run, a.which, a.device)
    if info["model"]["kind"] != "sedd":
        raise SystemExit("--run must be a SEDD run")
    L = int(info["settings"]["length"])
    V = model.config.vocab_size
    mask_id = V - 1
    tok = ByteLevelBPE.load(T.resolve_path(info["tokenizer"]))
    test = test_tokens_for(info)
    blocks = T.eval_blocks(test, L, a.max_blocks)
    report = {
        "run": T.rel_path(a.run),
        "which": a.which,
        "model": info["model"],
        "params": T.param_report(model),
        "length": L,
        "test_tokens_total": int(len(test)),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    md = [f"# Evaluation of `{report['run']}` ({a.which} weights)", ""]

    # ---- 1. bound
    if not a.skip_bound:
        t0 = time.time()
        b = sedd_bound(
            model,
            blocks,
            draws=a.draws,
            seed=a.seed,
            batch_size=a.batch,
            estimator=a.estimator,
            progress=lambda d, n: print(f"  bound: draw {d}/{n} ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True),
        )
        b["seconds"] = round(time.time() - t0, 1)
        report["sedd"] = b
        md += [
            "## Held-out perplexity",
            "",
            "| model | nats/token | perplexity | tokens | note |",
            "|---|---|---|---|---|",
            f"| SEDD ({'time-conditioned' if model.config.time_conditioned else 'time-independent'}) "
            f"| {b['nats_per_token']:.4f} ± {b['se']:.4f} | ≤ {b['ppl']:.2f} ± {b['ppl_se']:.2f} "
            f"| {b['tokens']:,} | ELBO bound, {b['draws']} draws/block, estimator {b['estimator']}, seed {b['seed']}, "
            f"SE {b['se_method']} |",
        ]
    if a.ar_run:
        ar_which = a.ar_which or a.which
        ar, ainfo, ar_progress = T.load_model_and_progress(a.ar_run, ar_which, a.device)
        for k in ("text_sha256", "tokenizer_sha256"):
            if ainfo["data"]["test"].get(k) != info["data"]["test"].get(k):
                raise SystemExit(f"AR run differs in test {k}: not comparable")
        if int(ainfo["settings"]["length"]) != L:
            print("warning: AR run trained with another length; scored on the same blocks", file=sys.stderr)
        t0 = time.time()
        r = ar_nll(ar, blocks, batch_size=a.batch)
        r["seconds"] = round(time.time() - t0, 1)
        r["params"] = T.param_report(ar)
        r["which"] = ar_which
        r["checkpoint"] = ar_progress  # the step these weights are from
        report["ar"] = r
        report["ar_run"] = T.rel_path(a.ar_run)
        md.append(
            f"| AR baseline (`{T.rel_path(a.ar_run)}`) | {r['nats_per_token']:.4f} | {r['ppl']:.2f} "
            f"| {r['tokens']:,} | exact NLL, same blocks (first token after BOS) |"
        )
    md.append("")

    # ---- 2. infilling
    graph, noise = Absorbing(V), LogLinearNoise(NOISE_EPS)
    W, S = min(a.window, len(test)), a.span
    n_win = len(test) // W
    infill = []
    if a.infill and n_win:
        picks = np.unique(np.linspace(0, n_win - 1, a.infill + 2)[1:-1].round().astype(int))
        x = torch.tensor(np.stack([np.asarray(test[i * W : (i + 1) * W]) for i in picks]).astype(np.int64))
        lo = (W - S) // 2
        known = torch.ones_like(x, dtype=torch.bool)
        known[:, lo : lo + S] = False
        g = torch.Generator().manual_seed(a.seed + 1)
        t0 = time.time()
        with torch.no_grad():
            y = sample(model, graph, noise, tuple(x.shape), a.infill_steps, "analytic", known_ids=x, known_mask=known, generator=g)
        dt = time.time() - t0
        md += [f"## Infilling ({S} tokens in {W}-token windows, analytic sampler, {a.infill_steps} steps, " f"{dt / len(picks):.1f} s per window)", ""]
        for j in range(len(picks)):
            before = tok.decode(x[j, max(0, lo - 48) : lo].tolist())
            after = tok.decode(x[j, lo + S : lo + S + 24].tolist())
            orig = tok.decode(x[j, lo : lo + S].tolist())
            fill = tok.decode(y[j, lo : lo + S].tolist())
            infill.append({"window": int(picks[j]), "before": before, "original": orig, "filled": fill, "after": after})
            md += [f"**{j + 1}.** …{before.strip()[-200:]} ⟦ … ⟧ {after.strip()[:120]}…", "", f"- original: ⟦{orig}⟧", f"- filled:   ⟦{fill}⟧", ""]
        report["infill"] = {"steps": a.infill_steps, "span": S, "window": W, "seconds_per_window": dt / len(picks), "examples": infill}
        tau = a.infill_temperature
        if tau is not None and tau != 1.0:
            y = T.tempered_infill(model, x, known, a.infill_steps, tau, torch.Generator().manual_seed(a.seed + 3))
            md += [f"The same windows filled at temperature {tau:g} (the token choice sampled from " f"softmax(log score / {tau:g})):", ""]
            for j, e in enumerate(infill):
                e["filled_at_temperature"] = tok.decode(y[j, lo : lo + S].tolist())
                md.append(f"{j + 1}. ⟦{e['filled_at_temperature']}⟧")
            md.append("")
            report["infill"]["temperature"] = tau

    # ---- 2b. temperature of the token choice, judged by the AR baseline
    temps = [float(v) for v in a.temperatures.split(",") if v]
    if temps and n_win:
        if not a.ar_run:
            raise SystemExit("--temperatures needs --ar-run (the judge)")
        picks = np.unique(np.linspace(0, n_win - 1, a.judge_windows + 2)[1:-1].round().astype(int))
        x = torch.tensor(np.stack([np.asarray(test[i * W : (i + 1) * W]) for i in picks]).astype(np.int64))
        lo = (W - S) // 2
        known = torch.ones_like(x, dtype=torch.bool)
        known[:, lo : lo + S] = False
        rows = [{"temperature": None, "ar_nll": T.ar_span_nll(ar, x, lo, lo + S), "ar_nll_with_next": T.ar_span_nll(ar, x, lo, lo + 2 * S)}]
        md += [
            f"## Temperature of the token choice ({len(picks)} held-out windows, {S}-token blanks, " f"{a.infill_steps} steps; judged by the AR baseline)",
            "",
            "The AR baseline's mean NLL of the filled span (nats/token), and of the span with the "
            f"{S} original tokens after it (does the fill lead into the right-hand text?); the "
            "original text's in the first row. Lower is more plausible to the judge; far below the "
            "original means bland, repetitive text.",
            "",
            "| temperature | NLL of the fill | NLL of fill + next |",
            "|---|---|---|",
            f"| original text | {rows[0]['ar_nll']:.3f} | {rows[0]['ar_nll_with_next']:.3f} |",
        ]
        for tau in temps:
            g = torch.Generator().manual_seed(a.seed + 7)
            y = T.tempered_infill(model, x, known, a.infill_steps, tau, g)
            r = {
                "temperature": tau,
                "ar_nll": T.ar_span_nll(ar, y, lo, lo + S),
                "ar_nll_with_next": T.ar_span_nll(ar, y, lo, lo + 2 * S),
                "examples": [
                    {
                        "before": tok.decode(x[j, max(0, lo - 48) : lo].tolist()),
                        "original": tok.decode(x[j, lo : lo + S].tolist()),
                        "filled": tok.decode(y[j, lo : lo + S].tolist()),
                        "after": tok.decode(x[j, lo + S : lo + S + 24].tolist()),
                    }
                    for j in range(min(3, len(picks)))
                ],
            }
            rows.append(r)
            md.append(f"| {tau:g} | {r['ar_nll']:.3f} | {r['ar_nll_with_next']:.3f} |")
        md.append("")
        for r in rows[1:]:
            md += [f"Fills at temperature {r['temperature']:g}:", ""]
            for e in r["examples"]:
                md.append(f"- ⟦{e['filled']}⟧ (original ⟦{e['original']}⟧)")
            md.append("")
        report["temperatures"] = {"windows": int(len(picks)), "span": S, "steps": a.infill_steps, "rows": rows}

    # ---- 3. unconditional
    report["unconditional"] = []
    steps_list = [int(s) for s in a.uncond_steps.split(",") if s]
    if a.uncond:
        md += [f"## Unconditional samples ({L} tokens)", ""]
        for st in steps_list:
            g = torch.Generator().manual_seed(a.seed + 100 + st)
            t0 = time.time()
            with torch.no_grad():
                y = sample(model, graph, noise, (a.uncond, L), st, "analytic", generator=g)
            dt = time.time() - t0
            texts = [tok.decode(r.tolist()) for r in y]
            report["unconditional"].append({"steps": st, "seconds": dt, "samples": texts})
            md += [f"### {st} steps ({dt / a.uncond:.1f} s per sample)", ""]
            for k, s in enumerate(texts):
                md += ["```text", s.strip()[:1200], "```", ""]
    report["seconds"] = round(time.time() - t_start, 1)
    prefix = a.out_prefix or os.path.join(a.run, "report")
    T.atomic_write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", prefix + ".json")
    T.atomic_write_text("\n".join(md) + "\n", prefix + ".md")
    print("\n".join(md))
    print(f"wrote {prefix}.json / .md in {report['seconds']} s", file=sys.stderr)


if __name__ == "__main__":
    main()
