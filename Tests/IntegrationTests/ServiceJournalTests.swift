import Foundation
import IPsecTestKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real journald path (`sd_journal_sendv`), end to end: a private `systemd-journald` in a private
/// mount namespace, the real `ipsecsvc` commands in that namespace, and the entries read back with
/// `journalctl -o json`. PID 1 is not systemd here, so without this only the stderr fallback runs.
@Suite(.serialized) struct ServiceJournalTests {
    @Test(.requires(PrivateJournald.requirement))
    func eventsReachJournaldWithTheirIDsPrioritiesAndFields() async throws {
        // Mode 0666 lets `nobody` connect, so the service itself refuses it (and journals that).
        let sandbox = try ServiceSandbox(extraConfig: "socket_mode = 0666\n")
        defer { sandbox.remove() }
        let journald = try PrivateJournald(root: sandbox.root)
        defer { journald.process.terminate() }
        try await journald.waitUntilListening()
        let inside = journald.namespacePrefix
        let common = sandbox.commonArguments
        var outputs: [String] = []

        func execute(_ arguments: [String]) async throws -> ProcessResult {
            let result = try await sandbox.execute(arguments + common, prefix: inside)
            outputs.append(result.output)
            return result
        }

        // A local policy, so that the start journals a policy with its source and name.
        let policyFile = sandbox.root + "/local.xml"
        try PluginServiceTests.document(
            tag: "6a7b8c9d",
            name: "Journal",
            source: "198.18.0.1",
            destination: "198.18.9.1",
            action: "permit"
        )
        .write(toFile: policyFile, atomically: true, encoding: .utf8)
        let imported = try await execute([
            "policy", "import", policyFile, "--store", "local", "--assign", "Journal policy",
        ])
        try #require(imported.status == 0, "import: \(imported.output)")
        let automatic = try await execute(["service", "config", "--start-type", "automatic"])
        #expect(automatic.status == 0, "\(automatic.output)")
        let boot = try await execute(["boot"])
        #expect(boot.status == 0, "\(boot.output)")

        let service = try ServiceProcess(
            inside + [ServiceHarness.executable, "run"] + common,
            output: sandbox.logPath
        )
        defer { service.terminate() }
        try #require(await sandbox.waitForRunning(timeout: 60), "log:\n\(service.output)")
        // Refused by the service (SO_PEERCRED): a warning.
        let nobody = try await sandbox.execute(
            ["status", "--socket", sandbox.socket],
            prefix: ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]
        )
        #expect(nobody.status != 0 && nobody.output.contains("Access is denied"), "\(nobody.output)")
        service.signal(SIGHUP)
        _ = try await journald.entries(containing: [.policyRefreshed, .accessRefused])
        service.signal(SIGTERM)
        #expect(await service.exited(timeout: 60) == 0, "log:\n\(service.output)")
        outputs.append(service.output)

        // A Disabled service refuses to run: an error.
        let disabled = try await execute(["service", "config", "--start-type", "disabled"])
        #expect(disabled.status == 0, "\(disabled.output)")
        let refusedRun = try await execute(["run"])
        #expect(refusedRun.status != 0, "\(refusedRun.output)")

        let expected: [JournalKind] = [
            .startTypeChanged, .bootModeApplied, .driverModeChanged, .policyApplied, .serviceStarted,
            .accessRefused, .policyRefreshed, .serviceStopped, .serviceStartFailed,
        ]
        let entries = try await journald.entries(containing: expected)
        func only(_ kind: JournalKind) -> [[String: String]] { entries.filter { $0["MESSAGE_ID"] == kind.rawValue } }

