/// The order in which the driver consults filters: by ``FilterWeight`` (most specific first), then
/// ``ActionPrecedence`` (block, permit, negotiate), then the order the filters arrived in.
///
/// The last key is why this exists: the standard library's `sort` does not promise stability, and
/// without it two equal filters from different sources could swap between two compilations of the
/// same policy, so `explain` and the drop log would name a different rule for the same packet.
/// Sorting here keeps the merge order for ties explicitly.
public enum FilterOrdering {
    /// `items` sorted most specific first; ties keep their relative order.
    /// - Parameters:
    ///   - weight: the weight of an item, usually `FilterWeight(item.filter)`.
    ///   - action: the action that breaks ties between equal weights.
    public static func sorted<Item>(
        _ items: [Item],
        weight: (Item) -> FilterWeight,
        action: (Item) -> FilterActionKind
    ) -> [Item] {
        let keyed = items.enumerated().map {
            (offset: $0.offset, weight: weight($0.element), action: action($0.element))
        }
        let order = keyed.sorted { lhs, rhs in
            if ActionPrecedence.precedes((lhs.weight, lhs.action), (rhs.weight, rhs.action)) { return true }
            if ActionPrecedence.precedes((rhs.weight, rhs.action), (lhs.weight, lhs.action)) { return false }
            return lhs.offset < rhs.offset
        }
        return order.map { items[$0.offset] }
    }

    /// Effective filters in consulting order for one direction.
    ///
    /// A dynamic rule may act differently inbound and outbound, so the tie-break uses the action of
    /// the direction the table is for; `inbound` by default, which equals outbound for static rules.
    public static func sorted(_ filters: [EffectiveFilter], outbound: Bool = false) -> [EffectiveFilter] {
        sorted(
            filters,
            weight: { FilterWeight($0.filter) },
            action: { outbound ? $0.outboundAction.action : $0.inboundAction.action }
        )
    }

    /// A filter with the action it takes.
    public typealias Entry = (filter: Filter, action: FilterActionKind)

    /// Plain filters with the action each one takes, in consulting order.
    public static func sorted(_ entries: [Entry]) -> [Entry] {
        sorted(entries, weight: { FilterWeight($0.filter) }, action: { $0.action })
    }
}
