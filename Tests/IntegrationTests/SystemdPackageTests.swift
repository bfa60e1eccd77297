import Foundation
import IPsecTestKit
import Testing

/// The Debian package under a real systemd: each test boots a container (``SystemdContainer``),
/// installs `ipsecsvc_*.deb` with apt and drives the units with systemctl, as an administrator would.
/// The packages are a quick package of the debug build, or in CI (`IPSECSVC_TEST_DEB_DIR`) the release
/// packages `scripts/build-deb.sh` built.
@Suite(.serialized, .requires(SystemdContainer.requirement))
struct SystemdPackageTests {
    static let policyName = "Block Telnet and SMB"
    static let assignPolicy =
        "ipsecsvc policy import /usr/share/ipsecsvc/policies-xml/block-telnet-smb.xml --store local --assign '\(policyName)'"
    static let install = "apt-get install -y /mnt/debs/ipsecsvc_*.deb"

    /// Every `IPSECSVC-*` line of iptables-save and ip6tables-save in the container, all tables.
    static func chains(_ container: SystemdContainer) async -> String {
        await container.value("{ iptables-save; ip6tables-save; } 2>/dev/null | grep IPSECSVC || true")
    }

    /// Install, Automatic start type: enabled but not started, firewall untouched; after a boot the
    /// driver's startup mode was in force before network-pre.target and the service runs with READY;
    /// the hardening holds inside the service; reload; the watchdog; stop; the journal's MESSAGE_IDs.
    @Test func automaticStartTypeUnderRealSystemd() async throws {
        try await withSystemdContainer { container in
            let before = await container.value("{ iptables-save; ip6tables-save; } 2>/dev/null | grep -v '^#'")
            let installed = await container.run(Self.install)
            try #require(installed.status == 0, "\(installed.output)")
            try await Self.checkInstall(container, firewallBefore: before)

            #expect(await container.run(Self.assignPolicy).status == 0)
            try await container.reboot()
            try await Self.checkAutomaticBoot(container)
            try await Self.checkHardening(container)
            try await Self.checkReload(container)
            try await Self.checkWatchdog(container)

            let stop = await container.run("systemctl stop ipsecsvc")
            #expect(stop.status == 0, "\(stop.output)")
            #expect(await Self.chains(container).isEmpty, "a stopped service leaves no IPSECSVC chain")
            let query = await container.value("ipsecsvc service query --json")
            #expect(query.contains(#""driverMode" : "permit""#), "\(query)")
            #expect(query.contains(#""state" : "STOPPED""#), "\(query)")

            try await Self.checkMessageIDs(
                container,
                units: ["ipsecsvc", "ipsecsvc-boot"],
                events: [
                    "service started", "service stopped", "driver mode changed", "policy applied", "policy refreshed",
                    "computer startup",
                ]
            )
        }
    }

