#!/usr/bin/env bash
# A private single-node Slurm cluster for the tests: its own munged (key, socket), slurm.conf, state,
# spool, pid and log files, all under DIR, on free ports. `start DIR` prints the SLURM_CONF path once
# the node is idle; `stop DIR` stops the daemons by their pid files. Needs root (SlurmUser=root).
set -euo pipefail
cmd="${1:?usage: cluster.sh start|stop DIR}"
dir="${2:?usage: cluster.sh start|stop DIR}"

stop_all() {
  for p in slurmd slurmctld munged; do
    f="$dir/$p.pid"
    if [ -s "$f" ]; then kill "$(cat "$f")" 2>/dev/null || true; fi
  done
  for p in slurmd slurmctld munged; do
    f="$dir/$p.pid"
    for _ in $(seq 1 100); do
      [ -s "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null || break
      sleep 0.1
    done
    [ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
}

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])
PY
}

if [ "$cmd" = stop ]; then stop_all; exit 0; fi
[ "$cmd" = start ] || { echo "cluster.sh: unknown command $cmd" >&2; exit 2; }

for b in slurmctld slurmd munged sbatch squeue scontrol scancel sinfo; do
  command -v "$b" >/dev/null || { echo "cluster.sh: $b not found (apt-get install -y slurmctld slurmd slurm-client munge)" >&2; exit 3; }
done
mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
chmod 700 "$dir/munge"
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge/munge.key"
# munged refuses to run as root without --force; its socket is private to this cluster.
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/socket" \
  --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/seed"
host="$(hostname)"
ctl_port="$(free_port)"
d_port="$(free_port)"
cat > "$dir/slurm.conf" <<CONF
ClusterName=sltraintest
SlurmctldHost=$host
SlurmctldPort=$ctl_port
SlurmdPort=$d_port
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmUser=root
SlurmdUser=root
ReturnToService=2
MinJobAge=3600
DefMemPerCPU=1000
KillWait=30
SchedulerType=sched/backfill
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=$(nproc) RealMemory=16000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 1 300); do
  state="$(sinfo -h -o %t 2>/dev/null | head -n 1 || true)"
  [ "$state" = idle ] && { echo "$SLURM_CONF"; exit 0; }
  sleep 0.1
done
echo "cluster.sh: the node did not become idle (state: ${state:-none}); see $dir/slurmctld.log and $dir/slurmd.log" >&2
tail -n 20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
stop_all
exit 1
