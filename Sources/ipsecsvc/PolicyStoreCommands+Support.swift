import Foundation
import PolicyModel
import Providers
import ServiceHost

/// Provenance and filters as one line of text.
enum ProvenanceText {
    static func source(_ provenance: Provenance) -> String {
        var text = "\(provenance.kind.displayName) policy \"\(provenance.policyName)\""
        if let id = provenance.policyID { text += " \(id.braced)" }
        if let gpo = provenance.gpo { text += " from GPO \"\(gpo)\"" }
        if let link = provenance.linkedThrough { text += " linked to \(link)" }
        if provenance.kind == .plugin { text += " (\(provenance.source))" }
        return text
    }

    static func describe(_ provenance: Provenance) -> String {
        var text = source(provenance)
        text += " › rule \"\(provenance.ruleName)\""
        if !provenance.filterListName.isEmpty { text += " › filter list \"\(provenance.filterListName)\"" }
        if !provenance.filterActionName.isEmpty { text += " › filter action \"\(provenance.filterActionName)\"" }
        if let store = provenance.store { text += " [\(store)]" }
        return text
    }
}

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
            events: RecordingEventSink(),
            runsTimers: false,
            readOnly: true
        )
        let engine = SourcesPolicyEngine(configuration: sources)
        // A broken persistent store shows as failed (block mode) in the report.
        _ = try? await engine.startPersistent()
        return engine
    }
}
