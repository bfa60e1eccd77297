/// A vici message: an ordered tree of sections, key/values and lists (strongSwan's vici README,
/// "Message format"). Values are raw bytes; charon encodes numbers and booleans as strings, and
/// certificates as binary blobs.
///
/// Order is kept because charon gives it meaning (authentication rounds are taken in the order
/// they appear); names are unique inside one section.
public struct ViciMessage: Hashable, Sendable, ExpressibleByDictionaryLiteral {
    /// One named entry of a section.
    public enum Element: Hashable, Sendable {
        case value([UInt8])
        case list([[UInt8]])
        case section(ViciMessage)
    }

    /// The entries in wire order.
    public private(set) var entries: [(name: String, element: Element)]

    public init() { entries = [] }

    public init(dictionaryLiteral elements: (String, Element)...) {
        entries = []
        for (name, element) in elements { self[name] = element }
    }

    /// The entry named `name`; setting replaces it in place, or appends it; `nil` removes it.
    public subscript(name: String) -> Element? {
        get { entries.first { $0.name == name }?.element }
        set {
            let index = entries.firstIndex { $0.name == name }
            switch (index, newValue) {
            case (let index?, let value?): entries[index].element = value
            case (let index?, nil): entries.remove(at: index)
            case (nil, let value?): entries.append((name, value))
            case (nil, nil): break
            }
        }
    }

    public var isEmpty: Bool { entries.isEmpty }
    public var names: [String] { entries.map(\.name) }

    /// The value of `name` as UTF-8 text (`nil` when missing or not a value).
    public func string(_ name: String) -> String? {
        guard case .value(let bytes) = self[name] else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The list `name` as UTF-8 texts (`nil` when missing or not a list).
    public func strings(_ name: String) -> [String]? {
        guard case .list(let items) = self[name] else { return nil }
        return items.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The section `name` (`nil` when missing or not a section).
    public func section(_ name: String) -> ViciMessage? {
        guard case .section(let message) = self[name] else { return nil }
        return message
    }

    /// Every sub-section, in order.
    public var sections: [(name: String, message: ViciMessage)] {
        entries.compactMap { entry in
            if case .section(let message) = entry.element { (entry.name, message) } else { nil }
        }
    }

    /// `success = yes` of a command response.
    public var succeeded: Bool { string("success") == "yes" }

    /// `errmsg` of a failed command response.
    public var errorMessage: String? { string("errmsg") }

    public static func == (lhs: ViciMessage, rhs: ViciMessage) -> Bool {
        lhs.entries.elementsEqual(rhs.entries) { $0.name == $1.name && $0.element == $1.element }
    }

    public func hash(into hasher: inout Hasher) {
        for entry in entries {
            hasher.combine(entry.name)
            hasher.combine(entry.element)
        }
    }
}

extension ViciMessage.Element: ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(stringLiteral value: String) { self = .value(Array(value.utf8)) }

    public init(arrayLiteral elements: String...) { self = .list(elements.map { Array($0.utf8) }) }

    public init(dictionaryLiteral elements: (String, ViciMessage.Element)...) {
        var message = ViciMessage()
        for (name, element) in elements { message[name] = element }
        self = .section(message)
    }

    /// A text value.
    public static func text(_ value: String) -> Self { .value(Array(value.utf8)) }

    /// A list of text items.
    public static func texts(_ values: [String]) -> Self { .list(values.map { Array($0.utf8) }) }
}
