import FoundationEssentials
public import PolicyModel

/// The effective policy in the compact form the agent hands to the driver process and the driver keeps
/// as its last accepted table: 100,000 filters in under 5 MB, encoded and decoded in a few milliseconds.
///
/// A policy's filters share few *contexts* (actions, connection type, tunnel, keying settings:
/// everything of an ``EffectiveFilter`` but its ``Filter`` and its ``Provenance``), so those are written
/// once, as JSON — every field the model has or gains travels without this file changing. Every text
/// (the provenances' names, store and source, the filters' descriptions and DNS names) is written once
/// in one string table and named by its index; provenances (one per rule) are fixed-size records of
/// such indexes and raw GUIDs. A *group* pairs a context with a provenance: the filters of one filter
/// list share one, and the decoder builds one shared context per group, so that a filter costs it its
/// ``Filter`` and nothing else. Each filter is a fixed 48-byte record of integers naming its group and
/// its texts: encoding and decoding a filter or a provenance are plain integer copies, a text is
/// decoded once however many rules name it, and a count is checked against the bytes before anything
/// is allocated for it.
///
/// Layout (integers little-endian): `IPSP`, u16 version (4); u32 + JSON of the policy without filters;
/// u32 context count, each u32 + JSON of an ``EffectiveFilter`` whose filter and provenance are
/// placeholders; u32 string count, each u32 + UTF-8, entry 0 the empty text and no text twice; u32
/// provenance count, each an 84-byte provenance record; u32 group count, each u32 context + u32
/// provenance; u32 filter count, then exactly that many 48-byte filter records (nothing after them).
///
/// Provenance record (a string is a u32 index into the string table; an absent optional is index 0 or
/// 16 zero bytes, with its presence bit clear):
///
/// | offset | field |
/// |---|---|
/// | 0 | u8 source kind (``SourceKind`` in declaration order) |
/// | 1 | u8 presence: bit 0 store, 1 policy GUID, 2 rule GUID, 3 filter list GUID, 4 GPO, 5 linked through; the others 0 |
/// | 2 | u16 0 |
/// | 4, 8 | source, store |
/// | 12, 16, 20, 24 | policy name, rule name, filter list name, filter action name |
/// | 28, 32 | GPO, linked through |
/// | 36, 52, 68 | 16 bytes each: policy GUID, rule GUID, filter list GUID |
///
/// Filter record:
///
/// | offset | field |
/// |---|---|
/// | 0 | u32 group |
/// | 4 | 16 bytes filter GUID |
/// | 20 | u8 flags: bit 0 mirrored, the others 0 |
/// | 21 | u8 IP protocol |
/// | 22, 24 | u16 source port, u16 destination port |
/// | 26, 27 | u8 source tag, u8 destination tag: 0 me, 1 any, 2 host, 3 subnet, 4 DNS name, 5 special server |
/// | 28, 32 | source: u32 value (the address, or the special server's kind: 0 DNS, 1 WINS, 2 DHCP, 3 gateway), u32 extra (a subnet's mask, a DNS name's string); unused: 0 |
/// | 36, 40 | destination: value, extra |
/// | 44 | u32 description (string) |
///
/// Versions 1–3 are still read, so that a driver updated in place loads the table saved by its
/// predecessor: version 3 had the same filter records, but the provenances before the string table as
/// variable-size records with texts of their own (u8 kind, then source, store?, policy name, policy
/// GUID?, rule name, rule GUID?, filter list name, filter list GUID?, filter action name, GPO?, linked
/// through?; a string u32 + UTF-8, `?` a u8 presence flag before the value); versions 1 and 2 had
/// variable-size filter records (``PolicyWire/decodeVersion1or2(_:version:)``).
public enum PolicyWire {
    static let magic: [UInt8] = Array("IPSP".utf8)
    static let version: UInt16 = 4
    /// The size of a filter record (layout: ``PolicyWire``).
    static let recordSize = 48
    /// The size of a provenance record (layout: ``PolicyWire``).
    static let provenanceSize = 84
    /// What a context carries in place of its filters' own filter.
    static let placeholder = Filter(id: .zero, source: .any, destination: .any)
    /// What a context carries in place of its filters' own provenance.
    static let placeholderProvenance = Provenance(kind: .local, source: "", policyName: "", ruleName: "")

