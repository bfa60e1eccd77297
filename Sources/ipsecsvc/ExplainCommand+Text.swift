import DecisionCore
import PolicyModel
import Providers

/// The text form of an explanation.
enum ExplainText {
    static func text(_ explanation: Explanation) -> String {
        let packet = explanation.packet
        func end(_ address: IPv4Address, _ port: UInt16) -> String { port == 0 ? "\(address)" : "\(address):\(port)" }
        var out =
            "Packet: \(end(packet.source, packet.sourcePort)) -> \(end(packet.destination, packet.destinationPort))"
        out += " \(IPProtocol.name(packet.ipProtocol)), \(explanation.direction == .inbound ? "inbound" : "outbound")\n"
        let interface = explanation.interface
        out += "Interface: \(interface.name ?? "none named") (\(interface.kind.displayName): \(interface.why))\n"
        let me = explanation.me.isEmpty ? "no address" : explanation.me.map(\.description).joined(separator: ", ")
        out += "This computer (me): \(me)\n"
        out += "Driver mode: \(explanation.mode)\n"
        if explanation.matches.isEmpty {
            out += "Matching filters: none\n"
        } else {
            out += "Matching filters, in the order the driver consults them:\n"
            for (position, match) in explanation.matches.enumerated() {
                let marker = position == 0 && explanation.winner != nil ? "*" : " "
                out += " \(marker) \(position + 1). weight \(match.weight) \(match.action.rawValue)"
                out += match.match == .mirrored ? " (mirrored)\n" : "\n"
                out += "      \(FilterText.describe(match.filter))\n"
                out += "      " + match.provenance.pathDescription + "\n"
            }
        }
        if !explanation.skipped.isEmpty {
            out +=
                "Skipped: they match, but their rule is for another connection type than this \(interface.kind.displayName) interface:\n"
            for match in explanation.skipped {
                out +=
                    "   - weight \(match.weight) \(match.action.rawValue), rule for \(connection(match.connectionType))\n"
                out += "      \(FilterText.describe(match.filter))\n"
                out += "      " + match.provenance.pathDescription + "\n"
            }
        }
        if let winner = explanation.winner {
            out +=
                "Decided by: rule \"\(winner.provenance.ruleName)\", filter list \"\(winner.provenance.filterListName)\", "
            out += "filter action \"\(winner.filterActionName)\", \(winner.provenance.sourceDescription)\n"
        }
        out += "Verdict: \(explanation.verdict.rawValue). \(explanation.detail)\n"
        if let keying = explanation.keying { out += "\(keying)\n" }
        for assumption in explanation.assumptions { out += "Assumed: \(assumption)\n" }
        return out
    }

    /// A rule's connection type as Windows' rule properties name it.
    static func connection(_ type: InterfaceType) -> String {
        switch type {
        case .all: "all network connections"
        case .lan: "local area network (LAN) connections only"
        case .dialUp: "remote access connections only"
        }
    }
}
