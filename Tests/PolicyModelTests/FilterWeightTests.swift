import PolicyModel
import Testing

/// A filter with fixed id `n`, so that the sorted order can be read back as a list of numbers.
private func filter(
    _ n: Int,
    _ source: FilterAddress,
    _ destination: FilterAddress,
    protocol ipProtocol: UInt8 = IPProtocol.any,
    sourcePort: UInt16 = 0,
    destinationPort: UInt16 = 0,
    mirrored: Bool = true
) -> Filter {
    Filter(
        id: Fixtures.guid(n),
        mirrored: mirrored,
        source: source,
        destination: destination,
        ipProtocol: ipProtocol,
        sourcePort: sourcePort,
        destinationPort: destinationPort
    )
}

private func order(_ entries: [FilterOrdering.Entry]) -> [IPsecGUID] {
    FilterOrdering.sorted(entries).map(\.filter.id)
}

private func ids(_ numbers: Int...) -> [IPsecGUID] { numbers.map(Fixtures.guid) }

@Suite struct FilterWeightTests {
    @Test func hostBeatsSubnetBeatsAny() {
        let entries: [FilterOrdering.Entry] = [
            (filter(1, .any, .any), .permit),
            (filter(2, .me, .any), .permit),
            (filter(3, .me, Fixtures.subnet("198.18.0.0", "255.255.0.0")), .permit),
            (filter(4, .me, Fixtures.host("198.18.0.1")), .permit),
            (filter(5, .me, Fixtures.subnet("198.18.0.0", "255.255.255.0")), .permit),
        ]
        #expect(order(entries) == ids(4, 5, 3, 2, 1))
        #expect(entries.map { FilterWeight($0.filter).value } == [0, 256, 384, 512, 448])
    }

    @Test func meAndNamedAddressesWeighAsHosts() {
        let me = FilterWeight(filter(1, .me, .any))
        #expect(FilterWeight(filter(2, Fixtures.host("198.18.0.1"), .any)) == me)
        #expect(FilterWeight(filter(3, .server(.dns), .any)) == me)
        #expect(FilterWeight(filter(4, .dnsName("gw.example", address: IPv4Address(198, 18, 0, 1)), .any)) == me)
        #expect(me.prefixBits == 32)
    }

    @Test func nonContiguousMaskWeighsItsOneBits() {
        // Validation rejects such masks; the weight must still be defined for what a reader returns.
        #expect(FilterWeight(filter(1, Fixtures.subnet("198.0.1.0", "255.0.255.0"), .any)).prefixBits == 16)
    }

    @Test func addressesOutweighProtocolAndPorts() {
        let entries: [FilterOrdering.Entry] = [
            (filter(1, .me, .any, protocol: IPProtocol.tcp, sourcePort: 1024, destinationPort: 23), .block),
            (filter(2, .me, Fixtures.subnet("198.18.0.0", "255.255.255.254")), .negotiate),
        ]
        // One more mask bit (/31 + /32 = 63 bits) beats protocol and both ports on 32 bits.
        #expect(order(entries) == ids(2, 1))
    }

    @Test func protocolThenSourcePortThenDestinationPort() {
        let entries: [FilterOrdering.Entry] = [
            (filter(1, .me, .any), .permit),
            (filter(2, .me, .any, protocol: IPProtocol.tcp, destinationPort: 23), .permit),
            (filter(3, .me, .any, protocol: IPProtocol.tcp), .permit),
            (filter(4, .me, .any, protocol: IPProtocol.tcp, sourcePort: 23, destinationPort: 23), .permit),
            (filter(5, .me, .any, protocol: IPProtocol.tcp, sourcePort: 23), .permit),
        ]
        #expect(order(entries) == ids(4, 5, 2, 3, 1))
        #expect(FilterWeight(entries[3].filter).value == 32 * 8 + 7)
    }

    @Test func equalWeightsBlockThenPermitThenNegotiate() {
        let entries: [FilterOrdering.Entry] = [
            (filter(1, .me, .any), .negotiate),
            (filter(2, .me, .any), .permit),
            (filter(3, .me, .any), .block),
        ]
        #expect(order(entries) == ids(3, 2, 1))
        #expect(ActionPrecedence.rank(.block) < ActionPrecedence.rank(.permit))
        #expect(ActionPrecedence.rank(.permit) < ActionPrecedence.rank(.negotiate))
    }

    @Test func fullTiesKeepMergeOrder() {
        // Many equal entries: an unstable sort would be likely to reorder some of them.
        let entries: [FilterOrdering.Entry] = (1...64).map { n in
            (filter(n, .me, .any, mirrored: n.isMultiple(of: 2)), n.isMultiple(of: 3) ? .block : .permit)
        }
        let blocks = (1...64).filter { $0.isMultiple(of: 3) }
        let permits = (1...64).filter { !$0.isMultiple(of: 3) }
        #expect(order(entries) == (blocks + permits).map(Fixtures.guid))
    }

    @Test func mirroringDoesNotChangeTheWeight() {
        #expect(
            FilterWeight(filter(1, .me, .any, mirrored: true)) == FilterWeight(filter(2, .me, .any, mirrored: false))
        )
    }

    @Test func weightRangeIsZeroTo519() {
        #expect(FilterWeight(filter(1, .any, .any)).value == 0)
        let most = filter(
            2,
            Fixtures.host("198.18.0.1"),
            .me,
            protocol: IPProtocol.udp,
            sourcePort: 1,
            destinationPort: 2
        )
        #expect(FilterWeight(most).value == 519)
        #expect(FilterWeight(most) > FilterWeight(filter(3, .me, .any)))
    }

    @Test func effectiveFiltersSortByTheDirectionsAction() {
        let provenance = Provenance(kind: .dynamic, source: "dynamic", policyName: "", ruleName: "")
        let block = FilterAction(id: Fixtures.guid(90), name: "Block", action: .block)
        let permit = FilterAction(id: Fixtures.guid(91), name: "Permit", action: .permit)
        let first = EffectiveFilter(
            filter: filter(1, .me, .any),
            inboundAction: permit,
            outboundAction: block,
            provenance: provenance
        )
        let second = EffectiveFilter(filter: filter(2, .me, .any), inboundAction: block, provenance: provenance)
        #expect(FilterOrdering.sorted([first, second]).map(\.filter.id) == ids(2, 1))
        #expect(FilterOrdering.sorted([first, second], outbound: true).map(\.filter.id) == ids(1, 2))
    }
}
