/// The registry as a `.reg` file leaves it: keys by lower-cased path, in creation order.
///
/// Every operation costs time in proportion to what it touches, never to the size of the whole tree:
/// keys and values are found through dictionaries, and `[-key]` finds the subkeys it deletes through an
/// index of descendants by ancestor path. Deleted entries become holes that ``keys`` skips. A file of any
/// shape therefore applies in time linear in its size (times the depth of its key paths).
struct RegFileTree {
    private var slots: [Slot?] = []
    private var index: [String: Int] = [:]
    /// Positions of the keys below each ancestor path (lower-cased), for `[-key]`.
    private var descendants: [String: Set<Int>] = [:]

    private struct Slot {
        var key: RegistryKey
        var lowerPath: String
        /// Value positions in `key.values` by lower-cased name; deleted values are `nil` there.
        var valueIndex: [String: Int] = [:]
        var values: [RegistryValue?] = []
    }

    /// The keys that remain, in first-created order, each with its values in first-set order.
    var keys: [RegistryKey] {
        slots.compactMap { slot in
            guard var slot else { return nil }
            slot.key.values = slot.values.compactMap { $0 }
            return slot.key
        }
    }

    mutating func createKey(_ path: String, line: Int) {
        // Creating a key creates its parents too, as regedit does; only the named key is recorded.
        let lower = path.lowercased()
        guard index[lower] == nil else { return }
        let position = slots.count
        index[lower] = position
        slots.append(Slot(key: RegistryKey(path: path, line: line), lowerPath: lower))
        for ancestor in Self.ancestors(of: lower) { descendants[ancestor, default: []].insert(position) }
    }

    /// Deletes the key and every key below it.
    mutating func deleteKey(_ path: String) {
        let lower = path.lowercased()
        var doomed = descendants.removeValue(forKey: lower) ?? []
        if let position = index[lower] { doomed.insert(position) }
        for position in doomed {
            guard let slot = slots[position] else { continue }
            slots[position] = nil
            index.removeValue(forKey: slot.lowerPath)
            for ancestor in Self.ancestors(of: slot.lowerPath) { descendants[ancestor]?.remove(position) }
        }
    }

    mutating func setValue(_ path: String, _ value: RegistryValue) {
        guard let position = index[path.lowercased()], var slot = slots[position] else { return }
        slots[position] = nil  // Keeps the slot's arrays uniquely referenced while they change.
        let name = value.name.lowercased()
        if let existing = slot.valueIndex[name] {
            slot.values[existing] = value
        } else {
            slot.valueIndex[name] = slot.values.count
            slot.values.append(value)
        }
        slots[position] = slot
    }

    mutating func deleteValue(_ path: String, _ name: String) {
        guard let position = index[path.lowercased()], var slot = slots[position] else { return }
        slots[position] = nil
        if let existing = slot.valueIndex.removeValue(forKey: name.lowercased()) { slot.values[existing] = nil }
        slots[position] = slot
    }

    /// `a\b\c` → `a`, `a\b` (the proper ancestors).
    private static func ancestors(of path: String) -> [String] {
        var result: [String] = []
        var scalars = String.UnicodeScalarView()
        for scalar in path.unicodeScalars {
            if scalar == "\\", !scalars.isEmpty { result.append(String(scalars)) }
            scalars.append(scalar)
        }
        return result
    }
}
