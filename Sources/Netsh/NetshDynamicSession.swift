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
    public static let commands: [NetshCommandSpec] = policyCommands + ruleCommands + configCommands + showCommands

    public func run(_ spec: NetshCommandSpec, _ tokens: [NetshToken]) throws(NetshError) -> String {
        let arguments = try spec.bind(tokens)
        switch spec.name {
        case "add mmpolicy": return try edit { state throws(NetshError) in try addMainModePolicy(arguments, &state) }
        case "set mmpolicy": return try edit { state throws(NetshError) in try setMainModePolicy(arguments, &state) }
        case "delete mmpolicy":
            return try edit { state throws(NetshError) in try deleteMainModePolicy(arguments, &state) }
        case "add qmpolicy": return try edit { state throws(NetshError) in try addQuickModePolicy(arguments, &state) }
        case "set qmpolicy": return try edit { state throws(NetshError) in try setQuickModePolicy(arguments, &state) }
        case "delete qmpolicy":
            return try edit { state throws(NetshError) in try deleteQuickModePolicy(arguments, &state) }
        case "add rule": return try edit { state throws(NetshError) in try addRule(arguments, &state) }
        case "set rule": return try edit { state throws(NetshError) in try setRule(arguments, &state) }
        case "delete rule": return try edit { state throws(NetshError) in try deleteRule(arguments, &state) }
        case "delete all":
            return try edit { state throws(NetshError) in
                state = DynamicState(config: state.config)
                return ""
            }
        case "set config": return try edit { state throws(NetshError) in try setConfig(arguments, &state) }
        default: return try show(spec, arguments)
        }
    }
}
