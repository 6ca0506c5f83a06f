#!/usr/bin/env python3
"""Train lacuna-mini: a SEDD (absorbing, log-linear) score network, or the autoregressive
baseline with the same network code and parameter count.  Resumable.

    OPENBLAS_NUM_THREADS=1 nice -n 10 /usr/bin/python3 models/train/train.py \\
        --model sedd --run models/train/runs/mini --max-hours 8 --threads 2

Running the same command again resumes from RUN/ckpt.pt (the run's own settings come from
RUN/run.json; only the runtime flags --max-hours/--max-steps/--device/--threads/--precision/
intervals may change).  A checkpoint is written atomically (tmp + rename) every
--ckpt-minutes, at the end, and on SIGTERM/SIGINT; after kill -9 the run resumes from the last
one and repeats exactly the same steps (batch, noise, dropout and optimiser state restored).

Files in RUN: run.json (settings, model/data description), ckpt.pt (model, EMA, optimiser,
step, RNG states, token position, elapsed time), log.jsonl (one JSON object per line:
type "train" | "eval" | "start" | "end").

SEDD loss (models/sedd/losses.py): t ~ U(1e-3, 1) per sequence (official "plain" sampling;
--t-sampling lowdisc for MDLM's low-discrepancy variant), each token masked with probability
1 - e^{-sigma_bar(t)}, loss = sum over masked tokens of sigma_bar'(t) SE (sedd.md section 4),
divided by the block length (the official code sums over tokens; with Adam this only changes
the scale at which --grad-clip acts).  AR baseline: next-token cross-entropy over the same
blocks (input [BOS = MASK id, x_0 .. x_{L-2}]), same batch, same tokens per step.

Issue 13 options (SEDD runs): --objective mdlm (MDLM's x0-parameterisation and weighted
cross-entropy, exported as a SEDD absorbing log score); --init-from-ar RUN (DiffuGPT adaptation:
the AR run's weights into the diffusion network, with the AR shift, models/sedd/model.py
SEDDConfig.shift) and --attn-anneal-steps N (attention mask annealed from causal at step 0 to
full at step N, training only).
"""
from __future__ import annotations

import os
import sys


def _early_threads(argv) -> None:
    """OpenBLAS (Debian torch's fp32 BLAS) reads its thread count when torch is imported,
    so --threads must reach the environment first."""
    for i, a in enumerate(argv):
        v = None
        if a == "--threads" and i + 1 < len(argv):
            v = argv[i + 1]
        elif a.startswith("--threads="):
            v = a.split("=", 1)[1]
        if v is not None:
            os.environ["OPENBLAS_NUM_THREADS"] = v
            os.environ["OMP_NUM_THREADS"] = v
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


if __name__ == "__main__":
    _early_threads(sys.argv)

import argparse  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
from contextlib import nullcontext  # noqa: E402
from typing import Optional  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import trainlib as T  # noqa: E402
from sedd.likelihood import ar_nll, sedd_bound  # noqa: E402
from sedd.losses import NOISE_EPS, ar_loss, sample_t, sedd_loss  # noqa: E402

DEFAULT_TRAIN = os.path.join(T.MODELS, "data", "build", "train.txt")
DEFAULT_TEST = os.path.join(T.MODELS, "data", "build", "test.txt")
DEFAULT_TOKENIZER = os.path.join(T.MODELS, "lacuna-mini", "tokenizer.json")

