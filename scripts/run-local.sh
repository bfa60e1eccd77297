#!/usr/bin/env bash
# The README's first command: install everything the build, the service and the tests need, build, and
# start IPSEC Services with the real netfilter driver inside a private network namespace joined to a peer
# namespace by a veth pair (198.19.0.1 ↔ 198.19.0.2, from 198.18.0.0/15), with the example policy
# "Block Telnet and SMB" assigned. Nothing on the host changes: the kernel rules live in the namespace.
# It prints three commands to paste: a blocked connection, an allowed one, and explain for both.
#
#   scripts/run-local.sh                 install what is missing, build, start the demo (needs root or sudo)
#   scripts/run-local.sh stop            stop the service (the driver returns to permit mode), remove the namespaces
#   scripts/run-local.sh status          the service's status
#   scripts/run-local.sh ipsecsvc ARGS   run the built ipsecsvc against the demo's service (explain, netsh, …)
#   scripts/run-local.sh --memory        the memory driver instead, without namespaces or root: nothing is filtered
#   scripts/run-local.sh --foreground    the demo, with the service in this terminal (Ctrl-C stops it)
#   scripts/run-local.sh install-deps    only install the Debian packages (.ci/run uses this list)
#
# Environment: IPSECSVC_DEMO (namespace name, default ipsecsvc-demo), IPSECSVC_STATE_DIR (default ./.state),
# IPSECSVC_BIN (an ipsecsvc binary to use instead of building one), IPSECSVC_NO_INSTALL=1 (do not check
# or install packages: the tests of this script, which run after CI installed them).
set -euo pipefail
CALLER_DIR=$PWD
cd "$(dirname "$0")/.."
# The service and the demo's servers outlive this script: they must not keep the descriptors of whoever
# ran it (a pipe or a socket kept open would make that program wait for them). 255 is bash's own.
for fd in $(ls /proc/$$/fd); do
    case "$fd" in 0 | 1 | 2 | 255) ;; *) eval "exec $fd>&-" 2>/dev/null || true ;; esac
done

# Every Debian package the build, the service, the package build and every test suite need. .ci/run
# installs exactly this list, so a fresh machine that ran this script passes the whole test suite.
DEPENDENCIES=(
    # build
    pkg-config libxml2-dev libxml2-utils libsystemd-dev libnetfilter-queue-dev libmnl-dev
    # the driver at run time, and the network-namespace tests
    iptables iproute2 conntrack netcat-openbsd util-linux procps
    # systemd and journald tests; the container tests (systemd-nspawn) and their hardening probe
    systemd systemd-container python3
    # the Debian package: scripts/build-deb.sh and lintian
    dpkg-dev fakeroot patchelf lintian man-db
    # keying tests (strongSwan)
    charon-systemd strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins
    # live-directory tests (Samba AD DC, LDAP, Kerberos)
    samba samba-ad-dc samba-ad-provision winbind krb5-user ldb-tools ldap-utils libldap-dev
    libsasl2-modules-gssapi-mit python3-samba bind9-dnsutils
    # the benchmarks' smoke run (Benchmarks/smoke.sh: nfq-bench's C consumers, /usr/bin/time)
    gcc time
)

STATE="${IPSECSVC_STATE_DIR:-$PWD/.state}"
DEMO="${IPSECSVC_DEMO:-ipsecsvc-demo}"
PEER="$DEMO-peer"
# veth names are at most 15 characters; both ends live only in the namespaces.
VETH_HOST="ipsdemo$(printf '%s' "$DEMO" | cksum | cut -c1-6)h"
VETH_PEER="${VETH_HOST%h}p"
HOST_ADDRESS=198.19.0.1
PEER_ADDRESS=198.19.0.2
POLICY_FILE=policies-xml/block-telnet-smb.xml
POLICY_NAME="Block Telnet and SMB"
BIN="${IPSECSVC_BIN:-$PWD/.build/debug/ipsecsvc}"