    /// The bytes of `policy`.
    /// - Throws: an `EncodingError` when a context cannot be encoded (cannot happen for model values).
    public static func encode(_ policy: EffectivePolicy) throws -> [UInt8] {
        let count = policy.filters.count
        var tables = WireTables(filterCount: count)
        // The records first, into their own buffer (the tables they name precede them in the output).
        let records = [UInt8](unsafeUninitializedCapacity: count * recordSize) { buffer, initialized in
            let out = UnsafeMutableRawBufferPointer(buffer)
            policy.filters.withUnsafeBufferPointer { filters in
                guard let first = filters.baseAddress else { return }
                // By pointer and field: binding or subscripting a whole filter would copy it, retaining
                // and releasing everything in it.
                var last: (identity: ObjectIdentifier, group: UInt32)?
                // The first filter of each of the last few groups found by value: filters built one by
                // one (a box each; a rule's filters in a row) are compared with them before any table.
                var recent: [(filter: Int, group: UInt32)] = []
                for position in 0..<count {
                    let item = first + position
                    let identity = item.pointee.contextIdentity
                    var group = UInt32.max
                    if let last, last.identity == identity {
                        group = last.group
                    } else if let known = tables.group(ofIdentity: identity) {
                        group = known
                    } else {
                        for candidate in recent
                        where item.pointee.hasSameContext(as: (first + candidate.filter).pointee) {
                            group = candidate.group
                            break
                        }
                        if group == UInt32.max {
                            group = tables.group(of: item.pointee, identity: identity)
                            if recent.count == 4 { recent.removeFirst() }
                            recent.append((position, group))
                        }
                    }
                    last = (identity, group)
                    // Copied once (each field read through the pointer would copy the whole filter).
                    let filter = item.pointee.filter
                    tables.record(filter, group: group, into: out, at: position * recordSize)
                }
            }
            initialized = count * recordSize
        }

        // The provenances' texts join the string table before it is written.
        let (provenances, strings) = tables.provenanceRecords()

        var writer = WireWriter(
            capacity: 4096 + strings.count * 16 + provenances.count + tables.groups.count * 8 + records.count
        )
        writer.bytes(magic)
        writer.u16(version)
        var shell = policy
        shell.filters = []
        let encoder = JSONEncoder()
        // Sorted: the same policy always gives the same bytes (the key order is not stable otherwise).
        encoder.outputFormatting = .sortedKeys
        writer.blob(Array(try encoder.encode(shell)))
        writer.u32(UInt32(tables.contexts.count))
        for context in tables.contexts.values { writer.blob(Array(try encoder.encode(context))) }
        writer.u32(UInt32(strings.count))
        for text in strings { writer.string(text) }
        writer.u32(UInt32(tables.provenances.count))
        writer.bytes(provenances)
        writer.u32(UInt32(tables.groups.count))
        for group in tables.groups.values {
            writer.u32(group.context)
            writer.u32(group.provenance)
        }
        writer.u32(UInt32(count))
        writer.bytes(records)
        return writer.buffer
    }
}

/// A policy table that does not parse: what, and at which byte.
public struct PolicyWireError: Error, Hashable, Sendable, CustomStringConvertible {
    public var offset: Int
    public var message: String

    public var description: String { "policy table, byte \(offset): \(message)" }
}

