public import PolicyModel

extension IPsecData {
    /// The smallest Filter-Spec1: three empty strings (6 bytes each) and 52 fixed bytes.
    static let minimumFilterSpecSize = 70

    /// Decodes an `ipsecFilter` blob (a filter list's filters, §3.5).
    ///
    /// Addresses: mask 0.0.0.0 with address 0.0.0.0 is `any`; address 0.0.0.0 with mask 255.255.255.255
    /// is `me` (the SDK constants; **unconfirmed** for stored data, windows-ipsec.md §9 item 3); another
    /// address with mask 255.255.255.255 is a host; otherwise a subnet. A non-empty DNS-name string makes
    /// the side a DNS-name filter with the stored (resolved) address. The special-server byte (0x01–0x04
    /// source, 0x81–0x84 destination: DNS, WINS, DHCP, gateway) makes that side a special server.
    /// Ignored on read: the per-filter tunnel address and Is-Tunnel byte (the rule's tunnel applies;
    /// filter lists are shared between rules) and Filter-Options. A V2 section (Vista+) after the V1
    /// filters is skipped, as Windows Server 2003 does.
    public static func decodeFilter(_ bytes: [UInt8], context: BlobContext) throws(PolicyFormatError) -> [Filter] {
        var cursor = BlobCursor(bytes, context: context)
        try cursor.header(expecting: .filter)
        let count = try cursor.u32("Number-Of-Filters")
        try cursor.needCount(count, elementSize: minimumFilterSpecSize, for: "Number-Of-Filters")
        var filters: [Filter] = []
        for index in 0..<Int(count) {
            filters.append(try filterSpec(&cursor, field: "Filter[\(index)]"))
        }
        // 2000/XP/2003: a 0x00 pad, then optionally the V2 section; modern writers: nothing.
        if cursor.remaining > 1 {
            var probe = cursor
            if try probe.u8("pad") == 0, probe.remaining >= 16,
                IPsecGUID(windowsBytes: probe.bytes[probe.offset..<(probe.offset + 16)]) == BlobType.filterV2GUID
            {
                return filters
            }
        }
        try cursor.finish()
        return filters
    }

    private static func filterSpec(_ cursor: inout BlobCursor, field: String) throws(PolicyFormatError) -> Filter {
        let sourceName = try cursor.string(field + ".Source-DNS-Name")
        let destinationName = try cursor.string(field + ".Destination-DNS-Name")
        let description = try cursor.string(field + ".Description")
        let id = try cursor.guid(field + ".Filter-Specification-GUID")
        let mirrored = try cursor.u32(field + ".Mirrored") != 0
        let sourceAddress = try cursor.ipv4(field + ".Source-Address")
        let sourceMask = try cursor.ipv4(field + ".Source-Mask")
        let destinationAddress = try cursor.ipv4(field + ".Destination-Address")
        let destinationMask = try cursor.ipv4(field + ".Destination-Mask")
        try cursor.skip(4, field + ".Tunnel-Address")
        let protocolOffset = cursor.offset
        let rawProtocol = try cursor.u32(field + ".Protocol")
        guard let ipProtocol = UInt8(exactly: rawProtocol) else {
            throw cursor.context.error(field + ".Protocol", at: protocolOffset, "protocol \(rawProtocol) is not 0–255")
        }
        let sourcePort = try cursor.u16(field + ".Source-Port")
        let destinationPort = try cursor.u16(field + ".Destination-Port")
        try cursor.skip(1, field + ".Is-Tunnel")
        let specialOffset = cursor.offset
        let special = try cursor.u8(field + ".Special-Filter")
        try cursor.skip(2, field + ".Filter-Options")
        var sourceServer: SpecialServer?
        var destinationServer: SpecialServer?
        if special != 0 {
            let servers: [SpecialServer] = [.dns, .wins, .dhcp, .gateway]
            let index = Int(special & 0x7F) - 1
            guard special & 0x70 == 0, servers.indices.contains(index) else {
                throw cursor.context.error(
                    field + ".Special-Filter",
                    at: specialOffset,
                    "unknown special-server value 0x\(String(special, radix: 16)) (0x01–0x04 source, 0x81–0x84 destination)"
                )
            }
            if special & 0x80 == 0 { sourceServer = servers[index] } else { destinationServer = servers[index] }
        }
        return Filter(
            id: id,
            description: description,
            mirrored: mirrored,
            source: address(sourceAddress, sourceMask, name: sourceName, server: sourceServer),
            destination: address(destinationAddress, destinationMask, name: destinationName, server: destinationServer),
            ipProtocol: ipProtocol,
            sourcePort: sourcePort,
            destinationPort: destinationPort
        )
    }

    private static func address(
        _ address: IPv4Address,
        _ mask: IPv4Address,
        name: String,
        server: SpecialServer?
    ) -> FilterAddress {
        if let server { return .server(server) }
        if !name.isEmpty { return .dnsName(name, address: address) }
        switch (address, mask) {
        case (.any, .broadcast): return .me
        case (.any, .any): return .any
        case (_, .broadcast): return .host(address)
        default: return .subnet(address, mask: mask)
        }
    }

    /// The stored form of one side: address, mask, DNS name, special-server code (1–4) or 0.
    private static func stored(_ side: FilterAddress) -> (IPv4Address, IPv4Address, String, UInt8) {
        switch side {
        case .me: (.any, .broadcast, "", 0)
        case .any: (.any, .any, "", 0)
        case .host(let address): (address, .broadcast, "", 0)
        case .subnet(let address, let mask): (address, mask, "", 0)
        case .dnsName(let name, let address): (address, .broadcast, name, 0)
        case .server(let server):
            (.any, .broadcast, "", UInt8([SpecialServer.dns, .wins, .dhcp, .gateway].firstIndex(of: server)! + 1))
        }
    }

    /// Encodes an `ipsecFilter` blob in the 2003 convention: DataLength = 4 + Σ filter specs, pad 0x00.
    /// - Throws: ``PolicyFormatError`` when both sides of a filter are special servers, which the single
    ///   Special-Filter byte cannot express.
    public static func encodeFilter(_ filters: [Filter], context: BlobContext) throws(PolicyFormatError) -> [UInt8] {
        var payload = BlobWriter()
        payload.u32(UInt32(filters.count))
        for (index, filter) in filters.enumerated() {
            let source = stored(filter.source)
            let destination = stored(filter.destination)
            guard source.3 == 0 || destination.3 == 0 else {
                throw PolicyFormatError(
                    file: context.file,
                    object: context.object,
                    field: "filter \(index + 1)",
                    message: "a Windows filter cannot have special servers on both sides"
                )
            }
            payload.string(source.2)
            payload.string(destination.2)
            payload.string(filter.description)
            payload.guid(filter.id)
            payload.u32(filter.mirrored ? 1 : 0)
            payload.ipv4(source.0)
            payload.ipv4(source.1)
            payload.ipv4(destination.0)
            payload.ipv4(destination.1)
            payload.ipv4(.any)
            payload.u32(UInt32(filter.ipProtocol))
            payload.u16(filter.sourcePort)
            payload.u16(filter.destinationPort)
            payload.u8(0)
            payload.u8(source.3 != 0 ? source.3 : destination.3 != 0 ? destination.3 | 0x80 : 0)
            payload.u16(0)
        }
        return BlobWriter.frame(.filter, dataLength: payload.bytes.count, payload: payload.bytes)
    }
}
