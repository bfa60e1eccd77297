#!/usr/bin/env bash
# A throw-away Samba AD domain controller in its own network namespace, for the live-directory tests and
# benchmark (see ../shared/labs/samba-ad/FINDINGS.md for why each step is the way it is).
#
#   samba-dc.sh up                    provision EXAMPLE.TEST and start samba (foreground `samba -i`)
#   samba-dc.sh client NAME ADDRESS   a client namespace on the DC's bridge, a computer account NAME$
#                                     with its keytab and krb5.conf under $W/clients/NAME
#   samba-dc.sh account NAME DIR      one more computer account NAME$ (password: name in lower case,
#                                     as samba-tool --prepare-oldjoin sets it) with DIR/NAME.keytab
#   samba-dc.sh stop | start          stop (SIGTERM to our samba PID) or start samba again
#   samba-dc.sh down                  stop samba, delete every namespace and file made here
#
# Environment: W (work directory, required), NS (DC namespace, required; client namespaces are
# "$NS-c-<name>"), NET (the /24 prefix, e.g. 198.19.7; the DC is .1). Only addresses in NET are used,
# on a bridge inside the DC namespace; nothing is added to the root namespace except
# /etc/netns/<namespace>/ (per-namespace hosts and resolv.conf, removed by `down`). Samba runs in a
# private mount namespace with its own /run/samba, so concurrent runs do not share the winbindd socket.
set -euo pipefail

: "${W:?W (work directory) is required}" "${NS:?NS (namespace name) is required}" "${NET:=198.19.7}"
REALM=EXAMPLE.TEST; DOMAIN=EXAMPLE; DNSDOM=example.test; BASE=DC=example,DC=test
DC_IP=$NET.1; DC_FQDN=dc1.$DNSDOM; BR=br0; ADMINPW='Passw0rd.Test1'
CONF=$W/dc/etc/smb.conf

dcx() { ip netns exec "$NS" "$@"; }

cmd_up() {
    mkdir -p "$W"
    ip netns add "$NS"
    ip -n "$NS" link set lo up
    ip -n "$NS" link add "$BR" type bridge
    ip -n "$NS" addr add "$DC_IP/24" dev "$BR"
    ip -n "$NS" link set "$BR" up
    mkdir -p "/etc/netns/$NS"
    printf 'search %s\nnameserver %s\noptions timeout:1 attempts:1\n' "$DNSDOM" "$DC_IP" > "/etc/netns/$NS/resolv.conf"
    printf '127.0.0.1 localhost\n%s %s dc1\n' "$DC_IP" "$DC_FQDN" > "/etc/netns/$NS/hosts"

    rm -rf "$W/dc"; mkdir -p "$W/dc"; : > "$W/empty.conf"
    dcx unshare -u sh -c 'hostname dc1; exec "$@"' sh samba-tool domain provision -s "$W/empty.conf" \
        --realm=$REALM --domain=$DOMAIN --server-role=dc --dns-backend=SAMBA_INTERNAL \
        --adminpass="$ADMINPW" --host-name=dc1 --host-ip="$DC_IP" \
        --option="interfaces=lo $BR" --option="bind interfaces only=yes" --option="netbios name=DC1" \
        --targetdir="$W/dc" > "$W/provision.log" 2>&1 || { tail -30 "$W/provision.log"; exit 1; }
    /usr/bin/python3 - "$CONF" "$W" <<'PY'
import re, sys
p, w = sys.argv[1], sys.argv[2]
s = open(p).read()
s = re.sub(r'\n\tdns forwarder = .*', '', s)
extra = (f"\tpid directory = {w}/dc/run\n\tncalrpc dir = {w}/dc/run/ncalrpc\n"
         f"\tntp signd socket directory = {w}/dc/run/ntp_signd\n\tlog file = {w}/dc/log/log.%m\n"
         "\tlog level = 1\n\tdisable netbios = yes\n\tprefork children = 2\n")
open(p, 'w').write(s.replace('[global]\n', '[global]\n' + extra, 1))
PY
    mkdir -p "$W/dc/run" "$W/dc/log" "$W/dc/run-samba"
    # Windows grants Authenticated Users read on CN=IP Security (KB 329194); Samba does not.
    samba-tool dsacl set -s "$CONF" -H "$W/dc/private/sam.ldb" --objectdn="CN=IP Security,CN=System,$BASE" \
        --sddl="(A;CI;RPLCLORC;;;AU)" > /dev/null
    cmd_start
}

