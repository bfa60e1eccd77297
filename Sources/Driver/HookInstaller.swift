import Dispatch
import Foundation
import Synchronization

/// A command of the kernel-hook tools failed.
public struct HookCommandError: Error, CustomStringConvertible {
    public var command: String
    public var status: Int32
    public var standardError: String

    public var description: String {
        "\(command) failed with status \(status): \(standardError.trimmingCharacters(in: .whitespacesAndNewlines))"
    }
}

/// Result of one external command.
struct CommandResult: Sendable {
    var status: Int32
    var output: String
    var error: String
}

/// Runs a command to completion on a thread of its own, so that waiting for `iptables-restore`
/// never blocks the cooperative pool.
func runCommand(_ arguments: [String], input: String? = nil) async throws -> CommandResult {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<CommandResult, any Error>) in
        let thread = Thread {
            do {
                continuation.resume(returning: try runCommandBlocking(arguments, input: input))
            } catch {
                continuation.resume(throwing: error)
            }
        }
        thread.name = "ipsecsvc-hooks"
        thread.start()
    }
}

/// The blocking part of ``runCommand(_:input:)``; looks the program up in the usual sbin paths.
func runCommandBlocking(_ arguments: [String], input: String?) throws -> CommandResult {
    let process = Process()
    let name = arguments[0]
    let candidates = ["/usr/sbin/", "/sbin/", "/usr/bin/", "/bin/"].map { $0 + name }
    let path = candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? name
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = Array(arguments.dropFirst())
    let stdout = Pipe()
    let stderr = Pipe()
    let stdin = Pipe()
    process.standardOutput = stdout
    process.standardError = stderr
    process.standardInput = stdin
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    // Read stderr on another thread so that neither pipe can fill up and stall the child.
    let errorBox = Mutex<Data>(Data())
    let errorDone = DispatchSemaphore(value: 0)
    let errorReader = Thread {
        let data = stderr.fileHandleForReading.readDataToEndOfFile()
        errorBox.withLock { $0 = data }
        errorDone.signal()
    }
    errorReader.start()
    let output = stdout.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    var errorData = Data()
    errorDone.wait()
    errorBox.withLock { errorData = $0 }
    return CommandResult(
        status: process.terminationStatus,
        output: String(decoding: output, as: UTF8.self),
        error: String(decoding: errorData, as: UTF8.self)
    )
}

/// Applies ``HookState``s with `iptables-restore --noflush` / `ip6tables-restore --noflush`.
public struct KernelHookInstaller: Sendable {
    public var configuration: HookConfiguration

    public init(configuration: HookConfiguration) {
        self.configuration = configuration
    }

    /// Moves both families to `state`. IPv6 first when blocking (so that nothing slips through
    /// while IPv4 changes), IPv4 first otherwise.
    public func apply(_ state: HookState) async throws {
        let families: [IPFamily] =
            switch state {
            case .startupBlock, .operationalBlock: [.ipv6, .ipv4]
            default: [.ipv4, .ipv6]
            }
        for family in families {
            try await apply(state, family: family)
        }
    }

    /// Moves one family to `state` in one `*-restore` transaction.
    public func apply(_ state: HookState, family: IPFamily) async throws {
        let saved = try await runCommand([family.saveCommand])
        guard saved.status == 0 else {
            throw HookCommandError(command: family.saveCommand, status: saved.status, standardError: saved.error)
        }
        let existing = ExistingHooks.parse(saved.output, configuration)
        let script = KernelHookScript.script(
            for: state,
            family: family,
            configuration: configuration,
            existing: existing
        )
        guard !script.isEmpty else { return }
        let result = try await runCommand([family.restoreCommand, "-w", "--noflush"], input: script)
        guard result.status == 0 else {
            throw HookCommandError(
                command: "\(family.restoreCommand) --noflush",
                status: result.status,
                standardError: result.error + "\n" + script
            )
        }
    }
}
