import Foundation
import IPsecTestKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The real `ipsecsvc` binary through its lifecycle, observed through the memory driver's state file,
/// the control socket and a `NOTIFY_SOCKET` the test owns (PID 1 is not systemd here).
@Suite(.serialized) struct ServiceLifecycleIntegrationTests {
    @Test func notifyMessagesInOrderWithReloadWatchdogAndStop() async throws {
        let sandbox = try ServiceSandbox()
        defer { sandbox.remove() }
        let listener = try NotifyListener(path: sandbox.root + "/notify.sock")
        let service = try sandbox.startRun(environment: [
            "NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": "200000",
        ])
        defer { service.terminate() }

        var pings = 0
        let starting = try #require(
            await listener.nextNonWatchdog(pings: &pings),
            "no STATUS=; log:\n\(service.output)"
        )
        #expect(starting == "STATUS=Starting: applying the persistent policy")
        let ready = try #require(await listener.nextNonWatchdog(pings: &pings), "no READY=1; log:\n\(service.output)")
        #expect(ready.hasPrefix("READY=1\nSTATUS=driver in secure mode"))
        // READY=1 comes only once the socket answers and the persistent policy is applied.
        // A blocking exchange: on a thread of its own, not the cooperative pool.
        let socket = sandbox.socket
        let answer = try await offPool {
            let status = RawControl.request(socket, #"{"version":1,"command":"service.status"}"#)
            let body = status["body"] as? [String: Any]
            return (body?["state"] as? String, body?["driverMode"] as? String)
        }
        #expect(answer.0 == "RUNNING")
        #expect(answer.1 == "secure")
        #expect(sandbox.driverMode() == "secure")

        service.signal(SIGHUP)
        let reloading = try #require(await listener.nextNonWatchdog(pings: &pings))
        #expect(reloading.hasPrefix("RELOADING=1\nMONOTONIC_USEC="))
        let reloaded = try #require(await listener.nextNonWatchdog(pings: &pings))
        #expect(reloaded.hasPrefix("READY=1\nSTATUS="))

        // Watchdog pings arrive at half of WATCHDOG_USEC.
        let deadline = Date().addingTimeInterval(20)
        while pings < 3, Date() < deadline {
            if await listener.next(timeout: 0.5) == "WATCHDOG=1" { pings += 1 }
        }
        #expect(pings >= 3)

        service.signal(SIGTERM)
        let stopping = try #require(await listener.nextNonWatchdog(pings: &pings))
        #expect(stopping.hasPrefix("STOPPING=1"))
        #expect(await service.exited(timeout: 30) == 0, "log:\n\(service.output)")
        #expect(sandbox.driverMode() == "permit")
        #expect(!FileManager.default.fileExists(atPath: sandbox.socket))
        let log = service.output
        #expect(log.contains("MESSAGE_ID=ecb601e651f74f16956b97fc60503b4b"))  // started
        #expect(log.contains("MESSAGE_ID=ca4274dd851a47e8a7b303d78db12c33"))  // refreshed
        #expect(log.contains("MESSAGE_ID=e66c73f71dda4085b876fe8993bd98fe"))  // stopped
    }

