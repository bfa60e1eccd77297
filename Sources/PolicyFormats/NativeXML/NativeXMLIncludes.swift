import PolicyModel

/// Expands `<include filterList="…"/>`: the included list's filters (after its own includes) take the
/// place of the element.
///
/// Includes are the one kind of reference in the format that can form a cycle (A includes B, B
/// includes A); that is an error, reported at the `<include>` that closes it. Because one list can be
/// included many times, expansion can multiply; ``NativePolicyXML/Limits/maxFilters`` caps the total.
struct NativeXMLIncludes {
    let source: NativeXMLSource
    let lists: [NativeXMLFilterListDraft]
    let limits: NativePolicyXML.Limits

    func resolve() throws(PolicyFormatError) -> [FilterList] {
        guard lists.contains(where: { !$0.includes.isEmpty }) else {
            try checkTotal(lists.reduce(0) { $0 + $1.list.filters.count })
            return lists.map(\.list)
        }
        var index: [IPsecGUID: Int] = [:]
        for (position, draft) in lists.enumerated() where index[draft.list.id] == nil {
            index[draft.list.id] = position
        }
        // Post-order: every list comes after the lists it includes, so one pass expands them all
        // without recursion (include chains can be as long as the input allows).
        let order = try postOrder(index)
        var counts = Array(repeating: 0, count: lists.count)
        var total = 0
        for position in order {
            var count = lists[position].list.filters.count
            for include in lists[position].includes {
                guard let target = index[include.target] else { continue }
                let (sum, overflow) = count.addingReportingOverflow(counts[target])
                count = overflow ? .max : sum
            }
            counts[position] = count
            let (sum, overflow) = total.addingReportingOverflow(count)
            total = overflow ? .max : sum
        }
        try checkTotal(total)
        var expanded: [[Filter]] = Array(repeating: [], count: lists.count)
        for position in order {
            let draft = lists[position]
            var result: [Filter] = []
            result.reserveCapacity(counts[position])
            var taken = 0
            for include in draft.includes {
                result += draft.list.filters[taken..<include.position]
                taken = include.position
                if let target = index[include.target] { result += expanded[target] }
            }
            result += draft.list.filters[taken...]
            expanded[position] = result
        }
        return lists.indices.map { position in
            var list = lists[position].list
            list.filters = expanded[position]
            return list
        }
    }

    private func checkTotal(_ total: Int) throws(PolicyFormatError) {
        guard total <= limits.maxFilters else {
            throw source.error(
                line: nil,
                "the filter lists hold \(total == .max ? "too many" : String(total)) filters once includes are "
                    + "expanded, more than the limit of \(limits.maxFilters)"
            )
        }
    }

    /// Depth-first search in document order: the lists in post-order, or the first cycle found.
    private func postOrder(_ index: [IPsecGUID: Int]) throws(PolicyFormatError) -> [Int] {
        enum State { case unvisited, onPath, done }
        var state = Array(repeating: State.unvisited, count: lists.count)
        var order: [Int] = []
        order.reserveCapacity(lists.count)
        for root in lists.indices where state[root] == .unvisited {
            // An explicit stack: include chains as long as the input allows must not exhaust the thread's stack.
            var path: [(list: Int, next: Int)] = [(root, 0)]
            state[root] = .onPath
            while let top = path.last {
                let includes = lists[top.list].includes
                guard top.next < includes.count else {
                    state[top.list] = .done
                    order.append(top.list)
                    path.removeLast()
                    continue
                }
                path[path.count - 1].next += 1
                let include = includes[top.next]
                guard let target = index[include.target] else { continue }
                switch state[target] {
                case .onPath:
                    let start = path.firstIndex { $0.list == target } ?? 0
                    var names = path[start...].map { label(lists[$0.list].list) } + [label(lists[target].list)]
                    // Keep the message one readable line even for a cycle through thousands of lists.
                    if names.count > 12 { names = names.prefix(5) + ["… \(names.count - 10) more …"] + names.suffix(5) }
                    throw source.error(
                        line: include.line,
                        element: "include",
                        attribute: "filterList",
                        "reference cycle: " + names.joined(separator: " → ")
                    )
                case .unvisited:
                    state[target] = .onPath
                    path.append((target, 0))
                case .done:
                    continue
                }
            }
        }
        return order
    }

    private func label(_ list: FilterList) -> String {
        list.name.isEmpty ? list.id.braced : "\"\(list.name)\""
    }
}
