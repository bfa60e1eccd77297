#!/usr/bin/env bash
# The live directory's cost against a real Samba AD DC (provisioned here, in a network namespace, by
# Tests/IntegrationTests/Fixtures/samba-dc.sh, and removed at the end): a directory policy of RULES rules
# with FILTERS filters each, assigned through a GPO to the benchmark computer, read as that computer
# over LDAP with Kerberos (GSSAPI, sealed), in one run:
#
#   * ldapsearch fetching the policy's objects (one paged search of CN=IP Security, the same attributes,
#     its Kerberos tickets cached in a file so it pays no more Kerberos than the service does);
#   * ipsecsvc reading the same objects (what a poll reads after a change) — target <= 1.2 x ldapsearch;
#   * ipsecsvc's whole Group Policy read (computer, OUs, domain, site, GPOs, assignments, policy: a refresh);
#   * poll to compiled filter table in the engine, after one filter list changed on the DC;
#   * `service refresh` to enforced: the real service with the netfilter driver in the client namespace,
#     from the command to the driver having the new table.
#
#   Benchmarks/ldap/run.sh                          # 1,000 rules x 10 filters (10,000 filters), 5 runs
#   RULES=10 FILTERS=2 RUNS=1 Benchmarks/ldap/run.sh   # the smoke run CI makes
#
# Root only. Release build. Medians of RUNS.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (network namespaces, a Samba DC)" >&2; exit 1; }
RULES=${RULES:-1000}; FILTERS=${FILTERS:-10}; RUNS=${RUNS:-5}

swift build -c release --product ipsecsvc >/dev/null
swift build -c release --product ipsecsvc-ldap-bench >/dev/null
bin="$(swift build -c release --show-bin-path)"
dc="$PWD/Tests/IntegrationTests/Fixtures/samba-dc.sh"
admin="$PWD/Tests/IntegrationTests/Fixtures/samba-admin.py"
export W=/tmp/ldapbench-$$ NS=ldapbench-$$ NET=198.19.200
BASE=DC=example,DC=test; IPS="CN=IP Security,CN=System,$BASE"; PREFIX=5a1e0b00
C=$W/clients/bench; CNS=$NS-c-bench
service_pid=""
cleanup() {
    [ -n "$service_pid" ] && kill "$service_pid" 2>/dev/null && sleep 1
    "$dc" down
}
trap cleanup EXIT

