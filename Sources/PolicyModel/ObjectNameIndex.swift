/// The positions of one kind of store object (policies, filter lists or filter actions) by GUID and by
/// name in any letter case: what ``PolicyStore/policyMatch(_:)`` and its siblings find by scanning the
/// store, found by hashing. An editor that looks objects up once per command (a netsh script of 100,000
/// lines) keeps one per kind in ``IndexedPolicyStore``.
///
/// Objects that are not *eligible* (default-response filter actions, which are never picked by name or
/// GUID) keep their position but are found only by ``firstPosition(id:)``.
public struct ObjectNameIndex: Hashable, Sendable {
    /// Every position with that GUID, ascending (a valid store has one).
    private var byID: [IPsecGUID: [Int]] = [:]
    /// The eligible positions with that name, lower-cased, ascending.
    private var byName: [String: [Int]] = [:]
    private var eligible: [Bool] = []

    /// How many objects the index covers: positions `0..<count`.
    public var count: Int { eligible.count }

    public init() {}

    /// The index of `objects` in their order.
    public init<Objects: Sequence>(
        _ objects: Objects,
        id: (Objects.Element) -> IPsecGUID,
        name: (Objects.Element) -> String,
        where isEligible: (Objects.Element) -> Bool = { _ in true }
    ) {
        for object in objects { append(id: id(object), name: name(object), eligible: isEligible(object)) }
    }

    /// An object added after the last one.
    public mutating func append(id: IPsecGUID, name: String, eligible isEligible: Bool = true) {
        let position = count
        eligible.append(isEligible)
        byID[id, default: []].append(position)
        if isEligible { byName[name.lowercased(), default: []].append(position) }
    }

    /// The object at `position` changed its GUID, name or eligibility from `old` to `new`.
    public mutating func replace(
        at position: Int,
        old: (id: IPsecGUID, name: String, eligible: Bool),
        new: (id: IPsecGUID, name: String, eligible: Bool)
    ) {
        precondition(position < count, "position \(position) is not indexed")
        if old.id != new.id {
            byID.remove(position, key: old.id)
            byID.insert(position, key: new.id)
        }
        let oldKey = old.name.lowercased()
        let newKey = new.name.lowercased()
        if old.eligible != new.eligible || oldKey != newKey {
            if old.eligible { byName.remove(position, key: oldKey) }
            if new.eligible { byName.insert(position, key: newKey) }
        }
        eligible[position] = new.eligible
    }

    /// The first object with GUID `id`, eligible or not.
    public func firstPosition(id: IPsecGUID) -> Int? { byID[id]?.first }

    /// The first eligible object with GUID `id`.
    public func firstEligiblePosition(id: IPsecGUID) -> Int? { byID[id]?.first { eligible[$0] } }

    /// The eligible objects named `name` in any letter case, in store order.
    public func positions(named name: String) -> [Int] { byName[name.lowercased()] ?? [] }

    /// What `reference` (a name in any letter case, or a GUID in braces) picks, exactly as the store's
    /// linear ``PolicyStore/filterListMatch(_:)`` and its siblings do.
    /// - Parameter id: the GUID of the object at a position (for the ambiguity message).
    public func match(_ reference: String, id: (Int) -> IPsecGUID) -> ObjectMatch {
        ObjectMatch.resolve(
            reference,
            position: firstEligiblePosition(id:),
            named: { byName[$0] ?? [] },
            id: id
        )
    }
}

/// The rules of one policy other than its default response rule, by name in any letter case and by
/// the number `netsh … show rule` gives them (1, 2, … in stored order, the default response rule
/// skipped).
public struct RuleNameIndex: Hashable, Sendable {
    /// Positions of the numbered rules with that name, lower-cased, ascending.
    private var byName: [String: [Int]] = [:]
    /// Positions of the default response rules, ascending (a policy has one, normally last).
    public private(set) var defaultPositions: [Int] = []
    /// How many rules the index covers.
    public private(set) var count = 0

    /// The index of `rules` in their order.
    public init(_ rules: [Rule] = []) {
        for (position, rule) in rules.enumerated() { add(rule, at: position) }
        count = rules.count
    }

    /// How many rules carry a number (all but the default response rules).
    public var numberedCount: Int { count - defaultPositions.count }

    /// The first numbered rule named `name` in any letter case.
    public func firstPosition(named name: String) -> Int? { byName[name.lowercased()]?.first }

    /// Every numbered rule named `name` in any letter case, in stored order.
    public func positions(named name: String) -> [Int] { byName[name.lowercased()] ?? [] }

    /// The number of the rule at `position` (`nil` for a default response rule).
    public func number(at position: Int) -> Int? {
        guard position < count, !defaultPositions.contains(position) else { return nil }
        return position + 1 - defaultPositions.count(where: { $0 < position })
    }

    /// The position of the rule numbered `number` (from 1).
    public func position(number: Int) -> Int? {
        guard number >= 1, number <= numberedCount else { return nil }
        var position = number - 1
        for slot in defaultPositions {
            guard slot <= position else { break }
            position += 1
        }
        return position
    }

    /// `rules` (the policy's rules after `rule` was inserted at `position`) indexed again from `position` on:
    /// the rules after it moved one place on (normally only the default response rule).
    public mutating func inserted(at position: Int, in rules: [Rule]) {
        precondition(rules.count == count + 1 && position <= count, "the index does not cover these rules")
        // Forget the rules from `position` on (their old positions), then add them at their new ones.
        for old in position..<count { remove(rules[old + 1], at: old) }
        for new in position..<rules.count { add(rules[new], at: new) }
        count = rules.count
    }

    /// The rule at `position` changed from `old` to `new` (its name or whether it is the default response rule).
    public mutating func replace(at position: Int, old: Rule, new: Rule) {
        guard old.isDefaultResponse != new.isDefaultResponse || !old.name.caseInsensitiveEquals(new.name) else {
            return
        }
        remove(old, at: position)
        add(new, at: position)
    }

    private mutating func add(_ rule: Rule, at position: Int) {
        if rule.isDefaultResponse {
            defaultPositions.insertSorted(position)
        } else {
            byName.insert(position, key: rule.name.lowercased())
        }
    }

    private mutating func remove(_ rule: Rule, at position: Int) {
        if rule.isDefaultResponse {
            defaultPositions.removeAll { $0 == position }
        } else {
            byName.remove(position, key: rule.name.lowercased())
        }
    }
}

extension [Int] {
    /// Inserts `position` into these ascending positions; at the end (the common case: an object
    /// added after the others) in constant time.
    fileprivate mutating func insertSorted(_ position: Int) {
        if let last, last > position {
            insert(position, at: firstIndex { $0 > position } ?? count)
        } else {
            append(position)
        }
    }
}

/// Ascending positions per key (a GUID, a lower-cased name), as both indexes keep them.
extension Dictionary where Value == [Int] {
    /// Adds `position` to `key`'s positions, keeping them ascending.
    fileprivate mutating func insert(_ position: Int, key: Key) {
        self[key, default: []].insertSorted(position)
    }

    /// Removes `position` from `key`'s positions, and the key when none are left.
    fileprivate mutating func remove(_ position: Int, key: Key) {
        guard var positions = self[key], let slot = positions.firstIndex(of: position) else { return }
        positions.remove(at: slot)
        self[key] = positions.isEmpty ? nil : positions
    }
}