export IPSECSVC_STATE_DIR="$STATE"
export IPSECSVC_SOCKET="$STATE/control.sock"
# Manage the process directly even on a systemd machine: this is not the installed unit.
export IPSECSVC_SYSTEMD=no
# An empty configuration file means the embedded defaults (an existing /etc/ipsecsvc/ipsecsvc.conf is ignored).
CONFIG=(--config /dev/null)

SUDO=()
[ "$(id -u)" -ne 0 ] && SUDO=(sudo --preserve-env=IPSECSVC_STATE_DIR,IPSECSVC_SOCKET,IPSECSVC_SYSTEMD,IPSECSVC_DRIVER)

install_dependencies() {
    [ -n "${IPSECSVC_NO_INSTALL:-}" ] && return
    local missing=()
    for package in "${DEPENDENCIES[@]}"; do
        [ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null)" = "install ok installed" ] || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return
    echo "Installing ${missing[*]}"
    local apt=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)
    # The Samba packages' scripts would start smbd/nmbd/samba on the host (the directory tests run their
    # own DC in a network namespace): a policy-rc.d that refuses, for the time of the install.
    local guard=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${SUDO[@]}" chmod +x /usr/sbin/policy-rc.d
        guard=1
    fi
    "${apt[@]}" update
    "${apt[@]}" install -y -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" || {
        [ "$guard" = 1 ] && "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d
        return 1
    }
    if [ "$guard" = 1 ]; then "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d; fi
}

build() {
    if [ -n "${IPSECSVC_BIN:-}" ]; then return; fi
    swift build --product ipsecsvc
}

# The PID of the demo's service, from its PID file, if that process is still our `ipsecsvc run`.
service_pid() {
    local pid
    pid=$(cat "$STATE/ipsecsvc.pid" 2>/dev/null) || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "ipsecsvc run" && echo "$pid"
}

create_namespaces() {
    local ip=("${SUDO[@]}" ip)
    if ! "${ip[@]}" netns list | grep -qx "$DEMO\( (id: [0-9]*)\)\?"; then
        "${ip[@]}" netns add "$DEMO"
        "${ip[@]}" netns add "$PEER"
        "${ip[@]}" link add "$VETH_HOST" type veth peer name "$VETH_PEER"
        "${ip[@]}" link set "$VETH_HOST" netns "$DEMO"
        "${ip[@]}" link set "$VETH_PEER" netns "$PEER"
        "${ip[@]}" -n "$DEMO" addr add "$HOST_ADDRESS/24" dev "$VETH_HOST"
        "${ip[@]}" -n "$PEER" addr add "$PEER_ADDRESS/24" dev "$VETH_PEER"
        for namespace in "$DEMO" "$PEER"; do "${ip[@]}" -n "$namespace" link set lo up; done
        "${ip[@]}" -n "$DEMO" link set "$VETH_HOST" up
        "${ip[@]}" -n "$PEER" link set "$VETH_PEER" up
    fi
    # Two servers in the service's namespace: telnet (23), which the policy blocks, and http (80).
    for port in 23 80; do
        if ! "${SUDO[@]}" ip netns pids "$DEMO" | xargs -r -I{} cat /proc/{}/cmdline 2>/dev/null | tr '\0' ' ' |
            grep -q "nc -lk $port"; then
            "${SUDO[@]}" ip netns exec "$DEMO" setsid nc -lk "$port" </dev/null >/dev/null 2>&1 &
        fi
    done
}

remove_namespaces() {
    for namespace in "$DEMO" "$PEER"; do
        # Only processes inside the demo's namespaces: its servers (and a service that did not stop).
        for pid in $("${SUDO[@]}" ip netns pids "$namespace" 2>/dev/null); do "${SUDO[@]}" kill -9 "$pid" 2>/dev/null || true; done
        "${SUDO[@]}" ip netns del "$namespace" 2>/dev/null || true
    done
}

