#!/usr/bin/env bash
# Every GPU measurement of the engine in about 8 minutes on one H200: planner validation
# (gpu_memory_check.py), then throughput and the one-sequence memory case (gpu_perf.py).
#
#   bash bench/gpu_check.sh [OUT_DIR] [--smoke]     # OUT_DIR default: $OUT, else bench/results/gpu
#
# Planner predictions come from bench/results/gpu_memory_predictions.json (made where node runs:
# python bench/gpu_memory_check.py --predict-only). SLTRAIN_REFERENCE_DIR, when set, adds the
# reference implementation's layer to the throughput table. --smoke checks the logic on the CPU.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT:-$here/results/gpu}"
smoke=()
for a in "$@"; do
  case "$a" in
    --smoke) smoke=(--smoke --device cpu) ;;
    *) out="$a" ;;
  esac
done
py="${PYTHON:-python}"
mkdir -p "$out"
ref=()
[ -n "${SLTRAIN_REFERENCE_DIR:-}" ] && ref=(--reference-dir "$SLTRAIN_REFERENCE_DIR")
planner=()
[ -n "${SLTRAIN_PLANNER:-}" ] && planner=(--planner "$SLTRAIN_PLANNER")
{ "$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
  torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")'
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
} | tee "$out/environment.txt"
# Each part has its own budget (seconds after which it starts no new case) and a hard timeout,
# 210 + 270 s, so the whole fits ~8 min; both write their JSON after every case.
timeout 210 "$py" "$here/gpu_memory_check.py" --out-dir "$out" --time-budget 150 ${planner[@]+"${planner[@]}"} \
  ${smoke[@]+"${smoke[@]}"} || echo "gpu_memory_check.py failed or timed out (exit $?)"
timeout 270 "$py" "$here/gpu_perf.py" --out-dir "$out" --time-budget 120 ${ref[@]+"${ref[@]}"} \
  ${smoke[@]+"${smoke[@]}"} || echo "gpu_perf.py failed or timed out (exit $?)"
ls -l "$out"
