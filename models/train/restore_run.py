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

TRAINING_FORMAT = "lacuna-training/1"


def read_provenance(model_dir: str) -> dict:
    path = os.path.join(model_dir, "training.json")
    if not os.path.exists(path):
        raise SystemExit(f"{path} is missing: only models shipped with their training record "
                         "(models/train/ship.py) can be restored")
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
        raise SystemExit(f"{path} is not the file its manifest lists (size or sha256 differ): "
                         "damaged or replaced")


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
        raise SystemExit(f"restored weights differ from {model_dir}/parity.json by {err:.3g} "
                         f"(> {tolerance}): not the shipped network")
    params = {k: v.detach().float().clone() for k, v in model.named_parameters()}
    os.makedirs(run, exist_ok=True)
    info = dict(info, restored={"from": T.rel_path(model_dir), "parity_max_abs_diff": err,
                                "unused_parameters": unused, "note": stage.get("note")})
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
    return {"run": run, "step": ckpt["step"], "tokens": ckpt["tokens_seen"], "parity": err,
            "unused": unused}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="shipped model folder (manifest.json, model.onnx, "
                    "parity.json, training.json)")
    ap.add_argument("--run", required=True, help="new run folder to write")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    r = restore(a.model, a.run)
    print(f"restored {r['run']}: step {r['step']:,}, {r['tokens']:,} tokens, parity max |diff| "
          f"{r['parity']:.2g}; not in the graph (fresh init): {', '.join(r['unused']) or 'none'}. "
          f"Continue it with train.py --init-from {r['run']}")


if __name__ == "__main__":
    main()
