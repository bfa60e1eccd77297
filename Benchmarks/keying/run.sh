#!/usr/bin/env bash
# The keying benchmark (issue 11; docs/keying.md, "Performance"). Root only; everything happens in
# network namespaces it creates (198.18.61.0/24 and 198.18.62.0/24) with charon-systemd instances of
# its own, and is removed at the end.
#
#  1. First packet → first protected packet. Two beds of two namespaces each, one charon-systemd per
#     namespace (kernel-libipsec), the peer configured as a Windows Server 2003 peer (IKEv1 main mode,
#     PSK, 3DES-SHA1-MODP1024 / ESP 3DES-SHA1) with a UDP echo behind a rule that drops clear datagrams.
#     Bed A: ipsecsvc (netfilter driver, ike_datapath = libipsec) with a Require Security rule made by
#     netsh; its first datagram starts the negotiation. Bed B: no ipsecsvc, the same proposals loaded
#     with swanctl, the negotiation started with `swanctl --initiate` at the first datagram (B), and,
#     for reference, with vici `initiate` on a connection opened beforehand (C: charon's own time, no
#     process start). Rounds alternate A, B, C, A, B, C, … so all see the same load; each round tears
#     the SAs down first. Figure: median(A) / median(B), target <= 1.2; median(A) - median(C) is what
#     ipsecsvc adds to the negotiation itself.
#  2. Loading N peers' negotiate rules into charon through the keying engine (target: 1,000 in <= 1 s),
#     then changing one rule (target: that rule's connection is the only thing loaded again).
#
#   Benchmarks/keying/run.sh               # release build; 15 rounds each, 1,000 peers, 3 load rounds
#   ROUNDS=5 PEERS=200 Benchmarks/keying/run.sh
#   Benchmarks/keying/run.sh --smoke       # a quick check that it works: debug build, 1 round each, 20 peers, no targets
#
# BIN: a directory with ipsecsvc and ipsecsvc-keying-bench to use instead of building.
set -uo pipefail
cd "$(dirname "$0")/../.."

