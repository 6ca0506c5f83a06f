#!/usr/bin/env python3
"""Rebuild a training run folder from a shipped model, so that training can continue from it.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 models/train/restore_run.py \\
        --model models/lacuna-mini --run models/train/runs/mini-b4

Run folders live outside git (models/train/runs/ is ignored) and are lost with the machine that
trained them; a shipped model folder is committed.  This reads MODEL/training.json (written by
ship.py: each stage's run.json and end record) and the weights of MODEL/model.onnx (the EMA
weights that were shipped; models/sedd/export.py weights_from_onnx), checks them against
MODEL/parity.json (PyTorch outputs recorded at shipping time), and writes RUN/run.json,
RUN/log.jsonl (the stage's start and end records) and RUN/ckpt.pt with the weights as both the
model and its EMA.  The checkpoint has no optimiser state: the run cannot be resumed, only
continued with ``train.py --init-from RUN`` (a warm restart, as every continuation here is).
Parameters the graph never reads (sigma_map of a time-independent network) get the network's
fresh initialisation, which is what that network had too (they receive no gradient).

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 models/train/restore_run.py \\
        --judge models/judge --run models/train/runs/ar-c1

rebuilds the AR twin's run from the fill benchmark's judge (models/judge/ar-twin.onnx: its EMA
weights, stored as float16; judge.json: its settings, step and held-out figure), so that a
diffusion run can be adapted from it (``train.py --init-from-ar RUN``) or the AR run continued
(``--init-from RUN``).  The corpus must be built first (the run's data are checked by hash), and
the restored weights must reproduce judge.json's held-out nats/token.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import onnx  # noqa: E402
import torch  # noqa: E402

import trainlib as T  # noqa: E402
from sedd.export import file_entry, weights_from_onnx  # noqa: E402
from sedd.likelihood import ar_nll  # noqa: E402

TRAINING_FORMAT = "lacuna-training/1"


def read_provenance(model_dir: str) -> dict:
    path = os.path.join(model_dir, "training.json")
    if not os.path.exists(path):
        raise SystemExit(f"{path} is missing: only models shipped with their training record " "(models/train/ship.py) can be restored")
    with open(path, encoding="utf-8") as f:
        prov = json.load(f)
    if prov.get("format") != TRAINING_FORMAT or not prov.get("stages"):
        raise SystemExit(f"{path}: not a {TRAINING_FORMAT} file with stages")
    return prov


def parity_error(model, model_dir: str) -> float:
    """Largest |difference| between ``model`` and MODEL/parity.json's recorded rows."""
    with open(os.path.join(model_dir, "parity.json"), encoding="utf-8") as f:
        par = json.load(f)
    worst = 0.0
    for case in par["cases"]:
        with torch.no_grad():
            y = model(torch.tensor(case["indices"]), torch.tensor(case["sigma"], dtype=torch.float32))
        for r, (b, l) in enumerate(case["positions"]):
            d = float((y[b, l] - torch.tensor(case["values"][r])).abs().max())
            if not math.isfinite(d):
                return math.inf
            worst = max(worst, d)
    return worst


def check_files(model_dir: str) -> None:
    """model.onnx as the manifest lists it (bytes and sha256)."""
    with open(os.path.join(model_dir, "manifest.json"), encoding="utf-8") as f:
        entry = json.load(f).get("files", {}).get("model.onnx")
    path = os.path.join(model_dir, "model.onnx")
    if entry and file_entry(path) != entry:
        raise SystemExit(f"{path} is not the file its manifest lists (size or sha256 differ): " "damaged or replaced")