    @Test func doneWhenScenario() async throws {
        let sandbox = try ServiceSandbox()
        defer { sandbox.remove() }
        let common = sandbox.commonArguments

        #expect(try await sandbox.execute(["service", "config", "--start-type", "automatic"] + common).status == 0)
        let boot = try await sandbox.execute(["boot"] + common)
        #expect(boot.status == 0, "\(boot.output)")
        #expect(sandbox.driverMode() == "startup permit")  // no policy assigned: permit by default

        let service = try sandbox.startRun()
        defer { service.terminate() }
        #expect(await sandbox.waitForRunning(), "log:\n\(service.output)")
        let query = try await sandbox.execute(["service", "query"] + common)
        #expect(query.output.contains("STATE              : 4  RUNNING"), "\(query.output)")
        #expect(query.output.contains("DRIVER_MODE        : secure"))
        #expect(query.output.contains("PID                : \(service.pid)"))

        let json = try await sandbox.execute(["status", "--json"] + common)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect(report["state"] as? String == "RUNNING")
        #expect(report["startType"] as? String == "automatic")

        let stop = try await sandbox.execute(["service", "stop"] + common)
        #expect(stop.status == 0, "\(stop.output)")
        #expect(stop.output.contains("STOPPED"))
        #expect(await service.exited(timeout: 30) == 0)
        #expect(sandbox.driverMode() == "permit")

        let stopAgain = try await sandbox.execute(["service", "stop"] + common)
        #expect(stopAgain.status != 0)
        #expect(stopAgain.output.contains("1062"))

        #expect(try await sandbox.execute(["service", "config", "start=", "disabled"] + common).status == 0)
        let refused = try await sandbox.execute(["service", "start"] + common)
        #expect(refused.status != 0)
        #expect(refused.output.contains("FAILED 1058"))
        #expect(refused.output.contains("The service cannot be started, either because it is disabled"))
        let refusedRun = try await sandbox.execute(["run"] + common)
        #expect(refusedRun.status == 78)
        #expect(refusedRun.output.contains("1058"))
        let query2 = try await sandbox.execute(["service", "query"] + common)
        #expect(query2.output.contains("4   DISABLED"))
    }

