public import PolicyModel
public import Providers

/// `policy.import`: add policies to the local or persistent store, optionally assigning one.
public enum PolicyImportCommand: ControlCommand {
    public struct Request: Codable, Hashable, Sendable {
        public var store: EditableStore
        public var policies: PolicyStore
        public var assign: String?

        public init(store: EditableStore, policies: PolicyStore, assign: String?) {
            self.store = store
            self.policies = policies
            self.assign = assign
        }
    }

    public struct Response: Codable, Hashable, Sendable {
        /// The store as written.
        public var store: PolicyStore
        /// Persistent imports apply at the next service start.
        public var pendingRestart: Bool
    }

    public static let name = "policy.import"
}

/// `policy.export`: the content of the local or persistent store.
public enum PolicyExportCommand: ControlCommand {
    public struct Request: Codable, Hashable, Sendable {
        public var store: EditableStore
        public init(store: EditableStore) { self.store = store }
    }

    public typealias Response = PolicyStore
    public static let name = "policy.export"
}

/// `policy.effective`: the effective policy with provenance and the state of every source.
public enum EffectivePolicyCommand: ControlCommand {
    public typealias Request = ControlEmpty
    public typealias Response = EffectiveReport
    public static let name = "policy.effective"
}

/// `policy.explain`: what the driver does with a packet, decided with the driver's mode, settings and host
/// information.
public enum ExplainPacketCommand: ControlCommand {
    public typealias Request = PacketQuery
    public typealias Response = Explanation
    public static let name = "policy.explain"
}

extension ControlRegistry {
    /// The policy-source commands, on the service's engine.
    public mutating func registerPolicySources() {
        register(PolicyImportCommand.self) { request, context in
            let engine = context.agent.engine
            do throws(StoreOperations.OperationError) {
                let store = try await engine.importPolicies(
                    request.policies,
                    into: request.store,
                    assign: request.assign
                )
                return PolicyImportCommand.Response(store: store, pendingRestart: request.store == .persistent)
            } catch {
                throw ControlError(.failed, error.description)
            }
        }
        register(PolicyExportCommand.self) { request, context in
            let engine = context.agent.engine
            do throws(StoreOperations.OperationError) {
                return try await engine.exportPolicies(from: request.store)
            } catch {
                throw ControlError(.failed, error.description)
            }
        }
        register(EffectivePolicyCommand.self) { _, context in
            await context.agent.engine.report()
        }
        register(ExplainPacketCommand.self) { request, context in
            let engine = context.agent.engine
            let environment = await ExplainEnvironment.running(
                agent: context.agent,
                configuration: context.configuration
            )
            var explanation = await engine.explain(request, environment: environment)
            if explanation.verdict == .negotiate {
                let peer = explanation.direction == .inbound ? request.source : request.destination
                explanation.keying = await KeyingExplanation.sentence(context.agent.keying, peer: peer)
            }
            return explanation
        }
    }
}