/// The encoder's tables: contexts, provenances, texts and groups, each entry once, numbered in the
/// order first seen.
struct WireTables {
    var contexts = Interned<EffectiveFilter>()
    /// Provenances as keys of integers: a text is named by its number in ``provenanceTexts``. Two
    /// provenances are equal exactly when their keys are, and a key is hashed and stored as a few words
    /// where a ``Provenance`` (eight texts, three GUIDs) was hashed text by text and moved as ~200 bytes.
    var provenances = Interned<ProvenanceKey>()
    var strings = Interned<String>(first: "")
    var groups = Interned<Group>()
    /// The provenances' texts, numbered in the order first seen; they join ``strings`` (in the order of
    /// the provenance records, as they are written: ``provenanceRecords()``) after the filters' texts.
    private var provenanceTexts = Interned<String>(first: "")
    /// Per provenance text field, the last text and its number: a policy's provenances share their
    /// source, store, policy and action names, found here without hashing.
    private var lastProvenanceTexts = [(text: String, number: UInt32)](repeating: ("", 0), count: 8)
    /// Groups by context box: the filters of one list share one box (the merger builds them so), and
    /// the box outlives the encoding (the policy holds it), so its identity is not reused meanwhile.
    private var groupByIdentity: [ObjectIdentifier: UInt32] = [:]
    /// Contexts by rule part box (the rule part outlives the encoding as the context box does): a rule's
    /// filter lists, or filters given provenances of their own, share one.
    private var contextByRule: [ObjectIdentifier: UInt32] = [:]
    /// The last few rule part boxes numbered by value, with a filter holding each: rules built one by one
    /// (a box each) mostly have the same actions as the rule before.
    private var recentRules: [(filter: EffectiveFilter, context: UInt32)] = []
    private var lastText: (text: String, index: UInt32) = ("", 0)
    /// The number of filters being encoded: an upper bound for groups, provenances and boxes.
    let filterCount: Int

    init(filterCount: Int) { self.filterCount = filterCount }

    /// A group: the numbers of its context and its provenance.
    struct Group: Hashable {
        var context: UInt32
        var provenance: UInt32
    }

    /// Per text field of a provenance record (its order in ``ProvenanceKey/texts``), the presence bit of
    /// an optional one (layout: ``PolicyWire``): store, GPO, linked through.
    static let textPresenceBit: [UInt8?] = [nil, 0, nil, nil, nil, nil, 4, 5]

    /// A provenance by the numbers of its texts in ``WireTables/provenanceTexts`` (the order of the
    /// record's text fields: source, store, policy, rule, filter list, action, GPO, linked through; an
    /// absent one 0), its presence bits and GUIDs (an absent one zero) as in its record.
    struct ProvenanceKey: Hashable {
        var kind: UInt8
        var presence: UInt8
        var texts: SIMD8<UInt32>
        var policyID: IPsecGUID
        var ruleID: IPsecGUID
        var filterListID: IPsecGUID

        /// One word into the hasher, mixed from every field (equal keys, equal words): a key is hashed
        /// once more at every growth of the table, and SipHash over its 72 bytes was the encoder's
        /// largest cost at 100,000 rules.
        func hash(into hasher: inout Hasher) {
            var word = UInt64(kind) << 8 | UInt64(presence)
            func mix(_ value: UInt64) { word = (word ^ value) &* 0x9e37_79b9_7f4a_7c15 }
            for index in 0..<8 { mix(UInt64(texts[index])) }
            mix(policyID.high)
            mix(policyID.low)
            mix(ruleID.high)
            mix(ruleID.low)
            mix(filterListID.high)
            mix(filterListID.low)
            hasher.combine(word)
        }
    }

    /// The group of the filters with this context box, if one was seen.
    func group(ofIdentity identity: ObjectIdentifier) -> UInt32? { groupByIdentity[identity] }

    /// The group of `filter`, by its rule part box or value and its provenance's value (a context box
    /// not seen before: filters built one by one have a box each); its box is remembered.
    mutating func group(of filter: EffectiveFilter, identity: ObjectIdentifier) -> UInt32 {
        // A table past 4,096 groups is one of a rule per filter list or filter (netsh scripts, large
        // directories): its tables grow once, to the filters' count, instead of doubling (and hashing
        // every entry again) eight more times to 100,000.
        if groups.count == 4096 && filterCount > 8192 {
            groups.reserveCapacity(filterCount)
            provenances.reserveCapacity(filterCount)
            provenanceTexts.reserveCapacity(2 * filterCount)
            groupByIdentity.reserveCapacity(filterCount)
        }
        let number = groups.number(Group(context: context(of: filter), provenance: provenance(of: filter.provenance)))
        groupByIdentity[identity] = number
        return number
    }

