#!/usr/bin/env bash
# Builds the .vsix: minified bundles of the extension, the CLI and the webviews (npm dependencies are
# bundled, so node_modules is not shipped) plus the engine's sources. Usage: scripts/package-vsix.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-sltrain-studio-$(node -p "require('./package.json').version").vsix}"

mkdir -p "$(dirname "$OUT")"

# Source maps from development builds would otherwise be stale next to minified bundles.
rm -f media/*.js.map dist/*.js.map
node scripts/build.mjs --production

# vsce 3.x (4.x needs Node 22). --no-dependencies: everything the code needs is in the bundles.
npx --yes @vscode/vsce@3.9.2 package --no-dependencies --skip-license --allow-missing-repository --out "$OUT"

# Guard the size and the contents that matter: a venv or node_modules in the package is a bug.
LIST=$(python3 -m zipfile -l "$OUT")
if grep -qE 'extension/(node_modules|test|out|engine/\.venv)/' <<<"$LIST"; then
  echo "package-vsix: unexpected files in the package:" >&2
  grep -E 'extension/(node_modules|test|out|engine/\.venv)/' <<<"$LIST" >&2
  exit 1
fi
echo "package-vsix: $OUT ($(du -h "$OUT" | cut -f1))"
