import IPsecSystem
import IPsecTestKit
import Testing

#if canImport(Glibc)
import Glibc
#endif

struct ChildProcessTests {
    @Test func runCapturesOutputErrorAndStatus() async throws {
        let result = try await ChildProcess.run(
            Command(
                "/bin/sh",
                ["-c", "cat; echo to-error >&2; exit 3"],
                standardInput: .bytes(Array("from input\n".utf8)),
                standardOutput: .capture,
                standardError: .capture
            ),
            timeout: .seconds(30)
        )
        #expect(result.status == .exited(3))
        #expect(result.outputText == "from input\n")
        #expect(result.errorText == "to-error\n")
        #expect(!result.outputTruncated)
    }

    @Test func largeInputAndOutputDoNotDeadlockAndOutputIsLimited() async throws {
        let input = [UInt8](repeating: 66, count: 1 << 20)
        let result = try await ChildProcess.run(
            Command("/bin/cat", standardInput: .bytes(input), standardOutput: .capture),
            timeout: .seconds(30),
            outputLimit: 1000
        )
        #expect(result.status.succeeded)
        #expect(result.output.count == 1000)
        #expect(result.outputTruncated)
    }

    @Test func aSignalIsReportedAsSuch() async throws {
        let result = try await ChildProcess.run(Command("/bin/sh", ["-c", "kill -KILL $$"]), timeout: .seconds(30))
        #expect(result.status == .signaled(SIGKILL))
        #expect(result.status.shellStatus == 137)
        #expect(result.status.description == "was killed by signal 9 (SIGKILL, Killed)")
    }

