#!/usr/bin/env bash
# Issue 17's campaign (Benchmarks/README.md, section 7): the real service (release build) in network
# namespaces of its own, killed and restarted while a blocked and a permitted port are probed every 10 ms,
# concurrent dynamic rules, trickling control-socket clients and the .reg reader. Root only. Writes one
# JSON summary and prints a table.
#
#   sudo Benchmarks/campaign/run.sh [-o campaign-summary.json]     the full campaign (several minutes)
#   sudo Benchmarks/campaign/run.sh --smoke -o /tmp/c.json          every part once and briefly (CI)
#   IPSECSVC=path/to/ipsecsvc READERBENCH=path/to/reader-bench      binaries that exist already
#   AGENT_KILLS=20 SERVICE_KILLS=20 BOOTS=5 DYNAMIC_ADDS=40 CONNECTIONS=32 STATUS_ROUNDS=10
#   SIZES="500 2000 10000"                                          the sizes of each part
#   KEEP=1                                                          keep the work directory (logs)
#
# Parts: (a) kill -9 of the agent (`ipsecsvc run`) + restart; (b) kill -9 of the agent and the driver
# process + restart; (c) computer startup: a power cut, new namespaces and an empty /run, `ipsecsvc
# boot`, then `ipsecsvc run`; each with a permitted (22) and a blocked (23, TCP and UDP, by the assigned
# local policy) port probed every 10 ms from the peer namespace, counted at the receiver. (d) concurrent
# `netsh ipsec dynamic add rule`, each then shown and deleted. (e) Benchmarks/control-socket/run.sh in
# the campaign's namespace. (f) Benchmarks/readers/run.sh (the .reg rows).
#
# Everything runs in two namespaces named after this script's PID (ipscamp-h-PID: the service;
# ipscamp-p-PID: the peer), joined by a veth pair in 198.19.0.0/16; the NOTIFY_SOCKET is the script's
# own. The cleanup kills the processes it started, by PID, and whatever is left in its namespaces.
set -euo pipefail
[ -n "${CAMPAIGN_TRACE:-}" ] && set -x
invoked_from=$PWD
cd "$(dirname "$0")/../.."
repo=$PWD

mode=full
out=campaign-summary.json
while [ $# -gt 0 ]; do
    case $1 in
        --smoke) mode=smoke ;;
        -o) out=$2; shift ;;
        *) echo "usage: sudo $0 [--smoke] [-o SUMMARY.json]" >&2; exit 2 ;;
    esac
    shift