    /// The cleanup of a PID read from the pid file kills only this sandbox's service: a process that
    /// got the PID after the service exited (PIDs wrap) is left alone.
    @Test func staleServicePIDsAreNotKilled() async throws {
        let sandbox = try ServiceSandbox()
        defer { sandbox.remove() }
        // Long-running processes whose command lines name a file: the sandbox's socket path, or not.
        _ = FileManager.default.createFile(atPath: sandbox.socket, contents: nil)
        _ = FileManager.default.createFile(atPath: sandbox.root + "/other", contents: nil)
        let stranger = try ServiceProcess(["tail", "-f", sandbox.root + "/other"], output: sandbox.root + "/s.out")
        defer { stranger.terminate() }
        let ours = try ServiceProcess(["tail", "-f", sandbox.socket], output: sandbox.root + "/o.out")
        defer { ours.terminate() }
        // Both have exec'd tail (the spawn may return before the new command line shows in /proc).
        #expect(
            await eventually {
                [stranger.pid, ours.pid].allSatisfy { ServiceSandbox.commandLine(of: $0).first == "tail" }
            }
        )
        sandbox.killServiceIfStillRunning(stranger.pid)
        sandbox.killServiceIfStillRunning(ours.pid)
        #expect(await ours.exited(timeout: 10) == 128 + SIGKILL)
        #expect(await stranger.exited(timeout: 0.3) == nil, "a process that is not the sandbox's service was killed")
    }

    @Test func serviceStartWithoutSystemdSpawnsAndStops() async throws {
        let sandbox = try ServiceSandbox()
        defer { sandbox.remove() }
        let common = sandbox.commonArguments
        #expect(try await sandbox.execute(["service", "config", "--start-type", "manual"] + common).status == 0)
        let start = try await sandbox.execute(["service", "start"] + common)
        #expect(start.status == 0, "\(start.output)")
        #expect(start.output.contains("RUNNING"))
        let pidText = try String(contentsOfFile: sandbox.root + "/ipsecsvc.pid", encoding: .utf8)
        let pid = try #require(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        // Not our child (`service start` spawned it), so it cannot be reaped here: kill it only if that
        // PID is still this sandbox's service, never a process that reused the PID after it exited.
        defer { sandbox.killServiceIfStillRunning(pid) }
        let again = try await sandbox.execute(["service", "start"] + common)
        #expect(again.output.contains("1056"))
        let restart = try await sandbox.execute(["service", "restart"] + common)
        #expect(restart.status == 0, "\(restart.output)")
        let stop = try await sandbox.execute(["service", "stop"] + common)
        #expect(stop.status == 0, "\(stop.output)")
        #expect(sandbox.driverMode() == "permit")
    }

    @Test(arguments: [
        ("automatic", "bootmode = block\nbootexemptions = tcp:0:3389:inbound\n", "startup block"),
        ("automatic", "bootmode = stateful\n", "startup stateful"),
        ("automatic", "", "startup permit"),
        ("manual", "bootmode = block\n", "startup permit"),
        ("disabled", "bootmode = block\n", "startup permit"),
    ])
    func bootStepPerStartType(startType: String, dynamicConfig: String, expected: String) async throws {
        let sandbox = try ServiceSandbox()
        defer { sandbox.remove() }
        try FileManager.default.createDirectory(atPath: sandbox.stateDirectory, withIntermediateDirectories: true)
        try dynamicConfig.write(
            toFile: sandbox.stateDirectory + "/dynamic-settings.conf",
            atomically: true,
            encoding: .utf8
        )
        #expect(
            try await sandbox.execute(["service", "config", "--start-type", startType] + sandbox.commonArguments).status
                == 0
        )
        let boot = try await sandbox.execute(["boot"] + sandbox.commonArguments)
        #expect(boot.status == 0, "\(boot.output)")
        #expect(sandbox.driverMode() == expected)
        let exemptions = sandbox.driverState()?["exemptions"] as? [Any] ?? []
        #expect(exemptions.count == (expected == "startup block" ? 3 : expected == "startup stateful" ? 2 : 0))
    }

    @Test func settingsSurviveARestart() async throws {
        let sandbox = try ServiceSandbox()
        defer { sandbox.remove() }
        var service = try sandbox.startRun()
        defer { service.terminate() }
        #expect(await sandbox.waitForRunning(), "log:\n\(service.output)")
        let set = RawControl.request(
            sandbox.socket,
            #"{"version":1,"command":"config.set","body":{"property":"ipsecloginterval","value":"600"}}"#
        )
        #expect(set["ok"] as? Bool == true, "\(set)")
        let bad = RawControl.request(
            sandbox.socket,
            #"{"version":1,"command":"config.set","body":{"property":"ipsecexempt","value":"9"}}"#
        )
        #expect((bad["error"] as? [String: Any])?["code"] as? String == "invalid-arguments")
        service.signal(SIGTERM)
        #expect(await service.exited(timeout: 30) == 0)

        service = try sandbox.startRun()
        #expect(await sandbox.waitForRunning(), "log:\n\(service.output)")
        let get = RawControl.request(sandbox.socket, #"{"version":1,"command":"config.get"}"#)
        let body = try #require(get["body"] as? [String: Any], "\(get)")
        #expect(body["logIntervalSeconds"] as? Int == 600)
        #expect(body["exemptionLevel"] as? Int == 3)
        let settings = sandbox.driverState()?["settings"] as? [String: Any]
        #expect(settings?["logIntervalSeconds"] as? Int == 600)
        service.signal(SIGTERM)
        #expect(await service.exited(timeout: 30) == 0)
    }

    @Test func crashLeavesTheDriverAsItWasAndARestartRecovers() async throws {
        let sandbox = try ServiceSandbox()
        defer { sandbox.remove() }
        let first = try sandbox.startRun()
        defer { first.terminate() }
        #expect(await sandbox.waitForRunning(), "log:\n\(first.output)")
        first.signal(SIGKILL)
        #expect(await first.exited(timeout: 30) == 128 + SIGKILL)
        // Fail-closed: nobody put the driver in permit mode.
        #expect(sandbox.driverMode() == "secure")
        let offline = try await sandbox.execute(["service", "query"] + sandbox.commonArguments)
        #expect(offline.output.contains("STOPPED"))
        #expect(offline.output.contains("DRIVER_MODE        : secure"))

        // The stale socket of the crashed process does not stop a new start.
        let second = try sandbox.startRun()
        defer { second.terminate() }
        #expect(await sandbox.waitForRunning(), "log:\n\(second.output)")
        second.signal(SIGTERM)
        #expect(await second.exited(timeout: 30) == 0)
        #expect(sandbox.driverMode() == "permit")
    }

    @Test func configErrorsNameFileAndLine() async throws {
        let sandbox = try ServiceSandbox(extraConfig: "colour = blue\n")
        defer { sandbox.remove() }
        let result = try await sandbox.execute(["run"] + sandbox.commonArguments)
        #expect(result.status != 0)
        #expect(result.output.contains("\(sandbox.configPath):7: unknown key 'colour'"), "\(result.output)")
    }
}
