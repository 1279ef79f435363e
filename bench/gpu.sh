#!/usr/bin/env bash
# Every GPU row of bench/RESULTS.md in one call (under 8 minutes on one H100/H200-class GPU):
#   1. SpeciesLM windows/s at 300 and 1003 bp (bench/embed.py). No weights can be fetched
#      offline, so the model is a randomly initialised BERT of SpeciesLM's shape (12 layers,
#      768 hidden, SpeciesLM's vocabulary): the speed is the real model's, the vectors are not.
#   2. The 1.3e7-pair DeepSet epoch (bench/train.py --epoch, 6,000 genes, 1,536-d features).
#   3. DCell on the real Gene Ontology (bench/dcell.py --ontology real: the 2019 GO over the real
#      workspace of ../shared/realdata, 2,226 terms, 49.2M parameters; needs ../shared beside the
#      checkout) and on the synthetic GO-shaped one (~2,950 terms, 6,000 genes).
#   4. The trainable sequence encoder (bench/encoder.py speed), when it has --device.
# Each step has its own time budget; a step that fails or runs out is recorded as such and the
# others still run. The rows are appended to bench/RESULTS.md with the device name (nvidia-smi).
#
#   bench/gpu.sh             # on a machine with CUDA
#   bench/gpu.sh --dry-run   # CPU, tiny sizes, results to a temporary file: checks the plumbing
set -uo pipefail

cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python
DRY=0
case "${1:-}" in
  --dry-run) DRY=1 ;;
  "") ;;
  *) echo "usage: bench/gpu.sh [--dry-run]" >&2; exit 2 ;;
esac

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
if [ "$DRY" = 1 ]; then
  DEVICE=cpu
  NAME="dry run on $(nproc)-core CPU (tiny sizes; not a result)"
  RESULTS="$OUT/RESULTS.md"
else
  if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "bench/gpu.sh: no NVIDIA GPU (nvidia-smi missing or failing); use --dry-run to check the script on CPU" >&2
    exit 1
  fi
  if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "bench/gpu.sh: torch sees no CUDA device (torch $("$PY" -c 'import torch; print(torch.__version__)'))" >&2
    exit 1
  fi
  DEVICE=cuda
  NAME=$(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1)
  RESULTS=bench/RESULTS.md
fi

ROWS="$OUT/rows.md"
: > "$ROWS"
STARTED=$SECONDS

# step NAME BUDGET_SECONDS COMMAND...: run it, keep its JSON lines, record status and time
step() {
  local name=$1 budget=$2; shift 2
  local t0=$SECONDS status
  echo "== $name (budget ${budget} s): $*" >&2
  timeout "$budget" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err"
  case $? in
    0) status=ok ;;
    124) status="timed out after ${budget} s" ;;
    *) status="failed: $(tail -n 1 "$OUT/$name.err")" ;;
  esac
  local secs=$((SECONDS - t0))
  echo "   $status, ${secs} s" >&2
  {
    echo "- **$name** ($status, ${secs} s): \`$*\`"
    grep '^{' "$OUT/$name.out" | sed 's/^/      /'
  } >> "$ROWS"
}

skip() {
  echo "== $1: SKIPPED: $2" >&2
  echo "- **$1**: SKIPPED: $2" >> "$ROWS"
}

if [ "$DRY" = 1 ]; then
  step specieslm 120 "$PY" bench/embed.py --device cpu --n 1 --n-ours 4 --batch-size 2 --kmer-genes 20
  step epoch-1.3e7 120 "$PY" bench/train.py --device cpu --genes 300 --dim 32 --pairs 20000 --batch 2048 \
       --epoch --skip-naive --rounds 1
  step dcell-real-go 400 "$PY" bench/dcell.py --device cpu --genes 600 --min-genes 100 --batch 64 --steps 3 \
       --warmup 1 --sides new --threads 1
else
  step specieslm 130 "$PY" bench/embed.py --device cuda --kmer-genes 200
  step epoch-1.3e7 130 "$PY" bench/train.py --device cuda --pairs 13000000 --batch 32768 --epoch \
       --skip-naive --rounds 1
  step dcell-real-go 200 "$PY" bench/dcell.py --device cuda --batch 4096 --steps 16 --ontology real synthetic \
       --sides new new-amp new-bf16
fi
if [ -f bench/encoder.py ] && "$PY" bench/encoder.py speed --help 2>/dev/null | grep -q -- '--device'; then
  if [ "$DRY" = 1 ]; then
    step encoder 120 "$PY" bench/encoder.py speed --device cpu --genes 20
  else
    step encoder 100 "$PY" bench/encoder.py speed --device cuda
  fi
else
  skip encoder "bench/encoder.py has no 'speed --device' option in this checkout; run its GPU row by hand"
fi

{
  echo
  echo "### GPU rows ($(date -u +%Y-%m-%d), $NAME)"
  echo
  echo "\`bench/gpu.sh\`, $((SECONDS - STARTED)) s in all. SpeciesLM rows use a randomly initialised BERT of"
  echo "SpeciesLM's shape (no weights offline): speed only. Each step's JSON lines as printed:"
  echo
  cat "$ROWS"
} >> "$RESULTS"
[ "$DRY" = 1 ] && cat "$RESULTS"
echo "bench/gpu.sh: $((SECONDS - STARTED)) s; rows appended to $RESULTS" >&2
