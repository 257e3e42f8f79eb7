#!/usr/bin/env bash
# A one-node Slurm cluster of this machine for the tests, in a folder of its own:
# munged, slurmctld and slurmd with their own config, keys, sockets, ports and state,
# started and stopped by the caller (never the system's services).
#   one_node_slurm.sh start DIR   # prints "SLURM_CONF=DIR/slurm.conf" once the node is idle
#   one_node_slurm.sh stop DIR    # stops the daemons started in DIR
# Exit code 77: Slurm cannot run here (binaries missing, not root); the reason on stderr.
set -uo pipefail
cmd=${1:?start|stop}
dir=${2:?folder}
cpus=${TAGMAP_SLURM_CPUS:-2}

skip() { echo "slurm: cannot start a one-node cluster: $*" >&2; exit 77; }

stop() {
  # The daemons' own pids, recorded by start; newest first.
  for name in slurmd slurmctld munged; do
    pidfile="$dir/$name.pid"
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    fi
    rm -f "$pidfile"
  done
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

for b in munged slurmctld slurmd sbatch squeue scontrol sinfo; do
  command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] ||
    skip "'$b' not found (install slurm-wlm and munge: tools/deps.sh)"
done
PATH="$PATH:/usr/sbin"
[ "$(id -u)" -eq 0 ] || skip "the daemons must run as root here (this user: $(id -un))"

mkdir -p "$dir"/{state,spool,munge} || skip "cannot create $dir"
chmod 700 "$dir/munge"
host=$(hostname -s)
# Ports of our own, away from the default 6817/6818 of a system cluster.
base=$(( 20000 + ($$ % 2000) * 2 ))
ctld_port=$base
slurmd_port=$((base + 1))

head -c 1024 /dev/urandom > "$dir/munge/munge.key"
chmod 400 "$dir/munge/munge.key"
sock="$dir/munge/munge.socket"

cat > "$dir/slurm.conf" <<CONF
ClusterName=tagmaptest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.daemon.pid
SlurmdPidFile=$dir/slurmd.daemon.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
ReturnToService=2
MinJobAge=600
SlurmdTimeout=60
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=tagmap Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"

munged --foreground --force --socket="$sock" --key-file="$dir/munge/munge.key" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
  --seed-file="$dir/munge/munge.seed" > "$dir/munged.out" 2>&1 &
echo $! > "$dir/munged.pid"
for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { stop; skip "munged did not start: $(tail -3 "$dir/munged.out" "$dir/munge/munged.log" 2>/dev/null)"; }

slurmctld -D -i -f "$SLURM_CONF" > "$dir/slurmctld.out" 2>&1 &
echo $! > "$dir/slurmctld.pid"
sleep 1
slurmd -D -N "$host" -f "$SLURM_CONF" > "$dir/slurmd.out" 2>&1 &
echo $! > "$dir/slurmd.pid"

# Ready when the node is idle.
for _ in $(seq 150); do
  state=$(sinfo -h -n "$host" -o %t 2>/dev/null | head -1)
  case "$state" in idle*) echo "SLURM_CONF=$SLURM_CONF"; exit 0 ;; esac
  for name in slurmctld slurmd munged; do
    kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null ||
      { stop; skip "$name exited: $(tail -5 "$dir/$name.out" "$dir/$name.log" 2>/dev/null)"; }
  done
  sleep 0.2
done
stop
skip "the node did not become idle in 30 s (state '$state'): $(tail -5 "$dir/slurmctld.log" "$dir/slurmd.log" 2>/dev/null)"
