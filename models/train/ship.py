#!/usr/bin/env python3
"""Package a trained SEDD run as a ``lacuna-model/1`` folder the app can load.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 models/train/ship.py \\
        --run models/train/runs/mini --out models/lacuna-mini

Exports the EMA weights (``--which model`` for the raw weights, with their metrics from
RUN/report-raw.json: ``evaluate.py --which model --out-prefix RUN/report-raw``) through
models/sedd/export.py (opset 17, checked, every LayerNorm with a bias) to OUT/model.onnx,
copies the run's tokenizer.json into OUT unless it is already there (same bytes), writes
OUT/parity.json (PyTorch reference outputs; check with
``node models/tools/check_parity.cjs OUT``), OUT/training.json (every training stage's run.json
and end record: restore_run.py rebuilds a run folder from it to continue training),
OUT/MODEL_CARD.md and, last, OUT/manifest.json
(id, graph absorb, log-linear noise, length, time_conditioned, file sizes + sha256).
Fails if model.onnx exceeds --max-mb (64).  AR baseline runs are not packages: refused.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from typing import Optional

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402

import trainlib as T  # noqa: E402
from sedd.export import draw_case, export_onnx, write_manifest  # noqa: E402
from sedd.losses import NOISE_EPS  # noqa: E402
from sedd.noise import LogLinearNoise  # noqa: E402


def write_parity(model, out: str, model_id: str, test_ids=None, seed: int = 0) -> None:
    """parity.json as in FORMAT.md: a few (indices, sigma) cases, rows of log_score."""
    sys.path.insert(0, os.path.join(T.MODELS, "tools"))
    from make_fixture import dump_json  # float32-exact JSON writer of the fixture

    V = model.config.vocab_size
    M = V - 1
    g = torch.Generator().manual_seed(seed)

    def text(b, L):
        if test_ids is not None and len(test_ids) > b * L + 1:
            start = torch.randint(0, len(test_ids) - b * L, (1,), generator=g).item()
            return torch.tensor(list(map(int, test_ids[start : start + b * L]))).view(b, L)
        return torch.randint(0, V - 1, (b, L), generator=g)

    def mask(x, frac):
        return torch.where(torch.rand(x.shape, generator=g) < frac, torch.full_like(x, M), x)

    x9 = mask(text(2, 5), 0.5)
    x9[1] = M
    x64 = mask(text(2, 64), 0.4)
    x64[1, 20:36] = M
    cases = [
        ("len5_b2_sigma1e-4_and_5", x9, [1e-4, 5.0]),
        ("len64_b2_span_sigma0.3_and_2", x64, [0.3, 2.0]),
        ("len256_half_masked_sigma1", mask(text(1, 256), 0.5), [1.0]),
    ]
    rows, cj = {}, []
    for name, x, sig in cases:
        with torch.no_grad():
            y = model(x, torch.tensor(sig, dtype=torch.float32))
        B, L, _ = y.shape
        full = L <= 33
        pos = [[b, l] for b in range(B) for l in (range(L) if full else sorted({0, L - 1} | set(torch.randperm(L, generator=g)[:4].tolist())))]
        rows[name] = [y[b, l].tolist() for b, l in pos]
        cj.append(
            {
                "name": name,
                "indices": x.tolist(),
                "sigma": [float(torch.tensor(s).float()) for s in sig],
                "shape": list(y.shape),
                "full": full,
                "positions": pos,
                "values": "@rows:" + name,
                "max_abs": float(y.double().abs().max()),
                "sum": float(y.double().sum()),
                "draw": draw_case(model, x, torch.tensor(sig, dtype=torch.float32), seed + len(cj)),
            }
        )
    dump_json(
        {
            "format": "lacuna-parity/1",
            "model": model_id,
            "producer": f"models/train/ship.py (torch {torch.__version__})",
            "tolerance": 1e-4,
            "mask_id": M,
            "cases": cj,
        },
        os.path.join(out, "parity.json"),
        rows,
    )


MODEL_CARD = """# {name}

