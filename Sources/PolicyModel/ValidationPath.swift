/// A readable location inside a store: `policy "Lockdown" › rule "Telnet" › filter list`.
///
/// Objects are named the way an administrator sees them (by name, or by position when they have
/// none); fields use the model's property names so that a message maps straight to the XML.
struct ValidationPath: Hashable, Sendable, CustomStringConvertible {
    private var segments: [String]

    init(_ segments: [String] = []) {
        self.segments = segments
    }

    /// One level deeper.
    func appending(_ segment: String) -> ValidationPath {
        ValidationPath(segments + [segment])
    }

    var description: String { segments.isEmpty ? "store" : segments.joined(separator: " › ") }

    static func policy(_ policy: IPsecPolicy, index: Int) -> ValidationPath {
        ValidationPath([named("policy", policy.name, index: index)])
    }

    static func filterList(_ list: FilterList, index: Int) -> ValidationPath {
        ValidationPath([named("filter list", list.name, index: index)])
    }

    static func filterAction(_ action: FilterAction, index: Int) -> ValidationPath {
        ValidationPath([named("filter action", action.name, index: index)])
    }

    /// A rule segment: its name, else "default response rule", else its 1-based position.
    static func rule(_ rule: Rule, index: Int) -> String {
        if !rule.name.isEmpty { return "rule \"\(shortened(rule.name))\"" }
        return rule.isDefaultResponse ? "default response rule" : "rule \(index + 1)"
    }

    /// `kind "name"`, or `kind N` (1-based) for an unnamed object.
    static func named(_ kind: String, _ name: String, index: Int) -> String {
        name.isEmpty ? "\(kind) \(index + 1)" : "\(kind) \"\(shortened(name))\""
    }

    /// A name as messages show it: at most 64 characters, so that an over-long name (itself a problem)
    /// does not turn every message about its object into megabytes.
    static func shortened(_ name: String) -> String {
        let limit = 64
        guard name.unicodeScalars.prefix(limit + 1).count > limit else { return name }
        return String(String.UnicodeScalarView(name.unicodeScalars.prefix(limit - 1))) + "…"
    }
}

/// Collects problems while the checks walk the store.
struct ValidationReport {
    private(set) var problems: [ValidationProblem] = []

    mutating func add(_ path: ValidationPath, _ message: String) {
        problems.append(ValidationProblem(location: path.description, message: message))
    }

    /// Adds a problem for `field` of `path` unless `value` is 0 (the Windows default) or in `range`.
    mutating func checkRange(
        _ value: UInt32,
        _ range: ClosedRange<UInt32>,
        at path: ValidationPath,
        unit: String
    ) {
        guard value != 0, !range.contains(value) else { return }
        add(path, "\(value) \(unit) is out of range (0 for the default, or \(range.lowerBound)…\(range.upperBound))")
    }
}