    @Test func aMissingProgramIsAnErrorNamingIt() async throws {
        await #expect(throws: SystemError.self) {
            try await ChildProcess.run(Command("/nonexistent/program"), timeout: .seconds(5))
        }
        let error = #expect(throws: SystemError.self) {
            try Command("no-such-program-ipsecsvc", searchPath: ["/usr/bin"]).resolvedExecutable()
        }
        #expect(error?.path == "no-such-program-ipsecsvc")
        #expect(try Command("sh", searchPath: Command.systemDirectories).resolvedExecutable().hasSuffix("/sh"))
    }

    // Children that would sleep 10 minutes: only a kill ends them within the time limit.
    @Test(.timeLimit(.minutes(2))) func aTimeoutKillsTheChildAndEverythingItStarted() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let pidFile = directory.file("grandchild")
        let error = await #expect(throws: SystemError.self) {
            try await ChildProcess.run(
                Command(
                    "/bin/sh",
                    ["-c", "sleep 600 & echo $! > \(pidFile); wait"],
                    standardOutput: .capture,
                    grouping: .newGroup
                ),
                // Long enough for the shell to start its child and write the PID on a loaded machine.
                timeout: .seconds(3)
            )
        }
        #expect(error?.errno == .timedOut)
        #expect(error?.description == "/bin/sh: run: did not finish within 3 s and was killed")
        let grandchild = try #require(Int32(try FileSystem.readText(pidFile, limit: 20).split(separator: "\n")[0]))
        // The grandchild was in the child's group: killed too (reaped by init, possibly a moment later).
        #expect(await eventually(timeout: .seconds(10)) { !CurrentProcess.isAlive(grandchild) })
    }

    @Test(.timeLimit(.minutes(2))) func cancellingTheTaskKillsTheChild() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        let started = directory.file("started")
        // The child says when it runs (its PID in a file), so the cancel reaches a running child.
        let task = Task {
            try await ChildProcess.run(
                Command(
                    "/bin/sh",
                    ["-c", "echo $$ > \(started).tmp && mv \(started).tmp \(started) && exec sleep 600"]
                ),
                timeout: .seconds(900)
            )
        }
        #expect(await eventually { (try? FileSystem.readTextIfPresent(started, limit: 64)) != nil })
        let text = try #require(try FileSystem.readTextIfPresent(started, limit: 64))
        let pid = try #require(pid_t(text.split(separator: "\n").first ?? ""))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        // The child is gone (killed and reaped), not left running.
        #expect(kill(pid, 0) == -1 && errno == ESRCH)
    }

    @Test func theChildStartsWithACleanSignalMaskAndDefaultDispositions() async throws {
        // SIGUSR2 ignored process-wide and SIGUSR1 blocked on the spawning thread: neither may reach
        // the child (the service ignores SIGTERM/SIGINT/SIGHUP for its signal handling, for example).
        let previous = signal(SIGUSR2, SIG_IGN)
        defer { signal(SIGUSR2, previous) }
        let status = try await DedicatedThread.run(name: "mask-test") { () -> Result<CommandResult, SystemError> in
            var blocked = sigset_t()
            sigemptyset(&blocked)
            sigaddset(&blocked, SIGUSR1)
            pthread_sigmask(SIG_BLOCK, &blocked, nil)
            return Result { () throws(SystemError) in
                try ChildProcess.runBlocking(
                    Command("/bin/cat", ["/proc/self/status"], standardOutput: .capture),
                    timeout: .seconds(30)
                )
            }
        }.get().outputText
        func mask(_ name: String) -> UInt64? {
            status.split(separator: "\n").first { $0.hasPrefix(name + ":\t") }
                .flatMap { UInt64($0.dropFirst(name.count + 2), radix: 16) }
        }
        #expect(mask("SigBlk") == 0, "\(status)")
        // glibc's posix_spawn leaves its two internal signals (32 and 33, bits 31 and 32) ignored in the
        // child by design; no program can use them. Every other signal has its default disposition.
        #expect(mask("SigIgn").map { $0 & ~0x1_8000_0000 } == 0, "\(status)")
    }

    @Test func theChildSeesNoDescriptorOfOursBeyondTheStandardThree() async throws {
        let directory = TemporaryDirectory()
        defer { directory.remove() }
        // Deliberately without O_CLOEXEC: the spawn closes it all the same.
        let leaky = open(directory.write("leak", "x"), O_RDONLY)
        #expect(leaky > 2)
        defer { close(leaky) }
        var pair: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
        defer { pair.forEach { close($0) } }

        let child = try ChildProcess.spawn(Command("/bin/sleep", ["60"]))
        let passing = try ChildProcess.spawn(Command("/bin/sleep", ["60"], passedDescriptors: [pair[1]]))
        defer {
            for process in [child, passing] {
                process.signal(SIGKILL)
                _ = process.wait()
            }
        }
        // Waited for: before its exec a child still holds what it is about to close, and `sleep` itself
        // may hold a locale file for a moment after it; a descriptor of ours would stay for good.
        #expect(await eventually { (try? FileSystem.entries(of: "/proc/\(child.pid)/fd")) == ["0", "1", "2"] })
        #expect(
            await eventually { (try? FileSystem.entries(of: "/proc/\(passing.pid)/fd")) == ["0", "1", "2", "3"] }
        )
        #expect(try Self.link("/proc/\(passing.pid)/fd/3") == Self.link("/proc/self/fd/\(pair[1])"))
        #expect(try Self.link("/proc/\(child.pid)/fd/0") == "/dev/null")
    }

    @Test func waitWithATimeoutReturnsNilWhileTheChildRuns() throws {
        let child = try ChildProcess.spawn(Command("/bin/sleep", ["60"], grouping: .newGroup))
        #expect(child.wait(timeout: .milliseconds(50)) == nil)
        #expect(child.waitIfExited() == nil)
        child.signal(SIGTERM)
        #expect(child.wait(timeout: .seconds(30)) == .signaled(SIGTERM))
        // Reaped: signals are no longer sent (the PID may belong to another process by now).
        child.signal(SIGKILL)
        #expect(child.peakMemoryKiB != nil)
    }

    private static func link(_ path: String) throws -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink(path, &buffer, buffer.count - 1)
        guard count > 0 else { throw SystemError("readlink", path: path) }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