print_commands() {
    local prefix="" script=scripts/run-local.sh environment=""
    [ ${#SUDO[@]} -gt 0 ] && prefix="sudo "
    [ "$CALLER_DIR" != "$PWD" ] && script=$PWD/scripts/run-local.sh
    [ "$STATE" != "$PWD/.state" ] && environment="IPSECSVC_STATE_DIR=$STATE "
    cat <<EOF

IPSEC Services is running with the netfilter driver in network namespace $DEMO ($HOST_ADDRESS),
policy "$POLICY_NAME" assigned; the peer namespace $PEER is $PEER_ADDRESS. Nothing on the host changed.
State in $STATE, log in $STATE/ipsecsvc.log.

Try it (telnet is blocked, http is allowed, explain says which filter of which policy decides):

  ${prefix}ip netns exec $PEER nc -vz -w 3 $HOST_ADDRESS 23
  ${prefix}ip netns exec $PEER nc -vz -w 3 $HOST_ADDRESS 80
  for port in 23 80; do ${environment}${script} ipsecsvc explain --src $PEER_ADDRESS --dst $HOST_ADDRESS --protocol tcp --dstport \$port --direction in; done

Status: ${environment}${script} status    Stop (removes the namespaces): ${environment}${script} stop
EOF
}

case "${1:-start}" in
    install-deps)
        install_dependencies
        ;;
    stop)
        # Root (or sudo) only for the netfilter demo: the memory driver's service is the caller's own.
        in_namespace=no
        ip netns list 2>/dev/null | grep -q "^$DEMO\( \|$\)" && in_namespace=yes
        as=()
        [ "$in_namespace" = yes ] && as=("${SUDO[@]}")
        if [ -x "$BIN" ] && "$BIN" service query "${CONFIG[@]}" 2>/dev/null | grep -q RUNNING; then
            "${as[@]}" "$BIN" service stop "${CONFIG[@]}" || true
        fi
        if [ "$in_namespace" = yes ]; then
            remove_namespaces
            echo "Stopped; namespaces $DEMO and $PEER removed."
        else
            echo "Stopped."
        fi
        ;;
    status)
        exec "$BIN" status "${CONFIG[@]}"
        ;;
    ipsecsvc)
        # The client commands find the demo's service through IPSECSVC_SOCKET and IPSECSVC_STATE_DIR.
        shift
        exec "$BIN" "$@"
        ;;
    --memory)
        install_dependencies
        build
        mkdir -p "$STATE"
        IPSECSVC_DRIVER=memory "$BIN" service start "${CONFIG[@]}"
        echo
        echo "IPSEC Services is running with the memory driver (nothing is filtered; state in $STATE)."
        echo "Status: scripts/run-local.sh status    Stop: scripts/run-local.sh stop"
        ;;
    start | --foreground)
        install_dependencies
        build
        if [ -n "$(service_pid)" ]; then
            echo "IPSEC Services already runs (PID $(service_pid)); scripts/run-local.sh stop stops it." >&2
            exit 1
        fi
        mkdir -p "$STATE"
        "$BIN" policy import "$POLICY_FILE" --store local --assign "$POLICY_NAME" "${CONFIG[@]}" >/dev/null
        create_namespaces
        if [ "${1:-start}" = "--foreground" ]; then
            print_commands
            echo "IPSEC Services runs in the foreground; Ctrl-C stops it (scripts/run-local.sh stop removes the namespaces)."
            exec "${SUDO[@]}" env IPSECSVC_DRIVER=netfilter ip netns exec "$DEMO" "$BIN" run "${CONFIG[@]}"
        fi
        "${SUDO[@]}" env IPSECSVC_DRIVER=netfilter ip netns exec "$DEMO" "$BIN" service start "${CONFIG[@]}" >/dev/null
        print_commands
        ;;
    *)
        echo "usage: $0 [start|--foreground|--memory|status|stop|ipsecsvc ARGS…|install-deps]" >&2
        exit 2
        ;;
esac