def restore(model_dir: str, run: str, tolerance: float = 1e-4) -> dict:
    prov = read_provenance(model_dir)
    stage = prov["stages"][-1]
    info, end = stage["run_json"], stage["end"]
    if os.path.exists(os.path.join(run, "run.json")) or os.path.exists(os.path.join(run, "ckpt.pt")):
        raise SystemExit(f"{run} already holds a run; give a new --run")
    spec = T.spec_from_run(info)
    if spec.kind != "sedd":
        raise SystemExit("only SEDD runs are shipped")
    check_files(model_dir)
    model = T.SEDD(spec.config())
    proto = onnx.load(os.path.join(model_dir, "model.onnx"))
    try:
        sd, unused = weights_from_onnx(proto, model)
    except ValueError as e:
        raise SystemExit(f"{model_dir}/model.onnx: {e}")
    model.load_state_dict(sd, strict=True)
    model.eval()
    err = parity_error(model, model_dir)
    if not err <= tolerance:
        raise SystemExit(f"restored weights differ from {model_dir}/parity.json by {err:.3g} " f"(> {tolerance}): not the shipped network")
    params = {k: v.detach().float().clone() for k, v in model.named_parameters()}
    os.makedirs(run, exist_ok=True)
    info = dict(info, restored={"from": T.rel_path(model_dir), "parity_max_abs_diff": err, "unused_parameters": unused, "note": stage.get("note")})
    T.atomic_write_text(json.dumps(info, indent=1) + "\n", os.path.join(run, "run.json"))
    # the whole chain, for ship.py's card and training.json when this run is continued
    T.atomic_write_text(json.dumps(prov, indent=1) + "\n", os.path.join(run, "training.json"))
    with open(os.path.join(run, "log.jsonl"), "w", encoding="utf-8") as f:
        for rec in stage.get("log", []):
            f.write(json.dumps(rec) + "\n")
        f.write(json.dumps(end) + "\n")
    ckpt = {
        "format": "lacuna-train-ckpt/1",
        "restored": True,
        "step": int(end["step"]),
        "elapsed": float(end["elapsed"]),
        "schedule_steps": end.get("schedule_steps") or info["settings"].get("steps"),
        "tokens_seen": int(end["tokens"]),
        "model": model.state_dict(),
        "ema": {"decay": info["settings"]["ema"], "shadow": params},
        "ema_weights": model.state_dict(),
        "settings": info["settings"],
        "model_spec": info["model"],
    }
    T.atomic_save(ckpt, os.path.join(run, "ckpt.pt"))
    return {"run": run, "step": ckpt["step"], "tokens": ckpt["tokens_seen"], "parity": err, "unused": unused}