SMOKE=
ROUNDS=${ROUNDS:-15}
PEERS=${PEERS:-1000}
LOAD_ROUNDS=${LOAD_ROUNDS:-3}
if [ "${1:-}" = "--smoke" ]; then SMOKE=1 ROUNDS=1 PEERS=20 LOAD_ROUNDS=1; fi
fail() { echo "keying bench: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (network namespaces)"
[ -e /dev/net/tun ] || fail "needs /dev/net/tun (kernel-libipsec)"
for tool in /usr/sbin/charon-systemd swanctl ip iptables; do
    command -v "$tool" >/dev/null || fail "$tool is missing (scripts/run-local.sh install-deps installs it)"
done
if [ -z "${BIN:-}" ]; then
    if [ -n "$SMOKE" ]; then
        swift build --product ipsecsvc >/dev/null && swift build --product ipsecsvc-keying-bench >/dev/null ||
            fail "the debug build failed"
        BIN=$(swift build --show-bin-path)
    else
        swift build -c release --product ipsecsvc >/dev/null &&
            swift build -c release --product ipsecsvc-keying-bench >/dev/null || fail "the release build failed"
        BIN=$(swift build -c release --show-bin-path)
    fi
fi
BIN=$(cd "$BIN" && pwd)
BENCH=$BIN/ipsecsvc-keying-bench

ID=$$
WORK=$(mktemp -d /tmp/ipsecsvc-keybench-XXXXXX)
PORT=9
PIDS=()
NAMESPACES=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    for ns in "${NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

# Starts a background process (its PID is remembered for the clean-up): NAMESPACE LOG COMMAND...
spawn() {
    local ns=$1 log=$2
    shift 2
    ip netns exec "$ns" "$@" </dev/null >"$log" 2>&1 &
    PIDS+=($!)
}

# One charon-systemd (kernel-libipsec, its own sockets and log, short retransmissions): NAME NAMESPACE
start_charon() {
    local dir=$WORK/$1
    mkdir -p "$dir"
    cat >"$dir/strongswan.conf" <<EOF
charon-systemd { journal { default = -1 } }
charon {
    load = random nonce aes sha1 sha2 md5 hmac gcrypt gmp pem pkcs1 x509 pubkey kernel-libipsec kernel-netlink socket-default vici error-notify updown
    retransmit_timeout = 1.0
    retransmit_base = 1.8
    retransmit_tries = 3
    install_routes = yes
    routing_table = 220
    routing_table_prio = 220
    plugins {
        vici { socket = unix://$dir/charon.vici }
        kernel-libipsec { allow_peer_ts = yes }
        kernel-netlink { fwmark = !0x42 }
        socket-default { fwmark = 0x42 }
        error-notify { socket = unix://$dir/charon.enfy }
    }
    filelog { main { path = $dir/charon.log
        default = 1 } }
}
swanctl { socket = unix://$dir/charon.vici
    load = random nonce pem pkcs1 pkcs8 x509 pubkey }
EOF
    spawn "$2" "$dir/out" env STRONGSWAN_CONF="$dir/strongswan.conf" /usr/sbin/charon-systemd
    for _ in $(seq 200); do sw "$1" --stats >/dev/null 2>&1 && return; sleep 0.1; done
    fail "charon $1 did not start: $(cat "$dir/out" "$dir/charon.log" 2>/dev/null | tail -5)"
}
sw() { local name=$1; shift; STRONGSWAN_CONF=$WORK/$name/strongswan.conf swanctl "$@"; }

# A swanctl.conf as a Windows Server 2003 peer has it (main mode, PSK, its default offers): NAME LOCAL REMOTE
windows_conf() {
    cat >"$WORK/$1/swanctl.conf" <<EOF
connections {
    base {
        version = 1
        aggressive = no
        local_addrs = $2
        remote_addrs = $3
        proposals = 3des-sha1-modp1024, 3des-md5-modp1024, des-sha1-modp768, des-md5-modp768
        reauth_time = 28800
        dpd_delay = 0
        local { auth = psk
            id = $2 }
        remote { auth = psk
            id = $3 }
        children {
            host {
                mode = tunnel
                local_ts = $2/32
                remote_ts = $3/32
                esp_proposals = 3des-sha1, 3des-md5
                start_action = none
            }
        }
    }
}
secrets { ike-base { id-local = $2
    id-remote = $3
    secret = "bench-psk" } }
EOF
    sw "$1" --load-all --noprompt --file "$WORK/$1/swanctl.conf" >"$WORK/$1/load.log" 2>&1 ||
        fail "swanctl could not load $1's connection: $(cat "$WORK/$1/load.log")"
}

# A bed: two namespaces joined by a veth pair, a charon in each, the peer's as Windows, the echo
# behind a rule that drops clear datagrams. NAME SUBNET (the third octet)
make_bed() {
    local name=$1 host=198.18.$2.2 peer=198.18.$2.1 nh=ikb$1h-$ID np=ikb$1p-$ID
    ip netns add "$nh" && ip netns add "$np" || fail "ip netns add failed"
    NAMESPACES+=("$nh" "$np")
    ip link add "ikb$1h$ID" netns "$nh" type veth peer name "ikb$1p$ID" netns "$np"
    ip -n "$nh" addr add "$host/24" dev "ikb$1h$ID"
    ip -n "$np" addr add "$peer/24" dev "ikb$1p$ID"
    for ns in "$nh" "$np"; do ip -n "$ns" link set lo up; done
    ip -n "$nh" link set "ikb$1h$ID" up
    ip -n "$np" link set "ikb$1p$ID" up
    start_charon "$name-host" "$nh"
    start_charon "$name-peer" "$np"
    windows_conf "$name-peer" "$peer" "$host"
    ip netns exec "$np" iptables -A INPUT -p udp --dport $PORT ! -i ipsec0 -j DROP
    spawn "$np" "$WORK/$name-echo.log" "$BENCH" echo $PORT
}

# Waits until neither charon of bed NAME holds an IKE SA, after terminating CONNECTION on its host.
settle() {
    sw "$1-host" --terminate --ike "$2" --timeout 5 >/dev/null 2>&1
    for side in host peer; do
        for _ in $(seq 100); do
            sw "$1-$side" --list-sas 2>/dev/null | grep -q "ESTABLISHED\|CONNECTING\|INSTALLED" || break
            sleep 0.1
        done
    done
    # Past the driver's request limiter (one request per peer and filter every 500 ms).
    sleep 0.6
}

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

make_bed a 61
make_bed b 62
windows_conf b-host 198.18.62.2 198.18.62.1
NSA=ikbah-$ID NSB=ikbbh-$ID

# ipsecsvc in bed A's host namespace, with a Require Security rule for the peer made by netsh.
cat >"$WORK/ipsecsvc.conf" <<EOF
state_dir = $WORK/state
socket = $WORK/control.sock
systemd = no
driver = netfilter
stop_timeout = 10
examples = no
ike = strongswan
ike_vici_socket = $WORK/a-host/charon.vici
ike_datapath = libipsec
EOF
svc() { "$BIN/ipsecsvc" "$@" --config "$WORK/ipsecsvc.conf"; }
spawn "$NSA" "$WORK/service.log" "$BIN/ipsecsvc" run --config "$WORK/ipsecsvc.conf"
for _ in $(seq 600); do svc status 2>/dev/null | grep -q "RUNNING" && break; sleep 0.1; done
cat >"$WORK/policy.netsh" <<EOF
pushd ipsec static
add policy name="Bench"
add filterlist name="Peer"
add filter filterlist="Peer" srcaddr=me dstaddr=198.18.61.1 mirrored=yes
add filteraction name="Require" action=negotiate qmsecmethods="ESP[3DES,SHA1] ESP[3DES,MD5]"
add rule name="Peer" policy="Bench" filterlist="Peer" filteraction="Require" psk="bench-psk"
set policy name="Bench" assign=yes
popd
EOF
"$BIN/ipsecsvc" netsh --config "$WORK/ipsecsvc.conf" -f "$WORK/policy.netsh" >"$WORK/netsh.log" 2>&1 ||
    fail "netsh failed: $(cat "$WORK/netsh.log")"
conn=
for _ in $(seq 300); do
    conn=$(sw a-host --list-conns 2>/dev/null | awk -F: '/^ipsecsvc-/ { print $1; exit }')
    [ -n "$conn" ] && break
    sleep 0.1
done
[ -n "$conn" ] || fail "the service loaded no connection into charon: $(tail -20 "$WORK/service.log")"

echo "== 1. first packet -> first protected packet, $ROUNDS rounds each, alternating (target: ipsecsvc / swanctl <= 1.2)"
a_ms=() b_ms=() c_ms=()
figure() { awk '/^first-protected-ms/ { printf "%.1f", $2 }'; }
for i in $(seq "$ROUNDS"); do
    settle a "$conn"
    a=$(ip netns exec "$NSA" "$BENCH" first-packet 198.18.61.1 $PORT 2>&1 | figure)
    settle b base
    b=$(STRONGSWAN_CONF=$WORK/b-host/strongswan.conf ip netns exec "$NSB" "$BENCH" first-packet 198.18.62.1 $PORT -- \
        swanctl --initiate --ike base --child host 2>&1 | figure)
    settle b base
    c=$(ip netns exec "$NSB" "$BENCH" first-packet 198.18.62.1 $PORT --vici "$WORK/b-host/charon.vici" base host 2>&1 | figure)
    printf '  round %2d: ipsecsvc %6s ms   swanctl --initiate %6s ms   vici initiate %6s ms\n' "$i" "${a:-none}" "${b:-none}" "${c:-none}"
    [ -n "$a" ] && a_ms+=("$a")
    [ -n "$b" ] && b_ms+=("$b")
    [ -n "$c" ] && c_ms+=("$c")
done
sw a-host --list-sas --ike "$conn" 2>/dev/null | grep -E "ESTABLISHED|3DES|INSTALLED" | sed 's/^/  ipsecsvc SA: /' | head -3

echo "== 2. loading $PEERS peers' rules into charon, then changing one (targets: <= 1 s for 1,000; one connection reloaded)"
NSL=ikbl-$ID
ip netns add "$NSL" && NAMESPACES+=("$NSL")
ip -n "$NSL" link set lo up
start_charon load "$NSL"
ip netns exec "$NSL" "$BENCH" load "$WORK/load/charon.vici" "$PEERS" "$LOAD_ROUNDS" | tee "$WORK/load.txt"
load=$(awk '/^load-seconds-median/ { print $2 }' "$WORK/load.txt")
reloaded=$(awk '/^change-one-rule-connections-loaded/ { print $2 }' "$WORK/load.txt")
others=$(awk '/^change-one-rule-other-calls/ { print $2 }' "$WORK/load.txt")

a=$(median "${a_ms[@]}") b=$(median "${b_ms[@]}") c=$(median "${c_ms[@]}")
ratio=$(awk -v a="${a:-0}" -v b="${b:-0}" 'BEGIN { if (a > 0 && b > 0) printf "%.2f", a / b }')
verdict() { [ -n "$SMOKE" ] && echo "(smoke run: no target)" && return; [ "$1" = 1 ] && echo "target met" || echo "TARGET MISSED"; }
echo "== results ($([ -n "$SMOKE" ] && echo "smoke run, ")binaries in $BIN; load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo "first-packet-to-protected-ms ipsecsvc-median ${a:-none} swanctl-initiate-median ${b:-none} vici-initiate-median ${c:-none} (${#a_ms[@]}, ${#b_ms[@]}, ${#c_ms[@]} rounds)"
echo "ratio ${ratio:-none} $(verdict "$(awk -v r="${ratio:-99}" 'BEGIN { print (r <= 1.2) }')")"
echo "load-$PEERS-peers-seconds ${load:-none} $(verdict "$(awk -v s="${load:-99}" -v n="$PEERS" 'BEGIN { print (s <= n / 1000) }')")"
echo "change-one-rule: connections loaded ${reloaded:-none}, other charon calls ${others:-none} $(verdict "$([ "${reloaded:-}" = 1 ] && [ "${others:-}" = 0 ] && echo 1)")"
[ -n "$ratio" ] && [ -n "$load" ] && [ "${reloaded:-}" = 1 ] && [ "${others:-}" = 0 ] || fail "figures are missing (logs were in $WORK)"
