#!/usr/bin/env bash
# The one command to run on a lent GPU machine (no Rust, no network needed there), with the
# binary from scripts/cuda-build.sh and ../shared/data/fashion-mnist carried along:
#
#   scripts/gpu-check.sh                  # CUDA vs CPU on this machine
#   scripts/gpu-check.sh --device cpu     # dry run of every step on the CPU (no GPU needed)
#
# Steps: nvidia-smi; the parity check (`adalab bench --device D --check`); `adalab bench` for
# 28×28 and 32×32 at batch 64 and 512 on D and beside it on the CPU; one short real run
# (fashion-sneaker-boot-adacos-fixed-geom, train.epochs=10) with its AUC. Every step runs even
# if one before it failed; the exit status is 1 if any failed. The log is written to
# $OUT/gpu-check.log (OUT defaults to a new temporary folder).
#
# Options: --device cuda|cpu (default cuda), --bin PATH (default target/cuda/adalab, else
# target/release/adalab), --data DIR (default ../shared/data), --epochs N (default 10),
# --steps N (timed bench steps, default 20).
# Library path: the CUDA 13 cuBLAS/NVRTC found under /opt/torch/.venv (or ADALAB_CUDA_LIBS);
# without a GPU, scripts/cuda-build.sh's stand-ins, so a CUDA build also starts here.
set -uo pipefail
cd "$(dirname "$0")/.."

DEVICE=cuda
BIN=""
DATA=../shared/data
EPOCHS=10
STEPS=20
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --bin) BIN="$2"; shift 2 ;;
    --data) DATA="$2"; shift 2 ;;
    --epochs) EPOCHS="$2"; shift 2 ;;
    --steps) STEPS="$2"; shift 2 ;;
    *) echo "gpu-check: unknown argument '$1' (see the top of $0)" >&2; exit 2 ;;
  esac
done
case "$DEVICE" in cuda|cpu) ;; *) echo "gpu-check: --device must be cuda or cpu" >&2; exit 2 ;; esac
if [ -z "$BIN" ]; then
  if [ -x target/cuda/adalab ]; then BIN=target/cuda/adalab; else BIN=target/release/adalab; fi
fi
[ -x "$BIN" ] || { echo "gpu-check: no binary at $BIN (build it with scripts/cuda-build.sh)" >&2; exit 2; }
[ -d "$DATA/fashion-mnist" ] || { echo "gpu-check: no $DATA/fashion-mnist (pass --data)" >&2; exit 2; }

OUT="${OUT:-$(mktemp -d)}"
mkdir -p "$OUT"
LOG="$OUT/gpu-check.log"
: >"$LOG"
say() { echo "$*" | tee -a "$LOG"; }
FAILED=0

# CUDA 13 libraries: the machine's Python environment, else the build's stand-ins (no GPU).
libdir_of() { find "$@" -name "$LIB" -path '*cu13*' 2>/dev/null | head -1 | xargs -r dirname; }
LIBS=""
for root in ${ADALAB_CUDA_LIBS:-} /opt/torch/.venv /usr/local/cuda /usr/lib/x86_64-linux-gnu; do
  [ -d "$root" ] || continue
  LIB=libcublas.so.13; blas=$(libdir_of "$root")
  LIB=libnvrtc.so.13; rtc=$(libdir_of "$root")
  if [ -n "$blas" ] && [ -n "$rtc" ]; then LIBS="$blas:$rtc"; break; fi
done
STUBS="${XDG_CACHE_HOME:-$HOME/.cache}/adalab-cuda/root-13.0/lib64/stubs"
if [ -z "$LIBS" ] && [ -d "$STUBS" ] && ! ldconfig -p 2>/dev/null | grep -q 'libcuda.so.1 '; then
  LIBS="$STUBS"
  say "gpu-check: no CUDA 13 libraries found; using the build's stand-ins ($STUBS)"
fi
export LD_LIBRARY_PATH="${LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# A private store, profiles and cache; the carried data.
export ADALAB_HOME="$OUT/home" ADALAB_CONFIG="$OUT/config" ADALAB_CACHE="$OUT/cache"
export ADALAB_DATA="$(cd "$DATA" && pwd)"
mkdir -p "$ADALAB_HOME" "$ADALAB_CONFIG" "$ADALAB_CACHE"
START=$(date +%s)

step() { # <name> <timeout s> <command...>
  local name="$1" limit="$2"; shift 2
  say ""
  say "== $name: $*"
  local t0=$(date +%s)
  timeout "$limit" "$@" > >(tee -a "$LOG") 2> >(tee -a "$LOG" >&2)
  local rc=$?
  wait
  say "== $name: exit $rc after $(( $(date +%s) - t0 )) s"
  [ $rc -eq 0 ] || FAILED=1
  return $rc
}

say "gpu-check: device=$DEVICE bin=$BIN data=$ADALAB_DATA log=$LOG"
say "gpu-check: host $(hostname), $(nproc) cores, LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
if command -v nvidia-smi >/dev/null; then
  step nvidia-smi 30 nvidia-smi
else
  say "gpu-check: nvidia-smi not found"
  [ "$DEVICE" = cpu ] || FAILED=1
fi
step version 30 "$BIN" --version
step parity 120 "$BIN" bench --device "$DEVICE" --check
for input in 28 32; do
  for batch in 64 512; do
    step "bench $DEVICE ${input}px batch $batch" 180 \
      "$BIN" bench --device "$DEVICE" --input "$input" --batch "$batch" --steps "$STEPS"
    if [ "$DEVICE" != cpu ]; then
      step "bench cpu ${input}px batch $batch" 180 \
        "$BIN" bench --device cpu --input "$input" --batch "$batch" --steps "$STEPS"
    fi
  done
done
step "run $EPOCHS epochs" 300 "$BIN" run fashion-sneaker-boot-adacos-fixed-geom \
  --device "$DEVICE" --set "train.epochs=$EPOCHS" --json
AUC="$(grep -o 'AUC .*' "$LOG" | tail -1)"
[ -n "$AUC" ] || AUC="no AUC in the run output"
say ""
say "gpu-check: run: $AUC"
say "gpu-check: $([ $FAILED = 0 ] && echo 'all steps passed' || echo 'SOME STEPS FAILED') in $(( $(date +%s) - START )) s; log: $LOG"
exit $FAILED
