#!/usr/bin/env bash
# Runs every test layer, in order of cost, and keeps going after a failure so one run shows them all.
# Each layer prints its own runner's summary; the last line counts the layers.
set -uo pipefail
cd "$(dirname "$0")/.."
layers=(
  "typecheck|npm run -s typecheck"
  "unit|npm run -s test:unit"
  "engine|(cd engine && .venv/bin/python -m pytest -q -p no:cacheprovider)"
  "parity|npm run -s test:parity"
  "integration|npm run -s test:integration"
  "runview|npm run -s test:runview"
  "webview|npm run -s test:webview"
  "ssh|npm run -s test:ssh"
  "slurm|npm run -s test:slurm"
  "e2e|npm run -s test:e2e"
)
passed=0
failed=0
failed_names=()
for entry in "${layers[@]}"; do
  name="${entry%%|*}"
  cmd="${entry#*|}"
  echo "=== layer: $name ($cmd)"
  start=$(date +%s)
  if bash -c "$cmd"; then
    passed=$((passed + 1))
    echo "=== layer $name passed in $(( $(date +%s) - start )) s"
  else
    failed=$((failed + 1))
    failed_names+=("$name")
    echo "=== layer $name FAILED after $(( $(date +%s) - start )) s"
  fi
done
[ "$failed" -gt 0 ] && echo "failed layers: ${failed_names[*]}"
echo "layers: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
