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
        Self.expectRefused(Self.with(byte: 5, at: 4), at: 4, "version 5")
    }

    /// A count the remaining bytes cannot hold is refused before anything is allocated for it: each
    /// table's count in turn, the others empty, in version 4's order and in version 3's.
    @Test func everyOversizeCountIsRefused() {
        let tables: [UInt16: [String]] = [
            4: ["contexts", "strings", "provenances", "groups", "filters of 48 bytes"],
            3: ["contexts", "provenances", "strings", "groups", "filters of 48 bytes"],
        ]
        for (version, names) in tables {
            for (table, name) in names.enumerated() {
                var writer = WireWriter(capacity: 64)
                writer.bytes(Array("IPSP".utf8))
                writer.u16(version)
                writer.blob(Array(#"{"generation":1,"filters":[]}"#.utf8))
                for _ in 0..<table { writer.u32(0) }
                let offset = writer.buffer.count
                writer.u32(0x7FFF_FFFF)
                writer.bytes([UInt8](repeating: 0, count: 64))
                Self.expectRefused(writer.buffer, at: offset, "2147483647 \(name) in")
            }
        }
    }

    /// A one-filter, one-group table, its parts found from the end: the filter record (48 bytes) after
    /// its count, the group (8 bytes) after its count, the provenance record (84 bytes) after its
    /// count, the string table before: "", "x" (the description), then the provenance's "s", "p", "r".
    struct OneRule {
        let bytes: [UInt8]
        var group: Int { bytes.count - 48 - 4 - 8 }
        var provenance: Int { group - 4 - 84 }
        /// The start (length field) of string `number` (1–4): each is 4 + 1 bytes, the last one ends
        /// before the provenance count.
        func string(_ number: Int) -> Int { provenance - 4 - (5 - number) * 5 }

        init() throws {
            var filter = DecisionFixture.filter(1, .any, .me)
            filter.description = "x"
            var effective = DecisionFixture.effective(filter, DecisionFixture.action(.block))
            effective.provenance = Provenance(kind: .local, source: "s", policyName: "p", ruleName: "r")
            bytes = try PolicyWire.encode(EffectivePolicy(generation: 1, filters: [effective]))
        }
    }

    @Test func badTablesBeforeTheRecordsAreRefused() throws {
        let table = try OneRule()
        let bytes = table.bytes
        let group = table.group
        Self.expectRefused(Self.with(1, at: group, in: bytes), at: group, "group 0: context 1 of 1")
        Self.expectRefused(Self.with(1, at: group + 4, in: bytes), at: group + 4, "group 0: provenance 1 of 1")
        let text = table.string(4) + 4
        var notUTF8 = bytes
        notUTF8[text] = 0xFF
        Self.expectRefused(notUTF8, at: text, "not UTF-8")
    }

    /// Every field of a provenance record: each text within the string table (naming the field), an
    /// absent optional 0 (text and GUID), the kind, the presence bits and the reserved field.
    @Test func everyProvenanceFieldOutOfRangeIsRefused() throws {
        let table = try OneRule()
        let (bytes, record) = (table.bytes, table.provenance)
        let texts = [
            (4, "source"), (12, "policy name"), (16, "rule name"), (20, "filter list name"),
            (24, "filter action name"),
        ]
        for (field, name) in texts {
            Self.expectRefused(
                Self.with(5, at: record + field, in: bytes),
                at: record + field,
                "provenance 0: \(name) string 5 of 5"
            )
        }
        // Present (its bit set) but out of range, and absent but not 0.
        var withStore = Self.with(byte: 1, at: record + 1, in: bytes)
        Self.expectRefused(Self.with(9, at: record + 8, in: withStore), at: record + 8, "store string 9 of 5")
        withStore = Self.with(2, at: record + 8, in: withStore)
        #expect(try PolicyWire.decode(withStore).filters[0].provenance.store == "s")
        let absent = [(8, "store string 2"), (28, "GPO string 2"), (32, "linked through string 2")]
        for (field, words) in absent {
            Self.expectRefused(
                Self.with(2, at: record + field, in: bytes),
                at: record + field,
                "\(words) where it is absent"
            )
        }
        for (field, name) in [(36, "policy"), (52, "rule"), (68, "filter list")] {
            Self.expectRefused(
                Self.with(byte: 1, at: record + field + 15, in: bytes),
                at: record + field,
                "\(name) GUID where it is absent"
            )
        }
        Self.expectRefused(Self.with(byte: 6, at: record, in: bytes), at: record, "source kind 6")
        Self.expectRefused(Self.with(byte: 0x40, at: record + 1, in: bytes), at: record + 1, "presence bits 64")
        Self.expectRefused(Self.with(byte: 1, at: record + 3, in: bytes), at: record + 2, "reserved field 256")
    }

    /// Repeats are found among many texts (the table's hash slots: colliding texts, equal lengths, a
    /// repeat of the first, the last and one in the middle), and a table without one is read in order.
    @Test func repeatsAreFoundAmongManyTexts() throws {
        let texts = [""] + (1..<5000).map { "R\($0)" }
        func table(_ texts: [String]) -> [UInt8] {
            var writer = WireWriter(capacity: texts.count * 12)
            for text in texts { writer.string(text) }
            return writer.buffer
        }
        func read(_ texts: [String]) -> Result<[String], PolicyWireError> {
            table(texts).withUnsafeBytes { raw in
                var reader = WireReader(raw)
                return Result { () throws(PolicyWireError) in try reader.stringTable(count: texts.count) }
            }
        }
        #expect(try read(texts).get() == texts)
        for (repeated, at) in [(1, 4999), (4999, 2500), (2500, 2501), (0, 17)] {
            var changed = texts
            changed[at] = texts[repeated]
            // The later of the two is refused, at its length field.
            let later = max(at, repeated)
            switch read(changed) {
            case .success: Issue.record("text \(at) repeats \(repeated) and was accepted")
            case .failure(let error):
                #expect(error.offset == table(Array(changed[0..<later])).count, "\(error)")
                #expect(error.message.contains("string \(later) repeats"), "\(error)")
            }
        }
    }

    /// Two different texts with the same 64-bit FNV-1a hash (a published collision) are two texts, not a
    /// repeat: only equal bytes are refused, and a real repeat next to the collision still is.
    @Test func aHashCollisionIsNotARepeat() throws {
        let colliding = ["8yn0iYCKYHlIj4-BwPqk", "GReLUrM4wMqfg9yzV3KQ"]
        func read(_ texts: [String]) -> Result<[String], PolicyWireError> {
            var writer = WireWriter(capacity: 128)
            for text in texts { writer.string(text) }
            return writer.buffer.withUnsafeBytes { raw in
                var reader = WireReader(raw)
                return Result { () throws(PolicyWireError) in try reader.stringTable(count: texts.count) }
            }
        }
        let texts = [""] + colliding + ["other"]
        #expect(try read(texts).get() == texts)
        switch read(texts + [colliding[1]]) {
        case .success: Issue.record("a repeat of a colliding text was accepted")
        case .failure(let error): #expect(error.message.contains("string 4 repeats"), "\(error)")
        }
    }

    /// The string table holds each text once, the empty one first: a repeated text or a first one that
    /// is not empty is not a table this encoder wrote.
    @Test func aStringTableWithARepeatIsRefused() throws {
        let table = try OneRule()
        // "x" (string 1) becomes "s": string 2 then repeats it.
        Self.expectRefused(
            Self.with(byte: UInt8(ascii: "s"), at: table.string(1) + 4, in: table.bytes),
            at: table.string(2),
            "string 2 repeats an earlier one"
        )
        var writer = WireWriter(capacity: 64)
        writer.bytes(Array("IPSP".utf8))
        writer.u16(4)
        writer.blob(Array(#"{"generation":1,"filters":[]}"#.utf8))
        writer.u32(0)
        writer.u32(1)
        let start = writer.buffer.count
        writer.string("a")
        for _ in 0..<3 { writer.u32(0) }
        Self.expectRefused(writer.buffer, at: start, "string 0 is not empty")
    }

    /// The policy's own JSON carries no filters: they come from the records only.
    @Test func filtersInThePolicyJSONAreRefused() throws {
        var writer = WireWriter(capacity: 64)
        writer.bytes(Array("IPSP".utf8))
        writer.u16(4)
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
            // The same through version 4's string table (its ASCII texts skip the check), after "".
            guard !bytes.isEmpty else { continue }
            let table = ([0, 0, 0, 0] + writer.buffer).withUnsafeBytes { raw in
                var reader = WireReader(raw)
                return try? reader.stringTable(count: 2)
            }
            #expect(table == expected.map { ["", $0] }, "\(bytes)")
        }
    }
}
