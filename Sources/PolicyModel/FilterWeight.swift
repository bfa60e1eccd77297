/// How specific a filter is: the order in which the driver consults filters.
///
/// The order (windows-ipsec.md §4.2, Windows Server 2003's "most specific first"):
/// 1. the sum of the source and destination prefix lengths (`me`, hosts, DNS names and special
///    servers count as /32, `any` as /0), larger first;
/// 2. a specific protocol before any protocol;
/// 3. a specific source port before any source port;
/// 4. a specific destination port before any destination port.
///
/// ``value`` packs these into one number (`prefix bits × 8 + protocol × 4 + source port × 2 +
/// destination port`, 0…519), the "weight" that `explain` and `show qmfilter type=specific` print.
/// Among filters of equal weight the action decides: block, then permit, then negotiate
/// (``ActionPrecedence``); what is still equal keeps its merge order, so the result is deterministic.
public struct FilterWeight: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    /// Source plus destination prefix length, 0…64.
    public var prefixBits: Int
    public var specificProtocol: Bool
    public var specificSourcePort: Bool
    public var specificDestinationPort: Bool

    public init(prefixBits: Int, specificProtocol: Bool, specificSourcePort: Bool, specificDestinationPort: Bool) {
        self.prefixBits = prefixBits
        self.specificProtocol = specificProtocol
        self.specificSourcePort = specificSourcePort
        self.specificDestinationPort = specificDestinationPort
    }

    /// The weight of a filter as configured (mirroring does not change it).
    public init(_ filter: borrowing Filter) {
        self.init(
            prefixBits: filter.source.prefixLength + filter.destination.prefixLength,
            specificProtocol: filter.ipProtocol != IPProtocol.any,
            specificSourcePort: filter.sourcePort != 0,
            specificDestinationPort: filter.destinationPort != 0
        )
    }

    /// The packed numeric weight: larger is more specific.
    public var value: Int {
        prefixBits * 8 + (specificProtocol ? 4 : 0) + (specificSourcePort ? 2 : 0)
            + (specificDestinationPort ? 1 : 0)
    }

    public var description: String { String(value) }

    /// Less specific compares smaller.
    public static func < (lhs: FilterWeight, rhs: FilterWeight) -> Bool { lhs.value < rhs.value }
}

/// The tie-break among filters of equal weight: block beats permit beats negotiate.
public enum ActionPrecedence {
    /// 0 for block, 1 for permit, 2 for negotiate: smaller wins.
    public static func rank(_ action: FilterActionKind) -> Int {
        switch action {
        case .block: 0
        case .permit: 1
        case .negotiate: 2
        }
    }

    /// Whether a filter with `lhs` weight and action is consulted before one with `rhs`.
    /// Equal keys return `false` both ways, so a stable sort keeps merge order.
    public static func precedes(
        _ lhs: (weight: FilterWeight, action: FilterActionKind),
        _ rhs: (weight: FilterWeight, action: FilterActionKind)
    ) -> Bool {
        if lhs.weight.value != rhs.weight.value { return lhs.weight.value > rhs.weight.value }
        return rank(lhs.action) < rank(rhs.action)
    }
}
