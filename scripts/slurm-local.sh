#!/usr/bin/env bash
# slurm-local.sh — run a throw-away single-node Slurm cluster (munged +
# slurmctld + slurmd) for integration tests. Everything (key, sockets, conf,
# state, logs, pid files) lives in one state dir; nothing under /etc is used.
#
#   scripts/slurm-local.sh start    # start (or reuse) the cluster; prints export lines
#   scripts/slurm-local.sh env      # print the export lines again
#   scripts/slurm-local.sh status   # exit 0 iff the cluster answers `sinfo`
#   scripts/slurm-local.sh stop     # stop everything it started (idempotent)
#
# Typical use:  eval "$(scripts/slurm-local.sh start)"
# Log messages go to stderr; only the export lines go to stdout.
#
# It does not install anything. Needs (Debian/Ubuntu): apt-get install -y slurm-wlm munge
# Must run as root (SlurmUser=root keeps the setup free of users and permissions).
# There is no slurmdbd, so `sacct` does not work: use `squeue` while a job is
# alive and `scontrol show job ID` (kept for MinJobAge seconds after the end).
# `start` on a running cluster reuses it (settings below are then ignored);
# otherwise it wipes the state dir and starts afresh (job ids restart at 1).
# Batch scripts should `exec` their command: on scancel / time limit Slurm sends
# SIGCONT+SIGTERM to the job's processes, then SIGKILL after KillWait (5 s).
#
# Settings (environment):
#   SLURM_LOCAL_DIR        state dir                  [/tmp/adalab-slurm]
#   SLURM_LOCAL_CTLD_PORT  slurmctld port             [6817]
#   SLURM_LOCAL_SLURMD_PORT slurmd port               [6818]
#   SLURM_LOCAL_TIMEOUT    seconds to wait in start   [30]
#   SLURM_LOCAL_CPUS       CPUs the node advertises   [real count, from `slurmd -C`]
#                          (more than the real count is allowed: lets a 2-core CI
#                          box run e.g. `--array=...%4` with 4 tasks at once)
set -euo pipefail

DIR="${SLURM_LOCAL_DIR:-/tmp/adalab-slurm}"
CTLD_PORT="${SLURM_LOCAL_CTLD_PORT:-6817}"
SLURMD_PORT="${SLURM_LOCAL_SLURMD_PORT:-6818}"
TIMEOUT="${SLURM_LOCAL_TIMEOUT:-30}"
CONF="$DIR/slurm.conf"
MUNGE_SOCKET="$DIR/munge/munge.socket"
# The node is named after the short hostname but always reached at 127.0.0.1,
# so it works even when the hostname does not resolve.
NODE="$(hostname -s 2>/dev/null || hostname)"

# Pid file of a daemon (munged, slurmctld, slurmd).
pidfile() { echo "$DIR/$1.pid"; }

log() { echo "slurm-local: $*" >&2; }
die() { log "error: $*"; exit 1; }

# Every Slurm client call goes through here so it reads our conf.
sl() { SLURM_CONF="$CONF" "$@"; }

# pid of a running daemon we started, or nothing (checks the pid is alive and
# really is that program, so a stale pid file or a reused pid is ignored).
running_pid() {
    local name="$1" f pid comm
    f="$(pidfile "$name")"
    [[ -r "$f" ]] || return 1
    pid="$(tr -dc '0-9' <"$f")"
    [[ -n "$pid" ]] && alive "$pid" || return 1
    comm="$(cat "/proc/$pid/comm" 2>/dev/null || true)"
    [[ "$comm" == "$name"* ]] || return 1
    echo "$pid"
}

