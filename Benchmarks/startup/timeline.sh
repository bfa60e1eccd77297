#!/usr/bin/env bash
# The agent's memory over its start (Benchmarks/README.md §4): runs startup/run.sh and samples the
# `ipsecsvc run` process's VmRSS and VmHWM every 2 ms into OUT (`milliseconds rss_kib hwm_kib` per
# line); run.sh's JSON goes to OUT.json. Needs root.
#   usage: sudo IPSECSVC=… XMLBENCH=… [IKE=none] Benchmarks/startup/timeline.sh OUT [FILTERS]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: timeline.sh OUT [FILTERS]}
filters=${2:-100000}
: "${IPSECSVC:?IPSECSVC: the ipsecsvc binary to measure}"
Benchmarks/startup/run.sh "$filters" >"$out.json" &
runner=$!
python3 - "$IPSECSVC" "$out" <<'PY'
import os, sys, time
binary, out = sys.argv[1].encode(), sys.argv[2]
pid, rows, start = None, [], time.monotonic()
while time.monotonic() - start < 120:
    if pid is None:
        # `ip netns exec` execs the binary: its argv[0] is the path run.sh was given.
        for entry in filter(str.isdigit, os.listdir("/proc")):
            try:
                argv = open(f"/proc/{entry}/cmdline", "rb").read().split(b"\0")
            except OSError:
                continue
            if len(argv) > 1 and argv[0] == binary and argv[1] == b"run":
                pid, origin = int(entry), time.monotonic()
                break
        time.sleep(0.001)
        continue
    try:
        status = open(f"/proc/{pid}/status").read()
    except OSError:
        break
    if "State:\tZ" in status:
        break
    if "VmRSS:" not in status:
        # Still being exec'd.
        time.sleep(0.002)
        continue
    rss = int(status.split("VmRSS:")[1].split()[0])
    hwm = int(status.split("VmHWM:")[1].split()[0])
    rows.append(f"{(time.monotonic() - origin) * 1000:.1f} {rss} {hwm}")
    time.sleep(0.002)
with open(out, "w") as file:
    file.write("\n".join(rows) + "\n")
PY
wait "$runner"
cat "$out.json"
