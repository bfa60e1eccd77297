import IPsecTestKit
import PolicyModel
import Testing

/// `IPsecGUID` is held inline (two 64-bit halves), not as a heap array: what it must keep doing.
@Suite struct GUIDRepresentationTests {
    @Test func aGUIDIsSixteenInlineBytesWithoutAHeapReference() {
        // An array per GUID was one heap allocation per filter of a store.
        #expect(MemoryLayout<IPsecGUID>.size == 16)
        #expect(_isPOD(IPsecGUID.self))
    }

    @Test func bytesTextAndWindowsLayoutRoundTrip() throws {
        var generator = SplitMix(seed: 1)
        for _ in 0..<500 {
            let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let guid = try #require(IPsecGUID(bytes: bytes))
            #expect(guid.bytes == bytes)
            #expect((0..<16).map { guid[byte: $0] } == bytes)
            #expect(IPsecGUID(guid.braced) == guid)
            #expect(IPsecGUID(guid.plain.uppercased()) == guid)
            #expect(IPsecGUID(windowsBytes: guid.windowsBytes) == guid)
            let text = bytes.map { String($0, radix: 16) }.map { $0.count == 1 ? "0" + $0 : $0 }
            let groups = [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { text[$0].joined() }
            let expected = groups.joined(separator: "-")
            #expect(guid.plain == expected)
        }
        #expect(IPsecGUID(bytes: [UInt8](repeating: 1, count: 15)) == nil)
        #expect(IPsecGUID(bytes: [UInt8](repeating: 1, count: 17)) == nil)
    }

    @Test func halvesAreTheTextOrderBytesMostSignificantFirst() throws {
        let guid = try #require(IPsecGUID("{00112233-4455-6677-8899-aabbccddeeff}"))
        #expect(guid.high == 0x0011_2233_4455_6677)
        #expect(guid.low == 0x8899_AABB_CCDD_EEFF)
        #expect(IPsecGUID(high: 0x0011_2233_4455_6677, low: 0x8899_AABB_CCDD_EEFF) == guid)
        #expect(IPsecGUID.zero.bytes == [UInt8](repeating: 0, count: 16))
    }

    @Test func equalityHashingAndOrderAreThoseOfTheBytes() throws {
        var generator = SplitMix(seed: 2)
        var guids: [IPsecGUID] = []
        for index in 0..<400 {
            var bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Pairs that differ only in the low half, or only in one byte, order by that byte.
            if index % 3 == 1, let previous = guids.last {
                bytes = previous.bytes
                bytes[8 + index % 8] ^= 0x80
            }
            guids.append(try #require(IPsecGUID(bytes: bytes)))
        }
        for lhs in guids.prefix(100) {
            for rhs in guids {
                #expect((lhs < rhs) == lhs.bytes.lexicographicallyPrecedes(rhs.bytes))
                #expect((lhs == rhs) == (lhs.bytes == rhs.bytes))
            }
        }
        let sorted = guids.sorted()
        #expect(sorted.map(\.bytes) == guids.map(\.bytes).sorted { $0.lexicographicallyPrecedes($1) })
        let copies = guids.map { IPsecGUID(bytes: $0.bytes)! }
        #expect(Set(copies) == Set(guids))
        #expect(Set(guids).count == Set(guids.map(\.bytes)).count)
    }

    @Test func randomGUIDsAreVersionFourOfTheVariantAndDeterministicWithASeed() {
        var first = SplitMix(seed: 3)
        var second = SplitMix(seed: 3)
        for _ in 0..<100 {
            let guid = IPsecGUID.random(using: &first)
            #expect(guid == IPsecGUID.random(using: &second))
            #expect(guid[byte: 6] >> 4 == 4)
            #expect(guid[byte: 8] & 0xC0 == 0x80)
        }
    }

    @Test func descriptionIsTheLowerCaseBracedText() throws {
        let guid = try #require(IPsecGUID("{72385230-70FA-11D1-864C-14A300000000}"))
        #expect(guid.description == "{72385230-70fa-11d1-864c-14a300000000}")
    }
}
