import Foundation
import PolicyModel
import Providers
import ServiceHost

/// Filters as one line of text.
enum FilterText {
    static func address(_ side: FilterAddress) -> String {
        switch side {
        case .me: "me"
        case .any: "any"
        case .host(let host): "\(host)"
        case .subnet(let network, let mask): "\(network)/\(mask.prefixLength.map(String.init) ?? mask.description)"
        case .dnsName(let name, let address): "\(name) (\(address))"
        case .server(let kind): kind.rawValue
        }
    }

    static func describe(_ filter: Filter) -> String {
        var text = "\(address(filter.source))"
        if filter.sourcePort != 0 { text += ":\(filter.sourcePort)" }
        text += " -> \(address(filter.destination))"
        if filter.destinationPort != 0 { text += ":\(filter.destinationPort)" }
        text += " \(IPProtocol.name(filter.ipProtocol))"
        if filter.mirrored { text += ", mirrored" }
        return text
    }
}

/// Stable JSON (sorted keys) for `--json`.
enum JSONOutput {
    static func text(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(value) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// The policy sources of a stopped service, read from the state directory without writing anything.
enum OfflineEngine {
    static func make(_ configuration: ServiceConfiguration) async -> SourcesPolicyEngine {
        let sources = PolicyEngineFactory.sourcesConfiguration(
            configuration,
            events: DiscardingEventSink(),
            runsTimers: false,
            readOnly: true
        )
        let engine = SourcesPolicyEngine(configuration: sources)
        // A broken persistent store shows as failed (block mode) in the report.
        _ = try? await engine.startPersistent()
        return engine
    }
}
