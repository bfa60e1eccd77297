import DecisionCore
import Foundation
import IPsecTestKit
import PolicyModel
import Testing

@testable import ServiceHost

/// The table is untrusted input to the privileged driver: every field out of range, every truncation
/// and every count beyond the bytes is refused with the offset of what is wrong, never a trap.
@Suite struct PolicyWireRejectionTests {
    /// One filter from a DNS name to `me` with a description, and one from a special server to a host.
    static let policy: EffectivePolicy = {
        var first = DecisionFixture.filter(1, .dnsName("peer.example", address: IPv4Address(198, 18, 3, 3)), .me)
        first.description = "first"
        let second = DecisionFixture.filter(2, .server(.wins), .host(IPv4Address(198, 18, 4, 4)), proto: 17)
        return EffectivePolicy(
            generation: 3,
            filters: [
                DecisionFixture.effective(first, DecisionFixture.action(.block)),
                DecisionFixture.effective(second, DecisionFixture.action(.permit)),
            ]
        )
    }()

    static let bytes = try! PolicyWire.encode(policy)
    /// The offset of the first filter record.
    static let records = bytes.count - 2 * 48

    /// `bytes` with the u32 at `offset` replaced by `value`.
    static func with(_ value: UInt32, at offset: Int, in bytes: [UInt8] = bytes) -> [UInt8] {
        var changed = bytes
        for index in 0..<4 { changed[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
        return changed
    }

    static func with(byte value: UInt8, at offset: Int, in bytes: [UInt8] = bytes) -> [UInt8] {
        var changed = bytes
        changed[offset] = value
        return changed
    }

    /// Expects `bytes` refused at `offset` with a message containing `words`.
    static func expectRefused(
        _ bytes: [UInt8],
        at offset: Int,
        _ words: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            let policy = try PolicyWire.decode(bytes)
            Issue.record("decoded to \(policy.filters.count) filters", sourceLocation: sourceLocation)
        } catch {
            #expect(error.offset == offset, "\(error)", sourceLocation: sourceLocation)
            #expect(error.message.contains(words), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func theUnchangedTableDecodes() throws {
        #expect(try PolicyWire.decode(Self.bytes) == Self.policy)
    }

    @Test func everyRecordFieldOutOfRangeIsRefused() {
        let first = Self.records
        let second = Self.records + 48
        Self.expectRefused(Self.with(2, at: first), at: first, "group 2 of 2")
        Self.expectRefused(Self.with(byte: 3, at: first + 20), at: first + 20, "flags 3")
        Self.expectRefused(Self.with(byte: 6, at: first + 26), at: first + 26, "source address tag 6")
        Self.expectRefused(Self.with(byte: 9, at: first + 27), at: first + 27, "destination address tag 9")
        // A DNS name's string, a special server's kind, a description: each within its table.
        Self.expectRefused(Self.with(99, at: first + 32), at: first + 32, "source DNS name string 99")
        Self.expectRefused(Self.with(4, at: second + 28), at: second + 28, "source special server 4")
        Self.expectRefused(Self.with(77, at: first + 44), at: first + 44, "description string 77")
        // Fields a tag does not use are 0: `me`'s address, a special server's extra, a host's mask.
        Self.expectRefused(Self.with(1, at: first + 36), at: first + 36, "destination field 1")
        Self.expectRefused(Self.with(5, at: second + 32), at: second + 32, "source field 5")
        Self.expectRefused(Self.with(0xFF, at: second + 40), at: second + 40, "destination field 255")
    }

    /// Every truncation fails cleanly (never traps), naming a place within what was there.
    @Test func everyTruncationIsRefused() {
        for length in 0..<Self.bytes.count {
            do {
                _ = try PolicyWire.decode(Array(Self.bytes[0..<length]))
                Issue.record("a table cut at \(length) bytes decoded")
            } catch {
                #expect(error.offset <= length)
            }
        }
        Self.expectRefused(Self.bytes + [0], at: Self.records, "1 bytes after the last filter")
        Self.expectRefused(Array("IPSX".utf8) + Self.bytes.dropFirst(4), at: 0, "no IPSP mark")
        Self.expectRefused(Self.with(byte: 4, at: 4), at: 4, "version 4")
    }

    /// A count the remaining bytes cannot hold is refused before anything is allocated for it: each
    /// table's count in turn, the others empty.
    @Test func everyOversizeCountIsRefused() {
        for table in 0..<5 {
            var writer = WireWriter(capacity: 64)
            writer.bytes(Array("IPSP".utf8))
            writer.u16(3)
            writer.blob(Array(#"{"generation":1,"filters":[]}"#.utf8))
            for _ in 0..<table { writer.u32(0) }
            let offset = writer.buffer.count
            writer.u32(0x7FFF_FFFF)
            writer.bytes([UInt8](repeating: 0, count: 64))
            let name = ["contexts", "provenances", "strings", "groups", "filters of 48 bytes"][table]
            Self.expectRefused(writer.buffer, at: offset, "2147483647 \(name) in")
        }
    }

    @Test func badTablesBeforeTheRecordsAreRefused() throws {
        // The tables of a one-filter, one-group table, found from the end: the group (8 bytes) and the
        // filter count precede the record; the string table ("", the description) precedes the group.
        var filter = DecisionFixture.filter(1, .any, .me)
        filter.description = "x"
        var effective = DecisionFixture.effective(filter, DecisionFixture.action(.block))
        effective.provenance = Provenance(kind: .local, source: "s", policyName: "p", ruleName: "r")
        let bytes = try PolicyWire.encode(EffectivePolicy(generation: 1, filters: [effective]))
        let group = bytes.count - 48 - 4 - 8
        Self.expectRefused(Self.with(1, at: group, in: bytes), at: group, "group 0: context 1 of 1")
        Self.expectRefused(Self.with(1, at: group + 4, in: bytes), at: group + 4, "group 0: provenance 1 of 1")
        let text = group - 4 - 1
        var notUTF8 = bytes
        notUTF8[text] = 0xFF
        Self.expectRefused(notUTF8, at: text, "not UTF-8")
        // The provenance record ends with its GPO and linked-through presence flags (absent here).
        let provenanceEnd = group - 4 - (4 + 4) - (4 + 1)
        Self.expectRefused(
            Self.with(byte: 2, at: provenanceEnd - 1, in: bytes),
            at: provenanceEnd - 1,
            "presence flag 2"
        )
        // Its kind is its first byte, of 30: the kind, three one-letter texts (5 bytes each), two empty
        // ones (4 each), six flags.
        let kind = provenanceEnd - 30
        Self.expectRefused(Self.with(byte: 6, at: kind, in: bytes), at: kind, "source kind 6")
    }

    /// The policy's own JSON carries no filters: they come from the records only.
    @Test func filtersInThePolicyJSONAreRefused() throws {
        var writer = WireWriter(capacity: 64)
        writer.bytes(Array("IPSP".utf8))
        writer.u16(3)
        let shell = EffectivePolicy(generation: 1, filters: [Self.policy.filters[0]])
        writer.blob(Array(try JSONEncoder().encode(shell)))
        for _ in 0..<5 { writer.u32(0) }
        Self.expectRefused(writer.buffer, at: writer.buffer.count - 20, "filters outside the records")
    }

    /// A text is accepted exactly when its bytes are UTF-8, and then unchanged: random byte strings,
    /// half of them valid texts (ASCII, accented, CJK, emoji) with a byte changed now and then.
    @Test func textsAreAcceptedExactlyWhenTheyAreUTF8() {
        var random = SplitMix(seed: 0x7E47)
        let samples = ["Bench", "Régle é", "規則", "🔒 rule", "\u{10FFFF}"].map { Array($0.utf8) }
        for _ in 0..<20_000 {
            var bytes: [UInt8]
            if random.chance(2) {
                bytes = samples[random.below(samples.count)]
                if random.chance(2) { bytes[random.below(bytes.count)] = UInt8(truncatingIfNeeded: random.next()) }
            } else {
                bytes = (0..<random.below(9)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            }
            var writer = WireWriter(capacity: 4 + bytes.count)
            writer.u32(UInt32(bytes.count))
            writer.bytes(bytes)
            let read = writer.buffer.withUnsafeBytes { raw in
                var reader = WireReader(raw)
                return try? reader.string()
            }
            let expected = String(validating: bytes, as: UTF8.self)
            #expect(read == expected, "\(bytes)")
            if let read { #expect(Array(read.utf8) == bytes) }
        }
    }
}
