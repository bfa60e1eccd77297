import ArgumentParser
import Foundation
import PolicyModel
import Providers
import ServiceHost

/// `ipsecsvc explain --src A --dst B [--protocol P] [--srcport N] [--dstport N] [--direction in|out] [--json]`:
/// every filter that matches the packet in the driver's order, the deciding one with its rule, filter list,
/// filter action, source and policy, and the verdict.
struct ExplainSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Explain which filter of which policy source decides a packet.",
        discussion: """
            Asks the running service (or, when it is stopped, reads the stores in the state directory). \
            Filters are listed in the order the driver consults them: most specific first (weight), then \
            block before permit before negotiate. `me` is this computer's addresses. Without --direction, \
            a packet from one of them is outbound.

            Exit codes: 0 explained, 1 failure, 2 usage error.

            Examples:
              ipsecsvc explain --src 198.18.0.10 --dst 198.18.1.1 --protocol tcp --dstport 80
              ipsecsvc explain --src 198.18.1.1 --dst 198.18.0.10 --direction in --json
            """
    )

    @Option(help: "Source IPv4 address.") var src: String
    @Option(help: "Destination IPv4 address.") var dst: String
    @Option(help: "Protocol: tcp, udp, icmp, raw, any or a number.") var `protocol`: String = "any"
    @Option(help: "Source port (TCP/UDP).") var srcport: UInt16 = 0
    @Option(help: "Destination port (TCP/UDP).") var dstport: UInt16 = 0
    @Option(help: "in or out, relative to this computer.") var direction: DirectionArgument?
    @Flag(help: "Print JSON for scripts instead of text.") var json = false
    @OptionGroup var options: HostOptions

    func validate() throws {
        if IPv4Address(src) == nil { throw ValidationError("--src: '\(src)' is not an IPv4 address.") }
        if IPv4Address(dst) == nil { throw ValidationError("--dst: '\(dst)' is not an IPv4 address.") }
        if IPProtocol.parse(`protocol`) == nil {
            throw ValidationError("--protocol: '\(`protocol`)' is not a protocol.")
        }
    }

    func run() async throws {
        let query = PacketQuery(
            source: IPv4Address(src)!,
            destination: IPv4Address(dst)!,
            ipProtocol: IPProtocol.parse(`protocol`)!,
            sourcePort: srcport,
            destinationPort: dstport,
            direction: direction?.direction
        )
        let json = self.json
        await reportingFailures("Explain") {
            let configuration = try options.load()
            let client = ControlClient(configuration: configuration)
            let explanation: Explanation
            if client.isListening() {
                explanation = try client.send(ExplainPacketCommand.self, query)
            } else {
                explanation = await OfflineEngine.make(configuration).explain(query)
            }
            print(json ? JSONOutput.text(explanation) : ExplainText.text(explanation), terminator: "")
        }
    }
}

/// `--direction in|out`.
struct DirectionArgument: ExpressibleByArgument {
    var direction: PacketDirection

    init?(argument: String) {
        guard let direction = PacketDirection(rawValue: argument.lowercased()) else { return nil }
        self.direction = direction
    }

    static var allValueStrings: [String] { PacketDirection.allCases.map(\.rawValue) }
}

/// The text form of an explanation.
enum ExplainText {
    static func text(_ explanation: Explanation) -> String {
        let packet = explanation.packet
        func end(_ address: IPv4Address, _ port: UInt16) -> String { port == 0 ? "\(address)" : "\(address):\(port)" }
        var out =
            "Packet: \(end(packet.source, packet.sourcePort)) -> \(end(packet.destination, packet.destinationPort))"
        out += " \(IPProtocol.name(packet.ipProtocol)), \(explanation.direction == .inbound ? "inbound" : "outbound")\n"
        if explanation.matches.isEmpty {
            out += "Matching filters: none\n"
        } else {
            out += "Matching filters, in the order the driver consults them:\n"
            for (position, match) in explanation.matches.enumerated() {
                let marker = position == 0 && explanation.winner != nil ? "*" : " "
                out += " \(marker) \(position + 1). weight \(match.weight) \(match.action.rawValue)"
                out += match.match == .mirrored ? " (mirrored)\n" : "\n"
                out += "      \(FilterText.describe(match.filter))\n"
                out += "      " + ProvenanceText.describe(match.provenance) + "\n"
            }
        }
        if let winner = explanation.winner {
            out +=
                "Decided by: rule \"\(winner.provenance.ruleName)\", filter list \"\(winner.provenance.filterListName)\", "
            out += "filter action \"\(winner.filterActionName)\", \(ProvenanceText.source(winner.provenance))\n"
        }
        out += "Verdict: \(explanation.verdict.rawValue). \(explanation.detail)\n"
        return out
    }
}

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
        var sources = configuration.sourcesConfiguration(journal: StandardErrorJournal(), readOnly: true)
        sources.events = RecordingEventSink()
        let engine = SourcesPolicyEngine(configuration: sources)
        // A broken persistent store shows as failed (block mode) in the report.
        _ = try? await engine.startPersistent()
        return engine
    }
}
