#!/usr/bin/env bash
# Start-up figures of the real service (Benchmarks/README.md), in a network namespace of its own with
# driver = netfilter. Needs root. Prints one JSON object.
#   ready_ms          `ipsecsvc run` exec → READY=1 on the NOTIFY_SOCKET, with a FILTERS-filter persistent policy
#   enforced_ms       exec → the queue bound and the secure-mode hooks in place (every packet from then on
#                     is decided by the policy), polled every 2 ms
#   boot_ms           `ipsecsvc boot` (Automatic start type, stateful startup mode), best of 5
#   peak_rss_kib      the service's (the agent's) VmHWM with the policy in force
#   driver_peak_rss_kib  the driver process's VmHWM (`ipsecsvc driver`, which the service starts)
#   rss_kib, driver_rss_kib  their VmRSS at the same moment (what stays once the peak has passed)
#   ready_cpu_ms, boot_cpu_ms   CPU time (user + system, with reaped children such as iptables-restore)
#                     up to READY and of the best `ipsecsvc boot`: what load on a shared machine does not
#                     inflate, unlike the wall-clock figures (load_average is the 1-minute one at the end)
#   usage: sudo Benchmarks/startup/run.sh [FILTERS]     (default 10000)
#   IKE=none: the service without keying (`ike = none`), to see the agent's part apart from the plan
#   keying makes of the policy (the default, `ike = strongswan`, plans even with no charon to load into)
set -euo pipefail
cd "$(dirname "$0")/../.."
FILTERS=${1:-10000}
if [ -z "${IPSECSVC:-}" ]; then
    swift build -c release --product ipsecsvc >/dev/null
    swift build -c release --product xml-bench >/dev/null
    bin="$(swift build -c release --show-bin-path)"
    IPSECSVC="$bin/ipsecsvc"
    XMLBENCH="$bin/xml-bench"
fi
ns="st-$$"
work=$(mktemp -d)
service=""
cleanup() {
    [ -n "$service" ] && kill "$service" 2>/dev/null && sleep 1
    [ -n "$service" ] && kill -9 "$service" 2>/dev/null
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
ip netns add "$ns"
ip -n "$ns" link set lo up
# An interface with an address of the benchmark range (no dummy driver here: a veth pair inside).
ip -n "$ns" link add "st$$" type veth peer name "sp$$"
ip -n "$ns" link set "sp$$" up
ip -n "$ns" addr add "198.18.$(( $$ % 250 )).2/24" dev "st$$"
ip -n "$ns" link set "st$$" up
mkdir -p "$work/state"
# One assigned policy: 100 rules × FILTERS/100 filters.
"$XMLBENCH" generate "$work/state/persistent.xml" 100 "$FILTERS" >/dev/null
cat >"$work/ipsecsvc.conf" <<CONF
state_dir = $work/state
socket = $work/control.sock
systemd = no
driver = netfilter
examples = no
CONF
if [ -n "${IKE:-}" ]; then echo "ike = $IKE" >>"$work/ipsecsvc.conf"; fi

FILTERS=$FILTERS python3 - "$IPSECSVC" "$work" "$ns" <<'PY'
import json, os, resource, socket, subprocess, sys, time
ipsecsvc, work, ns = sys.argv[1:4]
conf = f"{work}/ipsecsvc.conf"
notify = f"{work}/notify.sock"
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(notify)
sock.settimeout(0.002)
env = dict(os.environ, NOTIFY_SOCKET=notify)
log = open(f"{work}/service.log", "w")
start = time.monotonic()
proc = subprocess.Popen(["ip", "netns", "exec", ns, ipsecsvc, "run", "--config", conf], env=env, stdout=log, stderr=log)
ready = enforced = ready_cpu = None
def cpu_seconds(pid):
    # utime + stime + cutime + cstime: the service and the children it has reaped (iptables-restore).
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
deadline = start + 120
while time.monotonic() < deadline and (ready is None or enforced is None):
    try:
        data = sock.recv(4096).decode()
        if "READY=1" in data and ready is None:
            ready = time.monotonic() - start
            ready_cpu = cpu_seconds(proc.pid)
    except socket.timeout:
        pass
    if enforced is None:
        # The namespace's queues, seen through the service's own /proc entry (same PID: `ip netns exec` execs).
        try:
            with open(f"/proc/{proc.pid}/net/netfilter/nfnetlink_queue") as q:
                bound = q.read().strip() != ""
        except OSError:
            bound = False
        if bound:
            rules = subprocess.run(["ip", "netns", "exec", ns, "iptables-save"], capture_output=True, text=True).stdout
            if "NFQUEUE" in rules:
                enforced = time.monotonic() - start
    if proc.poll() is not None:
        break
time.sleep(1)
# The service runs in the namespace as a child of `ip netns exec` (which execs it): same PID.
def peak_rss(pid, field="VmHWM:"):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
hwm = peak_rss(proc.pid)
rss = peak_rss(proc.pid, "VmRSS:")
# The driver process the service started (`ipsecsvc driver --exit-with-service --state-dir <ours>`):
# it holds the table; the agent compiles it and hands it over.
def our_drivers():
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                argv = cmdline.read().split(b"\0")
        except OSError:
            continue
        if b"driver" in argv and f"{work}/state".encode() in argv:
            found.append(int(entry))
    return found
driver_hwm = max([peak_rss(pid) for pid in our_drivers()] + [0])
driver_rss = max([peak_rss(pid, "VmRSS:") for pid in our_drivers()] + [0])
proc.terminate()
proc.wait(timeout=20)
# ipsecsvc boot: Automatic start type, stateful startup mode (writes the startup rules and exits).
boots = []
boot_cpus = []
subprocess.run(["ip", "netns", "exec", ns, ipsecsvc, "service", "config", "--start-type", "automatic", "--config", conf], capture_output=True)
for _ in range(5):
    t = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(["ip", "netns", "exec", ns, ipsecsvc, "boot", "--config", conf], capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    boot_cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    if result.returncode != 0:
        sys.stderr.write(result.stderr)
    boots.append(time.monotonic() - t)
# `boot` started a driver of its own (no service to exit with): ours, by PID.
for pid in our_drivers():
    try:
        os.kill(pid, 15)
    except OSError:
        pass
print(json.dumps({
    "filters": int(os.environ.get("FILTERS", "0")) or None,
    "ready_ms": round(ready * 1000, 1) if ready else None,
    "enforced_ms": round(enforced * 1000, 1) if enforced else None,
    "boot_ms": round(min(boots) * 1000, 1),
    "boot_cpu_ms": round(min(boot_cpus) * 1000, 1),
    "ready_cpu_ms": round(ready_cpu * 1000, 1) if ready_cpu is not None else None,
    "load_average": os.getloadavg()[0],
    "peak_rss_kib": hwm,
    "driver_peak_rss_kib": driver_hwm,
    "rss_kib": rss,
    "driver_rss_kib": driver_rss,
}, sort_keys=True))
PY
