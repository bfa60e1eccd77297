import Driver
public import Netsh
import PolicyModel

/// `netsh.dynamic.run`: runs `netsh ipsec dynamic` commands in the service as one transaction
/// (``PolicyAgent/runNetshDynamic(_:dryRun:store:)``); the answer is each command's output, or the
/// failing command and why (then nothing changed).
public enum NetshDynamicRunCommand: ControlCommand {
    public struct Request: Codable, Hashable, Sendable {
        public var commands: [NetshDynamicCommand]
        /// Check the commands against the SPD as it is and change nothing (a script's first pass).
        public var dryRun: Bool?

        public init(commands: [NetshDynamicCommand], dryRun: Bool = false) {
            self.commands = commands
            self.dryRun = dryRun
        }
    }

    public struct Response: Codable, Hashable, Sendable {
        /// Each command's output, when all succeeded.
        public var outputs: [String]
        /// The command that failed and why; nothing was changed.
        public var failure: NetshDynamicFailure?

        public init(outputs: [String] = [], failure: NetshDynamicFailure? = nil) {
            self.outputs = outputs
            self.failure = failure
        }
    }

    public static let name = "netsh.dynamic.run"
}

extension ControlRegistry {
    /// `netsh.dynamic.run` and `netsh.dynamic.stats`.
    mutating func registerNetshDynamic() {
        register(NetshDynamicRunCommand.self) { request, context in
            let store = ServiceStateStore(directory: context.configuration.stateDirectory)
            do {
                let outputs = try await context.agent.runNetshDynamic(
                    request.commands,
                    dryRun: request.dryRun ?? false,
                    store: store
                )
                return NetshDynamicRunCommand.Response(outputs: outputs)
            } catch let failure as NetshDynamicFailure {
                return NetshDynamicRunCommand.Response(failure: failure)
            }
        }
        register(NetshStatisticsCommand.self) { _, context in
            await context.agent.netshStatistics()
        }
    }
}
