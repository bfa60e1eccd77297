import DecisionCore
import Driver
import IPsecSystem
import PolicyFormats
import PolicyModel
import Providers
import ServiceHost

/// `netsh.dynamic.get`: the SPD's dynamic policies and rules as `netsh ipsec dynamic` sees them.
enum NetshDynamicGetCommand: ControlCommand {
    typealias Request = ControlEmpty
    typealias Response = DynamicState
    static let name = "netsh.dynamic.get"
}

/// `netsh.dynamic.set`: replaces the dynamic policies and rules; the rules take effect at once.
enum NetshDynamicSetCommand: ControlCommand {
    typealias Request = DynamicState
    typealias Response = ControlEmpty
    static let name = "netsh.dynamic.set"
}

/// The dynamic main-mode/quick-mode policies and rules the service holds for netsh: in memory only,
/// so they vanish when the service stops, as Windows' dynamic policy does.
actor NetshDynamicHolder {
    static let shared = NetshDynamicHolder()
    var state = DynamicState()

    func replace(_ new: DynamicState) { state = new }
}

extension ControlRegistry {
    /// The standard commands plus `netsh.dynamic.get|set`.
    static func withNetshDynamic() -> ControlRegistry {
        var registry = ControlRegistry.standard()
        registry.register(NetshDynamicGetCommand.self) { _, context in
            var state = await NetshDynamicHolder.shared.state
            // The persisted file is the one copy of the settings (ServiceStateStore owns it).
            let store = ServiceStateStore(directory: context.configuration.stateDirectory)
            state.config = DynamicConfig(try await BlockingPool.shared.run { try store.lockedDynamicSettings() })
            return state
        }
        registry.register(NetshDynamicSetCommand.self) { request, context in
            // The rules feed the dynamic policy source.
            let engine = context.agent.engine
            let old = await NetshDynamicHolder.shared.state
            for rule in old.rules { try? await engine.dynamic.remove(named: rule.id.braced) }
            for rule in request.rules {
                let offers = rule.quickModePolicy.flatMap(request.quickModePolicy(named:))?.offers
                try await engine.dynamic.add(rule.providerRule(offers: offers))
            }
            var kept = request
            kept.config = DynamicConfig()
            await NetshDynamicHolder.shared.replace(kept)
            return ControlEmpty()
        }
        return registry
    }
}

extension NetshDynamicRule {
    /// The rule as the dynamic policy source merges it: one filter with its inbound and outbound
    /// actions; negotiate offers come from the rule's quick-mode policy.
    func providerRule(offers: [SecurityOffer]?) -> Providers.DynamicRule {
        func action(_ kind: FilterActionKind) -> FilterAction {
            FilterAction(
                id: id,
                name: "Dynamic \(kind.rawValue)",
                action: kind,
                offers: kind == .negotiate ? offers ?? NetshSecurityMethods.defaultQuickModeOffers : []
            )
        }
        var filter = self.filter
        filter.id = id
        return Providers.DynamicRule(
            name: id.braced,
            filter: filter,
            inboundAction: action(actionInbound),
            outboundAction: action(actionOutbound),
            interfaceType: interfaceType,
            tunnelEndpoint: tunnelDestination
        )
    }
}

extension DynamicConfig {
    /// netsh's view of the service's persisted `set config` settings.
    init(_ settings: DynamicSettings) {
        self.init(
            ipsecDiagnostics: settings.diagnostics,
            ikeLogging: settings.ikeLogging,
            strongCRLCheck: settings.strongCRLCheck,
            ipsecLogInterval: settings.logIntervalSeconds,
            ipsecExempt: settings.exemptionLevel,
            bootMode: settings.bootMode.flatMap { NetshBootMode(rawValue: $0.rawValue) },
            bootExemptions: settings.bootExemptions
        )
    }

    /// `set config` property/value pairs that turn `old` into `self`.
    func changes(from old: DynamicConfig) -> [(String, String)] {
        var result: [(String, String)] = []
        if ipsecDiagnostics != old.ipsecDiagnostics { result.append(("ipsecdiagnostics", "\(ipsecDiagnostics)")) }
        if ikeLogging != old.ikeLogging { result.append(("ikelogging", "\(ikeLogging)")) }
        if strongCRLCheck != old.strongCRLCheck { result.append(("strongcrlcheck", "\(strongCRLCheck)")) }
        if ipsecLogInterval != old.ipsecLogInterval { result.append(("ipsecloginterval", "\(ipsecLogInterval)")) }
        if ipsecExempt != old.ipsecExempt { result.append(("ipsecexempt", "\(ipsecExempt)")) }
        if let bootMode, bootMode != old.bootMode { result.append(("bootmode", bootMode.rawValue)) }
        if bootExemptions != old.bootExemptions {
            let list = bootExemptions.map(\.description).joined(separator: " ")
            result.append(("bootexemptions", list.isEmpty ? "none" : list))
        }
        return result
    }
}

/// `netsh ipsec dynamic` over the control socket: needs the running service.
final class ControlNetshDynamicBackend: NetshDynamicBackend {
    let client: ControlClient
    private var loaded: DynamicState?

    init(socketPath: String) {
        client = ControlClient(socketPath: socketPath)
    }

    private func call<C: ControlCommand>(_ command: C.Type, _ request: C.Request) throws(NetshError) -> C.Response {
        do {
            return try client.send(command, request)
        } catch {
            if error.code == .notRunning { throw .serviceNotRunning }
            if error.code == .unknownCommand {
                throw NetshError(
                    "The running IPsec Services service does not support '\(C.name)'; restart it with this version."
                )
            }
            throw NetshError(error.message)
        }
    }

    func load() throws(NetshError) -> DynamicState {
        let state = try call(NetshDynamicGetCommand.self, ControlEmpty())
        loaded = state
        return state
    }

    func save(_ state: DynamicState) throws(NetshError) {
        let old: DynamicState
        if let loaded { old = loaded } else { old = try load() }
        for (property, value) in state.config.changes(from: old.config) {
            _ = try call(SetDynamicConfigCommand.self, .init(property: property, value: value))
        }
        if state.mainModePolicies != old.mainModePolicies || state.quickModePolicies != old.quickModePolicies
            || state.rules != old.rules
        {
            _ = try call(NetshDynamicSetCommand.self, state)
        }
        loaded = state
    }

    func statistics() throws(NetshError) -> NetshStatistics {
        try call(NetshStatisticsCommand.self, ControlEmpty())
    }

    func localAddresses() throws(NetshError) -> [IPv4Address] {
        _ = try call(PingCommand.self, ControlEmpty())
        // `me` as the driver resolves it (one host reader: interfaces up, not loopback).
        return LinuxHostInfoSource().current().addresses
    }
}
