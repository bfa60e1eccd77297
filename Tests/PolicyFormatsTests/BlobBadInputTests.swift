import PolicyFormats
import PolicyModel
import Testing

@Suite struct BlobBadInputTests {
    static let context = BlobContext(file: "f.reg", object: "HKLM\\...\\ipsecFilter{x}", line: 12)

    static func vector(_ kind: String) -> [UInt8] { BlobVector.all.first { $0.kind == kind }!.bytes }

    /// The error thrown by decoding `bytes` as `kind`.
    static func failure(_ kind: String, _ bytes: [UInt8]) -> PolicyFormatError? {
        do {
            switch kind {
            case "policy": _ = try IPsecData.decodePolicy(bytes, context: context)
            case "isakmp": _ = try IPsecData.decodeISAKMP(bytes, id: .zero, context: context)
            case "negpol": _ = try IPsecData.decodeNegotiationPolicy(bytes, context: context)
            case "nfa": _ = try IPsecData.decodeNFA(bytes, context: context)
            default: _ = try IPsecData.decodeFilter(bytes, context: context)
            }
            return nil
        } catch {
            return error
        }
    }

    @Test(arguments: ["policy", "isakmp", "negpol", "nfa", "filter"])
    func everyTruncationIsRefusedWithObjectFieldAndOffset(kind: String) throws {
        let bytes = Self.vector(kind)
        // Dropping only the pad byte is fine (modern writers omit it); anything shorter is broken,
        // except an NFA cut right after its counted part (a 2003 NFA without extension or pad).
        let countedEnd = 20 + 42
        for length in 0..<(bytes.count - 1) where !(kind == "nfa" && length == countedEnd) {
            let error = try #require(Self.failure(kind, Array(bytes.prefix(length))), "length \(length)")
            #expect(error.object == Self.context.object && error.file == "f.reg" && error.line == 12)
            #expect(error.field?.hasPrefix("ipsecData.") == true)
            #expect((error.byteOffset ?? -1) >= 0 && (error.byteOffset ?? .max) <= length)
        }
    }

    @Test func countLargerThanDataIsRefused() throws {
        var bytes = Self.vector("filter")
        bytes[20] = 0xFF  // Number-Of-Filters = 255.
        let error = try #require(Self.failure("filter", bytes))
        #expect(error.field == "ipsecData.Number-Of-Filters" && error.byteOffset == 20)
        #expect(error.message.contains("larger than the data"))
    }

    @Test func unknownBlobTypeIsRefused() throws {
        var bytes = Self.vector("policy")
        bytes[0] = 0x64
        let error = try #require(Self.failure("policy", bytes))
        #expect(error.field == "ipsecData.BlobTypeID" && error.byteOffset == 0 && error.message.contains("unknown"))
        let wrongType = try #require(Self.failure("filter", Self.vector("policy")))
        #expect(wrongType.message.contains("ipsecPolicy type"))
    }

    @Test func oddLengthUTF16StringIsRefused() throws {
        var bytes = Self.vector("filter")
        bytes[24] = 3  // Source-DNS-Name length 3.
        let error = try #require(Self.failure("filter", bytes))
        #expect(error.field == "ipsecData.Filter[0].Source-DNS-Name" && error.byteOffset == 24)
        #expect(error.message.contains("odd byte length"))
    }

    @Test func trailingBytesAndUnknownIdsAreRefused() throws {
        #expect(Self.failure("policy", Self.vector("policy") + [0]) != nil)
        var isakmp = Self.vector("isakmp")
        isakmp[84 + 4] = 9  // Encryption algorithm 9.
        #expect(Self.failure("isakmp", isakmp)?.field == "ipsecData.Security-Method[0].Encryption")
        var nfa = Self.vector("nfa")
        nfa[24] = 4  // Auth-Type 4.
        #expect(Self.failure("nfa", nfa)?.message.contains("authentication type 4") == true)
    }

    @Test func windows2000GarbageIsIgnored() throws {
        var isakmp = Self.vector("isakmp")
        for offset in [36, 48, 60, 84 + 8, 84 + 37, 84 + 60] { isakmp[offset] = 0xA5 }
        #expect(Self.failure("isakmp", isakmp) == nil)
    }

    @Test func fallbackToClearIsAZeroAlgorithmOffer() throws {
        let data = NegotiationPolicyData(offers: [SecurityOffer(transforms: [.ah(.md5)])], allowFallbackToClear: true)
        let bytes = IPsecData.encodeNegotiationPolicy(data)
        #expect(bytes.count == 16 + 4 + 4 + 2 * 80 + 1)
        #expect(try IPsecData.decodeNegotiationPolicy(bytes, context: Self.context) == data)
    }

    @Test func meAndSpecialServersAreEncodedAsDocumented() throws {
        let filter = Filter(id: .zero, source: .me, destination: .server(.wins))
        let bytes = try IPsecData.encodeFilter([filter], context: Self.context)
        // Strings (3 × 6 bytes) from 24, then GUID, mirrored, source address and mask.
        let fixed = 24 + 18
        #expect(Array(bytes[(fixed + 20)..<(fixed + 28)]) == [0, 0, 0, 0, 255, 255, 255, 255])
        #expect(bytes[fixed + 49] == 0x82)
        #expect(try IPsecData.decodeFilter(bytes, context: Self.context) == [filter])
        let both = Filter(id: .zero, source: .server(.dns), destination: .server(.wins))
        #expect(throws: PolicyFormatError.self) { _ = try IPsecData.encodeFilter([both], context: Self.context) }
    }
}