# Settings that define a run (stored in run.json; later command lines cannot change them).
RUN_DEFAULTS = dict(
    model="sedd",
    hidden=256,
    blocks=8,
    heads=4,
    cond_dim=128,
    length=256,
    dropout=0.0,
    time_conditioned=False,
    batch=32,
    lr=1e-3,
    warmup=500,
    min_lr_ratio=0.1,
    weight_decay=0.0,
    beta1=0.9,
    beta2=0.999,
    adam_eps=1e-8,
    grad_clip=1.0,
    ema=0.999,
    t_sampling="plain",
    seed=0,
    steps=None,
    train=DEFAULT_TRAIN,
    test=DEFAULT_TEST,
    tokenizer=DEFAULT_TOKENIZER,
    train_tokens=None,
    test_tokens=None,
    eval_blocks=64,
    eval_draws=2,
    head="masked",
    init_from=None,
    # issue 13: objective, DiffuGPT adaptation from an AR run (shift, mask annealing)
    objective="sedd",
    shift=None,
    init_from_ar=None,
    init_from_ar_weights="ema",
    attn_anneal_steps=0,
)
# Runtime settings (may change on resume).
RUNTIME_DEFAULTS = dict(
    max_hours=None,
    max_steps=None,
    reschedule=None,
    device="cpu",
    precision=None,
    threads=None,
    eval_every=500,
    log_every=10,
    ckpt_minutes=10.0,
    ckpt_every=0,
    tokenizer_backend="auto",
    cache_dir=T.CACHE,
    compile=False,
    allow_short=False,
    eval_batch=16,
)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a = ap.add_argument
    a("--run", required=True, help="run folder (created; resumed if it has ckpt.pt)")
    a("--model", choices=["sedd", "ar"])
    g = ap.add_argument_group("network")
    g.add_argument("--hidden", type=int)
    g.add_argument("--blocks", type=int)
    g.add_argument("--heads", type=int)
    g.add_argument("--cond-dim", type=int)
    g.add_argument("--length", type=int, help="training block length (>= 256)")
    g.add_argument("--dropout", type=float)
    tc = g.add_mutually_exclusive_group()
    tc.add_argument("--time-conditioned", dest="time_conditioned", action="store_const", const=True, help="SEDD sees sigma (official DDiT)")
    tc.add_argument(
        "--time-independent",
        dest="time_conditioned",
        action="store_const",
        const=False,
        help="SEDD ignores sigma; the absorbing shift carries the time dependence (default)",
    )
    g = ap.add_argument_group("optimisation")
    g.add_argument("--batch", type=int, help="sequences per step")
    g.add_argument("--lr", type=float, help="peak learning rate (AdamW)")
    g.add_argument("--warmup", type=int, help="linear warm-up steps")
    g.add_argument("--min-lr-ratio", type=float, help="cosine floor as a fraction of --lr")
    g.add_argument("--weight-decay", type=float)
    g.add_argument("--beta1", type=float)
    g.add_argument("--beta2", type=float)
    g.add_argument("--adam-eps", type=float)
    g.add_argument("--grad-clip", type=float, help="max global grad norm (<= 0: off)")
    g.add_argument("--ema", type=float, help="EMA decay of the weights")
    g.add_argument("--t-sampling", choices=["plain", "lowdisc"])
    g.add_argument("--head", choices=["masked", "full"], help="SEDD: output projection only at masked positions (default) or everywhere")
    g.add_argument("--seed", type=int)
    g.add_argument(
        "--init-from",
        help="start from the final weights (model + EMA) of another run "
        "with the same network and data, and continue its data stream where it stopped; "
        "fresh optimiser and schedule (warm restart)",
    )
    g.add_argument(
        "--objective",
        choices=["sedd", "mdlm"],
        help="sedd: score entropy with the scale_by_sigma head (default); mdlm: MDLM's "
        "x0-parameterisation (log-softmax over real tokens, carry-over) and "
        "weighted cross-entropy, exported as a SEDD absorbing log score",
    )
    g.add_argument(
        "--init-from-ar",
        metavar="RUN",
        help="adapt an autoregressive run (DiffuGPT): load its weights (same network "
        "size and tokenizer) into the diffusion network, which then uses the AR "
        "shift (--shift) unless --no-shift",
    )
    g.add_argument("--init-from-ar-weights", choices=["ema", "model"], help="which weights of the AR checkpoint (default ema)")
    sh = g.add_mutually_exclusive_group()
    sh.add_argument(
        "--shift",
        dest="shift",
        action="store_const",
        const=True,
        help="DiffuGPT's shift: the hidden state at i-1 predicts token i (default on " "with --init-from-ar, off otherwise)",
    )
    sh.add_argument("--no-shift", dest="shift", action="store_const", const=False)
    g.add_argument(
        "--attn-anneal-steps",
        type=int,
        help="attention-mask annealing from causal (step 0) to full (this step) over " "the first N steps (DiffuGPT; training only; 0: full from the start)",
    )
    g.add_argument("--steps", type=int, help="schedule length in steps (default: from --max-hours " "by measuring the first steps, else --max-steps)")
    g = ap.add_argument_group("data")
    g.add_argument("--train", help="training text (models/data/build/train.txt)")
    g.add_argument("--test", help="held-out text (models/data/build/test.txt)")
    g.add_argument("--tokenizer", help="tokenizer.json (models/lacuna-mini/tokenizer.json)")
    g.add_argument("--train-tokens", help="pre-tokenised uint16 file (overrides --train)")
    g.add_argument("--test-tokens", help="pre-tokenised uint16 file (overrides --test)")
    g.add_argument("--tokenizer-backend", choices=["auto", "hf", "venv", "python"])
    g.add_argument("--cache-dir")
    g.add_argument("--eval-blocks", type=int, help="held-out blocks for the periodic evaluation")
    g.add_argument("--eval-draws", type=int, help="t draws per block (periodic evaluation)")
    g = ap.add_argument_group("runtime")
    g.add_argument("--max-hours", type=float, help="stop after this much training time (all sessions)")
    g.add_argument("--max-steps", type=int, help="stop at this step")
    g.add_argument(
        "--reschedule",
        type=int,
        help="on resume: change the schedule length to this many " "steps (the cosine continues from the current step; logged as a 'schedule' record)",
    )
    g.add_argument("--device", choices=["cpu", "cuda"])
    g.add_argument("--precision", choices=["fp32", "bf16"], help="default fp32 on cpu, bf16 on cuda")
    g.add_argument("--threads", type=int, help="torch/OpenBLAS threads (cpu)")
    g.add_argument("--eval-every", type=int)
    g.add_argument("--eval-batch", type=int)
    g.add_argument("--log-every", type=int)
    g.add_argument("--ckpt-minutes", type=float)
    g.add_argument("--ckpt-every", type=int, help="also checkpoint every N steps (0: off)")
    g.add_argument("--compile", action="store_const", const=True, help="torch.compile (torch >= 2)")
    g.add_argument("--allow-short", action="store_const", const=True, help="allow --length < 256 (tests)")
    g.add_argument("--tokenize-only", action="store_true", help="fill the token cache and exit")
    return ap


