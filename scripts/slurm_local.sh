#!/usr/bin/env bash
# A one-node SLURM cluster on this machine (Debian, as root, no systemd needed), to run
# hydra/launcher=slurm for real: tests/sweeps/test_slurm_real.py and CI use it.
#   scripts/slurm_local.sh        install the packages if missing, configure, start the daemons,
#                                 wait until the node is idle; does nothing when already up
#   scripts/slurm_local.sh stop   stop the daemons (munged, slurmctld, slurmd)
# Jobs share the node by CPU (cons_tres, CR_CPU; task/affinity pins each task to its CPUs);
# memory is not enforced but a job's --mem must fit RealMemory (90 % of this machine's). No
# accounting database: sacct fails, so submitit warns "Bypassing sacct error" and waits for each
# job's result file (it writes one on success, error and time-out). Logs: /var/log/slurm/.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# written by rvqvae scripts/slurm_local.sh"
NODE=$(hostname -s)
TIMEOUT=${SLURM_LOCAL_TIMEOUT:-60}
MUNGE_PID=/run/munge/munged.pid

die() {
    echo "slurm_local: $*" >&2
    exit 1
}
now_ms() { date +%s%3N; }
pid_of() { cat "$1" 2>/dev/null || true; }
alive() { local pid; pid=$(pid_of "$1"); [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; }
node_state() { timeout 5 sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n1 || true; }
healthy() {
    alive "$MUNGE_PID" && alive /run/slurmctld.pid && alive /run/slurmd.pid \
        && [[ $(node_state) =~ ^(idle|mixed|allocated|completing)$ ]]
}
took() { local ms=$(($(now_ms) - $1)); echo "$((ms / 1000)).$((ms % 1000 / 100)) s"; }
kill_wait() {  # the daemon of this pid file, waiting up to 5 s for it to exit
    alive "$1" || return 0
    kill "$(pid_of "$1")" 2>/dev/null || true
    for _ in $(seq 50); do alive "$1" || return 0; sleep 0.1; done
}

stop() {
    kill_wait /run/slurmd.pid
    kill_wait /run/slurmctld.pid
    kill_wait "$MUNGE_PID"
    echo "slurm_local: stopped"
}

write_conf() {
    # this machine's CPU layout as slurmd sees it; RealMemory with a margin so the node never
    # registers with less memory than configured (that would drain it)
    local hw mem
    hw=$(slurmd -C | head -n1 | sed -E 's/^NodeName=[^ ]+ //; s/ RealMemory=[0-9]+//')
    mem=$(($(slurmd -C | sed -nE 's/.*RealMemory=([0-9]+).*/\1/p') * 9 / 10))
    mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
    cat >"$CONF.tmp" <<EOF
$MARK: one node on localhost
ClusterName=rvqvae-local
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SchedulerParameters=sched_interval=2
MinJobAge=60
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$NODE NodeAddr=127.0.0.1 $hw RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    mv "$CONF.tmp" "$CONF"
}

start() {
    local t0
    t0=$(now_ms)
    if command -v sinfo >/dev/null && [[ -f $CONF ]] && healthy; then
        echo "slurm_local: already running, node $NODE $(node_state) (checked in $(took "$t0"))"
        return
    fi
    [[ $(id -u) == 0 ]] || die "needs root to install and start SLURM"
    if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
        || ! command -v munged >/dev/null || ! command -v sinfo >/dev/null; then
        command -v apt-get >/dev/null || die "no apt-get: install slurmctld slurmd munge slurm-client"
        local pkgs=(slurmctld slurmd munge slurm-client)
        export DEBIAN_FRONTEND=noninteractive
        { apt-get install -y -qq --no-install-recommends "${pkgs[@]}" \
            || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; }; \
            } >/tmp/slurm_local_apt.log 2>&1 || die "apt-get install failed, see /tmp/slurm_local_apt.log"
    fi
    if [[ ! -s /etc/munge/munge.key ]]; then
        mkdir -p /etc/munge
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        chown munge:munge /etc/munge/munge.key
        chmod 400 /etc/munge/munge.key
    fi
    if [[ -f $CONF ]] && ! grep -qF "$MARK" "$CONF"; then
        die "$CONF exists and was not written by this script: not overwriting it"
    fi
    write_conf
    mkdir -p /run/munge && chown munge:munge /run/munge
    alive "$MUNGE_PID" || runuser -u munge -- munged || die "munged did not start"
    # a stale daemon from an older config would keep it: restart both on every set-up
    kill_wait /run/slurmctld.pid
    kill_wait /run/slurmd.pid
    slurmctld || die "slurmctld did not start, see /var/log/slurm/slurmctld.log"
    slurmd || die "slurmd did not start, see /var/log/slurm/slurmd.log"
    until healthy; do
        (($(now_ms) - t0 < TIMEOUT * 1000)) \
            || die "node $NODE not idle after ${TIMEOUT} s (state: $(node_state)), see /var/log/slurm/"
        sleep 0.5
    done
    echo "slurm_local: node $NODE $(node_state) ($(sinfo -h -o '%c CPUs, %m MB')), set up in $(took "$t0")"
}

case ${1:-start} in
    start) start ;;
    stop) stop ;;
    *) die "usage: $0 [start|stop]" ;;
esac
