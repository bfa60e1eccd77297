#!/bin/bash
# The driver process's restart to enforcing (issue 14: ≤ 200 ms with a release build), in a network
# namespace of its own. Root only; nothing outside the namespace and the temporary directory changes.
#
#   sudo Benchmarks/driver/run-restart-bench.sh [BUILD_DIR[,BUILD_DIR2]] [ROUNDS] [FILTERS]
#   BUILD_DIR  where `ipsecsvc` is (default .build/release; `swift build -c release --product ipsecsvc`).
#              Two directories, comma-separated: the restarted driver alternates between the two builds
#              round by round (A B A B ...; the agent and the set-up are the first's), so that two builds are
#              compared in one run under the same load. Each build restarts with a table its own agent
#              saved (so a build with a newer `PolicyWire` version is measured with its own version).
#   ROUNDS     kill -9 + restart rounds (default 10)
#   FILTERS    filters of the assigned local policy (default 1000)
#
# The policy (SETUP=netsh|xml; default netsh up to 10,000 filters, xml above):
#   netsh  one `ipsecsvc netsh -f` script: a block rule per filter (a filter list of one filter each,
#          198.18.x.y → me, TCP, one port), FILTERS rules. Slow beyond 10,000 (the script's set-up, not
#          the driver).
#   xml    `xml-bench generate` (BUILD_DIR/xml-bench, or XMLBENCH=PATH; `swift build -c release --product
#          xml-bench`): one policy of 100 rules, FILTERS/100 filters each (me, hosts, subnets and any; TCP,
#          UDP, ICMP, any; mirrored and not; permit, block and negotiate), the Benchmarks/startup policy,
#          imported with `ipsecsvc policy import --format xml --assign`.
# The namespace has an interface with an address of 198.18.0.0/15, so that `me` resolves and every filter
# compiles (without one, the netsh policy's filters all named `me` and compiled to nothing).
#
# The service runs with the policy assigned and the driver in secure mode; then, with the agent stopped
# (SIGSTOP: nobody but the saved state tells the driver anything), the driver is killed and started
# again ROUNDS times. Per round it prints the driver's own figure (from the start of its `run` to the
# saved table enforced: queues bound with the table, rules rewritten) and the wall time from the spawn
# of the process to the queue bound in the kernel (polled every 2 ms with shell builtins; includes
# `ip netns exec`, exec and loading the runtime), the time to the exec of ipsecsvc, and what the new
# process did until its queue was bound: CPU time, time runnable but waiting for a CPU ("run-queue"), and
# the rest ("other": asleep, blocked in the kernel, waiting for another of its threads), from
# /proc/PID/task/*/schedstat summed over its threads (so threads running in parallel can make "other"
# negative), with the number of threads and the load average. A driver that reports its phases (from the
# start of its `run`: table read and decoded, host read, compiled, queues bound) gets a second line with
# them and "→ run": the spawn to the start of its `run` (exec, loading the libraries and the runtime,
# the command line and the configuration), i.e. spawn → bound minus the driver's own "queues bound".
# The last lines give, per build, the median of each column.
#
#   SESSION="script 0 -10"  where the restarted driver runs, cycled over the rounds: "script" (default)
#               in this script's session; a number: in a session of its own (setsid, as a systemd
#               service) whose autogroup gets that nice value. With sched_autogroup on (this machine), CPU
#               time is shared between sessions first, so a process's own nice value only counts
#               against its own session; the autogroup's nice counts against everybody's.
#   THREADS=1   also prints each thread's CPU and run-queue time per round
#   PERF=DIR    runs each restarted driver under `perf record -g -e cpu-clock` (software clock: this
#               machine has no hardware counters), one file per round in DIR (`perf report -i`)
#   STRACE=DIR  runs each restarted driver under `strace -f -tt -e trace=process,network,openat`, one
#               file per round in DIR (a timeline of the restart; strace slows what it traces)
set -euo pipefail
. "$(dirname "$0")/bench-policy-netsh.sh"  # bench_policy_netsh, shared with ../netsh/run.sh
[ -n "${BENCH_TRACE:-}" ] && set -x

IFS=, read -r -a builds <<<"${1:-.build/release}"
rounds=${2:-10}
filters=${3:-1000}
bins=()
for build in "${builds[@]}"; do
    b=$(realpath "$build/ipsecsvc")
    [ -x "$b" ] || { echo "no $b: swift build -c release --product ipsecsvc" >&2; exit 1; }
    bins+=("$b")