def resolve(ns: argparse.Namespace) -> dict:
    """Merge command line, run.json (for an existing run) and defaults."""
    cli = {k: v for k, v in vars(ns).items() if v is not None}
    path = os.path.join(ns.run, "run.json")
    cfg = dict(RUN_DEFAULTS)
    cfg.update(RUNTIME_DEFAULTS)
    if os.path.exists(path):
        saved = T.read_run(ns.run)["settings"]
        cfg.update(saved)
        for k, v in cli.items():
            if k in RUN_DEFAULTS and saved.get(k) != v:
                print(f"note: --{k.replace('_', '-')} ignored on resume (run has {saved.get(k)!r})", file=sys.stderr)
        cfg.update({k: v for k, v in cli.items() if k not in RUN_DEFAULTS})
    else:
        cfg.update(cli)
    cfg["run"] = ns.run
    if cfg.get("shift") is None:
        cfg["shift"] = bool(cfg.get("init_from_ar"))
    if cfg["model"] == "ar" and (cfg.get("init_from_ar") or cfg["shift"] or cfg.get("objective", "sedd") != "sedd" or cfg.get("attn_anneal_steps")):
        raise SystemExit("--init-from-ar, --shift, --objective mdlm and --attn-anneal-steps are " "for --model sedd")
    if cfg.get("init_from_ar") and cfg.get("init_from"):
        raise SystemExit("give --init-from or --init-from-ar, not both")
    if cfg["precision"] is None:
        cfg["precision"] = "bf16" if cfg["device"] == "cuda" else "fp32"
    if cfg["precision"] == "bf16" and cfg["device"] == "cpu" and not cpu_has_bf16():
        print(
            "warning: this CPU has no AVX-512 BF16/AMX: bf16 autocast runs ~15x slower than fp32 "
            "here (measured: h256-b4 77 vs 1,131 tokens/s); use --precision fp32",
            file=sys.stderr,
        )
    if cfg["length"] < 256 and not cfg["allow_short"]:
        raise SystemExit("--length must be >= 256 (the app infills 256-token windows)")
    return cfg