{description}

## Network

SEDD score network (DDiT, models/sedd/model.py), absorbing graph with `scale_by_sigma`,
log-linear noise (eps 1e-3). Hidden {H}, {n} blocks, {nh} heads (head dim {hd}), cond {cond},
vocab_size {V} (tokenizer {ntok} ids + MASK = {mask}), trained length {L}.
Time conditioned: **{tc}**{tc_note}. Parameters: {params:,} ({nonemb:,} outside the embedding and
output matrices). Weights: {weights}. ONNX fp32: {onnx_mb:.1f} MB.

## Training

{training}

## Data

{data}

## Held-out metrics

{metrics}

## Samples

{samples}

{notes}"""

GENERIC_NOTES = """
## Limitations

A small model trained briefly on public-domain books and other public-domain text
(models/data/README.md): expect fluent-looking but often incoherent fills, 19th-century
diction, and no knowledge beyond the corpus. The perplexity figure is an upper bound (ELBO);
the samples in the run's report.md show typical quality.
"""


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--id", default="lacuna-mini")
    ap.add_argument("--name", default="Lacuna mini")
    ap.add_argument(
        "--demo",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="mark it a demonstration model in the manifest (the app then says it writes rough "
        "text and offers a real model); --no-demo once it writes text worth keeping",
    )
    ap.add_argument("--description", default=None)
    ap.add_argument("--which", choices=["ema", "model"], default="ema")
    ap.add_argument("--tokenizer", help="tokenizer.json (default: the run's)")
    ap.add_argument("--default-steps", type=int, default=64)
    ap.add_argument("--temperature", type=float, default=None, help="recommended temperature of the token choice (manifest sampling.temperature)")
    ap.add_argument("--top-p", type=float, default=None, help="recommended nucleus of the token choice (manifest sampling.top_p)")
    ap.add_argument("--unmasking", choices=["random", "confident"], default=None, help="recommended unmasking order (manifest sampling.unmasking)")
    ap.add_argument("--max-mb", type=float, default=64.0)
    ap.add_argument("--no-parity", action="store_true")
    ap.add_argument("--notes", help="markdown appended to MODEL_CARD.md (measured speed, compute, " "limitations: models/train/cards/ID.md)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)

    model, info = T.load_model_from_run(a.run, a.which)
    spec = T.spec_from_run(info)
    if spec.kind != "sedd":
        raise SystemExit("ship.py packages SEDD runs only (the AR baseline is for comparison)")
    cfg = model.config
    os.makedirs(a.out, exist_ok=True)
    onnx_path = os.path.join(a.out, "model.onnx")
    export_onnx(model, onnx_path + ".tmp")
    os.replace(onnx_path + ".tmp", onnx_path)
    mb = os.path.getsize(onnx_path) / 1e6
    if mb > a.max_mb:
        raise SystemExit(f"model.onnx is {mb:.1f} MB > {a.max_mb} MB")

    tok_src = T.resolve_path(a.tokenizer or info["tokenizer"])
    tok_dst = os.path.join(a.out, "tokenizer.json")
    if not (os.path.exists(tok_dst) and T.tokenize_data.sha256_file(tok_src) == T.tokenize_data.sha256_file(tok_dst)):
        shutil.copyfile(tok_src, tok_dst)
    tok_sha = T.tokenize_data.sha256_file(tok_dst)
    want = info["data"]["train"].get("tokenizer_sha256")
    if want and want != tok_sha:
        raise SystemExit(f"{tok_src} is not the tokenizer the run was trained with")

    test_ids = None
    cache = info["data"]["test"].get("cache")
    if cache and os.path.exists(T.resolve_path(cache)):
        test_ids = T.open_tokens(T.resolve_path(cache))
    files = ["model.onnx", "tokenizer.json"]
    if not a.no_parity:
        write_parity(model, a.out, a.id, test_ids)

    prov = provenance(a.run, info, a.id)
    training = training_md(prov)
    metrics = "(run `models/train/evaluate.py --run RUN` first)"
    samples = "(run `models/train/evaluate.py --run RUN` first)"
    rep = os.path.join(a.run, "report.json" if a.which == "ema" else "report-raw.json")
    if os.path.exists(rep):
        with open(rep) as f:
            r = json.load(f)
        if r.get("which", "ema") != a.which:
            raise SystemExit(
                f"{rep} evaluates the {r.get('which')} weights, not the {a.which} ones "
                f"being shipped (evaluate.py --which {a.which} --out-prefix "
                f"{rep[:-len('.json')]})"
            )
        b = r["sedd"]
        metrics = (
            f"ELBO perplexity bound on {b['tokens']:,} held-out tokens ({b['blocks']} blocks of "
            f"{b['length']}): **<= {b['ppl']:.2f}** ({b['nats_per_token']:.4f} +- {b['se']:.4f} "
            f"nats/token, {b['draws']} draws)."
        )
        if r.get("ar"):
            metrics += (
                f"\n\nAutoregressive baseline (same network code and size, causal attention, same "
                f"data order and tokens per step; `{r.get('ar_run', 'the AR run')}`): perplexity "
                f"**{r['ar']['ppl']:.2f}** on the same blocks{ar_progress(r.get('ar_run'), r['ar'].get('checkpoint'))}. The bound is "
                f"{b['ppl'] / r['ar']['ppl']:.2f}x the baseline's perplexity (the paper's small model: "
                f"within ~1.13x of GPT-2 at 1.3 M steps of 512 x 1024 tokens)."
            )
        samples = samples_md(r)
    notes = GENERIC_NOTES
    if a.notes:
        with open(a.notes, encoding="utf-8") as f:
            notes = "\n" + f.read().strip() + "\n"
    desc = a.description or (
        f"A small SEDD model ({cfg.hidden_size}x{cfg.n_blocks}) trained for " f"Lacuna on public-domain English text; fills blanks offline."
    )
    p = T.param_report(model)
    with open(os.path.join(a.out, "MODEL_CARD.md"), "w", encoding="utf-8") as f:
        f.write(
            MODEL_CARD.format(
                name=a.name,
                description=desc,
                H=cfg.hidden_size,
                n=cfg.n_blocks,
                nh=cfg.n_heads,
                hd=cfg.head_dim,
                cond=cfg.cond_dim,
                V=cfg.vocab_size,
                ntok=cfg.vocab_size - 1,
                mask=cfg.vocab_size - 1,
                L=cfg_len(info),
                tc="yes" if cfg.time_conditioned else "no",
                tc_note=""
                if cfg.time_conditioned
                else " (the network ignores sigma; only the absorbing shift depends on it, so the engine may "
                "reuse a network output across steps that changed no token)",
                params=p["total"],
                nonemb=p["non_embedding"],
                weights=(
                    f"the EMA (decay {info['settings']['ema']}) of the training run"
                    if a.which == "ema"
                    else "the training run's final (raw) weights, not their EMA"
                ),
                onnx_mb=mb,
                training=training,
                metrics=metrics,
                samples=samples,
                notes=notes,
                data=(
                    "Public-domain English text: Project Gutenberg books (80 % of tokens), U.S. State of "
                    "the Union addresses, the World English Bible and small public-domain sources; "
                    "every source with its license, sizes, cleaning and the held-out split in "
                    "[DATA.md](DATA.md)."
                ),
            )
        )
    with open(os.path.join(a.out, "training.json"), "w", encoding="utf-8") as f:
        json.dump(prov, f, indent=1)
        f.write("\n")
    write_manifest(
        a.out,
        id=a.id,
        name=a.name,
        description=desc,
        model=model,
        noise=LogLinearNoise(NOISE_EPS).to_manifest(),
        length=cfg_len(info),
        eos_id=int(info["eos_id"]),
        files=files,
        time_conditioned=bool(cfg.time_conditioned),
        default_steps=a.default_steps,
        temperature=a.temperature,
        top_p=a.top_p,
        unmasking=a.unmasking,
        extra={"demo": True} if a.demo else None,
    )
    print(f"wrote {a.out}: model.onnx {mb:.1f} MB, vocab_size {cfg.vocab_size}, " f"time_conditioned {cfg.time_conditioned}, length {cfg_len(info)}")


def run_stages(run: str, info: dict) -> list:
    """The run and the runs it continued (--init-from), oldest first: per stage its folder, its
    run.json, its start records (device, precision of each session) and its end record (steps,
    cumulative tokens, training seconds). A source folder that is not here ends the chain with a
    ``missing`` stage holding what the continuation recorded of it."""
    stages = []
    while True:
        end, starts = {}, []
        log = os.path.join(run, "log.jsonl")
        if os.path.exists(log):
            with open(log) as f:
                for line in f:
                    rec = json.loads(line)
                    if rec.get("type") == "end":
                        end = rec
                    if rec.get("type") == "start":
                        starts.append(rec)
        stages.append({"run": T.rel_path(run), "run_json": info, "end": end, "log": starts})
        init = info.get("init")
        if not init:
            break
        run = T.resolve_path(init["run"])
        if not os.path.exists(os.path.join(run, "run.json")):
            stages.append({"run": init["run"], "missing": True, "init": init})
            break
        info = T.read_run(run)
    return stages[::-1]


def provenance(run: str, info: dict, model_id: str) -> dict:
    """OUT/training.json (lacuna-training/1): every stage of the chain that ends at RUN, oldest
    first (run_stages), so that restore_run.py can rebuild the last stage's folder from the
    shipped model and the card can be rewritten. A stage that was itself restored from a shipped
    model contributes that model's stages in place of everything before it."""
    stages = []
    for st in run_stages(run, info):
        restored = os.path.join(T.resolve_path(st["run"]), "training.json")
        if not st.get("missing") and os.path.exists(restored):
            with open(restored, encoding="utf-8") as f:
                stages = list(json.load(f)["stages"])  # it covers every stage before it
            continue
        stages.append(st)
    return {"format": "lacuna-training/1", "model": model_id, "stages": stages}