        // Every entry: the native protocol (not stdout, not syslog), the identifier, a message.
        let ours = entries.filter { $0["SYSLOG_IDENTIFIER"] == "ipsecsvc" }
        #expect(ours.count == entries.filter { $0["_COMM"] == "ipsecsvc" }.count)
        for entry in ours {
            #expect(entry["_TRANSPORT"] == "journal", "\(entry)")
            #expect(entry["_COMM"] == "ipsecsvc", "\(entry)")
            #expect(!(entry["MESSAGE"] ?? "").isEmpty, "\(entry)")
            #expect(JournalKind(rawValue: entry["MESSAGE_ID"] ?? "") != nil, "unknown MESSAGE_ID: \(entry)")
        }

        let startTypes = only(.startTypeChanged)
        #expect(startTypes.map { $0["IPSECSVC_START_TYPE"] } == ["automatic", "disabled"], "\(startTypes)")
        #expect(startTypes.allSatisfy { $0["PRIORITY"] == "6" })

        let boots = only(.bootModeApplied)
        #expect(boots.count == 1, "\(boots)")
        #expect(boots.first?["PRIORITY"] == "6")
        #expect(boots.first?["IPSECSVC_DRIVER_MODE"] == "startup stateful", "\(boots)")
        #expect(boots.first?["IPSECSVC_START_TYPE"] == "automatic")

        // The run process: its own PID on each of its entries.
        let runPID = String(service.pid)
        let modes = only(.driverModeChanged)
        #expect(modes.map { $0["IPSECSVC_DRIVER_MODE"] } == ["secure", "permit"], "\(modes)")
        #expect(modes.allSatisfy { $0["PRIORITY"] == "6" && $0["_PID"] == runPID })

        let applied = only(.policyApplied)
        #expect(applied.count >= 1, "\(entries)")
        for entry in applied {
            #expect(entry["PRIORITY"] == "6")
            #expect(entry["IPSECSVC_SOURCE"] == "local", "\(entry)")
            #expect(entry["IPSECSVC_POLICY"] == "Journal policy", "\(entry)")
            #expect(entry["MESSAGE"]?.contains("local registry storage IPsec policy \"Journal policy\"") == true)
        }

        let started = only(.serviceStarted)
        #expect(started.count == 1 && started.first?["_PID"] == runPID, "\(started)")
        #expect(started.first?["PRIORITY"] == "6")
        #expect(started.first?["IPSECSVC_DRIVER_MODE"] == "secure")

        let refusals = only(.accessRefused)
        #expect(refusals.count == 1, "\(refusals)")
        #expect(refusals.first?["PRIORITY"] == "4")
        #expect(refusals.first?["IPSECSVC_PEER_UID"] == "65534", "\(refusals)")
        #expect(refusals.first?["IPSECSVC_PEER_GID"] == String(GroupDatabase.gid(of: "nogroup") ?? 65534))
        #expect(Int(refusals.first?["IPSECSVC_PEER_PID"] ?? "") ?? 0 > 0)

        let refreshed = only(.policyRefreshed)
        #expect(refreshed.count == 1 && refreshed.first?["PRIORITY"] == "6", "\(refreshed)")
        let stopped = only(.serviceStopped)
        #expect(stopped.count == 1 && stopped.first?["PRIORITY"] == "6" && stopped.first?["_PID"] == runPID)

        let failed = only(.serviceStartFailed)
        #expect(failed.count == 1, "\(failed)")
        #expect(failed.first?["PRIORITY"] == "3")
        #expect(failed.first?["IPSECSVC_WINDOWS_ERROR"] == "1058", "\(failed)")

        // Nothing went to the standard-error fallback.
        for output in outputs { #expect(!output.contains("MESSAGE_ID="), "stderr fallback used:\n\(output)") }

        #expect(await journald.stop() == 0, "journald: \(journald.process.output)")
    }

