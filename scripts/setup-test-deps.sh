#!/usr/bin/env bash
# Debian packages the test layers start themselves: Chromium (webview pages and code-server),
# OpenSSH server/client (the SSH launcher against a real sshd), ripgrep and Kerberos headers
# (code-server's install), iproute2, Slurm and munge (a real single-node cluster for the Slurm layer).
# Skips apt entirely when everything is present.
set -euo pipefail
need=()
command -v chromium >/dev/null || need+=(chromium)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-agent >/dev/null || need+=(openssh-client)
command -v rg >/dev/null || need+=(ripgrep)
[ -f /usr/include/krb5.h ] || [ -f /usr/include/krb5/krb5.h ] || need+=(libkrb5-dev)
command -v ip >/dev/null || need+=(iproute2)
# A private single-node Slurm for the Slurm layer (test/slurm/harness/cluster.sh starts its own daemons).
[ -x /usr/sbin/slurmctld ] || need+=(slurmctld)
[ -x /usr/sbin/slurmd ] || need+=(slurmd)
command -v sbatch >/dev/null || need+=(slurm-client)
[ -x /usr/sbin/munged ] || need+=(munge)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "setup-test-deps: installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
