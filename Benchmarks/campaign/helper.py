#!/usr/bin/env python3
"""The campaign's helpers (Benchmarks/campaign/run.sh; see README.md there).

  helper.py receive --ports P,B --out FILE      in the service's namespace: counts TCP connections
                                                accepted and UDP datagrams received on each port
  helper.py send --to ADDRESS --ports P,B --out FILE [--interval-ms 10] [--timeout-ms 900]
                                                in the peer namespace: every interval, one TCP connect
                                                and one UDP datagram to each port, each a new flow
  helper.py notify SOCKET LOG                   a NOTIFY_SOCKET: each datagram as one line
                                                "<unix time> <fields>" in LOG
  helper.py summary FACTS OUT.json              the campaign's JSON summary and table

send and receive run until SIGTERM, then finish what is in flight and write their counts as JSON.
A TCP connect that is not established within --timeout-ms (below TCP's first SYN retransmission at
1 s) is closed: a lost SYN is never retried, so every accept at the receiver is one probe that got
through both ways. Losses and leaks are counted at the receiver: sent (sender) minus received.
"""
import json
import os
import selectors
import signal
import socket
import sys
import time


def parse_options(arguments):
    options = {}
    while arguments:
        flag = arguments.pop(0)
        if not flag.startswith("--") or not arguments:
            sys.exit(f"helper.py: bad option {flag}")
        options[flag[2:]] = arguments.pop(0)
    return options


class Stop:
    """Set by SIGTERM or SIGINT."""

    def __init__(self):
        self.requested = False
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, self.request)

    def request(self, *_):
        self.requested = True


def write_json(path, value):
    with open(path + ".tmp", "w") as output:
        json.dump(value, output, sort_keys=True)
    os.rename(path + ".tmp", path)


def receive(options):
    ports = [int(port) for port in options["ports"].split(",")]
    stop = Stop()
    selector = selectors.DefaultSelector()
    counts = {str(port): {"tcp_accepted": 0, "udp_received": 0} for port in ports}
    for port in ports:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("0.0.0.0", port))
        # Deep: a receiver starved for a while on a loaded machine must not drop SYNs itself.
        listener.listen(4096)
        listener.setblocking(False)
        selector.register(listener, selectors.EVENT_READ, ("tcp", port))
        datagrams = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        datagrams.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        datagrams.bind(("0.0.0.0", port))
        datagrams.setblocking(False)
        selector.register(datagrams, selectors.EVENT_READ, ("udp", port))
    print("receive: listening", flush=True)

    def drain(timeout):
        for key, _ in selector.select(timeout):
            kind, port = key.data
            while True:
                try:
                    if kind == "tcp":
                        connection, _ = key.fileobj.accept()
                        connection.close()
                        counts[str(port)]["tcp_accepted"] += 1
                    else:
                        key.fileobj.recv(2048)
                        counts[str(port)]["udp_received"] += 1
                except (BlockingIOError, InterruptedError):
                    break

    while not stop.requested:
        drain(0.1)
    drain(0)
    write_json(options["out"], counts)


def send(options):
    address = options["to"]
    ports = [int(port) for port in options["ports"].split(",")]
    interval = int(options.get("interval-ms", "10")) / 1000
    timeout = int(options.get("timeout-ms", "900")) / 1000
    stop = Stop()
    selector = selectors.DefaultSelector()
    counts = {str(port): {"tcp_sent": 0, "tcp_established": 0, "udp_sent": 0} for port in ports}
    pending = {}  # socket -> (port, deadline)
    sequence = 0
    started = time.monotonic()
    next_round = started
    rounds = 0

    def settle(wait):
        now = time.monotonic()
        for key, _ in selector.select(max(0, wait)):
            connection = key.fileobj
            port, _ = pending.pop(connection)
            if connection.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                counts[str(port)]["tcp_established"] += 1
            selector.unregister(connection)
            connection.close()
        for connection, (port, deadline) in list(pending.items()):
            if now >= deadline:
                del pending[connection]
                selector.unregister(connection)
                connection.close()

    while not stop.requested:
        now = time.monotonic()
        if now >= next_round:
            rounds += 1
            for port in ports:
                connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                connection.setblocking(False)
                connection.connect_ex((address, port))
                pending[connection] = (port, now + timeout)
                selector.register(connection, selectors.EVENT_WRITE)
                counts[str(port)]["tcp_sent"] += 1
                sequence += 1
                # A socket of its own, so a source port of its own: every datagram is a new flow that the
                # driver decides (one socket's datagrams would be one flow, fast-pathed after the first).
                datagram = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    datagram.sendto(b"%d" % sequence, (address, port))
                    counts[str(port)]["udp_sent"] += 1
                except OSError:
                    pass
                datagram.close()
            if rounds == 1:
                print("send: sending", flush=True)
            # A round late under load is not made up with a burst.
            next_round = max(next_round + interval, now)
        settle(min(next_round - time.monotonic(), 0.01))
    probing = time.monotonic() - started
    while pending:
        settle(0.05)
    write_json(
        options["out"],
        {"ports": counts, "rounds": rounds, "seconds": round(probing, 3)},
    )


