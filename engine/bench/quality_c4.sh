#!/usr/bin/env bash
# The quality bench on C4 on a GPU box: the same six rows as bench/quality_bench.py (full, GaLore,
# APOLLO, APOLLO-Mini, SLTrain fixed and dynamic support) at LLaMA 60M, streamed from the Hugging Face
# hub with the T5 tokenizer (the papers' setup), validation loss at equal steps over the given seeds.
#
#   bash bench/quality_c4.sh [OUT_JSON] [STEPS] [SEEDS]
#     OUT_JSON  default $OUT/quality_c4.json, else bench/results/quality_c4.json
#     STEPS     default 10000 (the papers' 60M budget); SEEDS default 0,1,2
# Needs the hf extra (pip install -e '.[hf]'), network access to the hub and one CUDA GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
OUT_JSON="${1:-${OUT:-bench/results}/quality_c4.json}"
STEPS="${2:-10000}"
SEEDS="${3:-0,1,2}"
exec "$PY" bench/quality_bench.py --model llama_60m --steps "$STEPS" --batch-size 64 --seq-len 256 \
  --seeds "$SEEDS" --num-threads 4 --out "$OUT_JSON" -- \
  --data hf:allenai/c4:en --tokenizer hf:t5-base --device cuda --precision bf16