    /// What the package put on the machine, and what it left alone.
    static func checkInstall(_ container: SystemdContainer, firewallBefore: String) async throws {
        #expect(
            await container.value("systemctl is-enabled ipsecsvc.service ipsecsvc-boot.service") == "enabled\nenabled"
        )
        #expect(
            await container.value("systemctl is-active ipsecsvc.service") == "inactive",
            "installing does not start it"
        )
        let after = await container.value("{ iptables-save; ip6tables-save; } 2>/dev/null | grep -v '^#'")
        #expect(after == firewallBefore, "installing leaves the firewall untouched")
        #expect(await container.run("getent group ipsecadm").status == 0, "the ipsecadm group exists")
        #expect(await container.value("stat -c %a /var/lib/ipsecsvc") == "750")
        // The Swift runtime comes from the package (the container has no toolchain).
        let libraries = await container.value("ldd /usr/sbin/ipsecsvc")
        #expect(
            libraries.contains("libswiftCore.so => /usr/sbin/../lib/ipsecsvc/swift/libswiftCore.so"),
            "\(libraries)"
        )
        #expect(!libraries.contains("not found"), "\(libraries)")
        // The conffile, every key commented; the man page; the bash completion.
        #expect(
            await container.value("dpkg-query -W -f='${Conffiles}' ipsecsvc").contains("/etc/ipsecsvc/ipsecsvc.conf")
        )
        #expect(await container.value("grep -Evc '^[[:space:]]*(#|$)' /etc/ipsecsvc/ipsecsvc.conf") == "0")
        #expect(await container.run("test -d /etc/ipsecsvc/plugins.d && test -d /usr/lib/ipsecsvc/plugins").status == 0)
        let manual = await container.value("man -P cat ipsecsvc 2>&1 | head -5")
        #expect(manual.contains("IPSECSVC(8)"), "\(manual)")
        let completion = await container.value(
            "source /usr/share/bash-completion/completions/ipsecsvc && complete -p ipsecsvc"
        )
        #expect(completion.contains("ipsecsvc"), "\(completion)")
    }

    /// After a boot with a policy assigned: ipsecsvc-boot.service finished in stateful startup mode
    /// before network-pre.target was reached; ipsecsvc.service sent READY=1 and runs in secure mode.
    static func checkAutomaticBoot(_ container: SystemdContainer) async throws {
        #expect(await container.property("ipsecsvc-boot.service", "Result") == "success")
        let bootDone = UInt64(await container.property("ipsecsvc-boot.service", "ExecMainExitTimestampMonotonic")) ?? 0
        let networkPre = UInt64(await container.property("network-pre.target", "ActiveEnterTimestampMonotonic")) ?? 0
        #expect(
            bootDone > 0 && networkPre > 0 && bootDone <= networkPre,
            "boot unit done at \(bootDone), network-pre at \(networkPre)"
        )
        let invocation = await container.property("ipsecsvc-boot.service", "InvocationID")
        let startup = await container.value(
            "journalctl _SYSTEMD_INVOCATION_ID=\(invocation) MESSAGE_ID=6d4e066fecbf463ea1dd436caefaea16 -o json"
        )
        #expect(startup.contains(#""IPSECSVC_DRIVER_MODE":"startup stateful""#), "\(startup)")

        // Type=notify: active (running) only after READY=1, whose STATUS= is the agent's summary.
        #expect(await container.property("ipsecsvc.service", "ActiveState") == "active")
        #expect(await container.property("ipsecsvc.service", "SubState") == "running")
        let status = await container.property("ipsecsvc.service", "StatusText")
        #expect(status.hasPrefix("driver in secure mode") && status.contains(policyName), "\(status)")
        #expect(await container.property("ipsecsvc.service", "NRestarts") == "0")
        let chains = await Self.chains(container)
        #expect(chains.contains("-A INPUT -j IPSECSVC-IN") && chains.contains("NFQUEUE"), "\(chains)")
    }

    /// The unit's sandbox, seen from inside: a probe runs as `ExecStartPost=` (same namespaces,
    /// capabilities, seccomp filter as the service), and the service's own /proc entries.
    static func checkHardening(_ container: SystemdContainer) async throws {
        let probe = HardeningProbe.script
        let prepared = await container.run(
            """
            set -e
            mkdir -p /usr/local/lib/ipsecsvc-test /etc/systemd/system/ipsecsvc.service.d
            cat > /usr/local/lib/ipsecsvc-test/probe.py <<'PROBE'
            \(probe)
            PROBE
            touch /tmp/ipsecsvc-container-marker
            printf '[Service]\\nExecStartPost=/usr/bin/python3 /usr/local/lib/ipsecsvc-test/probe.py\\n' \
                > /etc/systemd/system/ipsecsvc.service.d/test-probe.conf
            systemctl daemon-reload
            systemctl restart ipsecsvc
            """
        )
        if prepared.status != 0 {
            let journal = await container.run(
                "systemctl status ipsecsvc --no-pager; journalctl -b --no-pager | tail -60"
            )
            Issue.record("\(prepared.output)\n\(journal.output)")
            return
        }
        let json = await container.value("cat /var/lib/ipsecsvc/hardening-probe.json")
        let results = try #require(
            try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
            "\(json)"
        )
        // CapabilityBoundingSet=CAP_CHOWN (bit 0): netfilter is the driver process's (ipsecsvc-driver.service).
        #expect(results["CapBnd"] as? String == "0000000000000001")
        #expect(results["CapAmb"] as? String == "0000000000000000")
        #expect(results["NoNewPrivs"] as? String == "1")
        #expect(
            results["Seccomp"] as? String == "2",
            "a seccomp filter (SystemCallArchitectures=, RestrictAddressFamilies=, …)"
        )
        let expected: [String: String] = [
            "write:/usr/ipsecsvc-probe": "EROFS", "write:/etc/ipsecsvc-probe": "EROFS",  // ProtectSystem=strict
            "write:/var/lib/ipsecsvc/probe": "ok", "write:/run/ipsecsvc/probe": "ok",  // ReadWritePaths=
            "write:/tmp/probe": "ok", "list:/root": "EACCES", "list:/home": "EACCES",  // PrivateTmp=, ProtectHome=
            // RestrictAddressFamilies=
            "socket:AF_PACKET": "EAFNOSUPPORT", "socket:AF_INET": "ok", "socket:AF_NETLINK": "ok",
            "mmap:wx": "EPERM",  // MemoryDenyWriteExecute=
            "unshare:user": "EPERM", "unshare:net": "EPERM",  // RestrictNamespaces=
            "personality": "EPERM",  // LockPersonality=
            "clock_settime": "EPERM",  // ProtectClock=
            "write:/sys/fs/cgroup": "EROFS",  // ProtectControlGroups=
            "open:/dev/kmsg": "ENOENT",  // PrivateDevices=, ProtectKernelLogs=
        ]
        for (check, outcome) in expected.sorted(by: { $0.key < $1.key }) {
            #expect(results[check] as? String == outcome, "\(check): \(results[check] ?? "missing")")
        }
        #expect(
            results["tmp-marker-visible"] as? Bool == false,
            "PrivateTmp=: the container's /tmp is not the service's"
        )

        // The service process itself.
        let own = await container.value(
            """
            pid=$(systemctl show -P MainPID ipsecsvc)
            grep -E '^(CapBnd|NoNewPrivs|Seccomp):' /proc/$pid/status
            awk '$5 == "/usr" || $5 == "/" { print $5, $6 }' /proc/$pid/mountinfo
            """
        )
        #expect(
            own.contains("CapBnd:\t0000000000000001") && own.contains("NoNewPrivs:\t1") && own.contains("Seccomp:\t2"),
            "\(own)"
        )
        #expect(own.contains("/usr ro,") && own.contains("/ ro,"), "\(own)")
        await container.run(
            "rm /etc/systemd/system/ipsecsvc.service.d/test-probe.conf && systemctl daemon-reload && systemctl restart ipsecsvc"
        )
    }

    /// `systemctl reload`: SIGHUP, RELOADING=1, the sources re-read, READY=1 (PID 1 logs each
    /// notification at debug level).
    static func checkReload(_ container: SystemdContainer) async throws {
        let cursor = await container.value(
            "systemctl log-level debug; journalctl -n 0 --show-cursor -q | sed -n 's/^-- cursor: //p'"
        )
        let reload = await container.run("systemctl reload ipsecsvc")
        #expect(reload.status == 0, "\(reload.output)")
        await container.run("systemctl log-level info")
        var log = ""
        let sequence = await eventually(timeout: .seconds(20)) {
            log = await container.value("journalctl -u ipsecsvc --after-cursor='\(cursor)' -o cat --no-pager")
            return log.contains("Changed reload -> running")
        }
        #expect(sequence, "\(log)")
        let reloading = log.range(of: "(RELOADING=1")
        let ready = log.range(of: "(READY=1")
        #expect(reloading != nil && ready != nil && reloading!.lowerBound < ready!.lowerBound, "\(log)")
        var refreshed = ""
        let journaled = await eventually(timeout: .seconds(20)) {
            refreshed = await container.value(
                "journalctl _SYSTEMD_INVOCATION_ID=$(systemctl show -P InvocationID ipsecsvc) MESSAGE_ID=ca4274dd851a47e8a7b303d78db12c33 -o cat"
            )
            return refreshed.contains("refreshed")
        }
        #expect(journaled, "\(refreshed)")
        #expect(await container.property("ipsecsvc.service", "ActiveState") == "active")
    }

    /// A hung service (SIGSTOP: nothing in it runs, so no WATCHDOG=1) is killed by the watchdog and
    /// restarted. A drop-in shortens WatchdogSec= for the test; the unit's own setting is 30 s.
    static func checkWatchdog(_ container: SystemdContainer) async throws {
        let prepared = await container.run(
            """
            set -e
            printf '[Service]\\nWatchdogSec=3s\\nRestartSec=1s\\nTimeoutAbortSec=10s\\n' > /etc/systemd/system/ipsecsvc.service.d/test-watchdog.conf
            systemctl daemon-reload
            systemctl restart ipsecsvc
            """
        )
        try #require(prepared.status == 0, "\(prepared.output)")
        let hung = await container.property("ipsecsvc.service", "MainPID")
        let restartsBefore = Int(await container.property("ipsecsvc.service", "NRestarts")) ?? -1
        #expect(await container.run("kill -STOP \(hung)").status == 0)
        let restarted = await eventually(timeout: .seconds(60), interval: .milliseconds(250)) {
            let restarts = Int(await container.property("ipsecsvc.service", "NRestarts")) ?? -1
            let pid = await container.property("ipsecsvc.service", "MainPID")
            let active = await container.property("ipsecsvc.service", "ActiveState")
            return restarts == restartsBefore + 1 && active == "active" && pid != hung && pid != "0"
        }
        let log = await container.value("journalctl -u ipsecsvc -o cat --no-pager | tail -30")
        #expect(restarted, "\(log)")
        #expect(log.contains("Watchdog timeout (limit 3s)!") && log.contains("Failed with result 'watchdog'"), "\(log)")
        #expect(await container.property("ipsecsvc.service", "StatusText").hasPrefix("driver in secure mode"))
        await container.run("rm /etc/systemd/system/ipsecsvc.service.d/test-watchdog.conf && systemctl daemon-reload")
    }

    /// Each event's MESSAGE_ID from docs/service.md's table is in `journalctl -u … -o json`.
    static func checkMessageIDs(_ container: SystemdContainer, units: [String], events: [String]) async throws {
        let documented = try documentedMessageIDs()
        let json = await container.value(
            "journalctl " + units.map { "-u \($0)" }.joined(separator: " ") + " -o json --no-pager"
        )
        let found = Set(
            json.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["MESSAGE_ID"] as? String
            }
        )
        for event in events {
            let id = documented.first { $0.event.lowercased().hasPrefix(event) }?.id
            #expect(id != nil, "docs/service.md documents no MESSAGE_ID for '\(event)'")
            if let id { #expect(found.contains(id), "\(event) (\(id)) is not in journalctl -u \(units) -o json") }
        }
    }

    /// The `| \`MESSAGE_ID\` | event | priority |` rows of docs/service.md.
    static func documentedMessageIDs() throws -> [(id: String, event: String)] {
        let text = try String(contentsOfFile: TestPackages.repository + "/docs/service.md", encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 2, cells[0].count == 34, cells[0].hasPrefix("`"), cells[0].hasSuffix("`") else {
                return nil
            }
            return (String(cells[0].dropFirst().dropLast()), cells[1])
        }
    }

    /// Manual (from the configuration file, then from `service config`): the package disables the
    /// service; it is not started at boot (the boot unit still records permit mode); `systemctl start` works.
    /// Disabled: `systemctl start` fails with exit status 78, the journal says 1058, no restart.
    @Test func manualAndDisabledStartTypes() async throws {
        try await withSystemdContainer { container in
            try #require(await container.run(Self.install).status == 0)
            #expect(await container.run(Self.assignPolicy).status == 0)
            // postinst follows the configured start type: start_type in ipsecsvc.conf, no state file yet.
            let reconfigured = await container.run(
                """
                sed -i 's/^#start_type = automatic$/start_type = manual/' /etc/ipsecsvc/ipsecsvc.conf
                dpkg-reconfigure -f noninteractive ipsecsvc
                """
            )
            #expect(reconfigured.status == 0, "\(reconfigured.output)")
            #expect(
                await container.value("systemctl is-enabled ipsecsvc.service ipsecsvc-boot.service")
                    == "disabled\nenabled"
            )
            let manual = await container.run("ipsecsvc service config --start-type manual")
            #expect(manual.status == 0, "\(manual.output)")
            #expect(
                await container.value("systemctl is-enabled ipsecsvc.service ipsecsvc-boot.service")
                    == "disabled\nenabled"
            )

            try await container.reboot()
            #expect(await container.property("ipsecsvc.service", "ActiveState") == "inactive")
            #expect(await container.property("ipsecsvc-boot.service", "Result") == "success")
            let invocation = await container.property("ipsecsvc-boot.service", "InvocationID")
            let startup = await container.value("journalctl _SYSTEMD_INVOCATION_ID=\(invocation) -o json")
            #expect(startup.contains(#""IPSECSVC_DRIVER_MODE":"startup permit""#), "\(startup)")
            #expect(await Self.chains(container).isEmpty, "permit mode at boot: no IPSECSVC chain")

            let start = await container.run("systemctl start ipsecsvc")
            #expect(start.status == 0, "\(start.output)")
            #expect(await container.property("ipsecsvc.service", "SubState") == "running")
            #expect(await container.run("systemctl stop ipsecsvc").status == 0)

            let disabled = await container.run("ipsecsvc service config --start-type disabled")
            #expect(disabled.status == 0, "\(disabled.output)")
            #expect(await container.value("systemctl is-enabled ipsecsvc.service") == "disabled")
            let refused = await container.run("systemctl start ipsecsvc")
            #expect(refused.status != 0, "a Disabled service does not start")
            #expect(await container.property("ipsecsvc.service", "ExecMainStatus") == "78")
            // RestartPreventExitStatus=78: failed, not waiting for a restart.
            #expect(await container.property("ipsecsvc.service", "SubState") == "failed")
            var why = ""
            let journaled = await eventually(timeout: .seconds(20)) {
                why = await container.value(
                    "journalctl _SYSTEMD_INVOCATION_ID=$(systemctl show -P InvocationID ipsecsvc) MESSAGE_ID=721cbb5f5df54466bbcc9fd5c21195d2 -o json"
                )
                return why.contains(#""IPSECSVC_WINDOWS_ERROR":"1058""#)
            }
            #expect(journaled, "\(why)")
            #expect(await Self.chains(container).isEmpty)
            try await Self.checkMessageIDs(container, units: ["ipsecsvc"], events: ["service failed to start"])
        }
    }

    /// `apt remove` stops the service and leaves no IPSECSVC chain, also after a crash that left the
    /// rules in force (fail-closed); other rules stay. `apt purge` removes the state directory.
    @Test func removeAndPurgeLeaveNoChainAndNoState() async throws {
        try await withSystemdContainer { container in
            try #require(await container.run(Self.install).status == 0)
            let foreign = "-A INPUT -p tcp -m tcp --dport 9 -j ACCEPT"
            #expect(await container.run("iptables \(foreign) && ip6tables \(foreign)").status == 0)
            #expect(await container.run("systemctl start ipsecsvc").status == 0)
            #expect(!(await Self.chains(container)).isEmpty)

            let removed = await container.run("apt-get remove -y ipsecsvc")
            #expect(removed.status == 0, "\(removed.output)")
            #expect(await Self.chains(container).isEmpty, "apt remove leaves no IPSECSVC chain")
            #expect(await container.run("pgrep -x ipsecsvc").status != 0, "the service is stopped")
            let kept = await container.value("iptables -S INPUT; ip6tables -S INPUT")
            #expect(kept.components(separatedBy: foreign).count == 3, "other rules stay: \(kept)")
            #expect(await container.run("test -d /var/lib/ipsecsvc && test -f /etc/ipsecsvc/ipsecsvc.conf").status == 0)

            // A crash leaves the kernel rules in force; removing the package still clears them.
            try #require(await container.run(Self.install).status == 0)
            #expect(await container.run("systemctl start ipsecsvc && systemctl kill -s KILL ipsecsvc").status == 0)
            #expect(!(await Self.chains(container)).isEmpty, "fail-closed: the killed service's rules stay")
            #expect(await container.run("apt-get remove -y ipsecsvc").status == 0)
            #expect(await Self.chains(container).isEmpty, "apt remove after a crash leaves no IPSECSVC chain")

            let purged = await container.run("apt-get purge -y ipsecsvc")
            #expect(purged.status == 0, "\(purged.output)")
            #expect(await container.run("test -e /var/lib/ipsecsvc || test -e /etc/ipsecsvc").status != 0)
            let links = await container.value("ls /etc/systemd/system/*.wants/ 2>/dev/null | grep ipsecsvc || true")
            #expect(links.isEmpty, "\(links)")
            #expect(await container.run("dpkg -s ipsecsvc").status != 0)
        }
    }
}