done
case $out in /*) ;; *) out=$invoked_from/$out ;; esac
[ "$(id -u)" = 0 ] || { echo "root only (network namespaces, NFQUEUE)" >&2; exit 1; }
if [ "$mode" = smoke ]; then
    defaults=(2 2 1 4 4 2 "200")
else
    defaults=(20 20 5 40 32 10 "500 2000 10000")
fi
agent_kills=${AGENT_KILLS:-${defaults[0]}}
service_kills=${SERVICE_KILLS:-${defaults[1]}}
boots=${BOOTS:-${defaults[2]}}
dynamic_adds=${DYNAMIC_ADDS:-${defaults[3]}}
connections=${CONNECTIONS:-${defaults[4]}}
status_rounds=${STATUS_ROUNDS:-${defaults[5]}}
sizes=${SIZES:-${defaults[6]}}

if [ -z "${IPSECSVC:-}" ] || [ -z "${READERBENCH:-}" ]; then
    swift build -c release --product ipsecsvc >/dev/null
    swift build -c release --product reader-bench >/dev/null
    bin_dir=$(swift build -c release --show-bin-path)
    IPSECSVC=${IPSECSVC:-$bin_dir/ipsecsvc}
    READERBENCH=${READERBENCH:-$bin_dir/reader-bench}
fi
bin=$(realpath "$IPSECSVC")
helper=$repo/Benchmarks/campaign/helper.py

dir=$(mktemp -d /tmp/ipsecsvc-campaign.XXXXXX)
ns_h=ipscamp-h-$$
ns_p=ipscamp-p-$$
link_h=ich$$
link_p=icp$$
subnet=198.19.$(($$ % 250))
host_ip=$subnet.2
peer_ip=$subnet.1
permitted=22
blocked=23
conf=$dir/ipsecsvc.conf
facts=$dir/facts
notify_log=$dir/notify.log
agent=""       # the running `ipsecsvc run` (a child of this script: `ip netns exec` execs it)
notifier=""    # the NOTIFY_SOCKET listener
helpers=()     # the sender and receiver running now (children of this script, not yet reaped)

fact() { echo "$*" >>"$facts"; }
say() { echo "campaign: $*" >&2; }

# Running, and not a zombie (a killed driver may wait for a parent that does not reap it).
alive() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* (.*) Z ' "/proc/$1/stat" 2>/dev/null; }
# Whether PID is a process of this campaign: its command line names the work directory.
ours() { [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "$dir"; }

remove_network() {
    for ns in "$ns_h" "$ns_p"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    ip link del "$link_h" 2>/dev/null || true
}

cleanup() {
    set +e
    if [ -n "$agent" ] && alive "$agent"; then
        kill -TERM "$agent"
        for _ in $(seq 100); do alive "$agent" || break; sleep 0.1; done
    fi
    for pid in "${helpers[@]}" $notifier; do kill -TERM "$pid" 2>/dev/null; done
    remove_network
    if [ -n "${KEEP:-}" ]; then say "work directory kept: $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Namespaces of earlier campaigns whose script died before its cleanup.
for ns in $(ip netns list | awk '/^ipscamp-[hp]-/ {print $1}'); do
    owner=${ns#ipscamp-?-}
    if [ "$owner" != "$$" ] && ! kill -0 "$owner" 2>/dev/null; then
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    fi
done

setup_network() {
    ip netns add "$ns_h"
    ip netns add "$ns_p"
    ip link add "$link_h" type veth peer name "$link_p"
    ip link set "$link_h" netns "$ns_h"
    ip link set "$link_p" netns "$ns_p"
    ip -n "$ns_h" addr add "$host_ip/24" dev "$link_h"
    ip -n "$ns_p" addr add "$peer_ip/24" dev "$link_p"
    ip -n "$ns_h" link set lo up
    ip -n "$ns_p" link set lo up
    ip -n "$ns_h" link set "$link_h" up
    ip -n "$ns_p" link set "$link_p" up
}

in_host() { ip netns exec "$ns_h" "$@"; }
service_command() { in_host "$bin" "$@" --config "$conf"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

fail() {
    say "FAILED: $*"
    for log in "$dir"/agent.log "$dir"/state/ipsecsvc-driver.log; do
        [ -f "$log" ] && { echo "== $log" >&2; tail -n 30 "$log" >&2; }
    done
    exit 1
}

# Starts `ipsecsvc run` in the host namespace with the campaign's NOTIFY_SOCKET and waits for READY=1;
# records the time from the spawn to READY as PART.ready_ms.
start_agent() {
    local part=$1 before start ready
    before=$(grep -c 'READY=1' "$notify_log" || true)
    start=$(date +%s%N)
    NOTIFY_SOCKET=$dir/notify.sock ip netns exec "$ns_h" "$bin" run --config "$conf" >>"$dir/agent.log" 2>&1 &
    agent=$!
    for _ in $(seq 6000); do
        [ "$(grep -c 'READY=1' "$notify_log" || true)" -gt "$before" ] && break
        alive "$agent" || { fact "$part.failed[] agent exited"; fail "the agent exited before READY=1"; }
        sleep 0.01
    done
    [ "$(grep -c 'READY=1' "$notify_log" || true)" -gt "$before" ] || {
        fact "$part.failed[] no READY"
        fail "no READY=1 within 60 s"
    }
    ready=$(grep 'READY=1' "$notify_log" | tail -n 1 | awk -v s="$start" '{ printf "%d", $1 * 1000 - s / 1000000 }')
    fact "$part.ready_ms[] $ready"
}

# kill -9 of the agent (a child of this script: reaped here, so its PID stays ours until then).
kill_agent() {
    [ -n "$agent" ] || return 0
    kill -KILL "$agent" 2>/dev/null || true
    wait "$agent" 2>/dev/null || true
    agent=""
}

# The driver process as `status --json` reports it.
driver_pid() {
    service_command status --json 2>/dev/null | tr -d '\n ' \
        | sed -n 's/.*"driverProcess":{[^}]*"pid":\([0-9]*\).*/\1/p'
}

# kill -9 of PID when it is this campaign's, and wait until it is gone.
kill_ours() {
    local pid=$1
    ours "$pid" || fail "process $pid is not the campaign's"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1000); do alive "$pid" || return 0; sleep 0.01; done
    fail "process $pid survived kill -9"
}

