extension FilterList {
    /// Checks every filter of the list.
    func validate(at path: ValidationPath, into report: inout ValidationReport) {
        for (position, filter) in filters.enumerated() {
            filter.validate(at: path.appending("filter \(position + 1)"), into: &report)
        }
    }
}

extension Filter {
    /// The netsh rules for one filter (windows-ipsec.md §3.5, §6): ports only with TCP/UDP,
    /// well-formed addresses, special servers only against `me`, two different ends.
    func validate(at path: ValidationPath, into report: inout ValidationReport) {
        let portsAllowed = ipProtocol == IPProtocol.tcp || ipProtocol == IPProtocol.udp
        let protocolName = IPProtocol.name(ipProtocol)
        if sourcePort != 0 && !portsAllowed {
            report.add(path.appending("sourcePort"), "ports need protocol TCP or UDP, not \(protocolName)")
        }
        if destinationPort != 0 && !portsAllowed {
            report.add(path.appending("destinationPort"), "ports need protocol TCP or UDP, not \(protocolName)")
        }
        source.validate(at: path.appending("source"), into: &report)
        destination.validate(at: path.appending("destination"), into: &report)
        checkServerSides(at: path, into: &report)
        if source == destination, source != .any {
            report.add(path, "source and destination are the same (\(source.validationText))")
        }
    }

    /// netsh: "if one side is a server type the other side is `me`".
    private func checkServerSides(at path: ValidationPath, into report: inout ValidationReport) {
        if case .server(let server) = source, destination != .me {
            report.add(path.appending("destination"), "a \(server.rawValue) server source needs destination me")
        }
        if case .server(let server) = destination, source != .me {
            report.add(path.appending("source"), "a \(server.rawValue) server destination needs source me")
        }
    }
}

extension FilterAddress {
    func validate(at path: ValidationPath, into report: inout ValidationReport) {
        switch self {
        case .me, .any, .server:
            break
        case .host(let address):
            // 0.0.0.0/32 is how Windows stores "me"; a reader should have mapped it.
            if address == .any { report.add(path, "host 0.0.0.0 is not an address (use me or any)") }
        case .subnet(let address, let mask):
            guard let length = mask.prefixLength else {
                report.add(path.appending("mask"), "mask \(mask) is not contiguous (ones must come first)")
                return
            }
            let hostBits = address.value & ~IPv4Address.mask(prefixLength: length).value
            if hostBits != 0 {
                let network = IPv4Address(value: address.value & mask.value)
                report.add(path, "\(address) has host bits set for mask \(mask) (the subnet is \(network))")
            }
        case .dnsName(let name, let address):
            if name.isEmpty { report.add(path, "the DNS name is empty") }
            if address == .any { report.add(path, "DNS name \"\(name)\" has no resolved address") }
        }
    }

    /// A short form for messages.
    var validationText: String {
        switch self {
        case .me: "me"
        case .any: "any"
        case .host(let address): address.description
        case .subnet(let address, let mask): "\(address)/\(mask)"
        case .dnsName(let name, _): name
        case .server(let server): server.rawValue
        }
    }
}
