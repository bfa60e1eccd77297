import PolicyModel

/// Applies `netsh ipsec dynamic` commands to the running service's dynamic state.
///
/// Each command reads the state, edits a copy and sends it back, so a failing command changes
/// nothing; inside a transaction (a script) the copy is sent once, by ``commit()``.
public final class NetshDynamicSession {
    public let backend: any NetshDynamicBackend
    public var environment: NetshEnvironment
    private var working: DynamicState?
    private var inTransaction = false
    private var dirty = false

    public init(backend: any NetshDynamicBackend, environment: NetshEnvironment = NetshEnvironment()) {
        self.backend = backend
        self.environment = environment
    }

    func currentState() throws(NetshError) -> DynamicState {
        if let working { return working }
        let state = try backend.load()
        if inTransaction { working = state }
        return state
    }

    func edit(_ body: (inout DynamicState) throws(NetshError) -> String) throws(NetshError) -> String {
        var copy = try currentState()
        let output = try body(&copy)
        if inTransaction {
            working = copy
            dirty = true
        } else {
            try backend.save(copy)
        }
        return output
    }

    public func beginTransaction() {
        inTransaction = true
    }

    public func commit() throws(NetshError) {
        defer {
            inTransaction = false
            working = nil
            dirty = false
        }
        if dirty, let working { try backend.save(working) }
    }

    public func rollback() {
        inTransaction = false
        working = nil
        dirty = false
    }

    /// Every command of the `ipsec dynamic` context.
    static let commands: [NetshCommand<NetshDynamicSession>] =
        policyCommands + ruleCommands + configCommands + showCommands

    /// The syntax and help of every command, for tests and documentation checks.
    package static var specs: [NetshCommandSpec] { commands.map(\.spec) }

    func run(_ command: NetshCommand<NetshDynamicSession>, _ tokens: [NetshToken]) throws(NetshError) -> String {
        try command.run(self, tokens)
    }

    /// A session method that edits the state a command works on.
    typealias Edit =
        @Sendable (NetshDynamicSession) -> (NetshArguments, inout DynamicState) throws(NetshError) -> String

    /// A handler that edits the dynamic state (``edit(_:)``: on a copy kept only when it succeeds).
    static func edit(_ body: @escaping Edit) -> NetshCommand<NetshDynamicSession>.Handler {
        { session in
            { arguments throws(NetshError) in
                try session.edit { state throws(NetshError) in try body(session)(arguments, &state) }
            }
        }
    }
}
