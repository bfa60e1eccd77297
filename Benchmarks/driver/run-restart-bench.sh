#!/bin/bash
# The driver process's restart to enforcing (issue 14: ≤ 200 ms with a release build), in a network
# namespace of its own. Root only; nothing outside the namespace and the temporary directory changes.
#
#   sudo Benchmarks/driver/run-restart-bench.sh [BUILD_DIR] [ROUNDS] [FILTERS]
#   BUILD_DIR  where `ipsecsvc` is (default .build/release; `swift build -c release --product ipsecsvc`)
#   ROUNDS     kill -9 + restart rounds (default 10)
#   FILTERS    filters of the assigned local policy, each a rule of its own (default 1000)
#
# The service runs with a policy assigned and the driver in secure mode; then, with the agent stopped
# (SIGSTOP: nobody but the saved state tells the driver anything), the driver is killed and started
# again ROUNDS times. Per round it prints the driver's own figure (from the start of its `run` to the
# saved table enforced: queues bound with the table, rules rewritten) and the wall time from the spawn
# of the process to the queue bound in the kernel (polled every 2 ms with shell builtins; includes
# `ip netns exec`, exec and loading the runtime), the time to the exec of ipsecsvc, and what the new
# process did until its queue was bound: CPU time, time runnable but waiting for a CPU ("run-queue"), and
# the rest ("other": asleep, blocked in the kernel, waiting for another of its threads), from
# /proc/PID/task/*/schedstat summed over its threads (so threads running in parallel can make "other"
# negative), with the number of threads and the load average.
#
#   SESSION="script 0 -10"  where the restarted driver runs, cycled over the rounds: "script" (default)
#               in this script's session; a number: in a session of its own (setsid, as a systemd
#               service) whose autogroup gets that nice value. With sched_autogroup on (this machine), CPU
#               time is shared between sessions first, so a process's own nice value only counts
#               against its own session; the autogroup's nice counts against everybody's.
#   THREADS=1   also prints each thread's CPU and run-queue time per round
#   STRACE=DIR  runs each restarted driver under `strace -f -tt -e trace=process,network,openat`, one
#               file per round in DIR (a timeline of the restart; strace slows what it traces)
set -euo pipefail
[ -n "${BENCH_TRACE:-}" ] && set -x

build=${1:-.build/release}
rounds=${2:-10}
filters=${3:-1000}
bin=$(realpath "$build/ipsecsvc")
[ -x "$bin" ] || { echo "no $bin: swift build -c release --product ipsecsvc" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "root only (network namespace, NFQUEUE)" >&2; exit 1; }

