import PolicyModel
import Testing

@Suite struct GUIDAndAddressTests {
    @Test func guidParsesBracedAndPlainInAnyCase() throws {
        let braced = try #require(IPsecGUID("{72385230-70FA-11D1-864C-14A300000000}"))
        let plain = try #require(IPsecGUID("72385230-70fa-11d1-864c-14a300000000"))
        #expect(braced == plain)
        #expect(braced.braced == "{72385230-70fa-11d1-864c-14a300000000}")
    }

    @Test func guidRejectsMalformedText() {
        #expect(IPsecGUID("{72385230-70FA-11D1-864C-14A30000000}") == nil)
        #expect(IPsecGUID("{72385230-70FA-11D1-864C-14A30000000G}") == nil)
        #expect(IPsecGUID("{72385230-70FA-11D1-864C-14A300000000") == nil)
    }

    @Test func guidWindowsByteLayoutIsMixedEndian() throws {
        let policyBlobType = try #require(IPsecGUID("{22202163-4F4C-11D1-863B-00A0248D3021}"))
        let expected: [UInt8] = [
            0x63, 0x21, 0x20, 0x22, 0x4c, 0x4f, 0xd1, 0x11, 0x86, 0x3b, 0x00, 0xa0, 0x24, 0x8d, 0x30, 0x21,
        ]
        #expect(policyBlobType.windowsBytes == expected)
        #expect(IPsecGUID(windowsBytes: expected) == policyBlobType)
    }

    @Test func ipv4ParsesAndPrints() throws {
        let address = try #require(IPv4Address("198.18.0.1"))
        #expect(address.value == 0xC612_0001)
        #expect(address.description == "198.18.0.1")
        #expect(address.networkBytes == [198, 18, 0, 1])
        #expect(IPv4Address("198.18.0") == nil)
        #expect(IPv4Address("198.18.0.256") == nil)
        #expect(IPv4Address("198.18.0.1 ") == nil)
    }

    @Test func masksKnowTheirPrefixLength() throws {
        #expect(try #require(IPv4Address("255.255.255.0")).prefixLength == 24)
        #expect(IPv4Address.any.prefixLength == 0)
        #expect(IPv4Address.broadcast.prefixLength == 32)
        #expect(try #require(IPv4Address("255.0.255.0")).prefixLength == nil)
        #expect(IPv4Address.mask(prefixLength: 15).description == "255.254.0.0")
    }
}
