#!/usr/bin/env bash
# Debian packages the test layers start themselves: Chromium (webview pages and code-server),
# OpenSSH server/client (the SSH launcher against a real sshd), ripgrep and Kerberos headers
# (code-server's install), iproute2. Skips apt entirely when everything is present.
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-agent >/dev/null || need+=(openssh-client)
command -v rg >/dev/null || need+=(ripgrep)
[ -f /usr/include/krb5.h ] || [ -f /usr/include/krb5/krb5.h ] || need+=(libkrb5-dev)
command -v ip >/dev/null || need+=(iproute2)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "setup-test-deps: installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