    /// The socket exists but journald is gone (`ECONNREFUSED`): the entry goes to standard error.
    @Test(.requires(PrivateJournald.requirement))
    func staleJournaldSocketFallsBackToStandardError() async throws {
        let sandbox = try ServiceSandbox()
        defer { sandbox.remove() }
        let run = sandbox.root + "/run"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        // In the namespace: journald starts, is stopped (by its PID), leaves its socket; then the command.
        let script =
            PrivateJournald.namespaceSetup + """
                \(PrivateJournald.binary) & journald=$!
                i=0
                while [ ! -S /run/systemd/journal/socket ]; do i=$((i + 1)); [ $i -lt 600 ]; sleep 0.05; done
                kill -TERM $journald
                wait $journald || true
                test -S /run/systemd/journal/socket
                exec "$2" service config --start-type manual --config "$3"
                """
        let process = try ServiceProcess(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", run]
                + [ServiceHarness.executable, sandbox.configPath],
            output: sandbox.root + "/stale.out"
        )
        defer { process.terminate() }
        let status = await process.exited(timeout: 60)
        let result = ProcessResult(status: status ?? -1, output: process.output)
        #expect(result.status == 0, "\(result.output)")
        #expect(
            result.output.contains(
                "> The start type of the IPSEC Services service was changed to manual. "
                    + "(MESSAGE_ID=7d5c4ef40ef343b19fa32e53229a7553 IPSECSVC_START_TYPE=manual)"
            ),
            "\(result.output)"
        )
        #expect(result.output.contains("ipsecsvc["), "\(result.output)")
    }
}

/// The ids the test checks (the service's `JournalEventKind`, docs/service.md).
enum JournalKind: String, CaseIterable {
    case serviceStarted = "ecb601e651f74f16956b97fc60503b4b"
    case serviceStopped = "e66c73f71dda4085b876fe8993bd98fe"
    case serviceStartFailed = "721cbb5f5df54466bbcc9fd5c21195d2"
    case driverModeChanged = "534186f9c7fe437b9b133ffd6cdb8036"
    case persistentPolicyFailed = "256a55b9071a4f7bb313c5c0e42753dd"
    case policyApplied = "da4c29b9e1884206a06b92f3f89f2d18"
    case cachedDirectoryPolicyApplied = "8d64ea48115b435ab4e5d081cf87a8a1"
    case policySourceFailed = "73f33b24d7bd4e51a015c92615eabf94"
    case policyRefreshed = "ca4274dd851a47e8a7b303d78db12c33"
    case accessRefused = "540e0118f1d54a608fb55d33a4cfc578"
    case bootModeApplied = "6d4e066fecbf463ea1dd436caefaea16"
    case startTypeChanged = "7d5c4ef40ef343b19fa32e53229a7553"
    case noStaticPolicy = "0b972a9ce5e6408b8d4bb333f69495a3"
    case persistentPendingRestart = "ce46cea326c948bb8e31fe1a886012b0"
    case driverEvent = "4cfe5d06756849378cff44ff83f6512b"
    case ikeDaemonConnected = "835c82b217614f34a017b5f61b289ed7"
    case ikeDaemonLost = "13304292c7f84244a1c0bb8120b01506"
    case ikeLoadFailed = "0b212fd9419e4e6eb829ca75135cc6fe"
    case ikeNegotiationFailed = "037fce86eb994ade8a94e2d210e3f5ec"
    case ikeNotNegotiable = "dc548bcc358a4a3a8fefe5a2e3fa9103"
    case ikeSoftAssociation = "6ae8508cd62e40adbafdf6150351ea3d"
    case ikeNegotiated = "86e890d7af814eecb2ae8a784d8edfc1"
}

/// A `systemd-journald` of the test's own. It runs in a private mount namespace (`unshare --mount
/// --propagation private`) where `<root>/run` is bind-mounted on `/run` — and a tmpfs on
/// `/var/log/journal`, so that it can never write the host's persistent journal — and nothing on the
/// host is mounted or changed. There its socket is `/run/systemd/journal/socket`, and its files land in
/// `<root>/run/log/journal`, which `journalctl --directory` reads from the host. The namespace, and with
/// it the mounts, goes away with the last process in it: journald and the commands run inside with
/// ``namespacePrefix``, all children of the test.
final class PrivateJournald {
    static let binary = "/lib/systemd/systemd-journald"
    /// Root (a private mount namespace), journald and journalctl, unshare, nsenter and setpriv.
    static var requirement: MachineRequirement {
        .all([
            .root,
            .check(FileManager.default.isExecutableFile(atPath: binary), "\(binary) (apt-get install -y systemd)"),
            .command("journalctl", package: "systemd"), .command("unshare", package: "util-linux"),
            .command("nsenter", package: "util-linux"), .command("setpriv", package: "util-linux"),
        ])
    }
    let runDirectory: String
    let process: ServiceProcess