    /// The number of `filter`'s context (its rule part: the filter and provenance are placeholders).
    private mutating func context(of filter: EffectiveFilter) -> UInt32 {
        let rule = filter.ruleIdentity
        if let known = contextByRule[rule] { return known }
        let number: UInt32
        if let recent = recentRules.first(where: { filter.hasSameRule(as: $0.filter) }) {
            number = recent.context
        } else {
            var context = filter
            context.filter = PolicyWire.placeholder
            context.provenance = PolicyWire.placeholderProvenance
            number = contexts.number(context)
            if recentRules.count == 4 { recentRules.removeFirst() }
            recentRules.append((filter, number))
        }
        contextByRule[rule] = number
        return number
    }

    /// The number of `provenance` in ``provenances``.
    private mutating func provenance(of provenance: Provenance) -> UInt32 {
        var key = ProvenanceKey(
            kind: UInt8(SourceKind.allCases.firstIndex(of: provenance.kind)!),
            presence: 0,
            texts: .zero,
            policyID: .zero,
            ruleID: .zero,
            filterListID: .zero
        )
        func put(_ text: String?, _ field: Int) {
            guard let text else { return }
            if let bit = Self.textPresenceBit[field] { key.presence |= 1 << bit }
            key.texts[field] = provenanceText(text, field)
        }
        func put(_ id: IPsecGUID?, _ bit: UInt8) -> IPsecGUID {
            guard let id else { return .zero }
            key.presence |= 1 << bit
            return id
        }
        put(provenance.source, 0)
        put(provenance.store, 1)
        put(provenance.policyName, 2)
        put(provenance.ruleName, 3)
        put(provenance.filterListName, 4)
        put(provenance.filterActionName, 5)
        put(provenance.gpo, 6)
        put(provenance.linkedThrough, 7)
        key.policyID = put(provenance.policyID, 1)
        key.ruleID = put(provenance.ruleID, 2)
        key.filterListID = put(provenance.filterListID, 3)
        return provenances.number(key)
    }

    /// The number of a provenance's text in ``provenanceTexts`` (0 the empty text).
    private mutating func provenanceText(_ text: String, _ field: Int) -> UInt32 {
        if text.isEmpty { return 0 }
        if text == lastProvenanceTexts[field].text { return lastProvenanceTexts[field].number }
        let number = provenanceTexts.number(text)
        lastProvenanceTexts[field] = (text, number)
        return number
    }

    /// The number of `text` in the string table.
    mutating func string(_ text: String) -> UInt32 {
        if text.isEmpty { return 0 }
        if text == lastText.text { return lastText.index }
        let number = strings.number(text)
        lastText = (text, number)
        return number
    }