def restore_judge(judge_dir: str, run: str, cond_dim: int = 128, tolerance: float = 1e-4) -> dict:
    """An AR run folder from the judge export (models/train/export_judge.py)."""
    import train as TR
    from export_judge import export_proto as judge_export, sha256 as judge_sha256

    with open(os.path.join(judge_dir, "judge.json"), encoding="utf-8") as f:
        jj = json.load(f)
    if jj.get("format") != "lacuna-judge/1":
        raise SystemExit(f"{judge_dir}/judge.json: not a lacuna-judge/1 file")
    path = os.path.join(judge_dir, jj["file"])
    if judge_sha256(path) != jj["sha256"]:
        raise SystemExit(f"{path} is not the file judge.json lists (sha256 differs): damaged or replaced")
    if os.path.exists(os.path.join(run, "run.json")) or os.path.exists(os.path.join(run, "ckpt.pt")):
        raise SystemExit(f"{run} already holds a run; give a new --run")
    rs = jj["run_settings"]
    args = [
        "--run",
        run,
        "--model",
        "ar",
        "--hidden",
        str(rs["hidden"]),
        "--blocks",
        str(rs["blocks"]),
        "--heads",
        str(rs["heads"]),
        "--cond-dim",
        str(cond_dim),
        "--length",
        str(rs["length"]),
        "--batch",
        str(rs["batch"]),
        "--lr",
        str(rs["lr"]),
        "--steps",
        str(rs["steps"]),
        "--ema",
        str(rs["ema"]),
        "--dropout",
        "0.0",
        "--precision",
        "fp32",
        "--threads",
        "1",
    ]
    args += ["--warmup", str(rs.get("warmup", 200))]  # ar-c1's (models/train/README.md)
    cfg = TR.resolve(TR.build_parser().parse_args(args))
    tr = TR.Trainer(cfg, log_fn=lambda *a, **k: None)  # writes run.json: data checked by hash
    for split, want in (("train", jj["train_data_sha256"]), ("test", jj["test_data_sha256"])):
        got = (tr.train_meta if split == "train" else tr.test_meta).get("text_sha256")
        if got != want:
            for name in ("run.json", "log.jsonl"):
                if os.path.exists(os.path.join(run, name)):
                    os.remove(os.path.join(run, name))
            raise SystemExit(
                f"the {split} text is not the one the judge was trained on " f"(sha256 {got} vs {want}): rebuild the corpus (models/data/build_corpus.py)"
            )
    proto = onnx.load(path)
    try:
        sd, unused = weights_from_onnx(proto, tr.model, exporter=lambda m: judge_export(m, fp16=False))
    except ValueError as e:
        raise SystemExit(f"{path}: {e}")
    tr.model.load_state_dict(sd, strict=True)
    ev = ar_nll(tr.model, tr.eval_x)
    want = jj["held_out"]["nats_per_token"]
    err = abs(ev["nats_per_token"] - want)
    if not err <= tolerance:
        raise SystemExit(
            f"restored weights score {ev['nats_per_token']:.6f} nats/token on the held-out " f"blocks, judge.json says {want:.6f}: not the judge's network"
        )
    tr.ema = T.EMA(tr.model, cfg["ema"])
    tr.step = int(jj["step"])
    tr.tokens_seen = int(jj["tokens_seen"])
    tr.schedule_steps = int(jj["schedule_steps"])
    state = tr.state()
    del state["optimizer"]
    state["restored"] = True
    T.atomic_save(state, os.path.join(run, "ckpt.pt"))
    info = T.read_run(run)
    info["restored"] = {
        "from": T.rel_path(os.path.abspath(path)),
        "judge_sha256": jj["sha256"],
        "weights": "EMA as float16 (the judge file), widened to float32",
        "held_out_nats_per_token": ev["nats_per_token"],
        "judge_held_out": want,
        "unused_parameters": unused,
        "source_run": jj.get("source_run"),
        "note": "optimiser state and log were lost with the machine that trained it",
    }
    T.atomic_write_text(json.dumps(info, indent=1) + "\n", os.path.join(run, "run.json"))
    with open(os.path.join(run, "log.jsonl"), "w", encoding="utf-8") as f:
        f.write(
            json.dumps({"type": "eval", "step": tr.step, "tokens": tr.tokens_seen, "ema": {k: ev[k] for k in ("nats_per_token", "ppl")}, "restored": True})
            + "\n"
        )
    return {"run": run, "step": tr.step, "tokens": tr.tokens_seen, "held_out": ev["nats_per_token"], "ppl": ev["ppl"], "unused": unused}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="shipped model folder (manifest.json, model.onnx, " "parity.json, training.json)")
    src.add_argument("--judge", help="the fill benchmark's judge folder (judge.json, ar-twin.onnx): " "rebuilds the AR twin's run")
    ap.add_argument("--run", required=True, help="new run folder to write")
    ap.add_argument("--cond-dim", type=int, default=128, help="--judge: the AR network's cond-dim " "(not in judge.json; lacuna-mini's is 128)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    if a.judge:
        r = restore_judge(a.judge, a.run, a.cond_dim)
        print(
            f"restored {r['run']} from {a.judge}: AR step {r['step']:,}, {r['tokens']:,} tokens, held-out "
            f"{r['held_out']:.4f} nats/token (ppl {r['ppl']:.1f}); not in the graph (fresh init): "
            f"{', '.join(r['unused']) or 'none'}. Adapt from it with train.py --init-from-ar {r['run']}"
        )
        return
    r = restore(a.model, a.run)
    print(
        f"restored {r['run']}: step {r['step']:,}, {r['tokens']:,} tokens, parity max |diff| "
        f"{r['parity']:.2g}; not in the graph (fresh init): {', '.join(r['unused']) or 'none'}. "
        f"Continue it with train.py --init-from {r['run']}"
    )


if __name__ == "__main__":
    main()