ns=ipsbench-$$
dir=$(mktemp -d /tmp/ipsecsvc-restart-bench.XXXXXX)
agent=
cleanup() {
    [ -n "$agent" ] && kill -CONT "$agent" 2>/dev/null && kill -TERM "$agent" 2>/dev/null && sleep 2
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

ip netns add "$ns"
ip -n "$ns" link set lo up
in_ns() { ip netns exec "$ns" "$@"; }
mkdir -p "$dir/state" "$dir/run"
cat > "$dir/ipsecsvc.conf" <<EOF
state_dir = $dir/state
socket = $dir/run/control.sock
driver = netfilter
systemd = no
examples = no
EOF

# A local policy with FILTERS block rules (one filter list of one filter each), assigned.
{
    echo "pushd ipsec static"
    echo "add policy name=Bench assign=no"
    echo "add filteraction name=Block action=block"
    for ((i = 0; i < filters; i++)); do
        echo "add filterlist name=L$i"
        echo "add filter filterlist=L$i srcaddr=198.18.$((i / 250 % 250)).$((i % 250 + 1)) dstaddr=me protocol=TCP dstport=$((1000 + i % 60000))"
        echo "add rule name=R$i policy=Bench filterlist=L$i filteraction=Block"
    done
    echo "set policy name=Bench assign=yes"
    echo "popd"
} > "$dir/policy.netsh"
"$bin" netsh --state-dir "$dir/state" -f "$dir/policy.netsh" > /dev/null

# Not through in_ns (a function: `&` would fork a subshell): `ip netns exec` execs, so $! is the program.
ip netns exec "$ns" "$bin" run --config "$dir/ipsecsvc.conf" > "$dir/agent.log" 2>&1 &
agent=$!
mode=
for _ in $(seq 600); do
    mode=$(in_ns "$bin" status --json --socket "$dir/run/control.sock" 2>/dev/null \
        | sed -n 's/^ *"driverMode" *: *"\([a-z]*\)".*/\1/p') || true
    [ "$mode" = secure ] && break
    sleep 0.1
done
[ "$mode" = secure ] || { echo "the service did not reach secure mode:" >&2; cat "$dir/agent.log" >&2; exit 1; }

# Queue 4200 bound in the network namespace of process $1, read without starting a process.
bound_in() {
    local line
    while read -r line; do
        set -- $line
        [ "${1:-}" = 4200 ] && return 0
    done < "/proc/$1/net/netfilter/nfnetlink_queue" 2>/dev/null
    return 1
}
exec {nap}<> <(:)  # a descriptor that never has data: `read -t` on it naps without a process
# Running (not gone, not a zombie of the stopped agent, which cannot reap it).
alive() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* (.*) Z ' "/proc/$1/stat" 2>/dev/null; }
queue_bound() { in_ns cat /proc/net/netfilter/nfnetlink_queue 2>/dev/null | grep -q '^ *4200 '; }
# The driver the agent started (status --json: driverProcess.pid); later the one this script started.
pid=$(in_ns "$bin" status --json --socket "$dir/run/control.sock" \
    | tr -d '\n ' | sed -n 's/.*"driverProcess":{[^}]*"pid":\([0-9]*\).*/\1/p')

# CPU time, run-queue wait (runnable, no CPU) and time slices of process $1 so far, summed over its
# threads, in ms (/proc/PID/task/*/schedstat: run ns, wait ns, slices; with `ip netns exec`'s part, which
# is the same process before its exec).
sched_of() {
    local f run wait slices cpu=0 queued=0 n=0
    for f in /proc/"$1"/task/*/schedstat; do
        read -r run wait slices <"$f" 2>/dev/null || continue
        cpu=$((cpu + run)) queued=$((queued + wait)) n=$((n + slices))
    done
    echo "$((cpu / 1000000)) $((queued / 1000000)) $n"
}
# "name cpu/run-queue ms" of each thread of process $1
threads_of() {
    local t name run wait _ line=""
    for t in /proc/"$1"/task/*; do
        read -r name <"$t/comm" 2>/dev/null && read -r run wait _ <"$t/schedstat" 2>/dev/null || continue
        line+=" $name $((run / 1000000))/$((wait / 1000000))"
    done
    echo "$line"
}
read -r -a sessions <<<"${SESSION:-script}"

kill -STOP "$agent"
echo "restart to enforcing, $filters filters ($(basename "$(dirname "$bin")") build):"
printf '%-6s %-7s %-13s %-14s %-8s %-8s %-9s %-9s %-8s %s\n' round session "driver's own" "spawn → bound" "→ exec" "CPU" \
    "run-queue" "other" "threads" "load"
for ((round = 1; round <= rounds; round++)); do
    [ -n "$pid" ] || { echo "no driver process" >&2; exit 1; }
    kill -KILL "$pid"
    # reaps a driver this script started, or its strace (a zombie passes kill -0)
    { wait "${spawned:-$pid}"; } 2>/dev/null || true
    while alive "$pid" || alive "${spawned:-$pid}" || queue_bound; do sleep 0.005; done
    log="$dir/driver-$round.log"
    start=${EPOCHREALTIME/./}
    wrap=()
    [ -n "${STRACE:-}" ] && wrap=(strace -f -tt -e "trace=process,network,openat" -o "$STRACE/round-$round.txt" --)
    session=${sessions[(round - 1) % ${#sessions[@]}]}
    own_session=()  # setsid does not fork here: a background job of a script leads no process group
    [ "$session" = script ] || own_session=(setsid bash -c 'echo "$0" >/proc/self/autogroup; exec "$@"' "$session")
    "${own_session[@]}" ip netns exec "$ns" "${wrap[@]}" "$bin" driver --exit-with-service --config "$dir/ipsecsvc.conf" > "$log" 2>&1 &
    pid=$! spawned=$!
    # Polled with shell builtins only (a process per poll would take longer than the restart on a
    # loaded machine): /proc/PID/net is the driver's network namespace, 2 ms naps.
    execed=
    until bound_in "$pid"; do
        alive "$pid" || { echo "the driver exited:" >&2; cat "$log" >&2; exit 1; }
        # `ip netns exec` (setns, a new mount namespace, /sys remounted) until it execs ipsecsvc
        [ -z "$execed" ] && read -r comm <"/proc/$pid/comm" 2>/dev/null && [ "$comm" = ipsecsvc ] &&
            execed=${EPOCHREALTIME/./}
        read -r -t 0.002 -u "$nap" _ || true
    done
    now=${EPOCHREALTIME/./}
    if [ -n "${STRACE:-}" ]; then  # the driver is strace's child
        read -r pid _ <"/proc/$spawned/task/$spawned/children" || true  # no newline at its end
        execed=
    fi
    read -r cpu queued slices <<<"$(sched_of "$pid")"
    threads=$(ls "/proc/$pid/task" | wc -l)
    detail=
    [ -z "${THREADS:-}" ] || detail=$(threads_of "$pid")
    wall=$(((now - start) / 1000))
    for _ in $(seq 200); do grep -q "after its start" "$log" && break; sleep 0.01; done
    own=$(sed -n 's/.* \([0-9]*\) ms after its start.*/\1/p' "$log" | head -1)
    printf '%-6s %-7s %-13s %-14s %-8s %-8s %-9s %-9s %-8s %s\n' "$round" "$session" "${own:-?} ms" "≤ $wall ms" \
        "${execed:+$(((execed - start) / 1000)) ms}" "$cpu ms" "$queued ms" "$((wall - cpu - queued)) ms" \
        "$threads" "$(cut -d' ' -f1 /proc/loadavg)"
    [ -z "$detail" ] || echo "       threads (CPU/run-queue ms):$detail"
done
kill -CONT "$agent"