def training_md(prov: dict) -> str:
    stages = prov["stages"]
    if not stages[-1].get("end"):
        return "(no training log found)"

    def known(v):
        return "?" if v is None else v

    lines, hours, prev_tokens, n_train = [], 0.0, 0, 0
    ar_tokens, k = 0, 0
    for st in stages:
        k += 1
        ar = None if st.get("missing") else st["run_json"].get("init_ar")
        if ar:
            # DiffuGPT adaptation: the autoregressive stage the diffusion network started from.
            h_ar = (ar.get("elapsed") or 0) / 3600
            hours += h_ar
            ar_tokens = int(ar.get("tokens") or 0)
            lines.append(
                f"{k}. `{ar['run']}`, the autoregressive twin (same network code, size, tokenizer "
                f"and data; next-token loss): {ar['step']:,} steps, {ar_tokens:,} tokens"
                + (f", {h_ar:.2f} h." if h_ar else " (its training time was lost with its log).")
            )
            k += 1
        if st.get("missing"):
            init = st["init"]
            lines.append(
                f"{k}. `{st['run']}` (folder not present here): {init['step']:,} steps, " f"{init['tokens']:,} tokens, {init['elapsed'] / 3600:.2f} h."
            )
            hours += init["elapsed"] / 3600
            prev_tokens = init["tokens"]
            continue
        info = st["run_json"]
        e, c = st["end"], info["settings"]
        n_train = info["data"]["train"].get("n_tokens") or n_train
        devices = sorted({f"{r.get('device')}/{r.get('precision')}" for r in st.get("log", []) if r.get("type") == "start"})
        h = e.get("elapsed", 0) / 3600
        hours += h
        if info.get("init_ar"):
            c0 = info["settings"]
            how = (
                f"adapted from stage {k - 1} (DiffuGPT: the AR weights with the shift, attention "
                f"annealed from causal to full over {c0.get('attn_anneal_steps') or 0:,} steps; "
                f"objective {c0.get('objective') or 'sedd'})"
            )
        elif info.get("init"):
            how = f"continued from the weights of stage {k - 1} (warm restart: fresh AdamW state and " "schedule, data stream continued)"
        else:
            how = "from scratch"
        lines.append(
            f"{k}. `{st['run']}`, {how}: {e.get('step', 0):,} steps x {c['batch']} x "
            f"{c['length']} = {e.get('tokens', 0) - prev_tokens:,} tokens, {h:.2f} h on "
            f"{', '.join(devices) or '?'}; AdamW lr {c['lr']}, warm-up {c['warmup']} + "
            f"cosine to {known(c['min_lr_ratio'])} x, EMA {c['ema']}, dropout {c['dropout']}, "
            f"t-sampling {known(c['t_sampling'])}."
        )
        if st.get("note"):
            lines.append(f"   {st['note']}")
        prev_tokens = e.get("tokens", 0)
    prev_tokens += ar_tokens
    total = (
        f"In all: {prev_tokens:,} training tokens ({prev_tokens / max(n_train, 1):.2f} epochs of " f"the {n_train:,}-token training split) in {hours:.2f} h."
    )
    return "\n".join(lines) + "\n\n" + total