now() { date +%s.%N; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# In the client's namespace, with its own host name (libldap resolves it at start) and krb5.conf.
cx() { ip netns exec "$CNS" unshare -u sh -c 'hostname bench && exec env KRB5_CONFIG='"$C"'/krb5.conf "$@"' sh "$@"; }
do_admin() { /usr/bin/python3 "$admin" "$W/dc/etc/smb.conf" "$W/dc/private/sam.ldb"; }

echo "== Samba DC and client (namespaces $NS, $CNS)"
"$dc" up
"$dc" client bench "$NET.10"

echo "== policy: $RULES rules x $FILTERS filters"
/usr/bin/python3 Benchmarks/ldap/make-policy.py "$RULES" "$FILTERS" "$PREFIX" > "$W/policy.xml"
"$bin/ipsecsvc" policy convert "$W/policy.xml" "$W/policy.ldif" --base-dn "$BASE" 2>/dev/null
for variant in 1 2; do
    /usr/bin/python3 Benchmarks/ldap/make-policy.py "$RULES" "$FILTERS" "$PREFIX" "$variant" > "$W/policy-$variant.xml"
    "$bin/ipsecsvc" policy convert "$W/policy-$variant.xml" "$W/policy-$variant.ldif" --base-dn "$BASE" 2>/dev/null
    # Only the first filter list: the change a poll must notice though the policy object stays.
    awk -v dn="dn: CN=ipsecFilter{$PREFIX-0002-4000-8000-000000000000}" \
        'BEGIN { RS = ""; ORS = "\n\n" } { flat = $0; gsub(/\n /, "", flat); if (index(flat, dn) == 1) print }' \
        "$W/policy-$variant.ldif" > "$W/list-$variant.ldif"
    [ -s "$W/list-$variant.ldif" ] || { echo "no filter list entry in policy-$variant.ldif" >&2; exit 1; }
done
objects=$(grep -c '^dn:' "$W/policy.ldif")
gpo='{5A1E0B00-0000-4000-8000-0000000000AA}'
t0=$(now)
do_admin <<EOF2
load|$W/policy.ldif
ou|OU=Bench,$BASE
gpo|$gpo|Benchmark GPO|0
link|OU=Bench,$BASE|[LDAP://CN=$gpo,CN=Policies,CN=System,$BASE;0]|
assign|$gpo|CN=ipsecPolicy{$PREFIX-0001-4000-8000-000000000000},$IPS
move|CN=BENCH,CN=Computers,$BASE|OU=Bench,$BASE
EOF2
echo "   $objects objects loaded in $(awk -v a="$(now)" -v b="$t0" 'BEGIN { printf "%.1f", a - b }') s"

echo "== reads ($RUNS runs)"
attributes="objectClass cn ipsecName ipsecID ipsecDataType ipsecData description whenChanged ipsecOwnersReference \
ipsecISAKMPReference ipsecNFAReference ipsecNegotiationPolicyReference ipsecFilterReference \
iPSECNegotiationPolicyType iPSECNegotiationPolicyAction"
cat > "$C/ldapsearch.sh" <<EOF2
export KRB5_CLIENT_KTNAME=$C/krb5.keytab KRB5CCNAME=FILE:$C/ccache LDAPCONF=$C/ldap.conf
kinit -k -t $C/krb5.keytab 'BENCH\$@EXAMPLE.TEST' >/dev/null 2>&1 || true
start=\$(date +%s.%N)
count=\$(ldapsearch -LLL -Q -Y GSSAPI -H ldap://dc1.example.test -E pr=500/noprompt -b '$IPS' -s one \
    '(objectClass=ipsecBase)' $attributes | grep -c '^dn:')
awk -v a="\$(date +%s.%N)" -v b="\$start" -v n="\$count" 'BEGIN { printf "%.3f %d\n", a - b, n }'
EOF2
: > "$W/ldapsearch.txt"; : > "$W/ours.txt"
for _ in $(seq "$RUNS"); do
    cx sh "$C/ldapsearch.sh" >> "$W/ldapsearch.txt"
    cx "$bin/ipsecsvc-ldap-bench" read example.test "$C/krb5.keytab" 1 >> "$W/ours.txt"
done
ldapsearch_s=$(awk '{ print $1 }' "$W/ldapsearch.txt" | median)
ldapsearch_n=$(awk 'NR == 1 { print $2 }' "$W/ldapsearch.txt")
ours_s=$(awk '{ print $2 }' "$W/ours.txt" | median)
ours_n=$(awk 'NR == 1 { print $3 }' "$W/ours.txt")
full_s=$(awk '{ print $5 }' "$W/ours.txt" | median)
full_n=$(awk 'NR == 1 { print $6 }' "$W/ours.txt")

echo "== poll to compiled table ($RUNS runs)"
flip="$W/flip"
change="sleep 1.1; if [ -e $flip ]; then rm $flip; v=1; else touch $flip; v=2; fi; \
echo \"load|$W/list-\$v.ldif\" | /usr/bin/python3 $admin $W/dc/etc/smb.conf $W/dc/private/sam.ldb"
cx "$bin/ipsecsvc-ldap-bench" poll example.test "$C/krb5.keytab" "$W/poll-state" "$change" "$RUNS" > "$W/poll.txt"
poll_s=$(awk '{ print $2 }' "$W/poll.txt" | median)
filters=$(awk 'NR == 1 { print $3 }' "$W/poll.txt")

echo "== service refresh to enforced, netfilter driver ($RUNS runs)"
cat > "$C/ipsecsvc.conf" <<EOF2
state_dir = $C/state
socket = $C/control.sock
systemd = no
driver = netfilter
examples = no
directory = ldap
domain = example.test
keytab = $C/krb5.keytab
EOF2
ip netns exec "$CNS" unshare -u sh -c 'hostname bench && exec env KRB5_CONFIG='"$C"'/krb5.conf "$@"' sh \
    "$bin/ipsecsvc" run --config "$C/ipsecsvc.conf" > "$W/service.log" 2>&1 &
service_pid=$!
for _ in $(seq 600); do
    "$bin/ipsecsvc" status --config "$C/ipsecsvc.conf" 2>/dev/null | grep -q "directory (directory): in-effect" && break
    sleep 0.1
done
: > "$W/refresh.txt"
for _ in $(seq "$RUNS"); do
    sh -c "$change"
    start=$(now)
    "$bin/ipsecsvc" service refresh --config "$C/ipsecsvc.conf" > /dev/null
    awk -v a="$(now)" -v b="$start" 'BEGIN { printf "%.3f\n", a - b }' >> "$W/refresh.txt"
done
generation=$("$bin/ipsecsvc" status --config "$C/ipsecsvc.conf" | awk '/Filters:/ { print $2 }')
refresh_s=$(median < "$W/refresh.txt")

echo
echo "Live directory benchmark: $RULES rules x $FILTERS filters ($objects policy objects), release build,"
echo "Samba $(samba -V | awk '{ print $2 }') in a network namespace, GSSAPI sealed, medians of $RUNS runs"
printf '  %-58s %8.3f s  (%s entries)\n' "ldapsearch, one paged search of CN=IP Security" "$ldapsearch_s" "$ldapsearch_n"
printf '  %-58s %8.3f s  (%s entries)\n' "ipsecsvc, the policy's objects (a poll after a change)" "$ours_s" "$ours_n"
awk -v a="$ours_s" -v b="$ldapsearch_s" 'BEGIN { r = a / b; printf "  %-58s %8.2f x  (target <= 1.20) %s\n", "ratio", r, (r <= 1.2 ? "ok" : "OVER") }'
printf '  %-58s %8.3f s  (%s entries)\n' "ipsecsvc, the whole Group Policy read (a refresh)" "$full_s" "$full_n"
printf '  %-58s %8.3f s  (%s filters)\n' "poll to compiled filter table (engine)" "$poll_s" "$filters"
printf '  %-58s %8.3f s  (%s filters in the driver)\n' "service refresh to enforced (netfilter driver)" "$refresh_s" "$generation"
