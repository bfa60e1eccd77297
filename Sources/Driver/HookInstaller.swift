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
    /// - Returns: what each family held before (its drop counters restart at 0 with the new rules).
    @discardableResult
    public func apply(_ state: HookState, dropLogging: DropLogging = .none) async throws -> [IPFamily: ExistingHooks] {
        let families: [IPFamily] =
            switch state {
            case .startupBlock, .operationalBlock: [.ipv6, .ipv4]
            default: [.ipv4, .ipv6]
            }
        var before: [IPFamily: ExistingHooks] = [:]
        for family in families {
            before[family] = try await apply(state, family: family, dropLogging: dropLogging)
        }
        return before
    }

    /// Moves one family to `state` in one `*-restore` transaction.
    /// - Returns: what the family held before.
    @discardableResult
    public func apply(
        _ state: HookState,
        family: IPFamily,
        dropLogging: DropLogging = .none
    ) async throws -> ExistingHooks {
        let existing = try await inspect(family)
        let script = KernelHookScript.script(
            for: state,
            family: family,
            configuration: configuration,
            existing: existing,
            dropLogging: dropLogging
        )
        guard !script.isEmpty else { return existing }
        let result = try await Self.run([family.restoreCommand, "-w", "--noflush"], input: script)
        guard result.status.succeeded else {
            throw HookCommandError(
                command: "\(family.restoreCommand) --noflush",
                status: result.status,
                standardError: result.errorText + "\n" + script
            )
        }
        return existing
    }

    /// What of the driver's hooks `family`'s ruleset holds now, with rule counters (`*-save -c`).
    public func inspect(_ family: IPFamily) async throws -> ExistingHooks {
        let saved = try await Self.run([family.saveCommand, "-c"])
        guard saved.status.succeeded else {
            throw HookCommandError(command: family.saveCommand, status: saved.status, standardError: saved.errorText)
        }
        return ExistingHooks.parse(saved.outputText, configuration)
    }
}
