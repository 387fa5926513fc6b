#!/usr/bin/env bash
# Installs code-server 4.100.3 (VS Code 1.100.3, the newest that runs on Node 20) into
# test/.cache/code-server for the end-to-end tests. Idempotent: does nothing when it is already there.
# Needs `apt-get install -y chromium ripgrep libkrb5-dev` first (libkrb5-dev: kerberos builds from source).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.100.3
DEST=test/.cache/code-server
BIN=$DEST/node_modules/.bin/code-server

# Read the installed version from its package.json: running the binary would write a config under $HOME.
installed() { node -p "require('./$DEST/node_modules/code-server/package.json').version" 2>/dev/null || true; }
if [ -x "$BIN" ] && [ "$(installed)" = "$VERSION" ]; then
  echo "code-server $VERSION already in $DEST"
  exit 0
fi
RG=$(command -v rg || true)
if [ -z "$RG" ]; then
  echo "ripgrep is missing: run apt-get install -y chromium ripgrep libkrb5-dev" >&2
  exit 1
fi

# @vscode/ripgrep downloads rg from GitHub (unreachable here) unless its cache already holds the archive.
CACHE="${TMPDIR:-/tmp}/vscode-ripgrep-cache-1.15.11"
mkdir -p "$CACHE"
tar -czf "$CACHE/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz" -C "$(dirname "$RG")" rg

# A separate package folder keeps code-server out of the extension's own dependencies.
mkdir -p "$DEST"
[ -f "$DEST/package.json" ] || echo '{ "name": "e2e-code-server", "private": true }' > "$DEST/package.json"
# As root the postinstall needs unsafe_perm; node-pty runs `npx node-gyp`, which asks unless yes is set.
(cd "$DEST" && npm_config_unsafe_perm=true npm_config_yes=true \
  npm install --no-audit --no-fund --save-exact "code-server@$VERSION")
echo "code-server $(installed) installed in $DEST"