    var journalDirectory: String { runDirectory + "/log/journal" }
    var socketPath: String { runDirectory + "/systemd/journal/socket" }
    /// Runs a command in journald's mount namespace (nsenter execs it: the PID is the command's).
    var namespacePrefix: [String] { ["nsenter", "--target", String(process.pid), "--mount", "--"] }

    /// The mounts, in the new namespace (`$1`: the directory for `/run`). `-n`: no utab entries.
    static let namespaceSetup = """
        set -e
        mount -n --bind "$1" /run
        if [ -d /var/log/journal ]; then mount -n -t tmpfs -o mode=0755 tmpfs /var/log/journal; fi

        """

    init(root: String) throws {
        runDirectory = root + "/run"
        try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        let script = Self.namespaceSetup + "exec \(Self.binary)\n"
        process = try ServiceProcess(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", runDirectory],
            output: root + "/journald.out"
        )
    }

    /// Waits until journald's socket exists; throws with journald's own words when it exits first.
    func waitUntilListening(timeout: Double = 30) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if FileManager.default.fileExists(atPath: socketPath) { return }
            if let status = await process.exited(timeout: 0) {
                Issue.record("systemd-journald (unshare) exited with status \(status):\n\(process.output)")
                throw POSIXError(.ESRCH)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        // Once more after the deadline: the busy cooperative pool may have resumed this task late.
        if FileManager.default.fileExists(atPath: socketPath) { return }
        Issue.record("systemd-journald never created \(socketPath):\n\(process.output)")
        throw POSIXError(.ETIMEDOUT)
    }

    /// Every entry of the journal (`journalctl -o json`, one object per line, values as strings), once
    /// it holds an `ipsecsvc` entry of each of `kinds` (polling; what it has after `timeout` otherwise).
    func entries(containing kinds: [JournalKind], timeout: Double = 30) async throws -> [[String: String]] {
        let deadline = Date().addingTimeInterval(timeout)
        var entries: [[String: String]] = []
        repeat {
            entries = try await read()
            let present = Set(entries.filter { $0["SYSLOG_IDENTIFIER"] == "ipsecsvc" }.compactMap { $0["MESSAGE_ID"] })
            if kinds.allSatisfy({ present.contains($0.rawValue) }) { return entries }
            try await Task.sleep(for: .milliseconds(100))
        } while Date() < deadline
        Issue.record("the journal lacks some of \(kinds); journald: \(process.output)")
        return entries
    }

    private func read() async throws -> [[String: String]] {
        let output = (runDirectory as NSString).deletingLastPathComponent + "/journalctl-\(UUID().uuidString).json"
        defer { unlink(output) }
        let reader = try ServiceProcess(
            ["journalctl", "--directory", journalDirectory, "-o", "json", "--no-pager", "-q"],
            output: output
        )
        guard await reader.exited(timeout: 30) != nil else {
            reader.terminate()
            return []
        }
        return reader.output.split(separator: "\n").compactMap { line in
            guard line.hasPrefix("{"),
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            else { return nil }
            return object.compactMapValues { $0 as? String }
        }
    }

    /// SIGTERM, then its exit status (SIGKILL after 10 s).
    func stop() async -> Int32? {
        process.signal(SIGTERM)
        if let status = await process.exited(timeout: 10) { return status }
        process.terminate()
        return nil
    }
}
