/// One problem found by ``PolicyStore/validate()``: where it is and what is wrong.
public struct ValidationProblem: Hashable, Sendable, Codable, CustomStringConvertible {
    /// A readable path to the offending field, e.g. `filter list "Telnet" › filter 2 › sourcePort`.
    public var location: String
    public var message: String

    public init(location: String, message: String) {
        self.location = location
        self.message = message
    }

    public var description: String { "\(location): \(message)" }

    /// `2 problems: A; B`: every problem in one line, for a refusal that must name them all.
    public static func summary(_ problems: [ValidationProblem]) -> String {
        let noun = problems.count == 1 ? "problem" : "problems"
        return "\(problems.count) \(noun): " + problems.map(\.description).joined(separator: "; ")
    }
}