def notify(socket_path, log_path):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(socket_path)
    os.chmod(socket_path, 0o777)
    stop = Stop()
    listener.settimeout(0.2)
    with open(log_path, "a") as log:
        while not stop.requested:
            try:
                data = listener.recv(65536)
            except socket.timeout:
                continue
            log.write("%.6f %s\n" % (time.time(), data.decode(errors="replace").replace("\n", " ")))
            log.flush()


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def traffic(directory, name, permitted, blocked):
    """The counts of one probe pair (files NAME.sent.json and NAME.received.json in directory)."""
    with open(f"{directory}/{name}.sent.json") as file:
        sent = json.load(file)
    with open(f"{directory}/{name}.received.json") as file:
        received = json.load(file)
    result = {"probe_rounds": sent["rounds"], "probe_seconds": sent["seconds"]}
    for label, port in (("permitted", permitted), ("blocked", blocked)):
        out, into = sent["ports"][str(port)], received[str(port)]
        result[f"{label}_tcp_sent"] = out["tcp_sent"]
        result[f"{label}_udp_sent"] = out["udp_sent"]
        result[f"{label}_tcp_received"] = into["tcp_accepted"]
        result[f"{label}_udp_received"] = into["udp_received"]
        result[f"{label}_tcp_established_at_sender"] = out["tcp_established"]
    result["blocked_leaked"] = result["blocked_tcp_received"] + result["blocked_udp_received"]
    result["permitted_lost"] = (
        result["permitted_tcp_sent"] - result["permitted_tcp_received"]
        + result["permitted_udp_sent"] - result["permitted_udp_received"]
    )
    return result


