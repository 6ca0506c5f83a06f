#!/usr/bin/env bash
# Train lacuna-mini on one NVIDIA GPU for ~8 minutes (AR twin, then the diffusion network adapted
# from it) and pack the result for copying back.
#
# Prepared for the device tool (one H200; torch with CUDA is already there; installs nothing):
#   1. here, once:  /usr/bin/python3 models/train/train.py --run models/train/runs/x --tokenize-only
#      (fills models/train/runs/cache/{train,test}-*.u16, ~36 MB; the corpus text itself does not travel)
#   2. run(command="bash models/train/gpu.sh", carry=["models/train/runs/cache"], timeout_s=600)
#   3. the files come back under files_at/run/: run.json, log.jsonl, weights/ema-*.pt; then here:
#      cp -r <files_at>/run models/train/runs/gpu-h200
#      /usr/bin/python3 models/train/evaluate.py --run models/train/runs/gpu-h200
#      /usr/bin/python3 models/train/ship.py --run models/train/runs/gpu-h200 --out models/lacuna-mini
#
# Environment overrides: TRAIN_MINUTES (7.5), RUN (/tmp/lacuna-gpu-run), PACK ($OUT/run or
# models/train/runs/gpu-pack), PYTHON (python3), DEVICE (cuda), EXTRA (more train.py flags),
# HIDDEN/BLOCKS/HEADS/BATCH/LR/WARMUP/EMA, AR_MINUTES (0.4 x TRAIN_MINUTES; 0: no AR stage),
# AR_LR, EXTRA_AR, ANNEAL (300), OBJECTIVE (mdlm).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
MINUTES=${TRAIN_MINUTES:-7.5}
RUN=${RUN:-/tmp/lacuna-gpu-run}
PACK=${PACK:-${OUT:+$OUT/run}}
PACK=${PACK:-models/train/runs/gpu-pack}
export PYTHONUNBUFFERED=1

if [ "$DEVICE" = cuda ]; then
  CUDA_CHECK='import torch, sys; ok = torch.cuda.is_available(); '
  CUDA_CHECK+='print("torch", torch.__version__, "cuda", ok, torch.cuda.get_device_name(0) if ok else ""); sys.exit(0 if ok else 3)'
  $PY -c "$CUDA_CHECK" \
    || { echo "no CUDA GPU visible to $PY: nothing done" >&2; exit 3; }
  nvidia-smi --query-gpu=name,memory.total,clocks.sm --format=csv,noheader || true
fi

TOK=models/lacuna-mini/tokenizer.json
# the newest cached token files made with this tree's tokenizer (runs/cache/*.u16 + .json)
pick() {
  $PY - "$1" "$TOK" <<'PYEOF'
import glob, hashlib, json, os, sys
kind, tok = sys.argv[1], sys.argv[2]
sha = hashlib.sha256(open(tok, "rb").read()).hexdigest()
files = [f for f in glob.glob(f"models/train/runs/cache/{kind}-*.u16")
         if os.path.exists(f + ".json") and json.load(open(f + ".json")).get("tokenizer_sha256") == sha]
print(max(files, key=os.path.getmtime) if files else "")
PYEOF
}
TRAIN_TOKENS=${TRAIN_TOKENS:-$(pick train)}
TEST_TOKENS=${TEST_TOKENS:-$(pick test)}
if [ -z "$TRAIN_TOKENS" ] || [ -z "$TEST_TOKENS" ]; then
  echo "no token cache: run train.py --tokenize-only here and carry models/train/runs/cache" >&2; exit 4
fi
echo "train tokens $TRAIN_TOKENS, test tokens $TEST_TOKENS"

# 17.2M parameters, 12.0M outside the embedding/output matrices; time-independent, so the fp32
# ONNX is 61.9 MB (<= 64 MB). 256 x 256 tokens per step. See README.md.
# The recipe of issue 13 (README.md, "Adaptation from the AR twin"): the AR twin of the same size
# first (AR_MINUTES of the TRAIN_MINUTES), then the diffusion network adapted from its EMA weights
# (shift, attention annealed over the first ANNEAL steps, MDLM objective) for the rest.
# AR_MINUTES=0 trains the diffusion network from scratch (OBJECTIVE still applies).
AR_MINUTES=${AR_MINUTES:-$($PY -c "print(round($MINUTES * 0.4, 2))")}
AR_HOURS=$($PY -c "print($AR_MINUTES / 60)")
HOURS=$($PY -c "print(($MINUTES - $AR_MINUTES) / 60)")
NET=(--hidden "${HIDDEN:-320}" --blocks "${BLOCKS:-8}" --heads "${HEADS:-5}" --cond-dim 128 --length 256)
DATA=(--train-tokens "$TRAIN_TOKENS" --test-tokens "$TEST_TOKENS" --tokenizer "$TOK")
ADAPT=()
if [ "$($PY -c "print(int($AR_MINUTES > 0))")" = 1 ]; then
  # shellcheck disable=SC2086
  $PY models/train/train.py --model ar --run "$RUN-ar" --device "$DEVICE" "${DATA[@]}" "${NET[@]}" \
    --batch "${BATCH:-256}" --lr "${AR_LR:-1.5e-3}" --warmup "${WARMUP:-200}" --ema "${EMA:-0.998}" \
    --dropout 0.1 --max-hours "$AR_HOURS" --eval-every 500 --eval-blocks 512 --eval-batch 128 \
    --log-every 25 --ckpt-minutes 2 ${EXTRA_AR:-} 2>&1 | tee "$RUN-ar.train.log" || echo "AR stage exited with an error" >&2
  [ -f "$RUN-ar/ckpt.pt" ] && ADAPT=(--init-from-ar "$RUN-ar" --attn-anneal-steps "${ANNEAL:-300}")
fi
# shellcheck disable=SC2086
$PY models/train/train.py --model sedd --run "$RUN" --device "$DEVICE" "${DATA[@]}" "${NET[@]}" \
  "${ADAPT[@]}" --objective "${OBJECTIVE:-mdlm}" --t-sampling lowdisc \
  --batch "${BATCH:-256}" --lr "${LR:-1e-3}" --warmup "${WARMUP:-200}" \
  --ema "${EMA:-0.998}" --dropout 0.1 --time-independent \
  --max-hours "$HOURS" --eval-every 500 --eval-blocks 512 --eval-draws 2 --eval-batch 128 \
  --log-every 25 --ckpt-minutes 2 ${EXTRA:-} 2>&1 | tee "$RUN.train.log" || rc=$?
rc=${rc:-0}
[ "$rc" = 0 ] || echo "train.py exited with $rc; packing the last checkpoint if any" >&2

# EMA weights only (fp32 while they fit: run.json + log.jsonl + <= 5 shards of 15 MiB).
if [ -f "$RUN/ckpt.pt" ]; then
  $PY models/train/pack_run.py --run "$RUN" --out "$PACK"
  ls -la "$PACK" "$PACK/weights"
  grep '"eval"' "$RUN/log.jsonl" | tail -n 2 || true
  tail -n 1 "$RUN/log.jsonl"
fi
exit "$rc"
