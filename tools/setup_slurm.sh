#!/usr/bin/env bash
# Installs and starts a single-node Slurm cluster on this machine (Debian's slurm-wlm + munge),
# so that the benchmark's Slurm executor can be tested for real (tests/benchmark/test_scale_out.py
# calls this script; so does CI through `make test`).
#
# Idempotent: a second run finds the daemons up and the node idle and returns within a second.
# Exit status: 0 = a working cluster (`sinfo` shows the node, a job can be submitted);
#              77 = this machine cannot run one (not root, no apt-get / no Debian packages): the
#                   reason is printed, and the tests that need Slurm skip with it;
#              anything else = it should have worked and did not (the reason is printed).
#
# The configuration is the smallest that runs jobs on one node without systemd or cgroups:
# process tracking through /proc (proctrack/linuxproc), no task binding (task/none), no
# accounting (so `sacct` does not work: the benchmark asks `squeue` instead), cons_tres selection
# per CPU so that several one-CPU jobs share the node.
set -uo pipefail

cannot() { echo "[setup_slurm] cannot run a Slurm cluster here: $*" >&2; exit 77; }
fail() { echo "[setup_slurm] error: $*" >&2; exit 1; }

host=$(hostname -s)
conf_dir=/etc/slurm
conf=$conf_dir/slurm.conf
log_dir=/var/log/slurm

ready() {
  # the controller answers and the node accepts jobs (idle, mixed or allocated)
  command -v sinfo >/dev/null 2>&1 || return 1
  local state
  state=$(timeout 10 sinfo -h -n "$host" -o %T 2>/dev/null | head -n1)
  case "$state" in idle*|mix*|alloc*|completing*) return 0 ;; *) return 1 ;; esac
}

if ready; then
  echo "[setup_slurm] Slurm is up on $host ($(sinfo -h -o '%P %D %T' | head -n1))"
  exit 0
fi

[ "$(id -u)" = 0 ] || cannot "it needs root (to install packages and start slurmctld, slurmd and munged); run it as root"
[ "$(uname -s)" = Linux ] || cannot "Slurm needs Linux, this is $(uname -s)"

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || cannot "slurmctld / slurmd / munged are not installed and there is no apt-get to install them (Debian/Ubuntu: apt-get install slurm-wlm munge)"
  echo "[setup_slurm] installing slurm-wlm and munge with apt-get (once per machine)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -q --no-install-recommends slurm-wlm munge >/tmp/setup_slurm_apt.log 2>&1; then
    apt-get update -q >>/tmp/setup_slurm_apt.log 2>&1 || cannot "apt-get update failed (no package repository reachable?): see /tmp/setup_slurm_apt.log"
    apt-get install -y -q --no-install-recommends slurm-wlm munge >>/tmp/setup_slurm_apt.log 2>&1 \
      || cannot "apt-get install slurm-wlm munge failed (no such package on this distribution?): see /tmp/setup_slurm_apt.log"
  fi
fi

# --- munge: the authentication every Slurm daemon and client uses
if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  if command -v mungekey >/dev/null 2>&1; then
    mungekey --create --keyfile=/etc/munge/munge.key >/dev/null 2>&1 || fail "mungekey could not create /etc/munge/munge.key"
  else
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
fi
chown -R munge:munge /etc/munge && chmod 0700 /etc/munge && chmod 0400 /etc/munge/munge.key
mkdir -p /run/munge /var/lib/munge /var/log/munge
chown munge:munge /run/munge /var/lib/munge /var/log/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  runuser -u munge -- /usr/sbin/munged --force || fail "munged did not start (see /var/log/munge/munged.log)"
  for _ in $(seq 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.25; done
  munge -n | unmunge >/dev/null 2>&1 || fail "munged runs but does not answer (see /var/log/munge/munged.log)"
fi

# --- slurm.conf for this host: its CPUs and memory as slurmd itself reports them
cpus=$(nproc)
mem_mb=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
mem_mb=$((mem_mb * 95 / 100))  # slurmd refuses a node that reports less than RealMemory
mkdir -p "$conf_dir" "$log_dir" /var/spool/slurmctld /var/spool/slurmd
want=$(cat <<EOF
# written by tools/setup_slurm.sh (dualopt_mm): a single-node cluster for tests
ClusterName=dualopt
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
JobRequeue=1
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=$log_dir/slurmctld.log
SlurmdLogFile=$log_dir/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
KillWait=10
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
)
changed=0
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$want" ]; then
  printf '%s\n' "$want" > "$conf"
  changed=1
fi
# cgroup.conf is read by some plugins even when unused; an empty one stops the warnings
[ -f "$conf_dir/cgroup.conf" ] || echo "CgroupPlugin=autodetect" > "$conf_dir/cgroup.conf"

running() { pgrep -x "$1" >/dev/null 2>&1; }
if [ "$changed" = 1 ]; then
  # a new configuration: restart the daemons this script started before (by their pid files)
  for d in slurmd slurmctld; do
    if [ -s "/run/$d.pid" ] && kill -0 "$(cat "/run/$d.pid")" 2>/dev/null; then
      kill "$(cat "/run/$d.pid")"
      for _ in $(seq 40); do kill -0 "$(cat "/run/$d.pid")" 2>/dev/null || break; sleep 0.25; done
    fi
  done
fi
running slurmctld || slurmctld || fail "slurmctld did not start (see $log_dir/slurmctld.log)"
running slurmd || slurmd || fail "slurmd did not start (see $log_dir/slurmd.log)"

for _ in $(seq 60); do
  ready && break
  state=$(sinfo -h -n "$host" -o %T 2>/dev/null | head -n1)
  case "$state" in down*|drain*) scontrol update nodename="$host" state=resume >/dev/null 2>&1 ;; esac
  sleep 0.5
done
if ! ready; then
  fail "the node $host is not accepting jobs after 30 s (sinfo: $(sinfo -h -o '%N %T %E' 2>&1 | head -n2)); see $log_dir/slurmctld.log and $log_dir/slurmd.log"
fi
echo "[setup_slurm] Slurm is up on $host ($(sinfo -h -o '%P %D %T' | head -n1))"
