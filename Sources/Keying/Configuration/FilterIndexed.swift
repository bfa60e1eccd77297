import PolicyModel

/// Values per index of ``EffectivePolicy/filters``, added in ascending index order (the planner's
/// order): two arrays and a binary search, instead of a dictionary entry per filter (at 100,000
/// filters the dictionaries, their growth and their per-filter values were megabytes of the plan).
public struct FilterIndexed<Value: Hashable & Sendable>: Hashable, Sendable {
    private var indices: [Int32] = []
    private var values: [Value] = []

    public init() {}

    public var isEmpty: Bool { indices.isEmpty }
    public var count: Int { indices.count }

    /// The filter indices that have a value, ascending.
    public var filterIndices: [Int] { indices.map { Int($0) } }

    public subscript(index: Int) -> Value? {
        guard let index = Int32(exactly: index) else { return nil }
        var low = 0
        var high = indices.count
        while low < high {
            let middle = (low + high) / 2
            if indices[middle] < index { low = middle + 1 } else { high = middle }
        }
        return low < indices.count && indices[low] == index ? values[low] : nil
    }

    /// Adds `value` for filter `index`, which must be above every index added so far.
    mutating func append(_ value: Value, at index: Int) {
        precondition(indices.last.map { Int($0) < index } ?? true, "filter indices must ascend")
        indices.append(Int32(index))
        values.append(value)
    }
}

/// Per filter index: the negotiation its packets start (``IKEConfiguration/targets``). The connection
/// names are stored once, a filter's single peers as a run of one shared array.
public struct NegotiationTargets: Hashable, Sendable {
    struct Entry: Hashable, Sendable {
        var child: String
        var peers: Range<Int32>
        /// Number of the range rule's connection in ``names``; -1: none.
        var template: Int32
        var soft: Bool
        var inboundPassThrough: Bool
        var trapped: Bool
        var softIdleSeconds: UInt32
    }

    struct Peer: Hashable, Sendable {
        var address: IPv4Address
        var name: Int32
    }

    private var entries = FilterIndexed<Entry>()
    private var peers: [Peer] = []
    /// Connection names by number (the planner's connection order).
    var names: [String] = []

    public init() {}

    public var isEmpty: Bool { entries.isEmpty }
    public var count: Int { entries.count }

    public subscript(index: Int) -> NegotiationTarget? {
        guard let entry = entries[index] else { return nil }
        var connections: [IPv4Address: String] = [:]
        for peer in peers[Int(entry.peers.lowerBound)..<Int(entry.peers.upperBound)] {
            connections[peer.address] = names[Int(peer.name)]
        }
        return NegotiationTarget(
            connections: connections,
            rangeTemplate: entry.template < 0 ? nil : names[Int(entry.template)],
            child: entry.child,
            soft: entry.soft,
            inboundPassThrough: entry.inboundPassThrough,
            softIdleSeconds: entry.softIdleSeconds,
            trapped: entry.trapped
        )
    }

    /// Adds filter `index`'s target: its single peers with their connections' numbers in ``names``.
    mutating func append(
        at index: Int,
        hosts: [(IPv4Address, Int)],
        template: Int?,
        child: String,
        soft: Bool,
        inboundPassThrough: Bool,
        softIdleSeconds: UInt32,
        trapped: Bool
    ) {
        let first = Int32(peers.count)
        for (address, name) in hosts { peers.append(Peer(address: address, name: Int32(name))) }
        entries.append(
            Entry(
                child: child,
                peers: first..<Int32(peers.count),
                template: template.map { Int32($0) } ?? -1,
                soft: soft,
                inboundPassThrough: inboundPassThrough,
                trapped: trapped,
                softIdleSeconds: softIdleSeconds
            ),
            at: index
        )
    }
}

/// Per filter index: why a negotiate filter cannot be negotiated (``IKEConfiguration/unnegotiable``).
/// Each distinct refusal is stored once; a filter holds its number.
public struct UnnegotiableFilters: Hashable, Sendable {
    private var numbers = FilterIndexed<Int32>()
    /// The distinct refusals, in the order they first came.
    public private(set) var refusals: [UnnegotiableRule] = []

    public init() {}

    public var isEmpty: Bool { numbers.isEmpty }
    public var count: Int { numbers.count }
    /// The filter indices that have a refusal, ascending.
    public var filterIndices: [Int] { numbers.filterIndices }

    public subscript(index: Int) -> UnnegotiableRule? {
        numbers[index].map { refusals[Int($0)] }
    }

    /// Adds filter `index`'s refusal; `number` is where an equal refusal already is, if known (the
    /// planner keeps them per rule), else it is added.
    /// - Returns: the refusal's number, for the next filter with the same one.
    @discardableResult
    mutating func append(_ refusal: UnnegotiableRule, at index: Int, number: Int? = nil) -> Int {
        let number =
            number
            ?? {
                refusals.append(refusal)
                return refusals.count - 1
            }()
        numbers.append(Int32(number), at: index)
        return number
    }
}