def ar_progress(ar_run, checkpoint: Optional[dict] = None) -> str:
    """' (stopped at step N of its M-step schedule)' when the AR weights evaluated are not the
    end of their schedule, else ''.  ``checkpoint`` is what evaluate.py recorded of the weights
    it scored (step, tokens, schedule_steps); without it (older reports) the run's log says
    where the run stopped."""
    if checkpoint and checkpoint.get("schedule_steps"):
        last, schedule = checkpoint, checkpoint["schedule_steps"]
    else:
        if not ar_run:
            return ""
        path = T.resolve_path(ar_run) if not os.path.isabs(ar_run) else ar_run
        log = os.path.join(path, "log.jsonl")
        if not os.path.exists(log):
            return ""
        last, schedule = None, None
        with open(log) as f:
            for line in f:
                rec = json.loads(line)
                if rec.get("type") in ("train", "end"):
                    last = rec
                elif rec.get("type") == "schedule":
                    schedule = rec.get("schedule_steps")
        with open(os.path.join(path, "run.json")) as f:
            schedule = schedule or json.load(f).get("settings", {}).get("steps")
    if last and schedule and last["step"] < schedule:
        return (
            f" (weights from step {last['step']:,} of a {schedule:,}-step schedule, "
            f"{last['tokens']:,} tokens, so the learning rate had not decayed; resumable)"
        )
    return ""


def samples_md(r: dict) -> str:
    out = []
    inf = r.get("infill")
    if inf:
        out += [
            f"Infilling held-out text ({inf['span']} tokens in {inf['window']}-token windows, "
            f"{inf['steps']} steps; the original text, then the model's fills):",
            "",
        ]
        for k, e in enumerate(inf["examples"], 1):
            out += [
                f"{k}. …{e['before'].strip()[-160:]} ⟦ … ⟧ {e['after'].strip()[:100]}…",
                "",
                f"   - original: ⟦{e['original']}⟧",
                f"   - filled (temperature 1): ⟦{e['filled']}⟧",
            ]
            if "filled_at_temperature" in e:
                out.append(f"   - filled (temperature {inf['temperature']:g}): ⟦{e['filled_at_temperature']}⟧")
            out.append("")
    for u in r.get("unconditional", []):
        out += [f"Unconditional, {u['steps']} steps:", "", "```text", u["samples"][0].strip()[:700], "```", ""]
    return "\n".join(out).strip() or "(none)"


def cfg_len(info: dict) -> int:
    return int(info["settings"]["length"])


if __name__ == "__main__":
    main()