done
bin=${bins[0]}
labels=(A B C D)
[ "$(id -u)" = 0 ] || { echo "root only (network namespace, NFQUEUE)" >&2; exit 1; }
setup=${SETUP:-$([ "$filters" -le 10000 ] && echo netsh || echo xml)}
case "$setup" in
    netsh) ;;
    xml)
        xmlbench=${XMLBENCH:-${builds[0]}/xml-bench}
        [ -x "$xmlbench" ] || { echo "no $xmlbench: swift build -c release --product xml-bench (or XMLBENCH=PATH)" >&2; exit 1; }
        ;;
    *) echo "SETUP is netsh or xml" >&2; exit 2 ;;
esac

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
# An address for `me` (no dummy driver here: a veth pair inside the namespace).
ip -n "$ns" link add "rb$$" type veth peer name "rp$$"
ip -n "$ns" link set "rp$$" up
ip -n "$ns" addr add "198.18.$(($$ % 250)).2/24" dev "rb$$"
ip -n "$ns" link set "rb$$" up
in_ns() { ip netns exec "$ns" "$@"; }
mkdir -p "$dir/state" "$dir/run"
cat > "$dir/ipsecsvc.conf" <<CONF
state_dir = $dir/state
socket = $dir/run/control.sock
driver = netfilter
systemd = no
examples = no
CONF

if [ "$setup" = netsh ]; then
    bench_policy_netsh "$filters" > "$dir/policy.netsh"  # FILTERS block rules, assigned
    "$bin" netsh --state-dir "$dir/state" -f "$dir/policy.netsh" > /dev/null
else
    "$xmlbench" generate "$dir/policy.xml" 100 "$filters" > /dev/null
    "$bin" policy import "$dir/policy.xml" --format xml --assign "Policy 0" --config "$dir/ipsecsvc.conf" > /dev/null
fi

# Starts build $1's agent (which starts its driver) and waits for secure mode; sets agent and status.
start_agent() {
    # Not through in_ns (a function: `&` would fork a subshell): `ip netns exec` execs, so $! is the program.
    ip netns exec "$ns" "$1" run --config "$dir/ipsecsvc.conf" > "$dir/agent.log" 2>&1 &
    agent=$!
    local mode=
    for _ in $(seq 3000); do
        mode=$(in_ns "$1" status --json --socket "$dir/run/control.sock" 2>/dev/null \
            | sed -n 's/^ *"driverMode" *: *"\([a-z]*\)".*/\1/p') || true
        [ "$mode" = secure ] && break
        sleep 0.1
    done
    [ "$mode" = secure ] || { echo "the service did not reach secure mode:" >&2; cat "$dir/agent.log" >&2; exit 1; }
    status=$(in_ns "$1" status --json --socket "$dir/run/control.sock" | tr -d '\n ')
}
driver_of() { sed -n 's/.*"driverProcess":{[^}]*"pid":\([0-9]*\).*/\1/p' <<<"$status"; }

