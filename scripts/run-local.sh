#!/usr/bin/env bash
# Build ipsecsvc and run the IPSEC Services service locally on the embedded default configuration with
# the memory driver: state (start type, set config settings, the driver's state) under ./.state, the
# control socket at ./.state/control.sock, no policy assigned — so nothing is filtered and no kernel
# rule is touched. IPSECSVC_DRIVER=netfilter (as root) runs the real driver instead.
#
#   scripts/run-local.sh               install build dependencies if missing, build, start in the background
#   scripts/run-local.sh --foreground  the same, but run in this terminal (Ctrl-C stops it)
#   scripts/run-local.sh status        show the service status
#   scripts/run-local.sh stop          stop the service (the driver returns to permit mode)
set -euo pipefail
cd "$(dirname "$0")/.."

STATE="${IPSECSVC_STATE_DIR:-$PWD/.state}"
export IPSECSVC_STATE_DIR="$STATE"
export IPSECSVC_SOCKET="${IPSECSVC_SOCKET:-$STATE/control.sock}"
# Manage the process directly even on a systemd machine: this is not the installed unit.
export IPSECSVC_SYSTEMD=no
# The memory driver: no kernel rule is touched and no root is needed (the default is netfilter).
export IPSECSVC_DRIVER="${IPSECSVC_DRIVER:-memory}"
# An empty configuration file means the embedded defaults (an existing /etc/ipsecsvc/ipsecsvc.conf is ignored).
CONFIG=(--config /dev/null)
BIN=.build/debug/ipsecsvc

install_dependencies() {
    # The build (libldap for the live directory) and the tests (a Samba AD DC in a namespace).
    local packages=(pkg-config libxml2-dev libsystemd-dev libnetfilter-queue-dev libmnl-dev samba-ad-provision
        libldap-dev libsasl2-modules-gssapi-mit samba samba-ad-dc winbind krb5-user ldb-tools ldap-utils
        python3-samba bind9-dnsutils)
    local missing=()
    for package in "${packages[@]}"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return
    local sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    echo "Installing ${missing[*]}"
    # Keep the Samba packages from starting their daemons on this host (the tests start their own DC in
    # a network namespace): a policy-rc.d that refuses, for the time of the install.
    local guard=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
        "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
        guard=1
    fi
    "${sudo[@]}" apt-get update
    "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
    if [ "$guard" = 1 ]; then "${sudo[@]}" rm -f /usr/sbin/policy-rc.d; fi
}

case "${1:-start}" in
    stop)
        exec "$BIN" service stop "${CONFIG[@]}"
        ;;
    status)
        exec "$BIN" status "${CONFIG[@]}"
        ;;
    start | --foreground)
        install_dependencies
        swift build --product ipsecsvc
        mkdir -p "$STATE"
        if [ "${1:-start}" = "--foreground" ]; then
            echo "IPSEC Services runs in the foreground; stop it with Ctrl-C (or: scripts/run-local.sh stop)."
            exec "$BIN" run "${CONFIG[@]}"
        fi
        "$BIN" service start "${CONFIG[@]}"
        echo
        echo "IPSEC Services is running (state in $STATE, log in $STATE/ipsecsvc.log)."
        echo "Status: scripts/run-local.sh status    Stop: scripts/run-local.sh stop"
        ;;
    *)
        echo "usage: $0 [start|--foreground|status|stop]" >&2
        exit 2
        ;;
esac