# Probes from the peer namespace, counted by a receiver in the host namespace; NAME's counts end up
# in NAME.sent.json and NAME.received.json.
receiver=""
sender=""
start_probes() {
    local part=$1 name=$2
    ip netns exec "$ns_h" python3 "$helper" receive --ports "$permitted,$blocked" \
        --out "$dir/$name.received.json" >"$dir/$name.receive.log" 2>&1 &
    receiver=$!
    helpers+=("$receiver")
    for _ in $(seq 1000); do grep -q listening "$dir/$name.receive.log" && break; sleep 0.01; done
    grep -q listening "$dir/$name.receive.log" || fail "the receiver did not start: $(cat "$dir/$name.receive.log")"
    ip netns exec "$ns_p" python3 "$helper" send --to "$host_ip" --ports "$permitted,$blocked" \
        --out "$dir/$name.sent.json" >"$dir/$name.send.log" 2>&1 &
    sender=$!
    helpers+=("$sender")
    for _ in $(seq 1000); do grep -q sending "$dir/$name.send.log" && break; sleep 0.01; done
    grep -q sending "$dir/$name.send.log" || fail "the sender did not start: $(cat "$dir/$name.send.log")"
    fact "$part.probe[] $name"
}

stop_probes() {
    kill -TERM "$sender"
    wait "$sender" || fail "the sender failed: $(cat "$dir"/*.send.log)"
    sleep 0.3  # the last datagrams and handshakes reach the receiver
    kill -TERM "$receiver"
    wait "$receiver" || fail "the receiver failed: $(cat "$dir"/*.receive.log)"
    helpers=()
}

# --- set-up: network, configuration, an assigned local policy blocking TCP and UDP 23 -------------
setup_network
mkdir -p "$dir/state" "$dir/run"
cat >"$conf" <<EOF
state_dir = $dir/state
socket = $dir/run/control.sock
systemd = no
driver = netfilter
examples = no
ike = none
stop_timeout = 10
EOF
cat >"$dir/policy.netsh" <<EOF
pushd ipsec static
add policy name=Campaign assign=no
add filteraction name=Block action=block
add filterlist name=Blocked
add filter filterlist=Blocked srcaddr=any dstaddr=me protocol=TCP dstport=$blocked
add filter filterlist=Blocked srcaddr=any dstaddr=me protocol=UDP dstport=$blocked
add rule name=BlockPort policy=Campaign filterlist=Blocked filteraction=Block
set policy name=Campaign assign=yes
popd
EOF
"$bin" netsh --config "$conf" -f "$dir/policy.netsh" >"$dir/policy.log" 2>&1 || fail "$(cat "$dir/policy.log")"
fact "commit $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
fact "ipsecsvc $bin"
fact "mode $mode"
fact "started $(date -u +%FT%TZ)"
fact "permitted_port $permitted"
fact "blocked_port $blocked"

python3 "$helper" notify "$dir/notify.sock" "$notify_log" &
notifier=$!
touch "$notify_log"
for _ in $(seq 500); do [ -S "$dir/notify.sock" ] && break; sleep 0.01; done

start_agent setup

# --- (a) kill -9 of the agent ------------------------------------------------------------------
say "(a) $agent_kills x kill -9 of the agent + restart"
start_probes a a
sleep 0.3
for _ in $(seq "$agent_kills"); do
    kill_agent
    start_agent a
    sleep 0.1
done
stop_probes

# --- (b) kill -9 of the agent and the driver ----------------------------------------------------
say "(b) $service_kills x kill -9 of agent and driver + restart"
start_probes b b
sleep 0.3
for _ in $(seq "$service_kills"); do
    driver=$(driver_pid)
    [ -n "$driver" ] || fail "status names no driver process"
    kill_agent
    kill_ours "$driver"
    start_agent b
    sleep 0.1
done
stop_probes

# --- (c) computer startup: boot, then run ------------------------------------------------------
say "(c) $boots x ipsecsvc boot + start"
for round in $(seq "$boots"); do
    # A power cut: every process of the service dies, the kernel's rules and connections and /run go.
    kill_agent
    remove_network
    rm -rf "$dir/run"
    mkdir -p "$dir/run"
    setup_network
    start=$(now_ms)
    service_command boot >"$dir/boot-$round.log" 2>&1 || fail "ipsecsvc boot: $(cat "$dir/boot-$round.log")"
    fact "c.boot_ms[] $(($(now_ms) - start))"
    fact "c.boot_output[] $(tail -n 1 "$dir/boot-$round.log")"
    start_probes c "c$round"
    start_agent c
    sleep 0.3
    stop_probes