# Two builds may save the table in different `PolicyWire` versions (a newer driver reads the older ones,
# not the reverse): each build's agent saves its own first (the later builds', then killed with their
# driver), and before each round the saved state gets the table of the build about to start, behind the
# state record the last driver wrote (`DriverRuntimeStore`: IPSR, u16, u32 + JSON record, u32 + table).
for ((b = ${#bins[@]} - 1; b >= 1; b--)); do
    start_agent "${bins[b]}"
    cp "$dir/run/driver-table" "$dir/table-$b"
    other=$(driver_of)
    kill -KILL "$agent" "$other"
    wait "$agent" 2>/dev/null || true
    while [ -e "/proc/$other" ]; do sleep 0.01; done
    rm -f "$dir/run/driver-table"
done
start_agent "$bin"
cp "$dir/run/driver-table" "$dir/table-0"
# The offset of the table (its u32 length) in saved state $1.
table_offset() { echo $((10 + $(od -An -t u4 -j 6 -N 4 "$1"))); }
# Puts build $1's table behind the current saved state record.
saved_table_of() {
    local state="$dir/run/driver-table" table="$dir/table-$1"
    { head -c "$(table_offset "$state")" "$state"; tail -c "+$(($(table_offset "$table") + 1))" "$table"; } \
        > "$dir/driver-table.new"
    mv "$dir/driver-table.new" "$state"
}
specific=$(sed -n 's/.*"table.specific-filters":\([0-9]*\).*/\1/p' <<<"$status")

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
pid=$(driver_of)

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
# The median of the numbers on standard input ("?" when there are none).
median() { sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "?" }'; }
read -r -a sessions <<<"${SESSION:-script}"

kill -STOP "$agent"
echo "restart to enforcing, $filters filters ($setup set-up), ${specific:-?} specific filters compiled:"
for ((b = 0; b < ${#bins[@]}; b++)); do echo "  build ${labels[b]}: ${bins[b]}"; done
printf '%-6s %-6s %-7s %-13s %-14s %-8s %-8s %-9s %-9s %-8s %s\n' round build session "driver's own" \
    "spawn → bound" "→ exec" "CPU" "run-queue" "other" "threads" "load"
results="$dir/results"
for ((round = 1; round <= rounds; round++)); do
    [ -n "$pid" ] || { echo "no driver process" >&2; exit 1; }
    kill -KILL "$pid"
    # reaps a driver this script started, or its strace (a zombie passes kill -0)
    { wait "${spawned:-$pid}"; } 2>/dev/null || true
    while alive "$pid" || alive "${spawned:-$pid}" || queue_bound; do sleep 0.005; done
    b=$(((round - 1) % ${#bins[@]}))
    [ ${#bins[@]} = 1 ] || saved_table_of "$b"
    log="$dir/driver-$round.log"
    start=${EPOCHREALTIME/./}
    wrap=()
    [ -n "${STRACE:-}" ] && wrap=(strace -f -tt -e "trace=process,network,openat" -o "$STRACE/round-$round.txt" --)
    [ -n "${PERF:-}" ] && wrap=(perf record -q -g -F 4000 -e cpu-clock -o "$PERF/round-$round.data" --)
    session=${sessions[(round - 1) % ${#sessions[@]}]}
    own_session=()  # setsid does not fork here: a background job of a script leads no process group
    [ "$session" = script ] || own_session=(setsid bash -c 'echo "$0" >/proc/self/autogroup; exec "$@"' "$session")
    "${own_session[@]}" ip netns exec "$ns" "${wrap[@]}" "${bins[b]}" driver --exit-with-service \
        --config "$dir/ipsecsvc.conf" > "$log" 2>&1 &
    pid=$! spawned=$!
    # Polled with shell builtins only (a process per poll would take longer than the restart on a
    # loaded machine): /proc/PID/net is the driver's network namespace, 2 ms naps.
    execed=
    until bound_in "$pid"; do
        alive "$pid" || { echo "the driver exited:" >&2; cat "$log" >&2; exit 1; }
        # `ip netns exec` (setns, a new mount namespace, /sys remounted) until it execs ipsecsvc (or
        # the driver's own executable, ipsecsvc-driver)
        [ -z "$execed" ] && read -r comm <"/proc/$pid/comm" 2>/dev/null && [ "${comm#ipsecsvc}" != "$comm" ] &&
            execed=${EPOCHREALTIME/./}
        read -r -t 0.002 -u "$nap" _ || true
    done
    now=${EPOCHREALTIME/./}
    if [ -n "${STRACE:-}${PERF:-}" ]; then  # the driver is strace's (perf's) child
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
    printf '%-6s %-6s %-7s %-13s %-14s %-8s %-8s %-9s %-9s %-8s %s\n' "$round" "${labels[b]}" "$session" \
        "${own:-?} ms" "≤ $wall ms" "${execed:+$(((execed - start) / 1000)) ms}" "$cpu ms" "$queued ms" \
        "$((wall - cpu - queued)) ms" "$threads" "$(cut -d' ' -f1 /proc/loadavg)"
    # The driver's phases (ms after the start of its run), when it reports them.
    phases=$(sed -n 's/.*after its start (\([^)]*\)).*/\1/p' "$log" | head -1)
    bound=$(sed -n 's/.*queues bound \([0-9]*\).*/\1/p' <<<"$phases")
    torun=
    [ -z "$bound" ] || torun=$((wall - bound))
    [ -z "$phases" ] || echo "       $phases; spawn → run ≤ $torun ms"
    [ -z "$detail" ] || echo "       threads (CPU/run-queue ms):$detail"
    execms=?
    [ -z "$execed" ] || execms=$(((execed - start) / 1000))
    echo "${labels[b]} ${own:-?} $wall $execms $cpu $queued ${torun:-?}" >>"$results"
done
kill -CONT "$agent"
echo "medians            driver's own  spawn → bound  → exec   CPU      run-queue  spawn → run"
for ((b = 0; b < ${#bins[@]}; b++)); do
    row=()
    for column in 2 3 4 5 6 7; do
        row+=("$(awk -v l="${labels[b]}" -v c=$column '$1 == l && $c != "?" { print $c }' "$results" | median)")
    done
    printf '  build %s          %-13s %-14s %-8s %-8s %-10s %s\n' "${labels[b]}" "${row[0]} ms" "${row[1]} ms" \
        "${row[2]} ms" "${row[3]} ms" "${row[4]} ms" "${row[5]} ms"
done
