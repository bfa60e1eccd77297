# Sourced by run-restart-bench.sh and ../netsh/run.sh, so that both measure the same policy:
# bench_policy_netsh N prints a netsh script of a local policy with N block rules (one filter list of
# one filter each, to `me`), assigned.
bench_policy_netsh() {
    local i
    echo "pushd ipsec static"
    echo "add policy name=Bench assign=no"
    echo "add filteraction name=Block action=block"
    for ((i = 0; i < $1; i++)); do
        echo "add filterlist name=L$i"
        echo "add filter filterlist=L$i srcaddr=198.18.$((i / 250 % 250)).$((i % 250 + 1)) dstaddr=me protocol=TCP dstport=$((1000 + i % 60000))"
        echo "add rule name=R$i policy=Bench filterlist=L$i filteraction=Block"
    done
    echo "set policy name=Bench assign=yes"
    echo "popd"
}
