public import PolicyModel

/// What an `ipsecNegotiationPolicy` blob holds: the quick-mode offers and the fallback flag.
public struct NegotiationPolicyData: Hashable, Sendable {
    public var offers: [SecurityOffer]
    /// "Allow unsecured communication with non-IPsec-aware computers" (netsh `soft`).
    public var allowFallbackToClear: Bool

    public init(offers: [SecurityOffer], allowFallbackToClear: Bool) {
        self.offers = offers
        self.allowFallbackToClear = allowFallbackToClear
    }
}

extension IPsecData {
    static let offerSize = 80

    /// Decodes an `ipsecNegotiationPolicy` blob (§3.4).
    ///
    /// An offer with Algorithm-Offer-Count 0 is read as the `soft` marker (fall back to clear) and not
    /// as an offer; this encoding is **unconfirmed** (windows-ipsec.md §9 item 3) and is what
    /// ``encodeNegotiationPolicy(_:)`` writes. Negotiation-Options and the reserved words of each
    /// algorithm entry are ignored (Windows 2000 writes key length 64 and rounds 8 there).
    public static func decodeNegotiationPolicy(
        _ bytes: [UInt8],
        context: BlobContext
    ) throws(PolicyFormatError) -> NegotiationPolicyData {
        var cursor = BlobCursor(bytes, context: context)
        try cursor.header(expecting: .negotiationPolicy)
        let count = try cursor.u32("Security-Offer-Count")
        try cursor.needCount(count, elementSize: offerSize, for: "Security-Offer-Count")
        var offers: [SecurityOffer] = []
        var soft = false
        for index in 0..<Int(count) {
            let field = "Security-Offer[\(index)]"
            let seconds = try cursor.u32(field + ".Lifetime-Seconds")
            let kilobytes = try cursor.u32(field + ".Lifetime-KB")
            try cursor.skip(4, field + ".Negotiation-Options")
            // Observed data: 0 without PFS; the specification's table has the opposite polarity.
            let pfs = try cursor.u32(field + ".PFS") != 0
            let countOffset = cursor.offset
            let algorithmCount = try cursor.u32(field + ".Algorithm-Offer-Count")
            guard algorithmCount <= 3 else {
                throw context.error(
                    field + ".Algorithm-Offer-Count",
                    at: countOffset,
                    "an offer holds at most 3 algorithms, found \(algorithmCount)"
                )
            }
            var transforms: [Transform] = []
            for slot in 0..<3 {
                // Only the first Algorithm-Offer-Count entries are significant; the rest may hold anything.
                if slot < Int(algorithmCount) {
                    transforms.append(try transform(&cursor, field: field + ".Algorithm[\(slot)]"))
                } else {
                    try cursor.skip(20, field + ".Algorithm[\(slot)]")
                }
            }
            if algorithmCount == 0 {
                soft = true
            } else {
                offers.append(
                    SecurityOffer(
                        transforms: transforms,
                        lifetimeKilobytes: kilobytes,
                        lifetimeSeconds: seconds,
                        perfectForwardSecrecy: pfs
                    )
                )
            }
        }
        try cursor.finish()
        return NegotiationPolicyData(offers: offers, allowFallbackToClear: soft)
    }

    /// One significant 20-byte algorithm entry.
    private static func transform(
        _ cursor: inout BlobCursor,
        field: String
    ) throws(PolicyFormatError) -> Transform {
        let start = cursor.offset
        let algorithm = try cursor.u32(field + ".Algorithm")
        let integrity = try cursor.u32(field + ".ESP-Integrity")
        let type = try cursor.u32(field + ".Type")
        try cursor.skip(8, field + ".Reserved")
        func bad(_ what: String, _ value: UInt32, at offset: Int) -> PolicyFormatError {
            cursor.context.error(field, at: offset, "unknown \(what) \(value)")
        }
        switch type {
        case 1:
            switch algorithm {
            case 1: return .ah(.md5)
            case 2: return .ah(.sha1)
            default: throw bad("AH integrity algorithm id (1 = MD5, 2 = SHA-1)", algorithm, at: start)
            }
        case 2:
            let encryption: ESPEncryption
            switch algorithm {
            case 0: encryption = .none
            case 1: encryption = .des
            case 3: encryption = .tripleDES
            default: throw bad("ESP encryption algorithm id (0 = none, 1 = DES, 3 = 3DES)", algorithm, at: start)
            }
            let hash: HashAlgorithm?
            switch integrity {
            case 0: hash = nil
            case 1: hash = .md5
            case 2: hash = .sha1
            default: throw bad("ESP integrity algorithm id (0 = none, 1 = MD5, 2 = SHA-1)", integrity, at: start + 4)
            }
            return .esp(encryption: encryption, integrity: hash)
        default:
            throw bad("transform type (1 = AH, 2 = ESP)", type, at: start + 8)
        }
    }

    /// Encodes an `ipsecNegotiationPolicy` blob: DataLength 4 + 80·n, unused slots and reserved words
    /// zero, and one zero-algorithm offer appended when fallback to clear is allowed.
    public static func encodeNegotiationPolicy(_ data: NegotiationPolicyData) -> [UInt8] {
        var offers = data.offers
        if data.allowFallbackToClear { offers.append(SecurityOffer(transforms: [])) }
        var payload = BlobWriter()
        payload.u32(UInt32(offers.count))
        for offer in offers {
            payload.u32(offer.lifetimeSeconds)
            payload.u32(offer.lifetimeKilobytes)
            payload.u32(0)
            payload.u32(offer.perfectForwardSecrecy ? 1 : 0)
            let transforms = offer.transforms.prefix(3)
            payload.u32(UInt32(transforms.count))
            for transform in transforms {
                switch transform {
                case .ah(let hash):
                    payload.u32(hash == .md5 ? 1 : 2)
                    payload.u32(0)
                    payload.u32(1)
                case .esp(let encryption, let integrity):
                    switch encryption {
                    case .none: payload.u32(0)
                    case .des: payload.u32(1)
                    case .tripleDES: payload.u32(3)
                    }
                    payload.u32(integrity.map { $0 == .md5 ? 1 : 2 } ?? 0)
                    payload.u32(2)
                }
                payload.zeros(8)
            }
            payload.zeros(20 * (3 - transforms.count))
        }
        return BlobWriter.frame(.negotiationPolicy, dataLength: payload.bytes.count, payload: payload.bytes)
    }
}