done

# --- (d) concurrent dynamic rules --------------------------------------------------------------
say "(d) $dynamic_adds concurrent netsh ipsec dynamic add rule"
ipsecsvc_netsh() { in_host "$bin" netsh --config "$conf" ipsec dynamic "$@"; }
ipsecsvc_netsh add mmpolicy name=CampaignMM >"$dir/d-mmpolicy.log" 2>&1 || fail "$(cat "$dir/d-mmpolicy.log")"
adds=()
start=$(now_ms)
for i in $(seq "$dynamic_adds"); do
    (
        ipsecsvc_netsh add rule "srcaddr=198.18.77.$i" dstaddr=198.18.0.10 mmpolicy=CampaignMM \
            actioninbound=block actionoutbound=block >"$dir/d-add-$i.log" 2>&1
        echo $? >"$dir/d-add-$i.rc"
    ) &
    adds+=("$!")
done
for pid in "${adds[@]}"; do wait "$pid" || true; done
fact "d.wall_ms $(($(now_ms) - start))"
fact "d.requested $dynamic_adds"
fact "d.succeeded $(cat "$dir"/d-add-*.rc | grep -cx 0 || true)"
ipsecsvc_netsh show rule >"$dir/d-show.log" 2>&1 || true
shown=0
deleted=0
left=0
for i in $(seq "$dynamic_adds"); do
    grep -qF "198.18.77.$i (" "$dir/d-show.log" && shown=$((shown + 1))
    ipsecsvc_netsh delete rule "srcaddr=198.18.77.$i" dstaddr=198.18.0.10 >>"$dir/d-delete.log" 2>&1 \
        && deleted=$((deleted + 1))
done
ipsecsvc_netsh show rule >"$dir/d-after.log" 2>&1 || true
for i in $(seq "$dynamic_adds"); do grep -qF "198.18.77.$i (" "$dir/d-after.log" && left=$((left + 1)); done
fact "d.shown $shown"
fact "d.deleted $deleted"
fact "d.left $left"

# The service stops gracefully (the driver exits with it).
kill -TERM "$agent"
wait "$agent" || true
agent=""

# --- (e) trickling control-socket connections --------------------------------------------------
say "(e) $connections trickling connections, root's status"
trickle=$repo/Benchmarks/control-socket/run.sh
if [ -x "$trickle" ]; then
    ip netns exec "$ns_h" env IPSECSVC="$bin" CONNECTIONS="$connections" ROUNDS="$status_rounds" \
        "$trickle" >"$dir/e.log" 2>&1 || fail "control-socket benchmark: $(cat "$dir/e.log")"
    times=$(sed -n 's/.*status time, ms: *best \([0-9]*\), median \([0-9]*\), worst \([0-9]*\).*/\1 \2 \3/p' "$dir/e.log")
    failed=$(sed -n 's/.*failed: \([0-9]*\).*/\1/p' "$dir/e.log" | head -n 1)
    [ -n "$times" ] && [ -n "$failed" ] || fail "unreadable control-socket output: $(cat "$dir/e.log")"
    read -r best median worst <<<"$times"
    fact "e.connections $connections"
    fact "e.rounds $status_rounds"
    fact "e.failed $failed"
    fact "e.best_ms $best"
    fact "e.median_ms $median"
    fact "e.worst_ms $worst"
else
    fact "e.skipped Benchmarks/control-socket/run.sh is not on this branch yet"
fi

# --- (f) .reg read time ------------------------------------------------------------------------
say "(f) policy file readers at $sizes filters"
READERBENCH=$READERBENCH SIZES=$sizes "$repo/Benchmarks/readers/run.sh" >"$dir/f.log" 2>&1 \
    || fail "readers benchmark: $(cat "$dir/f.log")"
awk 'NR > 1 && NF == 6' "$dir/f.log" | while read -r line; do fact "f.read[] $line"; done

fact "finished $(date -u +%FT%TZ)"
python3 "$helper" summary "$facts" "$dir/summary.json"
cp "$dir/summary.json" "$out"
say "summary: $out"