def cpu_has_bf16() -> bool:
    """Whether the CPU has native bf16 matrix instructions (Linux /proc/cpuinfo flags); unknown
    counts as yes, so the warning only fires where the flags were read and lack them."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), None)
    except OSError:
        return True
    return flags is None or bool({"avx512_bf16", "amx_bf16"} & set(flags))


class Trainer:
    def __init__(self, cfg: dict, log_fn=print) -> None:
        self.cfg = cfg
        self.print = log_fn
        self.run = cfg["run"]
        if cfg.get("shift") is None:  # default: on exactly when adapting an AR run
            cfg["shift"] = bool(cfg.get("init_from_ar"))
        os.makedirs(self.run, exist_ok=True)
        self.device = torch.device(cfg["device"])
        if cfg["device"] == "cuda":
            torch.set_float32_matmul_precision("high")  # TF32 for the fp32 parts
        if cfg["threads"]:
            torch.set_num_threads(int(cfg["threads"]))

        # ---- data
        self.train_tokens, self.train_meta = self._tokens(cfg["train_tokens"], cfg["train"])
        self.test_tokens, self.test_meta = self._tokens(cfg["test_tokens"], cfg["test"])
        if self.train_meta.get("tokenizer_sha256") != self.test_meta.get("tokenizer_sha256"):
            raise SystemExit("train and test tokens were made with different tokenizers")
        self._check_same_data()
        tok_size = int(self.train_meta["tokenizer_size"])
        self.vocab_size = tok_size + 1  # + MASK
        L = cfg["length"]
        self.stream = T.BlockStream(self.train_tokens, L, cfg["seed"])
        self.init = self._init_source()
        self.init_ar = self._init_ar_source()
        self.seq_offset = self.init["sequences"] if self.init else self.init_ar["sequences"] if self.init_ar else 0
        self.eval_x = T.eval_blocks(self.test_tokens, L, cfg["eval_blocks"])

        # ---- model
        self.spec = T.ModelSpec(
            kind=cfg["model"],
            hidden=cfg["hidden"],
            blocks=cfg["blocks"],
            heads=cfg["heads"],
            cond_dim=cfg["cond_dim"],
            vocab_size=self.vocab_size,
            time_conditioned=bool(cfg["time_conditioned"]),
            dropout=cfg["dropout"],
            shift=bool(cfg.get("shift")),
            x0_param=cfg.get("objective", "sedd") == "mdlm",
        )
        self.model = T.build_model(self.spec, seed=cfg["seed"]).to(self.device)
        self.eval_model = T.SEDD(self.spec.config()).to(self.device).eval()
        self.ema = T.EMA(self.model, cfg["ema"])
        decay, no_decay = [], []
        for n, p in self.model.named_parameters():
            (no_decay if p.dim() < 2 else decay).append(p)
        groups = [{"params": decay, "weight_decay": cfg["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}]
        kw = {}
        if self.device.type == "cuda":
            kw["fused"] = True
        try:
            self.opt = torch.optim.AdamW(groups, lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["adam_eps"], **kw)
        except (TypeError, RuntimeError):
            self.opt = torch.optim.AdamW(groups, lr=cfg["lr"], betas=(cfg["beta1"], cfg["beta2"]), eps=cfg["adam_eps"])
        self.fwd_model = self.model
        if cfg["compile"] and hasattr(nn.Module, "compile"):
            for block in self.model.blocks:  # in place: state-dict names unchanged
                block.compile()

        self.gen = torch.Generator().manual_seed(cfg["seed"] + 12345)  # t and masks
        torch.manual_seed(cfg["seed"] + 777)  # dropout
        if self.device.type == "cuda":
            torch.cuda.manual_seed_all(cfg["seed"] + 777)
        self.step = 0
        self.elapsed = 0.0
        self.schedule_steps: Optional[int] = cfg["steps"]
        if self.schedule_steps is None and cfg["max_hours"] is None:
            self.schedule_steps = cfg["max_steps"]
        if self.schedule_steps is None and cfg["max_hours"] is None:
            raise SystemExit("give --steps, --max-steps or --max-hours")
        self.tokens_seen = 0
        self._write_run_json()
        self.resumed = self._maybe_resume()
        if self.init and not self.resumed:
            st = T.torch_load(os.path.join(self.init["path"], "ckpt.pt"), self.device)
            self.model.load_state_dict(st["model"])
            self.ema.load_state_dict(st["ema"])
            self.tokens_seen = int(st["tokens_seen"])
        if self.init_ar and not self.resumed:
            sd = self._ar_weights()
            self.model.load_state_dict(sd, strict=True)
            self.ema = T.EMA(self.model, cfg["ema"])  # EMA starts at the AR weights

    # ------------------------------------------------------------------ setup helpers
    def _tokens(self, tok_file: Optional[str], text: str):
        if tok_file:
            meta_path = tok_file + ".json"
            meta = {}
            if os.path.exists(meta_path):
                with open(meta_path) as f:
                    meta = json.load(f)
            if "tokenizer_size" not in meta:
                raise SystemExit(f"{tok_file}: needs {meta_path} (written by tokenize_data.py)")
            meta["cache"] = tok_file
            return T.open_tokens(tok_file), meta
        for p in (text, self.cfg["tokenizer"]):
            if not os.path.exists(p):
                raise SystemExit(f"missing {p}")
        return T.load_tokens(text, self.cfg["tokenizer"], self.cfg["cache_dir"], self.cfg["tokenizer_backend"], log=self.print)

    def _init_source(self) -> Optional[dict]:
        """The run this one continues (--init-from): same network and data, its final step."""
        if not self.cfg.get("init_from"):
            return None
        run_json = os.path.join(self.run, "run.json")
        if os.path.exists(run_json):
            saved = T.read_run(self.run).get("init")
            if saved:
                return dict(saved, path=T.resolve_path(saved["run"]))
        src = self.cfg["init_from"]
        ckpt = os.path.join(src, "ckpt.pt")
        if not os.path.exists(ckpt):
            raise SystemExit(f"--init-from {src}: no ckpt.pt there")
        info = T.read_run(src)
        mine = {k: self.cfg[k] for k in ("model", "hidden", "blocks", "heads", "cond_dim", "length", "time_conditioned")}
        theirs = {k: info["settings"][k] for k in mine}
        for k, default in (("shift", False), ("objective", "sedd")):
            mine[k] = self.cfg.get(k) if self.cfg.get(k) is not None else default
            theirs[k] = info["settings"].get(k) if info["settings"].get(k) is not None else default
        # A time-independent network may continue as a sigma-conditioned one: it has the same
        # tensors, and its adaLN weights are still at their zero initialisation, so the
        # sigma-conditioned network starts out computing exactly the same function.
        widened = theirs["time_conditioned"] is False and mine["time_conditioned"] is True
        if widened:
            theirs["time_conditioned"] = True
        if mine != theirs:
            raise SystemExit(f"--init-from {src}: network differs ({theirs} vs {mine})")
        for split, meta in (("train", self.train_meta), ("test", self.test_meta)):
            for k in ("text_sha256", "tokenizer_sha256"):
                if info["data"][split].get(k) != meta.get(k):
                    raise SystemExit(f"--init-from {src}: {split} {k} differs from this run's data")
        st = T.torch_load(ckpt, torch.device("cpu"))
        return {
            "run": T.rel_path(src),
            "path": src,
            "step": int(st["step"]),
            "sequences": int(st["step"]) * int(info["settings"]["batch"]),
            "tokens": int(st["tokens_seen"]),
            "elapsed": float(st["elapsed"]),
            "ckpt_sha256": T.sha256_file(ckpt),
        }

    def _init_ar_source(self) -> Optional[dict]:
        """The autoregressive run this diffusion run is adapted from (--init-from-ar, DiffuGPT):
        same network size, block length and tokenizer; its checkpoint's step at the start."""
        if not self.cfg.get("init_from_ar"):
            return None
        run_json = os.path.join(self.run, "run.json")
        if os.path.exists(run_json):
            saved = T.read_run(self.run).get("init_ar")
            if saved:
                return dict(saved, path=T.resolve_path(saved["run"]))
        src = self.cfg["init_from_ar"]
        ckpt = os.path.join(src, "ckpt.pt")
        if not os.path.exists(ckpt):
            raise SystemExit(f"--init-from-ar {src}: no ckpt.pt there")
        info = T.read_run(src)
        if info["settings"]["model"] != "ar":
            raise SystemExit(f"--init-from-ar {src}: not an autoregressive run")
        keys = ("hidden", "blocks", "heads", "cond_dim", "length")
        mine = {k: self.cfg[k] for k in keys}
        theirs = {k: info["settings"][k] for k in keys}
        if mine != theirs:
            raise SystemExit(f"--init-from-ar {src}: network differs ({theirs} vs {mine})")
        for split, meta in (("train", self.train_meta), ("test", self.test_meta)):
            if info["data"][split].get("tokenizer_sha256") != meta.get("tokenizer_sha256"):
                raise SystemExit(f"--init-from-ar {src}: {split} tokenizer differs")
        same_text = all(info["data"][s].get("text_sha256") == m.get("text_sha256") for s, m in (("train", self.train_meta), ("test", self.test_meta)))
        # one read: the AR run may still be training and replace ckpt.pt at any moment
        with open(ckpt, "rb") as f:
            data = f.read()
        st = T.torch_load(io.BytesIO(data), torch.device("cpu"))
        which = self.cfg.get("init_from_ar_weights") or "ema"
        self._ar_sd = st["ema_weights"] if which == "ema" else st["model"]
        return {
            "run": T.rel_path(src),
            "path": src,
            "step": int(st["step"]),
            "sequences": int(st["step"]) * int(info["settings"]["batch"]) if same_text else 0,
            "tokens": int(st["tokens_seen"]),
            "elapsed": float(st["elapsed"]),
            "schedule_steps": st.get("schedule_steps"),
            "weights": which,
            "same_data": same_text,
            "ckpt_sha256": hashlib.sha256(data).hexdigest(),
        }

    def _ar_weights(self) -> dict:
        """The AR checkpoint's weights named by --init-from-ar-weights, checked against the
        checkpoint recorded in run.json (it may have moved on if the AR run is still going)."""
        sd = getattr(self, "_ar_sd", None)
        if sd is None:  # run.json written by an earlier start that had no checkpoint yet
            ckpt = os.path.join(self.init_ar["path"], "ckpt.pt")
            if T.sha256_file(ckpt) != self.init_ar["ckpt_sha256"]:
                raise SystemExit(f"--init-from-ar: {ckpt} changed since run.json was written; " f"start a new --run")
            st = T.torch_load(ckpt, torch.device("cpu"))
            sd = st["ema_weights"] if self.init_ar["weights"] == "ema" else st["model"]
        self._ar_sd = None
        return {k: v.to(self.device) for k, v in sd.items()}

    def _check_same_data(self) -> None:
        """A resumed run must see the data it started with (the corpus may be rebuilt)."""
        path = os.path.join(self.run, "run.json")
        if not os.path.exists(path):
            return
        data = T.read_run(self.run)["data"]
        for split, meta in (("train", self.train_meta), ("test", self.test_meta)):
            for k in ("text_sha256", "tokenizer_sha256", "n_tokens"):
                if data[split].get(k) != meta.get(k):
                    raise SystemExit(f"{self.run}: {split} {k} differs from the run's data " f"({data[split].get(k)} vs {meta.get(k)}); use a new --run")

    def _write_run_json(self) -> None:
        path = os.path.join(self.run, "run.json")
        if os.path.exists(path):
            return
        settings = {k: self.cfg[k] for k in RUN_DEFAULTS}
        info = {
            "format": "lacuna-train-run/1",
            "settings": settings,
            "model": dict(self.spec.__dict__),
            "network_config": self.spec.config().to_dict(),
            "params": T.param_report(self.model),
            "noise": {"type": "loglinear", "eps": NOISE_EPS},
            "graph": {"type": "absorb"},
            "mask_id": self.vocab_size - 1,
            "eos_id": int(self.train_meta["eos_id"]),
            "tokenizer": T.rel_path(self.cfg["tokenizer"]),
            "data": {"train": self._data_info(self.train_meta), "test": self._data_info(self.test_meta), "train_blocks_per_epoch": self.stream.n_blocks},
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        if self.init:
            info["init"] = {k: v for k, v in self.init.items() if k != "path"}
        if self.init_ar:
            info["init_ar"] = {k: v for k, v in self.init_ar.items() if k != "path"}
        T.atomic_write_text(json.dumps(info, indent=1) + "\n", path)

    @staticmethod
    def _data_info(meta: dict) -> dict:
        d = {k: meta.get(k) for k in ("text_sha256", "tokenizer_sha256", "n_tokens", "n_documents", "n_chars", "backend")}
        d["text"] = T.rel_path(meta.get("text"))
        d["cache"] = T.rel_path(meta.get("cache"))
        return d

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> dict:
        return {
            "format": "lacuna-train-ckpt/1",
            "step": self.step,
            "elapsed": self.elapsed,
            "schedule_steps": self.schedule_steps,
            "tokens_seen": self.tokens_seen,
            "token_position": {
                "sequences": self.step * self.cfg["batch"],
                "offset": self.seq_offset,
                "epochs": (self.seq_offset + self.step * self.cfg["batch"]) / self.stream.n_blocks,
            },
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "ema_weights": self.ema.weights(self.model),
            "optimizer": self.opt.state_dict(),
            "rng": {
                "torch": torch.get_rng_state(),
                "noise": self.gen.get_state(),
                "cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
            },
            "settings": {k: self.cfg[k] for k in RUN_DEFAULTS},
            "model_spec": dict(self.spec.__dict__),
        }

    def save(self) -> None:
        T.atomic_save(self.state(), os.path.join(self.run, "ckpt.pt"))

    def _maybe_resume(self) -> bool:
        path = os.path.join(self.run, "ckpt.pt")
        if not os.path.exists(path):
            self._truncate_log(-1)
            return False
        st = T.torch_load(path, self.device)
        if st.get("restored"):
            raise SystemExit(
                f"{self.run} was rebuilt from a shipped model (restore_run.py) and has no "
                f"optimiser state: continue it with --init-from {self.run} and a new --run"
            )
        self.model.load_state_dict(st["model"])
        self.ema.load_state_dict(st["ema"])
        self.opt.load_state_dict(st["optimizer"])
        self.step = st["step"]
        self.elapsed = st["elapsed"]
        self.schedule_steps = st["schedule_steps"] if st["schedule_steps"] is not None else self.schedule_steps
        self.tokens_seen = st["tokens_seen"]
        torch.set_rng_state(st["rng"]["torch"].cpu())
        self.gen.set_state(st["rng"]["noise"].cpu())
        if self.device.type == "cuda" and st["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state_all([s.cpu() for s in st["rng"]["cuda"]])
        self._truncate_log(self.step)
        new = self.cfg.get("reschedule")
        if new and new != self.schedule_steps:
            if new <= self.step:
                raise SystemExit(f"--reschedule {new}: the run is already at step {self.step}")
            self.log({"type": "schedule", "step": self.step, "schedule_steps": new, "previous": self.schedule_steps, "reason": "--reschedule"})
            self.print(f"schedule: {self.schedule_steps} -> {new} steps at step {self.step}")
            self.schedule_steps = new
        return True

    def _truncate_log(self, step: int) -> None:
        """Drop log lines written after the checkpoint we resume from (or all if none)."""
        path = os.path.join(self.run, "log.jsonl")
        if not os.path.exists(path):
            return
        keep = []
        with open(path) as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # torn last line after kill -9
                if rec.get("step", 0) <= step and step >= 0:
                    keep.append(json.dumps(rec) + "\n")
        T.atomic_write_text("".join(keep), path)

    def log(self, rec: dict) -> None:
        with open(os.path.join(self.run, "log.jsonl"), "a") as f:
            f.write(json.dumps(rec) + "\n")

    # ------------------------------------------------------------------ schedule
    def lr_at(self, step: int) -> float:
        """Step ``step`` (1-based: the step being taken) of linear warm-up then cosine."""
        c = self.cfg
        if step <= c["warmup"]:
            return c["lr"] * step / max(c["warmup"], 1)
        if self.schedule_steps is None:
            return c["lr"]
        total = max(self.schedule_steps, c["warmup"] + 1)
        p = min((step - c["warmup"]) / (total - c["warmup"]), 1.0)
        floor = c["lr"] * c["min_lr_ratio"]
        return floor + (c["lr"] - floor) * 0.5 * (1 + math.cos(math.pi * p))

    # ------------------------------------------------------------------ steps
    def autocast(self):
        if self.cfg["precision"] == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def loss_on(self, step: int) -> tuple:
        """Forward for the batch of ``step`` (0-based), drawing t and masks from self.gen."""
        B, L = self.cfg["batch"], self.cfg["length"]
        x0 = torch.from_numpy(self.stream.batch(step, B, self.seq_offset))
        with self.autocast():
            if self.cfg["model"] == "sedd":
                t = sample_t(B, self.gen, self.cfg["t_sampling"])
                u = torch.rand(B, L, generator=self.gen, dtype=torch.float64)
                per_seq, nm = sedd_loss(
                    self.fwd_model, x0, t, u, full=self.cfg["head"] == "full", fp32_head=self.device.type == "cuda", attn_mask=self.attn_mask_at(step)
                )
            else:
                per_seq = ar_loss(self.fwd_model, x0, fp32_head=self.device.type == "cuda")
        return per_seq.mean() / L, per_seq

    def attn_mask_at(self, step: int) -> Optional[torch.Tensor]:
        """DiffuGPT's attention-mask annealing: at step s < N = --attn-anneal-steps, causal plus
        each future entry with probability s / N (drawn from the noise generator, so resuming
        repeats it); None (full attention) from step N on or without annealing."""
        n = int(self.cfg.get("attn_anneal_steps") or 0)
        if n <= 0 or step >= n:
            return None
        L = self.cfg["length"] + (1 if self.spec.shift else 0)
        return T.annealed_attention_mask(L, step / n, generator=self.gen, device=self.device)

    def train_step(self) -> dict:
        self.model.train()
        lr = self.lr_at(self.step + 1)
        for g in self.opt.param_groups:
            g["lr"] = lr
        loss, _ = self.loss_on(self.step)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg["grad_clip"] and self.cfg["grad_clip"] > 0:
            gn = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg["grad_clip"])
        else:
            gn = torch.sqrt(sum((p.grad.float() ** 2).sum() for p in self.model.parameters() if p.grad is not None))
        self.opt.step()
        self.step += 1
        self.ema.update(self.model, self.step + (self.init["step"] if self.init else 0))
        self.tokens_seen += self.cfg["batch"] * self.cfg["length"]
        return {"loss": float(loss), "grad_norm": float(gn), "lr": lr}

    @torch.no_grad()
    def evaluate(self, which: str = "ema") -> dict:
        sd = self.ema.weights(self.model) if which == "ema" else self.model.state_dict()
        self.eval_model.load_state_dict(sd)
        if self.cfg["model"] == "sedd":
            r = sedd_bound(self.eval_model, self.eval_x, draws=self.cfg["eval_draws"], seed=1234, batch_size=self.cfg["eval_batch"])
        else:
            r = ar_nll(self.eval_model, self.eval_x, batch_size=self.cfg["eval_batch"])
        return r

    def run_loop(self, max_steps: Optional[int] = None, max_hours: Optional[float] = None) -> str:
        c = self.cfg
        max_steps = max_steps if max_steps is not None else c["max_steps"]
        max_hours = max_hours if max_hours is not None else c["max_hours"]
        stop = {"flag": None}

        def on_signal(signum, frame):
            stop["flag"] = f"signal {signum}"

        old = {}
        if __name__ == "__main__":
            for s in (signal.SIGTERM, signal.SIGINT):
                old[s] = signal.signal(s, on_signal)

        self.log(
            {
                "type": "start",
                "step": self.step,
                "resumed": self.resumed,
                "elapsed": round(self.elapsed, 1),
                "threads": torch.get_num_threads(),
                "device": c["device"],
                "precision": c["precision"],
                "torch": torch.__version__,
                "params": T.param_report(self.model),
            }
        )
        t_session = time.monotonic()
        elapsed0 = self.elapsed
        last_ckpt = time.monotonic()
        acc_loss, acc_n, acc_t0, acc_tok = 0.0, 0, time.monotonic(), 0
        calib_from = None
        reason = "done"
        while True:
            if max_steps is not None and self.step >= max_steps:
                reason = f"max_steps {max_steps}"
                break
            if max_steps is None and self.schedule_steps is not None and self.step >= self.schedule_steps:
                reason = f"schedule end {self.schedule_steps}"
                break
            if max_hours is not None and self.elapsed >= max_hours * 3600:
                reason = f"max_hours {max_hours}"
                break
            if stop["flag"]:
                reason = stop["flag"]
                break
            r = self.train_step()
            if self.device.type == "cuda" and self.step % c["log_every"] == 0:
                torch.cuda.synchronize()
            self.elapsed = elapsed0 + (time.monotonic() - t_session)
            if not math.isfinite(r["loss"]):
                self.log({"type": "error", "step": self.step, "msg": "non-finite loss"})
                raise FloatingPointError(f"non-finite loss at step {self.step}")
            acc_loss += r["loss"]
            acc_n += 1
            acc_tok += c["batch"] * c["length"]

            # schedule length from the measured speed (once, for --max-hours without --steps)
            if self.schedule_steps is None:
                if calib_from is None and self.step >= 5:
                    calib_from = (self.step, time.monotonic())
                calib_at = max(20, min(100, c["warmup"] // 2))
                if calib_from is not None and self.step >= calib_from[0] + calib_at:
                    sps = (time.monotonic() - calib_from[1]) / (self.step - calib_from[0])
                    left = max_hours * 3600 - self.elapsed
                    overhead = 0.9  # evaluation, checkpoints, load from other users
                    self.schedule_steps = self.step + int(left * overhead / sps)
                    self.log({"type": "schedule", "step": self.step, "sec_per_step": sps, "schedule_steps": self.schedule_steps})

            if self.step % c["log_every"] == 0:
                dt = time.monotonic() - acc_t0
                ep = (self.seq_offset + self.step * c["batch"]) / self.stream.n_blocks
                self.log(
                    {
                        "type": "train",
                        "step": self.step,
                        "loss": acc_loss / acc_n,
                        "lr": r["lr"],
                        "grad_norm": r["grad_norm"],
                        "tokens": self.tokens_seen,
                        "epochs": round(ep, 4),
                        "elapsed": round(self.elapsed, 1),
                        "tok_per_s": round(acc_tok / max(dt, 1e-9), 1),
                    }
                )
                acc_loss, acc_n, acc_t0, acc_tok = 0.0, 0, time.monotonic(), 0
            if c["eval_every"] and self.step % c["eval_every"] == 0:
                self._eval_and_log()
            if (c["ckpt_every"] and self.step % c["ckpt_every"] == 0) or time.monotonic() - last_ckpt > c["ckpt_minutes"] * 60:
                self.save()
                last_ckpt = time.monotonic()
        if not (c["eval_every"] and self.step % c["eval_every"] == 0) and self.step > 0:
            self._eval_and_log()
        self.elapsed = elapsed0 + (time.monotonic() - t_session)
        self.save()
        self.log({"type": "end", "step": self.step, "reason": reason, "elapsed": round(self.elapsed, 1), "tokens": self.tokens_seen})
        for s, h in old.items():
            signal.signal(s, h)
        return reason

    def _eval_and_log(self) -> None:
        t0 = time.monotonic()
        rec = {"type": "eval", "step": self.step, "tokens": self.tokens_seen, "elapsed": round(self.elapsed, 1)}
        for which in ("ema", "raw"):
            r = self.evaluate(which)
            rec[which] = {k: r[k] for k in ("nats_per_token", "ppl", "se") if k in r}
        rec["eval_seconds"] = round(time.monotonic() - t0, 1)
        self.log(rec)
        self.print(
            f"step {self.step}: held-out {'bound' if self.cfg['model'] == 'sedd' else 'nll'} "
            f"ema {rec['ema']['nats_per_token']:.4f} nats/token (ppl {rec['ema']['ppl']:.1f}), "
            f"raw {rec['raw']['nats_per_token']:.4f}"
        )


def main(argv=None) -> None:
    ns = build_parser().parse_args(argv)
    cfg = resolve(ns)
    if ns.tokenize_only:
        for tf, text in ((cfg["train_tokens"], cfg["train"]), (cfg["test_tokens"], cfg["test"])):
            if not tf:
                _, meta = T.load_tokens(text, cfg["tokenizer"], cfg["cache_dir"], cfg["tokenizer_backend"])
                print(f"{text}: {meta['n_tokens']} tokens in {meta['cache']}")
        return
    tr = Trainer(cfg)
    p = T.param_report(tr.model)
    print(
        f"{cfg['model']} run {cfg['run']}: step {tr.step}{' (resumed)' if tr.resumed else ''}, "
        f"params {p['total']:,} (non-embedding {p['non_embedding']:,}), "
        f"train {len(tr.train_tokens):,} tokens, test blocks {len(tr.eval_x)}, "
        f"threads {torch.get_num_threads()}, {cfg['device']}/{cfg['precision']}",
        flush=True,
    )
    reason = tr.run_loop()
    print(f"stopped at step {tr.step} ({reason}); {tr.tokens_seen:,} tokens, " f"{tr.elapsed / 3600:.2f} h", flush=True)


if __name__ == "__main__":
    main()