# alive PID: the process exists and is not a zombie.
alive() {
    local state
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
    [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# PID and all its descendants (a snapshot), one per line.
tree() {
    local pids="$1" all="$1" next
    while [[ -n "$pids" ]]; do
        next="$(ps -e -o pid=,ppid= | awk -v p=" $pids " 'index(p, " " $2 " ") {print $1}' | tr '\n' ' ')"
        all="$all $next"
        pids="${next% }"
    done
    tr ' ' '\n' <<<"$all" | sed '/^$/d'
}

print_env() {
    echo "export SLURM_CONF=$CONF"
}

cluster_answers() {
    [[ -r "$CONF" ]] && sl timeout 10 sinfo -h >/dev/null 2>&1
}

check_prereqs() {
    [[ "$(id -u)" -eq 0 ]] || die "must run as root (the local cluster uses SlurmUser=root)"
    local missing=() b
    for b in munged slurmctld slurmd slurmstepd sinfo srun sbatch squeue scontrol; do
        command -v "$b" >/dev/null 2>&1 || [[ -x "/usr/sbin/$b" ]] || missing+=("$b")
    done
    if ((${#missing[@]})); then
        die "missing programs: ${missing[*]} — install them first: apt-get install -y slurm-wlm munge"
    fi
}

# Absolute path of a daemon (they live in /usr/sbin, which may not be in PATH).
bin() { command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"; }

write_conf() {
    local hw cpus mem
    # `slurmd -C` prints the real hardware line: NodeName=... CPUs=... RealMemory=...
    hw="$("$(bin slurmd)" -C | head -n1)"
    cpus="$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$hw")"
    mem="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")"
    [[ -n "$cpus" && -n "$mem" ]] || die "cannot parse 'slurmd -C' output: $hw"
    local overrides=""
    if [[ -n "${SLURM_LOCAL_CPUS:-}" && "$SLURM_LOCAL_CPUS" != "$cpus" ]]; then
        [[ "$SLURM_LOCAL_CPUS" =~ ^[1-9][0-9]*$ ]] || die "SLURM_LOCAL_CPUS must be a positive integer"
        cpus="$SLURM_LOCAL_CPUS"
        overrides="SlurmdParameters=config_overrides"  # trust slurm.conf, not the hardware
    fi
    # Leave a little slack so a small drift in reported memory never drains the node.
    mem=$((mem > 1024 ? mem - 256 : mem))
    cat >"$CONF" <<EOF
# Generated by scripts/slurm-local.sh — single-node test cluster.
ClusterName=adalab
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root

# Talk to our own munged, not the system one.
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge

# Everything under the state dir.
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$(pidfile slurmctld)
SlurmdPidFile=$(pidfile slurmd)
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info

# No cgroups, no accounting database.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
MpiDefault=none

# Scheduling: share the node's CPUs between jobs.
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MaxArraySize=10001
MaxJobCount=20000

# Fast turnaround for tests.
KillWait=5
MinJobAge=600
InactiveLimit=0
ReturnToService=2
SlurmdTimeout=60
SlurmctldTimeout=60
$overrides

NodeName=$NODE NodeAddr=127.0.0.1 NodeHostname=$NODE CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
}

start_munged() {
    mkdir -p "$DIR/munge"
    chmod 0755 "$DIR/munge"   # socket must be reachable by any user
    # A fresh 1 KiB key per cluster; only munged and Slurm on this host use it.
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
    chmod 0400 "$DIR/munge/munge.key"
    # --force: munged is picky about root and about /tmp-style parent dirs.
    "$(bin munged)" --force --origin=127.0.0.1 \
        --key-file="$DIR/munge/munge.key" \
        --socket="$MUNGE_SOCKET" \
        --pid-file="$(pidfile munged)" \
        --log-file="$DIR/log/munged.log" \
        --seed-file="$DIR/munge/munged.seed" \
        || die "munged failed to start; see $DIR/log/munged.log"
    wait_for "munged socket" test -S "$MUNGE_SOCKET"
}

# wait_for DESCRIPTION CMD...: retry CMD every 0.5 s until it succeeds or TIMEOUT.
wait_for() {
    local what="$1"; shift
    local deadline=$((SECONDS + TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || { log "timed out waiting for $what"; return 1; }
        sleep 0.5
    done
}

node_idle() {
    local st
    st="$(sl sinfo -h -n "$NODE" -o %t 2>/dev/null)" || return 1
    [[ "$st" == idle* || "$st" == mix* || "$st" == alloc* ]]
}

show_logs() {
    local f
    for f in "$DIR"/log/*.log; do
        [[ -r "$f" ]] || continue
        log "---- tail of $f"
        tail -n 20 "$f" >&2 || true
    done
}

cmd_start() {
    check_prereqs
    # Reuse a healthy cluster started earlier from the same state dir.
    if running_pid munged >/dev/null && running_pid slurmctld >/dev/null \
        && running_pid slurmd >/dev/null && cluster_answers; then
        log "cluster already running (state dir $DIR); reusing it"
        print_env
        return 0
    fi
    # Anything half-running or left over from a previous run: stop and wipe.
    cmd_stop >/dev/null
    rm -rf "$DIR"
    mkdir -p "$DIR"/{state,spool,log,munge}
    chmod 0755 "$DIR"

    local t0=$SECONDS out
    start_munged
    write_conf
    "$(bin slurmctld)" -f "$CONF" -i \
        || { show_logs; die "slurmctld failed to start"; }
    "$(bin slurmd)" -f "$CONF" -N "$NODE" \
        || { show_logs; die "slurmd failed to start"; }

    if ! wait_for "node $NODE to be idle" node_idle; then
        sl sinfo -N -l >&2 || true
        show_logs
        die "cluster did not come up"
    fi
    # Smoke test: a real job step must run end to end.
    if ! out="$(sl timeout "$TIMEOUT" srun -N1 -n1 -t 1 -J slurm-local-smoke echo ok 2>&1)" \
        || [[ "$out" != *ok* ]]; then
        log "smoke-test srun failed: $out"
        show_logs
        die "cluster is up but cannot run jobs"
    fi
    log "cluster up in $((SECONDS - t0)) s: node $NODE, partition debug, state dir $DIR"
    log "no slurmdbd: use squeue / 'scontrol show job ID' instead of sacct"
    print_env
}

# Kill one daemon by its pid file: TERM, then KILL after 10 s.
stop_daemon() {
    local name="$1" pid i
    pid="$(running_pid "$name")" || { rm -f "$(pidfile "$name")"; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        log "$name ($pid) ignored SIGTERM; killing"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$(pidfile "$name")"
    log "stopped $name ($pid)"
}

# slurmstepd processes (one per running job step) outlive slurmd. Find ours by
# the unix sockets they listen on inside our spool dir.
our_stepds() {
    local inodes pid fd
    [[ -d "$DIR/spool" ]] || return 0
    inodes="$(awk -v d="$DIR/spool/" 'index($8, d) == 1 {print $7}' /proc/net/unix 2>/dev/null | sort -u)"
    [[ -n "$inodes" ]] || return 0
    for pid in $(pgrep -x slurmstepd 2>/dev/null || true); do
        for fd in /proc/"$pid"/fd/*; do
            if [[ "$(readlink "$fd" 2>/dev/null)" =~ ^socket:\[([0-9]+)\]$ ]] \
                && grep -qx "${BASH_REMATCH[1]}" <<<"$inodes"; then
                echo "$pid"
                break
            fi
        done
    done
}

cmd_stop() {
    local i pids pid
    # Cancel jobs first so slurmstepd kills the job processes itself.
    if running_pid slurmctld >/dev/null && cluster_answers; then
        sl scancel --quiet --user=root 2>/dev/null || true
        for ((i = 0; i < 40; i++)); do
            [[ -z "$(sl squeue -h -t running,completing,suspended -o %i 2>/dev/null)" ]] && break
            sleep 0.5
        done
    fi
    stop_daemon slurmd
    stop_daemon slurmctld
    # Any step daemons still alive (e.g. slurmctld was already gone): kill them
    # and their job processes.
    pids="$(our_stepds)"
    if [[ -n "$pids" ]]; then
        log "killing leftover slurmstepd: $pids"
        # shellcheck disable=SC2046  # word splitting intended
        kill -KILL $(for pid in $pids; do tree "$pid"; done) 2>/dev/null || true
    fi
    stop_daemon munged
    rm -f "$MUNGE_SOCKET" "$MUNGE_SOCKET.lock"
    log "stopped (state dir $DIR kept for its logs)"
}

cmd_status() {
    if cluster_answers; then
        sl sinfo >&2
        return 0
    fi
    log "cluster not answering (state dir $DIR)"
    return 1
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    env) print_env ;;
    *)
        echo "usage: $0 {start|stop|status|env}" >&2
        exit 2
        ;;
esac
