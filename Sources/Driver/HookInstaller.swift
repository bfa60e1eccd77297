public import IPsecSystem

/// A command of the kernel-hook tools failed.
public struct HookCommandError: Error, CustomStringConvertible {
    public var command: String
    public var status: ExitStatus
    public var standardError: String

    public var description: String {
        let trimmed = standardError.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()
        return "\(command) failed: it \(status): \(String(trimmed))"
    }
}

extension KernelHookInstaller {
    /// How long one `iptables-save` or `iptables-restore` may take before it is killed: they finish in
    /// milliseconds, but `-w` waits for the xtables lock that another tool may hold.
    public static let commandTimeout: Duration = .seconds(30)

    /// Runs one of the hook tools (looked up in the system directories), feeding `input`; its output and
    /// error are collected. Cancelling the calling task kills the tool.
    static func run(_ arguments: [String], input: String? = nil) async throws -> CommandResult {
        try await ChildProcess.run(
            Command(
                arguments[0],
                Array(arguments.dropFirst()),
                searchPath: Command.systemDirectories,
                standardInput: input.map { .bytes(Array($0.utf8)) } ?? .null,
                standardOutput: .capture,
                standardError: .capture
            ),
            timeout: commandTimeout,
            outputLimit: 64 << 20
        )
    }
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
        let saved = try await Self.run([family.saveCommand])
        guard saved.status.succeeded else {
            throw HookCommandError(command: family.saveCommand, status: saved.status, standardError: saved.errorText)
        }
        let existing = ExistingHooks.parse(saved.outputText, configuration)
        let script = KernelHookScript.script(
            for: state,
            family: family,
            configuration: configuration,
            existing: existing
        )
        guard !script.isEmpty else { return }
        let result = try await Self.run([family.restoreCommand, "-w", "--noflush"], input: script)
        guard result.status.succeeded else {
            throw HookCommandError(
                command: "\(family.restoreCommand) --noflush",
                status: result.status,
                standardError: result.errorText + "\n" + script
            )
        }
    }
}