cmd_client() {
    local name=${1:?client name} ip=${2:?client address}
    local ns="$NS-c-$name" dir="$W/clients/$name" upper
    upper=$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')
    mkdir -p "$dir"
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$NS" link add "v-$name" type veth peer name eth0 netns "$ns"
    ip -n "$NS" link set "v-$name" master "$BR" up
    ip -n "$ns" addr add "$ip/24" dev eth0
    ip -n "$ns" link set eth0 up
    mkdir -p "/etc/netns/$ns"
    printf 'search %s\nnameserver %s\noptions timeout:1 attempts:1\n' "$DNSDOM" "$DC_IP" > "/etc/netns/$ns/resolv.conf"
    printf '127.0.0.1 localhost\n%s %s.%s %s\n' "$ip" "$name" "$DNSDOM" "$name" > "/etc/netns/$ns/hosts"
    cmd_account "$name" "$dir"
    mv "$dir/$name.keytab" "$dir/krb5.keytab"
    cat > "$dir/krb5.conf" <<KRB
[libdefaults]
	default_realm = $REALM
	dns_lookup_realm = false
	dns_lookup_kdc = true
	rdns = false
[realms]
	$REALM = {
		kdc = $DC_FQDN
	}
[domain_realm]
	.$DNSDOM = $REALM
	$DNSDOM = $REALM
KRB
    printf 'SASL_NOCANON on\nTIMEOUT 5\nNETWORK_TIMEOUT 2\n' > "$dir/ldap.conf"
}

cmd_account() {
    local name=${1:?account name} dir=${2:?directory} upper
    upper=$(printf '%s' "$name" | tr '[:lower:]' '[:upper:]')
    mkdir -p "$dir"
    samba-tool computer create "$upper" -s "$CONF" -H "$W/dc/private/sam.ldb" --computerou=CN=Computers \
        --prepare-oldjoin > /dev/null
    rm -f "$dir/$name.keytab"
    samba-tool domain exportkeytab "$dir/$name.keytab" --principal="$upper\$" -s "$CONF" > /dev/null 2>&1
}

cmd_start() {
    # setsid: samba -i becomes a session leader whose PID we own and stop by PID only. /run/samba (the
    # winbindd socket) is a tmpfs of this mount namespace; the mount point itself exists only once the
    # Samba packages' scripts or services ran (not on a fresh machine whose /run is new).
    mkdir -p /run/samba
    nohup setsid ip netns exec "$NS" unshare -u sh -c \
        'mount -t tmpfs tmpfs /run/samba && hostname dc1 && exec samba -i -s "$1"' sh "$CONF" \
        >> "$W/samba.out" 2>&1 < /dev/null &
    echo $! > "$W/samba.pid"
    # Until LDAP answers, as long as samba lives: on a loaded machine its start takes minutes, so the
    # bound is a hang guard (START_LIMIT seconds, 900 by default), not a count of tries.
    local deadline=$((SECONDS + ${START_LIMIT:-900}))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if dcx ldapsearch -LLL -x -H "ldap://$DC_IP" -o nettimeout=5 -b '' -s base dn >/dev/null 2>&1; then return 0; fi
        kill -0 "$(cat "$W/samba.pid")" 2>/dev/null || { echo "samba died:"; tail -20 "$W/samba.out"; exit 1; }
        sleep 0.2
    done
    echo "LDAP never answered within ${START_LIMIT:-900} s"; tail -20 "$W/samba.out"; exit 1
}

cmd_stop() {
    [ -s "$W/samba.pid" ] || return 0
    local p; p=$(cat "$W/samba.pid")
    if kill -0 "$p" 2>/dev/null; then
        kill -TERM "$p"
        for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$p" 2>/dev/null && kill -KILL "$p"
    fi
    rm -f "$W/samba.pid"
    # Samba's children live only in our namespace: whatever is left there is ours.
    for q in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$q" 2>/dev/null || true; done
}

cmd_down() {
    cmd_stop || true
    for ns in $(ip netns list | awk -v p="$NS-c-" 'index($1, p) == 1 {print $1}') "$NS"; do
        for q in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$q" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
        rm -rf "/etc/netns/$ns"
    done
    rm -rf "$W"
}

case "${1:-}" in
    up|start|stop|down) "cmd_$1" ;;
    client) shift; cmd_client "$@" ;;
    account) shift; cmd_account "$@" ;;
    *) echo "usage: $0 up|client NAME ADDRESS|start|stop|down" >&2; exit 2 ;;
esac
