import PolicyModel

// The filter list and filter action parts of the `policy show --json` document (docs/cli.md).

struct FilterListDocument: Encodable {
    var id: String
    var name: String
    var description: String
    var whenChanged: Int64?
    var filters: [FilterDocument]

    init(_ list: FilterList) {
        id = list.id.braced
        name = list.name
        description = list.description
        whenChanged = list.whenChanged
        filters = list.filters.map(FilterDocument.init)
    }
}

struct FilterDocument: Encodable {
    struct Address: Encodable {
        /// `me`, `any`, `host`, `subnet`, `dns` or `server`.
        var kind: String
        var address: String?
        var mask: String?
        var dnsName: String?
        var server: String?

        init(_ address: FilterAddress) {
            switch address {
            case .me:
                kind = "me"
            case .any:
                kind = "any"
            case .host(let host):
                kind = "host"
                self.address = host.description
            case .subnet(let network, let mask):
                kind = "subnet"
                self.address = network.description
                self.mask = mask.description
            case .dnsName(let name, let resolved):
                kind = "dns"
                self.address = resolved.description
                dnsName = name
            case .server(let type):
                kind = "server"
                server = type.rawValue
            }
        }
    }

    var id: String
    var description: String
    var mirrored: Bool
    var source: Address
    var destination: Address
    var ipProtocol: Int
    var protocolName: String
    var sourcePort: Int
    var destinationPort: Int
    var weight: Int

    init(_ filter: Filter) {
        id = filter.id.braced
        description = filter.description
        mirrored = filter.mirrored
        source = Address(filter.source)
        destination = Address(filter.destination)
        ipProtocol = Int(filter.ipProtocol)
        protocolName = IPProtocol.name(filter.ipProtocol)
        sourcePort = Int(filter.sourcePort)
        destinationPort = Int(filter.destinationPort)
        weight = FilterWeight(filter).value
    }
}

struct FilterActionDocument: Encodable {
    struct Offer: Encodable {
        struct Transform: Encodable {
            /// `AH` or `ESP`.
            var type: String
            var encryption: String?
            var integrity: String?
        }

        var text: String
        var transforms: [Transform]
        var lifetimeKilobytes: UInt32
        var lifetimeSeconds: UInt32
        var perfectForwardSecrecy: Bool
    }

    var id: String
    var name: String
    var description: String
    var type: String
    var action: String
    var inboundPassThrough: Bool
    var allowFallbackToClear: Bool
    var offers: [Offer]

    init(_ action: FilterAction) {
        id = action.id.braced
        name = action.name
        description = action.description
        type = action.type.rawValue
        self.action = action.action.rawValue
        inboundPassThrough = action.inboundPassThrough
        allowFallbackToClear = action.allowFallbackToClear
        offers = action.offers.map { offer in
            Offer(
                text: ListingFormat.offer(offer),
                transforms: offer.transforms.map { transform in
                    switch transform {
                    case .ah(let hash): Offer.Transform(type: "AH", integrity: hash.rawValue)
                    case .esp(let encryption, let integrity):
                        Offer.Transform(
                            type: "ESP",
                            encryption: encryption.rawValue,
                            integrity: integrity?.rawValue ?? "None"
                        )
                    }
                },
                lifetimeKilobytes: offer.lifetimeKilobytes,
                lifetimeSeconds: offer.lifetimeSeconds,
                perfectForwardSecrecy: offer.perfectForwardSecrecy
            )
        }
    }
}
