/// Identity in a store follows Windows: an object **is** its GUID. Names are labels an administrator
/// types; two objects of one kind may carry the same name (an import brings its own "Permit" next to
/// the built-in one, as in Windows), and a command that names one of them must then be given the GUID.
extension PolicyStore {
    /// `other`'s policies, filter lists and filter actions added to this store: an object whose GUID is
    /// already here replaces it in place, the others are appended in their order. This store's
    /// assignment stays. Linear in the size of both stores.
    public mutating func merge(_ other: PolicyStore) {
        policies = Self.upsert(other.policies, into: policies, id: \.id)
        filterLists = Self.upsert(other.filterLists, into: filterLists, id: \.id)
        filterActions = Self.upsert(other.filterActions, into: filterActions, id: \.id)
    }

    /// ``merge(_:)`` as a new value.
    public func merging(_ other: PolicyStore) -> PolicyStore {
        var result = self
        result.merge(other)
        return result
    }

    private static func upsert<T>(_ new: [T], into old: [T], id: (T) -> IPsecGUID) -> [T] {
        var result = old
        var position: [IPsecGUID: Int] = [:]
        for (index, element) in old.enumerated() { position[id(element)] = index }
        for element in new {
            if let index = position[id(element)] {
                result[index] = element
            } else {
                position[id(element)] = result.count
                result.append(element)
            }
        }
        return result
    }
}

/// What an administrator's reference to an object (its name in any letter case, or its GUID in
/// braces) picks among the objects of one kind.
public enum ObjectMatch: Hashable, Sendable {
    /// Nothing has that name or GUID.
    case none
    /// Exactly one object: its position in the store's array.
    case one(Int)
    /// Several objects carry the name: their GUIDs, in store order. The caller asks for the GUID.
    case ambiguous([IPsecGUID])

    /// The position when exactly one object matched.
    public var index: Int? {
        if case .one(let index) = self { return index }
        return nil
    }

    /// What `reference` picks, by the one rule every lookup follows: a GUID in braces that an eligible
    /// object carries wins; otherwise the eligible objects with that name in any letter case.
    /// - Parameters:
    ///   - position: the first eligible object with a GUID.
    ///   - named: the eligible objects named `reference` lower-cased, in store order.
    ///   - id: the GUID of the object at a position (for the ambiguity message).
    static func resolve(
        _ reference: String,
        position: (IPsecGUID) -> Int?,
        named: (String) -> [Int],
        id: (Int) -> IPsecGUID
    ) -> ObjectMatch {
        if reference.hasPrefix("{"), let guid = IPsecGUID(reference), let found = position(guid) {
            return .one(found)
        }
        let hits = named(reference.lowercased())
        switch hits.count {
        case 0: return .none
        case 1: return .one(hits[0])
        default: return .ambiguous(hits.map(id))
        }
    }

    /// The sentence for an ambiguous name, e.g. `2 filter actions are named "Permit" ({…}, {…}); give
    /// the GUID instead of the name (filteraction={…})`; `nil` unless ambiguous.
    /// - Parameter kinds: the kind in the plural (`filter actions`).
    public func ambiguityMessage(kinds: String, name: String, parameter: String) -> String? {
        guard case .ambiguous(let ids) = self else { return nil }
        let list = ids.map(\.braced).joined(separator: ", ")
        return
            "\(ids.count) \(kinds) are named \"\(name)\" (\(list)); give the GUID instead of the name (\(parameter)=\(ids[0].braced))"
    }
}

extension PolicyStore {
    /// The policy `reference` names (see ``ObjectMatch``).
    public func policyMatch(_ reference: String) -> ObjectMatch {
        Self.match(reference, in: policies, id: \.id, name: \.name)
    }

    /// The filter list `reference` names (see ``ObjectMatch``).
    public func filterListMatch(_ reference: String) -> ObjectMatch {
        Self.match(reference, in: filterLists, id: \.id, name: \.name)
    }

    /// The standard filter action `reference` names (see ``ObjectMatch``). Default-response actions
    /// belong to their policy's default response rule and are never picked by name.
    public func filterActionMatch(_ reference: String) -> ObjectMatch {
        Self.match(reference, in: filterActions, id: \.id, name: \.name) { $0.type == .standard }
    }

    private static func match<T>(
        _ reference: String,
        in objects: [T],
        id: (T) -> IPsecGUID,
        name: (T) -> String,
        where eligible: (T) -> Bool = { _ in true }
    ) -> ObjectMatch {
        ObjectMatch.resolve(
            reference,
            position: { guid in objects.indices.first { id(objects[$0]) == guid && eligible(objects[$0]) } },
            named: { wanted in
                objects.indices.filter { eligible(objects[$0]) && name(objects[$0]).lowercased() == wanted }
            },
            id: { id(objects[$0]) }
        )
    }
}
