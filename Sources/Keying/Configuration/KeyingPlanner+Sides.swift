import PolicyModel

extension KeyingPlanner {
    /// A peer a filter talks to.
    enum PeerSpec: Hashable {
        case host(IPv4Address)
        /// charon's `remote_addrs` syntax: `%any` or `a.b.c.d/n`.
        case range(String)
    }

    /// A filter seen from this computer: its local and remote selectors and the peers to negotiate
    /// with.
    struct Sides {
        var localSelector: TrafficSelector
        /// The remote selector as the filter states it (narrowed to /32 per host peer later).
        var remoteSelector: TrafficSelector
        var peers: [PeerSpec]
        var protocolNumber: UInt8
        var remotePort: UInt16
        var tunnel: Bool
        /// The inbound half of a tunnel rule (its endpoint is this computer): answered, never started.
        var respondsOnly: Bool
    }
}

extension KeyingPlanner.Builder {
    /// How strongly a filter side designates this computer: `me` 3, one of its addresses 2, a range
    /// holding one of them (or any) 1, otherwise 0.
    func localness(_ address: FilterAddress) -> Int {
        switch address {
        case .me: 3
        case .host(let ip), .dnsName(_, let ip): host.addresses.contains(ip) ? 2 : 0
        case .any: 1
        case .subnet(let network, let mask):
            host.addresses.contains { $0.value & mask.value == network.value & mask.value } ? 1 : 0
        case .server: 0
        }
    }

    /// A local side as a selector: this computer's own IKE address (`dynamic`) for `me`, `any` and
    /// ranges in transport mode, the address or subnet itself otherwise.
    func localSelector(_ address: FilterAddress, tunnel: Bool) -> TrafficSelector.Range? {
        switch address {
        case .me: .dynamic
        case .host(let ip), .dnsName(_, let ip):
            tunnel || host.addresses.contains(ip) ? .prefix(ip, length: 32) : nil
        case .any: tunnel ? .prefix(IPv4Address(value: 0), length: 0) : .dynamic
        case .subnet(let network, let mask):
            mask.prefixLength.map { length -> TrafficSelector.Range in
                tunnel ? .prefix(network, length: UInt8(length)) : .dynamic
            }
        case .server: nil
        }
    }

    /// The peers of a remote side and its range (`nil` for special servers: each peer is a host).
    func remote(
        _ address: FilterAddress
    ) -> Result<(peers: [KeyingPlanner.PeerSpec], range: TrafficSelector.Range?), Refusal> {
        switch address {
        case .me:
            return .failure(Refusal(text: "both sides of the filter are this computer"))
        case .host(let ip), .dnsName(_, let ip):
            return .success(([.host(ip)], .prefix(ip, length: 32)))
        case .any:
            return .success(([.range("%any")], .prefix(IPv4Address(value: 0), length: 0)))
        case .subnet(let network, let mask):
            guard let prefix = mask.prefixLength else {
                return .failure(Refusal(text: "the filter's remote mask is not contiguous"))
            }
            let base = IPv4Address(value: network.value & mask.value)
            return .success(([.range("\(base)/\(prefix)")], .prefix(base, length: UInt8(prefix))))
        case .server(let kind):
            let addresses = host.servers[kind] ?? []
            guard !addresses.isEmpty else {
                return .failure(Refusal(text: "the filter's \(kind.rawValue) server has no address on this computer"))
            }
            return .success((addresses.map { .host($0) }, nil))
        }
    }

    func sides(of effective: EffectiveFilter) -> Result<KeyingPlanner.Sides, Refusal> {
        let filter = effective.filter
        if let endpoint = effective.tunnelEndpoint {
            return tunnelSides(filter, endpoint: endpoint)
        }
        let sourceScore = localness(filter.source)
        let destinationScore = localness(filter.destination)
        guard max(sourceScore, destinationScore) > 0 else {
            return .failure(Refusal(text: "neither side of the filter is this computer (a transport rule needs one)"))
        }
        let localIsSource = sourceScore >= destinationScore
        let (local, remote) = localIsSource ? (filter.source, filter.destination) : (filter.destination, filter.source)
        let localPort = localIsSource ? filter.sourcePort : filter.destinationPort
        let remotePort = localIsSource ? filter.destinationPort : filter.sourcePort
        guard let localAddress = localSelector(local, tunnel: false) else {
            return .failure(Refusal(text: "the local side of the filter does not resolve to this computer"))
        }
        let peers: [KeyingPlanner.PeerSpec]
        let remoteRange: TrafficSelector.Range?
        switch self.remote(remote) {
        case .success(let found): (peers, remoteRange) = found
        case .failure(let refusal): return .failure(refusal)
        }
        // A special server's peers are hosts: each child gets the peer's /32 (the range is unused).
        let remoteSelector = TrafficSelector(
            remoteRange ?? .prefix(IPv4Address(value: 0), length: 0),
            ipProtocol: filter.ipProtocol,
            port: remotePort
        )
        return .success(
            KeyingPlanner.Sides(
                localSelector: TrafficSelector(localAddress, ipProtocol: filter.ipProtocol, port: localPort),
                remoteSelector: remoteSelector,
                peers: peers,
                protocolNumber: filter.ipProtocol,
                remotePort: remotePort,
                tunnel: false,
                respondsOnly: false
            )
        )
    }

    /// A tunnel rule: the filter's source is the local network and its destination the remote one,
    /// the endpoint is the remote gateway. A rule whose endpoint is this computer is the inbound half
    /// of a tunnel: its source is the remote network, and it is only answered.
    func tunnelSides(_ filter: Filter, endpoint: IPv4Address) -> Result<KeyingPlanner.Sides, Refusal> {
        let inboundHalf = host.addresses.contains(endpoint)
        let (local, remote) = inboundHalf ? (filter.destination, filter.source) : (filter.source, filter.destination)
        let (localPort, remotePort) =
            inboundHalf ? (filter.destinationPort, filter.sourcePort) : (filter.sourcePort, filter.destinationPort)
        guard let localAddress = localSelector(local, tunnel: true) else {
            return .failure(Refusal(text: "the tunnel filter's local network is not an address or subnet"))
        }
        guard case .success(let found) = self.remote(remote), let remoteRange = found.range else {
            return .failure(Refusal(text: "the tunnel filter's remote network is not an address or subnet"))
        }
        return .success(
            KeyingPlanner.Sides(
                localSelector: TrafficSelector(localAddress, ipProtocol: filter.ipProtocol, port: localPort),
                remoteSelector: TrafficSelector(remoteRange, ipProtocol: filter.ipProtocol, port: remotePort),
                peers: [inboundHalf ? .range("%any") : .host(endpoint)],
                protocolNumber: filter.ipProtocol,
                remotePort: remotePort,
                tunnel: true,
                respondsOnly: inboundHalf
            )
        )
    }
}
