/// An error from any policy reader or writer, with the place it concerns.
///
/// Rendered by ``description`` as one line: `FILE:LINE:COLUMN: message` for text formats,
/// `FILE: object …, field …, byte N: message` for binary data inside them.
public struct PolicyFormatError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The input's name as the user gave it (a path, or `<stdin>`).
    public var file: String
    public var line: Int?
    public var column: Int?
    /// The Windows object concerned: a registry key, a DN, `ipsecNFA{…}`.
    public var object: String?
    /// The element, attribute, value or blob field concerned.
    public var field: String?
    /// Offset inside a binary blob.
    public var byteOffset: Int?
    public var message: String

    public init(
        file: String,
        line: Int? = nil,
        column: Int? = nil,
        object: String? = nil,
        field: String? = nil,
        byteOffset: Int? = nil,
        message: String
    ) {
        self.file = file
        self.line = line
        self.column = column
        self.object = object
        self.field = field
        self.byteOffset = byteOffset
        self.message = message
    }

    public var description: String {
        var place = file
        if let line {
            place += ":\(line)"
            if let column { place += ":\(column)" }
        }
        var context: [String] = []
        if let object { context.append("object \(object)") }
        if let field { context.append("field \(field)") }
        if let byteOffset { context.append("byte \(byteOffset)") }
        let prefix = context.isEmpty ? place : place + ": " + context.joined(separator: ", ")
        return prefix + ": " + message
    }
}