def summary(facts_path, out_path):
    """FACTS holds one fact a line: `key value...` (see run.sh); the summary is JSON and a table."""
    facts = {}
    lists = {}
    with open(facts_path) as file:
        for line in file:
            key, _, value = line.rstrip("\n").partition(" ")
            if key.endswith("[]"):
                lists.setdefault(key[:-2], []).append(value)
            else:
                facts[key] = value
    directory = os.path.dirname(facts_path)
    permitted, blocked = int(facts["permitted_port"]), int(facts["blocked_port"])
    result = {key: facts[key] for key in ("commit", "ipsecsvc", "mode", "started", "finished") if key in facts}
    result["cpus"] = os.cpu_count()
    result["load_average_end"] = os.getloadavg()[0]
    result["ports"] = {"permitted": permitted, "blocked": blocked}
    rows = []

    def restarts(part):
        values = [int(value) for value in lists.get(f"{part}.ready_ms", [])]
        return {
            "rounds": len(values),
            "ready_ms_p50": percentile(values, 0.5),
            "ready_ms_max": max(values) if values else None,
            "failed_rounds": len(lists.get(f"{part}.failed", [])),
        }

    for part, title in (
        ("a", "kill -9 of the agent + restart"),
        ("b", "kill -9 of agent and driver + restart"),
        ("c", "ipsecsvc boot + start"),
    ):
        names = lists.get(f"{part}.probe", [])
        if not names:
            continue
        entry = restarts(part)
        totals = {}
        for name in names:
            for key, value in traffic(directory, name, permitted, blocked).items():
                totals[key] = round(totals.get(key, 0) + value, 3)
        entry.update(totals)
        boots = [int(value) for value in lists.get(f"{part}.boot_ms", [])]
        if boots:
            entry["boot_ms_p50"] = percentile(boots, 0.5)
            entry["boot_ms_max"] = max(boots)
            entry["boot_modes"] = sorted(set(lists.get(f"{part}.boot_output", [])))
        result[part] = entry
        sent = entry["permitted_tcp_sent"] + entry["permitted_udp_sent"]
        rows.append(
            (
                f"({part}) {entry['rounds']} x {title}",
                f"blocked leaked {entry['blocked_leaked']} of "
                f"{entry['blocked_tcp_sent'] + entry['blocked_udp_sent']} (target 0); "
                f"permitted lost {entry['permitted_lost']} of {sent}; "
                f"restart to READY p50 {entry['ready_ms_p50']} ms, max {entry['ready_ms_max']} ms; "
                f"{entry['probe_rounds']} probe rounds in {entry['probe_seconds']} s"
                + (f"; ipsecsvc boot p50 {entry['boot_ms_p50']} ms" if "boot_ms_p50" in entry else "")
                + (f"; FAILED rounds {entry['failed_rounds']}" if entry["failed_rounds"] else ""),
            )
        )
    if "d.requested" in facts:
        entry = {
            key: int(facts[f"d.{key}"])
            for key in ("requested", "succeeded", "shown", "deleted", "left", "wall_ms")
        }
        entry["lost"] = entry["requested"] - entry["shown"]
        result["d"] = entry
        rows.append(
            (
                f"(d) {entry['requested']} concurrent dynamic add rule",
                f"rules lost {entry['lost']} (target 0); exit 0: {entry['succeeded']}; shown {entry['shown']}; "
                f"deleted {entry['deleted']}, left after delete {entry['left']}; all adds {entry['wall_ms']} ms",
            )
        )
    if "e.skipped" in facts:
        result["e"] = {"skipped": facts["e.skipped"]}
        rows.append(("(e) trickling control-socket connections", "not run: " + facts["e.skipped"]))
    elif "e.median_ms" in facts:
        entry = {
            key: int(facts[f"e.{key}"])
            for key in ("connections", "rounds", "failed", "best_ms", "median_ms", "worst_ms")
        }
        result["e"] = entry
        rows.append(
            (
                f"(e) {entry['connections']} trickling connections",
                f"root's status best {entry['best_ms']} / median {entry['median_ms']} / worst {entry['worst_ms']} ms "
                f"(target < 1000), failed {entry['failed']} of {entry['rounds']}",
            )
        )
    readers = lists.get("f.read", [])
    if readers:
        entry = {}
        for line in readers:
            filters, format_name, size, wall, cpu, ratio = line.split()
            entry.setdefault(filters, {})[format_name] = {
                "bytes": int(size),
                "wall_s": float(wall),
                "cpu_s": float(cpu),
                "cpu_vs_xml": float(ratio),
            }
        result["f"] = entry
        for filters, formats in entry.items():
            reg = formats.get("reg")
            if reg:
                rows.append(
                    (
                        f"(f) .reg read, {filters} filters",
                        f"wall {reg['wall_s']:.3f} s, cpu {reg['cpu_s']:.3f} s ({reg['cpu_vs_xml']:.2f} x native XML), "
                        f"{reg['bytes']} bytes",
                    )
                )
    write_json(out_path, result)
    width = max(len(row[0]) for row in rows) if rows else 0
    print(f"campaign ({result.get('mode', '')}), commit {result.get('commit', '?')}, "
          f"load average {result['load_average_end']:.1f} at the end")
    for label, text in rows:
        print(f"{label.ljust(width)}  {text}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    command, arguments = sys.argv[1], sys.argv[2:]
    if command == "receive":
        receive(parse_options(arguments))
    elif command == "send":
        send(parse_options(arguments))
    elif command == "notify" and len(arguments) == 2:
        notify(*arguments)
    elif command == "summary" and len(arguments) == 2:
        summary(*arguments)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