    /// The provenance records (layout: ``PolicyWire``) and the whole string table: the filters' texts,
    /// then the provenances' texts in the order of the records and of their fields, each the first time
    /// it is named. Each text is hashed once more at most, on the smaller side: the filters' texts
    /// looked up among the provenances' or the other way round.
    func provenanceRecords() -> (records: [UInt8], strings: [String]) {
        var all = strings.values
        var global = [UInt32](repeating: .max, count: provenanceTexts.count)
        global[0] = 0
        if strings.count <= provenanceTexts.count {
            for (number, text) in strings.values.enumerated().dropFirst() {
                if let local = provenanceTexts.existing(text) { global[Int(local)] = UInt32(number) }
            }
        } else {
            for (local, text) in provenanceTexts.values.enumerated().dropFirst() {
                if let number = strings.existing(text) { global[local] = number }
            }
        }
        var records = [UInt8](repeating: 0, count: provenances.count * PolicyWire.provenanceSize)
        records.withUnsafeMutableBytes { out in
            for (number, key) in provenances.values.enumerated() {
                let offset = number * PolicyWire.provenanceSize
                out.storeBytes(of: key.kind, toByteOffset: offset, as: UInt8.self)
                out.storeBytes(of: key.presence, toByteOffset: offset + 1, as: UInt8.self)
                // The text fields, at 4 + 4 × field: store, GPO and linked through only when present.
                for field in 0..<8 {
                    if let bit = Self.textPresenceBit[field], key.presence & 1 << bit == 0 { continue }
                    let local = Int(key.texts[field])
                    if global[local] == .max {
                        global[local] = UInt32(all.count)
                        all.append(provenanceTexts.values[local])
                    }
                    let at = offset + 4 + 4 * field
                    out.storeBytes(of: global[local].littleEndian, toByteOffset: at, as: UInt32.self)
                }
                func put(_ id: IPsecGUID, _ field: Int, bit: UInt8) {
                    guard key.presence & 1 << bit != 0 else { return }
                    out.storeBytes(of: id.high.bigEndian, toByteOffset: offset + field, as: UInt64.self)
                    out.storeBytes(of: id.low.bigEndian, toByteOffset: offset + field + 8, as: UInt64.self)
                }
                put(key.policyID, 36, bit: 1)
                put(key.ruleID, 52, bit: 2)
                put(key.filterListID, 68, bit: 3)
            }
        }
        return (records, all)
    }

    /// Writes the 48-byte record of `filter` (layout: ``PolicyWire``) at `offset`.
    mutating func record(_ filter: Filter, group: UInt32, into out: UnsafeMutableRawBufferPointer, at offset: Int) {
        func put<T: FixedWidthInteger>(_ value: T, _ field: Int) {
            out.storeBytes(of: value.littleEndian, toByteOffset: offset + field, as: T.self)
        }
        put(group, 0)
        filter.id.bytes.withUnsafeBytes { id in
            (out.baseAddress! + offset + 4).copyMemory(from: id.baseAddress!, byteCount: 16)
        }
        put(UInt8(filter.mirrored ? 1 : 0), 20)
        put(filter.ipProtocol, 21)
        put(filter.sourcePort, 22)
        put(filter.destinationPort, 24)
        let source = address(filter.source)
        let destination = address(filter.destination)
        put(source.tag, 26)
        put(destination.tag, 27)
        put(source.value, 28)
        put(source.extra, 32)
        put(destination.value, 36)
        put(destination.extra, 40)
        put(string(filter.description), 44)
    }

    /// A side of a filter as its record fields.
    private mutating func address(_ address: FilterAddress) -> (tag: UInt8, value: UInt32, extra: UInt32) {
        switch address {
        case .me: (0, 0, 0)
        case .any: (1, 0, 0)
        case .host(let ip): (2, ip.value, 0)
        case .subnet(let ip, let mask): (3, ip.value, mask.value)
        case .dnsName(let name, let ip): (4, ip.value, string(name))
        case .server(let server): (5, UInt32(SpecialServer.allCases.firstIndex(of: server)!), 0)
        }
    }
}

/// Values numbered in the order first seen, each once.
struct Interned<Value: Hashable> {
    private(set) var values: [Value] = []
    private var numbers: [Value: UInt32] = [:]

    init() {}

    /// A table whose entry 0 is `first`.
    init(first: Value) { _ = number(first) }

    var count: Int { values.count }

    mutating func reserveCapacity(_ capacity: Int) {
        values.reserveCapacity(capacity)
        numbers.reserveCapacity(capacity)
    }

    /// The number of `value` if it is in the table.
    func existing(_ value: Value) -> UInt32? { numbers[value] }

    /// The number of `value`, added at the end when new.
    mutating func number(_ value: Value) -> UInt32 {
        // One hash per value: the defaulted subscript's in-place access finds the slot and fills a new
        // one with the next number (a lookup, then an insertion, hashed a new value twice).
        let next = UInt32(values.count)
        var number = next
        func read(_ slot: inout UInt32) { number = slot }
        read(&numbers[value, default: next])
        if number == next { values.append(value) }
        return number
    }
}
