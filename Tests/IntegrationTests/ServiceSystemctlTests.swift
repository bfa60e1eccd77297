import Foundation
import Testing

/// Where systemd runs the machine, `service config` enables or disables the units and `service
/// start|stop` go through systemctl. PID 1 is not systemd here, so a stand-in `systemctl` on PATH
/// records what it is asked.
@Suite struct ServiceSystemctlTests {
    struct Sandbox {
        let root: URL
        var log: String { root.appendingPathComponent("systemctl.log").path }

        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent(
                "ipsecsvc-systemctl-\(UUID().uuidString)"
            )
            let bin = root.appendingPathComponent("bin")
            try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
            let fake = bin.appendingPathComponent("systemctl").path
            let script = Array("#!/bin/sh\necho \"$*\" >> '\(root.path)/systemctl.log'\nexit 0\n".utf8)
            // Close-on-exec: a process another test forks meanwhile must not inherit the open script,
            // or executing it fails with ETXTBSY and systemctl silently "does not run".
            let fd = open(fake, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o755)
            #expect(fd >= 0)
            #expect(script.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == script.count)
            close(fd)
        }

        /// Runs `ipsecsvc ARGUMENTS` with systemd use forced on and the stand-in first on PATH.
        func run(_ arguments: [String]) async throws -> Int32 {
            let root = self.root
            return try await offPool {
                let process = Process()
                process.executableURL = IPsecSvcProcess.executable
                process.arguments =
                    arguments + [
                        "--config", "/dev/null", "--state-dir", root.appendingPathComponent("state").path,
                        "--socket", root.appendingPathComponent("control.sock").path,
                    ]
                var environment = ProcessInfo.processInfo.environment
                environment["PATH"] =
                    root.appendingPathComponent("bin").path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
                environment["IPSECSVC_SYSTEMD"] = "yes"
                environment["IPSECSVC_DRIVER"] = "memory"
                process.environment = environment
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                process.waitUntilExit()
                return process.terminationStatus
            }
        }

        func calls() -> [String] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
    }

    @Test func startTypesEnableAndDisableTheUnits() async throws {
        let sandbox = try Sandbox()
        defer { try? FileManager.default.removeItem(at: sandbox.root) }
        #expect(try await sandbox.run(["service", "config", "--start-type", "automatic"]) == 0)
        #expect(try await sandbox.run(["service", "config", "--start-type", "manual"]) == 0)
        #expect(try await sandbox.run(["service", "config", "start=", "disabled"]) == 0)
        #expect(
            sandbox.calls() == [
                "enable --quiet ipsecsvc.service ipsecsvc-boot.service ipsecsvc-driver.service",
                "disable --quiet ipsecsvc.service",
                "disable --quiet ipsecsvc.service",
            ]
        )
    }

    @Test func startAndStopGoThroughSystemctl() async throws {
        let sandbox = try Sandbox()
        defer { try? FileManager.default.removeItem(at: sandbox.root) }
        #expect(try await sandbox.run(["service", "config", "--start-type", "manual"]) == 0)
        _ = try await sandbox.run(["service", "start"])
        _ = try await sandbox.run(["service", "stop"])
        #expect(sandbox.calls().contains("start ipsecsvc.service"))
        #expect(sandbox.calls().contains("stop ipsecsvc.service"))
    }

    @Test func aDisabledServiceIsNotStartedThroughSystemctl() async throws {
        let sandbox = try Sandbox()
        defer { try? FileManager.default.removeItem(at: sandbox.root) }
        #expect(try await sandbox.run(["service", "config", "--start-type", "disabled"]) == 0)
        #expect(try await sandbox.run(["service", "start"]) != 0)
        #expect(!sandbox.calls().contains("start ipsecsvc.service"))
    }
}
